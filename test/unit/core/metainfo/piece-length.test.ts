/**
 * The automatic piece length: the smallest power of two giving at most 2000 pieces, clamped to
 * [16 KiB, 16 MiB], so 1001–2000 pieces between 32 MiB and 32 GiB; and the piece-length lints.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { autoPieceLength, isPowerOfTwo, MAX_AUTO_PIECE_LENGTH, MIN_AUTO_PIECE_LENGTH, pieceLengthLint } from '../../../../src/core/metainfo/piece-length.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const TiB = 1024 * GiB;

describe('autoPieceLength', () => {
  it('known sizes', () => {
    expect(autoPieceLength(1)).toBe(16 * KiB);
    expect(autoPieceLength(2000 * 16 * KiB)).toBe(16 * KiB); // exactly 2000 pieces
    expect(autoPieceLength(2000 * 16 * KiB + 1)).toBe(32 * KiB); // 2001 would be too many
    expect(autoPieceLength(700 * MiB)).toBe(512 * KiB); // 1400 pieces
    expect(autoPieceLength(4 * GiB)).toBe(4 * MiB); // 1024 pieces
    expect(autoPieceLength(32 * GiB)).toBe(16 * MiB);
  });

  it('clamps at 16 KiB below and 16 MiB above', () => {
    expect(autoPieceLength(0)).toBe(MIN_AUTO_PIECE_LENGTH);
    expect(autoPieceLength(1000)).toBe(16 * KiB);
    expect(autoPieceLength(16 * MiB)).toBe(16 * KiB); // 1024 pieces
    expect(autoPieceLength(TiB)).toBe(MAX_AUTO_PIECE_LENGTH);
    expect(autoPieceLength(Number.MAX_SAFE_INTEGER)).toBe(16 * MiB);
  });

  it('gives 1001–2000 pieces for any size from 32 MiB to 32 GiB, always a power of two', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2000 * 16 * KiB + 1, max: 2000 * 16 * MiB }), (total) => {
        const pl = autoPieceLength(total);
        const pieces = Math.ceil(total / pl);
        expect(isPowerOfTwo(pl)).toBe(true);
        expect(pieces).toBeGreaterThan(1000);
        expect(pieces).toBeLessThanOrEqual(2000);
      }),
      { numRuns: 2000 },
    );
  });

  it('is the smallest such power of two within the clamp', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4 * TiB }), (total) => {
        const pl = autoPieceLength(total);
        expect(pl).toBeGreaterThanOrEqual(MIN_AUTO_PIECE_LENGTH);
        expect(pl).toBeLessThanOrEqual(MAX_AUTO_PIECE_LENGTH);
        if (pl > MIN_AUTO_PIECE_LENGTH) expect(Math.ceil(total / (pl / 2))).toBeGreaterThan(2000);
        if (pl < MAX_AUTO_PIECE_LENGTH) expect(Math.ceil(total / pl)).toBeLessThanOrEqual(2000);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('isPowerOfTwo', () => {
  it('powers of two only', () => {
    expect([1, 2, 16384, 2 ** 30].every(isPowerOfTwo)).toBe(true);
    expect([0, -2, 3, 12288, 1.5, 2 ** 53 + 2].some(isPowerOfTwo)).toBe(false);
  });
});

describe('pieceLengthLint', () => {
  it('is silent for the automatic choice at every size', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 * TiB }), (total) => {
        expect(pieceLengthLint(autoPieceLength(total), total)).toBeNull();
      }),
      { numRuns: 2000 },
    );
    for (const total of [1, 100 * MiB, 900 * GiB, 2 * TiB]) expect(pieceLengthLint(autoPieceLength(total), total)).toBeNull();
  });

  it('a piece length that is not a power of two', () => {
    expect(pieceLengthLint(100_000, 10 * MiB)).toMatch(/not a power of two/);
  });

  it('below 16 KiB, the block size', () => {
    expect(pieceLengthLint(8 * KiB, MiB)).toMatch(/below 16 KiB/);
  });

  it('over 16 MiB', () => {
    expect(pieceLengthLint(32 * MiB, 64 * GiB)).toMatch(/over 16 MiB/);
  });

  it('too many pieces, suggesting the automatic length', () => {
    const lint = pieceLengthLint(16 * KiB, 2 * GiB);
    expect(lint).toMatch(/131072 pieces/);
    expect(lint).toContain(`--piece-length ${autoPieceLength(2 * GiB)}`);
  });

  it('too few pieces for a large torrent', () => {
    const lint = pieceLengthLint(16 * MiB, 100 * MiB);
    expect(lint).toMatch(/only 7 pieces/);
    expect(lint).toContain(`--piece-length ${autoPieceLength(100 * MiB)}`);
    // Small data with few pieces is fine: there is nothing to trade in parallel anyway.
    expect(pieceLengthLint(16 * MiB, 20 * MiB)).toBeNull();
  });
});
