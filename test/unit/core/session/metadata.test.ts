/**
 * The session's side of BEP 9 (session/metadata.ts, MetadataExchange) alone: each connection's
 * `ut_metadata` plug-in is driven through a fake ExtensionContext (what it sends is recorded, what
 * the remote says is handed to the plug-in), peers are plain records. No wire, no socket, and the
 * clock is injected.
 *
 * What it must do: serve our info dictionary when it starts with one; fetch a magnet's across
 * several connections and resolve `fetched` with checked bytes; name peers by their address in
 * events while keying connections by connection (a reconnection from one address is another
 * connection); report a proven liar through `drop`; emit `metadata` with the contributors and the
 * time it took; and re-ask timed-out pieces elsewhere on `tick`.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { encode } from '../../../../src/core/bencode/index.js';
import type { BtError } from '../../../../src/core/errors.js';
import type { ExtendedHandshake } from '../../../../src/core/extension/handshake.js';
import type { ExtensionFactory, ExtensionPlugin } from '../../../../src/core/extension/registry.js';
import {
  DEFAULT_METADATA_REQUEST_TIMEOUT_MS,
  METADATA_PIECE_LENGTH,
  type MetadataMessage,
  decodeMetadataMessage,
  encodeMetadataMessage,
  metadataPieceCount,
} from '../../../../src/core/extension/ut-metadata.js';
import { MetadataExchange, type MetadataSlot } from '../../../../src/core/session/metadata.js';
import type { SessionEvent } from '../../../../src/core/session/types.js';

interface FakePeer {
  key: string;
  dropped: boolean;
}

/** A plausible info dictionary of about `size` bytes (its `pieces` string pads it). */
function infoDict(size: number, seed = 1): Buffer {
  const n = Math.floor((size - 80) / 20) * 20;
  const pieces = Buffer.alloc(n);
  for (let i = 0; i < n; i++) pieces[i] = (i * 31 + seed * 7) & 0xff;
  return encode({ length: 123456, name: 'x.bin', 'piece length': 16384, pieces });
}

const sha1 = (b: Uint8Array) => createHash('sha1').update(b).digest();

/** The peer's BEP 10 handshake: it has ut_metadata (as its id 3) and, when given, this size. */
const handshake = (metadataSize?: number): ExtendedHandshake => ({
  m: new Map([['ut_metadata', 3]]),
  ...(metadataSize !== undefined ? { metadataSize } : {}),
  raw: new Map(),
  ignored: [],
});

/** One connection: its slot, its plug-in, and what the plug-in sent the remote. */
interface Conn {
  slot: MetadataSlot<FakePeer>;
  plugin: ExtensionPlugin;
  sent: MetadataMessage[];
}

function connect(ex: MetadataExchange<FakePeer>): Conn {
  const { slot, factory } = ex.plugin();
  return { slot, ...instantiate(factory) };
}

function instantiate(factory: ExtensionFactory): { plugin: ExtensionPlugin; sent: MetadataMessage[] } {
  const sent: MetadataMessage[] = [];
  const plugin = factory({
    send: (payload) => {
      sent.push(decodeMetadataMessage(payload));
      return true;
    },
    peerSupports: () => true,
  });
  return { plugin, sent };
}

/** Pieces this connection was asked for and has not answered yet (the test answers in order). */
const requested = (c: Conn): number[] => c.sent.filter((m) => m.type === 'request').map((m) => (m as { piece: number }).piece);

/** Answer piece `piece` of `info` on `c`, as the remote would. */
function answer(c: Conn, info: Uint8Array, piece: number, corrupt = false): void {
  const data = Buffer.from(info.subarray(piece * METADATA_PIECE_LENGTH, (piece + 1) * METADATA_PIECE_LENGTH));
  if (corrupt) data[0] = data[0]! ^ 0xff;
  c.plugin.onMessage!(encodeMetadataMessage({ type: 'data', piece, totalSize: info.length, data }));
}

function harness(info: Uint8Array | null, infoHash: Uint8Array) {
  const events: SessionEvent[] = [];
  const drops: { peer: FakePeer; err: BtError }[] = [];
  const clock = { t: 1_000 };
  const ex = new MetadataExchange<FakePeer>({
    infoHash,
    info,
    now: () => clock.t,
    drop: (peer, err) => drops.push({ peer, err }),
    emit: (ev) => events.push(ev),
  });
  return { ex, events, drops, clock };
}

const peer = (key: string): FakePeer => ({ key, dropped: false });

/** `p`'s value once every pending callback has run, or 'pending': a fetch that cannot finish fails here rather than hanging. */
const settled = <T>(p: Promise<T>): Promise<T | 'pending'> => Promise.race([p, new Promise<'pending'>((r) => setImmediate(() => r('pending')))]);
const bytesOf = async (p: Promise<Uint8Array>): Promise<string> => {
  const v = await settled(p);
  return v === 'pending' ? v : Buffer.from(v).toString('hex');
};

describe('MetadataExchange', () => {
  it('started with the info dictionary: `fetched` is it at once, and every plug-in serves it', async () => {
    const info = infoDict(40_000);
    const h = harness(info, sha1(info));
    expect(await h.ex.fetched).toBe(info);
    expect(h.ex.info).toBe(info);
    const c = connect(h.ex);
    h.ex.bind(c.slot, peer('127.0.1.1:6881'));
    // BEP 9: our handshake tells the size; a request gets the piece; one past the end a reject.
    expect(c.plugin.handshakeFields!()).toEqual({ metadata_size: info.length });
    c.plugin.onExtendedHandshake!(handshake(), true);
    c.plugin.onMessage!(encodeMetadataMessage({ type: 'request', piece: 2 }));
    c.plugin.onMessage!(encodeMetadataMessage({ type: 'request', piece: 3 }));
    expect(c.sent).toHaveLength(2);
    expect(c.sent[0]).toMatchObject({ type: 'data', piece: 2, totalSize: info.length });
    expect(Buffer.from((c.sent[0] as { data: Uint8Array }).data).equals(info.subarray(2 * METADATA_PIECE_LENGTH))).toBe(true);
    expect(c.sent[1]).toEqual({ type: 'reject', piece: 3 });
    // Nothing is fetched, so nothing is asked nor reported, even when the peer offers a size.
    h.ex.tick();
    expect(c.sent).toHaveLength(2);
    expect(h.events).toEqual([]);
  });

  it('a magnet: fetches across several connections, resolves with the checked bytes, names contributors and time', async () => {
    const info = infoDict(9 * METADATA_PIECE_LENGTH - 100);
    expect(metadataPieceCount(info.length)).toBe(9);
    const h = harness(null, sha1(info));
    expect(h.ex.info).toBeNull();
    const keys = ['127.0.1.1:6881', '127.0.1.2:6881', '127.0.1.3:6881'];
    const conns = keys.map((k) => {
      const c = connect(h.ex);
      h.ex.bind(c.slot, peer(k));
      // While the size is unknown we announce none.
      expect(c.plugin.handshakeFields!()).toEqual({});
      return c;
    });
    for (const c of conns) c.plugin.onExtendedHandshake!(handshake(info.length), true);
    // Four in flight per connection at most: the nine pieces went to all three.
    const asked = conns.map(requested);
    expect(asked.map((a) => a.length)).toEqual([4, 4, 1]);
    expect(asked.flat().sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    // Events name the peer by its address, not by the connection id the fetcher knows it by.
    expect(h.events.filter((e) => e.type === 'metadata-peer').map((e) => (e as { peer: string }).peer)).toEqual(keys);
    h.clock.t = 1_700;
    const answered = new Set<number>();
    for (let round = 0; round < 10 && answered.size < 8; round++) {
      for (const c of conns) {
        for (const p of requested(c)) {
          if (answered.has(p) || answered.size === 8) continue;
          answered.add(p);
          answer(c, info, p);
        }
      }
    }
    expect(h.ex.info).toBeNull();
    // The last piece, 2.5 s after the start.
    h.clock.t = 3_500;
    const last = conns.find((c) => requested(c).some((p) => !answered.has(p)))!;
    answer(last, info, requested(last).find((p) => !answered.has(p))!);
    expect(await bytesOf(h.ex.fetched)).toBe(info.toString('hex'));
    expect(Buffer.from(h.ex.info!).equals(info)).toBe(true);
    const done = h.events.find((e) => e.type === 'metadata');
    expect(done).toEqual({ type: 'metadata', infoHash: sha1(info).toString('hex'), size: info.length, peers: expect.any(Array), elapsedMs: 2_500 });
    expect([...(done as { peers: string[] }).peers].sort()).toEqual(keys);
    expect(new Set(h.events.filter((e) => e.type === 'metadata-piece').map((e) => (e as { peer: string }).peer))).toEqual(new Set(keys));
    // Once known it is served: by a new connection's plug-in, and by the ones that fetched it.
    const late = connect(h.ex);
    expect(late.plugin.handshakeFields!()).toEqual({ metadata_size: info.length });
    conns[0]!.plugin.onMessage!(encodeMetadataMessage({ type: 'request', piece: 1 }));
    expect(conns[0]!.sent.at(-1)).toMatchObject({ type: 'data', piece: 1, totalSize: info.length });
  });

  it('keys connections by connection, not address: the old connection of a reconnected peer going does not cost the new one', async () => {
    const info = infoDict(6 * METADATA_PIECE_LENGTH - 10);
    const h = harness(null, sha1(info));
    const key = '127.0.1.1:6881';
    const first = peer(key);
    const second = peer(key);
    const a = connect(h.ex);
    h.ex.bind(a.slot, first);
    a.plugin.onExtendedHandshake!(handshake(info.length), true);
    const b = connect(h.ex);
    h.ex.bind(b.slot, second);
    b.plugin.onExtendedHandshake!(handshake(info.length), true);
    // Four in flight per connection: a has four of the six, b the other two.
    expect(requested(a)).toHaveLength(4);
    expect(requested(b)).toHaveLength(2);
    // The old connection closes: its pieces go to the new one, which is still used.
    first.dropped = true;
    h.ex.peerGone(first);
    expect(requested(b)).toHaveLength(4);
    // A second peerGone of the same peer, or of a peer never bound, changes nothing.
    h.ex.peerGone(first);
    h.ex.peerGone(peer('127.9.9.9:1'));
    const answered = new Set<number>();
    for (let round = 0; round < 10 && answered.size < 6; round++) {
      for (const p of requested(b)) {
        if (answered.has(p)) continue;
        answered.add(p);
        answer(b, info, p);
      }
    }
    expect(answered.size).toBe(6);
    expect(await bytesOf(h.ex.fetched)).toBe(info.toString('hex'));
    expect(h.events.find((e) => e.type === 'metadata')).toMatchObject({ peers: [key] });
    expect(h.drops).toEqual([]);
  });

  it('a contributor that left before the end is still named by its address in `metadata`', async () => {
    const info = infoDict(6 * METADATA_PIECE_LENGTH - 10);
    const h = harness(null, sha1(info));
    const [ka, kb] = ['127.0.1.1:6881', '127.0.1.2:6881'];
    const pa = peer(ka);
    const a = connect(h.ex);
    h.ex.bind(a.slot, pa);
    const b = connect(h.ex);
    h.ex.bind(b.slot, peer(kb));
    a.plugin.onExtendedHandshake!(handshake(info.length), true);
    b.plugin.onExtendedHandshake!(handshake(info.length), true);
    answer(a, info, requested(a)[0]!);
    pa.dropped = true;
    h.ex.peerGone(pa);
    const answered = new Set<number>();
    for (let round = 0; round < 10 && answered.size < 5; round++) {
      for (const p of requested(b)) {
        if (answered.has(p)) continue;
        answered.add(p);
        answer(b, info, p);
      }
    }
    expect(await bytesOf(h.ex.fetched)).toBe(info.toString('hex'));
    const done = h.events.find((e) => e.type === 'metadata') as { peers: string[] };
    expect([...done.peers].sort()).toEqual([ka, kb]);
  });

  it('a peer whose metadata does not hash to the infohash is reported through `drop`; an honest one completes', async () => {
    const info = infoDict(2 * METADATA_PIECE_LENGTH - 10);
    const h = harness(null, sha1(info));
    const liar = peer('127.0.1.66:6881');
    const honest = peer('127.0.1.7:6881');
    const l = connect(h.ex);
    h.ex.bind(l.slot, liar);
    l.plugin.onExtendedHandshake!(handshake(info.length), true);
    expect(requested(l).sort()).toEqual([0, 1]);
    answer(l, info, 0);
    answer(l, info, 1, true);
    // Proven by the hash: dropped with its own code, named by address in the events.
    expect(h.drops).toHaveLength(1);
    expect(h.drops[0]!.peer).toBe(liar);
    expect(h.drops[0]!.err.code).toBe('EXT_METADATA_HASH_MISMATCH');
    expect(h.events).toContainEqual({ type: 'metadata-hash-mismatch', peers: [liar.key] });
    expect(h.events).toContainEqual(expect.objectContaining({ type: 'metadata-rejected', peer: liar.key, code: 'EXT_METADATA_HASH_MISMATCH' }));
    liar.dropped = true;
    h.ex.peerGone(liar);
    const o = connect(h.ex);
    h.ex.bind(o.slot, honest);
    o.plugin.onExtendedHandshake!(handshake(info.length), true);
    for (const p of requested(o)) answer(o, info, p);
    expect(await bytesOf(h.ex.fetched)).toBe(info.toString('hex'));
    expect(h.events.find((e) => e.type === 'metadata')).toMatchObject({ peers: [honest.key] });
    expect(h.drops).toHaveLength(1);
  });

  it('a peer already dropped, or a connection not yet bound to a peer, is not dropped again', () => {
    const info = infoDict(METADATA_PIECE_LENGTH - 10);
    const h = harness(null, sha1(info));
    const gone = peer('127.0.1.66:6881');
    const g = connect(h.ex);
    h.ex.bind(g.slot, gone);
    g.plugin.onExtendedHandshake!(handshake(info.length), true);
    gone.dropped = true;
    answer(g, info, 0, true);
    const u = connect(h.ex);
    u.plugin.onExtendedHandshake!(handshake(info.length), true);
    answer(u, info, requested(u)[0]!, true);
    expect(h.events.filter((e) => e.type === 'metadata-hash-mismatch')).toHaveLength(2);
    expect(h.drops).toEqual([]);
  });

  it('tick re-asks a piece of another peer once the request timed out, not before', () => {
    const info = infoDict(2 * METADATA_PIECE_LENGTH - 10);
    const h = harness(null, sha1(info));
    const a = connect(h.ex);
    h.ex.bind(a.slot, peer('127.0.1.1:6881'));
    a.plugin.onExtendedHandshake!(handshake(info.length), true);
    expect(requested(a).sort()).toEqual([0, 1]);
    const b = connect(h.ex);
    h.ex.bind(b.slot, peer('127.0.1.2:6881'));
    b.plugin.onExtendedHandshake!(handshake(info.length), true);
    expect(requested(b)).toEqual([]);
    h.clock.t += DEFAULT_METADATA_REQUEST_TIMEOUT_MS - 1;
    h.ex.tick();
    expect(requested(b)).toEqual([]);
    h.clock.t += 1;
    h.ex.tick();
    expect(requested(b).sort()).toEqual([0, 1]);
    expect(h.events).toContainEqual(expect.objectContaining({ type: 'metadata-rejected', peer: '127.0.1.1:6881', code: 'EXT_METADATA_TIMEOUT' }));
    // Ticks while nothing is late ask nothing more.
    h.ex.tick();
    expect(requested(b)).toHaveLength(2);
    expect(requested(a)).toHaveLength(2);
  });
});
