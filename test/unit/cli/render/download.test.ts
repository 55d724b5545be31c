/**
 * The download progress line (issue 13, item 4): it fits the terminal without losing the ETA, and
 * its bar looks like create's and verify's.
 */
import { describe, expect, it } from 'vitest';
import { downloadResult, progressLine, renderSummary } from '../../../../src/cli/render/download.js';
import { formatDuration } from '../../../../src/cli/render/format.js';
import type { DownloadOutcome, SessionStats } from '../../../../src/core/session/index.js';

const eta = `ETA ${formatDuration(5_000)}`;
const stats: SessionStats = {
  pieces: 4096,
  havePieces: 1700,
  totalBytes: 1024 ** 3,
  doneBytes: 430 * 1024 ** 2,
  downloaded: 430 * 1024 ** 2,
  uploaded: 12 * 1024 ** 2,
  wasted: 0,
  downloadedWebSeed: 0,
  downRate: 120.5 * 1024 ** 2,
  upRate: 1.25 * 1024 ** 2,
  peers: 12,
  seeds: 3,
  known: 40,
  webSeeds: 0,
  elapsedMs: 4000,
  etaMs: 5_000,
};

describe('download progress line', () => {
  it.each([80, 120, 200])('at %i columns: one column short of the width at most, ending with the whole ETA', (width) => {
    const line = progressLine(stats, width);
    expect(line.length).toBeLessThanOrEqual(width - 1);
    expect(line.length).toBeGreaterThanOrEqual(width - 2);
    expect(line.endsWith(eta)).toBe(true);
    expect(line).toContain('down 120.50 MiB/s');
  });

  it('draws its bar with the characters of create and verify (cli-progress shades_classic)', () => {
    const line = progressLine(stats, 120);
    expect(line).toMatch(/^\[█+░+\] {2}/);
    expect(line).not.toMatch(/[#-]{3}/);
  });

  it('counts web-seed bytes apart from peer bytes, beside the peers', () => {
    const line = progressLine({ ...stats, webSeeds: 1, downloadedWebSeed: 30 * 1024 ** 2 }, 200);
    expect(line).toContain('12 peers (3 seeds) + 1 web seed (30.00 MiB)');
    expect(line.endsWith(eta)).toBe(true);
    expect(progressLine(stats, 200)).not.toContain('web seed');
  });

  it('on a narrow terminal: no bar, and whole parts dropped (upload first), never a cut one', () => {
    const line = progressLine(stats, 60);
    expect(line.length).toBeLessThanOrEqual(59);
    expect(line.endsWith(eta)).toBe(true);
    expect(line).not.toMatch(/up /);
    expect(line.startsWith('[')).toBe(false);
  });
});

describe('download summary: download time and seeding time apart (issue 13 item 11)', () => {
  const outcome = (final: SessionStats & { reason: string }): DownloadOutcome => ({
    meta: null,
    outDir: '/tmp/x',
    selection: [],
    streamed: null,
    streamClosed: false,
    savedTorrent: null,
    savedTorrentLayers: null,
    final,
    started: undefined,
  });
  const completed: SessionStats = { ...stats, doneBytes: stats.totalBytes, downloaded: 1024 ** 3, elapsedMs: 2_000, etaMs: 0 };

  it('--seed --seed-time 3s: downloaded in the time to complete, seeded for the rest', () => {
    const r = downloadResult(outcome({ ...completed, elapsedMs: 5_000, reason: 'seed-time' }), 'ab'.repeat(20), { peersSeen: 1, banned: [], completed });
    expect(r).toMatchObject({ elapsedMs: 5_000, downloadMs: 2_000, seedMs: 3_000, averageRate: 512 * 1024 ** 2 });
    const lines = renderSummary(r);
    expect(lines).toContain(`downloaded  1.00 GiB in ${formatDuration(2_000)} (512.00 MiB/s)`);
    expect(lines).toContain(`seeded      for ${formatDuration(3_000)}`);
  });

  it('without --seed: no seeding line', () => {
    const r = downloadResult(outcome({ ...completed, reason: 'complete' }), 'ab'.repeat(20), { peersSeen: 1, banned: [], completed });
    expect(r.seedMs).toBeNull();
    expect(renderSummary(r).some((l) => l.startsWith('seeded'))).toBe(false);
  });
});
