/**
 * uTP (BEP 29) against libtorrent, the reference, on 127.0.0.1 (issue 10):
 * - btkit downloads from a libtorrent seeder that speaks uTP only (`lt_seed.py --utp-only`), with
 *   `--transport utp` and with the default (both);
 * - a libtorrent leecher in uTP-only mode (`lt_get.py --utp-only`) downloads from `btkit seed`;
 * - btkit ↔ btkit over uTP only;
 * - mixed swarms: btkit (both) downloads from a TCP-only and a uTP-only libtorrent seeder at
 *   once, over the one transport each speaks; btkit seed serves a TCP-only and a uTP-only
 *   libtorrent leecher at once;
 * - the time to connect to a TCP-only seeder with `--transport both` (reported, not asserted).
 * Single-file and multi-file torrents (pieces across file boundaries, an empty file); every file
 * byte-identical; every connection's transport read from the `--json` events.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../helpers/cli.js';
import { type TrackedFixtures, downloadIdentical, startTrackedFixtures } from '../helpers/download-interop.js';
import { interopAvailable } from '../helpers/interop.js';
import { ltResult, runToEnd } from '../helpers/magnet-interop.js';
import { LAB, SYSTEM_PYTHON, differences, freePort, startLtSeeder } from '../lab/download-lab.js';
import { type CliProcess, startCli, stopAll } from '../swarm/swarm-lab.js';

const KINDS = ['single', 'multi'] as const;
const isLibtorrent = (peerIdHex: string) => Buffer.from(peerIdHex, 'hex').toString('latin1').startsWith('-LT');

describe.skipIf(!interopAvailable('libtorrent', 'opentracker'))('uTP with libtorrent', () => {
  let lab: TrackedFixtures;
  const procs: CliProcess[] = [];

  beforeAll(async () => {
    ensureBuilt();
    lab = await startTrackedFixtures('btkit-utp-lt-', ['single', 'multi']);
  }, 60_000);

  afterAll(async () => {
    await stopAll(procs);
    await lab?.stop();
  });

  it.each(KINDS.flatMap((kind) => (['utp', 'both'] as const).map((mode) => [kind, mode] as const)))(
    'btkit downloads a %s-file torrent from a uTP-only libtorrent seeder (--transport %s)',
    async (kind, mode) => {
      const f = lab.fixtures[kind]!;
      const seeder = await startLtSeeder(f.torrent, f.seedDir, { transport: 'utp' });
      try {
        const events = await downloadIdentical(f, join(lab.root, `out-lt-utp-${kind}-${mode}`), ['--peer', `127.0.0.1:${seeder.port}`, '--transport', mode, '--no-dht']);
        expect(events.at(-1)).toMatchObject({ ok: true, result: { reason: 'complete', downloaded: f.meta.totalLength } });
        const connected = events.filter((e) => e.type === 'peer-connected');
        expect(connected.length).toBeGreaterThan(0);
        expect(connected.every((e) => e.transport === 'utp' && isLibtorrent(e.peerId))).toBe(true);
      } finally {
        await seeder.stop();
      }
    },
  );

  it.each(KINDS)('a uTP-only libtorrent leecher downloads a %s-file torrent from btkit seed', async (kind) => {
    const f = lab.fixtures[kind]!;
    const seed = startCli(['seed', f.torrent, f.content, '--port', '0', '--host', '127.0.0.1', '--json', '--no-dht', '--no-pex']);
    procs.push(seed);
    try {
      const started = await seed.waitFor((e) => e.type === 'started', 30_000, 'the seed\'s start');
      const out = join(lab.root, `out-btkit-seed-${kind}`);
      const r = await runToEnd(SYSTEM_PYTHON, [join(LAB, 'lt_get.py'), f.torrent, out, '--utp-only', '--no-tracker', '--peer', `127.0.0.1:${started.listen.port}`, '--port', String(await freePort()), '--timeout', '50', '--json'], 60_000);
      expect(r.code, `${r.output}\nseed:\n${seed.stderr()}`).toBe(0);
      expect(ltResult(r.output)).toMatchObject({ ok: true, transport: 'utp' });
      expect(await differences(f, out)).toEqual([]);
      const { code } = await seed.stop('SIGINT');
      expect(code, seed.stderr()).toBe(0);
      expect(seed.events.at(-1).result.uploaded).toBeGreaterThanOrEqual(f.meta.totalLength);
      const lt = seed.events.filter((e) => e.type === 'peer-connected' && isLibtorrent(e.peerId));
      expect(lt.length).toBeGreaterThan(0);
      expect(lt.every((e) => e.transport === 'utp')).toBe(true);
    } finally {
      await seed.stop();
    }
  });

  it.each(KINDS)('btkit downloads a %s-file torrent from btkit seed over uTP only', async (kind) => {
    const f = lab.fixtures[kind]!;
    const seed = startCli(['seed', f.torrent, f.content, '--port', '0', '--host', '127.0.0.1', '--json', '--no-dht', '--no-pex', '--transport', 'utp']);
    procs.push(seed);
    try {
      const started = await seed.waitFor((e) => e.type === 'started', 30_000, 'the seed\'s start');
      const events = await downloadIdentical(f, join(lab.root, `out-btkit-btkit-${kind}`), ['--peer', `127.0.0.1:${started.listen.port}`, '--transport', 'utp', '--no-dht', '--no-pex']);
      const connected = events.filter((e) => e.type === 'peer-connected');
      expect(connected.length).toBeGreaterThan(0);
      expect(connected.every((e) => e.transport === 'utp')).toBe(true);
      const { code } = await seed.stop('SIGINT');
      expect(code, seed.stderr()).toBe(0);
      expect(seed.events.filter((e) => e.type === 'peer-connected').every((e) => e.transport === 'utp')).toBe(true);
    } finally {
      await seed.stop();
    }
  });

  it('a mixed swarm: btkit (both) downloads from a TCP-only and a uTP-only libtorrent seeder, each over its transport', async () => {
    const f = lab.fixtures.single!;
    const tcpSeed = await startLtSeeder(f.torrent, f.seedDir, { transport: 'tcp' });
    const utpSeed = await startLtSeeder(f.torrent, f.seedDir, { transport: 'utp' });
    try {
      // 3 MiB at 1 MiB/s: long enough that both seeders are asked for pieces before it completes.
      const events = await downloadIdentical(f, join(lab.root, 'out-mixed'), ['--peer', `127.0.0.1:${tcpSeed.port}`, '--peer', `127.0.0.1:${utpSeed.port}`, '--no-dht', '--download-limit', '1MiB']);
      const connected = events.filter((e) => e.type === 'peer-connected');
      expect(connected.find((e) => e.peer === `127.0.0.1:${tcpSeed.port}`)).toMatchObject({ transport: 'tcp' });
      expect(connected.find((e) => e.peer === `127.0.0.1:${utpSeed.port}`)).toMatchObject({ transport: 'utp' });
      // Data came over both transports.
      const fromTcp = events.filter((e) => e.type === 'peer-dropped' && e.peer === `127.0.0.1:${tcpSeed.port}`).reduce((n, e) => n + e.downloaded, 0);
      const fromUtp = events.filter((e) => e.type === 'peer-dropped' && e.peer === `127.0.0.1:${utpSeed.port}`).reduce((n, e) => n + e.downloaded, 0);
      expect(fromTcp).toBeGreaterThan(0);
      expect(fromUtp).toBeGreaterThan(0);
    } finally {
      await Promise.all([tcpSeed.stop(), utpSeed.stop()]);
    }
  });

  it('a mixed swarm: btkit seed (both) serves a TCP-only and a uTP-only libtorrent leecher at once', async () => {
    const f = lab.fixtures.single!;
    const seed = startCli(['seed', f.torrent, f.content, '--port', '0', '--host', '127.0.0.1', '--json', '--no-dht', '--no-pex']);
    procs.push(seed);
    try {
      const started = await seed.waitFor((e) => e.type === 'started', 30_000, 'the seed\'s start');
      const leech = async (mode: 'tcp' | 'utp') => {
        const out = join(lab.root, `out-mixed-seed-${mode}`);
        const r = await runToEnd(SYSTEM_PYTHON, [join(LAB, 'lt_get.py'), f.torrent, out, `--${mode}-only`, '--no-tracker', '--no-pex', '--peer', `127.0.0.1:${started.listen.port}`, '--port', String(await freePort()), '--timeout', '50', '--json'], 60_000);
        expect(r.code, `${r.output}\nseed:\n${seed.stderr()}`).toBe(0);
        expect(ltResult(r.output)).toMatchObject({ ok: true, transport: mode });
        expect(await differences(f, out)).toEqual([]);
      };
      await Promise.all([leech('tcp'), leech('utp')]);
      const transports = new Set(seed.events.filter((e) => e.type === 'peer-connected' && isLibtorrent(e.peerId)).map((e) => e.transport));
      expect([...transports].sort()).toEqual(['tcp', 'utp']);
      const { code } = await seed.stop('SIGINT');
      expect(code, seed.stderr()).toBe(0);
      expect(seed.events.at(-1).result.uploaded).toBeGreaterThanOrEqual(2 * f.meta.totalLength);
    } finally {
      await seed.stop();
    }
  });

  it('connecting to a TCP-only seeder with --transport both (time reported)', async () => {
    const f = lab.fixtures.single!;
    const seeder = await startLtSeeder(f.torrent, f.seedDir, { transport: 'tcp' });
    const out = join(lab.root, 'out-connect-time');
    const dl = startCli(['download', f.torrent, '-o', out, '--peer', `127.0.0.1:${seeder.port}`, '--port', '0', '--bind', '127.0.0.1', '--json', '--timeout', '30s', '--no-dht']);
    procs.push(dl);
    try {
      await dl.waitFor((e) => e.type === 'started', 30_000, 'the start');
      const t0 = performance.now();
      const first = await dl.waitFor((e) => e.type === 'peer-connected', 30_000, 'a connection');
      const connectMs = performance.now() - t0;
      expect(first).toMatchObject({ transport: 'tcp', peer: `127.0.0.1:${seeder.port}` });
      const { code } = await dl.exited;
      expect(code, dl.stderr()).toBe(0);
      expect(await differences(f, out)).toEqual([]);
      console.info(`btkit --transport both: connected to a TCP-only libtorrent seeder ${connectMs.toFixed(0)} ms after 'started'`);
    } finally {
      await Promise.all([dl.stop(), seeder.stop()]);
    }
  });
});
