/**
 * The tracker's UDP front end (BEP 15; BEP 41 URL data tolerated and ignored): one datagram in,
 * one answer out, over the swarm store. What `startTrackerServer` binds to its UDP socket.
 *
 * This is the tracker's hot path, written to make nothing per request (issue 14: 13.7k req/s
 * against opentracker's 25.2k; a profile showed the store's objects and Maps, BigInt reads, a
 * request object, two buffers per answer and a string key per connection id check). Fields are
 * read from the datagram where they lie; the sender's address becomes four 32-bit words (an IPv4
 * address a is 0, 0, 0xffff, a); the store writes the compact peers straight into one reply
 * buffer, reused until the socket ever has to queue a send (then it keeps that buffer and we take
 * a new one). The socket's `lookup` answers an IP literal at once, so `send` hands the datagram
 * to the kernel before it returns rather than on the next tick. Malformed packets take the slow
 * path: `decodeRequest` says what is wrong, in the same words as everywhere else.
 *
 * UDP connection ids are not stored: each is a keyed hash (HMAC-SHA-256 with a per-server secret)
 * of the client's address, port and the current minute, accepted for that minute and the two
 * before it. So they stay valid at least the two minutes BEP 15 asks, cost no memory per client,
 * and cannot be guessed by a spoofer who never saw the connect answer. The HMAC is the costly
 * part, so ids are kept in a fixed direct-mapped cache (a collision only costs a recomputation).
 */
import type dgram from 'node:dgram';
import { createHmac } from 'node:crypto';
import { parseIPv6 } from '../net/address.js';
import type { InfoHashSet } from './infohash-set.js';
import { finish, mixWord } from './infohash-set.js';
import { formatIPv4, normalizeAddress } from './peers.js';
import { ipv4Number, type SwarmStore } from './swarm.js';
import { ACTION, ANNOUNCE_REQUEST_SIZE, MAX_SCRAPE_HASHES, decodeRequest, encodeErrorResponse } from './udp-codec.js';
import { hex, type AnnounceEvent } from './types.js';
import type { TrackerServerEvent, TrackerServerStats } from './server.js';

const CONNECTION_ID_BUCKET_MS = 60_000;
/** The BEP 15 connect magic, 0x41727101980, as two 32-bit halves. */
const MAGIC_HI = 0x417;
const MAGIC_LO = 0x27101980;
const EVENTS: readonly AnnounceEvent[] = ['none', 'completed', 'started', 'stopped'];
/** Connection id cache: 2^14 entries of (w0, w1, w2, w3, port + 1, bucket, id hi, id lo). */
const CACHE_BITS = 14;

export interface UdpFrontEndOptions {
  store: SwarmStore;
  family: 4 | 6;
  intervalS: number;
  /** Infohashes served; null: any. */
  allow: InfoHashSet | null;
  trustClientIp: boolean;
  secret: Uint8Array;
  now: () => number;
  stats: TrackerServerStats;
  onEvent: ((event: TrackerServerEvent) => void) | undefined;
}

/** The `message` listener for a bound UDP socket. */
export function udpFrontEnd(socket: dgram.Socket, o: UdpFrontEndOptions): (msg: Buffer, rinfo: dgram.RemoteInfo) => void {
  const { store, family, intervalS, allow, trustClientIp: trust, secret, now, stats, onEvent } = o;
  // Room for the largest answer: 200 IPv6 peers, or a full scrape.
  let out = Buffer.allocUnsafe(Math.max(20 + 18 * store.maxAnswerPeers, 8 + 12 * MAX_SCRAPE_HASHES));
  // Views of `out` by length, made once: `send(buf, offset, length)` would make one per answer.
  let views: (Buffer | undefined)[] = [];
  const send = (len: number, rinfo: dgram.RemoteInfo) => {
    socket.send((views[len] ??= out.subarray(0, len)), rinfo.port, rinfo.address);
    // Sent at once unless the socket's buffer was full: then the queued send holds `out`.
    if (socket.getSendQueueCount() > 0) {
      out = Buffer.allocUnsafe(out.length);
      views = [];
    }
  };
  const sendError = (tid: number, message: string, rinfo: dgram.RemoteInfo) => {
    socket.send(encodeErrorResponse(tid, message), rinfo.port, rinfo.address);
  };
  const ipText = (rinfo: dgram.RemoteInfo) => normalizeAddress(rinfo.address);

  // --- connection ids ---------------------------------------------------------------------------
  const cache = new Uint32Array((1 << CACHE_BITS) * 8);
  const cacheMask = (1 << CACHE_BITS) - 1;
  const hmacInput = Buffer.alloc(4 + 16 + 2);
  let idHi = 0;
  let idLo = 0;
  /** Sets idHi / idLo to the id of this sender in this minute. */
  const connectionId = (w0: number, w1: number, w2: number, w3: number, port: number, bucket: number) => {
    const e = (finish(mixWord(mixWord(mixWord(mixWord(mixWord(bucket, w0), w1), w2), w3), port)) & cacheMask) * 8;
    if (cache[e + 4] === port + 1 && cache[e + 5] === bucket && cache[e + 3] === w3 && cache[e + 2] === w2 && cache[e + 1] === w1 && cache[e] === w0) {
      idHi = cache[e + 6]!;
      idLo = cache[e + 7]!;
      return;
    }
    hmacInput.writeUInt32BE(bucket >>> 0, 0);
    hmacInput.writeUInt32BE(w0, 4);
    hmacInput.writeUInt32BE(w1, 8);
    hmacInput.writeUInt32BE(w2, 12);
    hmacInput.writeUInt32BE(w3, 16);
    hmacInput.writeUInt16BE(port, 20);
    const mac = createHmac('sha256', secret).update(hmacInput).digest();
    idHi = mac.readUInt32BE(0);
    idLo = mac.readUInt32BE(4);
    cache[e] = w0;
    cache[e + 1] = w1;
    cache[e + 2] = w2;
    cache[e + 3] = w3;
    cache[e + 4] = port + 1;
    cache[e + 5] = bucket;
    cache[e + 6] = idHi;
    cache[e + 7] = idLo;
  };
  const validConnection = (msg: Buffer, w0: number, w1: number, w2: number, w3: number, port: number): boolean => {
    const hi = msg.readUInt32BE(0);
    const lo = msg.readUInt32BE(4);
    const bucket = Math.floor(now() / CONNECTION_ID_BUCKET_MS);
    for (let b = bucket; b >= bucket - 2; b--) {
      connectionId(w0, w1, w2, w3, port, b);
      if (idHi === hi && idLo === lo) return true;
    }
    return false;
  };

  const badRequest = (rinfo: dgram.RemoteInfo, reason: string) => {
    stats.badRequests++;
    onEvent?.({ type: 'bad-request', protocol: 'udp', ip: ipText(rinfo), reason });
  };

  return (msg, rinfo) => {
    const len = msg.length;
    const action = len >= 16 ? msg.readUInt32BE(8) : -1;
    const wellFormed =
      action === ACTION.connect || (action === ACTION.announce && len >= ANNOUNCE_REQUEST_SIZE) || (action === ACTION.scrape && len > 16 && (len - 16) % 20 === 0);
    if (!wellFormed) {
      let reason = 'malformed UDP tracker packet';
      try {
        decodeRequest(msg);
      } catch (err) {
        reason = (err as Error).message;
      }
      // Answer with an error when there is a transaction id to answer to; else drop.
      if (len >= 16) sendError(msg.readUInt32BE(12), reason, rinfo);
      return badRequest(rinfo, reason);
    }
    const tid = msg.readUInt32BE(12);

    // The sender as four words.
    let w0 = 0;
    let w1 = 0;
    let w2 = 0xffff;
    let w3 = family === 4 ? ipv4Number(rinfo.address) : -1;
    if (w3 < 0) {
      const b = parseIPv6(rinfo.address);
      if (!b) return badRequest(rinfo, `unreadable sender address ${rinfo.address}`);
      w0 = b.readUInt32BE(0);
      w1 = b.readUInt32BE(4);
      w2 = b.readUInt32BE(8);
      w3 = b.readUInt32BE(12);
    }

    if (action === ACTION.connect) {
      if (msg.readUInt32BE(0) !== MAGIC_HI || msg.readUInt32BE(4) !== MAGIC_LO) return badRequest(rinfo, 'connect without the BEP 15 protocol id');
      connectionId(w0, w1, w2, w3, rinfo.port, Math.floor(now() / CONNECTION_ID_BUCKET_MS));
      out.writeUInt32BE(ACTION.connect, 0);
      out.writeUInt32BE(tid, 4);
      out.writeUInt32BE(idHi, 8);
      out.writeUInt32BE(idLo, 12);
      return send(16, rinfo);
    }
    if (!validConnection(msg, w0, w1, w2, w3, rinfo.port)) {
      sendError(tid, 'invalid or expired connection id', rinfo);
      return badRequest(rinfo, 'invalid or expired connection id');
    }

    if (action === ACTION.announce) {
      if (allow !== null && allow.find(msg, 16) < 0) {
        const reason = 'infohash not allowed on this tracker';
        sendError(tid, reason, rinfo);
        stats.refused++;
        onEvent?.({ type: 'refused', protocol: 'udp', ip: ipText(rinfo), reason, infoHash: hex(msg.subarray(16, 36)) });
        return;
      }
      const claimed = msg.readUInt32BE(84);
      if (trust && claimed !== 0) {
        w0 = 0;
        w1 = 0;
        w2 = 0xffff;
        w3 = claimed;
      }
      const seeder = msg.readUInt32BE(64) === 0 && msg.readUInt32BE(68) === 0;
      const code = msg.readUInt32BE(80);
      const event = code <= 3 ? code : 0;
      const port = msg.readUInt16BE(96);
      let n: number;
      try {
        n = store.announceCompact(msg, 16, family, w0, w1, w2, w3, port, msg, 36, seeder, event, msg.readInt32BE(92), out, 20);
      } catch (err) {
        const reason = (err as Error).message;
        sendError(tid, reason, rinfo);
        stats.refused++;
        onEvent?.({ type: 'refused', protocol: 'udp', ip: ipText(rinfo), reason, infoHash: hex(msg.subarray(16, 36)) });
        return;
      }
      const c = store.counts;
      out.writeUInt32BE(ACTION.announce, 0);
      out.writeUInt32BE(tid, 4);
      out.writeUInt32BE(intervalS >>> 0, 8);
      out.writeUInt32BE(c.incomplete >>> 0, 12);
      out.writeUInt32BE(c.complete >>> 0, 16);
      send(20 + n * (family === 4 ? 6 : 18), rinfo);
      stats.announces++;
      if (onEvent) {
        onEvent({
          type: 'announce', protocol: 'udp', infoHash: hex(msg.subarray(16, 36)), peerId: hex(msg.subarray(36, 56)),
          ip: trust && claimed !== 0 ? formatIPv4(msg, 84) : ipText(rinfo), port, event: EVENTS[event]!,
          left: Number(msg.readBigUInt64BE(64)), numWant: msg.readInt32BE(92), returned: n, complete: c.complete, incomplete: c.incomplete,
        });
      }
      return;
    }

    // scrape
    const hashes = (len - 16) / 20;
    if (hashes > MAX_SCRAPE_HASHES) {
      sendError(tid, `at most ${MAX_SCRAPE_HASHES} infohashes per scrape`, rinfo);
      return badRequest(rinfo, 'too many infohashes in one scrape');
    }
    out.writeUInt32BE(ACTION.scrape, 0);
    out.writeUInt32BE(tid, 4);
    // BEP 15 answers every hash in order; a hash this tracker does not serve counts as empty.
    for (let i = 0; i < hashes; i++) {
      const at = 16 + 20 * i;
      if (allow === null || allow.find(msg, at) >= 0) store.scrapeInto(msg, at, out, 8 + 12 * i);
      else out.fill(0, 8 + 12 * i, 20 + 12 * i);
    }
    send(8 + 12 * hashes, rinfo);
    stats.scrapes++;
    if (onEvent) {
      const infoHashes: string[] = [];
      for (let i = 0; i < hashes; i++) infoHashes.push(hex(msg.subarray(16 + 20 * i, 36 + 20 * i)));
      onEvent({ type: 'scrape', protocol: 'udp', ip: ipText(rinfo), infoHashes });
    }
  };
}
