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
import { isBtError } from '../errors.js';
import { MERKLE_BLOCK, blockLeaves, merkleRoot } from '../metainfo/merkle.js';
import type { SessionEvent } from './types.js';
import type { V2Hashes } from './v2-hashes.js';
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

export interface PieceLayersHooks {
  /** The hash exchange with v2 peers (v2-hashes.ts). */
  hashes: Pick<V2Hashes<never>, 'fetchLayers'>;
  now(): number;
  emit(ev: SessionEvent): void;
  /** Block requests may go out again (the layers a v2-only torrent waited for are in). */
  released(): void;
  stopping(): boolean;
  signal: AbortSignal;
}

/**
 * The session's side of piece layers: fetched from peers (a v2-only torrent holds every block
 * request meanwhile, since no piece could be checked; a hybrid fetches alongside, its SHA-1 list
 * checking pieces), or hashed from the data (`fromData`). One `piece-layers` event when all are in.
 */
export class PieceLayers {
  /** A v2-only torrent's layers are being fetched: no block requests until they are in. */
  blocking = false;
  /** --metadata-only waits (bounded) for the layers: the stall verdict is off meanwhile. */
  waiting = false;

  constructor(private readonly hooks: PieceLayersHooks) {}

  /** Fetch the layers `v2` lacks from peers; false when that failed or the session stopped first. */
  async fetch(v2: V2Trees, how: { block?: boolean; timeoutMs?: number } = {}): Promise<boolean> {
    if (v2.complete) return true;
    const block = how.block ?? true;
    if (block) this.blocking = true;
    const since = this.hooks.now();
    const signal = how.timeoutMs !== undefined ? AbortSignal.any([this.hooks.signal, AbortSignal.timeout(how.timeoutMs)]) : this.hooks.signal;
    const fetched = await this.hooks.hashes.fetchLayers(signal).then(
      () => true,
      () => false,
    );
    if (block) this.blocking = false;
    if (!fetched || this.hooks.stopping()) return false;
    const layered = v2.trees.filter((tr) => tr?.layered);
    this.hooks.emit({ type: 'piece-layers', files: layered.length, hashes: layered.reduce((n, tr) => n + tr!.pieceCount, 0), elapsedMs: Math.round(this.hooks.now() - since), from: 'peers' });
    this.hooks.released();
    return true;
  }

  /** --metadata-only: wait for the layers (up to `timeoutMs` when above 0), the stall verdict off. */
  async waitForMetadataOnly(v2: V2Trees, timeoutMs: number): Promise<void> {
    this.waiting = true;
    await this.fetch(v2, { block: false, ...(timeoutMs > 0 ? { timeoutMs } : {}) });
  }

  /** The layers a complete torrent lacks, hashed from its data; `piece-layers` once all are known. */
  fromData(v2: V2Trees, source: LayerSource): void {
    const since = this.hooks.now();
    void layersFromData(v2, source, this.hooks.signal).then(
      (files) => {
        if (files > 0 && v2.complete && !this.hooks.stopping()) {
          this.hooks.emit({ type: 'piece-layers', files, hashes: v2.trees.reduce((n, tr) => n + (tr?.layered ? tr.pieceCount : 0), 0), elapsedMs: Math.round(this.hooks.now() - since), from: 'data' });
        }
      },
      (err: unknown) => this.hooks.emit({ type: 'warning', message: `cannot hash the piece layers from the data: ${err instanceof Error ? err.message : String(err)}`, code: isBtError(err) ? err.code : null }),
    );
  }
}
