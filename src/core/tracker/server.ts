/**
 * An in-memory BitTorrent tracker: HTTP (BEP 3 announce, BEP 23 compact and dictionary peers,
 * BEP 7 `peers6`, BEP 24 `external ip`, BEP 48 scrape) and UDP (BEP 15, BEP 41 tolerated) front
 * ends over one SwarmStore. What `btkit tracker` runs, and what tests start on port 0.
 *
 * HTTP serves exactly `/announce` and `/scrape`: libtorrent's SSRF mitigation accepts a localhost
 * tracker only at `/announce`, and BEP 48 derives the scrape path from it.
 *
 * UDP connection ids are not stored: each is a keyed hash (HMAC-SHA-256 with a per-server secret)
 * of the client's address, port and the current minute, accepted for that minute and the two
 * before it. So they stay valid at least the two minutes BEP 15 asks, cost no memory, and cannot
 * be guessed by a spoofer who never saw the connect answer.
 *
 * Requests are logged through `onEvent` (a plain callback: the server's log is a side channel,
 * not a result the caller iterates).
 */
import http from 'node:http';
import dgram from 'node:dgram';
import { createHmac, randomBytes } from 'node:crypto';
import type { AddressInfo, Socket } from 'node:net';
import { fromSystemError, isBtError } from '../errors.js';
import { encodeAnnounceBody, encodeFailureBody, encodeScrapeBody, parseAnnounceQuery, parseScrapeQuery } from './http-codec.js';
import { formatIPv4, normalizeAddress } from './peers.js';
import { SwarmStore, type SwarmStoreOptions } from './swarm.js';
import {
  MAX_SCRAPE_HASHES,
  PROTOCOL_ID,
  decodeRequest,
  encodeAnnounceResponse,
  encodeConnectResponse,
  encodeErrorResponse,
  encodeScrapeResponse,
} from './udp-codec.js';
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

const CONNECTION_ID_BUCKET_MS = 60_000;
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
  const allow = options.allow ? new Set([...options.allow].map((h) => h.toLowerCase())) : null;
  const secret = options.secret ?? randomBytes(32);
  const stats: TrackerServerStats = { announces: 0, scrapes: 0, refused: 0, badRequests: 0 };
  const onEvent = options.onEvent;
  // Events are built only when someone listens: under load, the log is most of the cost.
  const emit = (make: () => TrackerServerEvent, kind: keyof TrackerServerStats) => {
    stats[kind]++;
    if (onEvent) onEvent(make());
  };
  const trust = options.trustClientIp ?? false;
  const allowed = (infoHash: Uint8Array) => allow === null || allow.has(hex(infoHash));

  // The HMAC is the costly part of a UDP request; ids are cached per minute (bounded, cleared when
  // full), so a client's steady stream of announces costs one HMAC a minute.
  const idCache = new Map<string, bigint>();
  const connectionId = (ip: string, port: number, bucket: number): bigint => {
    const key = `${bucket}|${ip}|${port}`;
    let id = idCache.get(key);
    if (id === undefined) {
      if (idCache.size >= 100_000) idCache.clear();
      id = createHmac('sha256', secret).update(key).digest().readBigUInt64BE(0);
      idCache.set(key, id);
    }
    return id;
  };
  const validConnection = (id: bigint, ip: string, port: number): boolean => {
    const bucket = Math.floor(now() / CONNECTION_ID_BUCKET_MS);
    for (let b = bucket; b >= bucket - 2; b--) if (connectionId(ip, port, b) === id) return true;
    return false;
  };

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
    const socket = dgram.createSocket({ type: family === 6 ? 'udp6' : 'udp4' });
    socket.on('message', (msg, rinfo) => {
      const ip = normalizeAddress(rinfo.address);
      const reply = (b: Buffer) => socket.send(b, rinfo.port, rinfo.address);
      let req;
      try {
        req = decodeRequest(msg);
      } catch (err) {
        // Answer with an error when there is a transaction id to answer to; else drop.
        if (msg.length >= 16) reply(encodeErrorResponse(msg.readUInt32BE(12), (err as Error).message));
        emit(() => ({ type: 'bad-request', protocol: 'udp', ip, reason: (err as Error).message }), 'badRequests');
        return;
      }
      if (req.action === 'connect') {
        if (req.protocolId !== PROTOCOL_ID) {
          emit(() => ({ type: 'bad-request', protocol: 'udp', ip, reason: 'connect without the BEP 15 protocol id' }), 'badRequests');
          return;
        }
        reply(encodeConnectResponse(req.transactionId, connectionId(ip, rinfo.port, Math.floor(now() / CONNECTION_ID_BUCKET_MS))));
        return;
      }
      if (!validConnection(req.connectionId, ip, rinfo.port)) {
        reply(encodeErrorResponse(req.transactionId, 'invalid or expired connection id'));
        emit(() => ({ type: 'bad-request', protocol: 'udp', ip, reason: 'invalid or expired connection id' }), 'badRequests');
        return;
      }
      if (req.action === 'announce') {
        if (!allowed(req.infoHash)) {
          reply(encodeErrorResponse(req.transactionId, 'infohash not allowed on this tracker'));
          emit(() => ({ type: 'refused', protocol: 'udp', ip, reason: 'infohash not allowed on this tracker', infoHash: hex(req.infoHash) }), 'refused');
          return;
        }
        const peerIp = trust && req.ip !== 0 ? formatIPv4(Buffer.from([req.ip >>> 24, (req.ip >>> 16) & 255, (req.ip >>> 8) & 255, req.ip & 255])) : ip;
        let r;
        try {
          r = store.announce({ infoHash: req.infoHash, peerId: req.peerId, ip: peerIp, port: req.port, left: req.left, event: req.event, numWant: req.numWant, families: family });
        } catch (err) {
          reply(encodeErrorResponse(req.transactionId, (err as Error).message));
          emit(() => ({ type: 'refused', protocol: 'udp', ip, reason: (err as Error).message, infoHash: hex(req.infoHash) }), 'refused');
          return;
        }
        reply(encodeAnnounceResponse({ transactionId: req.transactionId, interval: intervalS, leechers: r.incomplete, seeders: r.complete, peers: r.peers }, family));
        emit(() => ({
          type: 'announce', protocol: 'udp', infoHash: hex(req.infoHash), peerId: hex(req.peerId), ip: peerIp, port: req.port, event: req.event,
          left: Number(req.left), numWant: req.numWant, returned: r.peers.length, complete: r.complete, incomplete: r.incomplete,
        }), 'announces');
        return;
      }
      // scrape
      if (req.infoHashes.length > MAX_SCRAPE_HASHES) {
        reply(encodeErrorResponse(req.transactionId, `at most ${MAX_SCRAPE_HASHES} infohashes per scrape`));
        emit(() => ({ type: 'bad-request', protocol: 'udp', ip, reason: 'too many infohashes in one scrape' }), 'badRequests');
        return;
      }
      // BEP 15 answers every hash in order; a hash this tracker does not serve counts as empty.
      reply(encodeScrapeResponse(req.transactionId, req.infoHashes.map((h) => (allowed(h) ? store.scrape(h) : { complete: 0, incomplete: 0, downloaded: 0 }))));
      emit(() => ({ type: 'scrape', protocol: 'udp', ip, infoHashes: req.infoHashes.map(hex) }), 'scrapes');
    });
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
