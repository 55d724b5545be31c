/**
 * HTTP tracker codec: BEP 3 announce, BEP 23 compact peers, BEP 7 IPv6 (`peers6`), BEP 24
 * `external ip`, BEP 48 scrape. Both sides, pure: URLs and query strings in, bencoded bodies out
 * (server), and URLs out, bodies in (client). No sockets here; see http-client.ts and server.ts.
 *
 * Binary parameters (infohash, peer id) are percent-encoded byte by byte, never as UTF-8 text:
 * a 20-byte hash is not text, and a tracker compares the raw bytes.
 */
import { BtError, inputError } from '../errors.js';
import { decode, encode, isBytes, isDict, isInt, isList, utf8OrNull, type BDict, type BValue } from '../bencode/index.js';
import { decodeCompactPeers, encodeCompactPeers, formatIPv4, formatIPv6, ipFamily, parseIPv4, parseIPv6 } from './peers.js';
import type { AnnounceEvent, AnnounceParams, AnnounceResult, ScrapeStats, TrackerPeer } from './types.js';
import { ANNOUNCE_EVENTS } from './types.js';

// ---------------------------------------------------------------------------------------------
// Percent-encoding of raw bytes (RFC 3986 unreserved characters stay as they are).

const UNRESERVED = /[A-Za-z0-9\-._~]/;

export function percentEncodeBytes(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) {
    const ch = String.fromCharCode(b);
    out += b < 0x80 && UNRESERVED.test(ch) ? ch : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Percent-decode to raw bytes (not text). `+` is a space, as in form encoding. Null on a bad escape. */
export function percentDecodeBytes(text: string): Buffer | null {
  const out = Buffer.allocUnsafe(text.length);
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x25 /* % */) {
      const h = text.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(h)) return null;
      out[n++] = parseInt(h, 16);
      i += 2;
    } else if (c === 0x2b /* + */) {
      out[n++] = 0x20;
    } else if (c < 0x80) {
      out[n++] = c;
    } else {
      return null; // a raw non-ASCII character in a URL is not something a client sends
    }
  }
  return out.subarray(0, n);
}

// ---------------------------------------------------------------------------------------------
// Client side: URLs.

/**
 * The announce URL for `params`. Parameters are appended to any query the URL already has
 * (private trackers put a passkey there), as BEP 3 clients do.
 */
export function buildAnnounceUrl(announceUrl: string, params: AnnounceParams): string {
  const q: string[] = [
    `info_hash=${percentEncodeBytes(params.infoHash)}`,
    `peer_id=${percentEncodeBytes(params.peerId)}`,
    `port=${params.port}`,
    `uploaded=${params.uploaded}`,
    `downloaded=${params.downloaded}`,
    `left=${params.left}`,
  ];
  if (params.event !== 'none') q.push(`event=${params.event}`);
  q.push(`compact=${params.compact === false ? 0 : 1}`);
  if (params.noPeerId !== false) q.push('no_peer_id=1');
  if (params.numWant >= 0) q.push(`numwant=${params.numWant}`);
  // `key` as 8 hex digits, the form libtorrent and most clients send.
  if (params.key !== undefined) q.push(`key=${(params.key >>> 0).toString(16).toUpperCase().padStart(8, '0')}`);
  if (params.ip !== undefined) q.push(`ip=${encodeURIComponent(params.ip)}`);
  if (params.ipv4 !== undefined) q.push(`ipv4=${encodeURIComponent(params.ipv4)}`);
  if (params.ipv6 !== undefined) q.push(`ipv6=${encodeURIComponent(params.ipv6)}`);
  if (params.trackerId !== undefined) q.push(`trackerid=${percentEncodeBytes(params.trackerId)}`);
  return appendQuery(announceUrl, q.join('&'));
}

/**
 * BEP 48: the scrape URL is the announce URL with `announce` at the start of the last path
 * component replaced by `scrape`. Null when the tracker cannot be scraped by that convention.
 */
export function scrapeUrlFor(announceUrl: string): string | null {
  const queryAt = announceUrl.indexOf('?');
  const path = queryAt >= 0 ? announceUrl.slice(0, queryAt) : announceUrl;
  const slash = path.lastIndexOf('/');
  if (slash < 0 || !path.startsWith('announce', slash + 1)) return null;
  return `${path.slice(0, slash + 1)}scrape${path.slice(slash + 1 + 'announce'.length)}${queryAt >= 0 ? announceUrl.slice(queryAt) : ''}`;
}

/** The scrape URL asking for several infohashes at once (BEP 48 allows repeating `info_hash`). */
export function buildScrapeUrl(scrapeUrl: string, infoHashes: readonly Uint8Array[]): string {
  return appendQuery(scrapeUrl, infoHashes.map((h) => `info_hash=${percentEncodeBytes(h)}`).join('&'));
}

function appendQuery(url: string, query: string): string {
  if (query === '') return url;
  const hashAt = url.indexOf('#');
  const base = hashAt >= 0 ? url.slice(0, hashAt) : url;
  const sep = !base.includes('?') ? '?' : base.endsWith('?') || base.endsWith('&') ? '' : '&';
  return `${base}${sep}${query}`;
}

// ---------------------------------------------------------------------------------------------
// Client side: responses.

/** A decoded announce answer: what the tracker said; the client adds url, protocol, timing and redirects. */
export type HttpAnnounceBody = Omit<AnnounceResult, 'url' | 'protocol' | 'rttMs' | 'packets' | 'redirects'>;

export interface HttpScrapeBody {
  files: Map<string, ScrapeStats>;
  minRequestInterval?: number;
}

const bad = (message: string, detail?: Record<string, unknown>) =>
  new BtError('TRACKER_BAD_RESPONSE', 'network', message, detail ? { detail } : {});

/** Decode a tracker body into a dictionary; anything else is TRACKER_BAD_RESPONSE. */
export function decodeTrackerBody(body: Uint8Array): BDict {
  // Trackers in the wild end bodies with a newline and write unsorted keys: tolerate both,
  // refuse anything that is not one bencoded dictionary.
  let end = body.length;
  while (end > 0 && (body[end - 1] === 0x0a || body[end - 1] === 0x0d || body[end - 1] === 0x20)) end--;
  let value: BValue;
  try {
    const r = decode(body.subarray(0, end), { mode: 'lenient', maxDepth: 16, maxItems: 1_000_000 });
    if (r.nonCanonical.some((n) => n.kind === 'trailing-bytes')) {
      throw new BtError('BENCODE_TRAILING_BYTES', 'input', `bencode: ${end - r.end} bytes after the value at byte ${r.end}`);
    }
    value = r.value;
  } catch (err) {
    const preview = Buffer.from(body.subarray(0, 60)).toString('latin1').replace(/[^\x20-\x7e]/g, '.');
    throw new BtError('TRACKER_BAD_RESPONSE', 'network', `the tracker's answer is not bencoded (${(err as Error).message}); it begins \`${preview}\``, {
      cause: err,
      detail: { length: body.length, preview },
    });
  }
  if (!isDict(value)) throw bad('the tracker answered a bencoded value that is not a dictionary');
  return value;
}

/** The text of a byte-string field (UTF-8, or latin1 when not valid UTF-8), or undefined. */
function text(d: BDict, key: string): string | undefined {
  const v = d.get(key);
  if (!isBytes(v)) return undefined;
  return utf8OrNull(v) ?? Buffer.from(v).toString('latin1');
}

function int(d: BDict, key: string): number | undefined {
  const v = d.get(key);
  if (!isInt(v)) return undefined;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** Throws TRACKER_FAILURE when the body carries a `failure reason` (BEP 3), with BEP 31 `retry in`. */
function throwIfFailure(d: BDict): void {
  const reason = text(d, 'failure reason');
  if (reason === undefined) return;
  const retryIn = d.get('retry in');
  throw new BtError('TRACKER_FAILURE', 'network', `the tracker refused: ${reason}`, {
    detail: {
      failureReason: reason,
      ...(isInt(retryIn) ? { retryInMinutes: Number(retryIn) } : isBytes(retryIn) ? { retryIn: utf8OrNull(retryIn) } : {}),
    },
  });
}

/**
 * `target.push(...items)` without the spread: a spread passes every item as an argument, and a
 * 2 MiB answer holds some 350,000 compact peers, past the call stack (issue 15: 130,000 crashed).
 */
function appendAll<T>(target: T[], items: readonly T[]): void {
  for (const item of items) target.push(item);
}

/** Parse an announce body: compact (BEP 23) or dictionary (BEP 3) peers, `peers6` (BEP 7). */
export function parseAnnounceBody(body: Uint8Array): HttpAnnounceBody {
  const d = decodeTrackerBody(body);
  throwIfFailure(d);
  const interval = int(d, 'interval');
  if (interval === undefined) throw bad('the tracker answered without an `interval` (BEP 3 requires one)');
  const peers: TrackerPeer[] = [];
  const p = d.get('peers');
  if (isBytes(p)) appendAll(peers, decodeCompactPeers(p, 4));
  else if (isList(p)) appendAll(peers, p.map(dictPeer));
  else if (p !== undefined) throw bad('`peers` is neither a compact string nor a list');
  const p6 = d.get('peers6');
  if (isBytes(p6)) appendAll(peers, decodeCompactPeers(p6, 6));
  else if (p6 !== undefined) throw bad('`peers6` is not a compact string');
  const result: HttpAnnounceBody = { interval, peers };
  const minInterval = int(d, 'min interval');
  if (minInterval !== undefined) result.minInterval = minInterval;
  const complete = int(d, 'complete');
  if (complete !== undefined) result.complete = complete;
  const incomplete = int(d, 'incomplete');
  if (incomplete !== undefined) result.incomplete = incomplete;
  const downloaded = int(d, 'downloaded');
  if (downloaded !== undefined) result.downloaded = downloaded;
  const warning = text(d, 'warning message');
  if (warning !== undefined) result.warning = warning;
  const ext = d.get('external ip');
  if (isBytes(ext) && (ext.length === 4 || ext.length === 16)) result.externalIp = ext.length === 4 ? formatIPv4(ext) : formatIPv6(ext);
  const tid = d.get('tracker id');
  if (isBytes(tid)) result.trackerId = tid;
  return result;
}

function dictPeer(v: BValue): TrackerPeer {
  if (!isDict(v)) throw new BtError('TRACKER_BAD_PEERS', 'network', 'a peer in the dictionary model is not a dictionary');
  const ip = v.get('ip');
  const port = v.get('port');
  if (!isBytes(ip) || !isInt(port) || Number(port) < 0 || Number(port) > 65535) {
    throw new BtError('TRACKER_BAD_PEERS', 'network', 'a peer in the dictionary model lacks a valid `ip` or `port`');
  }
  const ipText = Buffer.from(ip).toString('latin1');
  const peer: TrackerPeer = { ip: ipText, port: Number(port), family: ipFamily(ipText) === 6 ? 6 : 4 };
  const id = v.get('peer id');
  if (isBytes(id)) peer.id = id;
  return peer;
}

/** Parse a BEP 48 scrape body. Keys of `files` are raw 20-byte infohashes; we key by hex. */
export function parseScrapeBody(body: Uint8Array): HttpScrapeBody {
  const d = decodeTrackerBody(body);
  throwIfFailure(d);
  const files = d.get('files');
  if (!isDict(files)) throw bad('the scrape answer has no `files` dictionary (BEP 48)');
  const out = new Map<string, ScrapeStats>();
  for (const [key, value] of files) {
    if (!isDict(value)) continue;
    const raw = Buffer.from(key, 'latin1');
    const stats: ScrapeStats = { complete: int(value, 'complete') ?? 0, incomplete: int(value, 'incomplete') ?? 0, downloaded: int(value, 'downloaded') ?? 0 };
    const name = text(value, 'name');
    if (name !== undefined) stats.name = name;
    out.set(raw.length === 20 || raw.length === 32 ? raw.toString('hex') : raw.toString('latin1'), stats);
  }
  const result: HttpScrapeBody = { files: out };
  const flags = d.get('flags');
  if (isDict(flags)) {
    const mri = int(flags, 'min_request_interval');
    if (mri !== undefined) result.minRequestInterval = mri;
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// Server side: queries in, bodies out.

/** An announce as a tracker receives it. `ip` is what the client claimed, if anything. */
export interface AnnounceQuery {
  infoHash: Buffer;
  peerId: Buffer;
  port: number;
  uploaded: bigint;
  downloaded: bigint;
  left: bigint;
  event: AnnounceEvent;
  numWant: number | undefined;
  compact: boolean;
  noPeerId: boolean;
  key?: string;
  ip?: string;
  /** BEP 7: the client's other addresses, as it wrote them (`addr`, `addr:port`, `[addr]:port`). */
  ipv4?: string;
  ipv6?: string;
  trackerId?: Buffer;
}

/** Split a raw query string into (name, raw bytes) pairs; bad escapes are an input error. */
export function parseQuery(query: string): [string, Buffer][] {
  const out: [string, Buffer][] = [];
  for (const part of query.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = eq >= 0 ? part.slice(0, eq) : part;
    const value = percentDecodeBytes(eq >= 0 ? part.slice(eq + 1) : '');
    const nameBytes = percentDecodeBytes(name);
    if (value === null || nameBytes === null) throw inputError('TRACKER_BAD_QUERY', `invalid percent-encoding in \`${part.slice(0, 80)}\``);
    out.push([nameBytes.toString('latin1'), value]);
  }
  return out;
}

const queryError = (message: string) => inputError('TRACKER_BAD_QUERY', message);

function uintParam(raw: Buffer | undefined, name: string, required: boolean): bigint | undefined {
  if (raw === undefined) {
    if (required) throw queryError(`missing \`${name}\``);
    return undefined;
  }
  const t = raw.toString('latin1');
  if (!/^\d{1,20}$/.test(t)) throw queryError(`\`${name}\` is not a non-negative integer`);
  return BigInt(t);
}

/** Parse an announce query (the part after `?`). Throws TRACKER_BAD_QUERY naming the bad parameter. */
export function parseAnnounceQuery(query: string): AnnounceQuery {
  const params = new Map<string, Buffer>();
  for (const [k, v] of parseQuery(query)) if (!params.has(k)) params.set(k, v);
  const infoHash = params.get('info_hash');
  if (!infoHash || infoHash.length !== 20) throw queryError('`info_hash` must be 20 bytes');
  const peerId = params.get('peer_id');
  if (!peerId || peerId.length !== 20) throw queryError('`peer_id` must be 20 bytes');
  const port = uintParam(params.get('port'), 'port', true)!;
  if (port > 65535n) throw queryError('`port` is out of range');
  const eventText = params.get('event')?.toString('latin1') ?? '';
  const event: AnnounceEvent = eventText === '' || eventText === 'empty' ? 'none' : (eventText as AnnounceEvent);
  if (!ANNOUNCE_EVENTS.includes(event)) throw queryError(`unknown \`event\` ${JSON.stringify(eventText)}`);
  const numWant = uintParam(params.get('numwant'), 'numwant', false);
  const q: AnnounceQuery = {
    infoHash,
    peerId,
    port: Number(port),
    uploaded: uintParam(params.get('uploaded'), 'uploaded', false) ?? 0n,
    downloaded: uintParam(params.get('downloaded'), 'downloaded', false) ?? 0n,
    left: uintParam(params.get('left'), 'left', false) ?? 0n,
    event,
    numWant: numWant === undefined ? undefined : Number(numWant > 100000n ? 100000n : numWant),
    // Compact unless the client explicitly asks for the dictionary model (BEP 23).
    compact: params.get('compact')?.toString('latin1') !== '0',
    noPeerId: params.get('no_peer_id')?.toString('latin1') === '1',
  };
  const key = params.get('key');
  if (key) q.key = key.toString('latin1');
  const ip = params.get('ip');
  if (ip) q.ip = ip.toString('latin1');
  const ipv4 = params.get('ipv4');
  if (ipv4) q.ipv4 = ipv4.toString('latin1');
  const ipv6 = params.get('ipv6');
  if (ipv6) q.ipv6 = ipv6.toString('latin1');
  const tid = params.get('trackerid');
  if (tid) q.trackerId = tid;
  return q;
}

/** The infohashes of a scrape query; empty means "all" (BEP 48 full scrape). */
export function parseScrapeQuery(query: string): Buffer[] {
  const out: Buffer[] = [];
  for (const [k, v] of parseQuery(query)) {
    if (k !== 'info_hash') continue;
    if (v.length !== 20) throw queryError('`info_hash` must be 20 bytes');
    out.push(v);
  }
  return out;
}

export interface AnnounceBodyInput {
  interval: number;
  minInterval?: number;
  complete: number;
  incomplete: number;
  downloaded?: number;
  /** Peers with their ids (ids are used only in the dictionary model). */
  peers: readonly { ip: string; port: number; id?: Uint8Array; compact?: Uint8Array }[];
  compact: boolean;
  noPeerId?: boolean;
  externalIp?: string;
  warning?: string;
  trackerId?: Uint8Array;
}

/** Encode an announce answer: compact `peers` + `peers6` (BEP 23, BEP 7) or the dictionary model. */
export function encodeAnnounceBody(r: AnnounceBodyInput): Buffer {
  const d = new Map<string, BValue | Buffer>();
  d.set('interval', r.interval);
  if (r.minInterval !== undefined) d.set('min interval', r.minInterval);
  d.set('complete', r.complete);
  d.set('incomplete', r.incomplete);
  if (r.downloaded !== undefined) d.set('downloaded', r.downloaded);
  if (r.compact) {
    const familyOf = (p: (typeof r.peers)[number]) => (p.compact ? (p.compact.length === 6 ? 4 : 6) : ipFamily(p.ip));
    const v4 = r.peers.filter((p) => familyOf(p) === 4);
    const v6 = r.peers.filter((p) => familyOf(p) === 6);
    d.set('peers', encodeCompactPeers(v4, 4));
    if (v6.length > 0) d.set('peers6', encodeCompactPeers(v6, 6));
  } else {
    d.set(
      'peers',
      r.peers.map((p) => {
        const m = new Map<string, BValue>([['ip', Buffer.from(p.ip, 'latin1')], ['port', p.port]]);
        if (!r.noPeerId && p.id) m.set('peer id', p.id);
        return m;
      }),
    );
  }
  if (r.externalIp !== undefined) {
    const raw = parseIPv4(r.externalIp) ?? parseIPv6(r.externalIp);
    if (raw) d.set('external ip', raw);
  }
  if (r.warning !== undefined) d.set('warning message', Buffer.from(r.warning, 'utf8'));
  if (r.trackerId !== undefined) d.set('tracker id', r.trackerId);
  return encode(d);
}

/** Encode a BEP 48 scrape answer; `files` keyed by raw 20-byte infohash. */
export function encodeScrapeBody(files: ReadonlyMap<string, ScrapeStats> | Iterable<[Uint8Array, ScrapeStats]>, minRequestInterval?: number): Buffer {
  const out = new Map<string, BValue>();
  for (const [k, s] of files as Iterable<[string | Uint8Array, ScrapeStats]>) {
    const key = typeof k === 'string' ? Buffer.from(k, 'hex').toString('latin1') : Buffer.from(k).toString('latin1');
    const m = new Map<string, BValue>([['complete', s.complete], ['downloaded', s.downloaded], ['incomplete', s.incomplete]]);
    if (s.name !== undefined) m.set('name', Buffer.from(s.name, 'utf8'));
    out.set(key, m);
  }
  const d = new Map<string, BValue>([['files', out]]);
  if (minRequestInterval !== undefined) d.set('flags', new Map([['min_request_interval', minRequestInterval]]));
  return encode(d);
}

/** A BEP 3 failure answer. */
export function encodeFailureBody(reason: string, retryInMinutes?: number): Buffer {
  const d = new Map<string, BValue>([['failure reason', Buffer.from(reason, 'utf8')]]);
  if (retryInMinutes !== undefined) d.set('retry in', retryInMinutes);
  return encode(d);
}
