/**
 * Issue 9, acceptance 1–3 (required in CI): magnet links between btkit and the reference clients,
 * on 127.0.0.1 only. Nobody here is given a .torrent but the seeders:
 * 1. libtorrent (lt_get.py with a magnet, btkit in x.pe) and aria2c (a magnet whose tr is a
 *    `btkit tracker`) download from `btkit seed`, the metadata included (BEP 9);
 * 2. btkit downloads a magnet from a libtorrent seeder (a) through tr (opentracker, which both
 *    announce to), (b) through x.pe alone, (c) through a private libtorrent DHT alone;
 * 3. --metadata-only --save-torrent writes a .torrent whose info dictionary is the original's, byte
 *    for byte; with nobody to ask it exits 8 (NO_METADATA) once --timeout has passed.
 * Every download must come out byte-identical; the events say where peers and metadata came from.
 */
import { createHash } from 'node:crypto';
import { chmod, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, runCli } from '../helpers/cli.js';
import { interopAvailable } from '../helpers/interop.js';
import { freePortRange, infoSlice, ltResult, magnetLink, runToEnd } from '../helpers/magnet-interop.js';
import {
  type Fixture,
  LAB,
  type LabProcess,
  type LabTracker,
  SYSTEM_PYTHON,
  aria2LoopbackFlags,
  differences,
  freePort,
  makeFixture,
  ndjson,
  startLabScript,
  startLtSeeder,
  startOpentracker,
} from '../lab/download-lab.js';
import { type CliProcess, startBtkitTracker, startCli, stopAll } from '../swarm/swarm-lab.js';

/** Loopback only, NDJSON, and a bound on how long a download may go without data or metadata. */
const LOOPBACK = ['--port', '0', '--host', '127.0.0.1', '--json'];
const hex = (f: Fixture) => f.meta.infoHash.v1!.toString('hex');
const peerIdText = (id: string) => Buffer.from(id, 'hex').toString('latin1');

/** `btkit download MAGNET -o out …`: its exit code, its NDJSON events and what it printed. */
async function btkitDownload(source: string, out: string, args: string[], timeoutMs = 60_000) {
  const r = await runCli(['download', source, '-o', out, ...args, ...LOOPBACK], { timeoutMs });
  return { ...r, events: ndjson(r.stdout), why: `exit ${r.code}\nstderr:\n${r.stderr.slice(-2000)}\nstdout:\n${r.stdout.slice(-3000)}` };
}

describe.skipIf(!interopAvailable('libtorrent', 'aria2c', 'opentracker'))('magnet links: btkit ⇄ libtorrent and aria2c', () => {
  let root: string;
  let ot: LabTracker;
  let bt: { proc: CliProcess; url: string };
  /** No trackers: found through x.pe only. */
  let plain: Fixture;
  /** Announced to opentracker (whitelisted). */
  let tracked: Fixture;
  /** Announced to `btkit tracker`, multi-file. */
  let btTracked: Fixture;
  /** libtorrent seeding `tracked`, announcing to opentracker. */
  let ltSeed: LabProcess;
  const procs: CliProcess[] = [];

  beforeAll(async () => {
    ensureBuilt();
    root = await mkdtemp(join(tmpdir(), 'btkit-magnet-interop-'));
    ot = await startOpentracker();
    bt = await startBtkitTracker();
    plain = await makeFixture(root, 'multi', [], 'plain');
    tracked = await makeFixture(root, 'single', [[ot.url]], 'tracked.bin');
    ot.allow(hex(tracked));
    btTracked = await makeFixture(root, 'multi', [[bt.url]], 'bt-tracked');
    ltSeed = await startLtSeeder(tracked.torrent, tracked.seedDir, { tracker: true, seconds: 150 });
  }, 60_000);

  afterAll(async () => {
    await stopAll([...procs, bt?.proc]);
    await ltSeed?.stop();
    ot?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  /** `btkit seed` of `f` on 127.0.0.1; resolves once it listens (and, with a tracker, announced). */
  async function btkitSeed(f: Fixture, announced: boolean): Promise<{ seed: CliProcess; port: number }> {
    const seed = startCli(['seed', f.torrent, f.content, ...LOOPBACK]);
    procs.push(seed);
    const started = await seed.waitFor((e) => e.type === 'started', 20_000, 'the started event');
    if (announced) await seed.waitFor((e) => e.type === 'tracker' && e.event === 'started' && e.error === null, 20_000, "the seed's announce");
    return { seed, port: started.listen.port as number };
  }

  /** Stop the seed (SIGINT: a clean exit 0) and check it was the leecher's one source. */
  async function seedServedAll(seed: CliProcess, f: Fixture, clientTag: string): Promise<void> {
    const { code } = await seed.stop('SIGINT');
    expect(code, seed.stderr()).toBe(0);
    expect(seed.events.at(-1).result.uploaded).toBeGreaterThanOrEqual(f.meta.totalLength);
    expect(seed.events.some((e) => e.type === 'peer-connected' && peerIdText(e.peerId).startsWith(clientTag))).toBe(true);
  }

  it('1. libtorrent downloads a magnet (btkit in x.pe) from btkit seed: metadata and data from btkit', async () => {
    const { seed, port } = await btkitSeed(plain, false);
    try {
      const out = join(root, 'out-lt-from-btkit');
      const magnet = magnetLink(hex(plain), { name: 'plain', peers: [`127.0.0.1:${port}`] });
      const r = await runToEnd(SYSTEM_PYTHON, [join(LAB, 'lt_get.py'), magnet, out, '--tcp-only', '--port', String(await freePort()), '--timeout', '50', '--json', '--peer-log'], 60_000);
      expect(r.code, `${r.output}\nseed:\n${seed.stderr()}`).toBe(0);
      const result = ltResult(r.output);
      // metadata_received_alert fired: libtorrent had no .torrent, it got the info dictionary from a peer…
      expect(result.metadata_s, r.output).toEqual(expect.any(Number));
      expect(result.infohash).toBe(hex(plain));
      // …and its only peer was btkit.
      expect(result.peer_log!.map((p) => p.addr)).toEqual([`127.0.0.1:${port}`]);
      expect(await differences(plain, out)).toEqual([]);
      await seedServedAll(seed, plain, '-LT');
    } finally {
      await seed.stop();
    }
  });

  it('1. aria2c downloads a magnet (tr: a btkit tracker) from btkit seed', async () => {
    const { seed } = await btkitSeed(btTracked, true);
    try {
      const out = join(root, 'out-aria2-from-btkit');
      const magnet = magnetLink(hex(btTracked), { trackers: [bt.url] });
      const r = await runToEnd(
        'aria2c',
        [
          ...aria2LoopbackFlags(await freePort()),
          '--no-conf',
          '--seed-time=0',
          '--file-allocation=none',
          '--summary-interval=0',
          '--console-log-level=warn',
          '--bt-stop-timeout=50',
          '--bt-tracker-interval=2',
          '-d',
          out,
          magnet,
        ],
        60_000,
      );
      expect(r.code, `${r.output}\nseed:\n${seed.stderr()}`).toBe(0);
      expect(await differences(btTracked, out)).toEqual([]);
      await seedServedAll(seed, btTracked, 'A2-');
    } finally {
      await seed.stop();
    }
  });

  it('2a. btkit downloads a magnet from a libtorrent seeder found through tr (opentracker)', async () => {
    const out = join(root, 'out-tr');
    const r = await btkitDownload(magnetLink(hex(tracked), { trackers: [ot.url] }), out, ['--timeout', '30s']);
    expect(r.code, r.why).toBe(0);
    expect(await differences(tracked, out)).toEqual([]);
    expect(r.events.find((e) => e.type === 'metadata-wanted')).toBeDefined();
    expect(r.events.some((e) => e.type === 'tracker' && e.url === ot.url && e.error === null)).toBe(true);
    // libtorrent may dial us first (it re-announces every 2 s and learns of us too): either way
    // the peer is libtorrent, and it came from the tracker.
    const lt = r.events.filter((e) => e.type === 'peer-connected' && peerIdText(e.peerId).startsWith('-LT'));
    expect(lt.length, r.why).toBeGreaterThan(0);
    expect(lt.every((e) => e.source === 'tracker' || e.source === 'incoming')).toBe(true);
    // The metadata came whole, from libtorrent (the only peer with it: nobody else announced it).
    const meta = r.events.find((e) => e.type === 'metadata');
    expect(meta, r.why).toMatchObject({ size: tracked.meta.infoBytes.length });
    expect(meta.peers.length).toBeGreaterThan(0);
    for (const p of meta.peers) expect(lt.map((e) => e.peer)).toContain(p);
    expect(r.events.at(-1)).toMatchObject({ ok: true, result: { reason: 'complete', doneBytes: tracked.meta.totalLength } });
  });

  it('2b. btkit downloads a magnet from a libtorrent seeder given in x.pe alone', async () => {
    const out = join(root, 'out-xpe');
    const r = await btkitDownload(magnetLink(hex(tracked), { peers: [`127.0.0.1:${ltSeed.port}`] }), out, ['--timeout', '30s']);
    expect(r.code, r.why).toBe(0);
    expect(await differences(tracked, out)).toEqual([]);
    expect(r.events.find((e) => e.type === 'metadata')?.peers).toEqual([`127.0.0.1:${ltSeed.port}`]);
    // No tracker was asked (the magnet has none), and the one peer is the x.pe address.
    expect(r.events.filter((e) => e.type === 'tracker' || e.type === 'dht')).toEqual([]);
    const connected = r.events.filter((e) => e.type === 'peer-connected');
    expect(connected.map((e) => e.peer)).toContain(`127.0.0.1:${ltSeed.port}`);
    expect(connected.find((e) => e.peer === `127.0.0.1:${ltSeed.port}`)).toMatchObject({ source: 'manual', direction: 'outgoing' });
  });

  it('3. --metadata-only --save-torrent from a libtorrent seeder: the info dictionary byte for byte', async () => {
    const out = join(root, 'out-meta-only');
    const file = join(root, 'saved', 'from-magnet.torrent');
    const r = await btkitDownload(magnetLink(hex(tracked), { peers: [`127.0.0.1:${ltSeed.port}`] }), out, ['--metadata-only', '--save-torrent', file, '--timeout', '30s']);
    expect(r.code, r.why).toBe(0);
    expect(r.events.find((e) => e.type === 'torrent-saved')).toMatchObject({ path: expect.stringContaining('from-magnet.torrent') });
    expect(r.events.at(-1)).toMatchObject({ ok: true, result: { reason: 'metadata' } });
    const saved = await readFile(file);
    const info = infoSlice(saved);
    expect(createHash('sha1').update(info).digest('hex')).toBe(hex(tracked));
    expect(info.equals(infoSlice(await readFile(tracked.torrent)))).toBe(true);
    // Metadata only: no data was written.
    expect(await readdir(out).catch(() => [])).not.toContain('tracked.bin');
  });

  it('3. --metadata-only with nobody to ask (x.pe is a closed port) exits 8, NO_METADATA, after --timeout', async () => {
    const closed = await freePort();
    const r = await btkitDownload(magnetLink(hex(tracked), { peers: [`127.0.0.1:${closed}`] }), join(root, 'out-nobody'), ['--metadata-only', '--save-torrent', join(root, 'never.torrent'), '--timeout', '3s'], 30_000);
    expect(r.timedOut).toBe(false);
    expect(r.code, r.why).toBe(8);
    expect(r.events.at(-1), r.why).toMatchObject({ ok: false, error: { code: 'NO_METADATA', exitCode: 8 } });
    expect(await readFile(join(root, 'never.torrent')).catch(() => null)).toBeNull();
  });
});

describe.skipIf(!interopAvailable('libtorrent'))('magnet links: btkit finds a libtorrent seeder through a private libtorrent DHT alone', () => {
  let root: string;
  let f: Fixture;
  const labs: LabProcess[] = [];
  let nodes: string[];
  let seederPort: number;

  beforeAll(async () => {
    ensureBuilt();
    root = await mkdtemp(join(tmpdir(), 'btkit-magnet-dht-'));
    await chmod(root, 0o755);
    f = await makeFixture(root, 'multi', [], 'dht');
    const base = await freePortRange(10);
    seederPort = base + 8;
    // 8 DHT nodes (libtorrent's per-IP DHT rate limits lifted: every node here is 127.0.0.1).
    const dht = await startLabScript('lt_dht.py', ['serve', '--nodes', '8', '--base-port', String(base), '--seconds', '150', '--set', 'dht_block_ratelimit=100000', '--set', 'dht_upload_rate_limit=100000000'], /^NODES (\S+)/m, 45_000);
    labs.push(dht);
    nodes = dht.match[1]!.split(',');
    expect(nodes).toHaveLength(8);
    const seeder = await startLabScript('lt_seed_dht.py', [f.torrent, f.seedDir, '--tcp-only', '--port', String(seederPort), '--no-tracker', '--dht', nodes.slice(0, 2).join(','), '--seconds', '150'], /READY infohash=/, 30_000);
    labs.push(seeder);
  }, 90_000);

  afterAll(async () => {
    for (const l of labs.splice(0).reverse()) await l.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('2c. a magnet with neither tr nor x.pe, --bootstrap to one lab node: peers from the DHT, byte-identical', async () => {
    // The seeder announces once its own DHT lookup is done; btkit looks up again (get_peers
    // every few seconds) within its --timeout, so no wait is needed here beyond that bound.
    const out = join(root, 'out-dht');
    const state = join(root, 'dht-state.json');
    const r = await btkitDownload(magnetLink(hex(f)), out, ['--bootstrap', nodes[3]!, '--dht-state', state, '--timeout', '45s'], 75_000);
    expect(r.code, r.why).toBe(0);
    expect(await differences(f, out)).toEqual([]);
    const seederAddr = `127.0.0.1:${seederPort}`;
    expect(r.events.find((e) => e.type === 'metadata')?.peers, r.why).toContain(seederAddr);
    expect(r.events.find((e) => e.type === 'peer-connected' && e.peer === seederAddr), r.why).toMatchObject({ source: 'dht' });
    expect(r.events.filter((e) => e.type === 'tracker')).toEqual([]);
  });
});
