/**
 * The connected peers (session/peer-set.ts) alone, over the in-memory transport: a peer joins
 * (its record, the `peer-connected` event, `joined`), its messages reach the handler, it leaves
 * exactly once whatever ends it (the remote closing, a drop, a ban, a stop), a metadata lie is a
 * ban, and the tick drops silent peers and sends keep-alives.
 */
import { describe, expect, it } from 'vitest';
import { BtError } from '../../../../src/core/errors.js';
import type { Peer } from '../../../../src/core/session/peer.js';
import { PeerSet, type PeerSetHooks } from '../../../../src/core/session/peer-set.js';
import type { SessionEvent } from '../../../../src/core/session/types.js';
import { MemoryNetwork } from '../../../../src/core/transport/memory.js';
import type { Message } from '../../../../src/core/wire/messages.js';
import { PeerWire } from '../../../../src/core/wire/peer-wire.js';

const infoHash = Buffer.alloc(20, 9);
const idA = Buffer.from('-BK0100-aaaaaaaaaaaa');
const idB = Buffer.from('-XX0100-bbbbbbbbbbbb');

/** The clock of the wires and of the set (the tick's silence is judged on it). */
let clock = 0;
const now = () => clock;

/** Two handshaken wires over memory: `ours` is handed to the PeerSet, `theirs` is the remote. */
async function pair(): Promise<{ ours: PeerWire; theirs: PeerWire }> {
  const net = new MemoryNetwork();
  const l = await net.transport('127.0.0.2').listen({ host: '127.0.0.2', port: 6881 });
  const it = l[Symbol.asyncIterator]();
  const [out, inc] = await Promise.all([net.transport('127.0.0.3').dial({ host: '127.0.0.2', port: 6881 }), it.next().then((r) => r.value)]);
  const ours = new PeerWire(inc, { infoHash, peerId: idA, pieceCount: 8, now });
  const theirs = new PeerWire(out, { infoHash, peerId: idB, pieceCount: 8, now });
  await Promise.all([ours.handshake({ timeoutMs: 5000 }), theirs.handshake({ timeoutMs: 5000 })]);
  return { ours, theirs };
}

function harness(overrides: Partial<PeerSetHooks> = {}) {
  const events: SessionEvent[] = [];
  const forgotten: Peer[] = [];
  const refilled: Peer[] = [];
  const banned: Peer[] = [];
  const joined: { peer: Peer; tag: unknown }[] = [];
  const messages: Message[] = [];
  let stopping = false;
  clock = 0;
  const set = new PeerSet({
    now,
    emit: (ev) => events.push(ev),
    torrent: () => null,
    stopping: () => stopping,
    joined: (peer, tag) => joined.push({ peer, tag }),
    onMessage: (_p, m) => messages.push(m),
    listensAt: () => undefined,
    requestMore: () => undefined,
    beforeRead: () => undefined,
    forget: (p) => forgotten.push(p),
    refill: (p) => refilled.push(p),
    banned: (p) => banned.push(p),
    ...overrides,
  });
  return {
    set,
    events,
    forgotten,
    refilled,
    banned,
    joined,
    messages,
    stop: () => (stopping = true),
  };
}

const until = async (cond: () => boolean, what: string) => {
  for (let i = 0; i < 2000 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  if (!cond()) throw new Error(`timed out waiting for ${what}`);
};

describe('PeerSet', () => {
  it('adds a peer, hands its messages over, and lets it go once when the remote closes', async () => {
    const h = harness();
    const { ours, theirs } = await pair();
    const running = h.set.run(ours, undefined, 'manual', 'slot-1', true);
    expect(h.set.size).toBe(1);
    const peer = [...h.set][0]!;
    expect(peer.v2).toBe(true);
    expect(peer.peerIdHex).toBe(idB.toString('hex'));
    expect(peer.client).toBe('XX0100');
    expect(h.joined).toEqual([{ peer, tag: 'slot-1' }]);
    expect(h.events[0]).toMatchObject({ type: 'peer-connected', peer: peer.key, source: 'manual', direction: 'incoming' });
    void theirs.run({ onMessage: () => undefined }).catch(() => undefined);
    theirs.send({ type: 'have', index: 3 });
    await until(() => h.messages.some((m) => m.type === 'have'), 'the have');
    theirs.close();
    await running;
    expect(h.set.size).toBe(0);
    expect(peer.dropped).toBe(true);
    expect(h.forgotten).toEqual([peer]);
    expect(h.refilled).toEqual([peer]);
    expect(h.events.filter((e) => e.type === 'peer-dropped')).toHaveLength(1);
    // A second drop of the same peer does nothing.
    await h.set.drop(peer, new BtError('PEER_FAILED', 'network', 'again'));
    expect(h.forgotten).toHaveLength(1);
  });

  it('a ban drops the peer with PEER_BANNED and tells `banned`; a stop refills nothing', async () => {
    const h = harness();
    const { ours, theirs } = await pair();
    void theirs.run({ onMessage: () => undefined }).catch(() => undefined);
    const running = h.set.run(ours, undefined, 'pex', null, false);
    const peer = h.set.byPeerId(idB.toString('hex'))!;
    expect(peer).toBeDefined();
    h.stop();
    h.set.ban(peer, 'sent bad data for piece 2');
    await running;
    expect(h.banned).toEqual([peer]);
    expect(h.refilled).toEqual([]);
    const dropped = h.events.find((e) => e.type === 'peer-dropped');
    expect(dropped).toMatchObject({ code: 'PEER_BANNED', reason: 'sent bad data for piece 2' });
    expect(h.events.map((e) => e.type)).toContain('peer-banned');
    theirs.close();
  });

  it('a connection arriving while stopping is closed, not added', async () => {
    const h = harness();
    h.stop();
    const { ours } = await pair();
    await h.set.run(ours, undefined, 'manual', null, false);
    expect(h.set.size).toBe(0);
    expect(ours.closed || (await ours.conn.closed, true)).toBe(true);
    expect(h.events).toEqual([]);
  });

  it('the tick drops a silent peer and sends keep-alives to a quiet one', async () => {
    const h = harness();
    const a = await pair();
    const b = await pair();
    void b.theirs.run({ onMessage: () => undefined }).catch(() => undefined);
    void a.theirs.run({ onMessage: () => undefined }).catch(() => undefined);
    const ra = h.set.run(a.ours, undefined, 'manual', null, false);
    const rb = h.set.run(b.ours, undefined, 'manual', null, false);
    const [pa, pb] = [...h.set];
    // Whatever the opening brought has been read at time 0; then only b speaks, at 100 s.
    const before = pa!.wire.receivedBytes;
    a.theirs.send({ type: 'keep-alive' });
    await until(() => pa!.wire.receivedBytes > before, 'a to be heard at time 0');
    clock = 100_000;
    b.theirs.send({ type: 'keep-alive' });
    await until(() => pb!.wire.state!.isSilent(100_000, 50_000) === false, 'b to be heard');
    expect(pb!.wire.state!.keepAliveDue(100_000, 1_000)).toBe(true);
    h.set.tick(100_000, { requestMs: 30_000, idleMs: 50_000, keepAliveMs: 1_000 });
    await ra;
    expect(pa!.dropped).toBe(true);
    expect(h.events.find((e) => e.type === 'peer-dropped')).toMatchObject({ code: 'PEER_SILENT' });
    expect(pb!.dropped).toBe(false);
    // We had sent b nothing for 100 s: the tick sent it a keep-alive.
    expect(pb!.wire.state!.keepAliveDue(100_000, 1_000)).toBe(false);
    b.theirs.close();
    await rb;
  });

  it('dropAll lets every peer go gracefully and resolves once they are closed', async () => {
    const h = harness();
    const pairs = await Promise.all([pair(), pair(), pair()]);
    const runs = pairs.map((p) => {
      void p.theirs.run({ onMessage: () => undefined }).catch(() => undefined);
      return h.set.run(p.ours, undefined, 'manual', null, false);
    });
    h.stop();
    await Promise.all(h.set.dropAll('session stopped'));
    await Promise.all(runs);
    expect(h.set.size).toBe(0);
    expect(h.forgotten).toHaveLength(3);
    expect(h.events.filter((e) => e.type === 'peer-dropped').every((e) => (e as { reason: string }).reason === 'session stopped')).toBe(true);
  });
});
