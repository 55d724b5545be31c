/**
 * A read cache in front of a `PieceStore`, for uploading (BEP 3 `request` → `piece`).
 *
 * Peers ask for 16 KiB blocks, and in a swarm several peers ask for the same piece at about the
 * same time (the seed's rarest pieces are everyone's rarest). Reading block by block costs one
 * system call per block per peer; here a block is served from an aligned chunk of its piece
 * (up to `chunkBytes`) read once with one call per file span, and kept in a small LRU bounded by
 * `maxBytes`. Concurrent misses on the same chunk share one read.
 *
 * Writes pass through and drop the chunks of the piece written, so a downloader that also
 * uploads never serves stale bytes.
 */
import type { Bitfield } from '../pieces/bitfield.js';
import type { FileStat, PieceStore } from './store.js';

export interface ReadCacheOptions {
  /** Most bytes of chunks kept. Default 32 MiB. */
  maxBytes?: number;
  /** Chunk size (a multiple of 16 KiB works best: blocks then never straddle chunks). Default 1 MiB. */
  chunkBytes?: number;
}

export interface ReadCacheStats {
  hits: number;
  misses: number;
  /** Bytes read from the store for blocks. */
  bytesRead: number;
}

export class ReadCache implements PieceStore {
  readonly pieceCount: number;
  private readonly maxBytes: number;
  private readonly chunkBytes: number;
  /** Chunk key → its bytes (Map order = least recently used first). */
  private readonly chunks = new Map<number, Promise<Uint8Array>>();
  private readonly sizes = new Map<number, number>();
  private bytes = 0;
  readonly stats: ReadCacheStats = { hits: 0, misses: 0, bytesRead: 0 };

  constructor(
    private readonly store: PieceStore,
    private readonly geometry: { pieceLength: number; totalLength: number },
    options: ReadCacheOptions = {},
  ) {
    this.pieceCount = store.pieceCount;
    this.maxBytes = Math.max(0, options.maxBytes ?? 32 * 1024 * 1024);
    this.chunkBytes = Math.max(16 * 1024, Math.min(options.chunkBytes ?? 1024 * 1024, geometry.pieceLength));
  }

  private pieceSize(index: number): number {
    return index === this.pieceCount - 1 ? this.geometry.totalLength - index * this.geometry.pieceLength : this.geometry.pieceLength;
  }

  private chunksPerPiece(): number {
    return Math.ceil(this.geometry.pieceLength / this.chunkBytes);
  }

  async read(index: number, begin: number, length: number): Promise<Uint8Array> {
    const c = Math.floor(begin / this.chunkBytes);
    const chunkStart = c * this.chunkBytes;
    const chunkLength = Math.min(this.chunkBytes, this.pieceSize(index) - chunkStart);
    // A block across two chunks (odd request sizes), or a cache too small to hold a chunk: read it as asked.
    if (this.maxBytes < chunkLength || begin + length > chunkStart + chunkLength || chunkLength <= 0) {
      this.stats.bytesRead += length;
      return this.store.read(index, begin, length);
    }
    const key = index * this.chunksPerPiece() + c;
    let p = this.chunks.get(key);
    if (p) {
      this.stats.hits++;
      this.chunks.delete(key);
      this.chunks.set(key, p);
    } else {
      this.stats.misses++;
      this.stats.bytesRead += chunkLength;
      p = this.store.read(index, chunkStart, chunkLength);
      this.chunks.set(key, p);
      this.sizes.set(key, chunkLength);
      this.bytes += chunkLength;
      // A failed read is not cached: the next request tries the disk again.
      p.catch(() => this.drop(key));
      this.evict();
    }
    const chunk = await p;
    return chunk.subarray(begin - chunkStart, begin - chunkStart + length);
  }

  /**
   * Start reading the chunk that holds `begin` if it is not cached: an uploader calls this for
   * the blocks queued behind the one it is sending, so the next chunk comes off the disk while
   * the current one goes out, not after. Counts neither a hit nor a miss until it is `read()`.
   */
  prefetch(index: number, begin: number): void {
    const c = Math.floor(begin / this.chunkBytes);
    const chunkStart = c * this.chunkBytes;
    const chunkLength = Math.min(this.chunkBytes, this.pieceSize(index) - chunkStart);
    if (this.maxBytes < chunkLength || chunkLength <= 0) return;
    const key = index * this.chunksPerPiece() + c;
    if (this.chunks.has(key)) return;
    this.stats.bytesRead += chunkLength;
    const p = this.store.read(index, chunkStart, chunkLength);
    this.chunks.set(key, p);
    this.sizes.set(key, chunkLength);
    this.bytes += chunkLength;
    p.catch(() => this.drop(key));
    this.evict();
  }

  private drop(key: number): void {
    if (!this.chunks.delete(key)) return;
    this.bytes -= this.sizes.get(key) ?? 0;
    this.sizes.delete(key);
  }

  private evict(): void {
    for (const key of this.chunks.keys()) {
      if (this.bytes <= this.maxBytes) return;
      this.drop(key);
    }
  }

  readPiece(index: number): Promise<Uint8Array> {
    return this.store.readPiece(index);
  }

  async writePiece(index: number, data: Uint8Array): Promise<void> {
    const per = this.chunksPerPiece();
    for (let c = 0; c < per; c++) this.drop(index * per + c);
    try {
      await this.store.writePiece(index, data);
    } finally {
      // Again once written: a chunk read while the write ran holds the old (or torn) bytes.
      for (let c = 0; c < per; c++) this.drop(index * per + c);
    }
  }

  present(): Promise<Bitfield> {
    return this.store.present();
  }

  prepare(selectedFiles: readonly boolean[]): Promise<void> {
    return this.store.prepare(selectedFiles);
  }

  filesOfPiece(index: number): number[] {
    return this.store.filesOfPiece(index);
  }

  stat(): Promise<FileStat[]> {
    return this.store.stat();
  }

  async close(): Promise<void> {
    this.chunks.clear();
    this.sizes.clear();
    this.bytes = 0;
    await this.store.close();
  }
}
