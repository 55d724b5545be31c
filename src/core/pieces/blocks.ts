/**
 * Block-level download bookkeeping (BEP 3 `request`/`piece`/`cancel`): pieces are fetched as
 * 16 KiB blocks (BEP 3: "All current implementations use 2^14 (16 kiB)"), several requests
 * pipelined per peer, the state of each block of each piece in progress, endgame mode, and
 * which peers delivered the blocks of a piece that failed its hash check.
 *
 * Terms: a *piece* is the unit the torrent hashes; a *block* is the unit a `request` asks for.
 *
 * Why it works this way:
 * - Started pieces are finished before new ones are started (oldest first), so few pieces are
 *   partial at any time: only a complete piece can be verified, written and shared.
 * - Endgame: once every block we still want is requested, the last few would otherwise wait on
 *   the slowest peer holding them; so other peers may request them too, and when one copy
 *   arrives the others are cancelled (BEP 3 "End Game").
 * - Each block remembers the peer that delivered it: when a piece fails its hash the peers that
 *   contributed are known, and `TrustLedger` decides which of them to ban.
 * - Request times are recorded (the caller's clock) so requests to a slow or silent peer can be
 *   expired and handed to others.
 *
 * Pure and deterministic: no timers, no I/O; the picker's injected RNG is the only randomness.
 */
import { pieceSize } from './geometry.js';
import type { PeerPieces, PiecePicker } from './picker.js';

export const BLOCK_LENGTH = 16 * 1024;

export interface BlockRequest {
  index: number;
  begin: number;
  length: number;
}

/** Sizes of the pieces and blocks of one torrent. */
export class PieceGeometry {
  readonly pieceCount: number;
  readonly blocksPerPiece: number;

  constructor(
    readonly totalLength: number,
    readonly pieceLength: number,
    readonly blockLength = BLOCK_LENGTH,
  ) {
    if (!(Number.isSafeInteger(totalLength) && totalLength >= 0)) throw new RangeError(`bad total length ${totalLength}`);
    if (!(Number.isSafeInteger(pieceLength) && pieceLength > 0)) throw new RangeError(`bad piece length ${pieceLength}`);
    if (!(Number.isSafeInteger(blockLength) && blockLength > 0)) throw new RangeError(`bad block length ${blockLength}`);
    this.pieceCount = Math.ceil(totalLength / pieceLength);
    this.blocksPerPiece = Math.ceil(pieceLength / blockLength);
  }

  /** Bytes in piece `index` (the last one may be short). */
  pieceSize(index: number): number {
    return pieceSize(this, index);
  }

  blockCount(index: number): number {
    return Math.ceil(this.pieceSize(index) / this.blockLength);
  }

  block(index: number, block: number): BlockRequest {
    const begin = block * this.blockLength;
    return { index, begin, length: Math.min(this.blockLength, this.pieceSize(index) - begin) };
  }

  /** The block number of a (index, begin, length) that is exactly one of our blocks, else -1. */
  blockOf(index: number, begin: number, length: number): number {
    if (!Number.isInteger(index) || index < 0 || index >= this.pieceCount) return -1;
    if (!Number.isInteger(begin) || begin % this.blockLength !== 0) return -1;
    const b = begin / this.blockLength;
    if (b >= this.blockCount(index)) return -1;
    return this.block(index, b).length === length ? b : -1;
  }
}

const enum BlockState {
  Missing = 0,
  Requested = 1,
  Received = 2,
}

/** A piece some of whose blocks are requested or received. */
class Partial<P> {
  readonly state: Uint8Array;
  /** Peers with an outstanding request for each block. */
  readonly requesters: P[][];
  /** The peer each received block came from. */
  readonly from: (P | undefined)[];
  unrequested: number;
  received = 0;

  constructor(
    readonly index: number,
    readonly blocks: number,
  ) {
    this.state = new Uint8Array(blocks);
    this.requesters = Array.from({ length: blocks }, () => []);
    this.from = new Array<P | undefined>(blocks).fill(undefined);
    this.unrequested = blocks;
  }
}

interface Outstanding {
  request: BlockRequest;
  at: number;
}

export interface RequestOptions {
  /** The caller's clock (ms), recorded for `expire`. Default 0. */
  now?: number;
  /** Pieces that may be requested from this peer now (e.g. only allowed-fast ones while choked). */
  canRequest?: (index: number) => boolean;
  /**
   * In endgame, blocks already requested elsewhere go to this peer only once its own requests are
   * all answered, at most this many at a time. Default: up to `max`, whatever it has outstanding
   * (a web seed's run). See ENDGAME_PEER_BATCH.
   */
  endgameBatch?: number;
}

/**
 * The endgame duplicates a peer connection asks for at a time, once its own queue is empty. A
 * peer whose pipeline is still busy would only receive its copies after its own blocks, by which
 * time the first copy mostly arrived: with whole pipelines of duplicates (hundreds of blocks),
 * 5–8 % of what the leechers of bench/seed (b) received was thrown away, sent and received for
 * nothing on both sides. libtorrent asks for one busy block at a time, and only from a peer with
 * nothing else to request.
 */
export const ENDGAME_PEER_BATCH = 4;

export type ReceiveStatus =
  /** New data for a piece in progress: write it. */
  | 'accepted'
  /** We already have this block (endgame, or a late answer): drop it. */
  | 'duplicate'
  /** A block of a piece we are not downloading: we never asked for it. */
  | 'unrequested'
  /** Not one of our blocks (bad index, offset or length): a broken peer. */
  | 'invalid';

export interface ReceiveResult<P> {
  status: ReceiveStatus;
  /** For `accepted`: whether this peer had an outstanding request for the block (false: it arrived after we gave up on it). */
  requested: boolean;
  /** For `accepted`: every block of the piece is in; hash it, then call `pieceVerified` or `pieceFailed`. */
  pieceComplete: boolean;
  /** Requests for the same block still outstanding at other peers: send each a `cancel`. */
  cancels: { peer: P; request: BlockRequest }[];
}

export interface SchedulerOptions {
  picker: PiecePicker;
  geometry: PieceGeometry;
  /** In endgame, how many peers at most may have the same block requested. Default unlimited. */
  maxEndgameRequesters?: number;
}

const blockKey = (g: PieceGeometry, index: number, block: number): number => index * g.blocksPerPiece + block;

/**
 * Block requests of a whole torrent, across peers. `P` identifies a peer connection (any value
 * usable as a Map key).
 */
export class BlockScheduler<P> {
  private readonly picker: PiecePicker;
  readonly geometry: PieceGeometry;
  private readonly maxEndgameRequesters: number;
  /** Pieces in progress, in the order they were started (Map keeps insertion order). */
  private readonly partial = new Map<number, Partial<P>>();
  private readonly outstanding = new Map<P, Map<number, Outstanding>>();

  constructor(options: SchedulerOptions) {
    this.picker = options.picker;
    this.geometry = options.geometry;
    this.maxEndgameRequesters = options.maxEndgameRequesters ?? Infinity;
    if (this.picker.pieceCount !== this.geometry.pieceCount) throw new RangeError('picker and geometry disagree on the piece count');
  }

  /** Outstanding requests of `peer`. */
  outstandingCount(peer: P): number {
    return this.outstanding.get(peer)?.size ?? 0;
  }

  outstandingOf(peer: P): BlockRequest[] {
    return [...(this.outstanding.get(peer)?.values() ?? [])].map((o) => o.request);
  }

  /** Pieces currently in progress. */
  inProgress(): number[] {
    return [...this.partial.keys()];
  }

  /**
   * Endgame: every block of every piece we still want is requested or received, yet pieces are
   * missing. Computed from the pieces in progress (few), not the whole torrent.
   */
  get endgame(): boolean {
    const wanted = this.picker.wantedMissing;
    if (wanted === 0) return false;
    let started = 0;
    for (const p of this.partial.values()) {
      if (!this.picker.isWanted(p.index)) continue;
      if (p.unrequested > 0) return false;
      started++;
    }
    return started === wanted;
  }

  /**
   * Up to `max` new requests for `peer` (the caller passes its pipeline depth minus what is
   * outstanding). Marks them requested; the caller sends them.
   */
  request(peer: P, pieces: PeerPieces, max: number, options: RequestOptions = {}): BlockRequest[] {
    const out: BlockRequest[] = [];
    if (max <= 0) return out;
    const now = options.now ?? 0;
    const allowed = (i: number): boolean => (pieces === 'all' || pieces.get(i)) && (options.canRequest?.(i) ?? true);

    // 1. Unrequested blocks of pieces already started, oldest piece first.
    for (const p of this.partial.values()) {
      if (out.length >= max) return out;
      if (p.unrequested === 0 || !this.picker.isWanted(p.index) || !allowed(p.index)) continue;
      this.takeMissing(peer, p, max, out, now);
    }
    // 2. New pieces from the picker.
    while (out.length < max) {
      const index = this.picker.pick(pieces, (i) => this.partial.has(i) || !(options.canRequest?.(i) ?? true));
      if (index === null) break;
      const p = new Partial<P>(index, this.geometry.blockCount(index));
      this.partial.set(index, p);
      this.takeMissing(peer, p, max, out, now);
    }
    // 3. Endgame: blocks others already requested, the least duplicated first; with
    // `endgameBatch`, only to a peer with nothing outstanding, and a few at a time.
    const batch = options.endgameBatch;
    if (out.length < max && (batch === undefined || (out.length === 0 && this.outstandingCount(peer) === 0)) && this.endgame) {
      this.takeDuplicates(peer, batch === undefined ? max : Math.min(max, batch), out, now, allowed);
    }
    return out;
  }

  private takeMissing(peer: P, p: Partial<P>, max: number, out: BlockRequest[], now: number): void {
    for (let b = 0; b < p.blocks && out.length < max; b++) {
      if (p.state[b] !== BlockState.Missing) continue;
      p.state[b] = BlockState.Requested;
      p.unrequested--;
      out.push(this.assign(peer, p, b, now));
    }
  }

  private takeDuplicates(peer: P, max: number, out: BlockRequest[], now: number, allowed: (i: number) => boolean): void {
    const candidates: { p: Partial<P>; b: number; n: number }[] = [];
    for (const p of this.partial.values()) {
      if (!this.picker.isWanted(p.index) || !allowed(p.index)) continue;
      for (let b = 0; b < p.blocks; b++) {
        const r = p.requesters[b]!;
        if (p.state[b] === BlockState.Requested && !r.includes(peer) && r.length < this.maxEndgameRequesters) candidates.push({ p, b, n: r.length });
      }
    }
    // Stable sort: among equally duplicated blocks, the oldest piece and lowest block first.
    candidates.sort((x, y) => x.n - y.n);
    for (const c of candidates) {
      if (out.length >= max) break;
      out.push(this.assign(peer, c.p, c.b, now));
    }
  }

  private assign(peer: P, p: Partial<P>, b: number, now: number): BlockRequest {
    const request = this.geometry.block(p.index, b);
    p.requesters[b]!.push(peer);
    let mine = this.outstanding.get(peer);
    if (!mine) this.outstanding.set(peer, (mine = new Map()));
    mine.set(blockKey(this.geometry, p.index, b), { request, at: now });
    return request;
  }

  private unassign(peer: P, p: Partial<P>, b: number): void {
    const r = p.requesters[b]!;
    const k = r.indexOf(peer);
    if (k >= 0) r.splice(k, 1);
    const mine = this.outstanding.get(peer);
    mine?.delete(blockKey(this.geometry, p.index, b));
    if (mine?.size === 0) this.outstanding.delete(peer);
    if (r.length === 0 && p.state[b] === BlockState.Requested) {
      p.state[b] = BlockState.Missing;
      p.unrequested++;
    }
  }

  /** A `piece` message arrived from `peer`. */
  received(peer: P, index: number, begin: number, length: number): ReceiveResult<P> {
    const result: ReceiveResult<P> = { status: 'invalid', requested: false, pieceComplete: false, cancels: [] };
    const b = this.geometry.blockOf(index, begin, length);
    if (b < 0) return result;
    const p = this.partial.get(index);
    if (!p) {
      result.status = this.picker.hasPiece(index) ? 'duplicate' : 'unrequested';
      return result;
    }
    const requesters = p.requesters[b]!;
    result.requested = requesters.includes(peer);
    if (p.state[b] === BlockState.Received) {
      if (result.requested) this.unassign(peer, p, b);
      result.status = 'duplicate';
      result.requested = false;
      return result;
    }
    if (p.state[b] === BlockState.Missing) p.unrequested--;
    p.state[b] = BlockState.Received;
    p.from[b] = peer;
    p.received++;
    for (const other of [...requesters]) {
      this.unassign(other, p, b);
      if (other !== peer) result.cancels.push({ peer: other, request: this.geometry.block(index, b) });
    }
    result.status = 'accepted';
    result.pieceComplete = p.received === p.blocks;
    return result;
  }

  /**
   * Give up one outstanding request of `peer`: the peer rejected it (BEP 6), or it timed out.
   * The block becomes requestable again unless another peer has it requested.
   */
  release(peer: P, request: BlockRequest): boolean {
    const b = this.geometry.blockOf(request.index, request.begin, request.length);
    const p = b < 0 ? undefined : this.partial.get(request.index);
    if (!p || !p.requesters[b]!.includes(peer)) return false;
    this.unassign(peer, p, b);
    return true;
  }

  /** The peer is gone or choked us without BEP 6: release all its requests, returning them. */
  releasePeer(peer: P): BlockRequest[] {
    const released = this.outstandingOf(peer);
    for (const r of released) this.release(peer, r);
    this.outstanding.delete(peer);
    return released;
  }

  /**
   * Requests outstanding for at least `timeoutMs`: released (so others can take the blocks) and
   * returned, so the session can send cancels and mark the peer as slow.
   */
  expire(now: number, timeoutMs: number): { peer: P; request: BlockRequest }[] {
    const expired: { peer: P; request: BlockRequest }[] = [];
    for (const [peer, mine] of this.outstanding) {
      for (const o of mine.values()) if (now - o.at >= timeoutMs) expired.push({ peer, request: o.request });
    }
    for (const e of expired) this.release(e.peer, e.request);
    return expired;
  }

  /** The piece's hash matched: it is ours. Returns the peers that delivered its blocks (for trust). */
  pieceVerified(index: number): P[] {
    const p = this.partial.get(index);
    this.partial.delete(index);
    this.picker.markHave(index);
    return p ? distinct(p.from) : [];
  }

  /**
   * The piece's hash did not match: all its blocks are missing again. Returns how many blocks
   * each peer contributed, for `TrustLedger.failed`.
   */
  pieceFailed(index: number): Map<P, number> {
    const p = this.partial.get(index);
    const contributors = new Map<P, number>();
    if (!p) return contributors;
    for (const peer of p.from) if (peer !== undefined) contributors.set(peer, (contributors.get(peer) ?? 0) + 1);
    for (let b = 0; b < p.blocks; b++) for (const peer of [...p.requesters[b]!]) this.unassign(peer, p, b);
    this.partial.delete(index);
    return contributors;
  }
}

const distinct = <P>(xs: readonly (P | undefined)[]): P[] => [...new Set(xs.filter((x): x is P => x !== undefined))];

/**
 * Which peers to ban for bad data, from the pieces they helped with (the scheme of libtorrent's
 * trust points): a verified piece earns each contributor a point (up to a cap), a failed one
 * costs each contributor two, and a peer at or below the ban threshold is banned. A peer that
 * delivered every block of a failed piece is certainly at fault and is banned at once.
 */
export class TrustLedger<P> {
  private readonly points = new Map<P, number>();

  constructor(
    private readonly banAt = -7,
    private readonly cap = 8,
  ) {}

  trust(peer: P): number {
    return this.points.get(peer) ?? 0;
  }

  verified(contributors: Iterable<P>): void {
    for (const peer of contributors) this.points.set(peer, Math.min(this.cap, this.trust(peer) + 1));
  }

  /** Record a failed piece; returns the peers to ban now. */
  failed(contributors: ReadonlyMap<P, number>): P[] {
    const ban: P[] = [];
    const sole = contributors.size === 1;
    for (const peer of contributors.keys()) {
      const t = this.trust(peer) - 2;
      this.points.set(peer, t);
      if (sole || t <= this.banAt) ban.push(peer);
    }
    return ban;
  }
}

/** What BEP 10 lets a peer leave out: "The default in libtorrent is 250." */
export const DEFAULT_REQQ = 250;

export interface PipelineOptions {
  blockLength?: number;
  /** Seconds of data to keep requested ahead (libtorrent's request_queue_time). Default 3. */
  queueSeconds?: number;
  /** Never fewer outstanding requests than this, so a new peer's rate can be measured. Default 2. */
  min?: number;
  /** The peer's `reqq` from its extended handshake; default 250. */
  max?: number;
}

/**
 * How many requests to keep outstanding at a peer: enough to cover `queueSeconds` at its measured
 * download rate (bytes/s), so the link never idles waiting for the next request, bounded below so
 * a slow peer still gets work and above by what the peer says it accepts (BEP 10 `reqq`).
 */
export function pipelineDepth(rate: number, options: PipelineOptions = {}): number {
  const blockLength = options.blockLength ?? BLOCK_LENGTH;
  const min = options.min ?? 2;
  const max = Math.max(1, options.max ?? DEFAULT_REQQ);
  const want = Number.isFinite(rate) && rate > 0 ? Math.ceil((rate * (options.queueSeconds ?? 3)) / blockLength) : min;
  return Math.min(max, Math.max(min, want));
}
