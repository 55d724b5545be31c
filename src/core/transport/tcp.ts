/**
 * TCP, the transport BEP 3 defines the peer wire protocol over, behind the `Transport` /
 * `Connection` interfaces (transport/types.ts) that uTP (BEP 29) will implement too.
 *
 * Why it is built this way:
 * - Reading: the socket flows into a small queue and is paused when the queue holds more than
 *   `readHighWater` bytes, so a consumer that stops pulling (a session waiting for the disk, a
 *   download rate limit) stops the socket, the kernel window fills and the peer slows down.
 *   Chunks are handed over as read (no copy).
 * - On connections we dial, the kernel reads into buffers of a per-connection pool (Node's
 *   `onread`), which a consumer that is done with a chunk hands back with `recycle(chunk)`
 *   (`RecyclingConnection`). A fresh buffer per read costs page faults and garbage collection
 *   that, at hundreds of MB/s, cost more CPU than the protocol itself. A consumer that never
 *   recycles just makes the pool allocate, as Node would. (Accepted connections cannot choose
 *   their read buffers in Node, so they use Node's.)
 * - Writing: straight to the socket (which copies nothing either); `write()` returns false above
 *   `writeHighWater` queued bytes and `drained()` waits for the queue to fall below
 *   `writeLowWater`, so a seeder never queues more than about one high-water mark per peer.
 * - Nagle stays on (`noDelay: false`): the session batches each burst of small messages into one
 *   write itself, and a bulk transfer gains nothing from pushing out partial segments.
 * - Every failure becomes a BtError (category network, NET_ECONNRESET…); an abort signal given to
 *   `dial` ends the connect and, once connected, closes the connection.
 */
import net from 'node:net';
import { BtError, abortError, fromSystemError } from '../errors.js';
import { AcceptQueue } from './accept-queue.js';
import { DrainWaiters, ReceiveQueue } from './receive-queue.js';
import type { Connection, DialOptions, Endpoint, Listener, ListenOptions, RemoteEndpoint, Transport } from './types.js';

export interface TcpOptions {
  /** Pause reading when this many received bytes wait to be pulled. Default 1 MiB. */
  readHighWater?: number;
  /** `write()` returns false above this many queued bytes. Default 1 MiB. */
  writeHighWater?: number;
  /** `drained()` resolves at or below this many queued bytes. Default 256 KiB. */
  writeLowWater?: number;
  /** Disable Nagle's algorithm. Default false (see the top comment). */
  noDelay?: boolean;
}

const DEFAULTS = { readHighWater: 1024 * 1024, writeHighWater: 1024 * 1024, writeLowWater: 256 * 1024 };
/** Size of a pooled read buffer, and the most buffers a connection keeps for reuse. */
const READ_CHUNK = 128 * 1024;
const MAX_POOLED = 16;

/** A connection whose received chunks can be handed back for reuse once the consumer holds no view of them. */
export interface RecyclingConnection extends Connection {
  /** `chunk` (as yielded, or any view starting at its start) is no longer referenced by the caller. Chunks from elsewhere are ignored. */
  recycle(chunk: Uint8Array): void;
}

export const canRecycle = (c: Connection): c is RecyclingConnection => typeof (c as Partial<RecyclingConnection>).recycle === 'function';

/** Read buffers of one connection: leased to the kernel for a read, returned by the consumer. */
class ReadPool {
  private readonly free: Buffer[] = [];
  private readonly leased = new Set<ArrayBufferLike>();

  lease = (): Buffer => {
    const b = this.free.pop() ?? Buffer.allocUnsafeSlow(READ_CHUNK);
    this.leased.add(b.buffer);
    return b;
  };

  recycle(chunk: Uint8Array): void {
    // Only a buffer we leased, once: anything else would be memory someone else still uses.
    if (!this.leased.delete(chunk.buffer)) return;
    if (this.free.length < MAX_POOLED) this.free.push(Buffer.from(chunk.buffer, 0, READ_CHUNK));
  }
}

/** The receiving end of `onread`: set by the connection once it exists. */
interface ReadSink {
  pool: ReadPool;
  deliver: ((chunk: Buffer) => void) | undefined;
}

/** Node reports IPv4-mapped IPv6 addresses for dual-stack sockets; show them as plain IPv4. */
function plainHost(host: string | undefined): string {
  if (!host) return '';
  return host.startsWith('::ffff:') && host.includes('.') ? host.slice(7) : host;
}

export class TcpConnection implements RecyclingConnection {
  readonly remote: RemoteEndpoint;
  readonly local: Endpoint;
  readonly closed: Promise<void>;
  private readonly rx = new ReceiveQueue();
  private readonly drainWaiters = new DrainWaiters();
  private isClosed = false;
  private readonly readHighWater: number;
  private readonly writeHighWater: number;
  private readonly writeLowWater: number;

  private readonly pool: ReadPool | undefined;

  constructor(
    private readonly socket: net.Socket,
    readonly direction: 'outgoing' | 'incoming',
    options: TcpOptions = {},
    sink?: ReadSink,
  ) {
    this.readHighWater = options.readHighWater ?? DEFAULTS.readHighWater;
    this.writeHighWater = options.writeHighWater ?? DEFAULTS.writeHighWater;
    this.writeLowWater = options.writeLowWater ?? DEFAULTS.writeLowWater;
    socket.setNoDelay(options.noDelay ?? false);
    this.remote = { host: plainHost(socket.remoteAddress), port: socket.remotePort ?? 0, transport: 'tcp' };
    this.local = { host: plainHost(socket.localAddress), port: socket.localPort ?? 0 };
    const what = `${this.remote.host}:${this.remote.port}`;
    const receive = (chunk: Buffer) => {
      this.rx.push(chunk);
      if (this.rx.bytes >= this.readHighWater) socket.pause();
    };
    if (sink) {
      this.pool = sink.pool;
      sink.deliver = receive;
    } else {
      socket.on('data', receive);
    }
    socket.on('end', () => this.rx.end());
    socket.on('error', (err) => this.rx.fail(fromSystemError(err, what)));
    socket.on('drain', () => this.drainWaiters.notify());
    this.closed = new Promise<void>((resolve) => {
      socket.once('close', () => {
        this.isClosed = true;
        this.rx.end();
        this.drainWaiters.notify();
        resolve();
      });
    });
  }

  get bufferedAmount(): number {
    return this.socket.writableLength;
  }

  recycle(chunk: Uint8Array): void {
    this.pool?.recycle(chunk);
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    // Taking a chunk below the high-water mark resumes a socket paused by `receive`.
    return this.rx.read(() => {
      if (this.rx.bytes < this.readHighWater && this.socket.isPaused() && !this.isClosed) this.socket.resume();
    });
  }

  write(data: Uint8Array, onWritten?: () => void): boolean {
    if (this.isClosed || this.socket.destroyed || !this.socket.writable) {
      onWritten?.();
      return false;
    }
    // Node calls a write's callback once the bytes are written, or with an error when the socket
    // is destroyed first: either way the buffer is ours again.
    this.socket.write(data, onWritten && (() => onWritten()));
    return this.socket.writableLength < this.writeHighWater;
  }

  writev(chunks: readonly Uint8Array[], onWritten?: () => void): boolean {
    if (this.isClosed || this.socket.destroyed || !this.socket.writable) {
      onWritten?.();
      return false;
    }
    // cork/uncork hands every chunk to the socket's writev at once: one system call, no copy.
    this.socket.cork();
    const last = chunks.length - 1;
    chunks.forEach((c, i) => this.socket.write(c, i === last && onWritten ? () => onWritten() : undefined));
    if (last < 0) onWritten?.();
    this.socket.uncork();
    return this.socket.writableLength < this.writeHighWater;
  }

  drained(options: { signal?: AbortSignal } = {}): Promise<void> {
    return this.drainWaiters.wait(
      () => this.socket.writableLength <= this.writeLowWater,
      () => (this.isClosed || this.socket.destroyed ? (this.rx.error ?? new BtError('NET_CLOSED', 'network', `connection to ${this.remote.host}:${this.remote.port} closed`)) : null),
      options.signal,
    );
  }

  end(): Promise<void> {
    if (this.isClosed || this.socket.destroyed) return Promise.resolve();
    return new Promise<void>((resolve) => this.socket.end(() => resolve()));
  }

  close(error?: Error): void {
    if (error) this.rx.fail(error instanceof BtError ? error : fromSystemError(error, `${this.remote.host}:${this.remote.port}`));
    else this.rx.clear();
    this.socket.destroy();
    this.rx.end();
  }
}

export class TcpListener implements Listener {
  readonly transport = 'tcp' as const;
  readonly local: Endpoint;
  private readonly accepted = new AcceptQueue<TcpConnection>();

  constructor(
    private readonly server: net.Server,
    options: TcpOptions,
    signal?: AbortSignal,
  ) {
    const a = server.address() as net.AddressInfo;
    this.local = { host: plainHost(a.address), port: a.port };
    server.on('connection', (socket) => {
      socket.on('error', () => undefined); // reported through the connection
      if (this.accepted.isClosed) {
        socket.destroy();
        return;
      }
      this.accepted.push(new TcpConnection(socket, 'incoming', options));
    });
    // A signal that fired while the port was being bound closes the listener at once.
    if (signal?.aborted) void this.close();
    else signal?.addEventListener('abort', () => void this.close(), { once: true });
  }

  [Symbol.asyncIterator](): AsyncIterator<TcpConnection> {
    return this.accepted[Symbol.asyncIterator]();
  }

  close(): Promise<void> {
    if (this.accepted.isClosed) return Promise.resolve();
    this.accepted.close();
    return new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

export class TcpTransport implements Transport {
  readonly kind = 'tcp' as const;

  constructor(private readonly options: TcpOptions = {}) {}

  dial(remote: Endpoint, options: DialOptions = {}): Promise<TcpConnection> {
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(abortError(signal));
    return new Promise<TcpConnection>((resolve, reject) => {
      const sink: ReadSink = { pool: new ReadPool(), deliver: undefined };
      // Half-open allowed, as the Connection interface says: our `end()` does not stop our reading, theirs does not stop our writing.
      const socket = net.connect({
        host: remote.host,
        port: remote.port,
        noDelay: this.options.noDelay ?? false,
        allowHalfOpen: true,
        onread: {
          buffer: sink.pool.lease,
          callback: (n: number, buf: Uint8Array) => {
            sink.deliver?.((buf as Buffer).subarray(0, n));
            return true;
          },
        },
      });
      const what = `${remote.host.includes(':') ? `[${remote.host}]` : remote.host}:${remote.port}`;
      const onAbort = () => {
        socket.destroy();
        cleanup();
        reject(abortError(signal));
      };
      const onError = (err: Error) => {
        cleanup();
        socket.destroy();
        reject(fromSystemError(err, what));
      };
      const onConnect = () => {
        cleanup();
        const conn = new TcpConnection(socket, 'outgoing', this.options, sink);
        // Once connected, the signal closes the connection (dial's contract).
        if (signal) {
          const close = () => conn.close();
          signal.addEventListener('abort', close, { once: true });
          void conn.closed.then(() => signal.removeEventListener('abort', close));
        }
        resolve(conn);
      };
      const cleanup = () => {
        socket.off('error', onError);
        socket.off('connect', onConnect);
        signal?.removeEventListener('abort', onAbort);
      };
      socket.once('error', onError);
      socket.once('connect', onConnect);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  listen(options: ListenOptions): Promise<TcpListener> {
    if (options.signal?.aborted) return Promise.reject(abortError(options.signal));
    return new Promise<TcpListener>((resolve, reject) => {
      const server = net.createServer({ noDelay: this.options.noDelay ?? false, pauseOnConnect: false, allowHalfOpen: true });
      const onError = (err: Error) => reject(fromSystemError(err, `listen on ${options.host}:${options.port}`));
      server.once('error', onError);
      server.listen({ host: options.host, port: options.port }, () => {
        server.off('error', onError);
        server.on('error', () => undefined);
        resolve(new TcpListener(server, this.options, options.signal));
      });
    });
  }
}
