/**
 * BEP 52 in the session, without sockets: the merkle piece check (v2-verifier.ts) on an aligned
 * multi-file stream, and the hash exchange (v2-hashes.ts) between fake peers: a magnet's piece
 * layers fetched and proven, hash requests served, and every hostile pattern ending in its
 * documented code — a reject storm (PEER_HASH_REJECT_STORM), hashes that do not fold to the root
 * (PEER_BAD_HASHES, banned), a request flood (PEER_HASH_REQUEST_FLOOD), v2 messages on a v1
 * connection (PEER_NOT_V2).
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { BtError } from '../../../../src/core/errors.js';
import { blockLeaves, fileMerkle } from '../../../../src/core/metainfo/merkle.js';
import { FileHashTree, proves, split } from '../../../../src/core/pieces/hash-tree.js';
import { PieceHasher } from '../../../../src/core/session/hasher.js';
import { type HashPeer, MAX_REJECTS, MAX_SERVED_PER_WINDOW, MAX_SERVE_READS_IN_FLIGHT, MAX_UNSOLICITED, V2Hashes, serveReadBudget } from '../../../../src/core/session/v2-hashes.js';
import { HybridVerifier, V2PieceVerifier, V2Trees } from '../../../../src/core/session/v2-verifier.js';
import type { Message } from '../../../../src/core/wire/messages.js';
import type { PeerWire } from '../../../../src/core/wire/peer-wire.js';

const KIB = 1024;
const PL = 32 * KIB;

function bytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7) & 0xff;
  return b;
}

/** Two files as a v2 torrent lays them out: A (3 pieces and 5 bytes), padding, B (1000 bytes). */
function layout(withLayers: boolean) {
  const a = bytes(3 * PL + 5, 1);
  const b = bytes(1000, 2);
  const ma = fileMerkle(a, PL);
  const mb = fileMerkle(b, PL);
  const files = [
    { offset: 0, length: a.length, padding: false, piecesRoot: ma.root!, ...(withLayers ? { pieceLayer: ma.layer! } : {}) },
    { offset: a.length, length: 4 * PL - a.length, padding: true },
    { offset: 4 * PL, length: b.length, padding: false, piecesRoot: mb.root! },
  ];
  const stream = Buffer.concat([a, Buffer.alloc(4 * PL - a.length), b]);
  const piece = (i: number) => Buffer.from(stream.subarray(i * PL, Math.min((i + 1) * PL, stream.length)));
  return { files, piece, pieceCount: 5, layerA: ma.layer! };
}

describe('V2PieceVerifier', () => {
  it('passes each piece of an aligned stream by its merkle hash, and fails a changed byte', async () => {
    const l = layout(true);
    const v = new V2PieceVerifier(new V2Trees(l.files, PL, l.pieceCount), null);
    for (let i = 0; i < l.pieceCount; i++) expect((await v.check(i, l.piece(i))).ok).toBe(true);
    for (const i of [0, 3, 4]) {
      const bad = l.piece(i);
      bad[bad.length - 1]! ^= 1;
      // Piece 3's last byte is padding (not in any tree); its data is at the front.
      if (i === 3) bad[0]! ^= 1;
      expect((await v.check(i, bad)).ok).toBe(false);
    }
  });

  it('a hybrid checks SHA-1 and merkle both: a piece that passes one and not the other fails', async () => {
    const l = layout(true);
    const pieces = Array.from({ length: l.pieceCount }, (_, i) => l.piece(i));
    const sha1s = Buffer.concat(pieces.map((p) => createHash('sha1').update(p).digest()));
    const trees = new V2Trees(l.files, PL, l.pieceCount);
    const hybrid = new HybridVerifier(new PieceHasher(sha1s, PL, null), new V2PieceVerifier(trees, null));
    for (let i = 0; i < l.pieceCount; i++) expect((await hybrid.check(i, l.piece(i))).ok).toBe(true);
    // Garbage in the padding of piece 3: the v2 tree does not see it, the v1 SHA-1 does.
    const padded = l.piece(3);
    padded[padded.length - 1] = 0xee;
    expect((await new V2PieceVerifier(trees, null).check(3, padded)).ok).toBe(true);
    expect((await hybrid.check(3, padded)).ok).toBe(false);
  });

  it('without the piece layer (a magnet) a piece of a multi-piece file cannot pass, one of a one-piece file can', async () => {
    const l = layout(false);
    const trees = new V2Trees(l.files, PL, l.pieceCount);
    expect(trees.complete).toBe(false);
    expect(trees.checkable(0)).toBe(false);
    expect(trees.checkable(4)).toBe(true);
    const v = new V2PieceVerifier(trees, null);
    expect((await v.check(0, l.piece(0))).ok).toBe(false);
    expect((await v.check(4, l.piece(4))).ok).toBe(true);
  });
});

// --- the hash exchange between fake peers ---------------------------------------------------------

interface FakePeer extends HashPeer {
  sent: Message[];
  dropped: boolean;
}

function fakePeer(key: string, v2 = true): FakePeer {
  const p: FakePeer = {
    key,
    v2,
    dropped: false,
    sent: [],
    wire: { send: (m: Message) => void p.sent.push(m) } as unknown as PeerWire,
  };
  return p;
}

function exchange(peers: FakePeer[]) {
  const drops: { peer: string; code: string; ban: boolean }[] = [];
  let now = 0;
  const hashes = new V2Hashes<FakePeer>({
    now: () => now,
    peers: () => peers.filter((p) => !p.dropped),
    drop: (p, err: BtError, ban) => {
      p.dropped = true;
      drops.push({ peer: p.key, code: err.code, ban });
      hashes.peerGone(p);
    },
  });
  return { hashes, drops, advance: (ms: number) => (now += ms) };
}

/** The seed side: answers `p`'s outstanding hash requests from `seedTree` (or with `answer`). */
function answerAll(hashes: V2Hashes<FakePeer>, p: FakePeer, answer: (m: Extract<Message, { type: 'hash-request' }>) => Message) {
  // Bounded: each round answers what was sent before it; new requests go out in the same round.
  for (let round = 0; round < 100 && p.sent.length > 0 && !p.dropped; round++) {
    const out = p.sent.splice(0);
    for (const m of out) if (m.type === 'hash-request') hashes.onMessage(p, answer(m) as never);
  }
}

describe('V2Hashes', () => {
  const l = layout(true);
  const seedTree = new FileHashTree(l.files[0]!.piecesRoot!, l.files[0]!.length, PL);
  seedTree.setPieceLayer([0, 1, 2, 3].map((i) => l.layerA.subarray(i * 32, i * 32 + 32)));
  const serveFrom = (m: Extract<Message, { type: 'hash-request' }>): Message => {
    const h = seedTree.serve(m);
    return h ? { ...m, type: 'hashes', hashes: h } : { ...m, type: 'hash-reject' };
  };

  it('fetches a magnet\'s piece layers from a v2 peer and proves them; a v1 peer is never asked', async () => {
    const v1 = fakePeer('v1', false);
    const seed = fakePeer('seed');
    const { hashes, drops } = exchange([v1, seed]);
    const trees = new V2Trees(layout(false).files, PL, 5);
    hashes.setTrees(trees);
    const done = hashes.fetchLayers(new AbortController().signal);
    expect(v1.sent).toEqual([]);
    expect(seed.sent.map((m) => m.type)).toEqual(['hash-request']);
    answerAll(hashes, seed, serveFrom);
    await done;
    expect(trees.complete).toBe(true);
    expect(trees.trees[0]!.pieceLayerBytes()).toEqual(l.layerA);
    expect(drops).toEqual([]);
  });

  it('a reject storm: the rejecting peer is asked no more, another is; its flood of rejects drops it (PEER_HASH_REJECT_STORM)', async () => {
    const rejecter = fakePeer('rejecter');
    const good = fakePeer('good');
    const { hashes, drops } = exchange([rejecter, good]);
    const trees = new V2Trees(layout(false).files, PL, 5);
    hashes.setTrees(trees);
    const done = hashes.fetchLayers(new AbortController().signal);
    expect(good.sent).toEqual([]);
    const req = rejecter.sent.splice(0)[0] as Extract<Message, { type: 'hash-request' }>;
    hashes.onMessage(rejecter, { ...req, type: 'hash-reject' });
    // The range goes to the other peer, not back to the one that rejected it.
    expect(rejecter.sent).toEqual([]);
    expect(good.sent.map((m) => m.type)).toEqual(['hash-request']);
    // It keeps rejecting what nobody asked: dropped once past the bound, with the documented code.
    for (let i = 0; i < MAX_UNSOLICITED + MAX_REJECTS + 5 && !rejecter.dropped; i++) hashes.onMessage(rejecter, { ...req, type: 'hash-reject' });
    expect(drops).toEqual([{ peer: 'rejecter', code: 'PEER_HASH_REJECT_STORM', ban: false }]);
    answerAll(hashes, good, serveFrom);
    await done;
    expect(trees.complete).toBe(true);
  });

  it('hashes that do not fold to the root: the peer is banned (PEER_BAD_HASHES) and another asked', async () => {
    const liar = fakePeer('liar');
    const honest = fakePeer('honest');
    const { hashes, drops } = exchange([liar, honest]);
    const trees = new V2Trees(layout(false).files, PL, 5);
    hashes.setTrees(trees);
    const done = hashes.fetchLayers(new AbortController().signal);
    const asked = [liar, honest].find((p) => p.sent.length > 0)!;
    expect(asked).toBe(liar);
    answerAll(hashes, liar, (m) => {
      const h = Buffer.from(seedTree.serve(m)!);
      h[0]! ^= 1;
      return { ...m, type: 'hashes', hashes: h };
    });
    expect(drops).toEqual([{ peer: 'liar', code: 'PEER_BAD_HASHES', ban: true }]);
    expect(trees.complete).toBe(false);
    answerAll(hashes, honest, serveFrom);
    await done;
    expect(trees.complete).toBe(true);
  });

  it('a request unanswered past the timeout goes to another peer', async () => {
    const silent = fakePeer('silent');
    const other = fakePeer('other');
    const { hashes, advance } = exchange([silent, other]);
    const trees = new V2Trees(layout(false).files, PL, 5);
    hashes.setTrees(trees);
    const done = hashes.fetchLayers(new AbortController().signal);
    expect(silent.sent.length).toBe(1);
    expect(other.sent.length).toBe(0);
    advance(60_000);
    hashes.tick();
    answerAll(hashes, other, serveFrom);
    await done;
    expect(trees.complete).toBe(true);
  });

  it('serves requests from its trees with proof, rejects what it lacks, and drops a flood (PEER_HASH_REQUEST_FLOOD)', () => {
    const leecher = fakePeer('leecher');
    const { hashes, drops } = exchange([leecher]);
    hashes.setTrees(new V2Trees(l.files, PL, 5));
    const range = { root: l.files[0]!.piecesRoot!, baseLayer: 1, index: 0, length: 4, proofLayers: 0 };
    hashes.onMessage(leecher, { type: 'hash-request', ...range });
    expect(leecher.sent).toEqual([{ type: 'hashes', ...range, root: Uint8Array.from(range.root), hashes: l.layerA }]);
    hashes.onMessage(leecher, { type: 'hash-request', ...range, root: Buffer.alloc(32, 9) });
    hashes.onMessage(leecher, { type: 'hash-request', ...range, baseLayer: 0 });
    expect(leecher.sent.slice(1).map((m) => m.type)).toEqual(['hash-reject', 'hash-reject']);
    for (let i = 0; i < MAX_SERVED_PER_WINDOW + 10 && !leecher.dropped; i++) hashes.onMessage(leecher, { type: 'hash-request', ...range });
    expect(drops).toEqual([{ peer: 'leecher', code: 'PEER_HASH_REQUEST_FLOOD', ban: false }]);
  });

  it('a hash message on a connection that does not speak v2 drops it (PEER_NOT_V2)', () => {
    const p = fakePeer('v1only', false);
    const { hashes, drops } = exchange([p]);
    hashes.onMessage(p, { type: 'hash-request', root: Buffer.alloc(32), baseLayer: 0, index: 0, length: 1, proofLayers: 0 });
    expect(drops).toEqual([{ peer: 'v1only', code: 'PEER_NOT_V2', ban: false }]);
  });
});

describe('V2Hashes: requests below the piece layer, answered from the data on disk', () => {
  const l = layout(true);
  const root = l.files[0]!.piecesRoot!;
  // File A: 7 blocks (8 leaves: height 3), pieces of 2 blocks (piece layer 1), 4 pieces.
  const blocks = { root, baseLayer: 0, index: 2, length: 2, proofLayers: 2 };

  function server(read: (i: number) => Promise<Uint8Array | null>) {
    const leecher = fakePeer('leecher');
    const drops: string[] = [];
    const reported: boolean[] = [];
    let now = 0;
    const hashes = new V2Hashes<FakePeer>({
      now: () => now,
      peers: () => [leecher],
      drop: (_p, err) => void drops.push(err.code),
      readPiece: read,
      servedFromData: (_p, _range, answered) => void reported.push(answered),
    });
    hashes.setTrees(new V2Trees(l.files, PL, l.pieceCount));
    const settle = async () => {
      for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    };
    return { leecher, hashes, drops, reported, settle, advance: (ms: number) => (now += ms) };
  }

  it('serves the block hashes of a piece we have, with the proof to the root', async () => {
    const reads: number[] = [];
    const s = server(async (i) => (reads.push(i), l.piece(i)));
    s.hashes.onMessage(s.leecher, { type: 'hash-request', ...blocks });
    await s.settle();
    expect(reads).toEqual([1]);
    const [m] = s.leecher.sent as [Extract<Message, { type: 'hashes' }>];
    expect(m.type).toBe('hashes');
    const nodes = split(m.hashes);
    // The two blocks of piece 1, hashed independently, then uncles that fold them to the file's root.
    expect(nodes.slice(0, 2)).toEqual(blockLeaves(l.piece(1)));
    expect(proves(root, 3, blocks, nodes)).toBe(true);
    expect(s.reported).toEqual([true]);
  });

  it('rejects a piece we do not have, data that changed on disk, and a read that fails', async () => {
    for (const read of [async () => null, async (i: number) => Object.assign(l.piece(i), { 0: l.piece(i)[0]! ^ 1 }), async () => Promise.reject(new Error('EIO'))]) {
      const s = server(read);
      s.hashes.onMessage(s.leecher, { type: 'hash-request', ...blocks });
      await s.settle();
      expect(s.leecher.sent.map((m) => m.type)).toEqual(['hash-reject']);
      expect(s.reported).toEqual([false]);
      expect(s.drops).toEqual([]);
    }
  });

  it(`at most ${MAX_SERVE_READS_IN_FLIGHT} disk reads per peer at once: more are rejected at once, not queued`, async () => {
    const pending: (() => void)[] = [];
    const s = server((i) => new Promise((resolve) => pending.push(() => resolve(l.piece(i)))));
    for (let k = 0; k < MAX_SERVE_READS_IN_FLIGHT + 2; k++) s.hashes.onMessage(s.leecher, { type: 'hash-request', ...blocks });
    expect(s.leecher.sent.map((m) => m.type)).toEqual(['hash-reject', 'hash-reject']);
    for (const go of pending.splice(0)) go();
    await s.settle();
    expect(s.leecher.sent.map((m) => m.type)).toEqual(['hash-reject', 'hash-reject', 'hashes', 'hashes']);
    // Once they are done, the peer may ask again.
    s.hashes.onMessage(s.leecher, { type: 'hash-request', ...blocks });
    for (const go of pending.splice(0)) go();
    await s.settle();
    expect(s.leecher.sent.at(-1)!.type).toBe('hashes');
  });

  it('a per-peer budget of bytes read per window: past it a reject, a window later served again', async () => {
    const s = server(async (i) => l.piece(i));
    // The whole file's blocks: 4 pieces read per request.
    const whole = { root, baseLayer: 0, index: 0, length: 8, proofLayers: 2 };
    const perRequest = 4 * PL;
    const fit = Math.floor(serveReadBudget(PL) / perRequest);
    expect(fit).toBeLessThan(MAX_SERVED_PER_WINDOW);
    for (let k = 0; k < fit + 3; k++) {
      s.hashes.onMessage(s.leecher, { type: 'hash-request', ...whole });
      await s.settle();
    }
    const types = s.leecher.sent.map((m) => m.type);
    expect(types.filter((t) => t === 'hashes').length).toBe(fit);
    expect(types.slice(fit)).toEqual(['hash-reject', 'hash-reject', 'hash-reject']);
    expect(s.drops).toEqual([]);
    s.advance(10_000);
    s.hashes.onMessage(s.leecher, { type: 'hash-request', ...whole });
    await s.settle();
    expect(s.leecher.sent.at(-1)!.type).toBe('hashes');
  }, 60_000);
});
