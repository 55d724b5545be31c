/**
 * The session's side of BEP 52's hash messages: serving `hash request`s from our files' merkle
 * trees (with proof hashes), and — for a `btmh` magnet, whose info dictionary carries only each
 * file's `pieces root` — fetching the piece layers from peers, each answer proven against the
 * root before a hash of it is used.
 *
 * A peer speaks these messages only on a v2 connection: one made with the v2 infohash (truncated
 * to 20 bytes), or a hybrid's v1 connection on which both sides set the upgrade bit. A message on
 * any other connection is a protocol error, as libtorrent treats it.
 *
 * Bounds (a hostile peer must not make us work or wait without end):
 * - Requests we send: at most MAX_OUTSTANDING per peer, re-asked elsewhere after REQUEST_TIMEOUT_MS.
 * - A `hash reject` sends the range to another peer; a peer that rejected MAX_REJECTS ranges is not
 *   asked again. A reject or `hashes` we never asked for counts against MAX_UNSOLICITED, past
 *   which the peer is dropped with PEER_HASH_REJECT_STORM: a peer flooding us with answers to
 *   questions nobody asked is either broken or an attack.
 * - `hashes` that do not fold to the file's root prove the peer lied: PEER_BAD_HASHES (banned).
 * - Requests we serve: at most MAX_SERVED_PER_WINDOW per peer in SERVE_WINDOW_MS; more is
 *   PEER_HASH_REQUEST_FLOOD (dropped). Each answer is a bounded copy (8192 hashes at most).
 * - A request below the piece layer (the block layer, as libtorrent asks when a piece failed) is
 *   answered from the pieces it touches, read from disk and hashed again (`readPiece`): only pieces
 *   we have, at most MAX_SERVE_READS_IN_FLIGHT such requests per peer at once, and at most
 *   serveReadBudget bytes read for one peer per window. Past a bound the answer is a `hash reject`
 *   (the request is legal, only too much for now), not a drop.
 */
import { BtError } from '../errors.js';
import type { HashRange, Message } from '../wire/messages.js';
import type { PeerWire } from '../wire/peer-wire.js';
import type { LayerRange } from '../pieces/hash-tree.js';
import type { FileHashTree } from '../pieces/hash-tree.js';
import { blockLeaves } from '../metainfo/merkle.js';
import type { V2Trees } from './v2-verifier.js';

/** Hash requests outstanding at one peer. */
const MAX_OUTSTANDING = 4;
/** A request unanswered this long goes to another peer. */
const REQUEST_TIMEOUT_MS = 15_000;
/** Ranges a peer may reject before it is not asked again. */
export const MAX_REJECTS = 16;
/** Rejects and hashes nobody asked for (or past MAX_REJECTS) before the peer is dropped. */
export const MAX_UNSOLICITED = 64;
/** Hash requests served to one peer per window. */
export const MAX_SERVED_PER_WINDOW = 2048;
const SERVE_WINDOW_MS = 10_000;
/** Requests below the piece layer being read from disk for one peer at once. */
export const MAX_SERVE_READS_IN_FLIGHT = 2;
/** Bytes read from disk for one peer's hash requests per window: 64 MiB, or two pieces when they are larger. */
export const serveReadBudget = (pieceLength: number): number => Math.max(64 * 1024 * 1024, 2 * pieceLength);

/** What the exchange needs of a connected peer. */
export interface HashPeer {
  readonly key: string;
  readonly wire: PeerWire;
  readonly dropped: boolean;
  /** The connection speaks v2 (see the top comment). */
  v2: boolean;
}

interface Wanted {
  tree: FileHashTree;
  range: LayerRange;
  /** Who is being asked, since when. */
  askedOf: HashPeer | null;
  askedAt: number;
  /** Peers that rejected it (not asked again for it). */
  refusedBy: Set<HashPeer>;
}

interface PeerRecord {
  outstanding: number;
  rejects: number;
  unsolicited: number;
  servedSince: number;
  served: number;
  /** Bytes read from disk to serve this peer in the current window, and reads under way. */
  readBytes: number;
  reading: number;
}

export interface V2HashesOptions<P> {
  now: () => number;
  /** The connected peers (asked in turn). */
  peers(): Iterable<P>;
  /** Drop (and, with `ban`, ban) a peer that broke the rules. */
  drop(peer: P, err: BtError, ban: boolean): void;
  /** A verified piece's bytes (torrent-wide index), or null when we do not have it: for requests below the piece layer. */
  readPiece?(index: number): Promise<Uint8Array | null>;
  /** A request below the piece layer was answered (`answered`: with hashes, else a reject): rare, so each is reported. */
  servedFromData?(peer: P, range: { baseLayer: number; index: number; length: number; proofLayers: number }, answered: boolean): void;
}

export class V2Hashes<P extends HashPeer> {
  private trees: V2Trees | null = null;
  private wanted: Wanted[] = [];
  private readonly records = new Map<P, PeerRecord>();
  private done: (() => void) | null = null;

  constructor(private readonly opts: V2HashesOptions<P>) {}

  /** The torrent's trees became known: serve from them (and fetch what they lack with `fetchLayers`). */
  setTrees(trees: V2Trees): void {
    this.trees = trees;
  }

  /** The piece layers known so far (`piece layers` of a saved .torrent) and whether that is all of them; null before the trees. */
  pieceLayers(): { layers: { root: Buffer; layer: Buffer }[]; complete: boolean } | null {
    return this.trees ? { layers: this.trees.pieceLayers(), complete: this.trees.complete } : null;
  }

  /**
   * Fetch every missing piece layer from v2 peers; resolves when all are proven, rejects when
   * `signal` fires.
   */
  fetchLayers(signal: AbortSignal): Promise<void> {
    const trees = this.trees;
    if (!trees || trees.complete) return Promise.resolve();
    this.wanted = trees.trees.flatMap((tree) => (tree ? tree.layerRequests().map((range) => ({ tree, range, askedOf: null, askedAt: 0, refusedBy: new Set<HashPeer>() })) : []));
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      this.done = () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      this.askMore();
    });
  }

  /** A hash message from `p` (the wire decoder has bounded its sizes). */
  onMessage(p: P, m: Extract<Message, { type: 'hash-request' | 'hashes' | 'hash-reject' }>): void {
    if (!p.v2) {
      this.opts.drop(p, new BtError('PEER_NOT_V2', 'network', `a ${m.type} message on a connection that does not speak v2 (BEP 52)`), false);
      return;
    }
    if (m.type === 'hash-request') this.serve(p, m);
    else if (m.type === 'hashes') this.received(p, m);
    else this.rejected(p, m);
  }

  /** On the session's timer: re-ask timed-out ranges elsewhere. */
  tick(): void {
    if (this.wanted.length === 0) return;
    const now = this.opts.now();
    for (const w of this.wanted) {
      if (w.askedOf && now - w.askedAt >= REQUEST_TIMEOUT_MS) {
        const rec = this.records.get(w.askedOf as P);
        if (rec) rec.outstanding--;
        w.refusedBy.add(w.askedOf);
        w.askedOf = null;
      }
    }
    this.askMore();
  }

  /** A new peer, or a range free again: ask for what is missing. */
  askMore(): void {
    if (this.wanted.length === 0) return;
    const now = this.opts.now();
    for (const p of this.opts.peers()) {
      if (!p.v2 || p.dropped) continue;
      const rec = this.record(p);
      if (rec.rejects >= MAX_REJECTS) continue;
      for (const w of this.wanted) {
        if (rec.outstanding >= MAX_OUTSTANDING) break;
        if (w.askedOf || w.refusedBy.has(p)) continue;
        w.askedOf = p;
        w.askedAt = now;
        rec.outstanding++;
        p.wire.send({ type: 'hash-request', root: w.tree.root, ...w.range });
      }
    }
    // Every peer refused a range: forget the refusals and go round again (a peer may have it later).
    for (const w of this.wanted) if (!w.askedOf && w.refusedBy.size > 0 && [...w.refusedBy].every((q) => q.dropped)) w.refusedBy.clear();
  }

  peerGone(p: P): void {
    this.records.delete(p);
    let freed = false;
    for (const w of this.wanted) {
      w.refusedBy.delete(p);
      if (w.askedOf === p) {
        w.askedOf = null;
        freed = true;
      }
    }
    if (freed) this.askMore();
  }

  private record(p: P): PeerRecord {
    let r = this.records.get(p);
    if (!r) this.records.set(p, (r = { outstanding: 0, rejects: 0, unsolicited: 0, servedSince: this.opts.now(), served: 0, readBytes: 0, reading: 0 }));
    return r;
  }

  private serve(p: P, m: HashRange): void {
    const rec = this.record(p);
    const now = this.opts.now();
    if (now - rec.servedSince >= SERVE_WINDOW_MS) {
      rec.servedSince = now;
      rec.served = 0;
      rec.readBytes = 0;
    }
    if (++rec.served > MAX_SERVED_PER_WINDOW) {
      this.opts.drop(p, new BtError('PEER_HASH_REQUEST_FLOOD', 'network', `more than ${MAX_SERVED_PER_WINDOW} hash requests in ${SERVE_WINDOW_MS / 1000} s`), false);
      return;
    }
    const tree = this.trees?.byRoot(m.root) ?? null;
    const range = { root: Uint8Array.from(m.root), baseLayer: m.baseLayer, index: m.index, length: m.length, proofLayers: m.proofLayers };
    const answer = (hashes: Buffer | null) => {
      if (p.dropped) return;
      if (hashes) p.wire.send({ type: 'hashes', ...range, hashes });
      else p.wire.send({ type: 'hash-reject', ...range });
    };
    const span = tree?.piecesFor(m) ?? null;
    if (!tree || !span) return answer(tree?.serve(m) ?? null);
    // Below the kept layers: read the pieces it touches (bounded, see the top comment).
    const bytes = span.count * tree.pieceLength;
    const first = this.trees!.firstPiece(tree);
    const fromData = (hashes: Buffer | null) => {
      this.opts.servedFromData?.(p, { baseLayer: m.baseLayer, index: m.index, length: m.length, proofLayers: m.proofLayers }, hashes !== null);
      answer(hashes);
    };
    if (!this.opts.readPiece || first === null || rec.reading >= MAX_SERVE_READS_IN_FLIGHT || rec.readBytes + bytes > serveReadBudget(tree.pieceLength)) return fromData(null);
    rec.reading++;
    rec.readBytes += bytes;
    void this.leavesOf(tree, first, span).then(
      (leaves) => fromData(leaves ? tree.serveFromLeaves(m, leaves) : null),
      () => fromData(null),
    ).finally(() => rec.reading--);
  }

  /** The leaves of pieces `span` of `tree`'s file (its first piece is torrent piece `first`), or null when one is not had. */
  private async leavesOf(tree: FileHashTree, first: number, span: { first: number; count: number }): Promise<Buffer[][] | null> {
    const out: Buffer[][] = [];
    for (let u = span.first; u < span.first + span.count; u++) {
      const data = await this.opts.readPiece!(first + u);
      const bytes = Math.min(tree.pieceLength, tree.length - u * tree.pieceLength);
      if (!data || data.length < bytes) return null;
      out.push(blockLeaves(data.subarray(0, bytes)));
    }
    return out;
  }

  /** The outstanding range `m` answers at `p`, or undefined. */
  private match(p: P, m: HashRange): Wanted | undefined {
    const root = Buffer.from(m.root.buffer, m.root.byteOffset, m.root.byteLength);
    return this.wanted.find(
      (w) => w.askedOf === p && w.tree.root.equals(root) && w.range.baseLayer === m.baseLayer && w.range.index === m.index && w.range.length === m.length && w.range.proofLayers === m.proofLayers,
    );
  }

  private unsolicited(p: P, what: string): void {
    const rec = this.record(p);
    if (++rec.unsolicited > MAX_UNSOLICITED) {
      this.opts.drop(p, new BtError('PEER_HASH_REJECT_STORM', 'network', `more than ${MAX_UNSOLICITED} ${what} nobody asked for (or after ${MAX_REJECTS} rejects)`), false);
    }
  }

  private received(p: P, m: HashRange & { hashes: Uint8Array }): void {
    const w = this.match(p, m);
    if (!w) {
      this.unsolicited(p, 'hash answers');
      return;
    }
    this.settle(p, w);
    if (!w.tree.addLayerHashes(w.range, m.hashes)) {
      w.refusedBy.add(p);
      this.opts.drop(p, new BtError('PEER_BAD_HASHES', 'network', `hashes for layer ${m.baseLayer} at ${m.index} that do not fold to the file's pieces root`), true);
      // The range goes to another peer.
      this.askMore();
      return;
    }
    this.wanted = this.wanted.filter((x) => x !== w);
    if (this.wanted.length === 0 && this.trees?.complete) {
      const done = this.done;
      this.done = null;
      done?.();
    }
  }

  private rejected(p: P, m: HashRange): void {
    const w = this.match(p, m);
    const rec = this.record(p);
    if (!w) {
      this.unsolicited(p, 'hash rejects');
      return;
    }
    this.settle(p, w);
    w.refusedBy.add(p);
    if (++rec.rejects > MAX_REJECTS) this.unsolicited(p, 'hash rejects');
    else this.askMore();
  }

  /** `w` was answered by `p`: it is no longer outstanding there. */
  private settle(p: P, w: Wanted): void {
    const rec = this.record(p);
    rec.outstanding = Math.max(0, rec.outstanding - 1);
    w.askedOf = null;
  }
}
