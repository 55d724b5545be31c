/**
 * Piece assembly and verification (BEP 3): the one owner of the blocks a download has received.
 * A block walks forward through here: the connection hands it over → it is recorded against its
 * request (the scheduler) and its sender → copied into its piece's buffer → once the piece is
 * whole, checked by a `PieceVerifier` → written to storage → the piece is marked had in the
 * picker, and the coordinator told (it sends `have`s). The assembler is the only writer of the
 * picker's have-set and of the scheduler's piece state; the coordinator reads them.
 *
 * Why it is its own module: several block sources (peers, HTTP web seeds: webseed-source.ts) feed the same
 * pieces, and v1 (SHA-1 list) and v2 (merkle trees, BEP 52) checks plug in behind one interface;
 * neither concern belongs to the code that manages connections.
 *
 * Bad data is traced block by block (smart-ban.ts): when a piece fails, each block's hash and
 * sender are kept; when it later passes, the senders of blocks that differ are reported as liars.
 * A peer that took part in too many failed pieces is reported too (TrustLedger).
 *
 * Padding files (BEP 47) are zeros by definition: their ranges are zeroed before the hash and the
 * write, whatever a peer sent, so a seed with garbage in its pad files cannot make us keep it.
 */
import { BLOCK_LENGTH, BlockScheduler, type BlockRequest, type PieceGeometry, type ReceiveResult, TrustLedger } from '../pieces/blocks.js';
import type { PiecePicker } from '../pieces/picker.js';
import type { PieceStore } from '../storage/store.js';
import { SmartBan } from './smart-ban.js';

/** Checks a whole piece: a v1 SHA-1 list (hasher.ts) now, a v2 merkle tree later. */
export interface PieceVerifier {
  /**
   * `data` is the whole piece. The result's `data` holds the same bytes (the same memory, or the
   * memory back from a worker thread when it went there): use it, not `data`, afterwards.
   */
  check(index: number, data: Uint8Array): Promise<{ ok: boolean; data: Uint8Array }>;
}

/** What the assembler tells its coordinator. */
export interface AssemblerHooks<P> {
  /** Piece `index` passed its check and is written; the picker has it. `from`: who sent its blocks. */
  verified(index: number, from: P[]): void;
  /** Piece `index` failed its check; `peers` sent blocks of it. */
  failed(index: number, peers: P[]): void;
  /** `peer` sent data proven bad (for piece `index`): ban it. */
  liar(peer: P, index: number): void;
  /** Storage failed: the download cannot go on. */
  fatal(err: unknown): void;
}

export interface AssemblerOptions<P> {
  geometry: PieceGeometry;
  pieceLength: number;
  picker: PiecePicker;
  verifier: PieceVerifier;
  store: PieceStore;
  hooks: AssemblerHooks<P>;
  /** Byte ranges of the piece stream that are BEP 47 padding (zeros). */
  padding?: readonly { offset: number; length: number }[];
  /** Complete pieces being checked or written above which `backpressure` holds reading. Default 16 MiB. */
  maxInflightBytes?: number;
  /** Piece buffers kept for reuse. Default 48 MiB. */
  maxFreeBytes?: number;
  /** Peers sending blocks of one piece at once in endgame. Default 3. */
  maxEndgameRequesters?: number;
}

/**
 * Complete pieces being hashed or written above which reading from peers pauses: enough to keep
 * the hasher and the disk busy, small enough for memory to stay flat whatever the torrent's size.
 */
const MAX_INFLIGHT_BYTES = 16 * 1024 * 1024;
/**
 * Piece buffers kept for reuse. Fresh memory costs a page fault per page, which at hundreds of
 * MB/s costs more than the protocol (most of all in a sandbox such as gVisor); a buffer kept
 * costs nothing more than it did while in use, so the cap only bounds memory after a burst.
 */
const MAX_FREE_BUFFERS_BYTES = 48 * 1024 * 1024;

export class PieceAssembler<P> {
  readonly picker: PiecePicker;
  readonly scheduler: BlockScheduler<P>;
  readonly geometry: PieceGeometry;
  /** Bytes received and thrown away: duplicates, and pieces that failed their check. */
  wasted = 0;
  private readonly opts: AssemblerOptions<P>;
  private readonly trust = new TrustLedger<P>();
  private readonly smartBan = new SmartBan<P>(BLOCK_LENGTH);
  /** Received blocks of pieces in progress, one buffer per piece. */
  private readonly buffers = new Map<number, Uint8Array>();
  private readonly freeBuffers: ArrayBuffer[] = [];
  /** Who sent each block of a piece in progress (for bad-data attribution). */
  private readonly blockFrom = new Map<number, P[]>();
  private readonly inflight = new Set<Promise<void>>();
  private inflightBytes = 0;
  private inflightWaiters: (() => void)[] = [];
  private readonly maxInflight: number;
  private stopped = false;

  constructor(options: AssemblerOptions<P>) {
    this.opts = options;
    this.picker = options.picker;
    this.geometry = options.geometry;
    this.maxInflight = options.maxInflightBytes ?? MAX_INFLIGHT_BYTES;
    this.scheduler = new BlockScheduler<P>({ picker: options.picker, geometry: options.geometry, maxEndgameRequesters: options.maxEndgameRequesters ?? 3 });
  }

  /** A piece found on disk at start (resume): had without a download. */
  markHave(index: number): void {
    if (!this.picker.hasPiece(index)) this.picker.markHave(index);
  }

  /** Whether `peer` may be asked for blocks of piece `index` (a piece under suspicion goes to one sender at a time). */
  mayRequest(index: number, peer: P): boolean {
    return this.smartBan.mayRequest(index, peer);
  }

  /** Requests for `peer` (see BlockScheduler.request), recorded for bad-data tracing. */
  request(peer: P, pieces: Parameters<BlockScheduler<P>['request']>[1], max: number, options: Parameters<BlockScheduler<P>['request']>[3]): BlockRequest[] {
    const out = this.scheduler.request(peer, pieces, max, options);
    for (const r of out) this.smartBan.requested(r.index, peer);
    return out;
  }

  /**
   * A block arrived from `peer`. `invalid`: not a block of ours (the caller drops the peer);
   * `accepted`: kept (its piece is checked once whole); anything else: wasted. The result's
   * `cancels` are requests for the same block at other peers (endgame) to cancel.
   */
  receive(peer: P, index: number, begin: number, block: Uint8Array): ReceiveResult<P> {
    const res = this.scheduler.received(peer, index, begin, block.length);
    if (res.status === 'invalid') return res;
    if (res.status !== 'accepted') {
      this.wasted += block.length;
      return res;
    }
    let buf = this.buffers.get(index);
    if (!buf) {
      buf = this.allocPiece(index);
      this.buffers.set(index, buf);
    }
    buf.set(block, begin);
    let from = this.blockFrom.get(index);
    if (!from) this.blockFrom.set(index, (from = []));
    from[begin / BLOCK_LENGTH] = peer;
    if (res.pieceComplete) this.verify(index);
    return res;
  }

  /**
   * A buffer for the whole of piece `index` (reused memory when there is some), for a source that
   * fetches whole pieces (a web seed) and hands them to `receivePiece`; or give it back with
   * `releaseBuffer` when it was not used.
   */
  pieceBuffer(index: number): Uint8Array {
    return this.allocPiece(index);
  }

  releaseBuffer(data: Uint8Array): void {
    this.recycle(data);
  }

  /**
   * Piece `index`, whole, from `sender` (a buffer from `pieceBuffer`). When none of its blocks has
   * arrived yet the buffer becomes the piece's (no copy); otherwise it goes block by block, and
   * what another sender delivered first is a duplicate. Returns the bytes accepted and the
   * requests for the same blocks at other senders to cancel (endgame).
   */
  receivePiece(sender: P, index: number, data: Uint8Array): { accepted: number; cancels: ReceiveResult<P>['cancels'] } {
    const out = { accepted: 0, cancels: [] as ReceiveResult<P>['cancels'] };
    const blocks = this.geometry.blockCount(index);
    if (this.buffers.has(index)) {
      for (let b = 0; b < blocks; b++) {
        const { begin, length } = this.geometry.block(index, b);
        const res = this.receive(sender, index, begin, data.subarray(begin, begin + length));
        if (res.status === 'accepted') out.accepted += length;
        out.cancels.push(...res.cancels);
      }
      this.recycle(data);
      return out;
    }
    let complete = false;
    const from: P[] = [];
    for (let b = 0; b < blocks; b++) {
      const { begin, length } = this.geometry.block(index, b);
      const res = this.scheduler.received(sender, index, begin, length);
      out.cancels.push(...res.cancels);
      if (res.status !== 'accepted') {
        // Not ours to take: the piece is being checked, was had, or failed and started over.
        this.wasted += length;
        continue;
      }
      out.accepted += length;
      from[b] = sender;
      complete ||= res.pieceComplete;
    }
    if (out.accepted === 0) {
      this.recycle(data);
      return out;
    }
    this.buffers.set(index, data);
    this.blockFrom.set(index, from);
    if (complete) this.verify(index);
    return out;
  }

  /** `peer` is gone: its outstanding requests go back to the picker. */
  peerGone(peer: P): void {
    this.scheduler.releasePeer(peer);
    this.smartBan.peerGone(peer);
  }

  /** Resolves when reading may go on (pieces being checked and written are below the cap); undefined when it may now. */
  backpressure(): Promise<void> | undefined {
    if (this.inflightBytes <= this.maxInflight) return undefined;
    return new Promise<void>((resolve) => this.inflightWaiters.push(resolve));
  }

  /** Stop: pieces being checked are finished (a good one is still written), failures no longer reported. Resolves when all writes are done. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.allSettled([...this.inflight]);
    for (const w of this.inflightWaiters.splice(0)) w();
  }

  private allocPiece(index: number): Uint8Array {
    const size = this.geometry.pieceSize(index);
    const ab = this.freeBuffers.pop() ?? new ArrayBuffer(this.opts.pieceLength);
    return new Uint8Array(ab, 0, size);
  }

  private recycle(data: Uint8Array): void {
    const ab = data.buffer;
    if (!(ab instanceof ArrayBuffer) || ab.byteLength !== this.opts.pieceLength) return;
    if ((this.freeBuffers.length + 1) * this.opts.pieceLength > (this.opts.maxFreeBytes ?? MAX_FREE_BUFFERS_BYTES)) return;
    this.freeBuffers.push(ab);
  }

  /** Zero the BEP 47 padding that falls in piece `index` (padding is zeros, whatever was sent). */
  private zeroPadding(index: number, data: Uint8Array): void {
    const pads = this.opts.padding;
    if (!pads || pads.length === 0) return;
    const start = index * this.opts.pieceLength;
    const end = start + data.length;
    for (const pad of pads) {
      const a = Math.max(start, pad.offset);
      const b = Math.min(end, pad.offset + pad.length);
      if (a < b) data.fill(0, a - start, b - start);
    }
  }

  private verify(index: number): void {
    const data = this.buffers.get(index)!;
    this.buffers.delete(index);
    const from = this.blockFrom.get(index) ?? [];
    this.blockFrom.delete(index);
    this.zeroPadding(index, data);
    const size = data.length;
    this.inflightBytes += size;
    const work = (async () => {
      const { ok, data: back } = await this.opts.verifier.check(index, data);
      if (this.stopped && !ok) return;
      if (ok) {
        await this.opts.store.writePiece(index, back);
        this.onVerified(index, back);
      } else {
        this.onFailed(index, back, from);
      }
      this.recycle(back);
    })();
    this.inflight.add(work);
    work
      .catch((err) => this.opts.hooks.fatal(err))
      .finally(() => {
        this.inflight.delete(work);
        this.inflightBytes -= size;
        if (this.inflightBytes <= this.maxInflight / 2) for (const w of this.inflightWaiters.splice(0)) w();
      });
  }

  private onVerified(index: number, data: Uint8Array): void {
    const contributors = this.scheduler.pieceVerified(index);
    this.trust.verified(contributors);
    // The piece is right now: whoever sent a block that differs from it earlier lied.
    const liars = this.smartBan.verified(index, data);
    this.opts.hooks.verified(index, contributors);
    for (const liar of liars) this.opts.hooks.liar(liar, index);
  }

  private onFailed(index: number, data: Uint8Array, from: P[]): void {
    const contributors = this.scheduler.pieceFailed(index);
    this.wasted += data.length;
    // Each block's hash and sender are kept: when the piece passes, they tell who lied.
    this.smartBan.failed(index, data, from, contributors.size);
    this.opts.hooks.failed(index, [...contributors.keys()]);
    for (const p of this.trust.failed(contributors)) this.opts.hooks.liar(p, index);
  }
}
