/**
 * createTorrent: walk + hash + build. The infohash must equal one computed naively (concatenate
 * the files in byte order of their paths, SHA-1 each piece, encode the info dict with an
 * independent encoder); lints become warnings; empty input is refused with a typed error.
 */
import { createHash } from 'node:crypto';
import { chmod, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import bencode from 'bencode';
import { describe, expect, it } from 'vitest';
import { createTorrent } from '../../../../src/core/metainfo/create.js';
import { tempDirs, writeTree } from '../../../helpers/tmp.js';
import { thrown } from '../../../helpers/errors.js';

const tmp = tempDirs();

function naivePieces(data: Buffer, pieceLength: number): Buffer {
  const out: Buffer[] = [];
  for (let s = 0; s < data.length; s += pieceLength) out.push(createHash('sha1').update(data.subarray(s, s + pieceLength)).digest());
  return Buffer.concat(out);
}

describe('createTorrent: BEP 47 attributes', () => {
  it('an executable file gets attr x in files, in a single-file info dict and in the file tree; attributes: false leaves them out', async () => {
    const root = await tmp.make('create-attr');
    const dir = join(root, 'content');
    await writeTree(dir, { 'run.sh': 40_000, 'data.bin': 20_000 });
    await chmod(join(dir, 'run.sh'), 0o755);
    await chmod(join(dir, 'data.bin'), 0o644);
    const attrs = (files: { path: string[]; attr: string }[]) => Object.fromEntries(files.map((f) => [f.path.join('/'), f.attr]));
    const v1 = await createTorrent({ path: dir, pieceLength: 16384 });
    expect(attrs(v1.metainfo.files)).toEqual({ 'data.bin': '', 'run.sh': 'x' });
    const hybrid = await createTorrent({ path: dir, pieceLength: 16384, version: 'hybrid' });
    expect(attrs(hybrid.metainfo.files.filter((f) => !f.padding))).toEqual({ 'data.bin': '', 'run.sh': 'x' });
    // The raw v1 list and the raw file tree both carry it (libtorrent writes both).
    const raw = bencode.decode(hybrid.torrent) as { info: { files: { attr?: Uint8Array; path: Uint8Array[] }[]; 'file tree': Record<string, Record<string, { attr?: Uint8Array }>> } };
    expect(raw.info.files.map((f) => (f.attr ? Buffer.from(f.attr).toString() : ''))).toEqual(['', 'p', 'x', 'p']);
    expect(Buffer.from(raw.info['file tree']['run.sh']!['']!.attr!).toString()).toBe('x');
    expect(raw.info['file tree']['data.bin']![''].attr).toBeUndefined();
    const single = await createTorrent({ path: join(dir, 'run.sh'), pieceLength: 16384 });
    expect(single.metainfo.files[0]!.attr).toBe('x');
    const v2 = await createTorrent({ path: join(dir, 'run.sh'), pieceLength: 16384, version: 'v2' });
    expect(v2.metainfo.files[0]!.attr).toBe('x');
    const plain = await createTorrent({ path: dir, pieceLength: 16384, version: 'hybrid', attributes: false });
    expect(plain.metainfo.files.filter((f) => !f.padding).map((f) => f.attr)).toEqual(['', '']);
    expect(plain.metainfo.infoHash.v2!.equals(hybrid.metainfo.infoHash.v2!)).toBe(false);
  });
});

describe('createTorrent', () => {
  it('a multi-file tree: files in byte order, pieces spanning files, empty files kept; infohash = naive reference', async () => {
    const root = await tmp.make('create');
    const dir = join(root, 'content');
    // 16 KiB pieces; sizes chosen so pieces straddle file boundaries.
    const tree = { 'b.bin': 20_000, 'a/x.bin': 10_000, 'a.txt': 5, empty: '', 'ä.dat': 30_001, 'a/y': '' };
    await writeTree(dir, tree);
    const order = ['a.txt', 'a/x.bin', 'a/y', 'b.bin', 'empty', 'ä.dat'];
    const r = await createTorrent({ path: dir, pieceLength: 16384 });
    expect(r.metainfo.files.map((f) => f.path.join('/'))).toEqual(order);
    const contents = await Promise.all(order.map((p) => readFile(join(dir, ...p.split('/')))));
    const data = Buffer.concat(contents);
    const info = {
      files: order.map((p, i) => ({ length: contents[i]!.length, path: p.split('/') })),
      name: 'content',
      'piece length': 16384,
      pieces: naivePieces(data, 16384),
    };
    const expected = createHash('sha1').update(bencode.encode(info)).digest('hex');
    expect(r.metainfo.infoHash.v1!.toString('hex')).toBe(expected);
    expect(r.metainfo.totalLength).toBe(data.length);
    expect(r.metainfo.pieceCount).toBe(Math.ceil(data.length / 16384));
    expect(r.warnings).toContain('2 empty files included: some clients do not create empty files');
  });

  it('a single file: a single-file torrent named after it, infohash = naive reference', async () => {
    const root = await tmp.make('single');
    await writeTree(root, { 'movie.bin': 100_000 });
    const data = await readFile(join(root, 'movie.bin'));
    const r = await createTorrent({ path: join(root, 'movie.bin'), trackers: [['http://127.0.0.1:1/announce']] });
    expect(r.metainfo.multiFile).toBe(false);
    expect(r.metainfo.name).toBe('movie.bin');
    expect(r.metainfo.pieceLength).toBe(16384); // automatic
    const info = { length: 100_000, name: 'movie.bin', 'piece length': 16384, pieces: naivePieces(data, 16384) };
    expect(r.metainfo.infoHash.v1).toEqual(createHash('sha1').update(bencode.encode(info)).digest());
    expect(r.torrent).toEqual(Buffer.from(bencode.encode({ announce: 'http://127.0.0.1:1/announce', info })));
  });

  it('is reproducible without date and creator', async () => {
    const root = await tmp.make('repro');
    await writeTree(root, { 'd/1': 3000, 'd/2': 'two' });
    const a = await createTorrent({ path: join(root, 'd'), trackers: [['http://a/announce'], ['http://b/announce']] });
    const b = await createTorrent({ path: join(root, 'd'), trackers: [['http://a/announce'], ['http://b/announce']] });
    expect(a.torrent).toEqual(b.torrent);
  });

  it('name, private, source and trackers reach the torrent; the walk options are honoured', async () => {
    const root = await tmp.make('opts');
    await writeTree(root, { 'd/keep.txt': 'k', 'd/drop.log': 'd', 'd/.hidden': 'h' });
    const r = await createTorrent({ path: join(root, 'd'), name: 'renamed', private: true, source: 'SRC', trackers: [['http://t/announce']], exclude: ['*.log'] });
    expect(r.metainfo).toMatchObject({ name: 'renamed', private: true, source: 'SRC', trackers: [['http://t/announce']] });
    expect(r.metainfo.files.map((f) => f.path.join('/'))).toEqual(['keep.txt']);
    expect(r.walk.skipped.map((s) => s.reason).sort()).toEqual(['excluded', 'hidden']);
    const hidden = await createTorrent({ path: join(root, 'd'), includeHidden: true });
    expect(hidden.metainfo.files.map((f) => f.path.join('/'))).toEqual(['.hidden', 'drop.log', 'keep.txt']);
  });

  it('warns about a private torrent without trackers and a piece length others frown at', async () => {
    const root = await tmp.make('lint');
    await writeTree(root, { f: 5000 });
    const r = await createTorrent({ path: join(root, 'f'), private: true, pieceLength: 1000 });
    expect(r.warnings).toEqual([
      'piece length 1000 is not a power of two; many clients refuse it',
      'private torrent without trackers: clients find peers only through trackers when private (BEP 27)',
    ]);
    const ok = await createTorrent({ path: join(root, 'f'), private: true, trackers: [['http://t/announce']] });
    expect(ok.warnings).toEqual([]);
  });

  it('reports the plan and progress up to the total', async () => {
    const root = await tmp.make('progress');
    await writeTree(root, { 'd/a': 40_000, 'd/b': 30_000 });
    const plans: unknown[] = [];
    const progress: number[] = [];
    await createTorrent({ path: join(root, 'd'), pieceLength: 16384, onPlan: (p) => plans.push(p), onProgress: (done, total) => progress.push(done, total) });
    expect(plans).toEqual([{ files: 2, totalLength: 70_000, pieceLength: 16384 }]);
    expect(progress.at(-2)).toBe(70_000);
    expect(progress.at(-1)).toBe(70_000);
  });

  it('an empty directory, or one with only hidden files, has no files to add', async () => {
    const root = await tmp.make('empty');
    await writeTree(root, { 'e/.only-hidden': 'x' });
    const e = await thrown(createTorrent({ path: join(root, 'e') }));
    expect(e.code).toBe('CREATE_NO_FILES');
    expect(e.category).toBe('input');
    expect(e.message).toContain('1 skipped');
  });

  it('only empty files is refused: a torrent needs at least one byte', async () => {
    const root = await tmp.make('zero');
    await writeTree(root, { 'z/a': '', 'z/b/c': '' });
    const e = await thrown(createTorrent({ path: join(root, 'z') }));
    expect(e.code).toBe('CREATE_EMPTY');
    expect(e.category).toBe('input');
    await writeTree(root, { 'zero-file': '' });
    expect((await thrown(createTorrent({ path: join(root, 'zero-file') }))).code).toBe('CREATE_EMPTY');
  });

  it('a missing path is an io error; a bad piece length an input error', async () => {
    const root = await tmp.make('bad');
    expect((await thrown(createTorrent({ path: join(root, 'missing') }))).category).toBe('io');
    await writeTree(root, { f: 'x' });
    for (const pieceLength of [0, -16384, 1.5, 2 * 1024 ** 3]) {
      const e = await thrown(createTorrent({ path: join(root, 'f'), pieceLength }));
      expect(e.code).toBe('CREATE_BAD_PIECE_LENGTH');
    }
  });

  it('an aborted signal stops it with an interrupted error', async () => {
    const root = await tmp.make('abort');
    await writeTree(root, { f: 100_000 });
    const ac = new AbortController();
    ac.abort();
    const e = await thrown(createTorrent({ path: join(root, 'f'), signal: ac.signal }));
    expect(e.category).toBe('interrupted');
  });
});

describe('createTorrent: the summary', () => {
  it('holds what parsing the built torrent gives, for every version, single file and tree, with padding, empty files, trackers and web seeds', async () => {
    const root = await tmp.make('create-summary');
    const dir = join(root, 'content');
    await writeTree(dir, { 'b.bin': 40_000, 'a/x.bin': 10_000, 'a/y': '', 'c.txt': 16_384, 'ä.dat': 70_001 });
    const trackers = [['http://a/announce', ''], [], ['udp://b:1/announce', 'http://c/announce']];
    const cases = [
      { path: dir, trackers, webSeeds: ['http://w/', ''], private: true },
      { path: dir, trackers: [['http://only/announce']] },
      { path: join(dir, 'ä.dat') },
      { path: join(dir, 'c.txt'), trackers: [['']] },
    ];
    for (const version of ['v1', 'v2', 'hybrid'] as const) {
      for (const c of cases) {
        const r = await createTorrent({ ...c, version, pieceLength: 16384 });
        const m = r.metainfo;
        expect(r.summary, `${version} ${c.path}`).toEqual({
          name: m.name,
          version: m.version,
          infoHash: m.infoHash,
          totalLength: m.totalLength,
          pieceLength: m.pieceLength,
          pieceCount: m.pieceCount,
          fileCount: m.files.length,
          private: m.private,
          trackers: m.trackers,
          webSeeds: m.webSeeds,
        });
      }
    }
  });
});
