/**
 * An in-memory transport: connections that are pairs of queues inside one process, so the
 * session (and anything above a `Transport`) can be tested without sockets, ports or timing
 * from the kernel — the way yamux and webtorrent test a wire piped into itself.
 *
 *   const net = new MemoryNetwork();
 *   const a = net.transport('127.0.0.2'), b = net.transport('127.0.0.3');   // addresses are labels only
 *   const l = await b.listen({ host: '127.0.0.3', port: 6881 });
 *   const conn = await a.dial({ host: '127.0.0.3', port: 6881 });
 *
 * Addresses never reach a socket: they only name listeners inside one `MemoryNetwork` (no
 * module-level state). Writes are delivered in order on a later microtask; `drained` resolves at
 * once (no backpressure), which is what the tests above the transport need.
 */
import { BtError } from '../errors.js';
import type { Connection, DialOptions, Endpoint, Listener, ListenOptions, RemoteEndpoint, Transport } from './types.js';
import { AcceptQueue } from './accept-queue.js';

class MemoryConnection implements Connection {
  readonly remote: RemoteEndpoint;
  readonly local: Endpoint;
  readonly direction: 'outgoing' | 'incoming';
  readonly closed: Promise<void>;
  peer!: MemoryConnection;
  private queue: Uint8Array[] = [];
  private ended = false;
  private isClosed = false;
  private error: Error | undefined;
  private waiter: (() => void) | undefined;
  private resolveClosed!: () => void;

  constructor(local: Endpoint, remote: Endpoint, direction: 'outgoing' | 'incoming') {
    this.local = local;
    this.remote = { ...remote, transport: 'tcp' };
    this.direction = direction;
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
  }

  get bufferedAmount(): number {
    return 0;
  }

  /** Bytes from the other end. */
  deliver(data: Uint8Array): void {
    if (this.isClosed || this.ended) return;
    this.queue.push(data);
    this.notify();
  }

  /** The other end sent its end of stream. */
  deliverEnd(): void {
    this.ended = true;
    this.notify();
  }

  private notify(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  write(data: Uint8Array, onWritten?: () => void): boolean {
    if (this.isClosed) {
      onWritten?.();
      return false;
    }
    // A copy: the caller may reuse its buffer once `onWritten` ran, as with a real socket.
    const copy = Uint8Array.from(data);
    queueMicrotask(() => {
      this.peer.deliver(copy);
      onWritten?.();
    });
    return true;
  }

  writev(chunks: readonly Uint8Array[], onWritten?: () => void): boolean {
    let ok = true;
    chunks.forEach((c, i) => (ok = this.write(c, i === chunks.length - 1 ? onWritten : undefined)));
    return ok;
  }

  drained(): Promise<void> {
    if (this.isClosed) return Promise.reject(this.error ?? new BtError('NET_CLOSED', 'network', 'connection closed'));
    return Promise.resolve();
  }

  async end(): Promise<void> {
    queueMicrotask(() => this.peer.deliverEnd());
  }

  close(error?: Error): void {
    if (this.isClosed) return;
    this.isClosed = true;
    if (error) this.error = error;
    this.queue = [];
    this.notify();
    this.resolveClosed();
    queueMicrotask(() => this.peer.deliverEnd());
    // The other side sees the end of stream and closes when it reads it.
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    for (;;) {
      if (this.isClosed) {
        if (this.error) throw this.error;
        return;
      }
      const next = this.queue.shift();
      if (next) {
        yield next;
        continue;
      }
      if (this.ended) {
        this.isClosed = true;
        this.resolveClosed();
        return;
      }
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }
}

class MemoryListener implements Listener {
  readonly transport = 'tcp' as const;
  private readonly accepted = new AcceptQueue<Connection>();

  constructor(
    readonly local: Endpoint,
    private readonly onClose: () => void,
  ) {}

  accept(conn: Connection): boolean {
    return this.accepted.push(conn);
  }

  async close(): Promise<void> {
    if (this.accepted.isClosed) return;
    this.onClose();
    this.accepted.close();
  }

  [Symbol.asyncIterator](): AsyncIterator<Connection> {
    return this.accepted[Symbol.asyncIterator]();
  }
}

/** A set of in-memory hosts that can reach each other. */
export class MemoryNetwork {
  private readonly listeners = new Map<string, MemoryListener>();
  private nextPort = 40000;

  /** A transport whose connections come from `host` (a label: nothing is bound). */
  transport(host: string): Transport {
    return {
      kind: 'tcp',
      dial: async (remote: Endpoint, options: DialOptions = {}) => {
        if (options.signal?.aborted) throw new BtError('NET_ABORTED', 'interrupted', 'dial aborted');
        const l = this.listeners.get(`${remote.host}|${remote.port}`);
        if (!l) throw new BtError('NET_ECONNREFUSED', 'network', `connection refused by ${remote.host}:${remote.port}`);
        const local = { host, port: this.nextPort++ };
        const out = new MemoryConnection(local, remote, 'outgoing');
        const inc = new MemoryConnection(remote, local, 'incoming');
        out.peer = inc;
        inc.peer = out;
        if (!l.accept(inc)) throw new BtError('NET_ECONNREFUSED', 'network', `connection refused by ${remote.host}:${remote.port}`);
        return out;
      },
      listen: async (options: ListenOptions) => {
        const port = options.port || this.nextPort++;
        const key = `${options.host}|${port}`;
        if (this.listeners.has(key)) throw new BtError('NET_EADDRINUSE', 'network', `${options.host}:${port} is in use`);
        const l = new MemoryListener({ host: options.host, port }, () => this.listeners.delete(key));
        this.listeners.set(key, l);
        return l;
      },
    };
  }
}
