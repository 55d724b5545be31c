/**
 * Trackers as a peer source for the session: BEP 3 announces with the `started`, `completed` and
 * `stopped` events, over HTTP or UDP (BEP 15), in BEP 12 tier order (tracker/tiers.ts), repeated
 * at the tracker's interval.
 *
 * While the session has no peer at all, the next announce comes sooner than the interval (5 s,
 * then doubling up to two minutes, never below the tracker's `min interval`): a seeder that
 * announces a moment after us should not cost us half an hour. Peers are handed to the session,
 * which drops its own address (opentracker lists the asking peer too).
 */
import { BtError, isBtError } from '../errors.js';
import { type AnnounceEvent, type AnnounceResult, type TrackerClient, type TrackerTiers } from '../tracker/index.js';
import type { PeerSource, PeerSourceContext } from './types.js';

export interface TrackerSourceOptions {
  client: TrackerClient;
  tiers: TrackerTiers;
  infoHash: Uint8Array;
  peerId: Uint8Array;
  /** BEP 15 / HTTP `key`, 32 bits. */
  key?: number;
  numWant?: number;
  /** Per-announce deadline. Default 15 s. */
  timeoutMs?: number;
  /** Shortest wait between announces when we have no peers. Default 5 s. */
  minRetryMs?: number;
}

const MAX_EAGER_MS = 120_000;

export class TrackerSource implements PeerSource {
  readonly name = 'tracker';
  private ctx: PeerSourceContext | undefined;
  private wake: (() => void) | undefined;
  private pending: AnnounceEvent | undefined;
  private lastUrl: string | undefined;
  private announcedStart = false;
  private readonly trackerIds = new Map<string, Uint8Array>();
  private loop: Promise<void> | undefined;
  private readonly stopper = new AbortController();

  constructor(private readonly options: TrackerSourceOptions) {}

  start(ctx: PeerSourceContext): void {
    this.ctx = ctx;
    if (this.options.tiers.size === 0) return;
    this.loop = this.run(ctx).catch(() => undefined);
  }

  completed(): void {
    this.pending = 'completed';
    this.wakeUp();
  }

  private wakeUp(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private signal(): AbortSignal {
    return AbortSignal.any([this.ctx!.signal, this.stopper.signal]);
  }

  private async announce(event: AnnounceEvent, timeoutMs: number, signal: AbortSignal): Promise<{ url: string; value: AnnounceResult }> {
    const ctx = this.ctx!;
    const t = ctx.totals();
    return this.options.tiers.first(
      (url) => {
        const trackerId = this.trackerIds.get(url);
        return this.options.client.announce(
          url,
          {
            infoHash: this.options.infoHash,
            peerId: this.options.peerId,
            port: ctx.port,
            uploaded: t.uploaded,
            downloaded: t.downloaded,
            left: t.left,
            event,
            numWant: event === 'stopped' ? 0 : (this.options.numWant ?? 50),
            ...(this.options.key !== undefined ? { key: this.options.key } : {}),
            ...(trackerId ? { trackerId } : {}),
          },
          { signal, timeoutMs },
        );
      },
      { signal },
    );
  }

  private async run(ctx: PeerSourceContext): Promise<void> {
    let event: AnnounceEvent = 'started';
    let failures = 0;
    let eager = this.options.minRetryMs ?? 5_000;
    const signal = this.signal();
    while (!signal.aborted) {
      let waitMs: number;
      try {
        const { url, value } = await this.announce(event, this.options.timeoutMs ?? 15_000, signal);
        this.lastUrl = url;
        if (event === 'started') this.announcedStart = true;
        if (value.trackerId) this.trackerIds.set(url, value.trackerId);
        ctx.emit({ type: 'tracker', url, event, peers: value.peers.length, interval: value.interval, error: null });
        ctx.addPeers(value.peers.map((p) => ({ host: p.ip, port: p.port })));
        failures = 0;
        event = 'none';
        const interval = Math.max(1, value.interval) * 1000;
        const min = (value.minInterval ?? 0) * 1000;
        if (ctx.connectedPeers() === 0) {
          waitMs = Math.max(min, Math.min(interval, eager));
          eager = Math.min(MAX_EAGER_MS, eager * 2);
        } else {
          waitMs = interval;
          eager = this.options.minRetryMs ?? 5_000;
        }
      } catch (err) {
        if (signal.aborted || (isBtError(err) && err.category === 'interrupted')) return;
        const e = isBtError(err) ? err : new BtError('TRACKER_FAILED', 'network', String(err));
        ctx.emit({ type: 'tracker', url: this.options.tiers.urls[0] ?? '', event, peers: 0, interval: null, error: { code: e.code, message: e.message } });
        failures++;
        waitMs = Math.min(MAX_EAGER_MS, 5_000 * 2 ** Math.min(failures - 1, 5));
      }
      await this.sleep(waitMs, signal);
      if (this.pending) {
        event = this.pending;
        this.pending = undefined;
      }
    }
  }

  private sleep(ms: number, signal: AbortSignal): Promise<void> {
    if (this.pending) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
      this.wake = done;
    });
  }

  async stop(deadlineMs: number): Promise<void> {
    this.stopper.abort();
    this.wakeUp();
    await this.loop;
    if (!this.announcedStart || !this.lastUrl) return;
    // BEP 3 `stopped`, best effort and bounded: a tracker that does not answer must not hold up the exit.
    const ctl = AbortSignal.timeout(deadlineMs);
    try {
      const url = this.lastUrl;
      const trackerId = this.trackerIds.get(url);
      const t = this.ctx!.totals();
      await this.options.client.announce(
        url,
        {
          infoHash: this.options.infoHash,
          peerId: this.options.peerId,
          port: this.ctx!.port,
          uploaded: t.uploaded,
          downloaded: t.downloaded,
          left: t.left,
          event: 'stopped',
          numWant: 0,
          ...(this.options.key !== undefined ? { key: this.options.key } : {}),
          ...(trackerId ? { trackerId } : {}),
        },
        { signal: ctl, timeoutMs: deadlineMs },
      );
    } catch {
      // the tracker will forget us after its interval anyway
    }
  }
}
