/**
 * verifyData: every piece checked against the torrent, and per file what is wrong — missing,
 * wrong size, or exactly which pieces fail — including pieces that span files, empty files,
 * BEP 47 padding (never on disk) and both hashing paths.
 */
import { createHash } from 'node:crypto';
import { appendFile, mkdir, open, rm, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import bencode from 'bencode';
import { describe, expect, it } from 'vitest';
import { createTorrent } from '../../../../src/core/metainfo/create.js';
import { parseTorrent } from '../../../../src/core/metainfo/parse.js';
import { verifyData } from '../../../../src/core/storage/verify.js';
import { patternBytes, tempDirs, writeTree } from '../../../helpers/tmp.js';

const tmp = tempDirs();
const PL = 16384;

/** Files (in torrent order) with offsets: a(20000) b(0) c(30000) d(5) e(12000) → 62005 bytes, 4 pieces. */
async function fixture() {
  const root = await tmp.make('verify');
  const dir = join(root, 'data');
  await writeTree(dir, { a: 20_000, b: '', c: 30_000, 'sub/d': 5, 'sub/e': 12_000 });
  const { metainfo } = await createTorrent({ path: dir, pieceLength: PL });
  return { root, dir, meta: metainfo };
}

async function flipByte(path: string, position: number): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, position);
    b[0] = b[0]! ^ 0xff;
    await fh.write(b, 0, 1, position);
  } finally {
    await fh.close();
  }
}

const statusOf = (r: Awaited<ReturnType<typeof verifyData>>) => Object.fromEntries(r.files.map((f) => [f.path, [f.status, f.badPieces]]));

describe('verifyData', () => {
  it('complete data: ok, every piece good, every file complete', async () => {
    const { dir, meta } = await fixture();
    const r = await verifyData(meta, { contentPath: dir });
    expect(r.ok).toBe(true);
    expect(r).toMatchObject({ pieceCount: 4, goodPieces: 4, badPieces: [], bytesChecked: 62_005 });
    expect(r.files.map((f) => [f.path, f.status, f.length, f.actualLength])).toEqual([
      ['data/a', 'complete', 20_000, 20_000],
      ['data/b', 'complete', 0, 0],
      ['data/c', 'complete', 30_000, 30_000],
      ['data/sub/d', 'complete', 5, 5],
      ['data/sub/e', 'complete', 12_000, 12_000],
    ]);
  });

  it('a flipped byte fails exactly its piece, reported for every file the piece touches', async () => {
    const { dir, meta } = await fixture();
    // Stream offset 20000 + 15000 = 35000 → piece 2 (32768…49151), which spans c and nothing else…
    await flipByte(join(dir, 'c'), 15_000);
    let r = await verifyData(meta, { contentPath: dir });
    expect(r.ok).toBe(false);
    expect(r.badPieces).toEqual([2]);
    expect(r.goodPieces).toBe(3);
    expect(statusOf(r)).toEqual({
      'data/a': ['complete', []],
      'data/b': ['complete', []],
      'data/c': ['bad-pieces', [2]],
      'data/sub/d': ['complete', []],
      'data/sub/e': ['complete', []],
    });
    // …and piece 1 (16384…32767) spans a and c: flipping a's last byte fails piece 1 in both.
    await flipByte(join(dir, 'c'), 15_000);
    await flipByte(join(dir, 'a'), 19_999);
    r = await verifyData(meta, { contentPath: dir });
    expect(r.badPieces).toEqual([1]);
    expect(statusOf(r)['data/a']).toEqual(['bad-pieces', [1]]);
    expect(statusOf(r)['data/c']).toEqual(['bad-pieces', [1]]);
    expect(statusOf(r)['data/sub/e']).toEqual(['complete', []]);
  });

  it('a missing file: status missing, its pieces bad', async () => {
    const { dir, meta } = await fixture();
    await rm(join(dir, 'sub', 'e'));
    const r = await verifyData(meta, { contentPath: dir });
    expect(r.ok).toBe(false);
    // e occupies 50005…62004: pieces 3 only (49152…62004), which it shares with c and d.
    expect(r.badPieces).toEqual([3]);
    expect(statusOf(r)['data/sub/e']).toEqual(['missing', [3]]);
    expect(r.files.find((f) => f.path === 'data/sub/e')!.actualLength).toBeNull();
    expect(statusOf(r)['data/sub/d']).toEqual(['bad-pieces', [3]]);
  });

  it('a missing empty file is missing, though no piece fails', async () => {
    const { dir, meta } = await fixture();
    await rm(join(dir, 'b'));
    const r = await verifyData(meta, { contentPath: dir });
    expect(r.ok).toBe(false);
    expect(r.badPieces).toEqual([]);
    expect(statusOf(r)['data/b']).toEqual(['missing', []]);
  });

  it('a short file: wrong size, the pieces from the cut on are bad', async () => {
    const { dir, meta } = await fixture();
    await truncate(join(dir, 'c'), 10_000); // c's data stops at stream offset 30000 (piece 1)
    const r = await verifyData(meta, { contentPath: dir });
    expect(r.ok).toBe(false);
    expect(r.badPieces).toEqual([1, 2, 3]);
    const c = r.files.find((f) => f.path === 'data/c')!;
    expect(c).toMatchObject({ status: 'wrong-size', actualLength: 10_000, length: 30_000, badPieces: [1, 2, 3] });
  });

  it('a longer file: wrong size even though every piece is good', async () => {
    const { dir, meta } = await fixture();
    await appendFile(join(dir, 'sub', 'e'), 'extra');
    const r = await verifyData(meta, { contentPath: dir });
    expect(r.ok).toBe(false);
    expect(r.badPieces).toEqual([]);
    expect(statusOf(r)['data/sub/e']).toEqual(['wrong-size', []]);
  });

  it('a directory where a file should be: missing, not a crash', async () => {
    const { dir, meta } = await fixture();
    await rm(join(dir, 'sub', 'd'));
    await mkdir(join(dir, 'sub', 'd'));
    const r = await verifyData(meta, { contentPath: dir });
    expect(statusOf(r)['data/sub/d']).toEqual(['missing', [3]]);
  });

  it('a single-file torrent: the content path is the file itself', async () => {
    const root = await tmp.make('single');
    await writeTree(root, { 'one.bin': 50_000 });
    const { metainfo } = await createTorrent({ path: join(root, 'one.bin'), pieceLength: PL });
    expect((await verifyData(metainfo, { contentPath: join(root, 'one.bin') })).ok).toBe(true);
    await flipByte(join(root, 'one.bin'), 49_999);
    const r = await verifyData(metainfo, { contentPath: join(root, 'one.bin') });
    expect(r.badPieces).toEqual([3]);
    expect(r.files).toEqual([{ index: 0, path: 'one.bin', diskPath: join(root, 'one.bin'), length: 50_000, actualLength: 50_000, status: 'bad-pieces', badPieces: [3], filePieces: null }]);
    const missing = await verifyData(metainfo, { contentPath: join(root, 'nope') });
    expect(missing.badPieces).toEqual([0, 1, 2, 3]);
    expect(missing.files[0]!.status).toBe('missing');
  });

  it('BEP 47 padding files are zeros that are never on disk', async () => {
    const root = await tmp.make('pad');
    const a = patternBytes(1000, 'pa');
    const b = patternBytes(500, 'pb');
    await writeTree(root, { 'p/a': a, 'p/b': b });
    const pl = 1024;
    const stream = Buffer.concat([a, Buffer.alloc(24), b]);
    const pieces = Buffer.concat([createHash('sha1').update(stream.subarray(0, pl)).digest(), createHash('sha1').update(stream.subarray(pl)).digest()]);
    const torrent = bencode.encode({
      info: {
        files: [
          { length: 1000, path: ['a'] },
          { attr: 'p', length: 24, path: ['.pad', '24'] },
          { length: 500, path: ['b'] },
        ],
        name: 'p',
        'piece length': pl,
        pieces,
      },
    });
    const meta = parseTorrent(torrent);
    const r = await verifyData(meta, { contentPath: join(root, 'p') });
    expect(r.ok).toBe(true);
    expect(r.files.map((f) => [f.path, f.status, f.diskPath === null])).toEqual([
      ['p/a', 'complete', false],
      ['p/.pad/24', 'padding', true],
      ['p/b', 'complete', false],
    ]);
    await flipByte(join(root, 'p', 'b'), 0);
    expect((await verifyData(meta, { contentPath: join(root, 'p') })).badPieces).toEqual([1]);
  });

  it('the worker pool path (more than 8 MiB, threads: 2) finds the same bad piece', async () => {
    const root = await tmp.make('big');
    await writeTree(root, { 'big/x': 5 * 1024 * 1024, 'big/y': 4 * 1024 * 1024 + 3 });
    const { metainfo } = await createTorrent({ path: join(root, 'big'), pieceLength: 256 * 1024, threads: 2 });
    expect((await verifyData(metainfo, { contentPath: join(root, 'big'), threads: 2 })).ok).toBe(true);
    await flipByte(join(root, 'big', 'y'), 1_000_000); // stream 5 MiB + 1e6 → piece 23
    const r = await verifyData(metainfo, { contentPath: join(root, 'big'), threads: 2 });
    expect(r.badPieces).toEqual([Math.floor((5 * 1024 * 1024 + 1_000_000) / (256 * 1024))]);
    expect(r.files.map((f) => f.status)).toEqual(['complete', 'bad-pieces']);
  });

  it('reports progress up to the total', async () => {
    const { dir, meta } = await fixture();
    let last = [0, 0];
    await verifyData(meta, { contentPath: dir, onProgress: (d, t) => (last = [d, t]) });
    expect(last).toEqual([62_005, 62_005]);
  });

  it('an aborted signal stops it with an interrupted error', async () => {
    const { dir, meta } = await fixture();
    const ac = new AbortController();
    ac.abort();
    await expect(verifyData(meta, { contentPath: dir, signal: ac.signal })).rejects.toMatchObject({ category: 'interrupted' });
  });
});


describe('room (issue 13 item 21)', () => {
  it('verification reads the disk, so it lives in storage: no module of src/core/metainfo imports node:fs', async () => {
    const { readdirSync, readFileSync } = await import('node:fs');
    const dir = join(import.meta.dirname, '..', '..', '..', '..', 'src', 'core', 'metainfo');
    const readers = readdirSync(dir).filter((f) => /from ['"](node:)?fs(\/promises)?['"]/.test(readFileSync(join(dir, f), 'utf8')));
    expect(readers).toEqual([]);
  });
});

describe('v2 and hybrid: each file judged by its merkle tree (BEP 52)', () => {
  async function made(version: 'v2' | 'hybrid') {
    const root = await tmp.make(`merkle-${version}`);
    await writeTree(root, { 'd/a': 70_000, 'd/b': 5, 'd/c': 40_000, 'd/empty': '' });
    const { torrent, metainfo } = await createTorrent({ path: join(root, 'd'), pieceLength: PL, version });
    return { dir: join(root, 'd'), torrent, metainfo };
  }

  for (const version of ['v2', 'hybrid'] as const) {
    it(`${version}: one flipped byte fails exactly its file's piece, also counted from the file`, async () => {
      const { dir, metainfo } = await made(version);
      expect((await verifyData(metainfo, { contentPath: dir })).ok).toBe(true);
      await flipByte(join(dir, 'c'), 20_000); // the second piece of c
      const r = await verifyData(metainfo, { contentPath: dir });
      const c = r.files.find((f) => f.path === 'd/c')!;
      const first = metainfo.files.find((f) => f.path.join('/') === 'c')!.offset / PL;
      expect(c).toMatchObject({ status: 'bad-pieces', badPieces: [first + 1], filePieces: [1] });
      expect(r.badPieces).toEqual([first + 1]);
      expect(r.files.filter((f) => f.status !== 'complete' && f.status !== 'padding').map((f) => f.path)).toEqual(['d/c']);
    });
  }

  it('v2 without piece layers: the file is judged by its root alone, so all its pieces fail together', async () => {
    const { dir, torrent } = await made('v2');
    // The same torrent with `piece layers` removed (the info dict, so the infohash, unchanged).
    const decoded = bencode.decode(torrent) as Record<string, unknown>;
    delete decoded['piece layers'];
    const bare = parseTorrent(bencode.encode(decoded), { allowV2Only: true });
    expect(bare.pieceLayers!.map((l) => l.status)).toEqual(['missing', 'missing']);
    expect((await verifyData(bare, { contentPath: dir })).ok).toBe(true);
    await flipByte(join(dir, 'a'), 69_999);
    const r = await verifyData(bare, { contentPath: dir });
    const a = r.files.find((f) => f.path === 'd/a')!;
    expect(a).toMatchObject({ status: 'bad-pieces', filePieces: [0, 1, 2, 3, 4] });
    expect(r.files.filter((f) => f.status === 'bad-pieces').map((f) => f.path)).toEqual(['d/a']);
  });
});
