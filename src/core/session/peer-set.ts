/**
 * The connected peers (BEP 3): each handshaken connection's record from its first message to its
 * drop. One owner for the set: a peer joins here, its messages are read here (and handed to the
 * coordinator's message handler), and it leaves here, once, whatever ended it (the peer closed,
 * a protocol error, a ban, a stop), so every part forgets it exactly once (`forget`).
 *
 * Also the per-peer timers that need no other state: silence (dropped), keep-alives, and request
 * timeouts (a peer that lets requests expire three times is dropped as too slow).
 */
import { BtError, type ErrorCode, isBtError } from '../errors.js';
import type { Message } from '../wire/messages.js';
import type { PeerWire } from '../wire/peer-wire.js';
import { type Peer, createPeer } from './peer.js';
import { type Candidate, keyOf } from './peer-book.js';
import type { Torrent } from './torrent.js';
import type { PeerSourceName, SessionEvent } from './types.js';
import { isWebSeedSender } from './webseed-source.js';

/** How long a clean stop waits for each peer to read our last messages and close (see `closeGracefully`). */
const GOODBYE_MS = 500;
/** ut_metadata errors that prove the peer lied about the metadata (extension/ut-metadata.ts). */
const METADATA_LIES = new Set<ErrorCode>(['EXT_METADATA_PIECE_OUT_OF_RANGE', 'EXT_METADATA_SIZE_MISMATCH', 'EXT_METADATA_BAD_PIECE_LENGTH']);

export interface PeerSetHooks {
  now(): number;
  emit(ev: SessionEvent): void;
  torrent(): Torrent<Peer> | null;
  /** The session is stopping: a drop then refills nothing. */
  stopping(): boolean;
  /** A new peer, before its first message is read: bind and greet it. */
  joined(p: Peer, tag: unknown): void;
  onMessage(p: Peer, m: Message): void;
  /** The peer said which port it listens on (BEP 10 `p`). */
  listensAt(p: Peer, port: number): void;
  requestMore(p: Peer): void;
  /** Backpressure before the next socket read (the download limit, the disk). */
  beforeRead(): Promise<void> | void;
  /** `p` is gone: every part forgets it. */
  forget(p: Peer): void;
  /** After a drop while running: more connections, its blocks and its upload slot to others. */
  refill(p: Peer): void;
  /** `p` lied: it is never connected again. */
  banned(p: Peer): void;
}

export interface PeerTimeouts {
  requestMs: number;
  idleMs: number;
  keepAliveMs: number;
}

export class PeerSet implements Iterable<Peer> {
  private readonly peers = new Set<Peer>();
  private nextId = 1;

  constructor(private readonly hooks: PeerSetHooks) {}

  get size(): number {
    return this.peers.size;
  }

  [Symbol.iterator](): Iterator<Peer> {
    return this.peers[Symbol.iterator]();
  }

  /** Connected peers that have every piece (once their piece set is known). */
  seeds(): number {
    let n = 0;
    for (const p of this.peers) if (!p.early && (p.pieces === 'all' || p.pieces.hasAll())) n++;
    return n;
  }

  byPeerId(idHex: string): Peer | undefined {
    for (const p of this.peers) if (p.peerIdHex === idHex) return p;
    return undefined;
  }

  /** A handshaken connection (connections.ts): run it until it ends. `tag` goes to `joined`. */
  async run(wire: PeerWire, candidate: Candidate | undefined, source: PeerSourceName, tag: unknown, v2: boolean): Promise<void> {
    if (this.hooks.stopping()) {
      wire.close();
      return;
    }
    const remote = { host: wire.conn.remote.host, port: wire.conn.remote.port };
    const peer = createPeer({ id: this.nextId++, key: candidate?.key ?? keyOf(remote), candidate, wire, source, pieceCount: this.hooks.torrent()?.meta.pieceCount ?? null, now: this.hooks.now() });
    peer.v2 = v2;
    this.peers.add(peer);
    this.hooks.emit({ type: 'peer-connected', peer: peer.key, peerId: peer.peerIdHex, source, direction: peer.direction, transport: wire.conn.remote.transport, client: peer.client });
    this.hooks.joined(peer, tag);
    try {
      await wire.run({
        onMessage: (m) => this.hooks.onMessage(peer, m),
        onExtendedHandshake: (h) => {
          if (h.reqq) peer.reqq = Math.min(h.reqq, 4096);
          if (h.v) peer.client = h.v.slice(0, 64);
          if (h.p) {
            peer.listenPort = h.p;
            this.hooks.listensAt(peer, h.p);
          }
        },
        onChunkEnd: () => this.hooks.requestMore(peer),
        beforeRead: () => this.hooks.beforeRead(),
      });
      void this.drop(peer, null, 'the peer closed the connection');
    } catch (err) {
      const e = isBtError(err) ? err : new BtError('PEER_FAILED', 'network', String(err));
      // A metadata message that contradicts what the peer itself announced is a lie (BEP 9): a
      // reconnection would only repeat it.
      if (METADATA_LIES.has(e.code) && !peer.dropped) this.ban(peer, e.message);
      else void this.drop(peer, e);
    }
  }

  /** Drop `p` (once); `graceful` lets it read what we queued last. Resolves when the connection is closed. */
  drop(p: Peer, error: BtError | null, reason?: string, options: { graceful?: boolean } = {}): Promise<void> {
    if (p.dropped) return Promise.resolve();
    p.dropped = true;
    const closed = options.graceful ? p.wire.closeGracefully(GOODBYE_MS) : Promise.resolve(p.wire.close(error ?? undefined));
    this.peers.delete(p);
    this.hooks.forget(p);
    this.hooks.emit({
      type: 'peer-dropped',
      peer: p.key,
      peerId: p.peerIdHex,
      reason: error?.message ?? reason ?? 'closed',
      code: error?.code ?? null,
      downloaded: p.wire.downloadedPayload,
      uploaded: p.wire.uploadedPayload,
    });
    if (!this.hooks.stopping()) this.hooks.refill(p);
    return closed;
  }

  ban(p: Peer, reason: string): void {
    this.hooks.banned(p);
    this.hooks.emit({ type: 'peer-banned', peer: p.key, reason });
    void this.drop(p, new BtError('PEER_BANNED', 'network', reason));
  }

  /** Let every peer go gracefully (a stop): what we queued last reaches them first. */
  dropAll(reason: string): Promise<void>[] {
    return [...this.peers].map((p) => this.drop(p, null, reason, { graceful: true }));
  }

  /**
   * Once a tick: requests that got no answer go to others and their peer is snubbed (one strike
   * per request timeout, cleared by a block; three and it is dropped: issue 15), silent peers are
   * dropped, keep-alives sent.
   */
  tick(now: number, timeouts: PeerTimeouts): void {
    const t = this.hooks.torrent();
    if (t) {
      for (const { peer, request } of t.assembler.scheduler.expire(now, timeouts.requestMs)) {
        if (isWebSeedSender(peer)) continue; // its HTTP client has its own deadlines; the blocks are free again
        peer.wire.send({ type: 'cancel', index: request.index, begin: request.begin, length: request.length });
        peer.snubbed = true;
        if (now - peer.lastStrikeAt < timeouts.requestMs) continue;
        peer.lastStrikeAt = now;
        if (++peer.expiries >= 3) void this.drop(peer, new BtError('PEER_TOO_SLOW', 'network', 'requests timed out repeatedly'));
      }
    }
    for (const p of [...this.peers]) {
      const st = p.wire.state!;
      if (st.isSilent(now, timeouts.idleMs)) void this.drop(p, new BtError('PEER_SILENT', 'network', 'the peer sent nothing for too long'));
      else if (st.keepAliveDue(now, timeouts.keepAliveMs)) p.wire.send({ type: 'keep-alive' });
    }
  }
}
