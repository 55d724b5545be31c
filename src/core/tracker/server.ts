/**
 * An in-memory BitTorrent tracker: HTTP (BEP 3 announce, BEP 23 compact and dictionary peers,
 * BEP 7 `peers6`, BEP 24 `external ip`, BEP 48 scrape) and UDP (BEP 15, BEP 41 tolerated) front
 * ends over one SwarmStore. What `btkit tracker` runs, and what tests start on port 0.
 *
 * HTTP serves exactly `/announce` and `/scrape`: libtorrent's SSRF mitigation accepts a localhost
 * tracker only at `/announce`, and BEP 48 derives the scrape path from it.
 *
 * The UDP front end (the hot path, and how its connection ids work) is in udp-server.ts.
 *
 * Requests are logged through `onEvent` (a plain callback: the server's log is a side channel,
 * not a result the caller iterates).
 */
import http from 'node:http';
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { lookup as dnsLookup } from 'node:dns';
import { isIP } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { fromSystemError, isBtError } from '../errors.js';
import { encodeAnnounceBody, encodeFailureBody, encodeScrapeBody, parseAnnounceQuery, parseScrapeQuery } from './http-codec.js';
import { InfoHashSet } from './infohash-set.js';
import { normalizeAddress } from './peers.js';
import { SwarmStore, ipv4Number, type SwarmStoreOptions } from './swarm.js';
import { udpFrontEnd } from './udp-server.js';
import { hex, type AnnounceEvent, type ScrapeStats, type TrackerProtocol } from './types.js';

export interface TrackerServerOptions {
  /** Address to bind both front ends to. Default 127.0.0.1. */
  host?: string;
  /** HTTP port; 0 picks a free one; null disables HTTP. Default 0. */
  httpPort?: number | null;
  /** UDP port; 0 picks a free one; null disables UDP. Default 0. */
  udpPort?: number | null;
  /** `interval` sent to clients, seconds. Default 120. */
  intervalS?: number;
  /** `min interval` (HTTP only), seconds; not sent when undefined. */
  minIntervalS?: number;
  /** How long a silent peer is kept. Default three intervals. */
  peerTtlMs?: number;
  /** Infohashes (40-hex) this tracker serves; null or undefined: any (open mode). */
  allow?: Iterable<string> | null;
  /** Believe the `ip` a client reports (HTTP `ip=`, UDP `ip` field). Default false. */
  trustClientIp?: boolean;
  /** Called once per request, after it was answered or refused. */
  onEvent?: (event: TrackerServerEvent) => void;
  now?: () => number;
  random?: () => number;
  /** Key for UDP connection ids; random by default. */
  secret?: Uint8Array;
  /** How often expired peers are swept. Default min(interval, 60 s). */
  sweepMs?: number;
  /**
   * HTTP: how long a client may take to send its request headers, and its whole request, before
   * its connection is closed; and how long an idle kept-alive or silent connection stays. Defaults
   * 10 s, 15 s and 5 s.
   */
  http?: { headersTimeoutMs?: number; requestTimeoutMs?: number; idleTimeoutMs?: number };
  store?: Omit<SwarmStoreOptions, 'now' | 'random' | 'peerTtlMs'>;
}

export type TrackerServerEvent =
  | {
      type: 'announce';
      protocol: TrackerProtocol;
      infoHash: string;
      peerId: string;
      ip: string;
      port: number;
      event: AnnounceEvent;
      left: number;
      numWant: number | null;
      returned: number;
      complete: number;
      incomplete: number;
      /** BEP 7: the addresses an HTTP client gave in `ipv4=` / `ipv6=`, as written. */
      ipv4?: string;
      ipv6?: string;
    }
  | { type: 'scrape'; protocol: TrackerProtocol; ip: string; infoHashes: string[] }
  | { type: 'refused'; protocol: TrackerProtocol; ip: string; reason: string; infoHash?: string }
  | { type: 'bad-request'; protocol: TrackerProtocol; ip: string; reason: string }
  | { type: 'expired'; peers: number };

export interface TrackerEndpoint {
  host: string;
  port: number;
  /** The announce URL clients use. */
  announceUrl: string;
}

export interface TrackerServerStats {
  announces: number;
  scrapes: number;
  refused: number;
  badRequests: number;
}

export interface TrackerServer {
  http: TrackerEndpoint | null;
  udp: TrackerEndpoint | null;
  store: SwarmStore;
  /** Requests answered so far, by kind (kept whether or not `onEvent` is given). */
  stats: TrackerServerStats;
  close(): Promise<void>;
}

const FULL_SCRAPE_LIMIT = 10_000;

/** Start the tracker; resolves once every enabled front end is listening. */
export async function startTrackerServer(options: TrackerServerOptions = {}): Promise<TrackerServer> {
  const host = options.host ?? '127.0.0.1';
  const intervalS = options.intervalS ?? 120;
  const now = options.now ?? Date.now;
  const store = new SwarmStore({
    ...options.store,
    now,
    ...(options.random ? { random: options.random } : {}),
    peerTtlMs: options.peerTtlMs ?? intervalS * 3000,
  });
  let allow: InfoHashSet | null = null;
  if (options.allow) {
    allow = new InfoHashSet(randomBytes(4).readInt32BE(0));
    // Anything but 40 hex digits could never match an infohash.
    for (const h of options.allow) if (/^[0-9a-f]{40}$/i.test(h)) allow.add(Buffer.from(h, 'hex'), 0);
  }
  const secret = options.secret ?? randomBytes(32);
  const stats: TrackerServerStats = { announces: 0, scrapes: 0, refused: 0, badRequests: 0 };
  const onEvent = options.onEvent;
  // Events are built only when someone listens: under load, the log is most of the cost.
  const emit = (make: () => TrackerServerEvent, kind: keyof TrackerServerStats) => {
    stats[kind]++;
    if (onEvent) onEvent(make());
  };
  const trust = options.trustClientIp ?? false;
  const allowed = (infoHash: Uint8Array) => allow === null || allow.find(infoHash, 0) >= 0;

  // --- HTTP -----------------------------------------------------------------------------------
  let httpServer: http.Server | null = null;
  let httpEndpoint: TrackerEndpoint | null = null;
  if (options.httpPort !== null) {
    const headersTimeout = options.http?.headersTimeoutMs ?? 10_000;
    const requestTimeout = Math.max(headersTimeout, options.http?.requestTimeoutMs ?? 15_000);
    const idleTimeout = options.http?.idleTimeoutMs ?? 5_000;
    const server = http.createServer({
      headersTimeout,
      requestTimeout,
      keepAliveTimeout: idleTimeout,
      // Node checks the two timeouts above only this often (30 s by default): a slowloris client
      // trickling header bytes stayed connected for up to 40 s with a 10 s headersTimeout.
      connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(headersTimeout / 4))),
    }, (req, res) => {
      const ip = normalizeAddress(req.socket.remoteAddress ?? '');
      const send = (status: number, body: Buffer) => {
        res.writeHead(status, { 'content-type': 'text/plain', 'content-length': body.length, 'cache-control': 'no-store' });
        res.end(body);
      };
      const fail = (status: number, reason: string, type: 'refused' | 'bad-request', infoHash?: string) => {
        send(status, encodeFailureBody(reason));
        emit(() => (type === 'refused' ? { type, protocol: 'http', ip, reason, ...(infoHash ? { infoHash } : {}) } : { type, protocol: 'http', ip, reason }), type === 'refused' ? 'refused' : 'badRequests');
      };
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      const path = q >= 0 ? url.slice(0, q) : url;
      const query = q >= 0 ? url.slice(q + 1) : '';
      if (req.method !== 'GET') return fail(405, 'only GET is supported', 'bad-request');
      try {
        if (path === '/announce') {
          const a = parseAnnounceQuery(query);
          if (!allowed(a.infoHash)) return fail(200, 'infohash not allowed on this tracker', 'refused', hex(a.infoHash));
          const peerIp = trust && a.ip ? a.ip : ip;
          const reply = store.announce({ infoHash: a.infoHash, peerId: a.peerId, ip: peerIp, port: a.port, left: a.left, event: a.event, numWant: a.numWant, families: 'both' });
          send(
            200,
            encodeAnnounceBody({
              interval: intervalS,
              ...(options.minIntervalS !== undefined ? { minInterval: options.minIntervalS } : {}),
              complete: reply.complete,
              incomplete: reply.incomplete,
              downloaded: reply.downloaded,
              peers: reply.peers,
              compact: a.compact,
              noPeerId: a.noPeerId,
              externalIp: ip,
            }),
          );
          emit(() => ({
            type: 'announce', protocol: 'http', infoHash: hex(a.infoHash), peerId: hex(a.peerId), ip: peerIp, port: a.port, event: a.event,
            left: Number(a.left), numWant: a.numWant ?? null, returned: reply.peers.length, complete: reply.complete, incomplete: reply.incomplete,
            ...(a.ipv4 !== undefined ? { ipv4: a.ipv4 } : {}), ...(a.ipv6 !== undefined ? { ipv6: a.ipv6 } : {}),
          }), 'announces');
          return;
        }
        if (path === '/scrape') {
          const hashes = parseScrapeQuery(query);
          const files: [Uint8Array, ScrapeStats][] =
            hashes.length === 0 ? [...store.entries(FULL_SCRAPE_LIMIT)] : hashes.filter(allowed).map((h) => [h, store.scrape(h)]);
          send(200, encodeScrapeBody(files));
          emit(() => ({ type: 'scrape', protocol: 'http', ip, infoHashes: hashes.map(hex) }), 'scrapes');
          return;
        }
        return fail(404, `no such path ${JSON.stringify(path.slice(0, 100))}: this tracker serves /announce and /scrape`, 'bad-request');
      } catch (err) {
        // A bug must cost one answer, not the tracker.
        if (!isBtError(err)) return fail(500, `internal error: ${(err as Error).message}`, 'bad-request');
        return fail(err.code === 'TRACKER_SERVER_FULL' ? 200 : 400, err.message, err.code === 'TRACKER_SERVER_FULL' ? 'refused' : 'bad-request');
      }
    });
    // A connection that sends nothing at all is not a request yet, and no request timeout sees
    // it: it is closed once idle this long.
    server.timeout = idleTimeout;
    server.on('timeout', (socket: Socket) => socket.destroy());
    await listen(server, options.httpPort ?? 0, host);
    httpServer = server;
    const port = (server.address() as AddressInfo).port;
    httpEndpoint = { host, port, announceUrl: `http://${urlHost(host)}:${port}/announce` };
  }

  // --- UDP ------------------------------------------------------------------------------------
  let udpSocket: dgram.Socket | null = null;
  let udpEndpoint: TrackerEndpoint | null = null;
  if (options.udpPort !== null) {
    const family: 4 | 6 = host.includes(':') ? 6 : 4;
    // `send` looks the address up first; an IP literal (every answer goes to one) is answered at
    // once instead of on the next tick, so the reply buffer is handed over before `send` returns.
    // (A dotted quad is told by a character loop: net.isIP's regular expression showed in the profile.)
    const lookup = (address: string, opts: unknown, callback: (err: Error | null, address: string, family: number) => void) => {
      const f = ipv4Number(address) >= 0 ? 4 : isIP(address);
      if (f !== 0) return callback(null, address, f);
      dnsLookup(address, typeof opts === 'number' ? { family: opts } : (opts as object), callback as never);
    };
    const socket = dgram.createSocket({ type: family === 6 ? 'udp6' : 'udp4', lookup: lookup as never });
    socket.on('message', udpFrontEnd(socket, { store, family, intervalS, allow, trustClientIp: trust, secret, now, stats, onEvent }));
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(options.udpPort ?? 0, host, () => {
          socket.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      socket.close();
      httpServer?.close();
      throw fromSystemError(err, `UDP ${urlHost(host)}:${options.udpPort ?? 0}`);
    }
    // A send error (client gone) must not bring the tracker down.
    socket.on('error', () => {});
    // Room for bursts (a garbage collection pause): the kernel caps this at net.core.rmem_max.
    try {
      socket.setRecvBufferSize(4 << 20);
    } catch {
      // The system's default will do.
    }
    udpSocket = socket;
    const port = socket.address().port;
    udpEndpoint = { host, port, announceUrl: `udp://${urlHost(host)}:${port}/announce` };
  }

  const sweepMs = options.sweepMs ?? Math.min(intervalS * 1000, 60_000);
  const sweeper = setInterval(() => {
    const n = store.expire();
    if (n > 0) onEvent?.({ type: 'expired', peers: n });
  }, sweepMs);
  sweeper.unref();

  let closed = false;
  return {
    http: httpEndpoint,
    udp: udpEndpoint,
    store,
    stats,
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(sweeper);
      const tasks: Promise<void>[] = [];
      if (httpServer) {
        const s = httpServer;
        tasks.push(new Promise((resolve) => s.close(() => resolve())));
        s.closeAllConnections();
      }
      if (udpSocket) {
        const s = udpSocket;
        tasks.push(new Promise((resolve) => s.close(() => resolve())));
      }
      await Promise.all(tasks);
    },
  };
}

function listen(server: http.Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(fromSystemError(err, `HTTP ${urlHost(host)}:${port}`));
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

const urlHost = (host: string) => (host.includes(':') ? `[${host}]` : host);
