/**
 * SHA-1 check of a complete piece against the torrent's `pieces` (BEP 3). Large pieces go to the
 * worker pool (hash/pool.ts) so hashing runs beside the network and the disk instead of on the
 * session's thread; the piece's buffer is transferred there and back, never copied. Small pieces
 * are hashed inline, where a round trip to a worker would cost more than the hash.
 */
import { createHash } from 'node:crypto';
import type { HashPool } from '../hash/pool.js';

/** Pieces at least this large are hashed in the pool. */
export const POOL_MIN_PIECE = 256 * 1024;

export interface CheckResult {
  ok: boolean;
  /** The data again: the same memory, back from the worker when it went there. */
  data: Uint8Array;
}

export class PieceHasher {
  constructor(
    /** Concatenated 20-byte SHA-1 digests. */
    private readonly hashes: Uint8Array,
    private readonly pieceLength: number,
    private readonly pool: HashPool | null,
  ) {}

  private expected(index: number): Uint8Array {
    return this.hashes.subarray(index * 20, index * 20 + 20);
  }

  /**
   * Check `data` (the whole piece). With a pool, `data` must be the start of an ArrayBuffer of
   * its own (it is detached while the worker has it); use the returned `data` afterwards.
   */
  async check(index: number, data: Uint8Array): Promise<CheckResult> {
    const own = data.byteOffset === 0 && data.buffer instanceof ArrayBuffer;
    if (this.pool && own && this.pieceLength >= POOL_MIN_PIECE) {
      // Read the length first: the transfer detaches `data`.
      const length = data.length;
      const r = await this.pool.hash(data.buffer as ArrayBuffer, length, Math.max(this.pieceLength, length), 'sha1');
      const back = new Uint8Array(r.buffer, 0, length);
      return { ok: Buffer.compare(r.digests.subarray(0, 20), this.expected(index)) === 0, data: back };
    }
    const digest = createHash('sha1').update(data).digest();
    return { ok: Buffer.compare(digest, this.expected(index)) === 0, data };
  }
}
