/**
 * The one place that knows how long a piece is (BEP 3: every piece is `piece length` bytes but the
 * last, which holds what is left). Metainfo, the block geometry, storage and the read cache all ask
 * here.
 */

export interface PieceGeometryInput {
  pieceLength: number;
  totalLength: number;
}

/** The length of piece `index` (the last piece is usually shorter). */
export function pieceSize(g: PieceGeometryInput, index: number): number {
  return Math.min(g.pieceLength, g.totalLength - index * g.pieceLength);
}
