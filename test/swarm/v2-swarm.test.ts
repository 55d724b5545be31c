/**
 * BEP 52 between btkit processes on 127.0.0.1 over TCP, each downloader's only peer a `btkit seed`
 * (`--peer`, no tracker, no DHT): a v2-only and a hybrid torrent of a nested tree (files longer
 * than a piece, a file of exactly one piece, files shorter than a block, an empty file).
 *
 * - `btkit download` from the .torrent and from a `btmh` magnet alone: every file byte-identical,
 *   every byte from the seed; from the magnet the info dictionary comes over BEP 9 on the
 *   truncated v2 infohash, the piece layers by hash requests the seed answers with proofs;
 * - the .torrent saved from the magnet (`--save-torrent` on a download, `--metadata-only`) holds
 *   the piece layers, equal to the creator's;
 * - when no peer gives the layers (a scripted v2 peer with the metadata alone): `--metadata-only`
 *   still writes the .torrent, without them, says so (PIECE_LAYERS_MISSING on stderr,
 *   torrentPieceLayers false) and exits 0;
 * - a seed whose own .torrent has no layers hashes them from its data and serves them; a hybrid
 *   downloaded over v1 (a btih magnet) hashes them from the downloaded data into its .torrent;
 * - a second downloader gets the layers from the first, which had fetched them itself (what one
 *   btkit learns by hash requests it serves on).
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTorrent } from '../../src/core/metainfo/create.js';
import { parseTorrent } from '../../src/core/metainfo/parse.js';
import { buildTorrentFile } from '../../src/core/metainfo/torrent-file.js';
import type { Metainfo } from '../../src/core/metainfo/types.js';
import { ensureBuilt, runCli } from '../helpers/cli.js';
import { startMetadataPeer } from '../helpers/metadata-peer.js';
import { ndjson, pattern } from '../lab/download-lab.js';
import { type CliProcess, startCli, stopAll } from './swarm-lab.js';

type Version = 'v2' | 'hybrid';

const TREE: [string, number][] = [
  ['a.bin', 150_000],
  ['empty', 0],
  ['exact.bin', 32 * 1024],
  ['sub/deep/b.bin', 70_001],
  ['sub/tiny.txt', 5],
  ['z.txt', 1000],
];

interface Fixture {
  torrent: string;
  meta: Metainfo;
  seedDir: string;
  content: string;
  files: Map<string, Buffer>;
  magnet: string;
}

const COMMON = ['--no-dht', '--port', '0', '--bind', '127.0.0.1', '--transport', 'tcp', '--json'];

describe('v2 and hybrid swarms: btkit seed → btkit download', () => {
  let root: string;
  const fixtures = new Map<Version, Fixture>();
  const procs: CliProcess[] = [];

  beforeAll(async () => {
    ensureBuilt();
    root = await mkdtemp(join(tmpdir(), 'btkit-v2-btkit-'));
    for (const version of ['v2', 'hybrid'] as const) {
      const seedDir = join(root, `seed-${version}`);
      const files = new Map<string, Buffer>();
      for (const [rel, size] of TREE) files.set(`tree/${rel}`, pattern(size, size + rel.length + (version === 'v2' ? 0 : 1)));
      for (const [rel, data] of files) {
        const path = join(seedDir, ...rel.split('/'));
        await mkdir(dirname(path), { recursive: true });
        await writeFile(path, data);
      }
      const content = join(seedDir, 'tree');
      // 32 KiB pieces: a.bin and b.bin have piece layers (5 and 3 pieces), the others are one piece or less.
      const created = await createTorrent({ path: content, pieceLength: 32 * 1024, version, creationDate: 0, threads: 1 });
      const torrent = join(root, `tree-${version}.torrent`);
      await writeFile(torrent, created.torrent);
      const meta = created.metainfo;
      fixtures.set(version, { torrent, meta, seedDir, content, files, magnet: `magnet:?xt=urn:btmh:1220${meta.infoHash.v2!.toString('hex')}&dn=tree` });
    }
  }, 60_000);

  afterAll(async () => {
    await stopAll(procs);
    if (root) await rm(root, { recursive: true, force: true });
  });

  async function seed(torrent: string, content: string): Promise<{ proc: CliProcess; port: number }> {
    const proc = startCli(['seed', torrent, content, '--port', '0', '--host', '127.0.0.1', '--transport', 'tcp', '--no-dht', '--json']);
    procs.push(proc);
    const started = await proc.waitFor((e) => e.type === 'started', 60_000, 'the seed start');
    return { proc, port: started.listen.port as number };
  }

  async function differences(f: Fixture, outDir: string): Promise<string[]> {
    const bad: string[] = [];
    for (const [rel, want] of f.files) {
      const got = await readFile(join(outDir, ...rel.split('/'))).catch(() => null);
      if (!got) bad.push(`${rel}: missing`);
      else if (!got.equals(want)) bad.push(`${rel}: ${got.length} bytes differ from the original's ${want.length}`);
    }
    return bad;
  }

  const layeredFiles = (m: Metainfo) => m.files.filter((x) => !x.padding && x.length > m.pieceLength);
  const dataBytes = (m: Metainfo) => m.files.filter((x) => !x.padding).reduce((n, x) => n + x.length, 0);

  /** The saved .torrent's piece layers equal the creator's (so they fold to the roots); inspect says ok; verify passes. */
  async function expectWholeTorrent(saved: string, f: Fixture): Promise<void> {
    const got = parseTorrent(await readFile(saved), { allowV2Only: true });
    expect(got.infoHash.v2!.equals(f.meta.infoHash.v2!)).toBe(true);
    for (const want of layeredFiles(f.meta)) {
      const have = got.files.find((x) => x.piecesRoot?.equals(want.piecesRoot!));
      expect(have?.pieceLayer?.equals(want.pieceLayer!), `piece layer of ${want.path.join('/')}`).toBe(true);
    }
    const inspect = await runCli(['inspect', saved, '--json']);
    expect((JSON.parse(inspect.stdout).result.pieceLayers as { status: string }[]).map((c) => c.status)).toEqual(layeredFiles(f.meta).map(() => 'ok'));
    const verify = await runCli(['verify', saved, f.content, '--json']);
    expect(verify.code, verify.stdout.slice(-2000)).toBe(0);
  }

  const cases = (['v2', 'hybrid'] as const).flatMap((v) => (['torrent', 'btmh magnet'] as const).map((s) => [v, s] as const));

  it.each(cases)('btkit downloads a %s torrent from btkit seed, given the %s: byte-identical, every byte from the seed', async (version, source) => {
    const f = fixtures.get(version)!;
    const s = await seed(f.torrent, f.content);
    try {
      const out = join(root, `dl-${version}-${source === 'torrent' ? 'torrent' : 'btmh'}`);
      const saved = join(root, `saved-${version}.torrent`);
      const target = source === 'torrent' ? f.torrent : f.magnet;
      const extra = source === 'torrent' ? [] : ['--save-torrent', saved];
      const r = await runCli(['download', target, '-o', out, '--peer', `127.0.0.1:${s.port}`, ...COMMON, '--timeout', '45s', ...extra], { timeoutMs: 90_000 });
      expect(r.code, `${r.stderr}${r.stdout.slice(-3000)}\nseed:\n${s.proc.stderr()}`).toBe(0);
      expect(await differences(f, out)).toEqual([]);
      const events = ndjson(r.stdout);
      const done = events.find((e) => e.type === 'done');
      expect(done.reason).toBe('complete');
      expect(done.downloaded).toBeGreaterThanOrEqual(dataBytes(f.meta));
      expect(events.some((e) => e.type === 'piece-failed' || e.type === 'peer-banned')).toBe(false);
      // The handshake named the torrent: a magnet with btmh alone and a v2-only torrent dial with the truncated v2 infohash.
      const dialed = version === 'v2' || source !== 'torrent' ? f.meta.infoHash.v2!.subarray(0, 20) : f.meta.infoHash.v1!;
      expect(events.find((e) => e.type === 'started' || e.type === 'metadata-wanted').infoHash).toBe(dialed.toString('hex'));
      if (source !== 'torrent') {
        expect(events.some((e) => e.type === 'metadata')).toBe(true);
        // The layers came by hash requests (for the hybrid alongside the download, checked by SHA-1 meanwhile).
        expect(events.find((e) => e.type === 'piece-layers')).toMatchObject({ files: layeredFiles(f.meta).length });
        expect(events.at(-1).result).toMatchObject({ torrentFile: saved, torrentPieceLayers: true });
        await expectWholeTorrent(saved, f);
      }
      const { code } = await s.proc.stop('SIGINT');
      expect(code, s.proc.stderr()).toBe(0);
      expect(s.proc.events.at(-1).result.uploaded).toBeGreaterThanOrEqual(dataBytes(f.meta));
    } finally {
      await s.proc.stop();
    }
  }, 150_000);

  it.each(['v2', 'hybrid'] as const)('--metadata-only from a btmh magnet of a %s torrent: one .torrent, written with its piece layers', async (version) => {
    const f = fixtures.get(version)!;
    const s = await seed(f.torrent, f.content);
    try {
      const saved = join(root, `meta-${version}.torrent`);
      const r = await runCli(['download', f.magnet, '-o', join(root, `meta-${version}`), '--metadata-only', '--save-torrent', saved, '--peer', `127.0.0.1:${s.port}`, ...COMMON, '--timeout', '45s'], { timeoutMs: 90_000 });
      expect(r.code, r.stderr + r.stdout.slice(-2000)).toBe(0);
      const events = ndjson(r.stdout);
      expect(events.filter((e) => e.type === 'torrent-saved')).toMatchObject([{ path: saved, pieceLayers: true }]);
      expect(events.at(-1).result).toMatchObject({ reason: 'metadata', torrentPieceLayers: true });
      await expectWholeTorrent(saved, f);
    } finally {
      await s.proc.stop();
    }
  }, 150_000);

  it('--metadata-only when no peer gives the piece layers: the .torrent is written without them, with a warning, exit 0', async () => {
    const f = fixtures.get('v2')!;
    // A v2 peer with the metadata and nothing else: it never answers a hash request.
    const peer = await startMetadataPeer({ infoHash: f.meta.infoHash.v2!.subarray(0, 20), info: f.meta.infoBytes, mode: 'honest' });
    try {
      const saved = join(root, 'meta-bare.torrent');
      const r = await runCli(['download', f.magnet, '-o', join(root, 'meta-bare'), '--metadata-only', '--save-torrent', saved, '--peer', `127.0.0.1:${peer.port}`, ...COMMON, '--timeout', '3s'], { timeoutMs: 60_000 });
      expect(r.code, r.stderr + r.stdout.slice(-2000)).toBe(0);
      const events = ndjson(r.stdout);
      expect(events.some((e) => e.type === 'warning' && e.code === 'PIECE_LAYERS_MISSING')).toBe(true);
      expect(events.filter((e) => e.type === 'torrent-saved')).toMatchObject([{ path: saved, pieceLayers: false }]);
      expect(events.at(-1).result).toMatchObject({ reason: 'metadata', torrentFile: saved, torrentPieceLayers: false });
      // The info dictionary is whole: the same torrent, its layers read as missing.
      const got = parseTorrent(await readFile(saved), { allowV2Only: true });
      expect(got.infoHash.v2!.equals(f.meta.infoHash.v2!)).toBe(true);
      const inspect = await runCli(['inspect', saved, '--json']);
      expect((JSON.parse(inspect.stdout).result.pieceLayers as { status: string }[]).map((c) => c.status)).toEqual(layeredFiles(f.meta).map(() => 'missing'));
      // Without --json the warning is one line on stderr.
      const human = await runCli(['download', f.magnet, '-o', join(root, 'meta-bare-2'), '--metadata-only', '--peer', `127.0.0.1:${peer.port}`, '--no-dht', '--port', '0', '--bind', '127.0.0.1', '--transport', 'tcp', '--timeout', '3s'], { timeoutMs: 60_000 });
      expect(human.code, human.stderr).toBe(0);
      expect(human.stderr).toMatch(/PIECE_LAYERS_MISSING|no piece layers/);
    } finally {
      await peer.close();
    }
  }, 150_000);

  it('a seed of a .torrent without piece layers hashes them from its data and serves them: --metadata-only gets a whole .torrent', async () => {
    const f = fixtures.get('v2')!;
    const bare = join(root, 'bare-v2.torrent');
    await writeFile(bare, buildTorrentFile({ info: f.meta.infoBytes }));
    const s = await seed(bare, f.content);
    try {
      const layers = await s.proc.waitFor((e) => e.type === 'piece-layers', 30_000, 'the seed\'s piece layers');
      expect(layers).toMatchObject({ from: 'data', files: layeredFiles(f.meta).length });
      const saved = join(root, 'meta-from-bare-seed.torrent');
      const r = await runCli(['download', f.magnet, '-o', join(root, 'meta-from-bare-seed'), '--metadata-only', '--save-torrent', saved, '--peer', `127.0.0.1:${s.port}`, ...COMMON, '--timeout', '45s'], { timeoutMs: 90_000 });
      expect(r.code, r.stderr + r.stdout.slice(-2000)).toBe(0);
      expect(ndjson(r.stdout).at(-1).result).toMatchObject({ torrentPieceLayers: true });
      await expectWholeTorrent(saved, f);
    } finally {
      await s.proc.stop();
    }
  }, 150_000);

  it('a hybrid from a btih magnet (its peer on v1, asked for no hash): the saved .torrent gets the layers hashed from the downloaded data', async () => {
    const f = fixtures.get('hybrid')!;
    const s = await seed(f.torrent, f.content);
    try {
      const out = join(root, 'hybrid-btih');
      const saved = join(root, 'hybrid-btih.torrent');
      const magnet = `magnet:?xt=urn:btih:${f.meta.infoHash.v1!.toString('hex')}&dn=tree`;
      const r = await runCli(['download', magnet, '-o', out, '--save-torrent', saved, '--peer', `127.0.0.1:${s.port}`, ...COMMON, '--timeout', '45s'], { timeoutMs: 90_000 });
      expect(r.code, r.stderr + r.stdout.slice(-2000)).toBe(0);
      expect(await differences(f, out)).toEqual([]);
      const events = ndjson(r.stdout);
      // Saved at once without them (no v2 connection to ask), then again with them once the data was in.
      expect(events.filter((e) => e.type === 'torrent-saved').map((e) => e.pieceLayers)).toEqual([false, true]);
      expect(events.some((e) => e.type === 'piece-layers' && e.from === 'peers')).toBe(false);
      expect(events.at(-1).result).toMatchObject({ reason: 'complete', torrentPieceLayers: true });
      await expectWholeTorrent(saved, f);
    } finally {
      await s.proc.stop();
    }
  }, 150_000);

  it('a downloader that fetched the piece layers serves them on: a second one gets them from it alone', async () => {
    const f = fixtures.get('v2')!;
    const s = await seed(f.torrent, f.content);
    const first = startCli(['download', f.magnet, '-o', join(root, 'relay-1'), '--peer', `127.0.0.1:${s.port}`, ...COMMON, '--timeout', '45s', '--seed']);
    procs.push(first);
    try {
      const started = await first.waitFor((e) => e.type === 'complete', 60_000, 'the first download');
      const port = first.events.find((e) => e.type === 'metadata-wanted').listen.port as number;
      expect(started).toBeTruthy();
      // The seed goes away: the first downloader is the second's only source of metadata, layers and data.
      await s.proc.stop('SIGINT');
      const out = join(root, 'relay-2');
      const r = await runCli(['download', f.magnet, '-o', out, '--peer', `127.0.0.1:${port}`, ...COMMON, '--timeout', '45s'], { timeoutMs: 90_000 });
      expect(r.code, r.stderr + r.stdout.slice(-2000)).toBe(0);
      expect(await differences(f, out)).toEqual([]);
      const events = ndjson(r.stdout);
      expect(events.find((e) => e.type === 'piece-layers')).toMatchObject({ files: layeredFiles(f.meta).length });
      expect(events.some((e) => e.type === 'piece-failed' || e.type === 'peer-banned')).toBe(false);
    } finally {
      await first.stop();
      await s.proc.stop();
    }
  }, 150_000);
});
