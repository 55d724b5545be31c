/**
 * BEP 52 hash requests over one file's merkle tree (src/core/pieces/hash-tree.ts): what a seed
 * serves (the range, then the uncle hashes bottom first) on a hand-computed tree; that every
 * chunk a downloader asks for, served by a tree that has the layer, proves against the root and
 * rebuilds the same piece layer (for any file size and piece length); and that a changed hash, a
 * missing or extra proof hash, or a range we cannot serve is refused.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { blockLeaves, fileMerkle, layerHashes, rootFromLayer } from '../../../../src/core/metainfo/merkle.js';
import { FileHashTree, LAYER_CHUNK, type LayerRange, MAX_REQUEST_HASHES, hashRequestProblem, padNode, proves } from '../../../../src/core/pieces/hash-tree.js';

const KIB16 = 16 * 1024;
const sha256 = (a: Uint8Array, b: Uint8Array) => createHash('sha256').update(a).update(b).digest();

/**
 * A file's root and piece layer by the reference (merkle.ts). A file of more than one piece gets
 * arbitrary piece hashes (what the tree does with them does not depend on the data below them),
 * so large files cost no hashing of data.
 */
function fileOf(length: number, pieceLength: number, seed = 1) {
  if (length > pieceLength) {
    const layer = Array.from({ length: Math.ceil(length / pieceLength) }, (_, i) => createHash('sha256').update(`${seed}:${i}`).digest());
    return { root: rootFromLayer(layer, pieceLength), layer };
  }
  const data = new Uint8Array(length);
  for (let i = 0; i < length; i += 4096) data[i] = (i / 4096 + seed) & 0xff;
  const { root, layer } = fileMerkle(data, pieceLength);
  return { root: root!, layer: layer ? layerHashes(layer) : [] };
}

describe('serving hash requests', () => {
  // Four pieces of one block each: the piece layer is the leaf layer (layer 0), two layers above it.
  const pl = KIB16;
  const f = fileOf(4 * pl, pl);
  const tree = new FileHashTree(f.root, 4 * pl, pl);
  expect(tree.setPieceLayer(f.layer)).toBe(true);
  const [h0, h1, h2, h3] = f.layer as [Buffer, Buffer, Buffer, Buffer];

  it('answers the range and then, per proven layer, the sibling of its ancestor (bottom first)', () => {
    expect(tree.serve({ baseLayer: 0, index: 0, length: 2, proofLayers: 1 })).toEqual(Buffer.concat([h0, h1, sha256(h2, h3)]));
    // A lone hash comes without its own sibling: the proof starts at its parent's (libtorrent's get_hashes).
    expect(tree.serve({ baseLayer: 0, index: 3, length: 1, proofLayers: 1 })).toEqual(Buffer.concat([h3, sha256(h0, h1)]));
    // The whole layer needs no proof; proof layers beyond the range's own subtree add nothing below it.
    expect(tree.serve({ baseLayer: 0, index: 0, length: 4, proofLayers: 0 })).toEqual(Buffer.concat([h0, h1, h2, h3]));
    // A layer above the piece layer is served too.
    expect(tree.serve({ baseLayer: 1, index: 1, length: 1, proofLayers: 0 })).toEqual(sha256(h2, h3));
    expect(tree.serve({ baseLayer: 1, index: 0, length: 2, proofLayers: 0 })).toEqual(Buffer.concat([sha256(h0, h1), sha256(h2, h3)]));
  });

  it('refuses what it cannot serve: below the piece layer, misaligned, past the layer, proof to or past the root', () => {
    const big = fileOf(8 * 4 * KIB16, 4 * KIB16);
    const t = new FileHashTree(big.root, 8 * 4 * KIB16, 4 * KIB16);
    expect(t.setPieceLayer(big.layer)).toBe(true);
    expect(t.pieceLayer).toBe(2);
    expect(t.serve({ baseLayer: 0, index: 0, length: 4, proofLayers: 0 })).toBeNull();
    expect(t.serve({ baseLayer: 2, index: 1, length: 2, proofLayers: 0 })).toBeNull();
    expect(t.serve({ baseLayer: 2, index: 8, length: 1, proofLayers: 0 })).toBeNull();
    expect(t.serve({ baseLayer: 2, index: 0, length: 3, proofLayers: 0 })).toBeNull();
    expect(t.serve({ baseLayer: 2, index: 0, length: 2, proofLayers: 3 })).toBeNull();
    expect(t.serve({ baseLayer: 2, index: 0, length: 2, proofLayers: 2 })).not.toBeNull();
    // Without its piece layer a tree serves nothing.
    expect(new FileHashTree(big.root, 8 * 4 * KIB16, 4 * KIB16).serve({ baseLayer: 2, index: 0, length: 8, proofLayers: 0 })).toBeNull();
  });
});

describe('fetching a piece layer', () => {
  it('property: every chunk served by a seed proves to the root and rebuilds the same layer', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3 }), fc.oneof(fc.integer({ min: 2, max: 40 }), fc.integer({ min: 500, max: 1100 })), fc.integer({ min: 0, max: KIB16 - 1 }), (plog, pieces, tail) => {
        const pl = KIB16 * 2 ** plog;
        const length = (pieces - 1) * pl + 1 + (tail % pl);
        const f = fileOf(length, pl, pieces);
        const seed = new FileHashTree(f.root, length, pl);
        expect(seed.setPieceLayer(f.layer)).toBe(true);
        const fresh = new FileHashTree(f.root, length, pl);
        expect(fresh.complete).toBe(false);
        const requests = fresh.layerRequests();
        expect(requests.length).toBe(Math.ceil(pieces / LAYER_CHUNK));
        for (const r of requests) {
          expect(r.length).toBeLessThanOrEqual(LAYER_CHUNK);
          const answer = seed.serve(r);
          expect(answer).not.toBeNull();
          expect(fresh.addLayerHashes(r, answer!)).toBe(true);
        }
        expect(fresh.complete).toBe(true);
        expect(fresh.pieceLayerBytes()).toEqual(Buffer.concat(f.layer));
        expect(f.layer.every((h, i) => fresh.pieceHash(i)!.equals(h))).toBe(true);
      }),
      { numRuns: 15 },
    );
  }, 180_000);

  it('refuses a changed hash, a changed or missing proof hash, padding that is not padding, and another layer', () => {
    const pl = KIB16;
    const length = 600 * pl;
    const f = fileOf(length, pl);
    const seed = new FileHashTree(f.root, length, pl);
    seed.setPieceLayer(f.layer);
    const fresh = new FileHashTree(f.root, length, pl);
    const [first, second] = fresh.layerRequests() as [ReturnType<FileHashTree['layerRequests']>[0], ReturnType<FileHashTree['layerRequests']>[0]];
    // 600 pieces: a chunk of 512 and one of 128 (88 real hashes, then padding), each proven to the root.
    expect([first.index, first.length, second.index, second.length]).toEqual([0, 512, 512, 128]);
    const good = seed.serve(second)!;
    const flip = (b: Buffer, at: number) => {
      const c = Buffer.from(b);
      c[at]! ^= 1;
      return c;
    };
    expect(fresh.addLayerHashes(second, flip(good, 5))).toBe(false);
    expect(fresh.addLayerHashes(second, flip(good, good.length - 1))).toBe(false);
    expect(fresh.addLayerHashes(second, good.subarray(0, good.length - 32))).toBe(false);
    expect(fresh.addLayerHashes(second, Buffer.concat([good, good.subarray(0, 32)]))).toBe(false);
    expect(fresh.addLayerHashes({ ...second, baseLayer: 1 }, good)).toBe(false);
    expect(fresh.complete).toBe(false);
    // The padding hashes past the last piece are the pad node of a whole piece.
    expect(good.subarray(88 * 32, 89 * 32)).toEqual(padNode(0));
    expect(fresh.addLayerHashes(second, good)).toBe(true);
    expect(fresh.complete).toBe(false);
    expect(fresh.addLayerHashes(first, seed.serve(first)!)).toBe(true);
    expect(fresh.complete).toBe(true);
  });

  it('a file of one piece has no layer to fetch: its root is its piece hash', () => {
    const f = fileOf(3 * KIB16 + 5, 4 * KIB16);
    const t = new FileHashTree(f.root, 3 * KIB16 + 5, 4 * KIB16);
    expect(t.complete).toBe(true);
    expect(t.layerRequests()).toEqual([]);
    expect(t.pieceHash(0)).toEqual(f.root);
  });
});

// --- requests below the piece layer, against an independent whole tree ------------------------------

/**
 * The reference: every layer of a file's tree built naively from its 16 KiB blocks (leaves padded
 * with 32 zero bytes to a power of two), and the answer to a request read off it with libtorrent's
 * loop (merkle_tree::get_hashes): walk up `proofLayers` layers from the base; from the layer where
 * the range has folded to one node, take the sibling at each.
 */
function referenceTree(data: Buffer): Buffer[][] {
  const leaves: Buffer[] = [];
  for (let at = 0; at < data.length; at += KIB16) leaves.push(createHash('sha256').update(data.subarray(at, at + KIB16)).digest());
  let width = 1;
  while (width < leaves.length) width *= 2;
  while (leaves.length < width) leaves.push(Buffer.alloc(32));
  const layers = [leaves];
  while (layers.at(-1)!.length > 1) {
    const below = layers.at(-1)!;
    layers.push(Array.from({ length: below.length / 2 }, (_, i) => sha256(below[2 * i]!, below[2 * i + 1]!)));
  }
  return layers;
}

function referenceAnswer(layers: Buffer[][], r: LayerRange): Buffer {
  const out = layers[r.baseLayer]!.slice(r.index, r.index + r.length);
  const folded = Math.log2(r.length) - 1;
  let at = r.index;
  for (let i = 0; i < r.proofLayers; i++) {
    at >>= 1;
    if (i >= folded) out.push(layers[r.baseLayer + i + 1]![at ^ 1]!);
  }
  return Buffer.concat(out);
}

function fileData(length: number, seed: number): Buffer {
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; i += 97) b[i] = (i * 13 + seed) & 0xff;
  return b;
}

/** A seed's tree of `data` (with its piece layer) and the leaves of its pieces, as read from disk. */
function seedOf(data: Buffer, pl: number) {
  const m = fileMerkle(data, pl);
  const tree = new FileHashTree(m.root!, data.length, pl);
  if (m.layer) expect(tree.setPieceLayer(layerHashes(m.layer))).toBe(true);
  const pieceLeaves = (first: number, count: number) => Array.from({ length: count }, (_, u) => blockLeaves(data.subarray((first + u) * pl, Math.min((first + u + 1) * pl, data.length))));
  const answer = (r: LayerRange): Buffer | null => {
    const span = tree.piecesFor(r);
    return span ? tree.serveFromLeaves(r, pieceLeaves(span.first, span.count)) : tree.serve(r);
  };
  return { tree, answer, pieceLeaves };
}

describe('hash request validation', () => {
  // A tree of height 5 (17–32 leaves): layers 0–5.
  const cases: [LayerRange, RegExp | null][] = [
    [{ baseLayer: 0, index: 0, length: 4, proofLayers: 4 }, null],
    [{ baseLayer: 0, index: 28, length: 4, proofLayers: 0 }, null],
    [{ baseLayer: 0, index: 0, length: 32, proofLayers: 0 }, null],
    [{ baseLayer: 3, index: 2, length: 2, proofLayers: 1 }, null],
    [{ baseLayer: 4, index: 0, length: 2, proofLayers: 0 }, null],
    [{ baseLayer: 5, index: 0, length: 1, proofLayers: 0 }, /proof layers reach past the root/],
    [{ baseLayer: 6, index: 0, length: 1, proofLayers: 0 }, /base layer 6/],
    [{ baseLayer: -1, index: 0, length: 1, proofLayers: 0 }, /base layer -1/],
    [{ baseLayer: 0.5, index: 0, length: 1, proofLayers: 0 }, /base layer/],
    [{ baseLayer: 0, index: 0, length: 0, proofLayers: 0 }, /length 0/],
    [{ baseLayer: 0, index: 0, length: 3, proofLayers: 0 }, /length 3/],
    [{ baseLayer: 0, index: 0, length: 2 * MAX_REQUEST_HASHES, proofLayers: 0 }, /length 16384/],
    [{ baseLayer: 0, index: 2, length: 4, proofLayers: 0 }, /index 2 is not a multiple/],
    [{ baseLayer: 0, index: -4, length: 4, proofLayers: 0 }, /index -4/],
    [{ baseLayer: 0, index: 32, length: 4, proofLayers: 0 }, /past the 32 of layer 0/],
    [{ baseLayer: 2, index: 0, length: 16, proofLayers: 0 }, /past the 8 of layer 2/],
    [{ baseLayer: 0, index: 0, length: 4, proofLayers: 5 }, /5 proof layers reach past the root/],
    [{ baseLayer: 0, index: 0, length: 4, proofLayers: -1 }, /-1 proof layers/],
  ];
  it.each(cases)('%j: %s', (range, problem) => {
    const got = hashRequestProblem(range, 5);
    if (problem === null) expect(got).toBeNull();
    else expect(got).toMatch(problem);
  });

  it('a tree refuses (null) every malformed request, from its kept layers and from leaves alike', () => {
    const pl = 2 * KIB16;
    const data = fileData(20 * KIB16 + 7, 3);
    const s = seedOf(data, pl);
    expect(s.tree.height).toBe(5);
    for (const [range, problem] of cases) {
      if (problem === null) continue;
      expect(s.tree.piecesFor(range)).toBeNull();
      expect(s.tree.serve(range)).toBeNull();
      expect(s.tree.serveFromLeaves(range, [])).toBeNull();
    }
  });
});

describe('serving every layer (block layer included) from a seed\'s tree and its data', () => {
  it('property: any well-formed request is answered as the independent whole tree answers it, and a full proof folds to the root', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 }),
        fc.integer({ min: 1, max: 40 * KIB16 }),
        fc.nat(),
        fc.nat(),
        fc.nat(),
        fc.nat(),
        (plog, length, baseSeed, lenSeed, indexSeed, proofSeed) => {
          const pl = KIB16 * 2 ** plog;
          const data = fileData(length, length & 0xff);
          const s = seedOf(data, pl);
          const ref = referenceTree(data);
          const height = ref.length - 1;
          expect(s.tree.height).toBe(height);
          expect(ref[height]![0]!.equals(s.tree.root)).toBe(true);
          const baseLayer = baseSeed % (height + 1);
          const above = height - baseLayer;
          const length2 = 2 ** (lenSeed % (above + 1));
          const index = (indexSeed % (2 ** above / length2)) * length2;
          if (above === 0) return; // the root alone: no proof layer can be asked (validated above)
          const proofLayers = proofSeed % above;
          const range = { baseLayer, index, length: length2, proofLayers };
          expect(hashRequestProblem(range, height)).toBeNull();
          const got = s.answer(range);
          expect(got, JSON.stringify({ length, pl, range })).not.toBeNull();
          expect(got!.equals(referenceAnswer(ref, range)), JSON.stringify({ length, pl, range })).toBe(true);
          // With the proof to the root, what a downloader asks for is proven against the root alone.
          if (length2 >= 2) {
            const full = { ...range, proofLayers: above - 1 };
            const answer = s.answer(full)!;
            expect(proves(s.tree.root, above, full, layerHashes(answer))).toBe(true);
          }
        },
      ),
      { numRuns: 150 },
    );
  }, 180_000);

  it('block-layer requests need only the pieces they touch; data that changed on disk is refused, not served', () => {
    const pl = 4 * KIB16;
    const data = fileData(10 * pl + 3 * KIB16, 9);
    const s = seedOf(data, pl);
    // One piece's blocks with the proof to the root (what libtorrent asks after a failed piece).
    const onePiece = { baseLayer: 0, index: 8, length: 4, proofLayers: s.tree.height - 1 };
    expect(s.tree.piecesFor(onePiece)).toEqual({ first: 2, count: 1 });
    // Two blocks inside piece 3, and a range over pieces 4–7.
    expect(s.tree.piecesFor({ baseLayer: 0, index: 14, length: 2, proofLayers: 0 })).toEqual({ first: 3, count: 1 });
    expect(s.tree.piecesFor({ baseLayer: 1, index: 8, length: 8, proofLayers: 0 })).toEqual({ first: 4, count: 4 });
    // Past the last piece (11 of them, layer padded to 16): no piece to read, the hashes are padding.
    const tail = { baseLayer: 0, index: 48, length: 16, proofLayers: 0 };
    expect(s.tree.piecesFor(tail)).toEqual({ first: 12, count: 0 });
    expect(s.tree.serveFromLeaves(tail, [])).toEqual(Buffer.concat(Array.from({ length: 16 }, () => Buffer.alloc(32))));
    // The piece layer and above come from the kept layers: nothing to read.
    expect(s.tree.piecesFor({ baseLayer: 2, index: 0, length: 4, proofLayers: 0 })).toBeNull();
    const leaves = s.pieceLeaves(2, 1);
    expect(s.tree.serveFromLeaves(onePiece, leaves)).not.toBeNull();
    const changed = leaves.map((piece) => piece.map((h) => Buffer.from(h)));
    changed[0]![1]![0]! ^= 1;
    expect(s.tree.serveFromLeaves(onePiece, changed)).toBeNull();
    // The wrong number of pieces, or a piece of too many blocks.
    expect(s.tree.serveFromLeaves(onePiece, [])).toBeNull();
    expect(s.tree.serveFromLeaves(onePiece, [[...leaves[0]!, ...leaves[0]!]])).toBeNull();
  });

  it('a file of one piece: its blocks are served from its data, checked against its root', () => {
    const data = fileData(3 * KIB16 + 5, 1);
    const s = seedOf(data, 8 * KIB16);
    expect(s.tree.layered).toBe(false);
    const ref = referenceTree(data);
    const r = { baseLayer: 0, index: 2, length: 2, proofLayers: 1 };
    expect(s.tree.piecesFor(r)).toEqual({ first: 0, count: 1 });
    expect(s.answer(r)).toEqual(referenceAnswer(ref, r));
    expect(s.tree.serveFromLeaves(r, [blockLeaves(fileData(3 * KIB16 + 5, 2))])).toBeNull();
  });
});
