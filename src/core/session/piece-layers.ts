/**
 * BEP 52 piece layers computed from the data instead of fetched: a file's piece layer is a
 * function of its bytes, so once every piece of a file is on disk and verified, the layer can be
 * hashed from it and adopted when it folds to the file's `pieces root` (FileHashTree.setPieceLayer
 * checks that; a layer that does not fold is dropped, never used).
 *
 * When: a seed whose .torrent has no `piece layers` (one saved from a magnet when no peer sent
 * them) — so that it can answer v2 peers' hash requests; and a hybrid downloaded from a magnet
 * over v1 peers only, whose SHA-1 list checked every piece — so that its saved .torrent is whole.
 *
 * Cost: one read and one SHA-256 per 16 KiB of each file still lacking its layer; files whose
 * layer is known are not read. The leaves are hashed on this thread a piece at a time (each read
 * yields to the event loop), bounded by the file sizes; `signal` stops it between pieces.
 */
import { MERKLE_BLOCK, blockLeaves, merkleRoot } from '../metainfo/merkle.js';
import type { V2Trees } from './v2-verifier.js';

export interface LayerSource {
  /** Whether piece `index` (torrent-wide) is on disk and verified. */
  have(index: number): boolean;
  readPiece(index: number): Promise<Uint8Array>;
}

/**
 * Fill in, from the data, the piece layer of every file of `v2` that lacks one and whose pieces
 * are all had. Returns how many files got their layer.
 */
export async function layersFromData(v2: V2Trees, source: LayerSource, signal: AbortSignal): Promise<number> {
  let added = 0;
  const perPiece = v2.pieceLength / MERKLE_BLOCK;
  for (const tree of v2.trees) {
    if (!tree || tree.complete) continue;
    const first = v2.firstPiece(tree)!;
    const hashes: Buffer[] = [];
    for (let u = 0; u < tree.pieceCount; u++) {
      if (signal.aborted || !source.have(first + u)) break;
      const data = await source.readPiece(first + u);
      const bytes = Math.min(v2.pieceLength, tree.length - u * v2.pieceLength);
      if (data.length < bytes) break;
      hashes.push(merkleRoot(blockLeaves(data.subarray(0, bytes)), perPiece));
    }
    if (hashes.length === tree.pieceCount && tree.setPieceLayer(hashes)) added++;
  }
  return added;
}
