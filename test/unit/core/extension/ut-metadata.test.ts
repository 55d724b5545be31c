/**
 * BEP 9 ut_metadata: the codec against the BEP's byte examples and random input, the fetcher
 * against honest and hostile peers wired in memory (two ExtensionRegistry instances per
 * connection whose send functions feed each other's receive, through one queue the test pumps),
 * and the serving side.
 */
import { createHash } from 'node:crypto';
import net from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decode, encode, isDict } from '../../../../src/core/bencode/index.js';
import { BtError } from '../../../../src/core/errors.js';
import { encodeExtendedHandshake } from '../../../../src/core/extension/handshake.js';
import { type ExtensionFactory, ExtensionRegistry } from '../../../../src/core/extension/registry.js';
import {
  DEFAULT_MAX_METADATA_SIZE,
  METADATA_PIECE_LENGTH,
  type MetadataEvent,
  MetadataFetcher,
  type MetadataFetcherOptions,
  type MetadataMessage,
  decodeMetadataMessage,
  encodeMetadataMessage,
  metadataPieceCount,
  metadataPieceLength,
  metadataServer,
  readMetadataMessage,
  utMetadata,
} from '../../../../src/core/extension/ut-metadata.js';
import { thrownSync } from '../../../helpers/errors.js';
import { type MetadataPeerMode, type ScriptStats, scriptedMetadataPlugin, startMetadataPeer } from '../../../helpers/metadata-peer.js';
import { MessageDecoder, encodeHandshake, encodeMessage, reservedWith } from '../../../../src/core/wire/index.js';

const b = (s: string) => Buffer.from(s, 'latin1');
const hex = (x: Uint8Array) => Buffer.from(x.buffer, x.byteOffset, x.byteLength).toString('hex');
/** A message with its bytes as hex: deep equality of large byte arrays is slow and type-sensitive (Buffer vs Uint8Array). */
const plain = (m: MetadataMessage) => (m.type === 'data' ? { ...m, data: hex(m.data) } : m);
const sha1 = (x: Uint8Array) => createHash('sha1').update(x).digest();

/** A plausible info dictionary of about `size` bytes (its `pieces` string pads it). */
function infoDict(size: number, seed = 1): Buffer {
  const head = encode({ length: 123456, name: 'x.bin', 'piece length': 16384, pieces: Buffer.alloc(0) }).length;
  const n = Math.max(20, Math.floor((size - head - 8) / 20) * 20);
  const pieces = Buffer.alloc(n);
  for (let i = 0; i < n; i++) pieces[i] = (i * 31 + seed * 7) & 0xff;
  return encode({ length: 123456, name: 'x.bin', 'piece length': 16384, pieces });
}

// ---------------------------------------------------------------------------------------------

describe('ut_metadata codec: BEP 9 examples', () => {
  it('request: d8:msg_typei0e5:piecei0ee', () => {
    expect(b(Buffer.from(encodeMetadataMessage({ type: 'request', piece: 0 })).toString('latin1')).toString()).toBe('d8:msg_typei0e5:piecei0ee');
    expect(decodeMetadataMessage(b('d8:msg_typei0e5:piecei0ee'))).toEqual({ type: 'request', piece: 0 });
  });

  it('data: the dictionary, then the piece bytes outside it', () => {
    const data = b('xxxxxxxx');
    const wire = Buffer.concat([b('d8:msg_typei1e5:piecei0e10:total_sizei34256ee'), data]);
    expect(Buffer.from(encodeMetadataMessage({ type: 'data', piece: 0, totalSize: 34256, data }))).toEqual(wire);
    const r = readMetadataMessage(wire);
    expect(r.dictLength).toBe(wire.length - 8);
    expect(plain(r.message)).toEqual({ type: 'data', piece: 0, totalSize: 34256, data: hex(data) });
  });

  it('reject: d8:msg_typei2e5:piecei0ee', () => {
    expect(Buffer.from(encodeMetadataMessage({ type: 'reject', piece: 0 })).toString('latin1')).toBe('d8:msg_typei2e5:piecei0ee');
    expect(decodeMetadataMessage(b('d8:msg_typei2e5:piecei0ee'))).toEqual({ type: 'reject', piece: 0 });
  });

  it('finds the end of the dictionary with the decoder: piece bytes that contain "ee" or look like bencode are data', () => {
    const data = b('eeeed1:ai1ee');
    const m = decodeMetadataMessage(Buffer.concat([b('d8:msg_typei1e5:piecei2e10:total_sizei40000ee'), data]));
    expect(plain(m)).toEqual({ type: 'data', piece: 2, totalSize: 40000, data: hex(data) });
    // A key it does not know, whose value holds "ee", is skipped as a whole value.
    const extra = decodeMetadataMessage(b('d1:xl2:eee8:msg_typei0e5:piecei3ee'));
    expect(extra).toEqual({ type: 'request', piece: 3 });
  });

  it('ignores an unrecognised msg_type (BEP 9: "MUST be ignored")', () => {
    expect(decodeMetadataMessage(b('d8:msg_typei7e5:piecei0ee'))).toEqual({ type: 'unknown', msgType: 7 });
    expect(decodeMetadataMessage(b('d8:msg_typei3ee'))).toEqual({ type: 'unknown', msgType: 3 });
  });

  it('accepts keys out of order (the metadata is checked by SHA-1, not its envelope)', () => {
    expect(decodeMetadataMessage(b('d5:piecei1e8:msg_typei0ee'))).toEqual({ type: 'request', piece: 1 });
  });

  it.each([
    ['', 'empty'],
    ['i1e', 'not a dictionary'],
    ['le', 'a list'],
    ['d5:piecei0ee', 'no msg_type'],
    ['d8:msg_type1:05:piecei0ee', 'msg_type a string'],
    ['d8:msg_typei-1e5:piecei0ee', 'negative msg_type'],
    ['d8:msg_typei0ee', 'no piece'],
    ['d8:msg_typei0e5:piecei-1ee', 'negative piece'],
    ['d8:msg_typei0e5:piecei99999999999999999999ee', 'huge piece'],
    ['d8:msg_typei0e5:piece1:0e', 'piece a string'],
    ['d8:msg_typei0e5:piecei0eexyz', 'bytes after a request'],
    ['d8:msg_typei2e5:piecei0eex', 'bytes after a reject'],
    ['d8:msg_typei1e5:piecei0eeabc', 'data without total_size'],
    ['d8:msg_typei1e5:piecei0e10:total_sizei0eeabc', 'total_size 0'],
    ['d8:msg_typei1e5:piecei0e10:total_sizei-5eeabc', 'negative total_size'],
    ['d8:msg_typei0e5:piecei0e', 'unterminated'],
    ['d8:msg_typei0e5:piecei0e1:xllllllllllllllllleeeeeeeeeeeeeeeeee', 'too deep'],
  ])('%j (%s) → EXT_BAD_METADATA_MESSAGE', (input) => {
    const e = thrownSync(() => decodeMetadataMessage(b(input)));
    expect(e.code).toBe('EXT_BAD_METADATA_MESSAGE');
    expect(e.category).toBe('network');
  });

  it('refuses a data piece over 16 KiB, accepts exactly 16 KiB', () => {
    const head = b('d8:msg_typei1e5:piecei0e10:total_sizei99999ee');
    expect(decodeMetadataMessage(Buffer.concat([head, Buffer.alloc(METADATA_PIECE_LENGTH)])).type).toBe('data');
    expect(thrownSync(() => decodeMetadataMessage(Buffer.concat([head, Buffer.alloc(METADATA_PIECE_LENGTH + 1)]))).code).toBe('EXT_BAD_METADATA_MESSAGE');
  });

  it('the encoder refuses what no peer could accept', () => {
    expect(() => encodeMetadataMessage({ type: 'request', piece: -1 })).toThrow(RangeError);
    expect(() => encodeMetadataMessage({ type: 'data', piece: 0, totalSize: 0, data: new Uint8Array(1) })).toThrow(RangeError);
    expect(() => encodeMetadataMessage({ type: 'data', piece: 0, totalSize: 1e6, data: new Uint8Array(METADATA_PIECE_LENGTH + 1) })).toThrow(RangeError);
  });

  it('piece arithmetic: 16 KiB pieces, the last one shorter', () => {
    expect(metadataPieceCount(1)).toBe(1);
    expect(metadataPieceCount(16384)).toBe(1);
    expect(metadataPieceCount(16385)).toBe(2);
    expect(metadataPieceLength(16385, 0)).toBe(16384);
    expect(metadataPieceLength(16385, 1)).toBe(1);
    expect(metadataPieceLength(16385, 2)).toBe(0);
    expect(metadataPieceLength(16385, -1)).toBe(0);
  });
});

const messageArb: fc.Arbitrary<MetadataMessage> = fc.oneof(
  fc.record({ type: fc.constant('request' as const), piece: fc.integer({ min: 0, max: 0x7fffffff }) }),
  fc.record({ type: fc.constant('reject' as const), piece: fc.integer({ min: 0, max: 0x7fffffff }) }),
  fc.record({
    type: fc.constant('data' as const),
    piece: fc.integer({ min: 0, max: 0x7fffffff }),
    totalSize: fc.integer({ min: 1, max: 0x7fffffff }),
    data: fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ minLength: 16000, maxLength: METADATA_PIECE_LENGTH })),
  }),
);

describe('ut_metadata codec: properties', () => {
  it('decode(encode(m)) = m', () => {
    fc.assert(
      fc.property(messageArb, (m) => {
        expect(plain(decodeMetadataMessage(encodeMetadataMessage(m)))).toEqual(plain(m));
      }),
      { numRuns: 300 },
    );
  });

  it('random bytes: decode returns or throws a BtError, nothing else', () => {
    const prefixes = ['d', 'd8:msg_type', 'd8:msg_typei1e5:piece', 'd8:msg_typei1e5:piecei0e10:total_size', 'i', 'l'].map(b);
    fc.assert(
      fc.property(fc.constantFrom(Buffer.alloc(0), ...prefixes), fc.uint8Array({ maxLength: 200 }), (prefix, tail) => {
        try {
          decodeMetadataMessage(Buffer.concat([prefix, tail]));
        } catch (e) {
          expect(e).toBeInstanceOf(BtError);
          expect((e as BtError).code).toBe('EXT_BAD_METADATA_MESSAGE');
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('any bytes after a data dictionary are its piece (up to 16 KiB); after a request they are refused', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100 }), fc.uint8Array({ minLength: 1, maxLength: 300 }), (piece, garbage) => {
        const head = encodeMetadataMessage({ type: 'data', piece, totalSize: 1 << 20, data: new Uint8Array(0) });
        const r = readMetadataMessage(Buffer.concat([head, garbage]));
        expect(r.dictLength).toBe(head.length);
        expect(plain(r.message)).toEqual({ type: 'data', piece, totalSize: 1 << 20, data: hex(garbage) });
        const req = encodeMetadataMessage({ type: 'request', piece });
        expect(thrownSync(() => decodeMetadataMessage(Buffer.concat([req, garbage]))).code).toBe('EXT_BAD_METADATA_MESSAGE');
      }),
      { numRuns: 300 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// In-memory swarm: our side runs the fetcher's plug-in; the other side a scripted peer.

interface Conn {
  key: string;
  ours: ExtensionRegistry;
  theirs: ExtensionRegistry;
  stats: ScriptStats;
  dropped?: BtError;
}

class Swarm {
  readonly fetcher: MetadataFetcher;
  readonly events: MetadataEvent[] = [];
  readonly conns = new Map<string, Conn>();
  private readonly queue: (() => void)[] = [];
  clock = 0;
  done = false;

  constructor(
    readonly info: Uint8Array,
    options: Partial<MetadataFetcherOptions> = {},
  ) {
    this.fetcher = new MetadataFetcher({
      infoHash: sha1(info),
      now: () => this.clock,
      onEvent: (e) => this.events.push(e),
      ...options,
    });
    void this.fetcher.metadata.then(() => (this.done = true));
  }

  /** Connect a scripted peer (or any plug-in factory on their side). Handshakes are exchanged. */
  connect(key: string, mode: MetadataPeerMode | ExtensionFactory, badPieces?: (piece: number) => boolean): Conn {
    const stats: ScriptStats = { requests: [], answered: 0 };
    const conn = {} as Conn;
    conn.key = key;
    conn.stats = stats;
    const theirs = typeof mode === 'function' ? mode : scriptedMetadataPlugin({ info: this.info, mode, ...(badPieces ? { badPieces } : {}) }, stats);
    conn.ours = new ExtensionRegistry([this.fetcher.plugin(key, { drop: (err) => this.drop(conn, err) })], {
      send: (id, payload) => this.deliver(conn, conn.theirs, id, payload),
    });
    conn.theirs = new ExtensionRegistry([theirs], { send: (id, payload) => this.deliver(conn, conn.ours, id, payload) });
    this.conns.set(key, conn);
    this.deliver(conn, conn.theirs, 0, conn.ours.ourHandshake());
    this.deliver(conn, conn.ours, 0, conn.theirs.ourHandshake());
    return conn;
  }

  private deliver(conn: Conn, to: ExtensionRegistry, id: number, payload: Uint8Array): void {
    const copy = Uint8Array.from(payload);
    this.queue.push(() => {
      if (conn.dropped) return;
      try {
        to.receive(id, copy);
      } catch (e) {
        this.drop(conn, e as BtError);
      }
    });
  }

  /** What the session does: close the connection, then tell the fetcher. */
  drop(conn: Conn, err: BtError): void {
    if (conn.dropped) return;
    expect(err).toBeInstanceOf(BtError);
    conn.dropped = err;
    this.fetcher.peerClosed(conn.key);
  }

  /** Deliver queued messages until none are left (bounded). */
  async pump(): Promise<void> {
    for (let i = 0; i < 100_000 && this.queue.length > 0; i++) this.queue.shift()!();
    expect(this.queue.length).toBe(0);
    await new Promise((r) => setImmediate(r));
  }

  /** Advance the clock and tick, as the session's 1 s timer does. */
  async advance(ms: number): Promise<void> {
    this.clock += ms;
    this.fetcher.tick();
    await this.pump();
  }

  rejected(code?: string): string[] {
    return this.events.flatMap((e) => (e.type === 'metadata-rejected' && (code === undefined || e.code === code) ? [e.peer] : []));
  }
}

const INFO = infoDict(5 * METADATA_PIECE_LENGTH + 1000); // 6 pieces

async function expectFetched(s: Swarm): Promise<void> {
  expect(s.done).toBe(true);
  expect(hex(await s.fetcher.metadata)).toBe(hex(INFO));
}

describe('MetadataFetcher: honest peers', () => {
  it('fetches every piece from a single honest peer, once each, and says where it came from', async () => {
    const s = new Swarm(INFO); // constructed at clock 0
    const a = s.connect('a', 'honest');
    s.clock = 37;
    await s.pump();
    await expectFetched(s);
    expect([...a.stats.requests].sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(s.fetcher.result()).toEqual({ peers: ['a'], elapsedMs: 37 });
    expect(s.events[0]).toEqual({ type: 'metadata-peer', peer: 'a', size: INFO.length });
    expect(s.events.filter((e) => e.type === 'metadata-piece')).toHaveLength(6);
    expect(s.fetcher.progress()).toEqual({ size: INFO.length, pieces: 6, received: 6, done: true });
  });

  it('shares the work among several peers, each piece asked of one peer', async () => {
    const s = new Swarm(INFO, { maxOutstandingPerPeer: 2 });
    const conns = ['a', 'b', 'c'].map((k) => s.connect(k, 'honest'));
    await s.pump();
    await expectFetched(s);
    const all = conns.flatMap((c) => c.stats.requests).sort((x, y) => x - y);
    expect(all).toEqual([0, 1, 2, 3, 4, 5]);
    expect(s.fetcher.result()!.peers.length).toBeGreaterThan(1);
    expect(conns.every((c) => c.dropped === undefined)).toBe(true);
  });

  it('fetches metadata of a single short piece', async () => {
    const tiny = infoDict(300);
    const s = new Swarm(tiny);
    s.connect('a', 'honest');
    await s.pump();
    expect(hex(await s.fetcher.metadata)).toBe(hex(tiny));
  });

  it('does not use a peer without ut_metadata or without metadata_size, and starts when one appears', async () => {
    const s = new Swarm(INFO);
    s.connect('no-size', utMetadata({})); // a magnet downloader itself: no metadata_size
    s.connect('no-ext', () => ({ name: 'ut_pex' }));
    await s.pump();
    expect(s.done).toBe(false);
    s.connect('a', 'honest');
    await s.pump();
    await expectFetched(s);
  });

  it('serves the metadata once verified (the plug-in both fetches and serves)', async () => {
    const s = new Swarm(INFO);
    s.connect('a', 'honest');
    await s.pump();
    await expectFetched(s);
    // A second downloader connects to us: our plug-in now announces metadata_size and answers.
    const other = new Swarm(INFO);
    const ourSide = s.fetcher.plugin('them', { drop: () => undefined });
    other.connect('us', ourSide);
    await other.pump();
    await expectFetched(other);
  });
});

describe('MetadataFetcher: hostile peers (each is dropped, the fetch completes from an honest peer)', () => {
  it.each([
    ['out-of-range', 'EXT_METADATA_PIECE_OUT_OF_RANGE'],
    ['wrong-total-size', 'EXT_METADATA_SIZE_MISMATCH'],
    ['wrong-length', 'EXT_METADATA_BAD_PIECE_LENGTH'],
  ] as const)('%s → dropped with %s', async (mode, code) => {
    const s = new Swarm(INFO);
    const liar = s.connect('liar', mode);
    const honest = s.connect('honest', 'honest');
    await s.pump();
    await expectFetched(s);
    expect(liar.dropped?.code).toBe(code);
    expect(liar.dropped?.category).toBe('network');
    expect(honest.dropped).toBeUndefined();
    expect(s.rejected(code)).toEqual(['liar']);
    expect(s.fetcher.result()!.peers).toEqual(['honest']);
  });

  it('a lying metadata_size adopted first fails the hash: the liar is dropped and the other size is used', async () => {
    const s = new Swarm(INFO);
    const liar = s.connect('liar', 'wrong-size');
    await s.pump();
    expect(s.done).toBe(false);
    expect(liar.dropped?.code).toBe('EXT_METADATA_HASH_MISMATCH');
    expect(s.events).toContainEqual({ type: 'metadata-hash-mismatch', peers: ['liar'] });
    const honest = s.connect('honest', 'honest');
    await s.pump();
    await expectFetched(s);
    expect(honest.dropped).toBeUndefined();
  });

  it('disagreeing sizes: a peer announcing another size than the one in use is not asked; it becomes the fallback', async () => {
    const s = new Swarm(INFO);
    const liar = s.connect('liar', 'wrong-size');
    const honest = s.connect('honest', 'honest');
    await s.pump();
    await expectFetched(s);
    expect(liar.dropped?.code).toBe('EXT_METADATA_HASH_MISMATCH');
    // The honest peer was asked nothing until the liar's size was given up.
    expect(honest.stats.requests.length).toBe(6);
  });

  it('over the cap: the size is refused (event), the peer is never asked, the fetch completes elsewhere', async () => {
    const s = new Swarm(INFO);
    const big = s.connect('big', 'over-cap');
    s.connect('honest', 'honest');
    await s.pump();
    await expectFetched(s);
    expect(big.stats.requests).toEqual([]);
    expect(s.rejected('EXT_METADATA_TOO_LARGE')).toEqual(['big']);
    expect(s.events.some((e) => e.type === 'metadata-peer' && e.peer === 'big')).toBe(false);
  });

  it('maxSize is the caller’s: a smaller cap refuses a smaller announcement', async () => {
    const s = new Swarm(INFO, { maxSize: 1000 });
    const a = s.connect('a', 'honest');
    await s.pump();
    expect(s.done).toBe(false);
    expect(a.stats.requests).toEqual([]);
    expect(s.rejected('EXT_METADATA_TOO_LARGE')).toEqual(['a']);
    expect(DEFAULT_MAX_METADATA_SIZE).toBe(30 * 1024 * 1024);
  });

  it('a single peer sending bad bytes is dropped; nothing resolves until an honest peer comes', async () => {
    const s = new Swarm(INFO);
    const liar = s.connect('liar', 'bad-hash');
    await s.pump();
    expect(liar.dropped?.code).toBe('EXT_METADATA_HASH_MISMATCH');
    expect(s.done).toBe(false);
    // It reconnects under the same key: not used again.
    const again = s.connect('liar', 'bad-hash');
    s.connect('honest', 'honest');
    await s.pump();
    await expectFetched(s);
    expect(again.stats.requests).toEqual([]);
  });

  it.each([0, 1, 2, 3])('a liar among several (at position %i): found by single-source refetch, dropped; the others are kept', async (at) => {
    const s = new Swarm(INFO, { maxOutstandingPerPeer: 1 });
    const keys = ['h1', 'h2', 'h3'];
    keys.splice(at, 0, 'liar');
    const conns = keys.map((k) => (k === 'liar' ? s.connect(k, 'bad-hash') : s.connect(k, 'honest')));
    await s.pump();
    await expectFetched(s);
    const mismatch = s.events.find((e) => e.type === 'metadata-hash-mismatch');
    expect(mismatch && mismatch.type === 'metadata-hash-mismatch' && mismatch.peers).toContain('liar');
    for (const c of conns) {
      if (c.key === 'liar') expect(c.dropped?.code).toBe('EXT_METADATA_HASH_MISMATCH');
      else expect(c.dropped).toBeUndefined();
    }
    expect(s.rejected()).toEqual(['liar']);
    expect(s.fetcher.result()!.peers).toHaveLength(1);
    expect(s.fetcher.result()!.peers).not.toContain('liar');
  });

  it('two liars among honest peers are both found', async () => {
    const s = new Swarm(INFO, { maxOutstandingPerPeer: 1 });
    const l1 = s.connect('l1', 'bad-hash', (p) => p % 2 === 0);
    s.connect('h1', 'honest');
    const l2 = s.connect('l2', 'bad-hash');
    s.connect('h2', 'honest');
    await s.pump();
    await expectFetched(s);
    expect(l1.dropped?.code).toBe('EXT_METADATA_HASH_MISMATCH');
    expect(l2.dropped?.code).toBe('EXT_METADATA_HASH_MISMATCH');
    expect(s.rejected().sort()).toEqual(['l1', 'l2']);
  });

  it('a peer that rejects: its pieces go to another peer; it is not dropped', async () => {
    const s = new Swarm(INFO);
    const r = s.connect('rejecter', 'reject');
    const h = s.connect('honest', 'honest');
    await s.pump();
    await expectFetched(s);
    expect(r.stats.requests.length).toBeGreaterThan(0);
    expect(r.dropped).toBeUndefined();
    expect(h.dropped).toBeUndefined();
    expect(s.fetcher.result()!.peers).toEqual(['honest']);
  });

  it('a peer that only rejects is given up after a few rejects (asked at most once per timeout)', async () => {
    const s = new Swarm(INFO, { requestTimeoutMs: 1000, maxOutstandingPerPeer: 1 });
    const r = s.connect('rejecter', 'reject');
    await s.pump();
    expect(r.stats.requests).toHaveLength(1);
    for (let i = 0; i < 20; i++) await s.advance(1000);
    expect(r.stats.requests).toHaveLength(8);
    expect(s.rejected('EXT_METADATA_REJECTED')).toEqual(['rejecter']);
    expect(s.done).toBe(false);
  });

  it('silence: requests time out on tick() and go to another peer', async () => {
    const s = new Swarm(INFO, { requestTimeoutMs: 10_000 });
    const quiet = s.connect('quiet', 'silent');
    await s.pump();
    expect(quiet.stats.requests.length).toBe(4);
    s.connect('honest', 'honest');
    await s.pump();
    expect(s.done).toBe(false); // the quiet peer's pieces are still "asked"
    await s.advance(9_999);
    expect(s.done).toBe(false);
    await s.advance(1);
    await expectFetched(s);
    expect(s.rejected('EXT_METADATA_TIMEOUT')).toEqual(['quiet']);
    expect(quiet.stats.requests.length).toBe(4); // a stalled peer is not asked again
  });

  it('a closed connection: its pieces are asked of others at once', async () => {
    const s = new Swarm(INFO);
    const quiet = s.connect('quiet', 'silent');
    await s.pump();
    s.connect('honest', 'honest');
    await s.pump();
    expect(s.done).toBe(false);
    quiet.dropped = new BtError('PEER_CLOSED', 'network', 'closed');
    s.fetcher.peerClosed('quiet');
    await s.pump();
    await expectFetched(s);
  });

  it('data nobody asked for is ignored, then the peer is dropped', async () => {
    const s = new Swarm(INFO);
    s.connect('quiet', 'silent'); // its size is the one in use
    let send: ((p: Uint8Array) => boolean) | undefined;
    const spammer: ExtensionFactory = (ctx) => {
      send = ctx.send;
      return { name: 'ut_metadata', handshakeFields: () => ({ metadata_size: 999 }) };
    };
    const c = s.connect('spam', spammer);
    await s.pump();
    const spam = () => send!(encodeMetadataMessage({ type: 'data', piece: 0, totalSize: 999, data: new Uint8Array(999) }));
    for (let i = 0; i < 64; i++) spam();
    await s.pump();
    expect(c.dropped).toBeUndefined();
    spam();
    await s.pump();
    expect(c.dropped?.code).toBe('EXT_METADATA_UNREQUESTED');
    expect(s.fetcher.progress()).toMatchObject({ size: INFO.length, received: 0 });
  });

  it('a malformed message: thrown to the session (the peer is dropped) and reported', async () => {
    const s = new Swarm(INFO);
    let send: ((p: Uint8Array) => boolean) | undefined;
    const c = s.connect('bad', (ctx) => {
      send = ctx.send;
      return { name: 'ut_metadata' };
    });
    await s.pump();
    send!(b('d8:msg_typei1ee'));
    await s.pump();
    expect(c.dropped?.code).toBe('EXT_BAD_METADATA_MESSAGE');
    expect(s.rejected('EXT_BAD_METADATA_MESSAGE')).toEqual(['bad']);
  });

  it('a later handshake that changes metadata_size moves the peer out of the size in use', async () => {
    const s = new Swarm(INFO);
    const a = s.connect('a', 'silent');
    await s.pump();
    expect(a.stats.requests.length).toBe(4);
    // The peer now says another size: its requests are given back; with no one else, the new size is adopted.
    a.ours.receive(0, encodeExtendedHandshake({ m: { ut_metadata: 1 }, metadataSize: INFO.length + 1 }));
    expect(s.fetcher.progress().size).toBe(INFO.length + 1);
  });
});

describe('MetadataFetcher: property', () => {
  it('any mix of hostile peers with one honest peer: the fetch completes, only hostile peers are dropped', async () => {
    const hostile: MetadataPeerMode[] = ['wrong-size', 'wrong-total-size', 'out-of-range', 'bad-hash', 'wrong-length', 'over-cap', 'reject', 'silent'];
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom(...hostile), { maxLength: 5 }),
        fc.nat(),
        fc.integer({ min: 1, max: 4 }),
        async (modes, at, maxOutstandingPerPeer) => {
          const s = new Swarm(INFO, { maxOutstandingPerPeer, requestTimeoutMs: 10_000 });
          const all: MetadataPeerMode[] = [...modes];
          all.splice(at % (modes.length + 1), 0, 'honest');
          const conns = all.map((mode, i) => [mode, s.connect(`${mode}-${i}`, mode)] as const);
          await s.pump();
          for (let i = 0; i < 50 && !s.done; i++) await s.advance(10_000);
          await expectFetched(s);
          for (const [mode, c] of conns) {
            if (mode === 'honest') expect(c.dropped).toBeUndefined();
            if (c.dropped) expect(['wrong-size', 'wrong-total-size', 'out-of-range', 'bad-hash', 'wrong-length']).toContain(mode);
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('serving: metadataServer / utMetadata({ get })', () => {
  function serverPair(get: () => Uint8Array | null) {
    const got: MetadataMessage[] = [];
    let send: ((p: Uint8Array) => boolean) | undefined;
    const server = new ExtensionRegistry([metadataServer(get)], { send: (_id, payload) => got.push(plain(decodeMetadataMessage(payload)) as MetadataMessage) });
    const client = new ExtensionRegistry(
      [
        (ctx) => {
          send = ctx.send;
          return { name: 'ut_metadata' };
        },
      ],
      { send: (id, payload) => server.receive(id, payload) },
    );
    server.receive(0, client.ourHandshake());
    client.receive(0, server.ourHandshake());
    return { server, got, ask: (piece: number) => send!(encodeMetadataMessage({ type: 'request', piece })) };
  }

  it('announces metadata_size only when known', () => {
    let info: Uint8Array | null = null;
    const { server } = serverPair(() => info);
    const h0 = decode(server.ourHandshake()).value as Map<string, unknown>;
    expect(h0.has('metadata_size')).toBe(false);
    info = INFO;
    const h1 = decode(server.ourHandshake()).value;
    expect(isDict(h1) && h1.get('metadata_size')).toBe(INFO.length);
  });

  it('answers with data (total_size, right length) or reject (unknown metadata, out of range)', () => {
    let info: Uint8Array | null = null;
    const { got, ask } = serverPair(() => info);
    ask(0);
    info = INFO;
    ask(5);
    ask(6);
    ask(0x7fffffff);
    expect(got[0]).toEqual({ type: 'reject', piece: 0 });
    expect(got[1]).toEqual({ type: 'data', piece: 5, totalSize: INFO.length, data: hex(INFO.subarray(5 * METADATA_PIECE_LENGTH)) });
    expect(got[2]).toEqual({ type: 'reject', piece: 6 });
    expect(got[3]).toEqual({ type: 'reject', piece: 0x7fffffff });
  });

  it('is bounded: past 4 × pieces + 16 answers, a peer only gets rejects', () => {
    const { got, ask } = serverPair(() => INFO);
    for (let i = 0; i < 100; i++) ask(i % 6);
    expect(got.filter((m) => m.type === 'data')).toHaveLength(4 * 6 + 16);
    expect(got.slice(4 * 6 + 16).every((m) => m.type === 'reject')).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// The TCP helper (test/helpers/metadata-peer.ts), checked end to end with the fetcher.

/** Dial a metadata peer on loopback and run the fetcher's plug-in over it (what the session will do). */
function dial(port: number, key: string, fetcher: MetadataFetcher, infoHash: Uint8Array): { closed: Promise<BtError | undefined> } {
  const sock = net.connect({ host: '127.0.0.1', port });
  const decoder = new MessageDecoder();
  let error: BtError | undefined;
  const end = (err?: BtError) => {
    error ??= err;
    sock.destroy();
  };
  const registry = new ExtensionRegistry([fetcher.plugin(key, { drop: end })], {
    send: (id, payload) => sock.write(encodeMessage({ type: 'extended', id, payload })),
  });
  sock.on('error', () => undefined);
  sock.on('connect', () => sock.write(encodeHandshake({ reserved: reservedWith(['fast', 'extended']), infoHash, peerId: Buffer.alloc(20, 1) })));
  sock.on('data', (chunk: Buffer) => {
    decoder.push(chunk);
    try {
      for (const f of decoder.messages()) {
        if (f.type === 'handshake') {
          registry.onHandshake(f.handshake);
          sock.write(encodeMessage({ type: 'extended', id: 0, payload: registry.ourHandshake() }));
        } else if (f.type === 'extended') {
          registry.receive(f.id, Uint8Array.from(f.payload));
        }
      }
    } catch (e) {
      end(e as BtError);
    }
  });
  const closed = new Promise<BtError | undefined>((resolve) =>
    sock.on('close', () => {
      fetcher.peerClosed(key);
      resolve(error);
    }),
  );
  return { closed };
}

const within = <T>(p: Promise<T>, ms: number): Promise<T> =>
  Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`not within ${ms} ms`)), ms).unref())]);

describe('metadata-peer helper over TCP (127.0.0.1)', () => {
  it('an honest and a lying peer: the metadata arrives, the liar is dropped', async () => {
    const infoHash = sha1(INFO);
    const honest = await startMetadataPeer({ infoHash, info: INFO, mode: 'honest' });
    const liar = await startMetadataPeer({ infoHash, info: INFO, mode: 'bad-hash' });
    try {
      const fetcher = new MetadataFetcher({ infoHash, maxOutstandingPerPeer: 1 });
      const toLiar = dial(liar.port, 'liar', fetcher, infoHash);
      dial(honest.port, 'honest', fetcher, infoHash);
      const got = await within(fetcher.metadata, 10_000);
      expect(hex(got)).toBe(hex(INFO));
      expect((await within(toLiar.closed, 10_000))?.code).toBe('EXT_METADATA_HASH_MISMATCH');
      expect(honest.stats.connections).toBe(1);
    } finally {
      await honest.close();
      await liar.close();
    }
  });

  it('refuses a handshake for another torrent', async () => {
    const peer = await startMetadataPeer({ infoHash: sha1(INFO), info: INFO, mode: 'honest' });
    try {
      const other = Buffer.alloc(20, 7);
      const fetcher = new MetadataFetcher({ infoHash: other });
      const { closed } = dial(peer.port, 'p', fetcher, other);
      await within(closed, 10_000);
      expect(peer.stats.requests).toEqual([]);
    } finally {
      await peer.close();
    }
  });
});
