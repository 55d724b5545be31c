/**
 * The upload read cache (storage/read-cache.ts) over a fake store that counts its reads and can
 * hold them pending: blocks come from aligned chunks (1 MiB by default) read once, concurrent
 * misses share one read, the LRU stays within its byte budget, failures reach every waiter and are
 * not cached, a written piece is never served stale, and a chunk's memory is reused only once it
 * left the cache and no block of it is held (lent and not released, or handed out by `read`).
 */
import { describe, expect, it } from 'vitest';
import { BtError } from '../../../../src/core/errors.js';
import { Bitfield } from '../../../../src/core/pieces/bitfield.js';
import { ReadCache } from '../../../../src/core/storage/read-cache.js';
import type { FileStat, PieceStore } from '../../../../src/core/storage/store.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** The byte at stream offset `pos` of piece data written `gen` times (so rewrites are visible). */
const byteAt = (pos: number, gen = 0) => (pos * 31 + (pos >>> 11) + gen * 101 + 7) & 0xff;

/** Byte equality without a per-element diff (blocks are 16 KiB; a mismatch still fails). */
function same(got: Uint8Array, want: Uint8Array): void {
  expect(got.length).toBe(want.length);
  expect(Buffer.from(got.buffer, got.byteOffset, got.length).equals(want)).toBe(true);
}

function expected(pieceLength: number, index: number, begin: number, length: number, gen = 0): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = byteAt(index * pieceLength + begin + i, gen);
  return out;
}

/** A PieceStore that computes its bytes, records every read, and can hold reads until released. */
class FakeStore implements PieceStore {
  readonly pieceCount: number;
  readonly reads: [number, number, number][] = [];
  readonly calls: string[] = [];
  gen = new Map<number, number>();
  held = false;
  /** While set, writes wait for `finishWrite()`; the piece's bytes change when the write completes. */
  holdWrites = false;
  private readonly writing: (() => void)[] = [];
  failNext: Error | null = null;
  /** Read into the caller's buffer when given one (as the file stores do); each such buffer, in order. */
  honourInto = false;
  readonly intoBuffers: ArrayBufferLike[] = [];
  private readonly waiting: (() => void)[] = [];

  constructor(
    readonly pieceLength: number,
    readonly totalLength: number,
  ) {
    this.pieceCount = Math.ceil(totalLength / pieceLength);
  }

  release(): void {
    this.held = false;
    for (const go of this.waiting.splice(0)) go();
  }

  async read(index: number, begin: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
    this.reads.push([index, begin, length]);
    if (into && this.honourInto) this.intoBuffers.push(into.buffer);
    const fail = this.failNext;
    this.failNext = null;
    if (this.held) await new Promise<void>((resolve) => this.waiting.push(resolve));
    if (fail) throw fail;
    const size = index === this.pieceCount - 1 ? this.totalLength - index * this.pieceLength : this.pieceLength;
    if (begin < 0 || length <= 0 || begin + length > size) throw new RangeError(`block ${begin}+${length} outside piece ${index}`);
    const bytes = expected(this.pieceLength, index, begin, length, this.gen.get(index) ?? 0);
    if (into && this.honourInto) {
      into.set(bytes);
      return into;
    }
    return bytes;
  }

  async readPiece(index: number): Promise<Uint8Array> {
    this.calls.push(`readPiece ${index}`);
    return new Uint8Array([index]);
  }

  finishWrite(): void {
    this.holdWrites = false;
    for (const go of this.writing.splice(0)) go();
  }

  async writePiece(index: number): Promise<void> {
    this.calls.push(`writePiece ${index}`);
    if (this.holdWrites) await new Promise<void>((resolve) => this.writing.push(resolve));
    this.gen.set(index, (this.gen.get(index) ?? 0) + 1);
  }

  async present(): Promise<Bitfield> {
    this.calls.push('present');
    const b = new Bitfield(this.pieceCount);
    b.set(1);
    return b;
  }

  async prepare(selected: readonly boolean[]): Promise<void> {
    this.calls.push(`prepare ${selected.join(',')}`);
  }

  filesOfPiece(index: number): number[] {
    this.calls.push(`filesOfPiece ${index}`);
    return [index, index + 1];
  }

  async stat(): Promise<FileStat[]> {
    this.calls.push('stat');
    return [{ size: 1, mtimeMs: 2 }];
  }

  async close(): Promise<void> {
    this.calls.push('close');
  }
}

function setup(pieceLength: number, totalLength: number, options?: ConstructorParameters<typeof ReadCache>[2]) {
  const store = new FakeStore(pieceLength, totalLength);
  const cache = new ReadCache(store, { pieceLength, totalLength }, options);
  return { store, cache };
}

describe('ReadCache', () => {
  it('serves 16 KiB blocks from 1 MiB chunks of the piece, one store read per chunk', async () => {
    const pieceLength = 4 * MiB;
    const { store, cache } = setup(pieceLength, 2 * pieceLength + 100 * KiB);
    for (let begin = 0; begin < MiB; begin += 16 * KiB) {
      same(await cache.read(0, begin, 16 * KiB), expected(pieceLength, 0, begin, 16 * KiB));
    }
    expect(store.reads).toEqual([[0, 0, MiB]]);
    same(await cache.read(0, MiB + 16 * KiB, 16 * KiB), expected(pieceLength, 0, MiB + 16 * KiB, 16 * KiB));
    same(await cache.read(1, 3 * MiB, 16 * KiB), expected(pieceLength, 1, 3 * MiB, 16 * KiB));
    // The last piece is short: its one chunk is what there is of it.
    same(await cache.read(2, 16 * KiB, 16 * KiB), expected(pieceLength, 2, 16 * KiB, 16 * KiB));
    same(await cache.read(2, 96 * KiB, 4 * KiB), expected(pieceLength, 2, 96 * KiB, 4 * KiB));
    expect(store.reads).toEqual([
      [0, 0, MiB],
      [0, MiB, MiB],
      [1, 3 * MiB, MiB],
      [2, 0, 100 * KiB],
    ]);
    expect(cache.stats).toEqual({ hits: 64 - 1 + 1, misses: 4, bytesRead: 3 * MiB + 100 * KiB });
    expect(cache.pieceCount).toBe(3);
  });

  it('reads a piece shorter than a chunk whole, and keeps chunks of different pieces apart', async () => {
    const pieceLength = 256 * KiB;
    const { store, cache } = setup(pieceLength, 4 * pieceLength);
    for (const index of [0, 1, 2, 3, 1, 0]) {
      same(await cache.read(index, 32 * KiB, 16 * KiB), expected(pieceLength, index, 32 * KiB, 16 * KiB));
    }
    expect(store.reads).toEqual([
      [0, 0, pieceLength],
      [1, 0, pieceLength],
      [2, 0, pieceLength],
      [3, 0, pieceLength],
    ]);
  });

  it('shares one read among concurrent requests for the same chunk', async () => {
    const pieceLength = 2 * MiB;
    const { store, cache } = setup(pieceLength, 2 * pieceLength);
    store.held = true;
    const begins = Array.from({ length: 20 }, (_, i) => ((i * 7) % 64) * 16 * KiB);
    const blocks = begins.map((b) => cache.read(1, b, 16 * KiB));
    const other = cache.read(1, MiB, 16 * KiB);
    await Promise.resolve();
    expect(store.reads).toEqual([
      [1, 0, MiB],
      [1, MiB, MiB],
    ]);
    store.release();
    const got = await Promise.all(blocks);
    got.forEach((block, i) => same(block, expected(pieceLength, 1, begins[i]!, 16 * KiB)));
    same(await other, expected(pieceLength, 1, MiB, 16 * KiB));
    expect(store.reads.length).toBe(2);
    expect(cache.stats.misses).toBe(2);
    expect(cache.stats.hits).toBe(19);
  });

  it('evicts the least recently used chunk to stay within maxBytes', async () => {
    // 16 KiB chunks, room for two.
    const pieceLength = 64 * KiB;
    const { store, cache } = setup(pieceLength, 4 * pieceLength, { chunkBytes: 16 * KiB, maxBytes: 32 * KiB });
    const A: [number, number] = [0, 0];
    const B: [number, number] = [0, 16 * KiB];
    const C: [number, number] = [2, 32 * KiB];
    const get = ([i, b]: [number, number]) => cache.read(i, b + 4 * KiB, 4 * KiB);
    await get(A);
    await get(B);
    await get(A); // A is now the most recently used
    await get(C); // evicts B, not A
    expect(store.reads.length).toBe(3);
    await get(A);
    await get(C);
    expect(store.reads.length).toBe(3);
    same(await get(B), expected(pieceLength, 0, 20 * KiB, 4 * KiB));
    expect(store.reads.length).toBe(4);
  });

  it('holds no more chunks than fit in maxBytes, however many were read', async () => {
    const pieceLength = 64 * KiB;
    const { store, cache } = setup(pieceLength, 16 * pieceLength, { chunkBytes: 16 * KiB, maxBytes: 3 * 16 * KiB + 1 });
    const chunks: [number, number][] = [];
    for (let i = 0; i < 16; i++) for (let c = 0; c < 4; c++) chunks.push([i, c * 16 * KiB]);
    for (const [i, b] of chunks) await cache.read(i, b, 16 * KiB);
    expect(store.reads.length).toBe(64);
    // Read back newest first: only the three newest are still held.
    for (const [i, b] of [...chunks].reverse()) await cache.read(i, b, 16 * KiB);
    expect(store.reads.length).toBe(64 + 64 - 3);
    expect(cache.stats.hits).toBe(3);
  });

  it('passes a block that straddles two chunks straight to the store, uncached', async () => {
    const pieceLength = 64 * KiB;
    const { store, cache } = setup(pieceLength, 2 * pieceLength, { chunkBytes: 16 * KiB });
    for (let n = 0; n < 2; n++) same(await cache.read(1, 8 * KiB, 16 * KiB), expected(pieceLength, 1, 8 * KiB, 16 * KiB));
    expect(store.reads).toEqual([
      [1, 8 * KiB, 16 * KiB],
      [1, 8 * KiB, 16 * KiB],
    ]);
    expect(cache.stats.bytesRead).toBe(32 * KiB);
  });

  it('reads straight through when a chunk does not fit in maxBytes', async () => {
    const pieceLength = 64 * KiB;
    const { store, cache } = setup(pieceLength, 2 * pieceLength, { chunkBytes: 16 * KiB, maxBytes: 16 * KiB - 1 });
    await cache.read(0, 0, 4 * KiB);
    await cache.read(0, 0, 4 * KiB);
    expect(store.reads).toEqual([
      [0, 0, 4 * KiB],
      [0, 0, 4 * KiB],
    ]);
  });

  it('rejects every waiter with the store error, and does not cache the failure', async () => {
    const pieceLength = 256 * KiB;
    const { store, cache } = setup(pieceLength, 2 * pieceLength);
    const err = new BtError('IO_EIO', 'io', 'disk: i/o error');
    store.failNext = err;
    store.held = true;
    const waiters = [0, 16, 32].map((k) => cache.read(0, k * KiB, 16 * KiB));
    store.release();
    for (const w of waiters) await expect(w).rejects.toBe(err);
    expect(store.reads.length).toBe(1);
    // The next request tries the disk again, and that result is cached.
    same(await cache.read(0, 0, 16 * KiB), expected(pieceLength, 0, 0, 16 * KiB));
    same(await cache.read(0, 16 * KiB, 16 * KiB), expected(pieceLength, 0, 16 * KiB, 16 * KiB));
    expect(store.reads.length).toBe(2);
  });

  it('propagates a range error for a block outside the piece', async () => {
    const { cache } = setup(64 * KiB, 64 * KiB + 10 * KiB);
    await expect(cache.read(1, 16 * KiB, 16 * KiB)).rejects.toThrow(RangeError);
    await expect(cache.read(1, 8 * KiB, 4 * KiB)).rejects.toThrow(RangeError);
  });

  it('drops the chunks of a written piece, so its new bytes are served; other pieces stay cached', async () => {
    const pieceLength = 64 * KiB;
    const { store, cache } = setup(pieceLength, 2 * pieceLength, { chunkBytes: 16 * KiB });
    for (const b of [0, 16, 48]) await cache.read(0, b * KiB, 16 * KiB);
    await cache.read(1, 0, 16 * KiB);
    expect(store.reads.length).toBe(4);
    await cache.writePiece(0, new Uint8Array(pieceLength));
    expect(store.calls).toContain('writePiece 0');
    for (const b of [0, 16, 48]) same(await cache.read(0, b * KiB, 16 * KiB), expected(pieceLength, 0, b * KiB, 16 * KiB, 1));
    await cache.read(1, 0, 16 * KiB);
    expect(store.reads.length).toBe(7);
  });

  it('does not keep a chunk read while the piece was being written: after the write, the new bytes are served', async () => {
    const pieceLength = 64 * KiB;
    const { store, cache } = setup(pieceLength, 2 * pieceLength, { chunkBytes: 16 * KiB });
    await cache.read(0, 0, 16 * KiB);
    store.holdWrites = true;
    const write = cache.writePiece(0, new Uint8Array(pieceLength));
    // A request during the write reads the disk as it still is (the old bytes)…
    same(await cache.read(0, 0, 16 * KiB), expected(pieceLength, 0, 0, 16 * KiB, 0));
    store.finishWrite();
    await write;
    // …but once the write is done, that chunk must not be served from the cache.
    same(await cache.read(0, 0, 16 * KiB), expected(pieceLength, 0, 0, 16 * KiB, 1));
  });

  describe('keepWritten (a downloader that uploads)', () => {
    const pieceLength = 64 * KiB;
    /** Piece bytes as the store holds them after one write (generation 1). */
    const written = (i: number) => expected(pieceLength, i, 0, pieceLength, 1);

    it('once a block was served, a written piece is kept: its blocks come from memory, not the store', async () => {
      const { store, cache } = setup(pieceLength, 4 * pieceLength, { chunkBytes: 16 * KiB, keepWritten: true });
      await cache.read(3, 0, 16 * KiB);
      const reads = store.reads.length;
      const data = written(0);
      await cache.writePiece(0, data);
      // The caller reuses its buffer at once (the assembler recycles piece buffers): the cache kept a copy.
      data.fill(0xee);
      for (const b of [0, 16, 32, 48]) {
        const lease = await cache.lease(0, b * KiB, 16 * KiB);
        same(lease.data, expected(pieceLength, 0, b * KiB, 16 * KiB, 1));
        lease.release();
      }
      expect(store.reads.length).toBe(reads);
      expect(cache.stats.hits).toBe(4);
    });

    it('keeps nothing while no block has been asked for (a download nobody uploads from)', async () => {
      const { store, cache } = setup(pieceLength, 4 * pieceLength, { chunkBytes: 16 * KiB, keepWritten: true });
      await cache.writePiece(0, written(0));
      same(await cache.read(0, 0, 16 * KiB), expected(pieceLength, 0, 0, 16 * KiB, 1));
      expect(store.reads).toEqual([[0, 0, 16 * KiB]]);
    });

    it('without keepWritten a written piece is read back from the store', async () => {
      const { store, cache } = setup(pieceLength, 4 * pieceLength, { chunkBytes: 16 * KiB });
      await cache.read(3, 0, 16 * KiB);
      await cache.writePiece(0, written(0));
      await cache.read(0, 0, 16 * KiB);
      expect(store.reads).toEqual([
        [3, 0, 16 * KiB],
        [0, 0, 16 * KiB],
      ]);
    });

    it('kept pieces stay within maxBytes: the oldest leave first, the short last piece fits', async () => {
      const total = 3 * pieceLength + 10 * KiB;
      const { store, cache } = setup(pieceLength, total, { maxBytes: 2 * pieceLength, keepWritten: true });
      await cache.read(1, 0, 16 * KiB);
      for (const i of [0, 1, 2]) await cache.writePiece(i, written(i));
      const last = expected(pieceLength, 3, 0, 10 * KiB, 1);
      await cache.writePiece(3, last);
      const before = store.reads.length;
      // Pieces 2 and 3 (64 KiB + 10 KiB) fit; 0 and 1 were evicted and come from the store.
      same(await cache.read(2, 16 * KiB, 16 * KiB), expected(pieceLength, 2, 16 * KiB, 16 * KiB, 1));
      same(await cache.read(3, 0, 10 * KiB), last);
      expect(store.reads.length).toBe(before);
      same(await cache.read(0, 0, 16 * KiB), expected(pieceLength, 0, 0, 16 * KiB, 1));
      expect(store.reads.length).toBe(before + 1);
    });

    it('a piece whose write failed is not kept', async () => {
      const { store, cache } = setup(pieceLength, 4 * pieceLength, { chunkBytes: 16 * KiB, keepWritten: true });
      await cache.read(3, 0, 16 * KiB);
      store.writePiece = async () => {
        throw new BtError('IO_ENOSPC', 'io', 'no space left on device');
      };
      await expect(cache.writePiece(0, written(0))).rejects.toMatchObject({ code: 'IO_ENOSPC' });
      const reads = store.reads.length;
      await cache.read(0, 0, 16 * KiB);
      expect(store.reads.length).toBe(reads + 1);
    });
  });

  describe('reusing chunk memory', () => {
    // One 64 KiB chunk per piece, room for two in the cache.
    const pieceLength = 64 * KiB;
    const make = () => {
      const { store, cache } = setup(pieceLength, 12 * pieceLength, { maxBytes: 2 * pieceLength });
      store.honourInto = true;
      return { store, cache };
    };
    const block = (i: number) => expected(pieceLength, i, 0, 16 * KiB);

    it('a lent block keeps its memory, however many chunks pass, until released; then the memory serves a later chunk', async () => {
      const { store, cache } = make();
      const held = await cache.lease(0, 0, 16 * KiB);
      for (let i = 1; i <= 8; i++) (await cache.lease(i, 0, 16 * KiB)).release();
      // Chunk 0 left the cache long ago, but its block is still held: intact, and its memory unused.
      same(held.data, block(0));
      expect(store.intoBuffers.filter((b) => b === held.data.buffer)).toHaveLength(1);
      // Chunks 1..6 were out of the cache and released: their memory came back for later misses.
      expect(new Set(store.intoBuffers).size).toBeLessThan(store.intoBuffers.length);
      held.release();
      held.release(); // twice is harmless
      for (let i = 9; i <= 11; i++) (await cache.lease(i, 0, 16 * KiB)).release();
      expect(store.intoBuffers.slice(9).some((b) => b === held.data.buffer)).toBe(true);
      // Every block still read right with memory going round.
      for (let i = 0; i < 12; i++) {
        const l = await cache.lease(i, 16 * KiB, 16 * KiB);
        same(l.data, expected(pieceLength, i, 16 * KiB, 16 * KiB));
        l.release();
      }
    });

    it('a block handed out by read() pins its chunk: that memory is never reused', async () => {
      const { store, cache } = make();
      const kept = await cache.read(0, 0, 16 * KiB);
      for (let i = 1; i <= 11; i++) (await cache.lease(i, 0, 16 * KiB)).release();
      same(kept, block(0));
      expect(store.intoBuffers.filter((b) => b === kept.buffer)).toHaveLength(1);
    });

    it('the memory of a failed read is not reused', async () => {
      const { store, cache } = make();
      store.failNext = new BtError('IO_EIO', 'io', 'input/output error');
      await expect(cache.lease(0, 0, 16 * KiB)).rejects.toMatchObject({ code: 'IO_EIO' });
      const failed = store.intoBuffers[0];
      for (let i = 1; i <= 11; i++) (await cache.lease(i, 0, 16 * KiB)).release();
      expect(store.intoBuffers.slice(1)).not.toContain(failed);
    });
  });

  it('passes the rest of the store interface through, and empties itself on close', async () => {
    const pieceLength = 64 * KiB;
    const { store, cache } = setup(pieceLength, 2 * pieceLength);
    expect(await cache.readPiece(1)).toEqual(new Uint8Array([1]));
    expect((await cache.present()).get(1)).toBe(true);
    await cache.prepare([true, false]);
    expect(cache.filesOfPiece(3)).toEqual([3, 4]);
    expect(await cache.stat()).toEqual([{ size: 1, mtimeMs: 2 }]);
    await cache.read(0, 0, 16 * KiB);
    await cache.close();
    expect(store.calls).toEqual(['readPiece 1', 'present', 'prepare true,false', 'filesOfPiece 3', 'stat', 'close']);
    await cache.read(0, 0, 16 * KiB);
    expect(store.reads.length).toBe(2);
  });
});
