/**
 * Transfer rates and rate limits for the session: a sliding-window rate meter (what the choker
 * ranks peers by and what sizes each peer's request pipeline) and a token bucket (the
 * `--download-limit` / `--upload-limit` of the whole session).
 *
 * Pure but for the clock, which is a parameter, so tests drive time by hand.
 */

/** Bytes per second over the last `windowMs`, kept in a ring of small slots. */
export class RateMeter {
  private readonly slots: Float64Array;
  private readonly slotMs: number;
  /** The slot number (time / slotMs) each ring entry holds. */
  private readonly stamps: Float64Array;
  private readonly startedAt: number;
  total = 0;

  constructor(
    now: number,
    readonly windowMs = 4000,
    slotCount = 16,
  ) {
    this.slots = new Float64Array(slotCount);
    this.stamps = new Float64Array(slotCount).fill(-1);
    this.slotMs = windowMs / slotCount;
    this.startedAt = now;
  }

  add(bytes: number, now: number): void {
    const slot = Math.floor(now / this.slotMs);
    const i = slot % this.slots.length;
    if (this.stamps[i] !== slot) {
      this.stamps[i] = slot;
      this.slots[i] = 0;
    }
    this.slots[i]! += bytes;
    this.total += bytes;
  }

  /** Bytes per second; over the time since creation while that is shorter than the window. */
  rate(now: number): number {
    const slot = Math.floor(now / this.slotMs);
    const oldest = slot - this.slots.length + 1;
    let sum = 0;
    for (let i = 0; i < this.slots.length; i++) if (this.stamps[i]! >= oldest && this.stamps[i]! <= slot) sum += this.slots[i]!;
    const span = Math.max(this.slotMs, Math.min(this.windowMs, now - this.startedAt));
    return (sum * 1000) / span;
  }
}

/**
 * A token bucket: `rate` bytes per second, at most `burst` saved up. Consumers take what they
 * used (the balance may go negative: a 64 KiB socket read is not split) and wait in `ready()`
 * until the balance is positive again. A rate of 0 means unlimited.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  readonly burst: number;

  constructor(
    readonly rate: number,
    private readonly now: () => number,
    burst?: number,
  ) {
    this.burst = burst ?? Math.max(64 * 1024, rate / 4);
    this.tokens = this.burst;
    this.last = now();
  }

  get unlimited(): boolean {
    return !(this.rate > 0);
  }

  private refill(): void {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) * this.rate) / 1000);
    this.last = t;
  }

  consume(bytes: number): void {
    if (this.unlimited) return;
    this.refill();
    this.tokens -= bytes;
  }

  /** Milliseconds until the balance is positive (0 when it is). */
  waitMs(): number {
    if (this.unlimited) return 0;
    this.refill();
    return this.tokens > 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.rate) + 1;
  }

  /** Resolves when the balance is positive; rejects when `signal` fires. */
  async ready(signal?: AbortSignal): Promise<void> {
    for (let ms = this.waitMs(); ms > 0; ms = this.waitMs()) {
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => {
          clearTimeout(timer);
          reject(signal!.reason);
        };
        const timer = setTimeout(() => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        }, ms);
        if (signal?.aborted) onAbort();
        else signal?.addEventListener('abort', onAbort, { once: true });
      });
    }
  }
}
