/**
 * The read-only store `btkit seed` serves from (storage/content-store.ts), on temp trees: every
 * block and piece matches a byte-by-byte reference of the files laid end to end (padding as
 * zeros, pieces across file boundaries), writes are refused and touch nothing, nothing is ever
 * created, and missing or short files are reported per piece and as io errors naming the file.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BtError } from '../../../../src/core/errors.js';
import { ContentStore } from '../../../../src/core/storage/content-store.js';
import type { LayoutFile } from '../../../../src/core/storage/layout.js';
import type { PieceStore } from '../../../../src/core/storage/store.js';
import { patternBytes, tempDirs } from '../../../helpers/tmp.js';

const tmp = tempDirs();

/** Files as [relative path or null for padding, length]; contents written for real files. */
async function tree(dir: string, spec: [string | null, number][]): Promise<{ files: LayoutFile[]; stream: Buffer }> {
  const files: LayoutFile[] = [];
  const parts: Buffer[] = [];
  let offset = 0;
  for (const [rel, length] of spec) {
    const content = rel === null ? Buffer.alloc(length) : patternBytes(length, rel);
    if (rel !== null) {
      await mkdir(join(dir, rel, '..'), { recursive: true });
      await writeFile(join(dir, rel), content);
    }
    files.push({ diskPath: rel === null ? null : join(dir, rel), length, offset });
    parts.push(content);
    offset += length;
  }
  // In memory of its own: a small Buffer.concat lives in Node's shared pool, which a test dirties.
  return { files, stream: Buffer.from(new Uint8Array(Buffer.concat(parts)).buffer) };
}

// 31 bytes in pieces of 8: a piece spans up to three files, one holds padding, the last is short.
const SMALL: [string | null, number][] = [
  ['a.bin', 5],
  ['empty', 0],
  [null, 3],
  ['d/b.bin', 13],
  ['c.bin', 1],
  ['z.bin', 9],
];

async function caught(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

describe('ContentStore', () => {
  it('reads every block of every piece as the files laid end to end, padding as zeros', async () => {
    const dir = await tmp.make('content');
    const { files, stream } = await tree(dir, SMALL);
    const store = new ContentStore(files, 8, stream.length);
    try {
      expect(store.pieceCount).toBe(4);
      for (let i = 0; i < 4; i++) {
        const size = Math.min(8, stream.length - i * 8);
        const piece = await store.readPiece(i);
        expect(Buffer.from(piece)).toEqual(stream.subarray(i * 8, i * 8 + size));
        // Its own memory even when small (a pooled Buffer would share 8 KiB with others).
        expect(piece.buffer.byteLength).toBe(size);
        for (let begin = 0; begin < size; begin++) {
          for (let length = 1; begin + length <= size; length++) {
            const got = await store.read(i, begin, length);
            expect(Buffer.from(got.buffer, got.byteOffset, got.length)).toEqual(stream.subarray(i * 8 + begin, i * 8 + begin + length));
          }
        }
      }
    } finally {
      await store.close();
    }
  });

  it('reads padding as zeros even into memory that held other bytes', async () => {
    const dir = await tmp.make('content');
    const { files, stream } = await tree(dir, SMALL);
    const store = new ContentStore(files, 8, stream.length);
    try {
      // Small blocks come from Node's shared Buffer pool: dirty it just before the read allocates,
      // so padding that is not written would show as 0xee. (Retried once if the pool was full.)
      let block: Uint8Array | undefined;
      let dirtied: ArrayBufferLike | undefined;
      for (let attempt = 0; attempt < 3 && (block === undefined || block.buffer !== dirtied); attempt++) {
        const probe = Buffer.allocUnsafe(1);
        dirtied = probe.buffer;
        new Uint8Array(dirtied).fill(0xee);
        block = await store.read(0, 2, 6);
      }
      expect(block!.buffer).toBe(dirtied);
      expect(Buffer.from(block!.buffer, block!.byteOffset, block!.length)).toEqual(stream.subarray(2, 8));
      expect([...block!.subarray(3)]).toEqual([0, 0, 0]);
    } finally {
      await store.close();
    }
  });

  it('reads pieces of a realistic layout across boundaries, each piece in a buffer of its own', async () => {
    const dir = await tmp.make('content');
    const { files, stream } = await tree(dir, [
      ['a.bin', 10_000],
      ['empty', 0],
      [null, 6_384],
      ['d/b.bin', 33_333],
      ['d/e/c.bin', 1],
      ['z.bin', 20_000],
    ]);
    const pieceLength = 16 * 1024;
    const store = new ContentStore(files, pieceLength, stream.length);
    try {
      expect(store.pieceCount).toBe(Math.ceil(stream.length / pieceLength));
      for (let i = 0; i < store.pieceCount; i++) {
        const piece = await store.readPiece(i);
        expect(piece.byteOffset).toBe(0);
        expect(piece.buffer.byteLength).toBe(piece.length);
        expect(Buffer.from(piece).equals(stream.subarray(i * pieceLength, (i + 1) * pieceLength))).toBe(true);
      }
      // A block across b.bin → c.bin → z.bin (stream offsets 49_716, 49_717).
      const start = 49_700;
      const index = Math.floor(start / pieceLength);
      const block = await store.read(index, start - index * pieceLength, 40);
      expect(Buffer.from(block)).toEqual(stream.subarray(start, start + 40));
    } finally {
      await store.close();
    }
  });

  it('names the files of each piece, padding included, empty files never', async () => {
    const dir = await tmp.make('content');
    const { files, stream } = await tree(dir, SMALL);
    const store = new ContentStore(files, 8, stream.length);
    expect([0, 1, 2, 3].map((i) => store.filesOfPiece(i))).toEqual([[0, 2], [3], [3, 4, 5], [5]]);
    expect(() => store.filesOfPiece(4)).toThrow(RangeError);
  });

  it('refuses writes and leaves the content untouched', async () => {
    const dir = await tmp.make('content');
    const { files, stream } = await tree(dir, SMALL);
    const store = new ContentStore(files, 8, stream.length);
    const before = await stat(join(dir, 'd/b.bin'));
    const asStore: PieceStore = store; // called as the session does, with the piece's bytes
    const err = await caught(asStore.writePiece(1, new Uint8Array(8).fill(0xee)));
    expect(err).toBeInstanceOf(BtError);
    expect((err as BtError).code).toBe('STORAGE_READ_ONLY');
    expect(await readFile(join(dir, 'd/b.bin'))).toEqual(patternBytes(13, 'd/b.bin'));
    expect((await stat(join(dir, 'd/b.bin'))).mtimeMs).toBe(before.mtimeMs);
    expect(Buffer.from(await store.readPiece(1))).toEqual(stream.subarray(8, 16));
    await store.close();
  });

  it('never creates a file: not on prepare, not on a read of a missing one', async () => {
    const dir = await tmp.make('content');
    const { files, stream } = await tree(dir, SMALL);
    await rm(join(dir, 'empty'));
    await rm(join(dir, 'z.bin'));
    const store = new ContentStore(files, 8, stream.length);
    await store.prepare();
    await caught(store.readPiece(3));
    await caught(store.read(2, 6, 2));
    await store.close();
    expect(existsSync(join(dir, 'empty'))).toBe(false);
    expect(existsSync(join(dir, 'z.bin'))).toBe(false);
  });

  it('reports a missing file as an io error naming it, for the pieces that need it only', async () => {
    const dir = await tmp.make('content');
    const { files, stream } = await tree(dir, SMALL);
    await rm(join(dir, 'd/b.bin'));
    const store = new ContentStore(files, 8, stream.length);
    try {
      for (const p of [store.readPiece(1), store.read(2, 0, 1), store.readPiece(2)]) {
        const err = await caught(p);
        expect(err).toBeInstanceOf(BtError);
        expect((err as BtError).category).toBe('io');
        expect((err as BtError).code).toBe('IO_ENOENT');
        expect((err as BtError).message).toContain(join(dir, 'd/b.bin'));
      }
      expect(Buffer.from(await store.readPiece(0))).toEqual(stream.subarray(0, 8));
      expect(Buffer.from(await store.read(2, 5, 3))).toEqual(stream.subarray(21, 24));
      expect(Buffer.from(await store.readPiece(3))).toEqual(stream.subarray(24));

      const present = await store.present();
      expect([0, 1, 2, 3].map((i) => present.get(i))).toEqual([true, false, false, true]);
      const stats = await store.stat();
      expect(stats.map((s) => s.size)).toEqual([5, 0, null, null, 1, 9]);
      expect(stats[3]!.mtimeMs).toBeNull();

      // The failed open is not remembered: once the file is back, it is read.
      await writeFile(join(dir, 'd/b.bin'), patternBytes(13, 'd/b.bin'));
      expect(Buffer.from(await store.readPiece(1))).toEqual(stream.subarray(8, 16));
      expect((await store.present()).hasAll()).toBe(true);
    } finally {
      await store.close();
    }
  });

  it('reports a file shorter than the torrent says, on read and in present', async () => {
    const dir = await tmp.make('content');
    const { files, stream } = await tree(dir, SMALL);
    await truncate(join(dir, 'z.bin'), 5); // z.bin holds stream 22..30; 22..26 remain
    const store = new ContentStore(files, 8, stream.length);
    try {
      const err = await caught(store.readPiece(3));
      expect(err).toBeInstanceOf(BtError);
      expect((err as BtError).category).toBe('io');
      expect((err as BtError).message).toContain(join(dir, 'z.bin'));
      expect(Buffer.from(await store.read(3, 0, 3))).toEqual(stream.subarray(24, 27));
      expect(Buffer.from(await store.readPiece(2))).toEqual(stream.subarray(16, 24));
      const present = await store.present();
      expect([0, 1, 2, 3].map((i) => present.get(i))).toEqual([true, true, true, false]);
    } finally {
      await store.close();
    }
  });

  it('does not count a directory in a file’s place as present', async () => {
    const dir = await tmp.make('content');
    const { files, stream } = await tree(dir, SMALL);
    await rm(join(dir, 'c.bin'));
    await mkdir(join(dir, 'c.bin'));
    const store = new ContentStore(files, 8, stream.length);
    expect((await store.stat())[4]).toEqual({ size: null, mtimeMs: null });
    expect((await store.present()).get(2)).toBe(false);
    const err = await caught(store.readPiece(2));
    expect(err).toBeInstanceOf(BtError);
    expect((err as BtError).category).toBe('io');
    await store.close();
  });

  it('rejects pieces and blocks outside the torrent with a RangeError', async () => {
    const dir = await tmp.make('content');
    const { files, stream } = await tree(dir, SMALL);
    const store = new ContentStore(files, 8, stream.length);
    for (const [i, b, l] of [
      [-1, 0, 1],
      [4, 0, 1],
      [0.5, 0, 1],
      [0, 0, 0],
      [0, -1, 2],
      [0, 7, 2],
      [3, 0, 8],
      [3, 6, 2],
      [0, 1.5, 1],
    ] as const) {
      await expect(store.read(i, b, l)).rejects.toThrow(RangeError);
    }
    await expect(store.readPiece(4)).rejects.toThrow(RangeError);
    await expect(store.readPiece(-1)).rejects.toThrow(RangeError);
    await store.close();
  });

  it('reopens its files after close', async () => {
    const dir = await tmp.make('content');
    const { files, stream } = await tree(dir, SMALL);
    const store = new ContentStore(files, 8, stream.length);
    expect(Buffer.from(await store.readPiece(2))).toEqual(stream.subarray(16, 24));
    await store.close();
    await store.close();
    expect(Buffer.from(await store.readPiece(2))).toEqual(stream.subarray(16, 24));
    await store.close();
  });
});
