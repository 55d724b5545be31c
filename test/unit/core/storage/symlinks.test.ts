/**
 * Symbolic links already inside the output directory lead nothing outside it (issue 15): with
 * `DIR/<name>` or `DIR/<name>/sub` linked elsewhere, no directory is created out there (the old
 * order was `mkdir -p` first, `realpath` after); a file read through such a link is refused too,
 * since its read-write handle would serve the writes after it; and a state folder (`DIR/.btkit`)
 * or state file that is a link is refused, for reading and for writing. Real links, in temp dirs.
 */
import { mkdir, readFile, readdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { FileEntry, Metainfo } from '../../../../src/core/metainfo/types.js';
import { Bitfield } from '../../../../src/core/pieces/bitfield.js';
import { FileStore } from '../../../../src/core/storage/file-store.js';
import { loadResume, saveResume } from '../../../../src/core/storage/resume.js';
import { patternBytes, tempDirs } from '../../../helpers/tmp.js';

const tmp = tempDirs();

type Meta = Pick<Metainfo, 'name' | 'files' | 'multiFile' | 'pieceLength' | 'totalLength'>;

function metaOf(name: string, paths: string[][], length = 16): Meta {
  const files: FileEntry[] = paths.map((path, i) => ({ path, length, offset: i * length, attr: '', padding: false }));
  return { name, files, multiFile: true, pieceLength: length, totalLength: length * paths.length };
}

/** Every entry under `dir`, recursively, as relative paths (links not followed). */
async function tree(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).sort();
}

const id = { infoHash: 'ab'.repeat(20), pieceLength: 16, totalLength: 32, pieceCount: 2 };
const state = { infoHash: id.infoHash, pieceLength: 16, totalLength: 32, have: new Bitfield(2), clean: true, files: [] };

describe('links inside the output directory', () => {
  it('DIR/<name> linked elsewhere: a write to <name>/sub/deep/a creates nothing out there', async () => {
    const out = await tmp.make('ln-top');
    const outside = await tmp.make('ln-top-outside');
    await symlink(outside, join(out, 'top'));
    const store = FileStore.open(metaOf('top', [['sub', 'deep', 'a']]), { outDir: out });
    await expect(store.writePiece(0, patternBytes(16, 1))).rejects.toMatchObject({ code: 'STORAGE_PATH_ESCAPES', category: 'input' });
    expect(await tree(outside)).toEqual([]);
    await store.close();
  });

  it('DIR/<name>/sub linked elsewhere: the write is refused and nothing is created there', async () => {
    const out = await tmp.make('ln-sub');
    const outside = await tmp.make('ln-sub-outside');
    await mkdir(join(out, 'top'));
    await symlink(outside, join(out, 'top', 'sub'));
    const store = FileStore.open(metaOf('top', [['ok'], ['sub', 'x', 'y', 'a']]), { outDir: out });
    // The file beside the link is written as usual.
    await store.writePiece(0, patternBytes(16, 1));
    await expect(store.writePiece(1, patternBytes(16, 2))).rejects.toMatchObject({ code: 'STORAGE_PATH_ESCAPES' });
    expect(await tree(outside)).toEqual([]);
    expect(await tree(out)).toEqual(['top', join('top', 'ok'), join('top', 'sub')]);
    await store.close();
  });

  it('a link that leads nowhere (dangling) in the path: refused, and its target is not created', async () => {
    const out = await tmp.make('ln-dangling');
    const outside = await tmp.make('ln-dangling-outside');
    await mkdir(join(out, 'top'));
    await symlink(join(outside, 'not-yet'), join(out, 'top', 'sub'));
    const store = FileStore.open(metaOf('top', [['sub', 'a']]), { outDir: out });
    await expect(store.writePiece(0, patternBytes(16, 1))).rejects.toMatchObject({ category: expect.stringMatching(/input|io/) });
    expect(await tree(outside)).toEqual([]);
    await store.close();
  });

  it('a file read through a linked directory is refused, so no handle on it is left for the writes', async () => {
    const out = await tmp.make('ln-read');
    const outside = await tmp.make('ln-read-outside');
    await writeFile(join(outside, 'a'), 'keep me, 16 bytes');
    await symlink(outside, join(out, 'top'));
    const store = FileStore.open(metaOf('top', [['a']]), { outDir: out });
    // As a resume check does before a download: read what is there, then write.
    await expect(store.readPiece(0)).rejects.toMatchObject({ code: 'STORAGE_PATH_ESCAPES' });
    await expect(store.writePiece(0, patternBytes(16, 1))).rejects.toMatchObject({ code: 'STORAGE_PATH_ESCAPES' });
    expect(await readFile(join(outside, 'a'), 'utf8')).toBe('keep me, 16 bytes');
    await store.close();
  });

  it('a link that stays inside the output directory is followed', async () => {
    const out = await tmp.make('ln-inside');
    await mkdir(join(out, 'real'));
    await mkdir(join(out, 'top'));
    await symlink(join(out, 'real'), join(out, 'top', 'sub'));
    const store = FileStore.open(metaOf('top', [['sub', 'x', 'a']]), { outDir: out });
    await store.writePiece(0, patternBytes(16, 3));
    expect((await readFile(join(out, 'real', 'x', 'a'))).equals(patternBytes(16, 3))).toBe(true);
    await store.close();
  });
});

describe('the state folder', () => {
  it('DIR/.btkit linked elsewhere: the state is neither written nor read there', async () => {
    const out = await tmp.make('ln-state');
    const outside = await tmp.make('ln-state-outside');
    await symlink(outside, join(out, '.btkit'));
    const path = join(out, '.btkit', `${id.infoHash}.resume`);
    await expect(saveResume(path, state)).rejects.toMatchObject({ code: 'STORAGE_STATE_SYMLINK', category: 'input' });
    expect(await tree(outside)).toEqual([]);
    await writeFile(join(outside, `${id.infoHash}.resume`), 'planted');
    await expect(loadResume(path, id)).rejects.toMatchObject({ code: 'STORAGE_STATE_SYMLINK' });
  });

  it('DIR/.btkit a dangling link: refused, and its target is not created', async () => {
    const out = await tmp.make('ln-state-dangling');
    const outside = await tmp.make('ln-state-dangling-outside');
    await symlink(join(outside, 'later'), join(out, '.btkit'));
    await expect(saveResume(join(out, '.btkit', 'x.resume'), state)).rejects.toMatchObject({ code: 'STORAGE_STATE_SYMLINK' });
    expect(await tree(outside)).toEqual([]);
  });

  it('a state file that is a link is refused; a real folder works as before', async () => {
    const out = await tmp.make('ln-state-file');
    const outside = await tmp.make('ln-state-file-outside');
    await mkdir(join(out, '.btkit'));
    const path = join(out, '.btkit', `${id.infoHash}.resume`);
    await writeFile(join(outside, 'target'), 'keep me');
    await symlink(join(outside, 'target'), path);
    await expect(saveResume(path, state)).rejects.toMatchObject({ code: 'STORAGE_STATE_SYMLINK' });
    await expect(loadResume(path, id)).rejects.toMatchObject({ code: 'STORAGE_STATE_SYMLINK' });
    expect(await readFile(join(outside, 'target'), 'utf8')).toBe('keep me');

    const fine = join(out, 'fresh', '.btkit', `${id.infoHash}.resume`);
    await expect(loadResume(fine, id)).resolves.toBeNull();
    await saveResume(fine, state);
    await expect(loadResume(fine, id)).resolves.toMatchObject({ state: { clean: true } });
  });
});
