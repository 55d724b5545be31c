/**
 * Range planning: a piece that spans files becomes one HTTP range per file, in order; BEP 47
 * padding files become zeros and are never requested.
 */
import { describe, expect, it } from 'vitest';
import { pieceRange, planLayout, planRange } from '../../../../src/core/webseed/ranges.js';

// a(5) | pad(3) | b(10) | empty(0) | c(2): stream of 20 bytes.
const files = [
  { length: 5, offset: 0, padding: false },
  { length: 3, offset: 5, padding: true },
  { length: 10, offset: 8, padding: false },
  { length: 0, offset: 18, padding: false },
  { length: 2, offset: 18, padding: false },
];
const layout = planLayout(files);

describe('webseed planRange', () => {
  it('splits a range over files and fills padding with zeros', () => {
    expect(planRange(files, layout, 0, 20)).toEqual([
      { kind: 'http', fileIndex: 0, fileOffset: 0, rangeOffset: 0, length: 5 },
      { kind: 'zeros', fileIndex: 1, rangeOffset: 5, length: 3 },
      { kind: 'http', fileIndex: 2, fileOffset: 0, rangeOffset: 8, length: 10 },
      { kind: 'http', fileIndex: 4, fileOffset: 0, rangeOffset: 18, length: 2 },
    ]);
  });

  it('a range inside one file is one request at the file offset', () => {
    expect(planRange(files, layout, 10, 4)).toEqual([{ kind: 'http', fileIndex: 2, fileOffset: 2, rangeOffset: 0, length: 4 }]);
  });

  it('a range that starts in padding and ends mid-file', () => {
    expect(planRange(files, layout, 6, 4)).toEqual([
      { kind: 'zeros', fileIndex: 1, rangeOffset: 0, length: 2 },
      { kind: 'http', fileIndex: 2, fileOffset: 0, rangeOffset: 2, length: 2 },
    ]);
  });

  it('parts cover the range exactly, in order, for every piece length', () => {
    for (let pl = 1; pl <= 21; pl++) {
      for (let i = 0; i * pl < 20; i++) {
        const { start, length } = pieceRange(i, pl, 20);
        const parts = planRange(files, layout, start, length);
        let at = 0;
        for (const p of parts) {
          expect(p.rangeOffset).toBe(at);
          at += p.length;
        }
        expect(at).toBe(length);
      }
    }
  });

  it('pieceRange: the last piece is shorter, outside pieces refused', () => {
    expect(pieceRange(0, 8, 20)).toEqual({ start: 0, length: 8 });
    expect(pieceRange(2, 8, 20)).toEqual({ start: 16, length: 4 });
    expect(() => pieceRange(3, 8, 20)).toThrow(RangeError);
    expect(() => pieceRange(-1, 8, 20)).toThrow(RangeError);
  });
});
