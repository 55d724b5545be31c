/**
 * The file walk behind `create`: files in the byte order of their relative paths (mktorrent's
 * order, whatever the order of creation or the locale), hidden files and symbolic links only on
 * request, include/exclude globs, loops through links entered once, and typed errors.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { walk } from '../../../../src/core/fs/walk.js';
import { tempDirs, writeTree } from '../../../helpers/tmp.js';
import { thrown } from '../../../helpers/errors.js';

const tmp = tempDirs();
const rel = (r: Awaited<ReturnType<typeof walk>>) => r.files.map((f) => f.path.join('/'));

describe('walk: order', () => {
  it('sorts by the bytes of the relative path, not by locale or creation order', async () => {
    const root = await tmp.make('order');
    // Created in an order unrelated to the expected one.
    await writeTree(root, { 'ä': 'x', 'a/b': 'xy', _x: 'x', 'a.txt': 'x', B: 'x', 'a-': 'x', Z: 'x', 'a/A': 'x', 'é/z': 'x', '日本': 'x' });
    const r = await walk(root);
    expect(r.directory).toBe(true);
    // '-' (0x2d) < '.' (0x2e) < '/' (0x2f); upper case before '_' before lower case; UTF-8 last
    // (ä = c3 a4 before é = c3 a9).
    expect(rel(r)).toEqual(['B', 'Z', '_x', 'a-', 'a.txt', 'a/A', 'a/b', 'ä', 'é/z', '日本']);
    // The locale order differs, so this really is byte order.
    expect([...rel(r)].sort((p, q) => p.localeCompare(q))).not.toEqual(rel(r));
  });

  it('reports lengths and absolute disk paths; the same tree gives the same result twice', async () => {
    const root = await tmp.make('lengths');
    await writeTree(root, { 'x/one': 'a', 'x/three': 'abc', empty: '' });
    const a = await walk(root);
    const b = await walk(root);
    expect(a).toEqual(b);
    expect(a.files).toEqual([
      { path: ['empty'], diskPath: join(root, 'empty'), length: 0 },
      { path: ['x', 'one'], diskPath: join(root, 'x', 'one'), length: 1 },
      { path: ['x', 'three'], diskPath: join(root, 'x', 'three'), length: 3 },
    ]);
  });

  it('a single file is a non-directory walk with an empty relative path', async () => {
    const root = await tmp.make('single');
    await writeTree(root, { 'f.bin': 'hello' });
    const r = await walk(join(root, 'f.bin'));
    expect(r).toEqual({ root: join(root, 'f.bin'), directory: false, files: [{ path: [], diskPath: join(root, 'f.bin'), length: 5 }], skipped: [] });
  });

  it('an empty directory gives no files', async () => {
    const root = await tmp.make('empty');
    const r = await walk(root);
    expect(r.files).toEqual([]);
    expect(r.directory).toBe(true);
  });
});

describe('walk: hidden files and symbolic links', () => {
  it('skips hidden files and directories unless includeHidden', async () => {
    const root = await tmp.make('hidden');
    await writeTree(root, { '.hidden': 'x', '.git/config': 'x', 'a/.secret': 'x', 'a/visible': 'x' });
    const r = await walk(root);
    expect(rel(r)).toEqual(['a/visible']);
    expect(r.skipped).toEqual(expect.arrayContaining([
      { path: '.hidden', reason: 'hidden' },
      { path: '.git', reason: 'hidden' },
      { path: 'a/.secret', reason: 'hidden' },
    ]));
    const all = await walk(root, { includeHidden: true });
    expect(rel(all)).toEqual(['.git/config', '.hidden', 'a/.secret', 'a/visible']);
    expect(all.skipped).toEqual([]);
  });

  it('skips symbolic links (to files and to directories) unless followSymlinks', async () => {
    const root = await tmp.make('links');
    const outside = await tmp.make('outside');
    await writeTree(root, { 'real.txt': 'abc' });
    await writeTree(outside, { 'o1': 'xy', 'deep/o2': 'z' });
    await symlink(join(root, 'real.txt'), join(root, 'link.txt'));
    await symlink(outside, join(root, 'dirlink'));
    const r = await walk(root);
    expect(rel(r)).toEqual(['real.txt']);
    expect(r.skipped).toEqual(expect.arrayContaining([
      { path: 'link.txt', reason: 'symlink' },
      { path: 'dirlink', reason: 'symlink' },
    ]));
    const f = await walk(root, { followSymlinks: true });
    expect(rel(f)).toEqual(['dirlink/deep/o2', 'dirlink/o1', 'link.txt', 'real.txt']);
    expect(f.files.find((x) => x.path.join('/') === 'link.txt')?.length).toBe(3);
  });

  it('does not follow a link loop forever', async () => {
    const root = await tmp.make('loop');
    await writeTree(root, { 'a/file': 'x', top: 'y' });
    await symlink(root, join(root, 'a', 'up')); // a/up -> root: a cycle
    await symlink(join(root, 'a'), join(root, 'a', 'self')); // a/self -> a
    const r = await walk(root, { followSymlinks: true });
    expect(rel(r)).toEqual(['a/file', 'top']);
  });

  it('a directory reached both directly and through a link is kept under the first name in byte order, whatever the creation order', async () => {
    for (const linkFirst of [true, false]) {
      const root = await tmp.make('dup');
      if (linkFirst) await symlink(join(root, 'zdir'), join(root, 'alink'));
      await mkdir(join(root, 'zdir'));
      await writeFile(join(root, 'zdir', 'f'), 'x');
      if (!linkFirst) await symlink(join(root, 'zdir'), join(root, 'alink'));
      const r = await walk(root, { followSymlinks: true });
      expect(rel(r)).toEqual(['alink/f']);
    }
  });

  it('a link is hidden when its own name is', async () => {
    const root = await tmp.make('hiddenlink');
    await writeTree(root, { f: 'x' });
    await symlink(join(root, 'f'), join(root, '.l'));
    const r = await walk(root, { followSymlinks: true });
    expect(rel(r)).toEqual(['f']);
    expect(r.skipped).toEqual([{ path: '.l', reason: 'hidden' }]);
  });
});

describe('walk: include and exclude', () => {
  const tree = { 'a.txt': 'x', 'b.log': 'x', 'sub/c.txt': 'x', 'sub/d.log': 'x', 'sub/deep/e.txt': 'x', 'other/f.bin': 'x' };

  it('exclude with a base-name pattern removes matches at any depth', async () => {
    const root = await tmp.make('ex');
    await writeTree(root, tree);
    const r = await walk(root, { exclude: ['*.log'] });
    expect(rel(r)).toEqual(['a.txt', 'other/f.bin', 'sub/c.txt', 'sub/deep/e.txt']);
    expect(r.skipped).toEqual(expect.arrayContaining([{ path: 'b.log', reason: 'excluded' }, { path: 'sub/d.log', reason: 'excluded' }]));
  });

  it('excluding a directory leaves out everything below it', async () => {
    const root = await tmp.make('exdir');
    await writeTree(root, tree);
    const r = await walk(root, { exclude: ['sub'] });
    expect(rel(r)).toEqual(['a.txt', 'b.log', 'other/f.bin']);
    expect(r.skipped).toEqual([{ path: 'sub', reason: 'excluded' }]);
  });

  it('include keeps only matching files (directories are still entered)', async () => {
    const root = await tmp.make('inc');
    await writeTree(root, tree);
    const r = await walk(root, { include: ['*.txt'] });
    expect(rel(r)).toEqual(['a.txt', 'sub/c.txt', 'sub/deep/e.txt']);
    expect(r.skipped).toEqual(expect.arrayContaining([{ path: 'other/f.bin', reason: 'not-included' }]));
    const anchored = await walk(root, { include: ['sub/*.txt'] });
    expect(rel(anchored)).toEqual(['sub/c.txt']);
  });

  it('exclude wins over include', async () => {
    const root = await tmp.make('both');
    await writeTree(root, tree);
    const r = await walk(root, { include: ['*.txt'], exclude: ['deep'] });
    expect(rel(r)).toEqual(['a.txt', 'sub/c.txt']);
  });
});

describe('walk: errors', () => {
  it('a missing path is an io error naming it', async () => {
    const root = await tmp.make('missing');
    const e = await thrown(walk(join(root, 'nope')));
    expect(e.category).toBe('io');
    expect(e.code).toBe('IO_ENOENT');
    expect(e.message).toContain('nope');
  });

  it('more files than maxFiles is refused', async () => {
    const root = await tmp.make('many');
    await writeTree(root, { a: 'x', b: 'x', c: 'x' });
    expect((await walk(root, { maxFiles: 3 })).files).toHaveLength(3);
    const e = await thrown(walk(root, { maxFiles: 2 }));
    expect(e.code).toBe('CREATE_TOO_MANY_FILES');
    expect(e.category).toBe('input');
  });

  it('a FIFO is skipped as special, and is refused as the root', async () => {
    const root = await tmp.make('fifo');
    await writeTree(root, { f: 'x' });
    try {
      execFileSync('mkfifo', [join(root, 'pipe')]);
    } catch {
      return; // no mkfifo on this system
    }
    const r = await walk(root);
    expect(rel(r)).toEqual(['f']);
    expect(r.skipped).toEqual([{ path: 'pipe', reason: 'special' }]);
    const e = await thrown(walk(join(root, 'pipe')));
    expect(e.code).toBe('CREATE_NOT_FILE');
  });
});
