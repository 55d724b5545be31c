/**
 * Connections a listener accepted and its reader has not taken yet: the one queue behind every
 * transport's `Listener` (tcp.ts, utp.ts, memory.ts). A listener is iterated once; closing it
 * closes what nobody took and ends the iteration.
 */
import { BtError } from '../errors.js';

export class AcceptQueue<C extends { close(): void }> {
  private readonly pending: C[] = [];
  private wake: (() => void) | undefined;
  private closed = false;
  private iterated = false;

  get isClosed(): boolean {
    return this.closed;
  }

  /** A new connection for the reader; once the queue is closed it is closed at once and false returned. */
  push(c: C): boolean {
    if (this.closed) {
      c.close();
      return false;
    }
    this.pending.push(c);
    this.notify();
    return true;
  }

  /** No more connections: those not taken are closed, and the reader's iteration ends. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const c of this.pending.splice(0)) c.close();
    this.notify();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<C> {
    if (this.iterated) throw new BtError('TRANSPORT_ITERATED', 'internal', 'a listener can be iterated once');
    this.iterated = true;
    for (;;) {
      const c = this.pending.shift();
      if (c) {
        yield c;
        continue;
      }
      if (this.closed) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }
}
