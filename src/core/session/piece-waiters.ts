/**
 * Who waits for which piece (`Session.waitForPiece`: streaming reads, `--sequential` players).
 * Each waiter is called once: when its piece is verified, or when the session stops.
 */
import { abortError } from '../errors.js';

export class PieceWaiters {
  private readonly waiting = new Map<number, (() => void)[]>();

  /**
   * Resolves once `has(index)` holds after a wake-up; rejects with `stopped()` (or the abort)
   * when woken by the stop, or when `signal` fires.
   */
  wait(index: number, has: (i: number) => boolean, stopped: () => Error | undefined, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const list = this.waiting.get(index) ?? [];
      const onAbort = () => reject(abortError(signal));
      list.push(() => {
        signal?.removeEventListener('abort', onAbort);
        if (has(index)) resolve();
        else reject(stopped() ?? abortError(signal));
      });
      this.waiting.set(index, list);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Piece `index` is verified: wake its waiters. */
  verified(index: number): void {
    const list = this.waiting.get(index);
    if (!list) return;
    this.waiting.delete(index);
    for (const w of list) w();
  }

  /** The session stopped: wake everyone (they reject unless their piece is there). */
  wakeAll(): void {
    for (const [, list] of this.waiting) for (const w of list) w();
    this.waiting.clear();
  }
}
