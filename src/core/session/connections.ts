/**
 * The connection manager: how peers get connected (BEP 3 handshake), whoever found them. It
 * listens on every transport, dials candidates from the address book (peer-book.ts) up to the
 * total and half-open limits, runs the handshake with the policy (not ourselves, not a banned
 * peer id, not a second connection to a peer id already connected) and hands each handshaken
 * `PeerWire` to the coordinator.
 *
 * Two peers that learn of each other at once (one PEX message from a common peer) dial each other
 * at once: each end then holds the other's incoming connection when its own dial's handshake comes
 * back. Refusing the dial as a duplicate at both ends would close both connections (and the
 * retries, on the same back-off schedule, can collide again). So a duplicate in the other
 * direction, while the first connection is young (`CROSSED_DIAL_MS`), is settled by a rule both
 * ends apply alike (libtorrent's): the connection dialed by the peer with the lower peer id is
 * kept, the other one closed. An older connection is always kept: a peer's address heard again
 * from a tracker or PEX leads to dials of peers already connected the other way, and replacing a
 * connection that carries data each time would churn it.
 *
 * Transports (TCP, BEP 3; uTP, BEP 29): every one listens, on one port number — the first
 * transport's port, which is the one the session announces; uTP binds the same number on UDP, as
 * peers expect. A second transport that cannot listen is a warning, not a failure: TCP alone still
 * works. A candidate is dialed over uTP with TCP close behind when both are on (`dialFirst` in
 * transport/dual.ts: a TCP-only peer waits a few hundred milliseconds, not libutp's connect
 * timeout), over the one transport otherwise; an address that TCP reached before is redialed over
 * TCP alone (`TransportMemory`: no head start paid again). A peer connected to us is not dialed
 * over the other transport while the connection lasts: over uTP it comes from its listening port,
 * which is its address in the book; over TCP its listening port is the one its BEP 10 handshake
 * gives (`listensAt`).
 *
 * Why its own part: dialing, accepting and their limits are the same whatever the session does
 * with a peer afterwards, and the transport choice lives here alone.
 */
import { isIPv6 } from 'node:net';
import { BtError, type ErrorCode, isBtError } from '../errors.js';
import { TransportMemory, dialFirst } from '../transport/dual.js';
import type { Connection, Endpoint, Listener, Transport } from '../transport/types.js';
import { PeerWire, type PeerWireOptions } from '../wire/peer-wire.js';
import { type Candidate, type PeerBook, keyOf } from './peer-book.js';
import type { PeerSourceName } from './types.js';

export interface ConnectionManagerOptions {
  infoHash: Uint8Array;
  peerId: Uint8Array;
  /** Every one listens (the first one's port is ours); with TCP and uTP both, uTP is dialed first. */
  transports: readonly Transport[];
  /** With TCP and uTP: how long uTP is tried alone before TCP is dialed too. Default UTP_HEAD_START_MS. */
  utpHeadStartMs?: number;
  book: PeerBook;
  /** Most connections (handshaken and half-open). Default 50. */
  maxPeers?: number;
  /** Connections being dialed or handshaken at once. Default 16. */
  maxHalfOpen?: number;
  connectTimeoutMs?: number;
  handshakeTimeoutMs?: number;
  now: () => number;
  /** Aborts every dial and handshake (the session stopping). */
  signal: AbortSignal;
  /**
   * Per-connection wire options (extensions, the BEP 10 handshake fields, the piece count when
   * known), and a `tag` handed back with the connection in `onPeer` (e.g. what ties its plug-ins to it).
   */
  wireOptions(remote: Endpoint): { wire: Omit<PeerWireOptions, 'infoHash' | 'peerId' | 'now'>; tag?: unknown };
  /** Peers handshaken and running now. */
  connected(): number;
  /** How a peer with this id (hex) is connected already (which end dialed, since when), or null. */
  connectedAs(peerIdHex: string): { direction: 'outgoing' | 'incoming'; since: number } | null;
  /** Close the connection to this peer id: a new one in the other direction takes its place. */
  replace(peerIdHex: string): void;
  /** Whether the session wants more connections now (a complete download that does not seed does not). */
  wantsPeers(): boolean;
  /** A handshaken connection: the coordinator runs it from here. */
  onPeer(wire: PeerWire, candidate: Candidate | undefined, source: PeerSourceName, tag: unknown): void;
  onWarning(message: string, code: ErrorCode): void;
}

/**
 * A connection this young, met by one in the other direction, is taken for a crossed dial (both
 * ends dialed at once): the two ends then keep the same one of the two (`keepsNew`).
 */
export const CROSSED_DIAL_MS = 2_000;

export class ConnectionManager {
  private readonly opts: ConnectionManagerOptions;
  private readonly listeners: Listener[] = [];
  private readonly banned = new Set<string>();
  private halfOpen = 0;
  private listenPort = 0;
  /** Book keys (listening addresses) of peers connected to us: not dialed while connected. */
  private readonly reachedUs = new Map<string, number>();
  /** With TCP and uTP both: which one reached each address last. */
  readonly transportMemory = new TransportMemory();

  constructor(options: ConnectionManagerOptions) {
    this.opts = options;
  }

  /** Our listening endpoint (the first transport's), once listening. */
  get listening(): Endpoint | null {
    const l = this.listeners[0];
    return l ? l.local : null;
  }

  /** The port we accept on (0 when we do not listen). */
  get port(): number {
    return this.listenPort;
  }

  get halfOpenCount(): number {
    return this.halfOpen;
  }

  /**
   * Accept on every transport, all on the first one's port number; a busy port falls back to any
   * free one when allowed. Only the first transport's failure is fatal.
   */
  async listen(listen: { host: string; port: number; fallbackToAnyPort?: boolean }): Promise<void> {
    for (const [i, t] of this.opts.transports.entries()) {
      const port = i === 0 ? listen.port : this.listenPort;
      let l: Listener;
      try {
        try {
          l = await t.listen({ host: listen.host, port, signal: this.opts.signal });
        } catch (err) {
          if (!(listen.fallbackToAnyPort && isBtError(err) && err.code === 'NET_EADDRINUSE')) throw err;
          this.opts.onWarning(`${t.kind === 'utp' ? 'UDP ' : ''}port ${port} is in use${t.kind === 'utp' ? ' (uTP)' : ''}; listening on another`, 'NET_EADDRINUSE');
          l = await t.listen({ host: listen.host, port: 0, signal: this.opts.signal });
        }
      } catch (err) {
        if (i === 0 || !isBtError(err) || this.opts.signal.aborted) throw err;
        this.opts.onWarning(`no incoming ${t.kind === 'utp' ? 'uTP' : t.kind.toUpperCase()} connections: ${err.message}`, err.code);
        continue;
      }
      if (this.opts.signal.aborted) {
        await l.close();
        return;
      }
      this.listeners.push(l);
      if (this.listenPort === 0) this.listenPort = l.local.port;
      void this.acceptLoop(l);
    }
  }

  /** Never connect to this peer id again (it sent bad data). */
  ban(peerIdHex: string): void {
    this.banned.add(peerIdHex);
  }

  /** Dial due candidates up to the limits. */
  connectMore(): void {
    if (this.opts.signal.aborted || !this.opts.wantsPeers()) return;
    const max = this.opts.maxPeers ?? 50;
    const maxHalfOpen = this.opts.maxHalfOpen ?? 16;
    for (const c of this.opts.book.due(this.opts.now())) {
      if (this.opts.connected() + this.halfOpen >= max || this.halfOpen >= maxHalfOpen) return;
      if (this.reachedUs.has(c.key)) continue;
      void this.dial(c);
    }
  }

  /** Stop accepting. Connections already handed over are the coordinator's to close. */
  async close(): Promise<void> {
    await Promise.allSettled(this.listeners.map((l) => l.close()));
  }

  /** uTP with TCP close behind when both are on (and the peer is IPv4: utp-native has no IPv6), else the one there is. */
  private dialOver(c: Candidate, signal: AbortSignal): Promise<Connection> {
    const ts = this.opts.transports;
    const utp = ts.find((t) => t.kind === 'utp');
    const tcp = ts.find((t) => t.kind === 'tcp');
    if (utp && tcp) {
      if (isIPv6(c.endpoint.host) || this.transportMemory.get(c.key) === 'tcp') return tcp.dial(c.endpoint, { signal });
      return dialFirst(utp, tcp, c.endpoint, { signal, ...(this.opts.utpHeadStartMs !== undefined ? { headStartMs: this.opts.utpHeadStartMs } : {}) });
    }
    return ts[0]!.dial(c.endpoint, { signal });
  }

  private async dial(c: Candidate): Promise<void> {
    c.state = 'connecting';
    this.halfOpen++;
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(new BtError('NET_CONNECT_TIMEOUT', 'network', 'connect timed out')), this.opts.connectTimeoutMs ?? 10_000);
    const onStop = () => ctl.abort(this.opts.signal.reason);
    this.opts.signal.addEventListener('abort', onStop, { once: true });
    let conn: Connection | undefined;
    try {
      conn = await this.dialOver(c, ctl.signal);
      this.transportMemory.reached(c.key, conn.remote.transport);
    } catch {
      if (!this.opts.signal.aborted) this.transportMemory.failed(c.key);
      this.opts.book.dialFailed(c, this.opts.now());
      return;
    } finally {
      this.halfOpen--;
      clearTimeout(timer);
      this.opts.signal.removeEventListener('abort', onStop);
    }
    await this.handshake(conn, c, c.source);
  }

  private async acceptLoop(l: Listener): Promise<void> {
    try {
      for await (const conn of l) {
        if (this.opts.signal.aborted || this.opts.connected() + this.halfOpen >= (this.opts.maxPeers ?? 50) + 5) {
          conn.close();
          continue;
        }
        // uTP comes from the peer's listening port: its address in the book, if we know it.
        if (conn.remote.transport === 'utp') this.hold(keyOf(conn.remote), conn);
        void this.handshake(conn, undefined, 'incoming');
      }
    } catch {
      // the listener failed: incoming connections stop, outgoing ones go on
    }
  }

  /**
   * A peer connected to us said it listens on `port` (BEP 10 `p`): that address is not dialed
   * while `conn` lasts (over TCP its source port says nothing; over uTP it is that port already).
   */
  listensAt(conn: Connection, port: number): void {
    if (conn.direction !== 'incoming' || conn.remote.transport === 'utp' || !Number.isInteger(port) || port < 1 || port > 65535) return;
    this.hold(keyOf({ host: conn.remote.host, port }), conn);
  }

  /** Keep `key` from being dialed until `conn` closes. */
  private hold(key: string, conn: Connection): void {
    this.reachedUs.set(key, (this.reachedUs.get(key) ?? 0) + 1);
    void conn.closed.then(() => {
      const n = (this.reachedUs.get(key) ?? 1) - 1;
      if (n > 0) this.reachedUs.set(key, n);
      else this.reachedUs.delete(key);
    });
  }

  /** The BEP 3 handshake and our policy; a connection that passes goes to `onPeer`. */
  private async handshake(conn: Connection, candidate: Candidate | undefined, source: PeerSourceName): Promise<void> {
    if (this.opts.signal.aborted) {
      conn.close();
      return;
    }
    const { wire: options, tag } = this.opts.wireOptions({ host: conn.remote.host, port: conn.remote.port });
    const wire = new PeerWire(conn, { infoHash: this.opts.infoHash, peerId: this.opts.peerId, now: this.opts.now, ...options });
    this.halfOpen++;
    let refused: 'self' | 'banned' | 'duplicate' | null = null;
    let replaces: string | null = null;
    try {
      await wire.handshake({
        timeoutMs: this.opts.handshakeTimeoutMs ?? 10_000,
        signal: this.opts.signal,
        accept: (h) => {
          const idHex = Buffer.from(h.peerId).toString('hex');
          if (Buffer.compare(h.peerId, this.opts.peerId) === 0) refused = 'self';
          else if (this.banned.has(idHex)) refused = 'banned';
          else {
            const existing = this.opts.connectedAs(idHex);
            if (existing !== null) {
              const crossed = existing.direction !== conn.direction && this.opts.now() - existing.since < CROSSED_DIAL_MS;
              if (crossed && keepsNew(conn.direction, this.opts.peerId, h.peerId)) replaces = idHex;
              else refused = 'duplicate';
            }
          }
          if (refused) throw new BtError('PEER_REFUSED', 'network', `refused: ${refused}`);
        },
      });
    } catch {
      if (candidate) {
        if (refused === 'self' || refused === 'banned') this.opts.book.exclude(candidate, refused);
        else this.opts.book.dialFailed(candidate, this.opts.now());
      }
      return;
    } finally {
      this.halfOpen--;
    }
    if (this.opts.signal.aborted) {
      wire.close();
      return;
    }
    if (replaces !== null && this.opts.connectedAs(replaces) !== null) this.opts.replace(replaces);
    if (candidate) this.opts.book.connected(candidate);
    this.opts.onPeer(wire, candidate, source, tag);
  }
}

/**
 * A second connection to a peer, in the other direction than the first: keep the new one when it
 * was dialed by the peer with the lower peer id. Both ends compute the same answer.
 */
export function keepsNew(newDirection: 'outgoing' | 'incoming', ours: Uint8Array, theirs: Uint8Array): boolean {
  const dialer = newDirection === 'outgoing' ? ours : theirs;
  const other = newDirection === 'outgoing' ? theirs : ours;
  return Buffer.compare(dialer, other) < 0;
}
