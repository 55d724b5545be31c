/**
 * UDP tracker client (BEP 15, with BEP 41 URL data): connect → announce / scrape.
 *
 * One client owns one *connected* socket per tracker endpoint (address and port), shared by every
 * request to it: the kernel then takes datagrams from that endpoint only, and reports an ICMP
 * port-unreachable as ECONNREFUSED at once (Linux tells it only to connected sockets), so a closed
 * tracker port fails with TRACKER_UNREACHABLE after one packet instead of waiting out the BEP 15
 * schedule. Answers are still matched by transaction id *and* address, so a stray never completes
 * someone else's request. Connection ids are kept per tracker and reused for their 60-second
 * lifetime (BEP 15), then renewed.
 *
 * Retransmission follows BEP 15: wait 15 · 2^n seconds, n = 0…8, resending the same packet. The
 * base (15 s) is an option because a person debugging a tracker does not want to wait 15 s to learn
 * a packet was lost. An overall `timeoutMs` ends the wait sooner; when it does, the error says
 * whether the tracker answered nothing at all or only with wrong transaction ids.
 */
import dgram from 'node:dgram';
import { lookup as dnsLookup } from 'node:dns/promises';
import { randomBytes } from 'node:crypto';
import { BtError, abortError, fromSystemError, inputError } from '../errors.js';
import { formatMs } from './http-client.js';
import {
  MAX_SCRAPE_HASHES,
  decodeResponse,
  encodeAnnounceRequest,
  encodeConnectRequest,
  encodeScrapeRequest,
  ipv4Field,
  peekTransactionId,
  type UdpResponse,
} from './udp-codec.js';
import { DEFAULT_TIMEOUT_MS, hex, type AnnounceParams, type AnnounceResult, type RequestOptions, type ScrapeResult, type ScrapeStats } from './types.js';

export interface UdpTrackerClientOptions {
  /** First retransmission delay; BEP 15 says 15 s, doubling each time. */
  retransmitBaseMs?: number;
  /** Highest n in 15 · 2^n (BEP 15: 8). */
  maxRetransmits?: number;
  /** How long a connection id is used (BEP 15: one minute). */
  connectionIdTtlMs?: number;
  /** Largest datagram accepted as an answer; a larger one with our transaction id is an error. */
  maxPacketBytes?: number;
  /** A random 32-bit transaction id (tests inject a fixed sequence). */
  randomTransactionId?: () => number;
  /** Monotonic milliseconds (tests inject a clock for connection-id expiry). */
  now?: () => number;
  /** Name resolution; defaults to the system resolver. */
  lookup?: (host: string) => Promise<{ address: string; family: 4 | 6 }>;
}

export const BEP15_RETRANSMIT_BASE_MS = 15_000;
export const BEP15_MAX_RETRANSMITS = 8;
export const CONNECTION_ID_TTL_MS = 60_000;
/** 200 IPv6 peers are 3,620 bytes; anything past 16 KiB is not a tracker answer. */
export const DEFAULT_MAX_PACKET_BYTES = 16 * 1024;

/** BEP 15: after the n-th unanswered try (n from 0), wait base · 2^n before sending again. */
export function retransmitDelayMs(baseMs: number, n: number): number {
  return baseMs * 2 ** n;
}

interface Endpoint {
  address: string;
  port: number;
  family: 4 | 6;
  key: string;
}

interface Counter {
  packets: number;
  strays: number;
}

interface Pending {
  url: string;
  endpoint: Endpoint;
  resolve(response: UdpResponse): void;
  reject(err: Error): void;
  /** Counts of this operation; packets from the tracker with a transaction id we did not expect add to `strays`. */
  counter: Counter;
}

export class UdpTrackerClient {
  /** Endpoint key → its connected socket (a promise while it binds and connects). */
  private readonly sockets = new Map<string, Promise<dgram.Socket>>();
  private readonly pending = new Map<number, Pending>();
  private readonly connections = new Map<string, { id: bigint; expiresAt: number }>();
  private readonly base: number;
  private readonly maxN: number;
  private readonly ttl: number;
  private readonly maxPacket: number;
  private readonly txid: () => number;
  private readonly now: () => number;
  private readonly lookup: (host: string) => Promise<{ address: string; family: 4 | 6 }>;
  private closed = false;

  constructor(options: UdpTrackerClientOptions = {}) {
    this.base = options.retransmitBaseMs ?? BEP15_RETRANSMIT_BASE_MS;
    this.maxN = options.maxRetransmits ?? BEP15_MAX_RETRANSMITS;
    this.ttl = options.connectionIdTtlMs ?? CONNECTION_ID_TTL_MS;
    this.maxPacket = options.maxPacketBytes ?? DEFAULT_MAX_PACKET_BYTES;
    this.txid = options.randomTransactionId ?? (() => randomBytes(4).readUInt32BE(0));
    this.now = options.now ?? (() => performance.now());
    this.lookup = options.lookup ?? defaultLookup;
  }

  /** Announce to a `udp://host:port[/path]` tracker. */
  async announce(url: string, params: AnnounceParams, options: RequestOptions = {}): Promise<AnnounceResult> {
    const started = performance.now();
    const target = parseUdpUrl(url);
    return this.run(url, options, async (signal, counter) => {
      const endpoint = await this.resolve(target, signal, url);
      const response = await this.withConnection(url, endpoint, signal, counter, (connectionId, transactionId) =>
        encodeAnnounceRequest({
          connectionId,
          transactionId,
          infoHash: params.infoHash,
          peerId: params.peerId,
          downloaded: BigInt(params.downloaded),
          left: BigInt(params.left),
          uploaded: BigInt(params.uploaded),
          event: params.event,
          ip: ipv4Field(params.ip),
          key: params.key ?? 0,
          numWant: params.numWant,
          port: params.port,
          urlData: target.urlData,
        }),
      );
      if (response.action !== 'announce') throw unexpected(url, 'announce', response.action);
      return {
        url,
        protocol: 'udp',
        rttMs: round(performance.now() - started),
        interval: response.interval,
        complete: response.seeders,
        incomplete: response.leechers,
        peers: response.peers,
        packets: counter.packets,
      } satisfies AnnounceResult;
    });
  }

  /**
   * Scrape up to any number of infohashes: BEP 15 allows 74 per packet, so larger lists are sent
   * as several packets in turn on the same connection id.
   */
  async scrape(url: string, infoHashes: readonly Uint8Array[], options: RequestOptions = {}): Promise<ScrapeResult> {
    const started = performance.now();
    const target = parseUdpUrl(url);
    return this.run(url, options, async (signal, counter) => {
      const endpoint = await this.resolve(target, signal, url);
      const files = new Map<string, ScrapeStats>();
      for (let i = 0; i < infoHashes.length; i += MAX_SCRAPE_HASHES) {
        const chunk = infoHashes.slice(i, i + MAX_SCRAPE_HASHES);
        const response = await this.withConnection(url, endpoint, signal, counter, (connectionId, transactionId) =>
          encodeScrapeRequest({ connectionId, transactionId, infoHashes: [...chunk] }),
        );
        if (response.action !== 'scrape') throw unexpected(url, 'scrape', response.action);
        if (response.stats.length !== chunk.length) {
          throw new BtError('TRACKER_BAD_PACKET', 'network', `${url} answered a scrape of ${chunk.length} infohashes with ${response.stats.length} entries`);
        }
        chunk.forEach((h, j) => files.set(hex(h), response.stats[j]!));
      }
      return { url, protocol: 'udp', rttMs: round(performance.now() - started), files, packets: counter.packets } satisfies ScrapeResult;
    });
  }

  /** Close the sockets; requests still waiting reject with the abort error. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const closing = new BtError('ABORTED', 'interrupted', 'the UDP tracker client was closed');
    for (const p of this.pending.values()) p.reject(closing);
    this.pending.clear();
    const sockets = [...this.sockets.values()];
    this.sockets.clear();
    await Promise.all(sockets.map(async (p) => {
      const s = await p.catch(() => null);
      if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
    }));
  }

  // -------------------------------------------------------------------------------------------

  /** Runs `work` under one deadline and the caller's signal. */
  private async run<T>(url: string, options: RequestOptions, work: (signal: AbortSignal, counter: Counter) => Promise<T>): Promise<T> {
    if (this.closed) throw new BtError('ABORTED', 'interrupted', 'the UDP tracker client was closed');
    throwIfAbortedSignal(options.signal);
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const controller = new AbortController();
    const counter: Counter = { packets: 0, strays: 0 };
    const timer = setTimeout(() => controller.abort(timeoutFor(url, timeoutMs, counter)), timeoutMs);
    const onAbort = () => controller.abort(abortError(options.signal));
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      return await work(controller.signal, counter);
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  private async resolve(target: UdpTarget, signal: AbortSignal, url: string): Promise<Endpoint> {
    let resolved: { address: string; family: 4 | 6 };
    try {
      resolved = await raceSignal(this.lookup(target.host), signal);
    } catch (err) {
      if (err instanceof BtError) throw err;
      throw unreachable(url, err);
    }
    return { ...resolved, port: target.port, key: `${resolved.address}|${target.port}` };
  }

  /**
   * Send `build(connectionId, tid)` and wait for its answer with BEP 15's schedule, (re)connecting
   * first whenever the connection id is missing or older than its lifetime.
   */
  private async withConnection(
    url: string,
    endpoint: Endpoint,
    signal: AbortSignal,
    counter: Counter,
    build: (connectionId: bigint, transactionId: number) => Buffer,
  ): Promise<UdpResponse> {
    // A retransmission resends the very same packet (same transaction id), so a late answer to
    // an earlier copy still completes the request; a new phase (connect, then the request) gets a
    // fresh transaction id.
    let phase: { connect: boolean; tid: number; packet: Buffer } | null = null;
    for (let n = 0; n <= this.maxN; ) {
      const conn = this.connections.get(endpoint.key);
      const valid = conn !== undefined && conn.expiresAt > this.now();
      if (!valid) this.connections.delete(endpoint.key);
      if (phase === null || phase.connect === valid) {
        const tid = this.freshTransactionId();
        phase = { connect: !valid, tid, packet: valid ? build(conn.id, tid) : encodeConnectRequest(tid) };
      }
      let reply: UdpResponse | null;
      try {
        reply = await this.exchange(url, endpoint, phase.tid, phase.packet, retransmitDelayMs(this.base, n), signal, counter);
      } catch (err) {
        // An error answer may mean the tracker restarted and forgot our connection id: the next
        // request connects afresh instead of reusing it for the rest of its minute.
        if (err instanceof BtError && err.code === 'TRACKER_FAILURE') this.connections.delete(endpoint.key);
        throw err;
      }
      if (reply === null) {
        n++;
        continue;
      }
      if (!phase.connect) return reply;
      if (reply.action !== 'connect') throw unexpected(url, 'connect', reply.action);
      this.connections.set(endpoint.key, { id: reply.connectionId, expiresAt: this.now() + this.ttl });
      phase = null;
    }
    throw timeoutFor(url, undefined, counter);
  }

  /**
   * One request/answer: resolves with the answer, or null when `waitMs` passes without one. An
   * error answer (action 3) rejects with TRACKER_FAILURE.
   */
  private async exchange(
    url: string,
    endpoint: Endpoint,
    tid: number,
    packet: Buffer,
    waitMs: number,
    signal: AbortSignal,
    counter: Counter,
  ): Promise<UdpResponse | null> {
    if (signal.aborted) throw signal.reason as Error;
    let socket: dgram.Socket;
    try {
      socket = await raceSignal(this.socketFor(endpoint), signal);
    } catch (err) {
      if (err instanceof BtError) throw err;
      throw unreachable(url, err);
    }
    return new Promise<UdpResponse | null>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        if (this.pending.get(tid) === entry) this.pending.delete(tid);
      };
      const onAbort = () => {
        done();
        reject(signal.reason as Error);
      };
      const entry: Pending = {
        url,
        endpoint,
        counter,
        resolve: (r) => {
          done();
          if (r.action === 'error') {
            reject(
              new BtError('TRACKER_FAILURE', 'network', `the tracker refused: ${r.message || '(no message)'}`, { detail: { url, failureReason: r.message } }),
            );
          } else resolve(r);
        },
        reject: (err) => {
          done();
          reject(err);
        },
      };
      this.pending.set(tid, entry);
      signal.addEventListener('abort', onAbort, { once: true });
      timer = setTimeout(() => {
        done();
        resolve(null);
      }, waitMs);
      counter.packets++;
      socket.send(packet, (err) => {
        if (err) entry.reject(unreachable(url, err));
      });
    });
  }

  private freshTransactionId(): number {
    let tid = this.txid() >>> 0;
    for (let guard = 0; this.pending.has(tid) && guard < 16; guard++) tid = this.txid() >>> 0;
    return tid;
  }

  /** The connected socket of `endpoint`, made on first use. */
  private socketFor(endpoint: Endpoint): Promise<dgram.Socket> {
    const existing = this.sockets.get(endpoint.key);
    if (existing) return existing;
    const made = this.connectSocket(endpoint);
    this.sockets.set(endpoint.key, made);
    // A socket that could not be made is forgotten: the next request tries again.
    made.catch(() => {
      if (this.sockets.get(endpoint.key) === made) this.sockets.delete(endpoint.key);
    });
    return made;
  }

  private async connectSocket(endpoint: Endpoint): Promise<dgram.Socket> {
    const socket = dgram.createSocket({ type: endpoint.family === 6 ? 'udp6' : 'udp4' });
    // The socket alone never keeps the process alive: a request in flight does, through its timer.
    socket.unref();
    socket.on('message', (msg, rinfo) => this.onMessage(msg, rinfo, endpoint.family));
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, () => {
        socket.connect(endpoint.port, endpoint.address, (err?: Error) => {
          socket.off('error', reject);
          if (err) reject(err);
          else resolve();
        });
      });
    }).catch((err: unknown) => {
      socket.close();
      throw err;
    });
    socket.on('error', (err) => {
      // ECONNREFUSED: the tracker's host said (ICMP) that nothing listens on the port. It, or any
      // other socket error, fails every request waiting on this endpoint at once; the next
      // request makes a new socket (and connects afresh: the tracker may have restarted).
      this.connections.delete(endpoint.key);
      for (const [tid, p] of this.pending) {
        if (p.endpoint.key !== endpoint.key) continue;
        this.pending.delete(tid);
        p.reject(unreachable(p.url, err, p.counter));
      }
      this.sockets.delete(endpoint.key);
      socket.close();
    });
    return socket;
  }

  private onMessage(msg: Buffer, rinfo: dgram.RemoteInfo, family: 4 | 6): void {
    const from = `${normalize(rinfo.address)}|${rinfo.port}`;
    const tid = peekTransactionId(msg);
    const entry = tid === null ? undefined : this.pending.get(tid);
    if (!entry || entry.endpoint.key !== from) {
      // Not an answer we wait for: a late duplicate, a stray, or a wrong transaction id. BEP 15
      // says to drop it; remember it against the requests waiting on that tracker.
      for (const p of this.pending.values()) if (p.endpoint.key === from) p.counter.strays++;
      return;
    }
    if (msg.length > this.maxPacket) {
      entry.reject(
        new BtError('TRACKER_PACKET_TOO_LARGE', 'network', `the tracker sent a ${msg.length}-byte datagram, over the ${this.maxPacket}-byte limit`, {
          detail: { length: msg.length, maxPacketBytes: this.maxPacket },
        }),
      );
      return;
    }
    try {
      entry.resolve(decodeResponse(msg, family));
    } catch (err) {
      entry.reject(err as Error);
    }
  }
}

// ---------------------------------------------------------------------------------------------

interface UdpTarget {
  host: string;
  port: number;
  /** BEP 41: the path and query of the URL, sent as URL data. */
  urlData: string;
}

/** Split a `udp://host:port/path?query` URL. TRACKER_BAD_URL (input) when it is not one. */
export function parseUdpUrl(url: string): UdpTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw inputError('TRACKER_BAD_URL', `\`${url}\` is not a valid URL`);
  }
  if (u.protocol !== 'udp:') throw inputError('TRACKER_UNSUPPORTED_SCHEME', `\`${url}\` is not a udp:// URL`);
  const port = Number(u.port);
  if (!u.hostname || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw inputError('TRACKER_BAD_URL', `\`${url}\` needs a host and a port (udp://host:port/announce)`);
  }
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const path = `${u.pathname}${u.search}`;
  return { host, port, urlData: path === '/' ? '' : path };
}

async function defaultLookup(host: string): Promise<{ address: string; family: 4 | 6 }> {
  const r = await dnsLookup(host);
  return { address: r.address, family: r.family === 6 ? 6 : 4 };
}

function normalize(address: string): string {
  const m = /^::ffff:(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/i.exec(address);
  return m ? m[1]! : address;
}

function timeoutFor(url: string, timeoutMs: number | undefined, counter: Counter): BtError {
  const within = timeoutMs === undefined ? 'after the last BEP 15 retransmission' : `within ${formatMs(timeoutMs)}`;
  if (counter.strays > 0) {
    return new BtError(
      'TRACKER_BAD_TRANSACTION',
      'network',
      `${url} answered ${counter.strays} time(s), but never with the transaction id we sent (no valid answer ${within})`,
      { detail: { url, packets: counter.packets, strays: counter.strays, ...(timeoutMs !== undefined ? { timeoutMs } : {}) } },
    );
  }
  return new BtError('TRACKER_TIMEOUT', 'network', `no answer from ${url} ${within} (${counter.packets} packet(s) sent)`, {
    detail: { url, packets: counter.packets, ...(timeoutMs !== undefined ? { timeoutMs } : {}) },
  });
}

function unexpected(url: string, wanted: string, got: string): BtError {
  return new BtError('TRACKER_BAD_PACKET', 'network', `${url} answered a ${wanted} request with a ${got} packet`, { detail: { url, wanted, got } });
}

function unreachable(url: string, err: unknown, counter?: Counter): BtError {
  const sys = fromSystemError(err, url);
  return new BtError('TRACKER_UNREACHABLE', 'network', sys.category === 'internal' ? `${url}: ${(err as Error).message}` : sys.message, {
    cause: err,
    detail: { url, ...(sys.detail ?? {}), ...(counter ? { packets: counter.packets } : {}) },
  });
}

function throwIfAbortedSignal(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortError(signal);
}

function raceSignal<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e as Error);
      },
    );
  });
}

const round = (ms: number) => Math.round(ms * 100) / 100;
