/**
 * A single-consumer async queue: the session pushes events from socket and timer callbacks, the
 * caller pulls them with `for await`. Unbounded on purpose: events are small and the caller
 * consumes them as they come; the session never waits on its caller (a slow terminal must not
 * slow the download).
 */
export class AsyncQueue<T> {
  private readonly items: T[] = [];
  private head = 0;
  private wake: (() => void) | undefined;
  private ended = false;

  push(item: T): void {
    if (this.ended) return;
    this.items.push(item);
    this.notify();
  }

  /** No more items; the consumer's loop ends after the queued ones. */
  end(): void {
    this.ended = true;
    this.notify();
  }

  get closed(): boolean {
    return this.ended;
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  async *drain(): AsyncGenerator<T, void, undefined> {
    for (;;) {
      if (this.head < this.items.length) {
        const item = this.items[this.head]!;
        this.items[this.head++] = undefined as T;
        if (this.head > 1024 && this.head * 2 > this.items.length) {
          this.items.splice(0, this.head);
          this.head = 0;
        }
        yield item;
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }
}
