/**
 * `btkit seed` alone serving real leechers on 127.0.0.1: libtorrent (test/lab/lt_get.py, TCP only)
 * and aria2c, each finding the seed through a tracker (opentracker, and `btkit tracker`),
 * single-file and multi-file torrents (pieces across file boundaries, an empty file). Every file
 * must come out byte-identical, and every byte must have come from btkit.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../helpers/cli.js';
import { interopAvailable } from '../helpers/interop.js';
import { runToEnd as runLeecher } from '../helpers/magnet-interop.js';
import { type Fixture, LAB, type LabTracker, SYSTEM_PYTHON, aria2LoopbackFlags, differences, freePort, makeFixture, startOpentracker } from '../lab/download-lab.js';
import { type CliProcess, startBtkitTracker, startCli, stopAll } from '../swarm/swarm-lab.js';

const leechers = {
  libtorrent: async (f: Fixture, out: string) => runLeecher(SYSTEM_PYTHON, [join(LAB, 'lt_get.py'), f.torrent, out, '--tcp-only', '--port', String(await freePort()), '--timeout', '50', '--json']),
  aria2c: async (f: Fixture, out: string) =>
    runLeecher('aria2c', [
      ...aria2LoopbackFlags(await freePort()),
      '--seed-time=0',
      '--file-allocation=none',
      '--summary-interval=0',
      '--console-log-level=warn',
      '--bt-stop-timeout=50',
      '-d',
      out,
      f.torrent,
    ]),
};

describe.skipIf(!interopAvailable('libtorrent', 'aria2c', 'opentracker'))('libtorrent and aria2c download from btkit seed alone', () => {
  let root: string;
  let ot: LabTracker;
  let bt: { proc: CliProcess; url: string };
  const fixtures: Record<string, Fixture> = {};
  const procs: CliProcess[] = [];

  beforeAll(async () => {
    ensureBuilt();
    root = await mkdtemp(join(tmpdir(), 'btkit-seed-interop-'));
    ot = await startOpentracker();
    bt = await startBtkitTracker();
    for (const kind of ['single', 'multi'] as const) {
      fixtures[`${kind}-opentracker`] = await makeFixture(root, kind, [[ot.url]], `${kind}-ot`);
      ot.allow(fixtures[`${kind}-opentracker`]!.meta.infoHash.v1!.toString('hex'));
      fixtures[`${kind}-btkit`] = await makeFixture(root, kind, [[bt.url]], `${kind}-bt`);
    }
  }, 60_000);

  afterAll(async () => {
    await stopAll([...procs, bt?.proc]);
    ot?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  const cases = (['libtorrent', 'aria2c'] as const).flatMap((leecher) => (['opentracker', 'btkit'] as const).flatMap((tracker) => (['single', 'multi'] as const).map((kind) => [leecher, tracker, kind] as const)));

  it.each(cases)('%s leecher, through %s tracker, %s-file torrent', async (leecher, tracker, kind) => {
    const f = fixtures[`${kind}-${tracker}`]!;
    const seed = startCli(['seed', f.torrent, f.content, '--port', '0', '--host', '127.0.0.1', '--json']);
    procs.push(seed);
    try {
      await seed.waitFor((e) => e.type === 'tracker' && e.event === 'started' && e.error === null, 20_000, 'the seed\'s announce');
      const out = join(root, `out-${leecher}-${tracker}-${kind}`);
      const r = await leechers[leecher](f, out);
      expect(r.code, `${r.output}\nseed:\n${seed.stderr()}`).toBe(0);
      expect(await differences(f, out)).toEqual([]);
      const { code } = await seed.stop('SIGINT');
      expect(code, seed.stderr()).toBe(0);
      const result = seed.events.at(-1).result;
      // The seed was the only source: it uploaded the whole torrent at least once.
      expect(result.uploaded).toBeGreaterThanOrEqual(f.meta.totalLength);
      const tag = leecher === 'libtorrent' ? '-LT' : 'A2-';
      expect(seed.events.some((e) => e.type === 'peer-connected' && Buffer.from(e.peerId, 'hex').toString('latin1').startsWith(tag))).toBe(true);
    } finally {
      await seed.stop();
    }
  });
});
