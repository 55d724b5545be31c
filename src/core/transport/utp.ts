/**
 * uTP (BEP 29: the Micro Transport Protocol, LEDBAT congestion control over UDP) behind the
 * `Transport` / `Connection` interfaces (transport/types.ts), on `utp-native` (libutp, the
 * reference implementation). Many peers in real swarms are reachable over uTP only.
 *
 * utp-native has known faults; this wrapper is built around each of them:
 * - One UDP socket per transport (one transport per session), used for incoming *and* outgoing
 *   connections. utp-native's `connect()` helper opens a new UDP socket for every connection
 *   (hundreds of open files in a swarm); here every connection is made from the one bound socket,
 *   so our outgoing uTP comes from the port we listen on, as BEP 29 peers expect (the same port
 *   number as TCP: connections.ts binds uTP on the port TCP got).
 * - The process did not exit after both ends were closed: its UDP handle stays referenced until
 *   libutp's timers let the last connection go (about half a second after a close, longer for a
 *   connection whose peer vanished). `close()` destroys every connection, closes the socket and
 *   unreferences it at once, so a stopped session never holds the process.
 * - IPv4 only: an IPv6 address makes libuv's `uv_ip4_addr` throw EINVAL inside a callback (an
 *   uncaught exception), and a host name is resolved by utp-native with no family, so it can
 *   resolve to IPv6 and crash the same way. Here an IPv6 address is refused up front
 *   (UTP_IPV6_UNSUPPORTED) and names are resolved here, IPv4 only.
 * - A bind that failed left utp-native's socket half set up; it becomes a BtError
 *   (NET_EADDRINUSE, so the session's port fallback works, or UTP_BIND_FAILED) and the socket is
 *   closed.
 * - `utp_shutdown` asserts (aborts the process) on a socket libutp already destroyed. Our end of
 *   stream is only ever sent on a connection that is established and not destroyed; anything
 *   else is closed instead. Errors the UDP socket or a connection emits always have a listener
 *   (an unheard 'error' event would throw), so no datagram a peer sends reaches a crash from here.
 * - Sending in bursts loses to libutp's loss recovery. libutp sends whatever its window allows the
 *   moment it gets the bytes; its window starts at 1 MiB of slow start (ssthresh = its send
 *   buffer) and a retransmission timeout (at least 1 s) does not lower it. A burst larger than the
 *   receiver's UDP buffer (Linux's default is 208 KiB) loses its tail; a lost tail has no later
 *   packet to be selectively acknowledged, so only the timeout finds it, the window restarts at
 *   one packet and slow start overshoots again: measured against a libtorrent leecher on
 *   loopback, ~5 MB flowed, then 1-1.5 s of nothing, over and over (3-4 MB/s, the seed's main
 *   thread idle). So writes are handed to libutp through a token bucket (`sendRate`, `sendBurst`)
 *   refilled on a timer and whenever libutp takes bytes (its acks): at most 64 KiB at once,
 *   128 MiB/s per connection, well above what uTP reaches even on loopback. `bufferedAmount`,
 *   `drained()` and `end()` count what waits in the bucket.
 * - No read backpressure: utp-native reads whatever libutp receives (libutp is told nothing is
 *   buffered, so it always offers a full receive window). Received chunks queue here until pulled;
 *   a consumer that stops pulling does not slow the peer down as it does over TCP.
 */
import { lookup } from 'node:dns/promises';
import { createRequire } from 'node:module';
import { isIPv4, isIPv6 } from 'node:net';
import type UTP from 'utp-native';
import type { UtpConnection, UtpSocket } from 'utp-native';
import { BtError, abortError } from '../errors.js';
import { AcceptQueue } from './accept-queue.js';
import { DrainWaiters, ReceiveQueue } from './receive-queue.js';
import type { Connection, DialOptions, Endpoint, Listener, ListenOptions, RemoteEndpoint, Transport } from './types.js';

export interface UtpOptions {
  /** `write()` returns false above this many queued bytes. Default 1 MiB. */
  writeHighWater?: number;
  /** `drained()` resolves at or below this many queued bytes. Default 256 KiB. */
  writeLowWater?: number;
  /** How long `close()` waits for libutp to let its connections go before it stops waiting. Default 1 s. */
  closeWaitMs?: number;
  /** Kernel receive and send buffers of the UDP socket. Default 4 MiB (see `bind`). */
  socketBufferBytes?: number;
  /**
   * Received bytes queued while the consumer does not read (libutp offers no read backpressure)
   * before the connection is closed with UTP_RECEIVE_OVERFLOW. Default 64 MiB: a peer sends what
   * we asked for (at most 500 blocks, 8 MiB, in flight), so only a flood reaches it.
   */
  maxQueuedBytes?: number;
  /**
   * Pacing (see the top comment): bytes per second handed to libutp at most, per connection.
   * Default 128 MiB/s; 0 hands every write over at once (utp-native's own behaviour).
   */
  sendRate?: number;
  /** Pacing: the most bytes handed to libutp at once after a pause. Default 64 KiB. */
  sendBurst?: number;
}

const DEFAULTS = { writeHighWater: 1024 * 1024, writeLowWater: 256 * 1024, closeWaitMs: 1000, socketBufferBytes: 4 * 1024 * 1024, maxQueuedBytes: 64 * 1024 * 1024, sendRate: 128 * 1024 * 1024, sendBurst: 64 * 1024 };

/** utp-native is loaded on first use (require caches it): a command that never speaks uTP loads no native addon. */
const requireCjs = createRequire(import.meta.url);
const utpNative = (): typeof UTP => requireCjs('utp-native') as typeof UTP;

const fmt = (host: string, port: number) => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);

/** libutp's four errors (utp-native names them UTP_<errno>), as the NET_ codes TCP reports. */
function fromUtpError(err: unknown, what: string): BtError {
  if (err instanceof BtError) return err;
  const code = (err as { code?: unknown })?.code;
  if (code === 'UTP_ECONNREFUSED') return new BtError('NET_ECONNREFUSED', 'network', `${what}: connection refused (uTP)`, { cause: err });
  if (code === 'UTP_ECONNRESET') return new BtError('NET_ECONNRESET', 'network', `${what}: connection reset by peer (uTP)`, { cause: err });
  if (code === 'UTP_ETIMEDOUT') return new BtError('NET_ETIMEDOUT', 'network', `${what}: timed out (uTP)`, { cause: err });
  return new BtError('UTP_FAILED', 'network', `${what}: uTP connection failed (${err instanceof Error ? err.message : String(err)})`, { cause: err });
}

/** An IPv4 address for `host`: itself, or a name resolved over IPv4 only (see the top comment). */
async function ipv4(host: string, what: string): Promise<string> {
  if (isIPv4(host)) return host;
  if (isIPv6(host)) throw new BtError('UTP_IPV6_UNSUPPORTED', 'network', `${what}: uTP reaches IPv4 addresses only`);
  try {
    return (await lookup(host, { family: 4 })).address;
  } catch {
    throw new BtError('NET_ENOTFOUND', 'network', `${what}: no IPv4 address for \`${host}\``);
  }
}

export class UtpConnectionWrapper implements Connection {
  readonly remote: RemoteEndpoint;
  readonly local: Endpoint;
  readonly closed: Promise<void>;
  private readonly rx = new ReceiveQueue();
  private readonly drainWaiters = new DrainWaiters();
  private isClosed = false;
  private readonly writeHighWater: number;
  private readonly writeLowWater: number;
  private readonly outQueue: { data: Uint8Array; onWritten: (() => void) | undefined }[] = [];
  private outBytes = 0;
  private tokens = 0;
  private refilledAt = 0;
  private pumpTimer: ReturnType<typeof setTimeout> | undefined;
  private ending = false;
  /**
   * Callbacks of writes handed to utp-native and not yet taken by libutp. utp-native never calls
   * them when the connection is destroyed first; the 'close' event (libutp let the connection go,
   * so nothing reads the buffers any more) calls them instead.
   */
  private readonly handed = new Set<() => void>();
  private readonly ratePerMs: number;
  private readonly burst: number;

  constructor(
    private readonly stream: UtpConnection,
    readonly direction: 'outgoing' | 'incoming',
    local: Endpoint,
    options: UtpOptions = {},
  ) {
    this.writeHighWater = options.writeHighWater ?? DEFAULTS.writeHighWater;
    this.writeLowWater = options.writeLowWater ?? DEFAULTS.writeLowWater;
    this.ratePerMs = (options.sendRate ?? DEFAULTS.sendRate) / 1000;
    this.burst = options.sendBurst ?? DEFAULTS.sendBurst;
    this.tokens = this.burst;
    this.refilledAt = performance.now();
    this.remote = { host: stream.remoteAddress, port: stream.remotePort, transport: 'utp' };
    this.local = local;
    const what = fmt(this.remote.host, this.remote.port);
    const maxQueued = options.maxQueuedBytes ?? DEFAULTS.maxQueuedBytes;
    stream.on('data', (chunk: Buffer) => {
      if (this.rx.error) return;
      if (this.rx.bytes + chunk.length > maxQueued) {
        // What is queued goes with the connection: memory stays bounded.
        this.rx.clear();
        this.rx.fail(new BtError('UTP_RECEIVE_OVERFLOW', 'network', `${what}: more than ${maxQueued} bytes received and not read (uTP has no read backpressure)`));
        stream.destroy();
        this.drainWaiters.notify();
        return;
      }
      this.rx.push(chunk);
    });
    stream.on('end', () => this.rx.end());
    stream.on('error', (err: unknown) => {
      this.rx.fail(fromUtpError(err, what));
      this.drainWaiters.notify();
    });
    stream.on('drain', () => this.drainWaiters.notify());
    this.closed = new Promise<void>((resolve) => {
      stream.once('close', () => {
        this.isClosed = true;
        this.rx.end();
        this.dropOut();
        for (const done of [...this.handed]) done();
        this.drainWaiters.notify();
        resolve();
      });
    });
  }

  private get gone(): boolean {
    return this.isClosed || this.stream.destroyed || this.rx.error !== undefined;
  }

  get bufferedAmount(): number {
    // utp-native keeps counting what a destroyed connection never sent.
    if (this.gone) return 0;
    return this.stream.writableLength + this.outBytes;
  }

  /**
   * Hand queued writes to libutp as the token bucket allows; the rest waits for the timer or the
   * next ack. A write is never split: one larger than the burst goes whole once tokens are left
   * (the session writes a block, 16 KiB, at a time), and the bucket's debt delays the next.
   */
  private pump(): void {
    if (this.gone) return this.dropOut();
    if (this.ratePerMs > 0) {
      const now = performance.now();
      this.tokens = Math.min(this.burst, this.tokens + (now - this.refilledAt) * this.ratePerMs);
      this.refilledAt = now;
    }
    const cork = this.outQueue.length > 1;
    if (cork) this.stream.cork();
    while (this.outQueue.length > 0 && (this.ratePerMs <= 0 || this.tokens > 0)) {
      const w = this.outQueue.shift()!;
      this.outBytes -= w.data.length;
      this.tokens -= w.data.length;
      const done = () => {
        if (!this.handed.delete(done)) return;
        w.onWritten?.();
        if (this.drainWaiters.size > 0) this.drainWaiters.notify();
        // libutp took bytes because acks opened its window: a finer clock than the 1 ms timer.
        if (this.outQueue.length > 0) queueMicrotask(() => this.pump());
      };
      this.handed.add(done);
      this.stream.write(w.data, done);
    }
    if (cork) this.stream.uncork();
    if (this.outQueue.length > 0) {
      if (this.pumpTimer === undefined) {
        this.pumpTimer = setTimeout(() => {
          this.pumpTimer = undefined;
          this.pump();
        }, Math.max(1, Math.ceil(-this.tokens / this.ratePerMs)));
      }
    } else if (this.ending) {
      this.ending = false;
      this.stream.end();
    }
  }

  /** The connection is gone: queued writes are dropped, their buffers given back. */
  private dropOut(): void {
    clearTimeout(this.pumpTimer);
    this.pumpTimer = undefined;
    const q = this.outQueue.splice(0);
    this.outBytes = 0;
    for (const w of q) w.onWritten?.();
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return this.rx.read();
  }

  write(data: Uint8Array, onWritten?: () => void): boolean {
    if (this.gone || !this.stream.writable || this.ending) {
      onWritten?.();
      return false;
    }
    // The callback runs once libutp took the bytes into its own packets (or the stream failed):
    // the buffer is the caller's again.
    this.outQueue.push({ data, onWritten });
    this.outBytes += data.length;
    this.pump();
    return this.bufferedAmount < this.writeHighWater;
  }

  writev(chunks: readonly Uint8Array[], onWritten?: () => void): boolean {
    if (this.gone || !this.stream.writable || chunks.length === 0 || this.ending) {
      onWritten?.();
      return !this.gone;
    }
    const last = chunks.length - 1;
    chunks.forEach((c, i) => {
      this.outQueue.push({ data: c, onWritten: i === last ? onWritten : undefined });
      this.outBytes += c.length;
    });
    this.pump();
    return this.bufferedAmount < this.writeHighWater;
  }

  drained(options: { signal?: AbortSignal } = {}): Promise<void> {
    return this.drainWaiters.wait(
      () => this.bufferedAmount <= this.writeLowWater,
      () => (this.gone ? (this.rx.error ?? new BtError('NET_CLOSED', 'network', `connection to ${fmt(this.remote.host, this.remote.port)} closed`)) : null),
      options.signal,
    );
  }

  end(): Promise<void> {
    if (this.gone) return Promise.resolve();
    // utp_shutdown asserts on a socket libutp no longer knows (see the top comment): only an
    // established, live connection gets our FIN; any other is closed instead.
    if (!this.stream._connected) {
      this.close();
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      this.stream.once('finish', () => resolve());
      void this.closed.then(() => resolve());
      this.ending = true;
      this.pump();
    });
  }

  close(error?: Error): void {
    if (error) this.rx.fail(error instanceof BtError ? error : fromUtpError(error, fmt(this.remote.host, this.remote.port)));
    else this.rx.clear();
    this.rx.end();
    if (!this.stream.destroyed) this.stream.destroy();
    this.dropOut();
    this.drainWaiters.notify();
  }
}

export class UtpListener implements Listener {
  readonly transport = 'utp' as const;
  private readonly accepted = new AcceptQueue<UtpConnectionWrapper>();

  constructor(
    readonly local: Endpoint,
    private readonly owner: UtpTransport,
    signal?: AbortSignal,
  ) {
    if (signal?.aborted) void this.close();
    else signal?.addEventListener('abort', () => void this.close(), { once: true });
  }

  /** From the transport: a connection a peer opened. */
  offer(conn: UtpConnectionWrapper): void {
    this.accepted.push(conn);
  }

  [Symbol.asyncIterator](): AsyncIterator<UtpConnectionWrapper> {
    return this.accepted[Symbol.asyncIterator]();
  }

  /** Stop accepting. The UDP socket stays open for the connections we dialed: `UtpTransport.close()` closes it. */
  close(): Promise<void> {
    if (this.accepted.isClosed) return Promise.resolve();
    this.owner.stopAccepting();
    this.accepted.close();
    return Promise.resolve();
  }
}

/**
 * One UDP socket for every uTP connection of a session (see the top comment). `listen` binds it;
 * a `dial` before any `listen` binds it to any port. `close()` ends it all; the transport cannot
 * be used again afterwards.
 */
export class UtpTransport implements Transport {
  readonly kind = 'utp' as const;
  private socket: UtpSocket | null = null;
  private bound: Promise<Endpoint> | null = null;
  private listener: UtpListener | null = null;
  private isClosed = false;
  private readonly options: UtpOptions;

  constructor(options: UtpOptions = {}) {
    this.options = options;
  }

  /** The bound UDP address, or null before the first listen or dial. */
  get address(): Endpoint | null {
    if (!this.socket || this.isClosed) return null;
    try {
      const a = this.socket.address();
      return { host: a.address, port: a.port };
    } catch {
      return null;
    }
  }

  /** Connections open now, incoming and outgoing (for tests and leak checks). */
  get openConnections(): number {
    return this.socket?.connections.length ?? 0;
  }

  private bind(host: string, port: number, signal?: AbortSignal): Promise<Endpoint> {
    if (this.isClosed) return Promise.reject(new BtError('UTP_CLOSED', 'network', 'the uTP socket is closed'));
    if (this.bound) return this.bound;
    const bound = (async () => {
      const where = `listen on ${fmt(host, port)} (uTP)`;
      const ip = host === '::' ? '0.0.0.0' : await ipv4(host, where);
      if (signal?.aborted) throw abortError(signal);
      if (this.isClosed) throw new BtError('UTP_CLOSED', 'network', 'the uTP socket is closed');
      const Utp = utpNative();
      const socket = new Utp({ allowHalfOpen: true });
      await new Promise<void>((resolve, reject) => {
        const onError = (err: NodeJS.ErrnoException) => {
          socket.off('listening', onListening);
          socket.close();
          socket.unref();
          if (err.code === 'EADDRINUSE') reject(new BtError('NET_EADDRINUSE', 'network', `${where}: address already in use`, { cause: err }));
          else reject(new BtError('UTP_BIND_FAILED', 'network', `${where}: ${err.code ?? err.message}`, { cause: err }));
        };
        const onListening = () => {
          socket.off('error', onError);
          resolve();
        };
        socket.once('error', onError);
        socket.once('listening', onListening);
        socket.bind(port, ip);
      });
      // Linux's default UDP receive buffer (208 KiB) overflows under a uTP burst: every dropped
      // datagram halves libutp's window. 4 MiB measured 36 MiB/s on loopback against 11-15 MiB/s
      // with the default (the kernel caps it at net.core.rmem_max; a refusal is no failure).
      const bytes = this.options.socketBufferBytes ?? DEFAULTS.socketBufferBytes;
      try {
        socket.setRecvBufferSize(bytes);
        socket.setSendBufferSize(bytes);
      } catch {
        // the default buffers then
      }
      // From here on an error of the UDP socket (a failed read) must not throw: the connections
      // report their own failures.
      socket.on('error', () => undefined);
      socket.on('connection', (c: UtpConnection) => this.accept(c));
      this.socket = socket;
      const a = socket.address();
      return { host: a.address, port: a.port };
    })();
    this.bound = bound;
    // A failed bind may be tried again (the session's fallback to another port).
    bound.catch(() => {
      if (this.bound === bound) this.bound = null;
    });
    return bound;
  }

  private accept(c: UtpConnection): void {
    c.on('error', () => undefined);
    const conn = new UtpConnectionWrapper(c, 'incoming', this.address ?? { host: '0.0.0.0', port: 0 }, this.options);
    if (this.listener && !this.isClosed) this.listener.offer(conn);
    else conn.close();
  }

  /** The listener closed: refuse new incoming connections (outgoing ones go on). */
  stopAccepting(): void {
    this.listener = null;
    if (this.socket && !this.isClosed) this.socket.firewall(true);
  }

  async listen(options: ListenOptions): Promise<UtpListener> {
    if (options.signal?.aborted) throw abortError(options.signal);
    if (this.listener) throw new BtError('UTP_BIND_FAILED', 'network', 'this uTP transport listens already');
    if (this.bound) throw new BtError('UTP_BIND_FAILED', 'network', 'this uTP transport is bound already (it dialed before listening)');
    const local = await this.bind(options.host, options.port, options.signal);
    const listener = new UtpListener(local, this, options.signal);
    this.listener = listener;
    this.socket!.firewall(false);
    return listener;
  }

  async dial(remote: Endpoint, options: DialOptions = {}): Promise<UtpConnectionWrapper> {
    const { signal } = options;
    if (signal?.aborted) throw abortError(signal);
    const what = fmt(remote.host, remote.port);
    const ip = await ipv4(remote.host, what);
    if (!Number.isInteger(remote.port) || remote.port < 1 || remote.port > 65535) throw new BtError('NET_ECONNREFUSED', 'network', `${what}: not a port`);
    const local = await this.bind('0.0.0.0', 0, signal);
    if (signal?.aborted) throw abortError(signal);
    if (this.isClosed || !this.socket) throw new BtError('UTP_CLOSED', 'network', 'the uTP socket is closed');
    const stream = this.socket.connect(remote.port, ip);
    stream.on('error', () => undefined);
    return new Promise<UtpConnectionWrapper>((resolve, reject) => {
      const fail = (err: BtError) => {
        cleanup();
        if (!stream.destroyed) stream.destroy();
        reject(err);
      };
      const onAbort = () => fail(abortError(signal));
      const onError = (err: unknown) => fail(fromUtpError(err, what));
      const onClose = () => fail(new BtError('NET_CLOSED', 'network', `${what}: closed before the uTP connection was made`));
      const onConnect = () => {
        cleanup();
        const conn = new UtpConnectionWrapper(stream, 'outgoing', local, this.options);
        // Once connected, the signal closes the connection (dial's contract).
        if (signal) {
          const close = () => conn.close();
          signal.addEventListener('abort', close, { once: true });
          void conn.closed.then(() => signal.removeEventListener('abort', close));
        }
        resolve(conn);
      };
      const cleanup = () => {
        stream.off('connect', onConnect);
        stream.off('error', onError);
        stream.off('close', onClose);
        signal?.removeEventListener('abort', onAbort);
      };
      stream.once('connect', onConnect);
      stream.once('error', onError);
      stream.once('close', onClose);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * Close every connection and the UDP socket. Resolves once libutp let the last connection go and
   * the socket closed (about half a second: libutp frees closed connections on a 500 ms tick), or
   * after `closeWaitMs` at the latest; the socket is unreferenced at once, so a connection libutp
   * holds on to longer never keeps the process alive. Idempotent.
   */
  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    await this.listener?.close();
    await this.bound?.catch(() => undefined);
    const socket = this.socket;
    if (!socket) return;
    socket.firewall(true);
    for (const c of [...socket.connections]) c.destroy();
    await new Promise<void>((resolve) => {
      // This timer holds the process (libutp's own timer, which frees closed connections every
      // 500 ms, does not): whoever awaits `close()` goes on, at the latest after `closeWaitMs`.
      const timer = setTimeout(resolve, this.options.closeWaitMs ?? DEFAULTS.closeWaitMs);
      socket.close(() => {
        clearTimeout(timer);
        resolve();
      });
      socket.unref();
    });
  }
}
