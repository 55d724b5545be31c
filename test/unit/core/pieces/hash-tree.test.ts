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
import { fileMerkle, layerHashes, rootFromLayer } from '../../../../src/core/metainfo/merkle.js';
import { FileHashTree, LAYER_CHUNK, padNode } from '../../../../src/core/pieces/hash-tree.js';

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
