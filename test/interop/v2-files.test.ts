/**
 * BEP 52 v2 and hybrid torrent files against libtorrent 2.0.8 (python3-libtorrent), on the same data:
 *
 * - `btkit create --hybrid` and `--v2` give the same info dictionary, byte for byte, and the same
 *   `piece layers` as libtorrent's create_torrent (hybrid: flags 0; v2: v2_only), for a single
 *   file and for a nested tree with an empty file, at two piece lengths — so both infohashes are
 *   the same too, and libtorrent's torrent_info reads btkit's torrents with them;
 * - btkit reads libtorrent's v2 and hybrid torrents with the infohashes (v1 and v2) libtorrent
 *   computes, the same files and padding, and `verify` finds one flipped byte in libtorrent's v2
 *   torrent by merkle root, naming the file and its piece counted from the file's start.
 */
import { execFileSync } from 'node:child_process';
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { isDict } from '../../src/core/bencode/index.js';
import { parseTorrent } from '../../src/core/metainfo/parse.js';
import { ensureBuilt, runClean as run } from '../helpers/cli.js';
import { interopAvailable, LAB_DIR, SYSTEM_PYTHON } from '../helpers/interop.js';
import { tempDirs, writeTree } from '../helpers/tmp.js';

const available = interopAvailable('libtorrent');
const tmp = tempDirs();

interface LtInfo {
  name: string;
  num_pieces: number;
  piece_length: number;
  info_hash: string | null;
  info_hash_v2: string | null;
  files: { path: string; size: number; pad: boolean }[];
}

const exec = (cmd: string, args: string[]) => execFileSync(cmd, args, { timeout: 60_000, stdio: ['ignore', 'pipe', 'pipe'] }).toString('utf8');
const ltInfo = (torrent: string): LtInfo => JSON.parse(exec(SYSTEM_PYTHON, [join(LAB_DIR, 'lt_info.py'), torrent])) as LtInfo;
const ltCreate = (path: string, out: string, pieceKiB: number, mode: 'hybrid' | 'v2') =>
  exec(SYSTEM_PYTHON, [join(LAB_DIR, 'lt_create.py'), path, out, '--piece-kib', String(pieceKiB), `--${mode}`]);

/** The info dictionary's bytes and the `piece layers` (root hex → layer hex) of a torrent file. */
async function partsOf(torrent: string): Promise<{ info: Buffer; layers: Record<string, string> }> {
  const meta = parseTorrent(await readFile(torrent), { allowV2Only: true });
  const raw = meta.raw.get('piece layers');
  const layers: Record<string, string> = {};
  if (isDict(raw)) for (const [k, v] of raw) layers[Buffer.from(k, 'latin1').toString('hex')] = Buffer.from(v as Uint8Array).toString('hex');
  return { info: meta.infoBytes, layers };
}

async function flipByte(path: string, position: number): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, position);
    b[0] = b[0]! ^ 0x01;
    await fh.write(b, 0, 1, position);
  } finally {
    await fh.close();
  }
}

describe.skipIf(!available)('v2 and hybrid torrent files: btkit and libtorrent 2.0.8', () => {
  let work: string;
  let single: string;
  let tree: string;

  beforeAll(async () => {
    ensureBuilt();
    work = await tmp.make('interop-v2');
    single = join(work, 'single.bin');
    tree = join(work, 'tree');
    await writeTree(work, { 'single.bin': 100_001 });
    // Tree order (component by component) differs from whole-path byte order here: a/b before
    // a.txt. An empty file, a file of exactly one piece, files shorter than a block, one of many pieces.
    await writeTree(tree, {
      B: 'B',
      'a.txt': 40_000,
      'a/b': 30_000,
      Z: 70_000,
      exact: 16_384,
      'sub/deep/z': 5,
      'ö日本/x': 33_333,
      empty: '',
    });
  });

  for (const mode of ['hybrid', 'v2'] as const) {
    for (const [label, pick] of [['single file', () => single], ['nested tree with an empty file', () => tree]] as const) {
      it(`create --${mode}, ${label}: the same info dictionary and piece layers as libtorrent, at 16 and 64 KiB`, async () => {
        for (const kib of [16, 64]) {
          const ours = join(work, `bt-${mode}-${label.replace(/\W+/g, '-')}-${kib}.torrent`);
          const theirs = join(work, `lt-${mode}-${label.replace(/\W+/g, '-')}-${kib}.torrent`);
          const r = await run(['create', pick(), `--${mode}`, '-p', `${kib}KiB`, '-o', ours, '--no-date', '--no-created-by', '--json']);
          expect(r.code, r.stderr).toBe(0);
          ltCreate(pick(), theirs, kib, mode);
          const [a, b] = await Promise.all([partsOf(ours), partsOf(theirs)]);
          expect(a.info.toString('hex'), `${kib} KiB`).toBe(b.info.toString('hex'));
          expect(a.layers).toEqual(b.layers);
          // libtorrent reads btkit's torrent with the infohashes btkit printed.
          const lt = ltInfo(ours);
          const result = r.json().result as { infoHash: string | null; infoHashV2: string; version: string };
          expect(result.version).toBe(mode);
          expect(lt.info_hash_v2).toBe(result.infoHashV2);
          expect(lt.info_hash).toBe(result.infoHash);
          expect(result.infoHash === null).toBe(mode === 'v2');
        }
      });
    }
  }

  for (const mode of ['hybrid', 'v2'] as const) {
    it(`btkit reads libtorrent's ${mode} tree: same infohashes, files and padding; piece layers ok`, async () => {
      const torrent = join(work, `lt-read-${mode}.torrent`);
      ltCreate(tree, torrent, 16, mode);
      const lt = ltInfo(torrent);
      const r = await run(['inspect', torrent, '--json']);
      expect(r.code, r.stderr).toBe(0);
      const ours = r.json().result as { infoHash: string; infoHashV2: string; infoHashV2Truncated: string; version: string; pieceCount: number; files: { path: string; length: number; padding: boolean; piecesRoot: string | null }[]; pieceLayers: { status: string }[] };
      expect(ours.version).toBe(mode);
      expect(ours.infoHash || null).toBe(lt.info_hash);
      expect(ours.infoHashV2).toBe(lt.info_hash_v2);
      expect(ours.infoHashV2Truncated).toBe(lt.info_hash_v2!.slice(0, 40));
      expect(ours.pieceCount).toBe(lt.num_pieces);
      // libtorrent lists a v2-only torrent's gaps as padding files too, the last file's tail included.
      expect(ours.files.map((f) => [f.path, f.length, f.padding])).toEqual(lt.files.map((f) => [f.path, f.size, f.pad]));
      expect(ours.files.filter((f) => !f.padding && f.length > 0).every((f) => f.piecesRoot?.length === 64)).toBe(true);
      expect(ours.pieceLayers.map((l) => l.status)).toEqual(['ok', 'ok', 'ok', 'ok']);
      const magnet = await run(['magnet', torrent, '--json']);
      expect(magnet.json().result.magnet).toContain(`xt=urn:btmh:1220${lt.info_hash_v2}`);
      expect(magnet.json().result.magnet.includes(`xt=urn:btih:`)).toBe(mode === 'hybrid');
    });
  }

  it("verify finds one changed byte in libtorrent's v2 torrent by merkle root: the file, and its piece counted from the file", async () => {
    const torrent = join(work, 'lt-verify-v2.torrent');
    ltCreate(tree, torrent, 16, 'v2');
    const good = await run(['verify', torrent, tree, '--json']);
    expect(good.code, good.stdout + good.stderr).toBe(0);
    const lt = ltInfo(torrent);
    let offset = 0;
    for (const f of lt.files) {
      if (f.path === 'tree/Z') break;
      offset += f.size;
    }
    const position = 50_000; // in the fourth 16 KiB piece of Z
    await flipByte(join(tree, 'Z'), position);
    try {
      const bad = await run(['verify', torrent, tree, '--json']);
      expect(bad.code).toBe(5);
      const files = bad.json().error.detail.files as { path: string; status: string; badPieces: number[]; filePieces: number[] }[];
      expect(files.filter((f) => f.status !== 'complete' && f.status !== 'padding').map((f) => f.path)).toEqual(['tree/Z']);
      const z = files.find((f) => f.path === 'tree/Z')!;
      expect(z.filePieces).toEqual([Math.floor(position / 16_384)]);
      expect(z.badPieces).toEqual([offset / 16_384 + Math.floor(position / 16_384)]);
    } finally {
      await flipByte(join(tree, 'Z'), position);
    }
  });
});
