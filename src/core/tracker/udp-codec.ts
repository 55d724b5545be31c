/**
 * UDP tracker packets: BEP 15 (connect, announce, scrape, error; IPv6 peers) and BEP 41 (URL data
 * option). Pure: values in, bytes out and back. Both directions, so the client and the server
 * share one definition of every packet and the tests check each against byte fixtures.
 *
 * All integers are big-endian. A packet that is too short for its action, or whose body does not
 * fit the action (a ragged peer or scrape list), is TRACKER_BAD_PACKET: a client must never read a
 * half-packet as data.
 */
import { BtError } from '../errors.js';
import { decodeCompactPeers, encodeCompactPeers, parseIPv4 } from './peers.js';
import type { AnnounceEvent, ScrapeStats, TrackerPeer } from './types.js';

/** The magic `connection_id` of a connect request. */
export const PROTOCOL_ID = 0x41727101980n;

export const ACTION = { connect: 0, announce: 1, scrape: 2, error: 3 } as const;
export type UdpAction = keyof typeof ACTION;

const EVENT_CODE: Record<AnnounceEvent, number> = { none: 0, completed: 1, started: 2, stopped: 3 };
const EVENT_OF: readonly AnnounceEvent[] = ['none', 'completed', 'started', 'stopped'];

/** BEP 15: a scrape packet carries at most 74 infohashes (so the answer fits in one datagram). */
export const MAX_SCRAPE_HASHES = 74;

export const CONNECT_REQUEST_SIZE = 16;
export const ANNOUNCE_REQUEST_SIZE = 98;

/** BEP 41 option types. */
const OPTION = { endOfOptions: 0, nop: 1, urlData: 2 } as const;

const badPacket = (message: string, detail?: Record<string, unknown>) =>
  new BtError('TRACKER_BAD_PACKET', 'network', `malformed UDP tracker packet: ${message}`, detail ? { detail } : {});

// ---------------------------------------------------------------------------------------------
// Requests (client → tracker).

export interface UdpAnnounceRequest {
  connectionId: bigint;
  transactionId: number;
  infoHash: Uint8Array;
  peerId: Uint8Array;
  downloaded: bigint;
  left: bigint;
  uploaded: bigint;
  event: AnnounceEvent;
  /** IPv4 address to report (0 = the sender's address); BEP 15 has no room for an IPv6 one. */
  ip: number;
  key: number;
  /** -1 = tracker default. */
  numWant: number;
  port: number;
  /** BEP 41 URL data: the path and query of the `udp://` URL; empty for none. */
  urlData?: string;
}

export interface UdpScrapeRequest {
  connectionId: bigint;
  transactionId: number;
  infoHashes: Uint8Array[];
}

export type UdpRequest =
  | { action: 'connect'; transactionId: number; protocolId: bigint }
  | ({ action: 'announce' } & UdpAnnounceRequest)
  | ({ action: 'scrape' } & UdpScrapeRequest);

export function encodeConnectRequest(transactionId: number): Buffer {
  const b = Buffer.alloc(CONNECT_REQUEST_SIZE);
  b.writeBigUInt64BE(PROTOCOL_ID, 0);
  b.writeUInt32BE(ACTION.connect, 8);
  b.writeUInt32BE(transactionId >>> 0, 12);
  return b;
}

export function encodeAnnounceRequest(r: UdpAnnounceRequest): Buffer {
  if (r.infoHash.length !== 20 || r.peerId.length !== 20) throw new BtError('TRACKER_BAD_PARAMS', 'internal', 'infohash and peer id must be 20 bytes');
  const options = encodeUrlData(r.urlData ?? '');
  const b = Buffer.alloc(ANNOUNCE_REQUEST_SIZE + options.length);
  b.writeBigUInt64BE(r.connectionId, 0);
  b.writeUInt32BE(ACTION.announce, 8);
  b.writeUInt32BE(r.transactionId >>> 0, 12);
  b.set(r.infoHash, 16);
  b.set(r.peerId, 36);
  b.writeBigUInt64BE(BigInt.asUintN(64, r.downloaded), 56);
  b.writeBigUInt64BE(BigInt.asUintN(64, r.left), 64);
  b.writeBigUInt64BE(BigInt.asUintN(64, r.uploaded), 72);
  b.writeUInt32BE(EVENT_CODE[r.event], 80);
  b.writeUInt32BE(r.ip >>> 0, 84);
  b.writeUInt32BE(r.key >>> 0, 88);
  b.writeInt32BE(r.numWant | 0, 92);
  b.writeUInt16BE(r.port, 96);
  b.set(options, ANNOUNCE_REQUEST_SIZE);
  return b;
}

/**
 * BEP 41: URL data is split into options of at most 255 bytes each, concatenated by the tracker.
 * No end-of-options byte is needed when the options end with the packet.
 */
export function encodeUrlData(urlData: string): Buffer {
  if (urlData === '') return Buffer.alloc(0);
  const data = Buffer.from(urlData, 'utf8');
  const parts: Buffer[] = [];
  for (let off = 0; off < data.length; off += 255) {
    const chunk = data.subarray(off, off + 255);
    parts.push(Buffer.from([OPTION.urlData, chunk.length]), chunk);
  }
  return Buffer.concat(parts);
}

/** Parse BEP 41 options after the 98-byte announce; unknown options end the parse (as the BEP says). */
export function decodeUrlData(options: Uint8Array): string {
  const parts: Uint8Array[] = [];
  for (let i = 0; i < options.length; ) {
    const type = options[i]!;
    if (type === OPTION.endOfOptions) break;
    if (type === OPTION.nop) {
      i++;
      continue;
    }
    if (i + 1 >= options.length) break;
    const len = options[i + 1]!;
    if (type === OPTION.urlData) parts.push(options.subarray(i + 2, Math.min(options.length, i + 2 + len)));
    i += 2 + len;
  }
  return Buffer.concat(parts).toString('utf8');
}

export function encodeScrapeRequest(r: UdpScrapeRequest): Buffer {
  if (r.infoHashes.length === 0 || r.infoHashes.length > MAX_SCRAPE_HASHES) {
    throw new BtError('TRACKER_BAD_PARAMS', 'internal', `a UDP scrape carries 1 to ${MAX_SCRAPE_HASHES} infohashes, not ${r.infoHashes.length}`);
  }
  const b = Buffer.alloc(16 + 20 * r.infoHashes.length);
  b.writeBigUInt64BE(r.connectionId, 0);
  b.writeUInt32BE(ACTION.scrape, 8);
  b.writeUInt32BE(r.transactionId >>> 0, 12);
  r.infoHashes.forEach((h, i) => b.set(h, 16 + 20 * i));
  return b;
}

/** Decode a request (server side). Throws TRACKER_BAD_PACKET; the caller drops such packets. */
export function decodeRequest(p: Uint8Array): UdpRequest {
  if (p.length < 16) throw badPacket(`${p.length} bytes is shorter than any request`);
  const b = Buffer.from(p.buffer, p.byteOffset, p.byteLength);
  const connectionId = b.readBigUInt64BE(0);
  const action = b.readUInt32BE(8);
  const transactionId = b.readUInt32BE(12);
  switch (action) {
    case ACTION.connect:
      return { action: 'connect', transactionId, protocolId: connectionId };
    case ACTION.announce: {
      if (b.length < ANNOUNCE_REQUEST_SIZE) throw badPacket(`announce of ${b.length} bytes (needs ${ANNOUNCE_REQUEST_SIZE})`);
      const eventCode = b.readUInt32BE(80);
      const r: { action: 'announce' } & UdpAnnounceRequest = {
        action: 'announce',
        connectionId,
        transactionId,
        infoHash: b.subarray(16, 36),
        peerId: b.subarray(36, 56),
        downloaded: b.readBigUInt64BE(56),
        left: b.readBigUInt64BE(64),
        uploaded: b.readBigUInt64BE(72),
        event: EVENT_OF[eventCode] ?? 'none',
        ip: b.readUInt32BE(84),
        key: b.readUInt32BE(88),
        numWant: b.readInt32BE(92),
        port: b.readUInt16BE(96),
      };
      if (b.length > ANNOUNCE_REQUEST_SIZE) r.urlData = decodeUrlData(b.subarray(ANNOUNCE_REQUEST_SIZE));
      return r;
    }
    case ACTION.scrape: {
      const body = b.length - 16;
      if (body === 0 || body % 20 !== 0) throw badPacket(`scrape body of ${body} bytes is not a list of 20-byte infohashes`);
      const infoHashes: Uint8Array[] = [];
      for (let off = 16; off < b.length; off += 20) infoHashes.push(b.subarray(off, off + 20));
      return { action: 'scrape', connectionId, transactionId, infoHashes };
    }
    default:
      throw badPacket(`unknown action ${action}`, { action });
  }
}

// ---------------------------------------------------------------------------------------------
// Responses (tracker → client).

export interface UdpAnnounceResponse {
  action: 'announce';
  transactionId: number;
  interval: number;
  leechers: number;
  seeders: number;
  peers: TrackerPeer[];
}

export type UdpResponse =
  | { action: 'connect'; transactionId: number; connectionId: bigint }
  | UdpAnnounceResponse
  | { action: 'scrape'; transactionId: number; stats: ScrapeStats[] }
  | { action: 'error'; transactionId: number; message: string };

export function encodeConnectResponse(transactionId: number, connectionId: bigint): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt32BE(ACTION.connect, 0);
  b.writeUInt32BE(transactionId >>> 0, 4);
  b.writeBigUInt64BE(connectionId, 8);
  return b;
}

/** `family` is the address family of the socket: BEP 15 answers IPv6 requests with 18-byte peers. */
export function encodeAnnounceResponse(
  r: { transactionId: number; interval: number; leechers: number; seeders: number; peers: readonly { ip: string; port: number; compact?: Uint8Array }[] },
  family: 4 | 6,
): Buffer {
  const peers = encodeCompactPeers(r.peers, family);
  const b = Buffer.alloc(20 + peers.length);
  b.writeUInt32BE(ACTION.announce, 0);
  b.writeUInt32BE(r.transactionId >>> 0, 4);
  b.writeUInt32BE(r.interval >>> 0, 8);
  b.writeUInt32BE(r.leechers >>> 0, 12);
  b.writeUInt32BE(r.seeders >>> 0, 16);
  b.set(peers, 20);
  return b;
}

/** Stats in the order of the request's infohashes. */
export function encodeScrapeResponse(transactionId: number, stats: readonly ScrapeStats[]): Buffer {
  const b = Buffer.alloc(8 + 12 * stats.length);
  b.writeUInt32BE(ACTION.scrape, 0);
  b.writeUInt32BE(transactionId >>> 0, 4);
  stats.forEach((s, i) => {
    b.writeUInt32BE(s.complete >>> 0, 8 + 12 * i);
    b.writeUInt32BE(s.downloaded >>> 0, 12 + 12 * i);
    b.writeUInt32BE(s.incomplete >>> 0, 16 + 12 * i);
  });
  return b;
}

export function encodeErrorResponse(transactionId: number, message: string): Buffer {
  const text = Buffer.from(message, 'utf8');
  const b = Buffer.alloc(8 + text.length);
  b.writeUInt32BE(ACTION.error, 0);
  b.writeUInt32BE(transactionId >>> 0, 4);
  b.set(text, 8);
  return b;
}

/** The transaction id of any response, or null when the packet is too short to have one. */
export function peekTransactionId(p: Uint8Array): number | null {
  if (p.length < 8) return null;
  return ((p[4]! << 24) | (p[5]! << 16) | (p[6]! << 8) | p[7]!) >>> 0;
}

/**
 * Decode a response. `family` is the socket's address family, which decides the peer entry size
 * (BEP 15: 6 bytes over IPv4, 18 over IPv6).
 */
export function decodeResponse(p: Uint8Array, family: 4 | 6): UdpResponse {
  if (p.length < 8) throw badPacket(`${p.length} bytes is shorter than any response`);
  const b = Buffer.from(p.buffer, p.byteOffset, p.byteLength);
  const action = b.readUInt32BE(0);
  const transactionId = b.readUInt32BE(4);
  switch (action) {
    case ACTION.connect:
      if (b.length < 16) throw badPacket(`connect answer of ${b.length} bytes (needs 16)`);
      return { action: 'connect', transactionId, connectionId: b.readBigUInt64BE(8) };
    case ACTION.announce: {
      if (b.length < 20) {
        // opentracker answers a bare 8-byte announce for an infohash not on its whitelist: say so.
        const hint = b.length === 8 ? '; trackers such as opentracker answer this way for an infohash they do not serve' : '';
        throw badPacket(`announce answer of ${b.length} bytes (needs at least 20${hint})`, { length: b.length });
      }
      let peers: TrackerPeer[];
      try {
        peers = decodeCompactPeers(b.subarray(20), family);
      } catch (err) {
        throw badPacket(`announce answer: ${(err as Error).message}`, { length: b.length });
      }
      return { action: 'announce', transactionId, interval: b.readUInt32BE(8), leechers: b.readUInt32BE(12), seeders: b.readUInt32BE(16), peers };
    }
    case ACTION.scrape: {
      const body = b.length - 8;
      if (body % 12 !== 0) throw badPacket(`scrape answer body of ${body} bytes is not a list of 12-byte entries`);
      const stats: ScrapeStats[] = [];
      for (let off = 8; off < b.length; off += 12) {
        stats.push({ complete: b.readUInt32BE(off), downloaded: b.readUInt32BE(off + 4), incomplete: b.readUInt32BE(off + 8) });
      }
      return { action: 'scrape', transactionId, stats };
    }
    case ACTION.error:
      return { action: 'error', transactionId, message: b.subarray(8).toString('utf8').replace(/\0+$/, '') };
    default:
      throw badPacket(`unknown action ${action}`, { action });
  }
}

/** A dotted quad as BEP 15's 32-bit `ip` field (0 for anything else: "use the sender's address"). */
export function ipv4Field(ip: string | undefined): number {
  const raw = ip === undefined ? null : parseIPv4(ip);
  return raw ? raw.readUInt32BE(0) : 0;
}
