/**
 * The bookkeeping every socket-backed connection (tcp.ts, utp.ts) needs around its socket: the
 * received chunks waiting for the one reader, with the reader's wake-up, end and error; and the
 * writers waiting in `drained()` for the send queue to fall to its low-water mark. What differs
 * per transport (TCP pauses its socket above a high-water mark, uTP cannot) stays in each
 * connection, behind `onTake` and the predicates given to `DrainWaiters.wait`.
 */
import { BtError, abortError } from '../errors.js';

export class ReceiveQueue {
  private readonly chunks: Uint8Array[] = [];
  /** Bytes received and not yet taken by the reader. */
  bytes = 0;
  /** The peer sent its end of stream, or the connection closed: the reader ends once the queue is empty. */
  ended = false;
  /** The reader throws this once the queue is empty. */
  error: BtError | undefined;
  private wake: (() => void) | undefined;
  private iterated = false;

  push(chunk: Uint8Array): void {
    this.chunks.push(chunk);
    this.bytes += chunk.length;
    this.notify();
  }

  end(): void {
    this.ended = true;
    this.notify();
  }

  /** The first error is the one the reader gets. */
  fail(error: BtError): void {
    this.error ??= error;
    this.notify();
  }

  /** Drop what is queued (a close, or a flood that is not kept). */
  clear(): void {
    this.chunks.length = 0;
    this.bytes = 0;
  }

  notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  /** The chunks in order, then the end or the error; once per connection. `onTake` runs as each chunk leaves the queue. */
  async *read(onTake?: () => void): AsyncGenerator<Uint8Array> {
    if (this.iterated) throw new BtError('TRANSPORT_ITERATED', 'internal', 'a connection can be iterated once');
    this.iterated = true;
    for (;;) {
      const chunk = this.chunks.shift();
      if (chunk !== undefined) {
        this.bytes -= chunk.length;
        onTake?.();
        yield chunk;
        continue;
      }
      if (this.error) throw this.error;
      if (this.ended) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }
}

export class DrainWaiters {
  private readonly waiters = new Set<() => void>();

  get size(): number {
    return this.waiters.size;
  }

  /** Something changed (bytes went out, the connection closed): every waiter checks again. */
  notify(): void {
    for (const w of [...this.waiters]) w();
  }

  /**
   * Resolves once `drained()` says so, rejects with `gone()`'s error once that returns one (or
   * with the abort error when `signal` fires). Checked at once and at each `notify`.
   */
  wait(drained: () => boolean, gone: () => BtError | null, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(abortError(signal));
    if (drained() && !gone()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const check = () => {
        const err = gone();
        if (err) {
          done();
          reject(err);
        } else if (drained()) {
          done();
          resolve();
        }
      };
      const onAbort = () => {
        done();
        reject(abortError(signal));
      };
      const done = () => {
        this.waiters.delete(check);
        signal?.removeEventListener('abort', onAbort);
      };
      this.waiters.add(check);
      signal?.addEventListener('abort', onAbort, { once: true });
      check();
    });
  }
}
