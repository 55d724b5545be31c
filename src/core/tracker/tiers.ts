/**
 * Multitracker metadata (BEP 12): `announce-list` is a list of tiers, each a list of tracker URLs.
 *
 * BEP 12's rules, all here: the URLs within each tier are shuffled once, when the list is loaded
 * (so load spreads across a tier's trackers); trackers are tried in order, a whole tier before the
 * next; a tracker that answers moves to the front of its tier and stays there for later announces.
 *
 * The state is one object per torrent (the download and seed sessions keep it for the torrent's
 * lifetime); randomness is a parameter so tests can fix the shuffle.
 */
import { BtError, isBtError, throwIfAborted } from '../errors.js';

export interface TierAttempt {
  url: string;
  tier: number;
  error: BtError;
}

export interface TierSuccess<T> {
  url: string;
  tier: number;
  value: T;
  /** Trackers that failed before this one answered, in the order they were tried. */
  failures: TierAttempt[];
}

export class TrackerTiers {
  private readonly list: string[][];

  /**
   * @param tiers BEP 12 tiers (a torrent's `announce-list`, or `[[announce]]`). Duplicate URLs are
   *   kept only where they first appear; empty tiers are dropped.
   * @param random a number in [0, 1), as Math.random; used only for the initial shuffle.
   */
  constructor(tiers: readonly (readonly string[])[], random: () => number = Math.random) {
    const seen = new Set<string>();
    this.list = [];
    for (const tier of tiers) {
      const urls = tier.filter((u) => u !== '' && !seen.has(u) && (seen.add(u), true));
      if (urls.length === 0) continue;
      shuffle(urls, random);
      this.list.push(urls);
    }
  }

  /** The tiers in their current order (a copy). */
  get tiers(): string[][] {
    return this.list.map((t) => [...t]);
  }

  /** Every URL, in the order they would be tried. */
  get urls(): string[] {
    return this.list.flat();
  }

  get size(): number {
    return this.list.reduce((n, t) => n + t.length, 0);
  }

  /** BEP 12: a tracker that answered moves to the front of its tier. */
  promote(url: string): void {
    for (const tier of this.list) {
      const i = tier.indexOf(url);
      if (i > 0) {
        tier.splice(i, 1);
        tier.unshift(url);
      }
      if (i >= 0) return;
    }
  }

  /**
   * Try trackers in BEP 12 order until `attempt` resolves; promote the one that did. Rejects with
   * TRACKER_ALL_FAILED (network) listing every failure when none answers, or with the abort error
   * when `signal` fires. Non-BtError failures are programming errors and propagate at once.
   */
  async first<T>(attempt: (url: string) => Promise<T>, options: { signal?: AbortSignal } = {}): Promise<TierSuccess<T>> {
    const failures: TierAttempt[] = [];
    const snapshot = this.tiers;
    for (let t = 0; t < snapshot.length; t++) {
      for (const url of snapshot[t]!) {
        throwIfAborted(options.signal);
        try {
          const value = await attempt(url);
          this.promote(url);
          return { url, tier: t, value, failures };
        } catch (err) {
          if (!isBtError(err)) throw err;
          if (err.category === 'interrupted') throw err;
          failures.push({ url, tier: t, error: err });
        }
      }
    }
    throw allFailed(failures);
  }
}

/** The error for "no tracker answered", with each failure in `detail.failures`. */
export function allFailed(failures: readonly { url: string; error: BtError }[]): BtError {
  if (failures.length === 0) return new BtError('TRACKER_NONE', 'input', 'no trackers to announce to: give one with --tracker');
  const lines = failures.map((f) => `${f.url}: ${f.error.message}`);
  return new BtError('TRACKER_ALL_FAILED', 'network', `all ${failures.length} tracker(s) failed: ${lines.join('; ')}`, {
    detail: { failures: failures.map((f) => ({ url: f.url, code: f.error.code, message: f.error.message })) },
  });
}

/** Fisher–Yates, in place. */
function shuffle<T>(a: T[], random: () => number): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
}
