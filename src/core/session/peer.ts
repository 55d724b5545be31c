/**
 * One connected peer as the session sees it, and what we say to it about pieces: our piece set
 * and allowed-fast pieces at the start (BEP 3, BEP 6), our interest, and the block requests that
 * keep its pipeline full. Before a magnet's metadata is known (BEP 9) a peer's piece set cannot
 * be counted (the piece count is unknown): what it says is kept in `early` and adopted once it is.
 *
 * These are functions of the peer and the torrent, not of the whole session, so the coordinator
 * keeps only the decisions that need everything (choking, dropping, completing).
 */
import { BtError } from '../errors.js';
import type { ExtendedHandshakeInit } from '../extension/handshake.js';
import { Bitfield } from '../pieces/bitfield.js';
import { DEFAULT_REQQ, ENDGAME_PEER_BATCH, pipelineDepth } from '../pieces/blocks.js';
import type { PeerPieces } from '../pieces/picker.js';
import { allowedFastSet } from '../wire/allowed-fast.js';
import type { Message } from '../wire/messages.js';
import type { PeerWire } from '../wire/peer-wire.js';
import { yourIp } from './addresses.js';
import type { MetadataPeer } from './metadata.js';
import type { Candidate } from './peer-book.js';
import { RateMeter } from './rate.js';
import { OUR_REQQ } from './uploader.js';
import type { Torrent } from './torrent.js';
import type { PeerSourceName } from './types.js';

/**
 * Most requests outstanding at one peer, whatever its `reqq`: 8 MiB in flight covers 300 MB/s at
 * 25 ms of round trip, and every outstanding block holds a piece buffer open.
 */
const MAX_PIPELINE = 500;
/**
 * Blocks nobody asked it for (of pieces we were not downloading, or that we had already) that one
 * peer may send before it is dropped: after a choke without BEP 6 (our requests are void), a piece
 * completed elsewhere or the endgame, a peer's pipeline (at most MAX_PIPELINE requests) may still
 * arrive; far more is a peer pushing data nobody asked for.
 */
export const MAX_UNREQUESTED_BLOCKS = 2 * MAX_PIPELINE;
/** `have`s remembered from a peer before the metadata (and so the piece count) is known. */
const MAX_EARLY_HAVES = 1 << 20;

export interface Peer extends MetadataPeer {
  id: number;
  key: string;
  candidate: Candidate | undefined;
  wire: PeerWire;
  source: PeerSourceName;
  direction: 'outgoing' | 'incoming';
  peerIdHex: string;
  client: string | null;
  /** What the peer has; before the metadata is known, what it said is kept in `early`. */
  pieces: PeerPieces;
  early: { bits: Uint8Array | null; haves: Set<number>; all: boolean } | null;
  /** The port it listens on (BEP 10 `p`), for PEX: an incoming peer's own port is not its listening one. */
  listenPort: number | null;
  reqq: number;
  down: RateMeter;
  up: RateMeter;
  /** Pieces this peer rejected (BEP 6) since it last unchoked us after a choke: not asked again meanwhile. */
  rejected: Set<number>;
  /** It chokes us (connections start choked); a later unchoke clears `rejected`. */
  chokedUs: boolean;
  snubbed: boolean;
  /** Request-timeout strikes since its last block, and when the last one was counted. */
  expiries: number;
  lastStrikeAt: number;
  connectedAt: number;
  lastDataAt: number;
  dropped: boolean;
  /** Counted as a seed for `peer-complete` (once). */
  completeSeen: boolean;
  /** It lacked pieces at some point on this connection (so a later `peer-complete` means it finished here). */
  sawIncomplete: boolean;
  /** Blocks it sent that nobody asked for: pieces we were not downloading, or had (counted as waste; too many and it is dropped). */
  unrequested: number;
  /** The connection speaks BEP 52 v2 (made with the v2 infohash, or both sides set the upgrade bit). */
  v2: boolean;
}

/** A client name from the BEP 20 Azureus-style peer id (`-lt2080-` → "lt2080"), when it has one. */
export function clientFromPeerId(id: Uint8Array): string | null {
  const s = Buffer.from(id.subarray(0, 8)).toString('latin1');
  return /^-[A-Za-z~]{2}[0-9A-Za-z]{4}-$/.test(s) ? s.slice(1, 7) : null;
}

/** The record of a handshaken connection; `pieceCount` null while the metadata is unknown. */
export function createPeer(init: { id: number; key: string; candidate: Candidate | undefined; wire: PeerWire; source: PeerSourceName; pieceCount: number | null; now: number }): Peer {
  const { wire, now } = init;
  return {
    id: init.id,
    key: init.key,
    candidate: init.candidate,
    wire,
    source: init.source,
    direction: wire.conn.direction,
    peerIdHex: Buffer.from(wire.peerHandshake!.peerId).toString('hex'),
    client: clientFromPeerId(wire.peerHandshake!.peerId),
    pieces: new Bitfield(init.pieceCount ?? 0),
    early: init.pieceCount === null ? { bits: null, haves: new Set(), all: false } : null,
    listenPort: wire.conn.direction === 'outgoing' ? wire.conn.remote.port : null,
    reqq: DEFAULT_REQQ,
    down: new RateMeter(now),
    up: new RateMeter(now),
    rejected: new Set(),
    chokedUs: true,
    snubbed: false,
    expiries: 0,
    lastStrikeAt: -Infinity,
    connectedAt: now,
    lastDataAt: now,
    dropped: false,
    completeSeen: false,
    sawIncomplete: false,
    unrequested: 0,
    v2: false,
  };
}

/** Before the metadata: remember what the peer has (bounded); we have nothing to serve. */
export function recordEarly(p: Peer, m: Message): void {
  const early = p.early!;
  switch (m.type) {
    case 'bitfield':
      early.bits = Uint8Array.from(m.bits);
      return;
    case 'have-all':
      early.all = true;
      return;
    case 'have':
      if (early.haves.size < MAX_EARLY_HAVES) early.haves.add(m.index);
      return;
    case 'request':
      if (p.wire.state!.features.fast) p.wire.send({ type: 'reject', index: m.index, begin: m.begin, length: m.length });
      return;
    default:
      return;
  }
}

/** What a peer said before the piece count was known, as its piece set; throws a BtError when it does not fit `pieceCount`. */
export function adoptEarly(p: Peer, pieceCount: number): PeerPieces {
  const early = p.early;
  p.early = null;
  if (!early) return p.pieces;
  if (early.all) return 'all';
  let bits: Bitfield;
  if (early.bits) {
    if (early.bits.length !== (pieceCount + 7) >>> 3) throw new BtError('WIRE_BAD_BITFIELD', 'network', `bitfield of ${early.bits.length} bytes for ${pieceCount} pieces`);
    bits = Bitfield.fromWire(early.bits, pieceCount);
  } else bits = new Bitfield(pieceCount);
  for (const i of early.haves) {
    if (i >= pieceCount) throw new BtError('WIRE_BAD_INDEX', 'network', `have for piece ${i} of ${pieceCount}`);
    bits.set(i);
  }
  return bits.hasAll() ? 'all' : bits;
}

/** Our BEP 10 extended handshake to a peer at `remoteHost`: client, queue depth, listen port, and its address as we see it. */
export function ourExtendedHandshake(remoteHost: string, o: { client: string; port: number }): Omit<ExtendedHandshakeInit, 'm'> {
  const ip = yourIp(remoteHost);
  return { v: o.client, reqq: OUR_REQQ, ...(o.port ? { p: o.port } : {}), ...(ip ? { yourip: ip } : {}) };
}

/**
 * Our piece set at the start of a connection (BEP 6 have all / have none where the peer speaks
 * fast, else a bitfield, or nothing when we have nothing), our allowed-fast pieces, and our DHT
 * port (BEP 5) when we run a DHT node and the peer does too.
 */
export function greet(t: Torrent<Peer> | null, p: Peer, options: { infoHash: Uint8Array; allowedFast: number; dhtPort: number }): void {
  const features = p.wire.state!.features;
  const have = t?.picker.completed ?? 0;
  if (t && have === t.meta.pieceCount && features.fast) p.wire.send({ type: 'have-all' });
  else if (have === 0) {
    if (features.fast) p.wire.send({ type: 'have-none' });
  } else p.wire.send({ type: 'bitfield', bits: t!.picker.haveBitfield().toWire() });
  if (t) sendAllowedFast(t, p, options.infoHash, options.allowedFast);
  if (options.dhtPort && features.dht) p.wire.send({ type: 'port', port: options.dhtPort });
}

/**
 * BEP 6 allowed fast: pieces a peer may request from us even while choked, so a newcomer with
 * nothing gets its first piece without waiting for an unchoke. Only pieces we have are worth
 * offering; the set is the canonical one for the peer's address, so it is the same on every
 * reconnection.
 */
function sendAllowedFast(t: Torrent<Peer>, p: Peer, infoHash: Uint8Array, k: number): void {
  if (k === 0 || !p.wire.state!.features.fast || t.picker.completed === 0) return;
  if (p.pieces === 'all' || p.pieces.hasAll()) return;
  for (const index of allowedFastSet(infoHash, p.wire.conn.remote.host, t.meta.pieceCount, Math.min(k, t.meta.pieceCount))) {
    if (t.picker.hasPiece(index)) p.wire.send({ type: 'allowed-fast', index });
  }
}

/** Tell the peer whether it has something we want (BEP 3 interested / not interested). */
export function updateInterest(t: Torrent<Peer>, p: Peer): void {
  if (p.early) return;
  const st = p.wire.state!;
  const want = t.picker.wantedMissing > 0 && t.picker.interesting(p.pieces);
  if (want && !st.amInterested) p.wire.send({ type: 'interested' });
  else if (!want && st.amInterested) p.wire.send({ type: 'not-interested' });
}

/** Keep the peer's request pipeline full: as deep as its rate calls for, within its `reqq`. */
export function requestMore(t: Torrent<Peer>, p: Peer, now: number): void {
  if (p.dropped || p.early) return;
  const st = p.wire.state!;
  if (!st.amInterested) return;
  if (st.peerChoking && st.allowedFastIn.size === 0) return;
  const depth = p.snubbed ? 1 : pipelineDepth(p.down.rate(now), { max: Math.min(p.reqq, MAX_PIPELINE), min: 16 });
  const outstanding = t.assembler.scheduler.outstandingCount(p);
  const room = depth - outstanding;
  // Top up in batches (an eighth of the pipeline at a time): one pass over the picker and one
  // write per batch, not per block.
  if (room <= 0 || (outstanding > 0 && room < Math.max(2, depth >> 3))) return;
  const requests = t.assembler.request(p, p.pieces, room, {
    now,
    endgameBatch: ENDGAME_PEER_BATCH,
    canRequest: (i) => st.canRequest(i) && !p.rejected.has(i) && t.assembler.mayRequest(i, p),
  });
  for (const r of requests) p.wire.send({ type: 'request', index: r.index, begin: r.begin, length: r.length });
}
