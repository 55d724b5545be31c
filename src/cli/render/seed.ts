/**
 * `btkit seed` output: the status line for a terminal, the summary, and the result's JSON shape.
 * Pure: statistics in, text or plain objects out.
 */
import type { SessionStats } from '../../core/session/index.js';
import { formatBytes, formatDuration, formatRate, keyValues } from './format.js';

export type SeedStopReason = 'ratio' | 'time' | 'uploaded' | 'peers-complete' | 'interrupted';

export interface SeedResult {
  infoHash: string;
  name: string;
  /** The .torrent file seeded (written first when the seed created it). */
  torrent: string | null;
  magnet: string;
  contentPath: string;
  /** How the data was trusted: hashed now, trusted (--skip-verify), or just created from it. */
  verified: 'checked' | 'skipped' | 'created';
  listen: { host: string; port: number } | null;
  trackers: string[];
  /** Why it stopped, and the --until condition that was met (null when interrupted). */
  reason: SeedStopReason;
  condition: string | null;
  totalBytes: number;
  uploaded: number;
  /** uploaded / totalBytes. */
  ratio: number;
  /** Since seeding started (after the check). */
  elapsedMs: number;
  averageUploadRate: number;
  peersSeen: number;
  /** Distinct peers that held every piece while connected. */
  peersComplete: number;
  /** Block reads served from the read cache vs from the disk. */
  cache: { hits: number; misses: number; bytesRead: number };
}

/**
 * One terminal line: "seeding  3 peers  2 completed so far  up 12.00 MiB/s  uploaded 120.00 MiB  ratio 1.20  1m5s".
 * Peers are those connected now; completed counts every peer that held all pieces since the start,
 * so it can be larger ("1 peer (2 complete)" read as a contradiction).
 */
export function seedStatusLine(s: SessionStats, peersComplete: number, width = 100, utpPeers = 0): string {
  const ratio = s.totalBytes > 0 ? s.uploaded / s.totalBytes : 0;
  const parts = [
    'seeding',
    `${s.peers} peer${s.peers === 1 ? '' : 's'}${utpPeers > 0 ? ` (${utpPeers} uTP)` : ''}${peersComplete > 0 ? `  ${peersComplete} completed so far` : ''}`,
    `up ${formatRate(s.upRate)}`,
    `uploaded ${formatBytes(s.uploaded)}`,
    `ratio ${ratio.toFixed(2)}`,
    formatDuration(Math.max(0, s.elapsedMs)),
  ];
  return parts.join('  ').slice(0, Math.max(20, width - 1));
}

const REASONS: Record<SeedStopReason, string> = {
  ratio: 'the ratio was reached',
  time: 'the time was up',
  uploaded: 'enough was uploaded',
  'peers-complete': 'enough peers completed',
  interrupted: 'interrupted',
};

export function renderSeedSummary(r: SeedResult): string[] {
  return keyValues([
    ['name', r.name],
    ['infohash', r.infoHash],
    ['stopped', `${REASONS[r.reason]}${r.condition ? ` (${r.condition})` : ''}`],
    ['uploaded', `${formatBytes(r.uploaded)} in ${formatDuration(r.elapsedMs)} (${formatRate(r.averageUploadRate)}), ratio ${r.ratio.toFixed(2)}`],
    ['peers', `${r.peersSeen} seen, ${r.peersComplete} complete`],
  ]);
}
