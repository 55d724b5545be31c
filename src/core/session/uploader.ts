/**
 * The upload side of a session (BEP 3 `request`/`piece`, BEP 6 `reject`): what each peer asked
 * for, in order and bounded; blocks read from the store — chunk reads started ahead of the send
 * when the store is a read cache — and sent under the upload rate limit, one peer's blocks at a
 * time, waiting for its socket to drain.
 *
 * The choking decisions are the session's (choker.ts, seed-choker.ts); this only serves the
 * peers it is told are unchoked, and drops or rejects their queues when they are choked.
 */
import { type BtError, isBtError } from '../errors.js';
import type { PeerWire } from '../wire/peer-wire.js';
import { ReadCache } from '../storage/read-cache.js';
import type { PieceStore } from '../storage/store.js';
import type { BlockRef, Message } from '../wire/messages.js';
import type { SendAction } from '../wire/state.js';
import type { TokenBucket } from './rate.js';

/** What the session advertises as `reqq` and accepts in one peer's upload queue (BEP 10). */
export const OUR_REQQ = 500;
/** How far down a peer's upload queue the chunk reads start ahead (blocks). */
const READ_AHEAD_BLOCKS = 128;
/** Blocks this close after the last read-ahead one are taken to share its chunk. */
const READ_AHEAD_STRIDE = 256 * 1024;

export interface UploadPeer {
  readonly wire: PeerWire;
  readonly dropped: boolean;
}

export interface UploaderOptions<P extends UploadPeer> {
  store: PieceStore;
  bucket: TokenBucket;
  /** Whether we have (verified) piece `index`: only those are served. */
  hasPiece(index: number): boolean;
  pieceSize(index: number): number;
  /** A block went out to `peer`. */
  onSent(peer: P, bytes: number): void;
  /** A block could not be read from disk (its request is rejected or dropped; the rest are served). */
  onReadError(err: BtError): void;
  /** Fires when the session stops: waits end. */
  signal: AbortSignal;
}

interface PeerQueue {
  requests: BlockRef[];
  serving: boolean;
}

export class Uploader<P extends UploadPeer> {
  private readonly queues = new Map<P, PeerQueue>();

  constructor(private readonly opts: UploaderOptions<P>) {}

  /** A `request` from `peer`: queued when we serve it, else rejected (BEP 6) if the peer speaks fast. */
  request(peer: P, m: BlockRef): void {
    const st = peer.wire.state!;
    const q = this.queueOf(peer);
    const valid = this.opts.hasPiece(m.index) && m.begin + m.length <= this.opts.pieceSize(m.index);
    if (st.amChoking || !valid || q.requests.length >= OUR_REQQ) {
      if (st.features.fast) peer.wire.send(rejectOf(m));
      return;
    }
    q.requests.push({ index: m.index, begin: m.begin, length: m.length });
    void this.serve(peer, q);
  }

  /** A `cancel`: the request leaves the queue; BEP 6 wants it answered, with the block or a reject. */
  cancel(peer: P, m: BlockRef): void {
    const q = this.queues.get(peer);
    const i = q ? q.requests.findIndex((r) => r.index === m.index && r.begin === m.begin && r.length === m.length) : -1;
    if (i < 0) return;
    q!.requests.splice(i, 1);
    if (peer.wire.state!.features.fast) peer.wire.send(rejectOf(m));
  }

  /** We choked `peer`: its queue is rejected (fast extension) or dropped (BEP 3), as the wire says. */
  choked(peer: P, action: SendAction): void {
    const q = this.queues.get(peer);
    if (!q) return;
    if (action === 'reject-their-requests') for (const r of q.requests) peer.wire.send(rejectOf(r));
    if (action === 'reject-their-requests' || action === 'discard-their-requests') q.requests = [];
  }

  /** The peer is gone: forget its queue (a serve loop in progress ends at its next step). */
  forget(peer: P): void {
    this.queues.delete(peer);
  }

  private queueOf(peer: P): PeerQueue {
    let q = this.queues.get(peer);
    if (!q) {
      q = { requests: [], serving: false };
      this.queues.set(peer, q);
    }
    return q;
  }

  private async serve(peer: P, q: PeerQueue): Promise<void> {
    if (q.serving) return;
    q.serving = true;
    const { store, bucket, signal } = this.opts;
    try {
      while (!peer.dropped && q.requests.length > 0 && !signal.aborted) {
        const r = q.requests[0]!;
        if (!bucket.unlimited) await bucket.ready(signal);
        if (store instanceof ReadCache) readAhead(store, q.requests);
        let data: Uint8Array;
        // From a read cache, the block is lent and given back once its socket write is done,
        // so the cache can reuse the memory (see ReadCache.lease).
        let release = (): void => undefined;
        try {
          if (store instanceof ReadCache) ({ data, release } = await store.lease(r.index, r.begin, r.length));
          else data = await store.read(r.index, r.begin, r.length);
        } catch (err) {
          if (!(isBtError(err) && err.category === 'io')) throw err;
          // This block cannot be read: answer it (BEP 6) and go on with the rest of the queue, or
          // the same failing read would head the queue for ever.
          // A request that left the queue meanwhile (cancelled, or rejected by a choke) was
          // answered already: a second reject for it would be a reject of nothing outstanding.
          const i = q.requests.indexOf(r);
          if (i < 0) {
            this.opts.onReadError(err);
            continue;
          }
          q.requests.splice(i, 1);
          if (!peer.dropped && peer.wire.state!.features.fast) peer.wire.send(rejectOf(r));
          this.opts.onReadError(err);
          continue;
        }
        // Cancelled meanwhile, or the queue was dropped by a choke (`choked` replaces the array).
        const i = q.requests.indexOf(r);
        if (i < 0 || peer.dropped) {
          release();
          continue;
        }
        q.requests.splice(i, 1);
        bucket.consume(r.length);
        this.opts.onSent(peer, r.length);
        if (!peer.wire.sendPiece(r.index, r.begin, data, release)) await peer.wire.drained(signal);
      }
    } catch {
      // Stopped (the signal ended a wait for tokens or for the socket), or the peer is gone.
    } finally {
      q.serving = false;
    }
  }
}

/**
 * The BEP 6 `reject` for a block. Built field by field: the session hands us the `request` message
 * itself, and `{ type: 'reject', ...m }` let its `type: 'request'` win, so we sent our own
 * `request` back instead of a reject (issue 15).
 */
function rejectOf(r: BlockRef): Message {
  return { type: 'reject', index: r.index, begin: r.begin, length: r.length };
}

/**
 * Start reading the chunks of the next queued blocks (the first READ_AHEAD_BLOCKS) while the first
 * is sent: with reads awaited one chunk at a time the socket ran dry at every miss.
 */
function readAhead(cache: ReadCache, queue: readonly BlockRef[]): void {
  let last = -1;
  let lastBegin = -1;
  const n = Math.min(queue.length, READ_AHEAD_BLOCKS);
  for (let j = 1; j < n; j++) {
    const q = queue[j]!;
    // Consecutive blocks of one piece mostly share a chunk: skip the repeats cheaply.
    if (q.index === last && q.begin >= lastBegin && q.begin < lastBegin + READ_AHEAD_STRIDE) continue;
    last = q.index;
    lastBegin = q.begin;
    cache.prefetch(q.index, q.begin);
  }
}
