/**
 * Acceptance 3: hostile KRPC input neither crashes the node nor stalls a lookup past its time
 * budget. Raw datagrams come from a dgram socket in the test; fake "nodes" are raw sockets that
 * answer get_peers with garbage. (One of these datagrams, an integer `info_hash`, kills a bare
 * bittorrent-dht 11.0.12 with a RangeError thrown from its socket handler.)
 */
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { decode, encode, isDict, isBytes, type BDict } from '../../../../src/core/bencode/index.js';
import { encodeCompactNodes } from '../../../../src/core/dht/compact.js';
import type { DhtNode } from '../../../../src/core/dht/node.js';
import { closeAll, collect, startNode } from './loopback-nodes.js';

const HASH = Buffer.alloc(20, 0x5a);
const ID = Buffer.alloc(20, 0x01);
let nodes: DhtNode[] = [];
let sockets: dgram.Socket[] = [];
afterEach(async () => {
  await closeAll(nodes);
  for (const s of sockets) s.close();
  nodes = [];
  sockets = [];
});

async function rawSocket(): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  sockets.push(s);
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  return s;
}

function send(s: dgram.Socket, bytes: Uint8Array, port: number): Promise<void> {
  return new Promise((resolve, reject) => s.send(bytes, port, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
}

/**
 * Ping `port` from a fresh socket; true when a well-formed reply comes back. Up to 5 tries: after
 * a flood the kernel's receive buffer may have dropped our ping along with the garbage (UDP).
 */
async function answersPing(port: number): Promise<boolean> {
  const s = await rawSocket();
  for (let attempt = 0; attempt < 5; attempt++) {
    const reply = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 1_000);
      s.once('message', (msg) => {
        clearTimeout(timer);
        const v = decode(msg, { mode: 'lenient' }).value;
        resolve(isDict(v) && isBytes(v.get('y')!) && Buffer.from(v.get('y') as Uint8Array).toString() === 'r');
      });
    });
    await send(s, encode({ t: Buffer.from('pp'), y: 'q', q: 'ping', a: { id: ID } }), port);
    if (await reply) return true;
    s.removeAllListeners('message');
  }
  return false;
}

const q = (method: string, a: Record<string, unknown>) => encode({ t: Buffer.from('aa'), y: 'q', q: method, a: { id: ID, ...a } as never });

/** A fake node: answers every query on its socket with whatever `reply` builds. */
async function fakeNode(reply: (t: Uint8Array, args: BDict) => Uint8Array | null): Promise<dgram.Socket> {
  const s = await rawSocket();
  s.on('message', (msg, rinfo) => {
    let v;
    try {
      v = decode(msg, { mode: 'lenient' }).value;
    } catch {
      return;
    }
    if (!isDict(v)) return;
    const out = reply(v.get('t') as Uint8Array, v.get('a') as BDict);
    if (out) s.send(out, rinfo.port, rinfo.address);
  });
  return s;
}

describe('hostile datagrams at the node', () => {
  it('drops garbage of every kind and keeps answering', async () => {
    const node = await startNode();
    nodes.push(node);
    const s = await rawSocket();
    const garbage: Uint8Array[] = [
      Buffer.from('GET / HTTP/1.1\r\n\r\n'),
      Buffer.from('d1:t'),
      Buffer.from('l'.repeat(5000)),
      Buffer.from('i99999999999999999999999999e'),
      encode({ t: 'aa', y: 'q', q: 'get_peers', a: { id: ID, info_hash: 5 } }), // crashes bare bittorrent-dht
      q('find_node', { target: [1, 2] }),
      q('announce_peer', { info_hash: HASH, token: 7, port: 1 }),
      q('announce_peer', { info_hash: HASH, token: Buffer.from('t'), port: 'x' }),
      q('get', { target: { a: 1 } }),
      q('put', { token: Buffer.from('x'), v: Buffer.from('v'), k: 5 }),
      encode({ t: 'aa', y: 'q', q: 'ping', a: 'x' }),
      encode({ t: 'aa', y: 'q', q: 7, a: { id: ID } }),
      encode({ t: 5, y: 'r', r: { id: ID } }),
      encode({ t: 'aa', y: 'r', r: { id: 5 } }),
      encode({ t: Buffer.from([0, 1]), y: 'r', r: { id: ID, nodes: [1] } }),
      encode({ t: 'aa', y: 'e', e: 'not a list' }),
      encode({ t: 'aa', y: { x: 1 } }),
      ...Array.from({ length: 200 }, () => randomBytes(1 + Math.floor(Math.random() * 1400))),
    ];
    for (const [i, g] of garbage.entries()) {
      await send(s, g, node.port);
      if (i < 17) await new Promise((r) => setTimeout(r, 5)); // the hand-made ones must all arrive
    }
    expect(await answersPing(node.port)).toBe(true);
    // Every one of the hand-made datagrams was dropped by the guard; of the random ones, those the
    // kernel did not drop first (UDP, a flood), nearly all.
    expect(node.guard.dropped).toBeGreaterThanOrEqual(17);
    expect(node.guard.handlerErrors).toBe(0);
  });

  it('drops a query whose `__proto__` would give the library an inherited `implied_port` of bytes (issue 15)', async () => {
    const node = await startNode();
    nodes.push(node);
    const s = await rawSocket();
    // Through k-rpc-socket's decoder, `a.implied_port` is inherited from `a.__proto__`: bytes
    // where an integer belongs, which the guard refuses as an own key but could not see there.
    const id = `2:id20:${'b'.repeat(20)}`;
    const msg = `d1:ad9:__proto__d12:implied_port3:abce${id}9:info_hash20:${'h'.repeat(20)}4:porti6881e5:token1:xe1:q13:announce_peer1:t2:ab1:y1:qe`;
    const before = node.guard.dropped;
    await send(s, Buffer.from(msg, 'latin1'), node.port);
    expect(await answersPing(node.port)).toBe(true);
    expect(node.guard.dropped).toBe(before + 1);
    expect(node.guard.lastDropReason).toBe('a `__proto__` key');
    expect(node.guard.handlerErrors).toBe(0);
  });

  it('accepts well-formed but unexpected responses (unknown transaction ids) without harm', async () => {
    const node = await startNode();
    nodes.push(node);
    const s = await rawSocket();
    for (let i = 0; i < 50; i++) await send(s, encode({ t: randomBytes(2), y: 'r', r: { id: randomBytes(20), nodes: randomBytes(26 * 8), values: [randomBytes(6)] } }), node.port);
    expect(await answersPing(node.port)).toBe(true);
  });
});

describe('hostile nodes during a lookup', () => {
  it('ignores misaligned and non-loopback compact nodes and finishes', async () => {
    const fake = await fakeNode((t) =>
      encode({ t, y: 'r', r: { id: Buffer.alloc(20, 0x77), token: Buffer.from('x'), nodes: randomBytes(26 * 8 + 3), nodes6: randomBytes(38 * 4) } }),
    );
    const node = await startNode({ bootstrap: [{ host: '127.0.0.1', port: fake.address().port }] });
    nodes.push(node);
    const { events, done } = await collect(node.lookup(HASH, { timeoutMs: 3_000 }));
    expect(done.answered).toBe(1);
    expect(done.queried).toBe(1); // nothing in the garbage was worth (or allowed) a query
    const resp = events.find((e) => e.type === 'response');
    expect(resp && resp.type === 'response' && resp.problems?.some((p) => /not a multiple of 26/.test(p))).toBe(true);
  });

  it('ends by its time budget when fed a huge list of nodes that never answer', async () => {
    const ghosts = Array.from({ length: 2500 }, (_, i) => ({ id: randomBytes(20), host: '127.0.0.1', port: 40_000 + (i % 20_000) }));
    const fake = await fakeNode((t) => encode({ t, y: 'r', r: { id: Buffer.alloc(20, 0x66), nodes: encodeCompactNodes(ghosts, 4) } }));
    const node = await startNode({ bootstrap: [{ host: '127.0.0.1', port: fake.address().port }], queryTimeoutMs: 60_000 });
    nodes.push(node);
    const { done } = await collect(node.lookup(HASH, { timeoutMs: 1_500 }));
    expect(done.reason).toBe('timeout');
    expect(done.queried).toBeLessThanOrEqual(17); // 1 + at most 16 nodes taken from one reply
    expect(await answersPing(node.port)).toBe(true);
  }, 20_000);

  it('ends by its time budget when the only node answers with garbage bytes', async () => {
    const fake = await fakeNode(() => randomBytes(300));
    const node = await startNode({ bootstrap: [{ host: '127.0.0.1', port: fake.address().port }], queryTimeoutMs: 60_000 });
    nodes.push(node);
    const { done } = await collect(node.lookup(HASH, { timeoutMs: 1_000 }));
    expect(done.reason).toBe('timeout');
    expect(done.answered).toBe(0);
    expect(node.guard.dropped).toBeGreaterThan(0);
  }, 20_000);

  it('treats a reply with wrong field types as no reply and still finds the peer elsewhere', async () => {
    const honest = await startNode();
    nodes.push(honest);
    const announcer = await startNode({ bootstrap: [{ host: '127.0.0.1', port: honest.port }] });
    nodes.push(announcer);
    await announcer.announce(HASH, { port: 6881, timeoutMs: 2_000 });
    const liar = await fakeNode((t) => encode({ t, y: 'r', r: { id: 5, values: 'nope', nodes: 12 } }));
    const node = await startNode({
      bootstrap: [{ host: '127.0.0.1', port: liar.address().port }, { host: '127.0.0.1', port: honest.port }],
    });
    nodes.push(node);
    const { events, done } = await collect(node.lookup(HASH, { timeoutMs: 3_000 }));
    expect(events.some((e) => e.type === 'peer' && e.peer.port === 6881)).toBe(true);
    expect(events.some((e) => e.type === 'failure' && e.node.port === liar.address().port && e.reason === 'timeout')).toBe(true);
    expect(done.peers).toBe(1);
  });
});
