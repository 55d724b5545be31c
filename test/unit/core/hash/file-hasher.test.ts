/**
 * Hashing files on disk on every core: whatever the thread count, chunk size and file layout
 * (pieces across file boundaries, empty files, BEP 47 padding), every piece's digest equals a naive
 * node:crypto loop over the concatenated bytes, each piece exactly once. Missing, short and
 * unreadable files are holes (verify) or io errors naming the file (create); an abort stops it.
 */
import { createHash } from 'node:crypto';
import { mkdir, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BtError } from '../../../../src/core/errors.js';
import { type ChunkDigests, hashFiles, type HashFilesOptions, PreparedWorkers } from '../../../../src/core/hash/file-hasher.js';
import type { LayoutFile } from '../../../../src/core/storage/layout.js';
import { thrown } from '../../../helpers/errors.js';
import { patternBytes, tempDirs } from '../../../helpers/tmp.js';

const tmp = tempDirs();

function naive(data: Buffer, pieceLength: number, algorithm = 'sha1'): string[] {
  const out: string[] = [];
  for (let s = 0; s < data.length; s += pieceLength) out.push(createHash(algorithm).update(data.subarray(s, s + pieceLength)).digest('hex'));
  return out;
}

/** Files of the given sizes (null: padding) laid end to end in a fresh directory. */
async function layoutOf(sizes: (number | null)[], tag: string): Promise<{ dir: string; files: LayoutFile[]; stream: Buffer }> {
  const dir = await tmp.make('hash-files');
  const files: LayoutFile[] = [];
  const parts: Buffer[] = [];
  let offset = 0;
  for (const [i, size] of sizes.entries()) {
    if (size === null) {
      files.push({ diskPath: null, length: 64, offset });
      parts.push(Buffer.alloc(64));
      offset += 64;
      continue;
    }
    const bytes = patternBytes(size, `${tag}-${i}`);
    const path = join(dir, `f${i}`);
    await writeFile(path, bytes);
    files.push({ diskPath: path, length: size, offset });
    parts.push(bytes);
    offset += size;
  }
  return { dir, files, stream: Buffer.concat(parts) };
}

async function collect(files: LayoutFile[], options: HashFilesOptions): Promise<ChunkDigests[]> {
  const chunks: ChunkDigests[] = [];
  for await (const c of hashFiles(files, options)) chunks.push(c);
  return chunks;
}

/** Digests by piece index; fails if a piece comes twice. */
function byPiece(chunks: ChunkDigests[]): { digests: string[]; readable: boolean[] } {
  const digests: string[] = [];
  const readable: boolean[] = [];
  for (const c of chunks) {
    c.digests.forEach((d, i) => {
      const p = c.firstPiece + i;
      if (digests[p] !== undefined) throw new Error(`piece ${p} hashed twice`);
      digests[p] = d.toString('hex');
      readable[p] = c.readable[i]!;
    });
  }
  return { digests, readable };
}

describe('hashFiles', () => {
  it('matches a naive loop on the main thread alone: pieces across files, empty files, padding, a short last piece', async () => {
    const { files, stream } = await layoutOf([1000, 0, 2500, null, 17, 0, 4096], 'small');
    for (const [pieceLength, chunkBytes] of [[1024, 3000], [1000, 1000], [333, 10_000], [16384, undefined]] as const) {
      const chunks = await collect(files, { totalLength: stream.length, pieceLength, ...(chunkBytes ? { chunkBytes } : {}) });
      expect(byPiece(chunks).digests).toEqual(naive(stream, pieceLength));
      expect(chunks.every((c) => c.thread === 0)).toBe(true); // small data: no worker started
      expect(chunks.reduce((n, c) => n + c.bytes, 0)).toBe(stream.length);
      expect(byPiece(chunks).readable.every(Boolean)).toBe(true);
    }
  });

  it('SHA-256 when asked (v2 pieces later)', async () => {
    const { files, stream } = await layoutOf([50_000], 'sha256');
    const chunks = await collect(files, { totalLength: stream.length, pieceLength: 16384, algorithm: 'sha256' });
    expect(byPiece(chunks).digests).toEqual(naive(stream, 16384, 'sha256'));
    expect(chunks[0]!.digests[0]).toHaveLength(32);
  });

  describe('more than 8 MiB: workers', () => {
    const sizes = [3 * 1024 * 1024 + 11, 0, 5 * 1024 * 1024 + 7, null, 1024 * 1024 + 333];
    const pieceLength = 65536;

    it('workers only (useMainThread: false): every chunk from a worker, the naive digests', async () => {
      const { files, stream } = await layoutOf(sizes, 'workers');
      const chunks = await collect(files, { totalLength: stream.length, pieceLength, threads: 2, useMainThread: false, chunkBytes: 256 * 1024 });
      expect(byPiece(chunks).digests).toEqual(naive(stream, pieceLength));
      expect(chunks.every((c) => c.thread >= 1)).toBe(true);
      expect(chunks.reduce((n, c) => n + c.bytes, 0)).toBe(stream.length);
    });

    it('main thread and workers together, and a piece larger than a chunk, give the naive digests', async () => {
      const { files, stream } = await layoutOf(sizes, 'mixed');
      for (const threads of [1, 2, 3]) {
        expect(byPiece(await collect(files, { totalLength: stream.length, pieceLength, threads, chunkBytes: 512 * 1024 })).digests).toEqual(naive(stream, pieceLength));
      }
      const big = 8 * 1024 * 1024;
      expect(byPiece(await collect(files, { totalLength: stream.length, pieceLength: big, threads: 2 })).digests).toEqual(naive(stream, big));
    });

    it('prepared workers (started before the plan) hash their chunks; close() ends the ones no run took', async () => {
      const { files, stream } = await layoutOf(sizes, 'prepared');
      const prepared = new PreparedWorkers(3);
      try {
        const chunks = await collect(files, { totalLength: stream.length, pieceLength, threads: 2, useMainThread: false, chunkBytes: 256 * 1024, workers: prepared });
        expect(byPiece(chunks).digests).toEqual(naive(stream, pieceLength));
        expect(chunks.every((c) => c.thread >= 1)).toBe(true);
        // Two taken (threads: 2, no main thread), one left for close().
        expect(prepared.take(5)).toHaveLength(1);
      } finally {
        await prepared.close();
      }
    });

    it('a prepared worker that died before its run makes the run fail with HASH_WORKER_FAILED, not hang', async () => {
      const { files, stream } = await layoutOf(sizes, 'prepared-dead');
      const prepared = new PreparedWorkers(1);
      const [spare] = prepared.take(1);
      await spare!.worker.terminate();
      await new Promise((r) => setImmediate(r));
      const fake = { take: () => [spare!], close: async () => {} } as unknown as PreparedWorkers;
      const e = await thrown(collect(files, { totalLength: stream.length, pieceLength, threads: 2, useMainThread: false, workers: fake }));
      expect(e).toBeInstanceOf(BtError);
      expect((e as BtError).code).toBe('HASH_WORKER_FAILED');
    });

    it('a missing file in a worker is a hole covering exactly its pieces', async () => {
      const { dir, files, stream } = await layoutOf(sizes, 'hole');
      const moved = files.map((f, i) => (i === 2 ? { ...f, diskPath: join(dir, 'gone') } : f));
      const chunks = await collect(moved, { totalLength: stream.length, pieceLength, threads: 2, useMainThread: false });
      const { readable, digests } = byPiece(chunks);
      const first = Math.floor(files[2]!.offset / pieceLength);
      const last = Math.floor((files[2]!.offset + files[2]!.length - 1) / pieceLength);
      readable.forEach((r, p) => expect(r, `piece ${p}`).toBe(p < first || p > last));
      expect(digests[0]).toBe(naive(stream, pieceLength)[0]);
    });

    it('strict: a read failure in a worker is an io error naming the file', async () => {
      const { dir, files, stream } = await layoutOf(sizes, 'strict-worker');
      await truncate(join(dir, 'f4'), 10);
      const e = await thrown(collect(files, { totalLength: stream.length, pieceLength, threads: 2, useMainThread: false, strict: true }));
      expect(e).toBeInstanceOf(BtError);
      expect((e as BtError).code).toBe('IO_ESHORT');
      expect((e as BtError).message).toContain(join(dir, 'f4'));
    });

    it('strict: a failure of the last worker running still fails the run (not an early, quiet end)', async () => {
      const { dir, files, stream } = await layoutOf(sizes, 'strict-last');
      const gone = files.map((f, i) => (i === 0 ? { ...f, diskPath: join(dir, 'gone') } : f));
      // One worker, no main thread: its error message is also its end, so nothing else is pending.
      const e = await thrown(collect(gone, { totalLength: stream.length, pieceLength, threads: 1, useMainThread: false, strict: true }));
      expect(e.code).toBe('IO_ENOENT');
    });

    it('an abort mid-way stops it with an interrupted BtError, workers and all', async () => {
      const { files, stream } = await layoutOf(sizes, 'abort');
      const ac = new AbortController();
      let seen = 0;
      const e = await thrown(
        (async () => {
          for await (const _ of hashFiles(files, { totalLength: stream.length, pieceLength, threads: 2, chunkBytes: 128 * 1024, signal: ac.signal })) {
            if (++seen === 1) ac.abort();
          }
        })(),
      );
      expect((e as BtError).category).toBe('interrupted');
      expect(seen).toBeLessThan(stream.length / (128 * 1024));
    });

    it('an abort reason that is a BtError is what it rejects with', async () => {
      const { files, stream } = await layoutOf(sizes, 'reason');
      const ac = new AbortController();
      ac.abort(new BtError('INTERRUPTED', 'interrupted', 'interrupted by SIGINT'));
      const e = await thrown(collect(files, { totalLength: stream.length, pieceLength, threads: 2, signal: ac.signal }));
      expect((e as BtError).code).toBe('INTERRUPTED');
    });
  });

  describe('unreadable data', () => {
    it('missing, short and directory-in-place files are holes, other pieces intact', async () => {
      const { dir, files, stream } = await layoutOf([1000, 1000, 1000, 1000], 'holes');
      await truncate(join(dir, 'f1'), 300);
      const d = join(dir, 'adir');
      await mkdir(d);
      const changed = files.map((f, i) => (i === 2 ? { ...f, diskPath: d } : i === 3 ? { ...f, diskPath: join(dir, 'nope') } : f));
      const { readable, digests } = byPiece(await collect(changed, { totalLength: stream.length, pieceLength: 500 }));
      // f0 whole (pieces 0-1), f1 readable up to byte 300 (piece 2 ok only up to 1300: piece 2 spans 1000-1500 → hole)
      expect(readable).toEqual([true, true, false, false, false, false, false, false]);
      expect(digests.slice(0, 2)).toEqual(naive(stream, 500).slice(0, 2));
    });

    it('strict: missing file, short file and directory are io errors naming the file', async () => {
      const { dir, files, stream } = await layoutOf([1000, 1000], 'strict');
      const opts = { totalLength: stream.length, pieceLength: 512, strict: true };
      const missing = await thrown(collect(files.map((f, i) => (i === 1 ? { ...f, diskPath: join(dir, 'nope') } : f)), opts));
      expect((missing as BtError).code).toBe('IO_ENOENT');
      expect((missing as BtError).message).toContain(join(dir, 'nope'));
      await mkdir(join(dir, 'd'));
      const directory = await thrown(collect(files.map((f, i) => (i === 1 ? { ...f, diskPath: join(dir, 'd') } : f)), opts));
      expect((directory as BtError).code).toBe('IO_EISDIR');
      await truncate(join(dir, 'f0'), 999);
      const short = await thrown(collect(files, opts));
      expect((short as BtError).code).toBe('IO_ESHORT');
      expect((short as BtError).category).toBe('io');
    });
  });
});
