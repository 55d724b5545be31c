/**
 * Piece layers hashed from the data (session/piece-layers.ts): adopted only when every piece of the
 * file is had and the layer folds to the file's root; a changed byte or a missing piece leaves the
 * file without one; files that have theirs are not read.
 */
import { describe, expect, it } from 'vitest';
import { fileMerkle } from '../../../../src/core/metainfo/merkle.js';
import { layersFromData } from '../../../../src/core/session/piece-layers.js';
import { V2Trees } from '../../../../src/core/session/v2-verifier.js';

const PL = 32 * 1024;

function bytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 29 + seed * 11) & 0xff;
  return b;
}

/** A (3 pieces and 5 bytes), padding, B (2 pieces), padding, C (1000 bytes): A and B have layers. */
function layout() {
  const a = bytes(3 * PL + 5, 1);
  const b = bytes(2 * PL, 2);
  const c = bytes(1000, 3);
  const [ma, mb, mc] = [fileMerkle(a, PL), fileMerkle(b, PL), fileMerkle(c, PL)];
  const files = [
    { offset: 0, length: a.length, padding: false, piecesRoot: ma.root! },
    { offset: a.length, length: 4 * PL - a.length, padding: true },
    { offset: 4 * PL, length: b.length, padding: false, piecesRoot: mb.root! },
    { offset: 6 * PL, length: c.length, padding: false, piecesRoot: mc.root! },
  ];
  const stream = Buffer.concat([a, Buffer.alloc(4 * PL - a.length), b, c]);
  const piece = (i: number) => Buffer.from(stream.subarray(i * PL, Math.min((i + 1) * PL, stream.length)));
  return { files, piece, pieceCount: 7, layers: [ma.layer!, mb.layer!] };
}

describe('layersFromData', () => {
  const signal = new AbortController().signal;

  it('hashes every layered file\'s piece layer from its pieces, equal to the reference, and completes the trees', async () => {
    const l = layout();
    const trees = new V2Trees(l.files, PL, l.pieceCount);
    expect(trees.complete).toBe(false);
    const reads: number[] = [];
    const n = await layersFromData(trees, { have: () => true, readPiece: async (i) => (reads.push(i), l.piece(i)) }, signal);
    expect(n).toBe(2);
    expect(trees.complete).toBe(true);
    expect(trees.pieceLayers().map((x) => x.layer)).toEqual(l.layers);
    // C is one piece (no layer): not read.
    expect(reads).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('a changed byte in a file, or a piece not had: that file gets no layer, the other does', async () => {
    const l = layout();
    const trees = new V2Trees(l.files, PL, l.pieceCount);
    const changed = (i: number) => {
      const p = l.piece(i);
      if (i === 2) p[7]! ^= 1;
      return p;
    };
    expect(await layersFromData(trees, { have: () => true, readPiece: async (i) => changed(i) }, signal)).toBe(1);
    expect(trees.trees[0]!.complete).toBe(false);
    expect(trees.trees[2]!.complete).toBe(true);
    const again = new V2Trees(l.files, PL, l.pieceCount);
    expect(await layersFromData(again, { have: (i) => i !== 5, readPiece: async (i) => l.piece(i) }, signal)).toBe(1);
    expect(again.trees[0]!.complete).toBe(true);
    expect(again.trees[2]!.complete).toBe(false);
  });

  it('stops between pieces when the signal fires', async () => {
    const l = layout();
    const trees = new V2Trees(l.files, PL, l.pieceCount);
    const ctl = new AbortController();
    const reads: number[] = [];
    const n = await layersFromData(trees, { have: () => true, readPiece: async (i) => (reads.push(i), ctl.abort(), l.piece(i)) }, ctl.signal);
    expect(n).toBe(0);
    expect(reads).toEqual([0]);
  });
});
