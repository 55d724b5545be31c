/**
 * What a connected peer's messages do once its handshake is done (BEP 3, BEP 5 `port`, BEP 6):
 * its piece set (bitfield, have, have all/none) into the picker, choke/unchoke and reject into
 * the request scheduler, its requests to the uploader, its blocks forward into the assembler.
 * Before a magnet's metadata is known, piece messages are only remembered (peer.ts `early`).
 *
 * The walk of a block: socket → wire decoder → connection state (wire/state.ts) → here →
 * assembler → verifier → storage. Decisions that need the whole session (dropping a peer, an
 * upload slot, the traffic totals) are asked of the `MessageContext`.
 */
import { BtError } from '../errors.js';
import { Bitfield } from '../pieces/bitfield.js';
import type { PeerPieces } from '../pieces/picker.js';
import type { Message } from '../wire/messages.js';
import { MAX_UNREQUESTED_BLOCKS, type Peer, adoptEarly, recordEarly } from './peer.js';
import type { Torrent } from './torrent.js';
import type { Traffic } from './traffic.js';
import type { SessionEvent } from './types.js';
import { isWebSeedSender } from './webseed-source.js';

export interface MessageContext {
  /** The torrent's parts, once the metadata is known. */
  torrent(): Torrent<Peer> | null;
  traffic: Traffic;
  now(): number;
  emit(ev: SessionEvent): void;
  drop(p: Peer, err: BtError): void;
  requestMore(p: Peer): void;
  updateInterest(p: Peer): void;
  /** `p` is interested in our pieces: an upload slot if one is free. */
  interested(p: Peer): void;
  /** BEP 5: a peer's DHT node listens on `port` at `host`. */
  dhtNodeSeen(host: string, port: number): void;
  /** BEP 52: a hash request, hashes or hash reject (v2-hashes.ts), before or after the metadata. */
  hashMessage(p: Peer, m: Extract<Message, { type: 'hash-request' | 'hashes' | 'hash-reject' }>): void;
}

export class PeerMessages {
  constructor(private readonly ctx: MessageContext) {}

  onMessage(p: Peer, m: Message): void {
    if (m.type === 'port') {
      if (m.port > 0) this.ctx.dhtNodeSeen(p.wire.conn.remote.host, m.port);
      return;
    }
    if (m.type === 'hash-request' || m.type === 'hashes' || m.type === 'hash-reject') {
      this.ctx.hashMessage(p, m);
      return;
    }
    if (p.early) {
      recordEarly(p, m);
      return;
    }
    const t = this.ctx.torrent()!;
    switch (m.type) {
      case 'bitfield':
        // A bitfield may replace an earlier piece set (wire/state.ts: after have none).
        this.setPeerPieces(t, p, Bitfield.fromWire(m.bits, t.meta.pieceCount));
        this.ctx.updateInterest(p);
        return;
      case 'have-all':
        this.setPeerPieces(t, p, 'all');
        this.ctx.updateInterest(p);
        return;
      case 'have-none':
        p.sawIncomplete = true;
        return;
      case 'have':
        if (p.pieces !== 'all' && !p.pieces.hasAll()) p.sawIncomplete = true;
        if (p.pieces !== 'all' && p.pieces.set(m.index)) {
          t.picker.addHave(m.index);
          // Count a peer that completed as a seed from now on.
          if (p.pieces.hasAll()) this.setPeerPieces(t, p, 'all');
          if (!p.wire.state!.amInterested && t.picker.isWanted(m.index)) p.wire.send({ type: 'interested' });
        }
        return;
      case 'choke':
        p.chokedUs = true;
        if (!p.wire.state!.features.fast) t.assembler.scheduler.releasePeer(p);
        return;
      case 'unchoke':
        // Only an unchoke after a choke forgives its rejects: a peer that rejects each request and
        // unchokes again at once otherwise had us re-request the same blocks in a loop (issue 15).
        if (p.chokedUs) p.rejected.clear();
        p.chokedUs = false;
        this.ctx.requestMore(p);
        return;
      case 'interested':
        // Interest in our pieces: it lacks some (a seed that has all has no reason to ask).
        if (t.picker.completed > 0 && p.pieces !== 'all' && !p.pieces.hasAll()) p.sawIncomplete = true;
        this.ctx.interested(p);
        return;
      case 'request':
        t.uploader.request(p, m);
        return;
      case 'cancel':
        t.uploader.cancel(p, m);
        return;
      case 'reject':
        if (t.assembler.scheduler.release(p, m)) {
          p.rejected.add(m.index);
          this.ctx.requestMore(p);
        }
        return;
      case 'piece':
        this.onPiece(t, p, m.index, m.begin, m.block);
        return;
      default:
        return;
    }
  }

  /**
   * The metadata arrived (BEP 9) while `p` was connected: what it said before becomes its piece
   * set, and it hears what we have. Throws when what it said does not fit the piece count.
   */
  metadataArrived(t: Torrent<Peer>, p: Peer): void {
    p.wire.setPieceCount(t.meta.pieceCount);
    this.setPeerPieces(t, p, adoptEarly(p, t.meta.pieceCount));
    // BEP 9: it may now ask us for the metadata (our handshake carries metadata_size from now on).
    p.wire.resendExtendedHandshake();
    // We said have none (or nothing) when we knew no pieces: what the disk held is told now.
    if (t.picker.completed > 0) for (const i of t.picker.haveBitfield().setIndices()) p.wire.send({ type: 'have', index: i });
    this.ctx.updateInterest(p);
  }

  /** A peer's piece set changes (bitfield, have all, its haves completed it, or the metadata arrived). */
  setPeerPieces(t: Torrent<Peer>, p: Peer, pieces: PeerPieces): void {
    t.picker.removePeer(p.pieces);
    p.pieces = pieces;
    t.picker.addPeer(pieces);
    const all = pieces === 'all' || pieces.hasAll();
    if (!all) p.sawIncomplete = true;
    else if (!p.completeSeen) {
      p.completeSeen = true;
      this.ctx.emit({ type: 'peer-complete', peer: p.key, peerId: p.peerIdHex, finished: p.sawIncomplete });
    }
  }

  private onPiece(t: Torrent<Peer>, p: Peer, index: number, begin: number, block: Uint8Array): void {
    const res = t.assembler.receive(p, index, begin, block);
    if (res.status === 'invalid') {
      this.ctx.drop(p, new BtError('PEER_BAD_BLOCK', 'network', `a block that is not one of ours (piece ${index}, offset ${begin}, ${block.length} bytes)`));
      return;
    }
    // Unasked: a block of a piece nobody is fetching, or one we had already (issue 15: a peer
    // resending a piece we have wasted 256 MiB uncounted).
    if ((res.status === 'unrequested' || res.status === 'duplicate') && ++p.unrequested > MAX_UNREQUESTED_BLOCKS) {
      this.ctx.drop(p, new BtError('PEER_UNREQUESTED_DATA', 'network', `${p.unrequested} blocks nobody asked it for`));
      return;
    }
    if (res.status !== 'accepted') return;
    this.ctx.traffic.received(p, block.length);
    if (p.snubbed) {
      p.snubbed = false;
      p.expiries = 0;
    }
    for (const c of res.cancels) if (!isWebSeedSender(c.peer)) c.peer.wire.send({ type: 'cancel', index: c.request.index, begin: c.request.begin, length: c.request.length });
  }
}
