/**
 * Torrent files against independently written tools, on the same data:
 *
 * - btkit's v1 infohash equals mktorrent's (single file; a nested tree whose names sort
 *   differently by bytes and by locale, with an empty file, a UTF-8 name and pieces spanning
 *   files) and libtorrent's create_torrent (v1_only, single file), for the same piece length and
 *   tracker;
 * - libtorrent (torrent_info, via test/lab/lt_info.py) and transmission-show read every torrent
 *   btkit makes with the same name, total size, files and trackers;
 * - `btkit inspect --json` and `btkit verify` agree with libtorrent on torrents libtorrent and
 *   mktorrent made: infohash, files, piece count; verify passes on the data and, after one byte is
 *   flipped, fails with exit 5 naming the piece computed from libtorrent's own file layout.
 */
import { execFileSync } from 'node:child_process';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, runClean as run } from '../helpers/cli.js';
import { interopAvailable, LAB_DIR, SYSTEM_PYTHON } from '../helpers/interop.js';
import { tempDirs, writeTree } from '../helpers/tmp.js';

const available = interopAvailable('mktorrent', 'libtorrent', 'transmission-show');
const tmp = tempDirs();
const TRACKER = 'http://127.0.0.1:6969/announce';

interface LtFile {
  path: string;
  size: number;
  pad: boolean;
}
interface LtInfo {
  name: string;
  total_size: number;
  piece_length: number;
  num_pieces: number;
  info_hash: string | null;
  info_hash_v2: string | null;
  private: boolean;
  trackers: { url: string; tier: number }[];
  web_seeds: string[];
  files: LtFile[];
}

const exec = (cmd: string, args: string[]) => execFileSync(cmd, args, { timeout: 30_000, stdio: ['ignore', 'pipe', 'pipe'] }).toString('utf8');
const ltInfo = (torrent: string): LtInfo => JSON.parse(exec(SYSTEM_PYTHON, [join(LAB_DIR, 'lt_info.py'), torrent])) as LtInfo;
const ltCreate = (path: string, out: string, pieceKiB: number, hybrid = false) =>
  exec(SYSTEM_PYTHON, [join(LAB_DIR, 'lt_create.py'), path, out, '--piece-kib', String(pieceKiB), '--tracker', TRACKER, ...(hybrid ? ['--hybrid'] : [])]);
const mktorrent = (path: string, out: string, log2: number) => exec('mktorrent', ['-l', String(log2), '-a', TRACKER, '-d', '-o', out, path]);

/** Each tier's URLs sorted: BEP 12 has clients shuffle a tier, and libtorrent does so on load. */
const sortedTiers = (tiers: string[][]): string[][] => tiers.map((t) => [...t].sort());

/** Tiers as libtorrent lists them (one entry per URL with its tier number), each tier sorted. */
const ltTiers = (info: LtInfo): string[][] => {
  const tiers: string[][] = [];
  for (const t of info.trackers) (tiers[t.tier] ??= []).push(t.url);
  return sortedTiers(tiers);
};

interface TransmissionView {
  name: string;
  hash: string;
  pieceCount: number;
  totalSize: string;
  private: boolean;
  tiers: string[][];
  webSeeds: string[];
  files: { path: string; size: string }[];
}

/** Parse `transmission-show -u` (torrent order): its GENERAL, TRACKERS, WEBSEEDS and FILES sections. */
function transmissionShow(torrent: string): TransmissionView {
  const text = exec('transmission-show', ['-u', torrent]);
  const view: TransmissionView = { name: '', hash: '', pieceCount: -1, totalSize: '', private: false, tiers: [], webSeeds: [], files: [] };
  let section = '';
  for (const line of text.split('\n')) {
    if (/^[A-Z]+$/.test(line)) {
      section = line;
      continue;
    }
    const body = line.replace(/^ {2}/, '');
    if (section === 'GENERAL') {
      const [key, ...rest] = body.split(': ');
      const value = rest.join(': ');
      if (key === 'Name') view.name = value;
      if (key === 'Hash') view.hash = value;
      if (key === 'Piece Count') view.pieceCount = Number(value);
      if (key === 'Total Size') view.totalSize = value;
      if (key === 'Privacy') view.private = value === 'Private torrent';
    } else if (section === 'TRACKERS') {
      if (/^Tier #\d+$/.test(body)) view.tiers.push([]);
      else if (body) view.tiers.at(-1)!.push(body);
    } else if (section === 'WEBSEEDS') {
      if (body) view.webSeeds.push(body);
    } else if (section === 'FILES' && body) {
      const m = /^(.*) \(([\d.]+ \w+)\)$/.exec(body)!;
      view.files.push({ path: m[1]!, size: m[2]! });
    }
  }
  return view;
}

/**
 * Whether transmission's rounded size text ("70.00 kB", "160.0 kB", "0.01 kB", "1.05 MB") can
 * stand for `bytes`: within one unit of its last printed digit (rounding or truncation).
 */
function sizeMatches(text: string, bytes: number): boolean {
  const [num, unit] = text.split(' ') as [string, string];
  const scale = { B: 1, kB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12 }[unit];
  if (scale === undefined) throw new Error(`unknown transmission size unit in \`${text}\``);
  const decimals = num.includes('.') ? num.split('.')[1]!.length : 0;
  const step = 10 ** -decimals * scale;
  return Math.abs(Number(num) * scale - bytes) <= step;
}

async function flipByte(path: string, position: number): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, position);
    b[0] = b[0]! ^ 0x80;
    await fh.write(b, 0, 1, position);
  } finally {
    await fh.close();
  }
}

/** btkit's infohash of `path` with the given piece length and tracker, reproducible flags on. */
async function btkitCreate(path: string, out: string, extra: string[]): Promise<string> {
  const r = await run(['create', path, '-o', out, '--no-date', '--no-created-by', '--json', ...extra]);
  expect(r.code, r.stdout + r.stderr).toBe(0);
  return r.json().result.infoHash as string;
}

describe.skipIf(!available)('torrent files: btkit, mktorrent, libtorrent, transmission', () => {
  let work: string;
  let single: string;
  let tree: string;
  /** The torrents btkit makes for this suite, by label: path, infohash, and what went into them. */
  const made = new Map<string, { torrent: string; infoHash: string; trackers: string[][]; webSeeds: string[]; private: boolean }>();

  beforeAll(async () => {
    ensureBuilt();
    work = await tmp.make('interop-files');
    single = join(work, 'single.bin');
    tree = join(work, 'tree');
    await writeTree(work, { 'single.bin': 100_001 });
    // Byte order: B Z _x a.txt a/b empty naïve… sub/deep/z ä ö日本/x ('a' is a directory); the
    // locale's order differs (a before B, ä next to a, a/b before a.txt).
    await writeTree(tree, {
      B: 'B',
      'a.txt': 40_000,
      'a/b': 30_000,
      'ä': 'umlaut',
      _x: 'x',
      Z: 70_000,
      'naïve – 日本.bin': 20_000,
      'sub/deep/z': 5,
      'ö日本/x': 33_333,
      empty: '',
    });
    const tiers = [[TRACKER, 'udp://127.0.0.1:6969/announce'], ['http://127.0.0.2:6969/announce']];
    const webSeed = 'http://127.0.0.1:8080/files/';
    const plans: [string, string, string[], Partial<{ trackers: string[][]; webSeeds: string[]; private: boolean }>][] = [
      ['single-16k', single, ['-p', '16KiB', '-t', TRACKER], {}],
      ['single-32k', single, ['-p', '32KiB', '-t', TRACKER], {}],
      ['single-64k', single, ['-p', '64KiB', '-t', TRACKER], {}],
      ['tree-15', tree, ['-p', String(2 ** 15), '-t', TRACKER], {}],
      ['tree-17', tree, ['-p', String(2 ** 17), '-t', TRACKER], {}],
      ['tree-tiers', tree, ['-t', tiers[0]!.join(','), '-t', tiers[1]![0]!, '-w', webSeed, '--private', '--source', 'LAB', '-p', '16KiB'], { trackers: tiers, webSeeds: [webSeed], private: true }],
    ];
    for (const [label, path, flags, facts] of plans) {
      const torrent = join(work, `bt-${label}.torrent`);
      const infoHash = await btkitCreate(path, torrent, flags);
      made.set(label, { torrent, infoHash, trackers: [[TRACKER]], webSeeds: [], private: false, ...facts });
    }
  });

  describe('same infohash for the same files and piece length', () => {
    it('mktorrent, single file', async () => {
      const mk = join(work, 'mk-single.torrent');
      mktorrent(single, mk, 15);
      expect(made.get('single-32k')!.infoHash).toBe(ltInfo(mk).info_hash);
    });

    it('mktorrent, nested tree (byte order, empty file, UTF-8 names, pieces spanning files), two piece lengths', async () => {
      // mktorrent 1.1 takes piece lengths 2^15 to 2^28.
      for (const log2 of [15, 17]) {
        const mk = join(work, `mk-tree-${log2}.torrent`);
        mktorrent(tree, mk, log2);
        const mkInfo = ltInfo(mk);
        expect(made.get(`tree-${log2}`)!.infoHash, `piece length 2^${log2}`).toBe(mkInfo.info_hash);
        // The file order both agree on is byte order, which differs from the locale's.
        const order = mkInfo.files.map((f) => f.path);
        expect(order).toEqual(['tree/B', 'tree/Z', 'tree/_x', 'tree/a.txt', 'tree/a/b', 'tree/empty', 'tree/naïve – 日本.bin', 'tree/sub/deep/z', 'tree/ä', 'tree/ö日本/x']);
        expect([...order].sort((p, q) => p.localeCompare(q))).not.toEqual(order);
        // Some piece holds bytes of more than one file.
        const ends = mkInfo.files.reduce<number[]>((acc, f) => [...acc, (acc.at(-1) ?? 0) + f.size], []);
        expect(ends.some((e) => e % mkInfo.piece_length !== 0 && e < mkInfo.total_size)).toBe(true);
      }
    });

    it('libtorrent create_torrent (v1_only), single file, same tracker', async () => {
      for (const kib of [16, 64]) {
        const lt = join(work, `lt-single-${kib}.torrent`);
        ltCreate(single, lt, kib);
        expect(made.get(`single-${kib}k`)!.infoHash, `${kib} KiB pieces`).toBe(ltInfo(lt).info_hash);
      }
    });
  });

  describe('libtorrent and transmission-show read what btkit makes', () => {
    it('every torrent: same name, total size, files, trackers (and privacy, web seeds)', async () => {
      expect(made.size).toBe(6);
      for (const m of made.values()) {
        const inspect = await run(['inspect', m.torrent, '--json']);
        expect(inspect.code).toBe(0);
        const ours = inspect.json().result as { name: string; infoHash: string; totalLength: number; pieceCount: number; files: { path: string; length: number }[]; trackers: string[][] };
        expect(ours.trackers).toEqual(m.trackers);

        const lt = ltInfo(m.torrent);
        expect(lt.name, m.torrent).toBe(ours.name);
        expect(lt.info_hash).toBe(ours.infoHash);
        expect(lt.total_size).toBe(ours.totalLength);
        expect(lt.num_pieces).toBe(ours.pieceCount);
        expect(lt.files.map((f) => [f.path, f.size])).toEqual(ours.files.map((f) => [f.path, f.length]));
        expect(ltTiers(lt)).toEqual(sortedTiers(m.trackers));
        expect(lt.private).toBe(m.private);
        expect(lt.web_seeds).toEqual(m.webSeeds);

        const tr = transmissionShow(m.torrent);
        expect(tr.name, m.torrent).toBe(ours.name);
        expect(tr.hash).toBe(ours.infoHash);
        expect(tr.pieceCount).toBe(ours.pieceCount);
        expect(sizeMatches(tr.totalSize, ours.totalLength), `${tr.totalSize} vs ${ours.totalLength}`).toBe(true);
        expect(tr.files.map((f) => f.path)).toEqual(ours.files.map((f) => f.path));
        tr.files.forEach((f, i) => expect(sizeMatches(f.size, ours.files[i]!.length), `${f.path}: ${f.size} vs ${ours.files[i]!.length}`).toBe(true));
        expect(tr.tiers).toEqual(m.trackers);
        expect(tr.private).toBe(m.private);
        expect(tr.webSeeds).toEqual(m.webSeeds);
      }
    });
  });

  describe('btkit inspect and verify agree with libtorrent on torrents others made', () => {
    interface Case {
      label: string;
      make: (out: string) => void;
      content: string;
      /** File (relative to the content) and position to flip. */
      flip: [string, number];
    }
    const cases: Case[] = [
      { label: 'mktorrent, tree', make: (out) => mktorrent(tree, out, 15), content: 'tree', flip: ['a/b', 29_999] },
      { label: 'mktorrent, single file', make: (out) => mktorrent(single, out, 15), content: 'single.bin', flip: ['', 50_000] },
      { label: 'libtorrent v1, tree (directory order)', make: (out) => ltCreate(tree, out, 32), content: 'tree', flip: ['ö日本/x', 100] },
      { label: 'libtorrent v1, single file', make: (out) => ltCreate(single, out, 16), content: 'single.bin', flip: ['', 100_000] },
      { label: 'libtorrent hybrid (v1+v2, BEP 47 padding), tree', make: (out) => ltCreate(tree, out, 16, true), content: 'tree', flip: ['Z', 69_000] },
    ];

    for (const c of cases) {
      it(c.label, async () => {
        const torrent = join(work, `other-${c.label.replace(/\W+/g, '-')}.torrent`);
        c.make(torrent);
        const lt = ltInfo(torrent);

        const inspect = await run(['inspect', torrent, '--json']);
        expect(inspect.code).toBe(0);
        const ours = inspect.json().result as { infoHash: string; infoHashV2: string | null; pieceCount: number; totalLength: number; files: { path: string; length: number; padding: boolean }[] };
        expect(ours.infoHash).toBe(lt.info_hash);
        expect(ours.infoHashV2).toBe(lt.info_hash_v2);
        expect(ours.pieceCount).toBe(lt.num_pieces);
        expect(ours.totalLength).toBe(lt.total_size);
        expect(ours.files.map((f) => [f.path, f.length, f.padding])).toEqual(lt.files.map((f) => [f.path, f.size, f.pad]));

        const contentPath = join(work, c.content);
        const good = await run(['verify', torrent, contentPath, '--json']);
        expect(good.code, good.stdout).toBe(0);
        expect(good.json().result).toMatchObject({ ok: true, pieceCount: lt.num_pieces, goodPieces: lt.num_pieces });

        // Where the flipped byte sits in the piece stream, by libtorrent's layout (pads included).
        const [file, position] = c.flip;
        const wanted = file === '' ? lt.name : `${lt.name}/${file}`;
        let offset = 0;
        for (const f of lt.files) {
          if (f.path === wanted) break;
          offset += f.size;
        }
        expect(lt.files.some((f) => f.path === wanted)).toBe(true);
        const piece = Math.floor((offset + position) / lt.piece_length);
        const onDisk = file === '' ? contentPath : join(contentPath, ...file.split('/'));
        await flipByte(onDisk, position);
        try {
          const bad = await run(['verify', torrent, contentPath, '--json']);
          expect(bad.code).toBe(5);
          const e = bad.json();
          expect(e).toMatchObject({ ok: false, error: { code: 'VERIFY_FAILED', category: 'verification', exitCode: 5 } });
          expect(e.error.detail.badPieces).toEqual([piece]);
          const report = e.error.detail.files.find((f: { path: string }) => f.path === wanted);
          expect(report).toMatchObject({ status: 'bad-pieces', badPieces: [piece] });
          const human = await run(['verify', torrent, contentPath]);
          expect(human.code).toBe(5);
          // v2 and hybrid torrents also give the piece counted from the file's start (verify.ts).
          expect(human.stdout).toContain(`FAIL   ${wanted}  (bad pieces ${piece}${lt.info_hash_v2 ? `; of this file: ${piece - offset / lt.piece_length}` : ''})`);
        } finally {
          await flipByte(onDisk, position);
        }
      });
    }
  });
});
