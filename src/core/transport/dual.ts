/**
 * TCP (BEP 3) and uTP (BEP 29) side by side: which transports a session gets for `--transport
 * tcp|utp|both`, and how one peer is dialed when both are on.
 *
 * Dialing with both: uTP first, TCP after a short head start, the first connection made wins and
 * the other attempt is aborted (or closed, if it connected too) — "happy eyeballs" (RFC 8305's
 * idea) between two transports. Why not uTP, then TCP after uTP fails: a uTP connect to a peer
 * that does not speak uTP gets no answer at all (UDP; libutp ignores ICMP), so "fails" means
 * libutp's own connect timeout, many seconds; a TCP-only peer would wait that long every time
 * (webtorrent-cli loses ~41 s per TCP-only seed this way). Why uTP first: peers that speak both
 * prefer it (libtorrent, Transmission and qBittorrent do), it yields to other traffic (LEDBAT),
 * and some peers are reachable over it only. A uTP attempt that fails before the head start is
 * over (an IPv6 peer, a refusal) starts TCP at once.
 */
import { BtError, abortError, isBtError } from '../errors.js';
import { TcpTransport } from './tcp.js';
import type { Connection, DialOptions, Endpoint, Transport, TransportKind } from './types.js';
import { UtpTransport } from './utp.js';

export type TransportMode = 'tcp' | 'utp' | 'both';
export const TRANSPORT_MODES: readonly TransportMode[] = ['tcp', 'utp', 'both'];

/** Default head start of uTP over TCP when dialing with both. */
export const UTP_HEAD_START_MS = 300;

/**
 * The transports of one session. TCP comes first when both are on: the first transport's port is
 * the one the session announces, and uTP then binds the same port number (connections.ts).
 */
export function createTransports(mode: TransportMode): Transport[] {
  if (mode === 'tcp') return [new TcpTransport()];
  if (mode === 'utp') return [new UtpTransport()];
  return [new TcpTransport(), new UtpTransport()];
}

/** Release every transport (uTP's UDP socket); never rejects. */
export async function closeTransports(transports: readonly Transport[]): Promise<void> {
  await Promise.allSettled(transports.map((t) => t.close?.()));
}

/**
 * Dial `remote` over `first`, and over `second` too once `headStartMs` passed or `first` failed;
 * resolves with the first connection made (the other attempt is aborted, or closed if it
 * connected as well). Rejects when both failed, with `second`'s error (the fallback's is the one
 * that says most: `first` may have failed only for lack of support), or with the abort error.
 */
export function dialFirst(first: Transport, second: Transport, remote: Endpoint, options: DialOptions & { headStartMs?: number } = {}): Promise<Connection> {
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(abortError(signal));
  return new Promise<Connection>((resolve, reject) => {
    const attempts = [new AbortController(), new AbortController()] as const;
    const errors: unknown[] = [];
    let settled = false;
    let started = 1;
    let failed = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const onAbort = () => {
      for (const a of attempts) a.abort(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const finish = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    const attempt = (t: Transport, i: 0 | 1) => {
      t.dial(remote, { signal: attempts[i].signal }).then(
        (conn) => {
          if (settled) {
            conn.close();
            return;
          }
          settled = true;
          finish();
          attempts[1 - i]!.abort(new BtError('NET_ABORTED', 'interrupted', 'connected over the other transport'));
          // From here the caller's signal closes the connection, as dial's contract says.
          if (signal) {
            const close = () => conn.close();
            signal.addEventListener('abort', close, { once: true });
            void conn.closed.then(() => signal.removeEventListener('abort', close));
          }
          resolve(conn);
        },
        (err: unknown) => {
          if (settled) return;
          errors[i] = err;
          failed++;
          if (signal?.aborted) {
            settled = true;
            finish();
            reject(abortError(signal));
          } else if (i === 0 && started === 1) startSecond();
          else if (failed === 2) {
            settled = true;
            finish();
            reject(isBtError(errors[1]) ? errors[1] : errors[0]);
          }
        },
      );
    };
    const startSecond = () => {
      if (started === 2 || settled) return;
      started = 2;
      clearTimeout(timer);
      attempt(second, 1);
    };
    attempt(first, 0);
    timer = setTimeout(startSecond, options.headStartMs ?? UTP_HEAD_START_MS);
  });
}

/**
 * Which transport last reached each peer address, so that a redial with both transports on goes
 * straight to it: a TCP-only peer otherwise waits uTP's head start on every redial (a seed that
 * comes and goes, a peer that drops us and is retried). uTP that worked is dialed first anyway;
 * TCP that won means uTP failed or was too slow, and TCP alone is dialed next time. An address
 * whose dial failed altogether is forgotten (the peer may have changed), so its next dial tries
 * both again. Bounded: past `limit` addresses the one heard of longest ago is dropped.
 */
export class TransportMemory {
  private readonly worked = new Map<string, TransportKind>();

  constructor(private readonly limit = 4096) {}

  get size(): number {
    return this.worked.size;
  }

  /** The transport that reached `key` last, or undefined. */
  get(key: string): TransportKind | undefined {
    return this.worked.get(key);
  }

  /** `kind` reached `key`. */
  reached(key: string, kind: TransportKind): void {
    // Delete first: a Map keeps insertion order, so the oldest entry is the first one.
    this.worked.delete(key);
    this.worked.set(key, kind);
    if (this.worked.size > this.limit) this.worked.delete(this.worked.keys().next().value!);
  }

  /** A dial of `key` failed: try every transport next time. */
  failed(key: string): void {
    this.worked.delete(key);
  }
}
