/**
 * BEP 52 v2-only and hybrid torrents between btkit and libtorrent 2.0.8 on 127.0.0.1, TCP only,
 * each side the other's only peer (no tracker, no DHT: `--peer` and libtorrent's connect_peer):
 *
 * - libtorrent (lt_get.py) downloads from `btkit seed`, from the .torrent and, for the v2-only
 *   torrent, from a `btmh` magnet (then btkit serves it the info dictionary and, by BEP 52 hash
 *   requests, the piece layers with their proof hashes, which libtorrent checks);
 * - btkit downloads from libtorrent (lt_seed.py), from the .torrent;
 * - btkit downloads from libtorrent from a `btmh` magnet alone (xt=urn:btmh, no btih): the info
 *   dictionary comes over BEP 9 on the truncated v2 infohash and is checked by SHA-256; for the
 *   v2-only torrent the piece layers then come by BEP 52 hash requests, proven against each
 *   file's root, before any piece is checked.
 *
 * - the .torrent btkit saves from a `btmh` magnet (`--metadata-only`, `--save-torrent` on a
 *   download), v2-only and hybrid, holds libtorrent's piece layers: equal to the creator's, `inspect`
 *   ok, `verify` passes; a .torrent without them downloads too (fetched first);
 * - libtorrent gets the layers from a btkit seed whose own .torrent has none (hashed from its data).
 *
 * For a single file and for a nested tree with an empty file, a file of exactly one piece and
 * files shorter than a block; every file must come out byte-identical, and every byte must have
 * come from the other client.
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
import { interopAvailable } from '../helpers/interop.js';
import { ltResult, runToEnd } from '../helpers/magnet-interop.js';
import { LAB, type LabProcess, SYSTEM_PYTHON, freePort, ndjson, pattern, startLtSeeder } from '../lab/download-lab.js';
import { type CliProcess, stopAll } from '../swarm/swarm-lab.js';
import { startCli } from '../swarm/swarm-lab.js';

type Version = 'v2' | 'hybrid';
type Kind = 'single' | 'tree';

interface V2Fixture {
  torrent: string;
  meta: Metainfo;
  /** The directory holding the content (a seeder's save path). */
  seedDir: string;
  content: string;
  /** Path under the content's parent → bytes, empty files included. */
  files: Map<string, Buffer>;
}

const TREE: [string, number][] = [
  ['a.bin', 150_000],
  ['empty', 0],
  ['exact.bin', 32 * 1024],
  ['sub/deep/b.bin', 70_001],
  ['sub/tiny.txt', 5],
  ['z.txt', 1000],
];

async function makeFixture(root: string, kind: Kind, version: Version): Promise<V2Fixture> {
  const seedDir = join(root, `seed-${kind}`);
  const files = new Map<string, Buffer>();
  if (kind === 'single') files.set('single.bin', pattern(700_001, 11));
  else for (const [rel, size] of TREE) files.set(`tree/${rel}`, pattern(size, size + rel.length));
  for (const [rel, data] of files) {
    const path = join(seedDir, ...rel.split('/'));
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, data);
  }
  const content = join(seedDir, kind === 'single' ? 'single.bin' : 'tree');
  // 64 KiB pieces for the single file (11 pieces), 32 KiB for the tree: files longer than a piece
  // have piece layers, the others are one piece each.
  const created = await createTorrent({ path: content, pieceLength: kind === 'single' ? 64 * 1024 : 32 * 1024, version, creationDate: 0, threads: 1 });
  const torrent = join(root, `${kind}-${version}.torrent`);
  await writeFile(torrent, created.torrent);
  return { torrent, meta: created.metainfo, seedDir, content, files };
}

async function differences(f: V2Fixture, outDir: string): Promise<string[]> {
  const bad: string[] = [];
  for (const [rel, want] of f.files) {
    const got = await readFile(join(outDir, ...rel.split('/'))).catch(() => null);
    if (!got) bad.push(`${rel}: missing`);
    else if (!got.equals(want)) bad.push(`${rel}: ${got.length} bytes differ from the original's ${want.length}`);
  }
  return bad;
}

/** Bytes of data in the torrent (padding excluded). */
const dataBytes = (m: Metainfo) => m.files.filter((f) => !f.padding).reduce((n, f) => n + f.length, 0);

describe.skipIf(!interopAvailable('libtorrent'))('v2 and hybrid swarms: btkit and libtorrent 2.0.8', () => {
  let root: string;
  const fixtures = new Map<string, V2Fixture>();
  const procs: CliProcess[] = [];
  const labs: LabProcess[] = [];
  const cases = (['v2', 'hybrid'] as const).flatMap((version) => (['single', 'tree'] as const).map((kind) => [version, kind] as const));

  beforeAll(async () => {
    ensureBuilt();
    root = await mkdtemp(join(tmpdir(), 'btkit-v2-swarm-'));
    for (const [version, kind] of cases) fixtures.set(`${version}-${kind}`, await makeFixture(root, kind, version));
  }, 120_000);

  afterAll(async () => {
    await stopAll(procs);
    await Promise.allSettled(labs.map((l) => l.stop()));
    if (root) await rm(root, { recursive: true, force: true });
  });

  const toLibtorrent = [...cases.map(([version, kind]) => [version, kind, 'torrent'] as const), ['v2', 'single', 'btmh magnet'] as const, ['v2', 'tree', 'btmh magnet'] as const];

  it.each(toLibtorrent)('libtorrent downloads a %s torrent (%s) from btkit seed, given the %s', async (version, kind, source) => {
    const f = fixtures.get(`${version}-${kind}`)!;
    // From a btmh magnet libtorrent needs the piece layers from us: btkit serves hash requests with proofs.
    const target = source === 'torrent' ? f.torrent : `magnet:?xt=urn:btmh:1220${f.meta.infoHash.v2!.toString('hex')}&dn=${encodeURIComponent(f.meta.name)}`;
    const seed = startCli(['seed', f.torrent, f.content, '--port', '0', '--host', '127.0.0.1', '--no-dht', '--json']);
    procs.push(seed);
    try {
      const started = await seed.waitFor((e) => e.type === 'started', 60_000, 'the seed start');
      const out = join(root, `lt-from-btkit-${version}-${kind}-${source === 'torrent' ? 'torrent' : 'btmh'}`);
      const r = await runToEnd(SYSTEM_PYTHON, [join(LAB, 'lt_get.py'), target, out, '--peer', `127.0.0.1:${started.listen.port}`, '--no-tracker', '--tcp-only', '--port', String(await freePort()), '--timeout', '60', '--json'], 90_000);
      expect(r.code, `${r.output}\nseed:\n${seed.stderr()}`).toBe(0);
      expect(ltResult(r.output).ok).toBe(true);
      expect(await differences(f, out)).toEqual([]);
      const { code } = await seed.stop('SIGINT');
      expect(code, seed.stderr()).toBe(0);
      // The seed was libtorrent's only peer: it sent every byte of data at least once.
      expect(seed.events.at(-1).result.uploaded).toBeGreaterThanOrEqual(dataBytes(f.meta));
      expect(seed.events.some((e) => e.type === 'peer-connected' && e.client === 'LT2080')).toBe(true);
    } finally {
      await seed.stop();
    }
  }, 150_000);

  const fromLibtorrent = cases.flatMap(([version, kind]) => (['torrent', 'btmh magnet'] as const).map((source) => [version, kind, source] as const));

  it.each(fromLibtorrent)('btkit downloads a %s torrent (%s) from a libtorrent seeder, given the %s', async (version, kind, source) => {
    const f = fixtures.get(`${version}-${kind}`)!;
    const lt = await startLtSeeder(f.torrent, f.seedDir, { seconds: 150 });
    labs.push(lt);
    try {
      const out = join(root, `btkit-from-lt-${version}-${kind}-${source === 'torrent' ? 'torrent' : 'btmh'}`);
      // A magnet with the v2 infohash alone (a hybrid's btih is left out on purpose: the v2 path is what is tested).
      const target = source === 'torrent' ? f.torrent : `magnet:?xt=urn:btmh:1220${f.meta.infoHash.v2!.toString('hex')}&dn=${encodeURIComponent(f.meta.name)}`;
      const r = await runCli(['download', target, '-o', out, '--peer', `127.0.0.1:${lt.port}`, '--no-dht', '--port', '0', '--bind', '127.0.0.1', '--json', '--timeout', '45s'], { timeoutMs: 90_000 });
      expect(r.code, `${r.stderr}${r.stdout.slice(-3000)}\nlibtorrent:\n${lt.output().slice(-2000)}`).toBe(0);
      expect(await differences(f, out)).toEqual([]);
      const events = ndjson(r.stdout);
      const done = events.find((e) => e.type === 'done');
      expect(done.reason).toBe('complete');
      expect(done.downloaded).toBeGreaterThanOrEqual(dataBytes(f.meta));
      // The handshake was on the torrent's identity: v2 torrents and btmh magnets on the truncated v2 infohash.
      const dialed = version === 'v2' || source !== 'torrent' ? f.meta.infoHash.v2!.subarray(0, 20) : f.meta.infoHash.v1!;
      expect(events.find((e) => e.type === 'started' || e.type === 'metadata-wanted').infoHash).toBe(dialed.toString('hex'));
      if (source !== 'torrent') expect(events.some((e) => e.type === 'metadata')).toBe(true);
      // From a btmh magnet the piece layers of its files longer than a piece came by hash requests: for
      // a v2-only torrent before any block, for a hybrid alongside (its SHA-1 list checks pieces meanwhile).
      const layers = events.find((e) => e.type === 'piece-layers');
      if (source !== 'torrent') {
        const layered = f.meta.files.filter((x) => !x.padding && x.length > f.meta.pieceLength);
        expect(layers).toMatchObject({ files: layered.length, hashes: layered.reduce((n, x) => n + Math.ceil(x.length / f.meta.pieceLength), 0) });
      } else expect(layers).toBeUndefined();
      expect(events.some((e) => e.type === 'piece-failed')).toBe(false);
    } finally {
      await lt.stop();
    }
  }, 150_000);

  it('libtorrent downloads from a btmh magnet from a btkit seed whose .torrent has no piece layers: btkit hashes them from its data and serves them with proofs', async () => {
    const f = fixtures.get('v2-tree')!;
    const bare = join(root, 'bare-for-lt.torrent');
    await writeFile(bare, buildTorrentFile({ info: f.meta.infoBytes }));
    const seed = startCli(['seed', bare, f.content, '--port', '0', '--host', '127.0.0.1', '--no-dht', '--json']);
    procs.push(seed);
    try {
      const started = await seed.waitFor((e) => e.type === 'started', 60_000, 'the seed start');
      expect(await seed.waitFor((e) => e.type === 'piece-layers', 30_000, 'the seed\'s piece layers')).toMatchObject({ from: 'data' });
      const magnet = `magnet:?xt=urn:btmh:1220${f.meta.infoHash.v2!.toString('hex')}&dn=${encodeURIComponent(f.meta.name)}`;
      const out = join(root, 'lt-from-bare-seed');
      const r = await runToEnd(SYSTEM_PYTHON, [join(LAB, 'lt_get.py'), magnet, out, '--peer', `127.0.0.1:${started.listen.port}`, '--no-tracker', '--tcp-only', '--port', String(await freePort()), '--timeout', '60', '--json'], 90_000);
      expect(r.code, `${r.output}\nseed:\n${seed.stderr()}`).toBe(0);
      expect(ltResult(r.output).ok).toBe(true);
      expect(await differences(f, out)).toEqual([]);
    } finally {
      await seed.stop();
    }
  }, 150_000);

  it('libtorrent asks btkit seed for a failed piece\'s block hashes (BEP 52, base layer 0) and gets them', async () => {
    // One good btkit seed (slowed, so that libtorrent takes pieces from the other) and one that
    // serves every other piece corrupt (--skip-verify): a piece from it fails at libtorrent, which
    // then asks for that piece's block hashes to find the bad block.
    const dir = join(root, 'block-layer');
    const good = pattern(2 * 1024 * 1024 + 5000, 21);
    const bad = Buffer.from(good);
    for (let p = 0; p * 65536 < bad.length; p += 2) bad[p * 65536 + 100]! ^= 1;
    await mkdir(join(dir, 'good'), { recursive: true });
    await mkdir(join(dir, 'bad'), { recursive: true });
    await writeFile(join(dir, 'good', 'f.bin'), good);
    await writeFile(join(dir, 'bad', 'f.bin'), bad);
    const created = await createTorrent({ path: join(dir, 'good', 'f.bin'), pieceLength: 64 * 1024, version: 'v2', creationDate: 0, threads: 1 });
    const torrent = join(dir, 'f.torrent');
    await writeFile(torrent, created.torrent);
    const common = ['--port', '0', '--host', '127.0.0.1', '--no-dht', '--transport', 'tcp', '--json'];
    const goodSeed = startCli(['seed', torrent, join(dir, 'good', 'f.bin'), '--upload-limit', '100KiB', ...common]);
    const badSeed = startCli(['seed', torrent, join(dir, 'bad', 'f.bin'), '--skip-verify', ...common]);
    procs.push(goodSeed, badSeed);
    try {
      const [g, b] = await Promise.all([goodSeed.waitFor((e) => e.type === 'started', 60_000, 'the good seed start'), badSeed.waitFor((e) => e.type === 'started', 60_000, 'the bad seed start')]);
      const out = join(dir, 'out');
      const r = await runToEnd(SYSTEM_PYTHON, [join(LAB, 'lt_get.py'), torrent, out, '--peer', `127.0.0.1:${b.listen.port}`, '--peer', `127.0.0.1:${g.listen.port}`, '--no-tracker', '--tcp-only', '--port', String(await freePort()), '--timeout', '90', '--json'], 120_000);
      expect(r.code, `${r.output}\ngood seed:\n${goodSeed.stderr()}`).toBe(0);
      expect((await readFile(join(out, 'f.bin'))).equals(good)).toBe(true);
      const served = goodSeed.events.filter((e) => e.type === 'block-hashes-served');
      expect(served.length, 'libtorrent asked the good seed for no block hashes').toBeGreaterThan(0);
      expect(served.every((e) => e.baseLayer === 0 && e.length === 4 && e.index % 4 === 0 && e.answered)).toBe(true);
      // The corrupt seed never hands out hashes of data that does not match its piece hashes.
      expect(badSeed.events.filter((e) => e.type === 'block-hashes-served' && e.answered)).toEqual([]);
    } finally {
      await Promise.all([goodSeed.stop(), badSeed.stop()]);
    }
  }, 180_000);

  /** The saved .torrent holds every layered file's piece layer, equal to the creator's, each folding to its root; verify passes with it. */
  async function expectWholeV2Torrent(saved: string, f: V2Fixture): Promise<void> {
    const got = parseTorrent(await readFile(saved), { allowV2Only: true });
    expect(got.infoHash.v2!.equals(f.meta.infoHash.v2!)).toBe(true);
    const layered = f.meta.files.filter((x) => !x.padding && x.length > f.meta.pieceLength);
    expect(layered.length).toBeGreaterThan(0);
    for (const want of layered) {
      const have = got.files.find((x) => x.piecesRoot?.equals(want.piecesRoot!));
      expect(have?.pieceLayer?.equals(want.pieceLayer!), `piece layer of ${want.path.join('/')}`).toBe(true);
    }
    const inspect = await runCli(['inspect', saved, '--json']);
    expect(inspect.code, inspect.stderr).toBe(0);
    const checks = JSON.parse(inspect.stdout).result.pieceLayers as { status: string }[];
    expect(checks.map((c) => c.status)).toEqual(layered.map(() => 'ok'));
    const verify = await runCli(['verify', saved, f.content, '--json']);
    expect(verify.code, verify.stderr + verify.stdout.slice(-2000)).toBe(0);
  }

  const saves = [['v2', 'tree'], ['v2', 'single'], ['hybrid', 'tree']] as const;

  it.each(saves)('--metadata-only from a btmh magnet of a %s torrent (%s) saves a whole .torrent: the piece layers come by hash requests before it is written', async (version, kind) => {
    const f = fixtures.get(`${version}-${kind}`)!;
    const lt = await startLtSeeder(f.torrent, f.seedDir, { seconds: 150 });
    labs.push(lt);
    try {
      const magnet = `magnet:?xt=urn:btmh:1220${f.meta.infoHash.v2!.toString('hex')}&dn=${encodeURIComponent(f.meta.name)}`;
      const saved = join(root, `meta-only-${version}-${kind}.torrent`);
      const r = await runCli(['download', magnet, '-o', join(root, `meta-only-${version}-${kind}`), '--metadata-only', '--save-torrent', saved, '--peer', `127.0.0.1:${lt.port}`, '--no-dht', '--port', '0', '--bind', '127.0.0.1', '--json', '--timeout', '45s'], { timeoutMs: 90_000 });
      expect(r.code, r.stderr + r.stdout.slice(-2000)).toBe(0);
      const events = ndjson(r.stdout);
      // Written once, whole.
      expect(events.filter((e) => e.type === 'torrent-saved')).toEqual([{ type: 'torrent-saved', path: saved, infoHash: expect.any(String), pieceLayers: true }]);
      expect(events.some((e) => e.type === 'piece-layers')).toBe(true);
      expect(events.at(-1).result).toMatchObject({ reason: 'metadata', torrentFile: saved, torrentPieceLayers: true });
      expect(r.stderr).not.toMatch(/PIECE_LAYERS_MISSING/);
      await expectWholeV2Torrent(saved, f);
    } finally {
      await lt.stop();
    }
  }, 150_000);

  it.each(saves)('a download from a btmh magnet of a %s torrent (%s) with --save-torrent writes the piece layers into the .torrent', async (version, kind) => {
    const f = fixtures.get(`${version}-${kind}`)!;
    const lt = await startLtSeeder(f.torrent, f.seedDir, { seconds: 150 });
    labs.push(lt);
    try {
      const magnet = `magnet:?xt=urn:btmh:1220${f.meta.infoHash.v2!.toString('hex')}&dn=${encodeURIComponent(f.meta.name)}`;
      const saved = join(root, `full-${version}-${kind}.torrent`);
      const out = join(root, `full-${version}-${kind}`);
      const r = await runCli(['download', magnet, '-o', out, '--save-torrent', saved, '--peer', `127.0.0.1:${lt.port}`, '--no-dht', '--port', '0', '--bind', '127.0.0.1', '--json', '--timeout', '45s'], { timeoutMs: 90_000 });
      expect(r.code, r.stderr + r.stdout.slice(-2000)).toBe(0);
      expect(await differences(f, out)).toEqual([]);
      const events = ndjson(r.stdout);
      expect(events.filter((e) => e.type === 'torrent-saved').at(-1)).toMatchObject({ path: saved, pieceLayers: true });
      expect(events.at(-1).result).toMatchObject({ reason: 'complete', torrentFile: saved, torrentPieceLayers: true });
      expect(events.some((e) => e.type === 'piece-failed')).toBe(false);
      await expectWholeV2Torrent(saved, f);
    } finally {
      await lt.stop();
    }
  }, 150_000);

  it('a v2 .torrent without piece layers (the info dictionary alone) downloads too: the layers are fetched before any block', async () => {
    const f = fixtures.get('v2-tree')!;
    const lt = await startLtSeeder(f.torrent, f.seedDir, { seconds: 150 });
    labs.push(lt);
    try {
      const bare = join(root, 'no-layers.torrent');
      await writeFile(bare, buildTorrentFile({ info: f.meta.infoBytes }));
      const common = ['--peer', `127.0.0.1:${lt.port}`, '--no-dht', '--port', '0', '--bind', '127.0.0.1', '--json', '--timeout', '45s'];
      // btkit reads its piece layers as missing.
      const inspect = await runCli(['inspect', bare, '--json']);
      expect(JSON.parse(inspect.stdout).result.pieceLayers.filter((l: { status: string }) => l.status === 'missing').length).toBeGreaterThan(0);
      const out = join(root, 'from-bare');
      const r = await runCli(['download', bare, '-o', out, ...common], { timeoutMs: 90_000 });
      expect(r.code, `${r.stderr}${r.stdout.slice(-3000)}`).toBe(0);
      expect(await differences(f, out)).toEqual([]);
      const events = ndjson(r.stdout);
      expect(events.some((e) => e.type === 'piece-layers')).toBe(true);
      // Requests waited for the layers: no piece failed, nobody was banned.
      expect(events.some((e) => e.type === 'piece-failed' || e.type === 'peer-banned')).toBe(false);
    } finally {
      await lt.stop();
    }
  }, 150_000);
});
