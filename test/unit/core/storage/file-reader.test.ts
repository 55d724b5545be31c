/**
 * Reading the piece stream from files: bytes across file boundaries, BEP 47 padding as zeros,
 * and — unless strict — missing, short or unreadable files reported as holes, not errors.
 */
import { mkdir, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileStreamReader } from '../../../../src/core/storage/file-reader.js';
import type { LayoutFile } from '../../../../src/core/storage/layout.js';
import { patternBytes, tempDirs } from '../../../helpers/tmp.js';
import { thrown } from '../../../helpers/errors.js';

const tmp = tempDirs();

async function setup(): Promise<{ dir: string; files: LayoutFile[]; stream: Buffer }> {
  const dir = await tmp.make('reader');
  const a = patternBytes(100, 'a');
  const c = patternBytes(50, 'c');
  await writeFile(join(dir, 'a'), a);
  await writeFile(join(dir, 'b'), '');
  await writeFile(join(dir, 'c'), c);
  const files: LayoutFile[] = [
    { diskPath: join(dir, 'a'), length: 100, offset: 0 },
    { diskPath: join(dir, 'b'), length: 0, offset: 100 },
    { diskPath: null, length: 28, offset: 100 }, // padding
    { diskPath: join(dir, 'c'), length: 50, offset: 128 },
  ];
  return { dir, files, stream: Buffer.concat([a, Buffer.alloc(28), c]) };
}

describe('FileStreamReader', () => {
  it('reads ranges across files, padding as zeros, with no holes', async () => {
    const { files, stream } = await setup();
    const r = new FileStreamReader(files);
    try {
      for (const [start, len] of [[0, 178], [90, 50], [120, 20], [0, 1], [177, 1]] as const) {
        const into = Buffer.alloc(len, 0xaa);
        expect(await r.read(into, start)).toEqual([]);
        expect(into).toEqual(stream.subarray(start, start + len));
      }
    } finally {
      await r.close();
    }
  });

  it('a missing file is a hole covering exactly its bytes', async () => {
    const { files, stream } = await setup();
    const moved = files.map((f, i) => (i === 0 ? { ...f, diskPath: `${f.diskPath}-gone` } : f));
    const r = new FileStreamReader(moved);
    const into = Buffer.alloc(178);
    expect(await r.read(into, 0)).toEqual([[0, 100]]);
    expect(into.subarray(100)).toEqual(stream.subarray(100));
    // Relative to the read, not to the stream.
    expect(await r.read(Buffer.alloc(20), 90)).toEqual([[0, 10]]);
    await r.close();
  });

  it('a short file is a hole from where its data ends', async () => {
    const { dir, files, stream } = await setup();
    await truncate(join(dir, 'c'), 20);
    const r = new FileStreamReader(files);
    const into = Buffer.alloc(178);
    expect(await r.read(into, 0)).toEqual([[148, 178]]);
    expect(into.subarray(0, 148)).toEqual(stream.subarray(0, 148));
    expect(await r.read(Buffer.alloc(10), 160)).toEqual([[0, 10]]);
    await r.close();
  });

  it('a directory where a file should be is a hole, not a crash', async () => {
    const { dir, files } = await setup();
    const d = join(dir, 'adir');
    await mkdir(d);
    const r = new FileStreamReader(files.map((f, i) => (i === 3 ? { ...f, diskPath: d } : f)));
    expect(await r.read(Buffer.alloc(178), 0)).toEqual([[128, 178]]);
    await r.close();
  });

  it('strict: a missing file, a short file and a directory are io errors naming the file', async () => {
    const { dir, files } = await setup();
    const missing = new FileStreamReader(files.map((f, i) => (i === 3 ? { ...f, diskPath: join(dir, 'nope') } : f)), true);
    const e1 = await thrown(missing.read(Buffer.alloc(178), 0));
    expect(e1.category).toBe('io');
    expect(e1.code).toBe('IO_ENOENT');
    expect(e1.message).toContain('nope');
    await missing.close();

    await truncate(join(dir, 'a'), 99);
    const short = new FileStreamReader(files, true);
    const e2 = await thrown(short.read(Buffer.alloc(178), 0));
    expect(e2.category).toBe('io');
    expect(e2.message).toContain(join(dir, 'a'));
    await short.close();

    await mkdir(join(dir, 'adir'));
    const isDir = new FileStreamReader(files.map((f, i) => (i === 3 ? { ...f, diskPath: join(dir, 'adir') } : f)), true);
    const e3 = await thrown(isDir.read(Buffer.alloc(50), 128));
    expect(e3.category).toBe('io');
    await isDir.close();
  });

  it('close() can be called twice and reading after close reopens', async () => {
    const { files, stream } = await setup();
    const r = new FileStreamReader(files);
    await r.read(Buffer.alloc(10), 0);
    await r.close();
    await r.close();
    const into = Buffer.alloc(10);
    expect(await r.read(into, 130)).toEqual([]);
    expect(into).toEqual(stream.subarray(130, 140));
    await r.close();
  });
});
