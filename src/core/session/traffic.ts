/**
 * The session's payload traffic: the totals trackers are told (BEP 3 `uploaded`/`downloaded`),
 * the rates shown and used by the choker, the `--download-limit`/`--upload-limit` buckets, and
 * when data last arrived (the stall timer). One owner for these numbers: the coordinator and the
 * uploader report bytes here and read them from here.
 */
import { RateMeter, TokenBucket } from './rate.js';

export interface TrafficPeer {
  down: RateMeter;
  up: RateMeter;
  lastDataAt: number;
}

export class Traffic {
  readonly downRate: RateMeter;
  readonly upRate: RateMeter;
  readonly downBucket: TokenBucket;
  readonly upBucket: TokenBucket;
  downloaded = 0;
  uploaded = 0;
  /** When payload last arrived (or the session (re)started waiting for it). */
  lastDataAt: number;

  constructor(
    private readonly now: () => number,
    limits: { download?: number; upload?: number },
  ) {
    const t0 = now();
    this.downRate = new RateMeter(t0);
    this.upRate = new RateMeter(t0);
    this.downBucket = new TokenBucket(limits.download ?? 0, now);
    this.upBucket = new TokenBucket(limits.upload ?? 0, now);
    this.lastDataAt = t0;
  }

  /** A block we kept arrived from `peer`. */
  received(peer: TrafficPeer, bytes: number, now = this.now()): void {
    peer.down.add(bytes, now);
    this.downRate.add(bytes, now);
    this.downBucket.consume(bytes);
    this.downloaded += bytes;
    this.lastDataAt = now;
    peer.lastDataAt = now;
  }

  /** A block went out to `peer` (its upload bucket was charged by the uploader). */
  sent(peer: TrafficPeer, bytes: number, now = this.now()): void {
    peer.up.add(bytes, now);
    this.upRate.add(bytes, now);
    this.uploaded += bytes;
  }

  /** Restart the stall timer (the session started, or the metadata arrived). */
  restartStallTimer(): void {
    this.lastDataAt = this.now();
  }

  /**
   * Backpressure before the next socket read: the download limit, and `disk` (the assembler's
   * write queue) when it is full. Nothing to wait for returns undefined, so the read goes on at once.
   */
  beforeRead(disk: Promise<void> | null | undefined, signal: AbortSignal): Promise<void> | void {
    const limited = !this.downBucket.unlimited && this.downBucket.waitMs() > 0;
    if (!limited) return disk ?? undefined;
    const bucket = this.downBucket.ready(signal).catch(() => undefined);
    return disk ? Promise.all([bucket, disk]).then(() => undefined) : bucket;
  }
}
