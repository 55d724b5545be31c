/**
 * The automatic piece length rule for `create`:
 *
 *   the smallest power of two that gives at most 2000 pieces, clamped to [16 KiB, 16 MiB].
 *
 * So a torrent has between ~1000 and 2000 pieces (fewer only below 16 KiB × 1000 = 16 MiB of
 * data, more only above 16 MiB × 2000 = 32 GiB): few enough that the `pieces` list stays small
 * (≤ 40 KB), many enough that peers trade in parallel and a bad piece costs little to re-fetch.
 * 16 KiB is the block size (a smaller piece could not be requested whole); 16 MiB is the largest
 * piece libtorrent and Transmission accept without complaint.
 */
export const MIN_AUTO_PIECE_LENGTH = 16 * 1024;
export const MAX_AUTO_PIECE_LENGTH = 16 * 1024 * 1024;
export const TARGET_MAX_PIECES = 2000;

export function autoPieceLength(totalLength: number): number {
  let pl = MIN_AUTO_PIECE_LENGTH;
  while (pl < MAX_AUTO_PIECE_LENGTH && Math.ceil(totalLength / pl) > TARGET_MAX_PIECES) pl *= 2;
  return pl;
}

export const isPowerOfTwo = (n: number): boolean => n > 0 && (n & (n - 1)) === 0 && Number.isSafeInteger(n);

/** Lint: a piece length that another client would frown at for this size, with the reason. */
export function pieceLengthLint(pieceLength: number, totalLength: number): string | null {
  if (!isPowerOfTwo(pieceLength)) return `piece length ${pieceLength} is not a power of two; many clients refuse it`;
  if (pieceLength < MIN_AUTO_PIECE_LENGTH) return `piece length ${pieceLength} is below 16 KiB, the block size; some clients refuse it`;
  const pieces = Math.ceil(totalLength / pieceLength);
  // Above 800 GiB even 16 MiB pieces number over 50 000; only lint when a larger (auto) length exists.
  if (pieces > 50_000 && autoPieceLength(totalLength) > pieceLength) return `${pieces} pieces is a lot (a large .torrent and slow start); consider --piece-length ${autoPieceLength(totalLength)}`;
  if (pieceLength > MAX_AUTO_PIECE_LENGTH) return `piece length over 16 MiB is refused by some clients`;
  if (totalLength >= 64 * 1024 * 1024 && pieces < 16) return `only ${pieces} pieces: peers cannot trade in parallel; consider --piece-length ${autoPieceLength(totalLength)}`;
  return null;
}
