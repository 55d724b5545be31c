/**
 * The file-backed piece store: pieces written across file boundaries land where a naive
 * byte-by-byte reference says, padding files are never created, files are created only by the
 * pieces that touch them, and paths that would leave the output directory are refused before
 * anything is written (lexically, through a symbolic link to a directory, or a link in a file's
 * place).
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { FileEntry, Metainfo } from '../../../../src/core/metainfo/types.js';
import { FileStore, storeLayout } from '../../../../src/core/storage/file-store.js';
import { patternBytes, tempDirs } from '../../../helpers/tmp.js';

const tmp = tempDirs();

type Meta = Pick<Metainfo, 'name' | 'files' | 'multiFile' | 'pieceLength' | 'totalLength'>;

function metaOf(name: string, files: [string[], number, boolean?][], pieceLength: number, multiFile = true): Meta {
  let offset = 0;
  const entries: FileEntry[] = files.map(([path, length, padding]) => {
    const e = { path, length, offset, attr: padding ? 'p' : '', padding: !!padding };
    offset += length;
    return e;
  });
  return { name, files: entries, multiFile, pieceLength, totalLength: offset };
}

const FILES: [string[], number, boolean?][] = [
  [['a.bin'], 10_000],
  [['empty'], 0],
  [['.pad', '0'], 6_384, true],
  [['d', 'b.bin'], 33_333],
  [['d', 'e', 'c.bin'], 1],
  [['z.bin'], 20_000],
];

describe('FileStore', () => {
  it('writes large pieces in many small slices across file boundaries, each byte where the layout says', async () => {
    const out = await tmp.make('fs-slices');
    // 8 MiB pieces in 4 KiB slices (the smallest allowed): 2048 writes a piece, spans that end mid-slice.
    const piece = 8 * 1024 * 1024;
    const meta = metaOf('top', [[['a.bin'], 5_000_001], [['b.bin'], 6_000_000]], piece);
    const stream = patternBytes(meta.totalLength, 'slices');
    const store = FileStore.open(meta, { outDir: out, writeSlice: 4096 });
    for (let i = Math.ceil(meta.totalLength / piece) - 1; i >= 0; i--) await store.writePiece(i, stream.subarray(i * piece, Math.min(meta.totalLength, (i + 1) * piece)));
    expect((await readFile(join(out, 'top', 'a.bin'))).equals(stream.subarray(0, 5_000_001))).toBe(true);
    expect((await readFile(join(out, 'top', 'b.bin'))).equals(stream.subarray(5_000_001))).toBe(true);
    await store.close();
  });

  it('writes pieces across file boundaries exactly where the byte layout says, and reads them back', async () => {
    const out = await tmp.make('fs-layout');
    const meta = metaOf('top', FILES, 4096);
    const stream = patternBytes(meta.totalLength, 'stream');
    // Padding bytes are zeros by definition.
    stream.fill(0, 10_000, 16_384);
    const store = FileStore.open(meta, { outDir: out });
    const count = Math.ceil(meta.totalLength / meta.pieceLength);
    // Write in a scrambled order, as a swarm would deliver them.
    const order = Array.from({ length: count }, (_, i) => (i * 7) % count);
    expect(new Set(order).size).toBe(count);
    for (const i of order) await store.writePiece(i, stream.subarray(i * 4096, Math.min(meta.totalLength, (i + 1) * 4096)));
    await store.prepare(meta.files.map(() => true));
    for (const f of meta.files) {
      const path = join(out, 'top', ...f.path);
      if (f.padding) {
        expect(existsSync(path), 'padding is never written').toBe(false);
        continue;
      }
      expect((await readFile(path)).equals(stream.subarray(f.offset, f.offset + f.length)), f.path.join('/')).toBe(true);
    }
    for (let i = 0; i < count; i++) expect(Buffer.from(await store.readPiece(i)).equals(stream.subarray(i * 4096, Math.min(meta.totalLength, (i + 1) * 4096)))).toBe(true);
    expect(Buffer.from(await store.read(3, 100, 3000)).equals(stream.subarray(3 * 4096 + 100, 3 * 4096 + 3100))).toBe(true);
    expect((await store.present()).count).toBe(count);
    expect(store.filesOfPiece(2)).toEqual([0, 2]);
    await store.close();
  });

  it('BEP 47 x: a file marked executable is created with the execute bits, the others without', async () => {
    const out = await tmp.make('fs-exec');
    const meta = metaOf('top', [[['run.sh'], 4096], [['data.bin'], 4096]], 4096);
    meta.files[0]!.attr = 'x';
    const store = FileStore.open(meta, { outDir: out });
    await store.writePiece(0, patternBytes(4096, 0));
    await store.writePiece(1, patternBytes(4096, 1));
    await store.close();
    const mode = async (name: string) => (await stat(join(out, 'top', name))).mode;
    expect((await mode('run.sh')) & 0o100).toBe(0o100);
    expect((await mode('data.bin')) & 0o111).toBe(0);
  });

  it('creates a file only when a piece touching it is written; present() follows file sizes', async () => {
    const out = await tmp.make('fs-lazy');
    const meta = metaOf('top', [[['a'], 8192], [['b'], 8192]], 4096);
    const store = FileStore.open(meta, { outDir: out });
    expect(existsSync(join(out, 'top'))).toBe(false);
    await store.writePiece(3, patternBytes(4096, 3));
    expect(existsSync(join(out, 'top', 'a'))).toBe(false);
    expect((await stat(join(out, 'top', 'b'))).size).toBe(8192);
    const present = await store.present();
    // b is full-size (a hole before piece 3): pieces 2 and 3 could be on disk; a is missing.
    expect([...present.setIndices()]).toEqual([2, 3]);
    expect(await store.stat()).toMatchObject([{ size: null }, { size: 8192 }]);
    await store.close();
  });

  it('prepare() creates the selected empty files only', async () => {
    const out = await tmp.make('fs-empty');
    const meta = metaOf('top', [[['x'], 10], [['e1'], 0], [['sub', 'e2'], 0]], 16);
    const store = FileStore.open(meta, { outDir: out });
    await store.prepare([false, true, false]);
    expect((await readdir(join(out, 'top'))).sort()).toEqual(['e1']);
    await store.close();
  });

  it.each([
    ['a `..` component', [['..', 'evil'], 5]],
    ['an absolute path', [['/etc', 'passwd'], 5]],
    ['a separator in a component', [['a/../../b'], 5]],
    ['an empty component', [['', 'x'], 5]],
  ] as [string, [string[], number]][])('refuses %s before creating anything', async (_what, file) => {
    const out = await tmp.make('fs-unsafe');
    const meta = metaOf('top', [[['ok'], 5], file], 16);
    expect(() => FileStore.open(meta, { outDir: out })).toThrow(expect.objectContaining({ category: 'input' }));
    expect(await readdir(out)).toEqual([]);
  });

  it('refuses an unsafe torrent name, and a single-file name with a separator', () => {
    expect(() => storeLayout(metaOf('..', [[['x'], 1]], 16), '/tmp/o')).toThrow(expect.objectContaining({ category: 'input' }));
    expect(() => storeLayout(metaOf('a/b', [[['a/b'], 1]], 16, false), '/tmp/o')).toThrow(expect.objectContaining({ category: 'input' }));
  });

  it('lays out a path of 300,000 components without spreading it into one call (issue 15)', () => {
    const deep = Array.from({ length: 300_000 }, () => 'd');
    const [file] = storeLayout(metaOf('top', [[deep, 1]], 16), '/tmp/o');
    expect(file!.diskPath).toBe(`/tmp/o/top/${deep.join('/')}`);
  });

  it('refuses to write through a symbolic link that leads out of the output directory', async () => {
    const out = await tmp.make('fs-link-dir');
    const outside = await tmp.make('fs-outside');
    // The torrent's top directory already exists as a link to somewhere else.
    await symlink(outside, join(out, 'top'));
    const meta = metaOf('top', [[['a'], 16]], 16);
    const store = FileStore.open(meta, { outDir: out });
    await expect(store.writePiece(0, patternBytes(16, 1))).rejects.toMatchObject({ code: 'STORAGE_PATH_ESCAPES', category: 'input' });
    expect(await readdir(outside)).toEqual([]);
    await store.close();
  });

  it('refuses a symbolic link in a file\'s place (O_NOFOLLOW)', async () => {
    const out = await tmp.make('fs-link-file');
    const outside = await tmp.make('fs-outside2');
    await writeFile(join(outside, 'target'), 'keep me');
    await mkdir(join(out, 'top'));
    await symlink(join(outside, 'target'), join(out, 'top', 'a'));
    const meta = metaOf('top', [[['a'], 16]], 16);
    const store = FileStore.open(meta, { outDir: out });
    await expect(store.writePiece(0, patternBytes(16, 1))).rejects.toMatchObject({ code: 'STORAGE_SYMLINK' });
    expect(await readFile(join(outside, 'target'), 'utf8')).toBe('keep me');
    await store.close();
  });

  it('a single-file torrent is the file `name` inside the output directory', async () => {
    const out = await tmp.make('fs-single');
    const meta = metaOf('file.bin', [[['file.bin'], 20]], 16, false);
    const store = FileStore.open(meta, { outDir: out });
    await store.writePiece(0, patternBytes(16, 1));
    await store.writePiece(1, patternBytes(4, 2));
    expect((await readFile(join(out, 'file.bin'))).equals(Buffer.concat([patternBytes(16, 1), patternBytes(4, 2)]))).toBe(true);
    expect(FileStore.contentPath(meta, out)).toBe(join(out, 'file.bin'));
    await store.close();
  });

  it('rejects a piece of the wrong size (a programming error)', async () => {
    const out = await tmp.make('fs-size');
    const store = FileStore.open(metaOf('t', [[['a'], 20]], 16), { outDir: out });
    await expect(store.writePiece(1, Buffer.alloc(16))).rejects.toThrow(RangeError);
    await store.close();
  });
});
