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
 * uploads never serves stale bytes. With `keepWritten` (a downloader's cache) the piece just
 * written is then kept, copied, once the cache has served any block: in a swarm the piece a
 * leecher announced last is the one its peers ask for next (it is rare: few have it yet), so it
 * goes out of memory instead of back off the disk; a download nobody asks anything of copies nothing.
 */
import type { Bitfield } from '../pieces/bitfield.js';
import { pieceSize } from '../pieces/geometry.js';
import type { FileStat, PieceStore } from './store.js';

export interface ReadCacheOptions {
  /** Most bytes of chunks kept. Default 32 MiB. */
  maxBytes?: number;
  /** Chunk size (a multiple of 16 KiB works best: blocks then never straddle chunks). Default 1 MiB. */
  chunkBytes?: number;
  /** Keep a copy of each piece written, once a block has been read through the cache. Default false. */
  keepWritten?: boolean;
}

export interface ReadCacheStats {
  hits: number;
  misses: number;
  /** Bytes read from the store for blocks. */
  bytesRead: number;
}

/** A block lent out of the cache: `release()` once its bytes are no longer needed (e.g. written to a socket). */
export interface BlockLease {
  data: Uint8Array;
  release(): void;
}

interface Chunk {
  bytes: Promise<Uint8Array>;
  size: number;
  /** The recyclable buffer the chunk was read into; null once recycled, or when it may not be. */
  buffer: Buffer | null;
  /** The read finished and filled `buffer` (before that, the buffer is still being written). */
  loaded: boolean;
  /** Still in the LRU. */
  cached: boolean;
  /** Blocks lent and not yet released. */
  leases: number;
  /** A block was handed out by plain `read()`: where it went is unknown, so never reuse the buffer. */
  pinned: boolean;
}

/** Spare chunk buffers kept for the next misses (a buffer is reused only when nobody holds a block of it). */
const MAX_SPARE_BUFFERS = 8;

export class ReadCache implements PieceStore {
  readonly pieceCount: number;
  private readonly maxBytes: number;
  private readonly chunkBytes: number;
  /** Chunk key → chunk (Map order = least recently used first). */
  private readonly chunks = new Map<number, Chunk>();
  /**
   * Buffers of chunks that left the cache and whose lent blocks were all released. Reusing them
   * instead of allocating a fresh 1 MiB per miss keeps a seed's memory flat: otherwise every
   * gigabyte sent leaves a gigabyte of buffers for the garbage collector.
   */
  private readonly spare: Buffer[] = [];
  private bytes = 0;
  private readonly keepWritten: boolean;
  /** A block was asked for: from now on written pieces are kept (with `keepWritten`). */
  private serving = false;
  readonly stats: ReadCacheStats = { hits: 0, misses: 0, bytesRead: 0 };

  constructor(
    private readonly store: PieceStore,
    private readonly geometry: { pieceLength: number; totalLength: number },
    options: ReadCacheOptions = {},
  ) {
    this.pieceCount = store.pieceCount;
    this.maxBytes = Math.max(0, options.maxBytes ?? 32 * 1024 * 1024);
    this.chunkBytes = Math.max(16 * 1024, Math.min(options.chunkBytes ?? 1024 * 1024, geometry.pieceLength));
    this.keepWritten = options.keepWritten ?? false;
  }

  private chunksPerPiece(): number {
    return Math.ceil(this.geometry.pieceLength / this.chunkBytes);
  }

  /** The block's bytes; they stay valid for as long as the caller keeps them. */
  async read(index: number, begin: number, length: number): Promise<Uint8Array> {
    this.serving = true;
    const at = this.locate(index, begin, length);
    if (!at) {
      this.stats.bytesRead += length;
      return this.store.read(index, begin, length);
    }
    const chunk = this.use(at);
    const bytes = await chunk.bytes;
    chunk.pinned = true;
    return bytes.subarray(begin - at.chunkStart, begin - at.chunkStart + length);
  }

  /**
   * The block's bytes, valid until `release()`: then the memory may serve another chunk. For the
   * upload path, which releases a block once its socket write is done.
   */
  async lease(index: number, begin: number, length: number): Promise<BlockLease> {
    this.serving = true;
    const at = this.locate(index, begin, length);
    if (!at) {
      this.stats.bytesRead += length;
      return { data: await this.store.read(index, begin, length), release: () => undefined };
    }
    const chunk = this.use(at);
    // Counted before the wait, so an eviction meanwhile cannot recycle the buffer under us.
    chunk.leases++;
    let bytes: Uint8Array;
    try {
      bytes = await chunk.bytes;
    } catch (err) {
      chunk.leases--;
      throw err;
    }
    let released = false;
    return {
      data: bytes.subarray(begin - at.chunkStart, begin - at.chunkStart + length),
      release: () => {
        if (released) return;
        released = true;
        chunk.leases--;
        this.recycle(chunk);
      },
    };
  }

  /**
   * Start reading the chunk that holds `begin` if it is not cached: an uploader calls this for
   * the blocks queued behind the one it is sending, so the next chunk comes off the disk while
   * the current one goes out, not after. Counts neither a hit nor a miss until it is `read()`.
   */
  prefetch(index: number, begin: number): void {
    const c = Math.floor(begin / this.chunkBytes);
    const chunkStart = c * this.chunkBytes;
    const chunkLength = Math.min(this.chunkBytes, pieceSize(this.geometry, index) - chunkStart);
    if (this.maxBytes < chunkLength || chunkLength <= 0) return;
    const key = index * this.chunksPerPiece() + c;
    if (this.chunks.has(key)) return;
    this.load(key, index, chunkStart, chunkLength);
  }

  /** Where block (index, begin, length) lies in the chunks; null when it is read around the cache. */
  private locate(index: number, begin: number, length: number): { key: number; index: number; chunkStart: number; chunkLength: number } | null {
    const c = Math.floor(begin / this.chunkBytes);
    const chunkStart = c * this.chunkBytes;
    const chunkLength = Math.min(this.chunkBytes, pieceSize(this.geometry, index) - chunkStart);
    // A block across two chunks (odd request sizes), or a cache too small to hold a chunk: read it as asked.
    if (this.maxBytes < chunkLength || begin + length > chunkStart + chunkLength || chunkLength <= 0) return null;
    return { key: index * this.chunksPerPiece() + c, index, chunkStart, chunkLength };
  }

  /** The chunk, from the cache (a hit, now most recently used) or read now (a miss). */
  private use(at: { key: number; index: number; chunkStart: number; chunkLength: number }): Chunk {
    const hit = this.chunks.get(at.key);
    if (hit) {
      this.stats.hits++;
      this.chunks.delete(at.key);
      this.chunks.set(at.key, hit);
      return hit;
    }
    this.stats.misses++;
    return this.load(at.key, at.index, at.chunkStart, at.chunkLength);
  }

  private load(key: number, index: number, chunkStart: number, chunkLength: number): Chunk {
    this.stats.bytesRead += chunkLength;
    const buffer = this.spare.pop() ?? Buffer.allocUnsafe(this.chunkBytes);
    const chunk: Chunk = { bytes: this.store.read(index, chunkStart, chunkLength, buffer.subarray(0, chunkLength)), size: chunkLength, buffer, loaded: false, cached: true, leases: 0, pinned: false };
    this.chunks.set(key, chunk);
    this.bytes += chunkLength;
    chunk.bytes.then(
      (bytes) => {
        if (bytes.buffer !== buffer.buffer) {
          // A store that read into memory of its own left ours unused: the blocks are views of its.
          this.keepSpare(buffer);
          chunk.buffer = null;
        }
        chunk.loaded = true;
        this.recycle(chunk);
      },
      () => {
        // A failed read is not cached (the next request tries the disk again), and its buffer is
        // not reused: part of the read may still be landing in it.
        chunk.buffer = null;
        this.drop(key, chunk);
      },
    );
    this.evict();
    return chunk;
  }

  /** Take chunk `key` out of the cache (only if it is still `expected`, when given). */
  private drop(key: number, expected?: Chunk): void {
    const chunk = this.chunks.get(key);
    if (!chunk || (expected && chunk !== expected)) return;
    this.chunks.delete(key);
    this.bytes -= chunk.size;
    chunk.cached = false;
    this.recycle(chunk);
  }

  /** A chunk out of the cache, read, and with every lent block released gives its buffer back. */
  private recycle(chunk: Chunk): void {
    if (chunk.cached || !chunk.loaded || chunk.leases > 0 || chunk.pinned || !chunk.buffer) return;
    this.keepSpare(chunk.buffer);
    chunk.buffer = null;
  }

  private keepSpare(buffer: Buffer): void {
    if (this.spare.length < MAX_SPARE_BUFFERS) this.spare.push(buffer);
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
    if (this.keepWritten && this.serving) this.keep(index, data);
  }

  /** Piece `index`'s bytes, just written, as cached chunks (copies: the caller reuses `data`). */
  private keep(index: number, data: Uint8Array): void {
    const per = this.chunksPerPiece();
    for (let c = 0; c < per; c++) {
      const chunkStart = c * this.chunkBytes;
      const size = Math.min(this.chunkBytes, data.length - chunkStart);
      if (size <= 0 || size > this.maxBytes) return;
      const buffer = this.spare.pop() ?? Buffer.allocUnsafe(this.chunkBytes);
      buffer.set(data.subarray(chunkStart, chunkStart + size));
      const chunk: Chunk = { bytes: Promise.resolve(buffer.subarray(0, size)), size, buffer, loaded: true, cached: true, leases: 0, pinned: false };
      this.chunks.set(index * per + c, chunk);
      this.bytes += size;
      this.evict();
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
    for (const key of [...this.chunks.keys()]) this.drop(key);
    this.spare.length = 0;
    await this.store.close();
  }
}
