/**
 * `btkit download` against a real libtorrent seeder (test/lab/lt_seed.py, TCP only) on loopback:
 * a single-file torrent and a multi-file one (pieces spanning file boundaries, an empty file),
 * the seeder given with --peer and found through opentracker. Every file must come out
 * byte-identical.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, runCli } from '../helpers/cli.js';
import { interopAvailable } from '../helpers/interop.js';
import { type Fixture, type LabTracker, differences, makeFixture, ndjson, startLtSeeder, startOpentracker } from '../lab/download-lab.js';

const BASE = ['--port', '0', '--bind', '127.0.0.1', '--json', '--timeout', '30s'];

describe.skipIf(!interopAvailable('libtorrent', 'opentracker'))('btkit download from libtorrent', () => {
  let root: string;
  let tracker: LabTracker;
  const fixtures: Record<string, Fixture> = {};

  beforeAll(async () => {
    ensureBuilt();
    root = await mkdtemp(join(tmpdir(), 'btkit-dl-lt-'));
    tracker = await startOpentracker();
    for (const kind of ['single', 'multi'] as const) {
      fixtures[kind] = await makeFixture(root, kind, [[tracker.url]]);
      tracker.allow(fixtures[kind]!.meta.infoHash.v1!.toString('hex'));
    }
  }, 60_000);

  afterAll(async () => {
    tracker?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it.each(['single', 'multi'])('%s-file torrent from a libtorrent seeder given with --peer', async (kind) => {
    const f = fixtures[kind]!;
    const seeder = await startLtSeeder(f.torrent, f.seedDir);
    try {
      const out = join(root, `out-peer-${kind}`);
      const r = await runCli(['download', f.torrent, '-o', out, '--peer', `127.0.0.1:${seeder.port}`, ...BASE], { timeoutMs: 60_000 });
      const events = ndjson(r.stdout);
      expect(r.code, r.stderr + r.stdout.slice(-2000)).toBe(0);
      expect(await differences(f, out)).toEqual([]);
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
    const f = fixtures[kind]!;
    const seeder = await startLtSeeder(f.torrent, f.seedDir, { tracker: true });
    try {
      const out = join(root, `out-tracker-${kind}`);
      const r = await runCli(['download', f.torrent, '-o', out, ...BASE], { timeoutMs: 60_000 });
      const events = ndjson(r.stdout);
      expect(r.code, r.stderr + r.stdout.slice(-2000)).toBe(0);
      expect(await differences(f, out)).toEqual([]);
      const answers = events.filter((e) => e.type === 'tracker' && e.error === null);
      expect(answers.length).toBeGreaterThan(0);
      expect(answers[0]).toMatchObject({ url: tracker.url, event: 'started' });
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
