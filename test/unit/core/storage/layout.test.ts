/**
 * The piece stream laid over files (BEP 3): which parts of which files hold a byte range, with
 * pieces spanning file boundaries and empty files taking no room.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type LayoutFile, piecesOfFile, spansOf } from '../../../../src/core/storage/layout.js';

function layout(lengths: number[]): LayoutFile[] {
  let offset = 0;
  return lengths.map((length, i) => {
    const f = { diskPath: `/f${i}`, length, offset };
    offset += length;
    return f;
  });
}

/** Naive reference: for each byte of the range, which file and which offset in it. */
function byteOwners(files: LayoutFile[], start: number, length: number): [number, number][] {
  const out: [number, number][] = [];
  for (let b = start; b < start + length; b++) {
    const i = files.findIndex((f) => f.length > 0 && b >= f.offset && b < f.offset + f.length);
    if (i >= 0) out.push([i, b - files[i]!.offset]);
  }
  return out;
}

describe('spansOf', () => {
  const files = layout([10, 0, 5, 20, 0]);

  it('a range inside one file', () => {
    expect(spansOf(files, 2, 5)).toEqual([{ fileIndex: 0, fileOffset: 2, rangeOffset: 0, length: 5 }]);
    expect(spansOf(files, 20, 3)).toEqual([{ fileIndex: 3, fileOffset: 5, rangeOffset: 0, length: 3 }]);
  });

  it('a range (a piece) spanning three files, skipping the empty one between them', () => {
    expect(spansOf(files, 8, 10)).toEqual([
      { fileIndex: 0, fileOffset: 8, rangeOffset: 0, length: 2 },
      { fileIndex: 2, fileOffset: 0, rangeOffset: 2, length: 5 },
      { fileIndex: 3, fileOffset: 0, rangeOffset: 7, length: 3 },
    ]);
  });

  it('the whole stream, and ranges that start exactly on a file boundary', () => {
    expect(spansOf(files, 0, 35).map((s) => [s.fileIndex, s.length])).toEqual([[0, 10], [2, 5], [3, 20]]);
    expect(spansOf(files, 10, 5)).toEqual([{ fileIndex: 2, fileOffset: 0, rangeOffset: 0, length: 5 }]);
    expect(spansOf(files, 15, 1)).toEqual([{ fileIndex: 3, fileOffset: 0, rangeOffset: 0, length: 1 }]);
  });

  it('nothing past the end, nothing for an empty range, nothing for no files', () => {
    expect(spansOf(files, 35, 10)).toEqual([]);
    expect(spansOf(files, 100, 1)).toEqual([]);
    expect(spansOf(files, 5, 0)).toEqual([]);
    expect(spansOf([], 0, 10)).toEqual([]);
    expect(spansOf(layout([0, 0]), 0, 10)).toEqual([]);
  });

  it('agrees with a byte-by-byte reference on random layouts and ranges', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 40 })), { minLength: 1, maxLength: 12 }),
        fc.nat({ max: 500 }),
        fc.nat({ max: 200 }),
        (lengths, startSeed, length) => {
          const fs = layout(lengths);
          const total = lengths.reduce((a, b) => a + b, 0);
          const start = total === 0 ? 0 : startSeed % (total + 5);
          const spans = spansOf(fs, start, length);
          const viaSpans: [number, number][] = spans.flatMap((s) => Array.from({ length: s.length }, (_, k): [number, number] => [s.fileIndex, s.fileOffset + k]));
          expect(viaSpans).toEqual(byteOwners(fs, start, length));
          // rangeOffsets are contiguous from where the data starts, and never zero-length.
          for (const s of spans) expect(s.length).toBeGreaterThan(0);
          for (let i = 1; i < spans.length; i++) expect(spans[i]!.rangeOffset).toBe(spans[i - 1]!.rangeOffset + spans[i - 1]!.length);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('piecesOfFile', () => {
  it('the first and last piece holding any byte of the file', () => {
    expect(piecesOfFile({ offset: 0, length: 16 }, 16)).toEqual([0, 0]);
    expect(piecesOfFile({ offset: 0, length: 17 }, 16)).toEqual([0, 1]);
    expect(piecesOfFile({ offset: 15, length: 2 }, 16)).toEqual([0, 1]);
    expect(piecesOfFile({ offset: 16, length: 1 }, 16)).toEqual([1, 1]);
    expect(piecesOfFile({ offset: 10, length: 100 }, 16)).toEqual([0, 6]);
  });

  it('an empty file is in no piece, wherever it sits', () => {
    expect(piecesOfFile({ offset: 0, length: 0 }, 16)).toBeNull();
    expect(piecesOfFile({ offset: 16, length: 0 }, 16)).toBeNull();
  });
});
