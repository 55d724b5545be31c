/**
 * The harness the download interop suites share: a scratch directory with an opentracker that
 * whitelists one fixture per kind, and a `btkit download` run that must exit 0 with every file
 * byte-identical to the original.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { type Fixture, type LabTracker, differences, makeFixture, ndjson, startOpentracker } from '../lab/download-lab.js';
import { runCli } from './cli.js';

/** Loopback only, machine-readable output, and a bound on how long a download may stall. */
const DOWNLOAD_FLAGS = ['--port', '0', '--bind', '127.0.0.1', '--json', '--timeout', '30s'];

export interface TrackedFixtures {
  root: string;
  tracker: LabTracker;
  fixtures: Record<string, Fixture>;
  /** Stops the tracker and removes the directory. */
  stop(): Promise<void>;
}

/** A fresh directory (named after `prefix`), opentracker, and a fixture of each kind announced to it and allowed. */
export async function startTrackedFixtures(prefix: string, kinds: readonly ('single' | 'multi' | 'large')[]): Promise<TrackedFixtures> {
  const root = await mkdtemp(join(tmpdir(), prefix));
  let tracker: LabTracker | undefined;
  const stop = async () => {
    tracker?.stop();
    await rm(root, { recursive: true, force: true });
  };
  try {
    tracker = await startOpentracker();
    const fixtures: Record<string, Fixture> = {};
    for (const kind of kinds) {
      fixtures[kind] = await makeFixture(root, kind, [[tracker.url]]);
      tracker.allow(fixtures[kind]!.meta.infoHash.v1!.toString('hex'));
    }
    return { root, tracker, fixtures, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/**
 * `btkit download` of `fixture` into `out` with `args` (peers, limits) before the common flags;
 * fails the test unless it exits 0 with every file byte-identical. Returns its NDJSON events.
 */
export async function downloadIdentical(fixture: Fixture, out: string, args: string[], timeoutMs = 60_000): Promise<any[]> {
  const r = await runCli(['download', fixture.torrent, '-o', out, ...args, ...DOWNLOAD_FLAGS], { timeoutMs });
  expect(r.code, r.stderr + r.stdout.slice(-2000)).toBe(0);
  expect(await differences(fixture, out)).toEqual([]);
  return ndjson(r.stdout);
}
