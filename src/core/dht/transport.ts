/**
 * The socket edge of the DHT (BEP 5 KRPC over UDP): how a lookup sends one query and gets one
 * answer, and the guard that keeps hostile datagrams away from bittorrent-dht.
 *
 * A lookup only needs `KrpcTransport.query`; unit tests give it an in-memory network, the node
 * gives it the library's k-rpc-socket (transaction ids and per-query timeouts live there).
 */
import type { Socket } from 'node:dgram';
import type { KrpcSocket } from 'bittorrent-dht';
import type { IpFamily } from './compact.js';
import { checkDatagram } from './krpc.js';

/** Where a query goes. `id` set: the reply must come from that node id (k-rpc checks it). */
export interface QueryTarget {
  host: string;
  port: number;
  family: IpFamily;
  id: Buffer | null;
}

export type QueryFailureReason = 'timeout' | 'error-reply' | 'send-failed' | 'unexpected-id' | 'cancelled';

export class QueryFailure extends Error {
  override readonly name = 'QueryFailure';
  constructor(
    readonly reason: QueryFailureReason,
    message: string,
  ) {
    super(message);
  }
}

export interface KrpcTransport {
  /** The address families this transport can send on. */
  readonly families: readonly IpFamily[];
  /**
   * Send `method` with arguments `args` (the transport adds our `id`); resolve with the reply's
   * `r` dictionary (unvetted shape: read it with `readReply`), reject with a `QueryFailure`.
   */
  query(node: QueryTarget, method: string, args: Record<string, unknown>, signal: AbortSignal): Promise<unknown>;
}

/** Counters of what the guard kept from the library. */
export interface GuardStats {
  dropped: number;
  handlerErrors: number;
  lastDropReason: string | null;
}

/** What the guard knows about the datagram being handled, for the library hooks it calls into. */
export interface DispatchContext {
  /** The datagram is a query from a BEP 43 read-only node. */
  readOnlySender: boolean;
}

/**
 * Put `checkDatagram` between the UDP socket and k-rpc-socket's 'message' listener, and catch
 * anything the library still throws while handling a datagram it accepted: an exception there
 * would otherwise escape an event handler and end the process.
 */
export function guardSocket(socket: Socket, stats: GuardStats, context?: DispatchContext): void {
  const inner = socket.listeners('message') as ((msg: Buffer, rinfo: unknown) => void)[];
  for (const l of inner) socket.removeListener('message', l);
  socket.on('message', (msg: Buffer, rinfo) => {
    const verdict = checkDatagram(msg);
    if (!verdict.ok) {
      stats.dropped++;
      stats.lastDropReason = verdict.reason;
      return;
    }
    // The library handles a datagram synchronously, so the context holds for exactly this one.
    if (context) context.readOnlySender = verdict.readOnly === true;
    for (const l of inner) {
      try {
        l(msg, rinfo);
      } catch (err) {
        stats.handlerErrors++;
        stats.lastDropReason = `handler: ${err instanceof Error ? err.message : String(err)}`;
      }
    }
    if (context) context.readOnlySender = false;
  });
}

/** A transport over one k-rpc-socket per address family. */
export function krpcTransport(sockets: Partial<Record<IpFamily, KrpcSocket>>, nodeId: Buffer): KrpcTransport {
  const families = ([4, 6] as const).filter((f) => sockets[f] !== undefined);
  return {
    families,
    query(node, method, args, signal) {
      const sock = sockets[node.family];
      if (!sock) return Promise.reject(new QueryFailure('send-failed', `no IPv${node.family} socket`));
      if (signal.aborted) return Promise.reject(new QueryFailure('cancelled', 'cancelled'));
      return new Promise((resolve, reject) => {
        let tid: number | undefined;
        const onAbort = () => {
          if (tid !== undefined) sock.cancel(tid, new QueryFailure('cancelled', 'cancelled'));
        };
        try {
          tid = sock.query(
            { host: node.host, port: node.port, ...(node.id ? { id: node.id } : {}) },
            { q: method, a: { ...args, id: nodeId } },
            (err, res) => {
              signal.removeEventListener('abort', onAbort);
              if (err) return reject(classify(err));
              const r = res && typeof res === 'object' ? (res as Record<string, unknown>).r : undefined;
              if (r === undefined) return reject(new QueryFailure('error-reply', 'reply without r'));
              resolve(r);
            },
          );
        } catch (err) {
          // A synchronous send failure (closed socket, refused address): the pending entry in
          // k-rpc-socket times out on its own; report the failure now.
          if (tid !== undefined) sock.cancel(tid, new QueryFailure('send-failed', 'send failed'));
          return reject(new QueryFailure('send-failed', err instanceof Error ? err.message : String(err)));
        }
        signal.addEventListener('abort', onAbort, { once: true });
      });
    },
  };
}

function classify(err: Error & { code?: unknown }): QueryFailure {
  if (err instanceof QueryFailure) return err;
  if (err.code === 'ETIMEDOUT') return new QueryFailure('timeout', 'no answer');
  if (err.code === 'EUNEXPECTEDNODE') return new QueryFailure('unexpected-id', 'answered with another node id');
  if (typeof err.code === 'number') return new QueryFailure('error-reply', `error ${err.code}: ${err.message.replace(/^\d+\s*/, '')}`);
  return new QueryFailure('error-reply', err.message);
}
