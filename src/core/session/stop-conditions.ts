/**
 * When a session's work ends. For a seed, the `--until` conditions of `btkit seed` (any one met
 * stops it); for a download, `stallError`: what to say when nothing arrived for too long.
 *
 * - `ratio`: uploaded / the torrent's size reached N;
 * - `time`: seeded this long (from the moment the session started serving);
 * - `uploaded`: this many payload bytes sent;
 * - `peers-complete`: N distinct peers (by peer id) told us they hold every piece, by a
 *   bitfield / have-all at connect (BEP 3, BEP 6) or by `have` messages filling their set.
 *
 * Pure: the caller feeds observations; `met` answers which condition is met, if any.
 */
import { BtError } from '../errors.js';

export type StopCondition =
  | { kind: 'ratio'; ratio: number }
  | { kind: 'time'; ms: number }
  | { kind: 'uploaded'; bytes: number }
  | { kind: 'peers-complete'; count: number };

export interface SeedProgress {
  uploaded: number;
  /** Milliseconds since seeding started. */
  elapsedMs: number;
  peersComplete: number;
}

/**
 * Milliseconds as a duration is typed, in the largest unit that is exact: 5000 → "5s", 120000 →
 * "2m", 500 → "500ms", 1500 → "1.5s" (the flag parser reads every result back). Pure.
 */
export function formatDurationText(ms: number): string {
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return ms < 1000 ? `${ms}ms` : `${ms / 1000}s`;
}

/** A condition as `--until` takes it: `time=60s`, not `time=60000ms`. */
export function describeCondition(c: StopCondition): string {
  switch (c.kind) {
    case 'ratio':
      return `ratio=${c.ratio}`;
    case 'time':
      return `time=${formatDurationText(c.ms)}`;
    case 'uploaded':
      return `uploaded=${c.bytes}`;
    case 'peers-complete':
      return `peers-complete=${c.count}`;
  }
}

/** A download that waited `stallMs` for data (or for the metadata) in vain: the error that ends it. */
export function stallError(stallMs: number, seen: { haveMetadata: boolean; known: number; connected: number; downloaded: number; webSeeds?: number | null }): BtError {
  const s = Math.round(stallMs / 1000);
  const detail = { known: seen.known, connected: seen.connected, downloaded: seen.downloaded };
  // Web seeds, when the torrent has some: how many are still usable (0: all dropped, see the webseed-dropped events).
  const web = seen.webSeeds === undefined || seen.webSeeds === null ? '' : `, ${seen.webSeeds} web seed(s) usable`;
  const peers = `${seen.known} peer address(es) known, ${seen.connected} connected${web}`;
  if (!seen.haveMetadata) return new BtError('NO_METADATA', 'no-metadata', `no peer sent the metadata within ${s} s (${peers})`, { detail });
  if (seen.downloaded === 0) return new BtError('NO_PEERS', 'no-peers', `no data arrived within ${s} s (${peers})`, { detail });
  return new BtError('DOWNLOAD_STALLED', 'no-peers', `no data arrived for ${s} s (${seen.connected} peer(s) connected${web})`, { detail });
}

export class StopConditions {
  constructor(
    readonly conditions: readonly StopCondition[],
    /** The torrent's size: the denominator of the ratio. */
    private readonly totalBytes: number,
  ) {}

  /** The first condition met by `p`, or null. */
  met(p: SeedProgress): StopCondition | null {
    for (const c of this.conditions) {
      switch (c.kind) {
        case 'ratio':
          if (this.totalBytes > 0 && p.uploaded / this.totalBytes >= c.ratio) return c;
          break;
        case 'time':
          if (p.elapsedMs >= c.ms) return c;
          break;
        case 'uploaded':
          if (p.uploaded >= c.bytes) return c;
          break;
        case 'peers-complete':
          if (p.peersComplete >= c.count) return c;
          break;
      }
    }
    return null;
  }

  /** Milliseconds until a `time` condition is met (for a timer), or null when there is none. */
  timeLeft(elapsedMs: number): number | null {
    const times = this.conditions.filter((c): c is Extract<StopCondition, { kind: 'time' }> => c.kind === 'time').map((c) => c.ms - elapsedMs);
    return times.length === 0 ? null : Math.max(0, Math.min(...times));
  }
}

/**
 * A download that seeds on after completing (`download --seed`): why it stops now, if it does —
 * the upload ratio reached, or the seeding time since completion over. Pure.
 */
export function seedOnDone(seed: { ratio?: number; timeMs?: number }, o: { uploaded: number; wanted: number; now: number; completedAt: number }): 'seed-ratio' | 'seed-time' | null {
  if (seed.ratio !== undefined && o.wanted > 0 && o.uploaded / o.wanted >= seed.ratio) return 'seed-ratio';
  if (seed.timeMs !== undefined && o.now - o.completedAt >= seed.timeMs) return 'seed-time';
  return null;
}
