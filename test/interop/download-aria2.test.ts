/**
 * `btkit download` against an aria2c seeder on loopback (aria2c cannot be told a peer: it
 * announces to opentracker, and btkit finds it there or is given its port with --peer), and from a
 * swarm of two different seeders at once (libtorrent and aria2c), each of which must deliver
 * part of the data. Every file must come out byte-identical.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, runCli } from '../helpers/cli.js';
import { interopAvailable } from '../helpers/interop.js';
import { type Fixture, type LabTracker, differences, makeFixture, ndjson, startAria2Seeder, startLtSeeder, startOpentracker } from '../lab/download-lab.js';

const peerIdText = (hex: string): string => Buffer.from(hex, 'hex').toString('latin1');

const BASE = ['--port', '0', '--bind', '127.0.0.1', '--json', '--timeout', '30s'];

describe.skipIf(!interopAvailable('aria2c', 'libtorrent', 'opentracker'))('btkit download from aria2c, and from two seeders at once', () => {
  let root: string;
  let tracker: LabTracker;
  const fixtures: Record<string, Fixture> = {};

  beforeAll(async () => {
    ensureBuilt();
    root = await mkdtemp(join(tmpdir(), 'btkit-dl-aria-'));
    tracker = await startOpentracker();
    for (const kind of ['single', 'multi', 'large'] as const) {
      fixtures[kind] = await makeFixture(root, kind, [[tracker.url]]);
      tracker.allow(fixtures[kind]!.meta.infoHash.v1!.toString('hex'));
    }
  }, 60_000);

  afterAll(async () => {
    tracker?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it.each(['single', 'multi'])('%s-file torrent from an aria2c seeder found through opentracker', async (kind) => {
    const f = fixtures[kind]!;
    const seeder = await startAria2Seeder(f.torrent, f.seedDir);
    try {
      const out = join(root, `out-tracker-${kind}`);
      const r = await runCli(['download', f.torrent, '-o', out, ...BASE], { timeoutMs: 60_000 });
      const events = ndjson(r.stdout);
      expect(r.code, r.stderr + r.stdout.slice(-2000)).toBe(0);
      expect(await differences(f, out)).toEqual([]);
      expect(events.some((e) => e.type === 'tracker' && e.error === null)).toBe(true);
      // aria2c may dial us first (it learns of us from the tracker too): recognise it by its peer id.
      expect(events.some((e) => e.type === 'peer-connected' && peerIdText(e.peerId).startsWith('A2-'))).toBe(true);
    } finally {
      await seeder.stop();
    }
  });

  it.each(['single', 'multi'])('%s-file torrent from an aria2c seeder given with --peer', async (kind) => {
    const f = fixtures[kind]!;
    const seeder = await startAria2Seeder(f.torrent, f.seedDir);
    try {
      const out = join(root, `out-peer-${kind}`);
      const r = await runCli(['download', f.torrent, '-o', out, '--peer', `127.0.0.1:${seeder.port}`, ...BASE], { timeoutMs: 60_000 });
      const events = ndjson(r.stdout);
      expect(r.code, r.stderr + r.stdout.slice(-2000)).toBe(0);
      expect(await differences(f, out)).toEqual([]);
      expect(events.filter((e) => e.type === 'tracker')).toEqual([]);
      expect(events.at(-1)).toMatchObject({ ok: true, result: { doneBytes: f.meta.totalLength } });
    } finally {
      await seeder.stop();
    }
  });

  it('a swarm of two different seeders at once: libtorrent and aria2c both deliver', async () => {
    const f = fixtures.large!;
    const lt = await startLtSeeder(f.torrent, f.seedDir, { tracker: true });
    const aria = await startAria2Seeder(f.torrent, f.seedDir);
    try {
      const out = join(root, 'out-swarm');
      // A download limit stretches the transfer over a few seconds, so neither seeder can do it all
      // before the other is connected.
      const r = await runCli(['download', f.torrent, '-o', out, '--peer', `127.0.0.1:${lt.port}`, '--peer', `127.0.0.1:${aria.port}`, '--tracker', '--download-limit', '6MiB', ...BASE], {
        timeoutMs: 80_000,
      });
      const events = ndjson(r.stdout);
      expect(r.code, r.stderr + r.stdout.slice(-2000)).toBe(0);
      expect(await differences(f, out)).toEqual([]);
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
