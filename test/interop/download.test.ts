/**
 * `btkit download` against a real libtorrent seeder (test/lab/lt_seed.py, TCP only) on loopback:
 * a single-file torrent and a multi-file one (pieces spanning file boundaries, an empty file),
 * the seeder given with --peer and found through opentracker. Every file must come out
 * byte-identical.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../helpers/cli.js';
import { type TrackedFixtures, downloadIdentical, startTrackedFixtures } from '../helpers/download-interop.js';
import { interopAvailable } from '../helpers/interop.js';
import { startLtSeeder } from '../lab/download-lab.js';

describe.skipIf(!interopAvailable('libtorrent', 'opentracker'))('btkit download from libtorrent', () => {
  let lab: TrackedFixtures;

  beforeAll(async () => {
    ensureBuilt();
    lab = await startTrackedFixtures('btkit-dl-lt-', ['single', 'multi']);
  }, 60_000);

  afterAll(() => lab?.stop());

  it.each(['single', 'multi'])('%s-file torrent from a libtorrent seeder given with --peer', async (kind) => {
    const f = lab.fixtures[kind]!;
    const seeder = await startLtSeeder(f.torrent, f.seedDir);
    try {
      const events = await downloadIdentical(f, join(lab.root, `out-peer-${kind}`), ['--peer', `127.0.0.1:${seeder.port}`]);
      // --peer alone: no tracker was asked.
      expect(events.filter((e) => e.type === 'tracker')).toEqual([]);
      const summary = events.at(-1);
      expect(summary).toMatchObject({ ok: true, result: { reason: 'complete', doneBytes: f.meta.totalLength, downloaded: f.meta.totalLength } });
      expect(events.some((e) => e.type === 'peer-connected' && e.peer === `127.0.0.1:${seeder.port}`)).toBe(true);
    } finally {
      await seeder.stop();
    }
  });

  it.each(['single', 'multi'])('%s-file torrent from a libtorrent seeder found through opentracker', async (kind) => {
    const f = lab.fixtures[kind]!;
    const seeder = await startLtSeeder(f.torrent, f.seedDir, { tracker: true });
    try {
      const events = await downloadIdentical(f, join(lab.root, `out-tracker-${kind}`), []);
      const answers = events.filter((e) => e.type === 'tracker' && e.error === null);
      expect(answers.length).toBeGreaterThan(0);
      expect(answers[0]).toMatchObject({ url: lab.tracker.url, event: 'started' });
      // The peer came from the tracker, and it is libtorrent (never ourselves, whom opentracker lists too).
      // (libtorrent learns of us from the tracker too and may dial first: recognise it by its peer id.)
      const connected = events.filter((e) => e.type === 'peer-connected');
      expect(connected.some((e) => Buffer.from(e.peerId, 'hex').toString('latin1').startsWith('-LT'))).toBe(true);
      expect(connected.every((e) => e.source === 'tracker' || e.source === 'incoming')).toBe(true);
    } finally {
      await seeder.stop();
    }
  });
});
