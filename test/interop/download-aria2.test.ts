/**
 * `btkit download` against an aria2c seeder on loopback (aria2c cannot be told a peer: it
 * announces to opentracker, and btkit finds it there or is given its port with --peer), and from a
 * swarm of two different seeders at once (libtorrent and aria2c), each of which must deliver
 * part of the data. Every file must come out byte-identical.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../helpers/cli.js';
import { type TrackedFixtures, downloadIdentical, startTrackedFixtures } from '../helpers/download-interop.js';
import { interopAvailable } from '../helpers/interop.js';
import { startAria2Seeder, startLtSeeder } from '../lab/download-lab.js';

const peerIdText = (hex: string): string => Buffer.from(hex, 'hex').toString('latin1');

describe.skipIf(!interopAvailable('aria2c', 'libtorrent', 'opentracker'))('btkit download from aria2c, and from two seeders at once', () => {
  let lab: TrackedFixtures;

  beforeAll(async () => {
    ensureBuilt();
    lab = await startTrackedFixtures('btkit-dl-aria-', ['single', 'multi', 'large']);
  }, 60_000);

  afterAll(() => lab?.stop());

  it.each(['single', 'multi'])('%s-file torrent from an aria2c seeder found through opentracker', async (kind) => {
    const f = lab.fixtures[kind]!;
    const seeder = await startAria2Seeder(f.torrent, f.seedDir);
    try {
      const events = await downloadIdentical(f, join(lab.root, `out-tracker-${kind}`), []);
      expect(events.some((e) => e.type === 'tracker' && e.error === null)).toBe(true);
      // aria2c may dial us first (it learns of us from the tracker too): recognise it by its peer id.
      expect(events.some((e) => e.type === 'peer-connected' && peerIdText(e.peerId).startsWith('A2-'))).toBe(true);
    } finally {
      await seeder.stop();
    }
  });

  it.each(['single', 'multi'])('%s-file torrent from an aria2c seeder given with --peer', async (kind) => {
    const f = lab.fixtures[kind]!;
    const seeder = await startAria2Seeder(f.torrent, f.seedDir);
    try {
      const events = await downloadIdentical(f, join(lab.root, `out-peer-${kind}`), ['--peer', `127.0.0.1:${seeder.port}`]);
      expect(events.filter((e) => e.type === 'tracker')).toEqual([]);
      expect(events.at(-1)).toMatchObject({ ok: true, result: { doneBytes: f.meta.totalLength } });
    } finally {
      await seeder.stop();
    }
  });

  it('a swarm of two different seeders at once: libtorrent and aria2c both deliver', async () => {
    const f = lab.fixtures.large!;
    const lt = await startLtSeeder(f.torrent, f.seedDir, { tracker: true });
    const aria = await startAria2Seeder(f.torrent, f.seedDir);
    try {
      // A download limit stretches the transfer over a few seconds, so neither seeder can do it all
      // before the other is connected.
      const events = await downloadIdentical(f, join(lab.root, 'out-swarm'), ['--peer', `127.0.0.1:${lt.port}`, '--peer', `127.0.0.1:${aria.port}`, '--torrent-trackers', '--download-limit', '6MiB'], 80_000);
      // Bytes delivered per client, by peer id (either side may have dialed).
      const delivered = new Map<string, number>();
      for (const e of events) if (e.type === 'peer-dropped') delivered.set(peerIdText(e.peerId).slice(0, 3), (delivered.get(peerIdText(e.peerId).slice(0, 3)) ?? 0) + e.downloaded);
      expect(delivered.get('-LT') ?? 0, JSON.stringify([...delivered])).toBeGreaterThan(0);
      expect(delivered.get('A2-') ?? 0, JSON.stringify([...delivered])).toBeGreaterThan(0);
      const total = [...delivered.values()].reduce((a, b) => a + b, 0);
      expect(total).toBeGreaterThanOrEqual(f.meta.totalLength);
    } finally {
      await Promise.all([lt.stop(), aria.stop()]);
    }
  });
});
