/**
 * Piece hashing: the inline path (small data) and the worker-pool path (more than 8 MiB, or a
 * pool given) must give exactly the digests of a naive node:crypto loop, in order, with holes
 * marked unreadable, and stop with an `interrupted` BtError when the signal fires.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BtError } from '../../../../src/core/errors.js';
import { type ChunkDigests, type Hole, type PieceReader, hashPieces, type HashPiecesOptions } from '../../../../src/core/hash/pieces.js';
import { HashPool } from '../../../../src/core/hash/pool.js';
import { patternBytes } from '../../../helpers/tmp.js';

/** A reader over bytes in memory; `holes` are absolute stream ranges reported as unreadable. */
class MemoryReader implements PieceReader {
  reads = 0;
  /** The buffers read into; on the worker path each is transferred away (detached) to be hashed. */
  readonly buffers: ArrayBufferLike[] = [];
  get transferred(): number {
    return this.buffers.filter((b) => b.byteLength === 0).length;
  }
  constructor(
    private readonly data: Buffer,
    private readonly holes: Hole[] = [],
  ) {}

  async read(into: Uint8Array, streamOffset: number): Promise<Hole[]> {
    this.reads++;
    this.buffers.push(into.buffer);
    into.set(this.data.subarray(streamOffset, streamOffset + into.length));
    const out: Hole[] = [];
    for (const [s, e] of this.holes) {
      const from = Math.max(s, streamOffset) - streamOffset;
      const to = Math.min(e, streamOffset + into.length) - streamOffset;
      if (to > from) {
        into.fill(0xee, from, to); // garbage where the data could not be read
        out.push([from, to]);
      }
    }
    return out;
  }
}

function naive(data: Buffer, pieceLength: number, algorithm = 'sha1'): string[] {
  const out: string[] = [];
  for (let s = 0; s < data.length; s += pieceLength) out.push(createHash(algorithm).update(data.subarray(s, s + pieceLength)).digest('hex'));
  return out;
}

async function collect(reader: PieceReader, options: HashPiecesOptions): Promise<ChunkDigests[]> {
  const chunks: ChunkDigests[] = [];
  for await (const c of hashPieces(reader, options)) chunks.push(c);
  return chunks;
}

const flat = (chunks: ChunkDigests[]) => chunks.flatMap((c) => c.digests.map((d) => d.toString('hex')));
const readable = (chunks: ChunkDigests[]) => chunks.flatMap((c) => c.readable);

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

describe('hashPieces, inline (small data)', () => {
  it('matches node:crypto piece by piece, the last piece short, chunks in order', async () => {
    const data = patternBytes(10 * 16384 + 777, 'inline');
    const reader = new MemoryReader(data);
    const chunks = await collect(reader, { totalLength: data.length, pieceLength: 16384, chunkBytes: 3 * 16384 });
    expect(reader.transferred).toBe(0); // hashed in place: no workers
    expect(flat(chunks)).toEqual(naive(data, 16384));
    expect(chunks.map((c) => c.firstPiece)).toEqual([0, 3, 6, 9]);
    expect(chunks.map((c) => c.bytes)).toEqual([49152, 49152, 49152, 16384 + 777]);
    expect(readable(chunks).every(Boolean)).toBe(true);
  });

  it('handles data shorter than one piece and a piece length that is not a power of two', async () => {
    const small = patternBytes(100, 's');
    expect(flat(await collect(new MemoryReader(small), { totalLength: 100, pieceLength: 16384 }))).toEqual(naive(small, 16384));
    const odd = patternBytes(100_001, 'odd');
    expect(flat(await collect(new MemoryReader(odd), { totalLength: odd.length, pieceLength: 1000, chunkBytes: 7000 }))).toEqual(naive(odd, 1000));
  });

  it('SHA-256 when asked (v2 pieces later)', async () => {
    const data = patternBytes(50_000, 'sha256');
    const chunks = await collect(new MemoryReader(data), { totalLength: data.length, pieceLength: 16384, algorithm: 'sha256' });
    expect(flat(chunks)).toEqual(naive(data, 16384, 'sha256'));
    expect(chunks[0]!.digests[0]).toHaveLength(32);
  });

  it('marks every piece touched by a hole unreadable, and only those', async () => {
    const data = patternBytes(8 * 1000, 'holes');
    // Hole inside piece 1 and one spanning the end of piece 4 into piece 5 (crossing a chunk edge).
    const chunks = await collect(new MemoryReader(data, [[1500, 1600], [4999, 5001]]), { totalLength: data.length, pieceLength: 1000, chunkBytes: 5000 });
    expect(readable(chunks)).toEqual([true, false, true, true, false, false, true, true]);
    const digests = flat(chunks);
    const ref = naive(data, 1000);
    expect(digests[0]).toBe(ref[0]);
    expect(digests[1]).not.toBe(ref[1]);
  });

  it('an aborted signal stops it with an interrupted BtError', async () => {
    const data = patternBytes(20 * 1000, 'abort');
    const ac = new AbortController();
    const reader = new MemoryReader(data);
    const seen: number[] = [];
    const e = await rejection(
      (async () => {
        for await (const c of hashPieces(reader, { totalLength: data.length, pieceLength: 1000, chunkBytes: 2000, signal: ac.signal })) {
          seen.push(c.firstPiece);
          if (seen.length === 2) ac.abort();
        }
      })(),
    );
    expect(e).toBeInstanceOf(BtError);
    expect((e as BtError).category).toBe('interrupted');
    expect(seen).toEqual([0, 2]);
    expect(reader.reads).toBe(2);
  });
});

describe('hashPieces, worker pool (more than 8 MiB)', () => {
  const data = patternBytes(9 * 1024 * 1024 + 12_345, 'pool');
  const reference = naive(data, 65536);

  it('threads: 2 gives the naive digests, in order, hashed by the worker and the main thread', async () => {
    const reader = new MemoryReader(data);
    const chunks = await collect(reader, { totalLength: data.length, pieceLength: 65536, threads: 2, chunkBytes: 512 * 1024 });
    expect(flat(chunks)).toEqual(reference);
    // The pool path was taken: chunks went to the worker, and the main thread took the rest.
    expect(reader.reads).toBe(19);
    expect(reader.transferred).toBeGreaterThan(0);
    expect(reader.transferred).toBeLessThan(19);
    expect(chunks.map((c) => c.firstPiece)).toEqual(chunks.map((_, i) => i * 8));
    expect(chunks.reduce((n, c) => n + c.bytes, 0)).toBe(data.length);
    expect(readable(chunks).every(Boolean)).toBe(true);
  });

  it('default chunking and a piece larger than a chunk give the same digests', async () => {
    expect(flat(await collect(new MemoryReader(data), { totalLength: data.length, pieceLength: 65536, threads: 2 }))).toEqual(reference);
    const big = naive(data, 8 * 1024 * 1024);
    expect(flat(await collect(new MemoryReader(data), { totalLength: data.length, pieceLength: 8 * 1024 * 1024, threads: 2 }))).toEqual(big);
  });

  it('reports holes as unreadable pieces', async () => {
    const chunks = await collect(new MemoryReader(data, [[65536 * 100 + 5, 65536 * 100 + 6]]), { totalLength: data.length, pieceLength: 65536, threads: 2, chunkBytes: 1024 * 1024 });
    const r = readable(chunks);
    expect(r.filter((x) => !x)).toHaveLength(1);
    expect(r[100]).toBe(false);
  });

  it('uses a pool given by the caller (even for small data) and leaves it open', async () => {
    const pool = new HashPool(2);
    try {
      const small = patternBytes(40_000, 'given');
      expect(flat(await collect(new MemoryReader(small), { totalLength: small.length, pieceLength: 16384, pool }))).toEqual(naive(small, 16384));
      expect(flat(await collect(new MemoryReader(small), { totalLength: small.length, pieceLength: 16384, pool, algorithm: 'sha256' }))).toEqual(naive(small, 16384, 'sha256'));
    } finally {
      await pool.close();
    }
  });

  it('an abort mid-way stops it with an interrupted BtError', async () => {
    const ac = new AbortController();
    const reader = new MemoryReader(data);
    let chunksSeen = 0;
    const e = await rejection(
      (async () => {
        for await (const _ of hashPieces(reader, { totalLength: data.length, pieceLength: 65536, threads: 2, chunkBytes: 512 * 1024, signal: ac.signal })) {
          chunksSeen++;
          if (chunksSeen === 1) ac.abort();
        }
      })(),
    );
    expect(e).toBeInstanceOf(BtError);
    expect((e as BtError).category).toBe('interrupted');
    expect(chunksSeen).toBe(1);
    // Reading stopped long before the end (only the buffers already in flight were read).
    expect(reader.reads).toBeLessThan(10);
  });

  it('an abort reason that is a BtError is what it rejects with', async () => {
    const ac = new AbortController();
    ac.abort(new BtError('INTERRUPTED', 'interrupted', 'interrupted by SIGINT'));
    const e = await rejection(collect(new MemoryReader(data), { totalLength: data.length, pieceLength: 65536, threads: 2, signal: ac.signal }));
    expect((e as BtError).code).toBe('INTERRUPTED');
  });
});
