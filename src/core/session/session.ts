/**
 * The session: the one place that joins peers, pieces and storage for one torrent (BEP 3, with
 * BEP 6 and BEP 10 on every connection). It downloads the selected pieces and, since a
 * downloader is also part of the swarm, uploads to others under the BEP 3 choking algorithm; a
 * session that starts complete is simply a seeder (the `seed` command reuses it as it is).
 *
 *   const session = new Session({ metainfo, store, peerId, resumePath, listen: { host, port } });
 *   session.addSource(new TrackerSource({ client, tiers, infoHash, peerId }));
 *   session.addPeers('manual', [{ host: '127.0.0.1', port: 6881 }]);
 *   for await (const ev of session.run(signal)) { … }   // started, peer-…, piece-…, progress, complete, done
 *
 * `run` ends after its `done` event: the selection is complete (and seeding, if asked, reached its
 * ratio or time), or `signal` fired (within about a second: connections closed, writes finished,
 * the resume state saved). It throws a BtError when the download cannot go on: NO_PEERS /
 * DOWNLOAD_STALLED (category no-peers) when no data arrived for `stallTimeoutMs`, an io error
 * from the disk.
 *
 * Every peer source (trackers, --peer, later DHT and PEX) gives addresses through one path,
 * `addPeers(source, peers)`; connections are made up to `maxPeers`, failed ones retried with a
 * growing delay. Peers that deliver bad data are found block by block: when a piece fails, each
 * block's hash and sender are kept; when the piece later passes, the senders of the blocks that
 * differ are banned (a sole sender of a bad piece at once, others by the trust ledger).
 */
import { networkInterfaces } from 'node:os';
import { BtError, abortError, isBtError } from '../errors.js';
import type { HashPool } from '../hash/pool.js';
import type { Metainfo } from '../metainfo/types.js';
import { PeerWire } from '../peer/wire.js';
import { Bitfield } from '../pieces/bitfield.js';
import { BLOCK_LENGTH, BlockScheduler, DEFAULT_REQQ, PieceGeometry, TrustLedger, pipelineDepth } from '../pieces/blocks.js';
import { type PeerPieces, PiecePicker } from '../pieces/picker.js';
import { loadResume, restore, saveResume, type TorrentIdentity } from '../storage/resume.js';
import type { PieceStore } from '../storage/store.js';
import { TcpTransport } from '../transport/tcp.js';
import type { Connection, Endpoint, Listener, Transport } from '../transport/types.js';
import { normalizeAddress, parseIPv4, parseIPv6 } from '../tracker/peers.js';
import type { Message } from '../wire/messages.js';
import { type ChokeCandidate, Choker } from './choker.js';
import { PieceHasher } from './hasher.js';
import { SmartBan } from './smart-ban.js';
import { OUR_REQQ, Uploader } from './uploader.js';
import { type Candidate, keyOf, PeerBook } from './peer-book.js';
import { AsyncQueue } from './queue.js';
import { RateMeter, TokenBucket } from './rate.js';
import type { DoneReason, PeerSource, PeerSourceContext, PeerSourceName, SessionEvent, SessionStats } from './types.js';

export interface SessionOptions {
  metainfo: Pick<Metainfo, 'infoHash' | 'name' | 'pieceLength' | 'pieces' | 'pieceCount' | 'totalLength' | 'files'>;
  store: PieceStore;
  peerId: Uint8Array;
  /** The resume state file; none when absent. */
  resumePath?: string;
  /** Hash everything on disk instead of trusting the state file. */
  recheck?: boolean;
  /** Per file (torrent order): download it. Default every file. */
  selection?: readonly boolean[];
  /** Fetch pieces in order (streaming). */
  sequential?: boolean;
  /** Accept incoming connections here; none when absent. */
  listen?: { host: string; port: number; fallbackToAnyPort?: boolean };
  /** Transports; the first one dials. Default TCP. */
  transports?: readonly Transport[];
  maxPeers?: number;
  /** Connections being dialed at once. Default 16. */
  maxHalfOpen?: number;
  /** Bytes per second, 0 = unlimited. */
  downloadLimit?: number;
  uploadLimit?: number;
  /** Keep seeding after completion until the ratio (uploaded / selected bytes) or the time is reached; with neither, until aborted. */
  seed?: { ratio?: number; timeMs?: number } | false;
  /** Give up (NO_PEERS / DOWNLOAD_STALLED) when no piece data arrived for this long while incomplete. Default 60 s; 0 never. */
  stallTimeoutMs?: number;
  uploadSlots?: number;
  /** Who is unchoked once we are a seed (seed-choker.ts); default the download choker ranking by upload rate. */
  seedChoker?: { round(candidates: readonly ChokeCandidate<unknown>[]): Set<unknown> };
  /** Hashes large pieces off the main thread; the caller owns (and closes) it. */
  hashPool?: HashPool | null;
  /** BEP 10 `v`. */
  clientName?: string;
  connectTimeoutMs?: number;
  handshakeTimeoutMs?: number;
  /** Re-ask another peer for a block after this long. Default 30 s. */
  requestTimeoutMs?: number;
  /** Drop a peer silent for this long (BEP 3: about two minutes). */
  idleTimeoutMs?: number;
  keepAliveMs?: number;
  /** Session timer period. Default 1 s. */
  tickMs?: number;
  /** How often the resume state is saved while pieces arrive. Default 5 s. */
  saveEveryMs?: number;
  now?: () => number;
  rng?: () => number;
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
/**
 * Most requests outstanding at one peer, whatever its `reqq`: 8 MiB in flight covers 300 MB/s at
 * 25 ms of round trip, and every outstanding block holds a piece buffer open.
 */
const MAX_PIPELINE = 500;
const CHOKE_ROUND_MS = 10_000;
/** How long a clean stop waits for each peer to read our last messages and close (see `closeGracefully`). */
const GOODBYE_MS = 500;

interface Peer {
  id: number;
  key: string;
  candidate: Candidate | undefined;
  wire: PeerWire;
  source: PeerSourceName;
  direction: 'outgoing' | 'incoming';
  peerIdHex: string;
  client: string | null;
  pieces: PeerPieces;
  reqq: number;
  down: RateMeter;
  up: RateMeter;
  /** Pieces this peer rejected (BEP 6) since its last unchoke: not asked again meanwhile. */
  rejected: Set<number>;
  snubbed: boolean;
  expiries: number;
  connectedAt: number;
  lastDataAt: number;
  dropped: boolean;
}

/** Addresses of this machine, to recognise ourselves in a tracker's peer list. */
function localAddresses(): Set<string> {
  const out = new Set(['127.0.0.1', '::1', '0.0.0.0', '::']);
  try {
    for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) out.add(normalizeAddress(a.address));
  } catch {
    // no interfaces visible (sandbox): loopback is enough
  }
  return out;
}

/** A client name from the BEP 20 Azureus-style peer id (`-lt2080-` → "lt 2080"), when it has one. */
function clientFromPeerId(id: Uint8Array): string | null {
  const s = Buffer.from(id.subarray(0, 8)).toString('latin1');
  return /^-[A-Za-z~]{2}[0-9A-Za-z]{4}-$/.test(s) ? s.slice(1, 7) : null;
}

export class Session {
  private readonly meta: SessionOptions['metainfo'];
  private readonly store: PieceStore;
  private readonly opts: SessionOptions;
  private readonly now: () => number;
  private readonly rng: () => number;
  readonly geometry: PieceGeometry;
  private readonly picker: PiecePicker;
  private readonly scheduler: BlockScheduler<Peer>;
  private readonly trust = new TrustLedger<Peer>();
  private readonly hasher: PieceHasher;
  private readonly choker: Choker<Peer>;
  private readonly transports: readonly Transport[];
  private readonly infoHash: Buffer;
  private readonly queue = new AsyncQueue<SessionEvent>();
  private readonly sources: PeerSource[] = [];
  private readonly book = new PeerBook();
  private readonly peers = new Set<Peer>();
  private readonly bannedIds = new Set<string>();
  private readonly listeners: Listener[] = [];
  private readonly local = localAddresses();
  private readonly abort = new AbortController();
  /** Received blocks of pieces in progress, one buffer per piece. */
  private readonly buffers = new Map<number, Uint8Array>();
  private readonly freeBuffers: ArrayBuffer[] = [];
  /** Who sent each block of a piece in progress (for bad-data attribution). */
  private readonly blockFrom = new Map<number, Peer[]>();
  private readonly smartBan = new SmartBan<Peer>(BLOCK_LENGTH);
  private readonly inflight = new Set<Promise<void>>();
  private inflightBytes = 0;
  private inflightWaiters: (() => void)[] = [];
  private readonly pieceWaiters = new Map<number, (() => void)[]>();
  private readonly downRate: RateMeter;
  private readonly upRate: RateMeter;
  private readonly downBucket: TokenBucket;
  private readonly uploader: Uploader<Peer>;
  private readonly wantedBytes: number;
  private haveWantedBytes = 0;
  private downloaded = 0;
  private uploaded = 0;
  private wasted = 0;
  private startedAt = 0;
  private lastDataAt = 0;
  private completedAt: number | null = null;
  private startedComplete = false;
  private tickTimer: ReturnType<typeof setInterval> | undefined;
  private lastChokeRound = -Infinity;
  private lastSave = 0;
  private lastProgress = -Infinity;
  private dirty = false;
  private saving: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private fatal: BtError | undefined;
  private doneReason: DoneReason = 'complete';
  private nextPeerId = 1;
  private listenPort = 0;
  private halfOpen = 0;
  private running = false;
  /** The pieces on disk are known (so the state may be saved). */
  private restored = false;

  constructor(options: SessionOptions) {
    this.opts = options;
    this.meta = options.metainfo;
    this.store = options.store;
    if (!this.meta.infoHash.v1) throw new BtError('SESSION_NO_V1', 'input', 'btkit downloads v1 and hybrid torrents; this one has no v1 infohash');
    this.infoHash = this.meta.infoHash.v1;
    this.now = options.now ?? (() => performance.now());
    this.rng = options.rng ?? Math.random;
    this.geometry = new PieceGeometry(this.meta.totalLength, this.meta.pieceLength);
    const priorities = piecePriorities(this.meta, options.selection);
    this.picker = new PiecePicker({ pieceCount: this.meta.pieceCount, rng: this.rng, sequential: options.sequential ?? false, priorities });
    this.scheduler = new BlockScheduler<Peer>({ picker: this.picker, geometry: this.geometry, maxEndgameRequesters: 3 });
    this.hasher = new PieceHasher(this.meta.pieces, this.meta.pieceLength, options.hashPool ?? null);
    this.choker = new Choker<Peer>({ slots: options.uploadSlots ?? 4, rng: this.rng });
    this.transports = options.transports ?? [new TcpTransport()];
    const t0 = this.now();
    this.downRate = new RateMeter(t0);
    this.upRate = new RateMeter(t0);
    this.downBucket = new TokenBucket(options.downloadLimit ?? 0, this.now);
    this.uploader = new Uploader<Peer>({
      store: this.store,
      bucket: new TokenBucket(options.uploadLimit ?? 0, this.now),
      hasPiece: (i) => this.picker.hasPiece(i),
      pieceSize: (i) => this.geometry.pieceSize(i),
      onSent: (peer, bytes) => {
        const now = this.now();
        peer.up.add(bytes, now);
        this.upRate.add(bytes, now);
        this.uploaded += bytes;
      },
      onReadError: (err) => this.emit({ type: 'warning', message: `cannot read a block to upload: ${err.message}`, code: err.code }),
      signal: this.abort.signal,
    });
    let wanted = 0;
    for (let i = 0; i < this.meta.pieceCount; i++) if (priorities[i]! > 0) wanted += this.geometry.pieceSize(i);
    this.wantedBytes = wanted;
  }

  // --- public API ------------------------------------------------------------------------

  /** A peer source to start with the session (trackers, later DHT and PEX). */
  addSource(source: PeerSource): void {
    this.sources.push(source);
    if (this.running) source.start(this.sourceContext(source));
  }

  /** Peer addresses from `source`; ourselves and known addresses are skipped. Manual peers are retried forever. */
  addPeers(source: PeerSourceName, peers: readonly Endpoint[]): void {
    for (const e of peers) {
      if (!Number.isInteger(e.port) || e.port <= 0 || e.port > 0xffff) continue;
      const host = normalizeAddress(e.host);
      if (this.listenPort !== 0 && e.port === this.listenPort && this.local.has(host)) continue;
      this.book.add({ host, port: e.port }, source, this.now());
    }
    if (this.running) this.connectMore();
  }

  /** Whether we have piece `index` (verified and written). */
  hasPiece(index: number): boolean {
    return this.picker.hasPiece(index);
  }

  /** Resolves once piece `index` is verified and written; rejects when the session stops first or `signal` fires. */
  waitForPiece(index: number, signal?: AbortSignal): Promise<void> {
    if (this.picker.hasPiece(index)) return Promise.resolve();
    if (this.stopping) return Promise.reject(this.fatal ?? abortError(signal));
    return new Promise<void>((resolve, reject) => {
      const list = this.pieceWaiters.get(index) ?? [];
      const onAbort = () => reject(abortError(signal));
      list.push(() => {
        signal?.removeEventListener('abort', onAbort);
        if (this.picker.hasPiece(index)) resolve();
        else reject(this.fatal ?? abortError(signal));
      });
      this.pieceWaiters.set(index, list);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Our listening endpoint, once `run` has started listening. */
  get listening(): Endpoint | null {
    const l = this.listeners[0];
    return l ? l.local : null;
  }

  stats(): SessionStats {
    const now = this.now();
    let seeds = 0;
    for (const p of this.peers) if (p.pieces === 'all' || (p.pieces as Bitfield).hasAll?.()) seeds++;
    const downRate = this.downRate.rate(now);
    const left = this.wantedBytes - this.haveWantedBytes;
    return {
      pieces: this.meta.pieceCount,
      havePieces: this.picker.completed,
      totalBytes: this.wantedBytes,
      doneBytes: this.haveWantedBytes,
      downloaded: this.downloaded,
      uploaded: this.uploaded,
      wasted: this.wasted,
      downRate,
      upRate: this.upRate.rate(now),
      peers: this.peers.size,
      seeds,
      known: this.book.size,
      elapsedMs: now - this.startedAt,
      etaMs: left === 0 ? 0 : downRate > 0 ? Math.round((left / downRate) * 1000) : null,
    };
  }

  /**
   * Run until done (see the top comment). Yields events as they happen; the last one is `done`.
   */
  async *run(signal?: AbortSignal): AsyncGenerator<SessionEvent, SessionStats, undefined> {
    if (this.running) throw new BtError('SESSION_RUNNING', 'internal', 'a session runs once');
    this.running = true;
    const onAbort = () => {
      this.doneReason = 'aborted';
      void this.stop();
    };
    if (signal?.aborted) throw abortError(signal);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      void this.start(signal).catch((err) => this.fail(err));
      for await (const ev of this.queue.drain()) yield ev;
      if (this.fatal) throw this.fatal;
      if (this.doneReason === 'aborted') throw abortError(signal);
      return this.stats();
    } finally {
      signal?.removeEventListener('abort', onAbort);
      if (!this.stopping) await this.stop();
    }
  }

  // --- start and stop ----------------------------------------------------------------------

  private emit(ev: SessionEvent): void {
    this.queue.push(ev);
  }

  private async start(signal?: AbortSignal): Promise<void> {
    this.startedAt = this.now();
    this.lastDataAt = this.startedAt;
    const id: TorrentIdentity = {
      infoHash: this.infoHash.toString('hex'),
      pieceLength: this.meta.pieceLength,
      totalLength: this.meta.totalLength,
      pieceCount: this.meta.pieceCount,
    };
    // Always look at the disk: a seeder (or a re-run without a state file) has its data there.
    let note: string | null = null;
    const loaded = this.opts.resumePath ? await loadResume(this.opts.resumePath, id) : null;
    if (loaded && 'reason' in loaded) note = `${loaded.reason}; checking the data on disk`;
    const restored = await restore({
      store: this.store,
      id,
      state: loaded && 'state' in loaded ? loaded.state : null,
      recheck: this.opts.recheck ?? false,
      check: async (index, data) => (await this.hasher.check(index, data)).ok,
      ...(signal ? { signal } : {}),
    });
    for (const i of restored.have.setIndices()) this.markHave(i);
    if (this.stopping) return;
    this.restored = true;
    this.startedComplete = this.picker.wantedMissing === 0;
    if (this.opts.selection) await this.store.prepare(this.opts.selection);
    else await this.store.prepare(this.meta.files.map(() => true));
    if (this.opts.listen) await this.startListening(this.opts.listen);
    if (this.stopping) return;
    this.emit({
      type: 'started',
      infoHash: id.infoHash,
      name: this.meta.name,
      pieces: this.meta.pieceCount,
      pieceLength: this.meta.pieceLength,
      totalBytes: this.wantedBytes,
      doneBytes: this.haveWantedBytes,
      resume: { mode: restored.mode, checked: restored.checked, recovered: restored.recovered, note },
      listen: this.listening,
    });
    if (restored.mode !== 'fast') this.dirty = true;
    this.lastSave = this.now();
    if (this.startedComplete) {
      this.completedAt = this.now();
      this.emit({ type: 'complete', ...this.stats() });
      if (!this.opts.seed) {
        void this.stop();
        return;
      }
    }
    for (const s of this.sources) s.start(this.sourceContext(s));
    this.lastDataAt = this.now();
    this.tickTimer = setInterval(() => this.tick(), this.opts.tickMs ?? 1000);
    this.connectMore();
  }

  private async startListening(listen: NonNullable<SessionOptions['listen']>): Promise<void> {
    for (const t of this.transports) {
      let l: Listener;
      try {
        l = await t.listen({ host: listen.host, port: listen.port, signal: this.abort.signal });
      } catch (err) {
        if (!(listen.fallbackToAnyPort && isBtError(err) && err.code === 'NET_EADDRINUSE')) throw err;
        this.emit({ type: 'warning', message: `port ${listen.port} is in use; listening on another`, code: 'NET_EADDRINUSE' });
        l = await t.listen({ host: listen.host, port: 0, signal: this.abort.signal });
      }
      if (this.stopping) {
        await l.close();
        return;
      }
      this.listeners.push(l);
      if (this.listenPort === 0) this.listenPort = l.local.port;
      void this.acceptLoop(l);
    }
  }

  private sourceContext(source: PeerSource): PeerSourceContext {
    return {
      addPeers: (peers) => this.addPeers(source.name, peers),
      totals: () => ({ uploaded: this.uploaded, downloaded: this.downloaded, left: this.wantedBytes - this.haveWantedBytes }),
      port: this.listenPort,
      connectedPeers: () => this.peers.size,
      emit: (ev) => this.emit(ev),
      signal: this.abort.signal,
    };
  }

  private fail(err: unknown): void {
    if (!this.fatal) {
      this.fatal = isBtError(err) ? err : new BtError('INTERNAL', 'internal', `session failed: ${(err as Error)?.message ?? String(err)}`, { cause: err });
      if (this.fatal.category === 'interrupted') {
        this.fatal = undefined;
        this.doneReason = 'aborted';
      }
    }
    void this.stop();
  }

  /** Stop everything; resolves when connections are closed, writes finished and the state saved. */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    // Let a `start` that is still checking the disk see the stop.
    await Promise.resolve();
    if (this.tickTimer) clearInterval(this.tickTimer);
    this.abort.abort(new BtError('SESSION_STOPPED', 'interrupted', 'session stopped'));
    const sourcesStopped = Promise.allSettled(this.sources.map((s) => s.stop(800)));
    await Promise.allSettled(this.listeners.map((l) => l.close()));
    // Peers are let go gracefully: what we queued last (the `have` of our last piece, which tells
    // a seed we completed) reaches them before the connection goes.
    const goodbyes = [...this.peers].map((p) => this.dropPeer(p, null, 'session stopped', { graceful: true }));
    await Promise.allSettled([...this.inflight, ...goodbyes]);
    for (const [, list] of this.pieceWaiters) for (const w of list) w();
    this.pieceWaiters.clear();
    if (this.restored) {
      try {
        await this.saving;
        await this.saveState(true);
      } catch (err) {
        this.fatal ??= isBtError(err) ? err : new BtError('RESUME_SAVE_FAILED', 'io', `cannot save the resume state: ${(err as Error).message}`);
      }
    }
    await this.store.close().catch(() => undefined);
    await sourcesStopped;
    this.emit({ type: 'done', reason: this.doneReason, ...this.stats() });
    this.queue.end();
  }

  private async saveState(clean: boolean): Promise<void> {
    if (!this.opts.resumePath) return;
    if (!this.dirty && !clean) return;
    this.dirty = false;
    const files = await this.store.stat();
    await saveResume(this.opts.resumePath, {
      infoHash: this.infoHash.toString('hex'),
      pieceLength: this.meta.pieceLength,
      totalLength: this.meta.totalLength,
      have: this.picker.haveBitfield(),
      clean,
      files,
    });
  }

  // --- the timer -------------------------------------------------------------------------------

  private tick(): void {
    if (this.stopping) return;
    const now = this.now();
    // Requests that got no answer: give the blocks to others; the peer is slow (snubbed).
    for (const { peer, request } of this.scheduler.expire(now, this.opts.requestTimeoutMs ?? 30_000)) {
      peer.wire.send({ type: 'cancel', ...request });
      if (!peer.snubbed) peer.expiries++;
      peer.snubbed = true;
      if (peer.expiries >= 3) this.dropPeer(peer, new BtError('PEER_TOO_SLOW', 'network', 'requests timed out repeatedly'));
    }
    for (const p of [...this.peers]) {
      const st = p.wire.state!;
      if (st.isSilent(now, this.opts.idleTimeoutMs ?? 120_000)) {
        this.dropPeer(p, new BtError('PEER_SILENT', 'network', 'the peer sent nothing for too long'));
        continue;
      }
      if (st.keepAliveDue(now, this.opts.keepAliveMs ?? 90_000)) p.wire.send({ type: 'keep-alive' });
      this.updateInterest(p);
      this.requestMore(p);
    }
    if (now - this.lastChokeRound >= CHOKE_ROUND_MS) {
      this.lastChokeRound = now;
      this.chokeRound(now);
    }
    this.connectMore();
    if (now - this.lastProgress >= 1000) {
      this.lastProgress = now;
      this.emit({ type: 'progress', ...this.stats() });
    }
    if (this.dirty && !this.saving && now - this.lastSave >= (this.opts.saveEveryMs ?? 5000)) {
      this.lastSave = now;
      this.saving = this.saveState(false)
        .catch((err) => this.fail(err))
        .finally(() => (this.saving = undefined));
    }
    const stall = this.opts.stallTimeoutMs ?? 60_000;
    if (this.completedAt === null && stall > 0 && now - this.lastDataAt >= stall) {
      const nothing = this.downloaded === 0;
      this.fail(
        new BtError(
          nothing ? 'NO_PEERS' : 'DOWNLOAD_STALLED',
          'no-peers',
          nothing
            ? `no data arrived within ${Math.round(stall / 1000)} s (${this.book.size} peer address(es) known, ${this.peers.size} connected)`
            : `no data arrived for ${Math.round(stall / 1000)} s (${this.peers.size} peer(s) connected)`,
          { detail: { known: this.book.size, connected: this.peers.size, downloaded: this.downloaded } },
        ),
      );
      return;
    }
    this.checkSeedDone(now);
  }

  private checkSeedDone(now: number): void {
    if (this.completedAt === null || !this.opts.seed) return;
    const { ratio, timeMs } = this.opts.seed;
    if (ratio !== undefined && this.wantedBytes > 0 && this.uploaded / this.wantedBytes >= ratio) {
      this.doneReason = 'seed-ratio';
      void this.stop();
    } else if (timeMs !== undefined && now - this.completedAt >= timeMs) {
      this.doneReason = 'seed-time';
      void this.stop();
    }
  }

  private chokeRound(now: number): void {
    const seeding = this.completedAt !== null;
    const choker = seeding && this.opts.seedChoker ? (this.opts.seedChoker as unknown as Choker<Peer>) : this.choker;
    const unchoke = choker.round(
      [...this.peers].map((p) => ({
        peer: p,
        interested: p.wire.state!.peerInterested,
        rate: seeding ? p.up.rate(now) : p.down.rate(now),
        isNew: now - p.connectedAt < 60_000,
      })),
    );
    for (const p of this.peers) this.setChoked(p, !unchoke.has(p));
  }

  private unchokedCount(): number {
    let n = 0;
    for (const p of this.peers) if (!p.wire.state!.amChoking) n++;
    return n;
  }

  private setChoked(p: Peer, choked: boolean): void {
    const st = p.wire.state!;
    if (st.amChoking === choked) return;
    const action = p.wire.send({ type: choked ? 'choke' : 'unchoke' });
    if (choked) this.uploader.choked(p, action);
  }

  // --- connections -----------------------------------------------------------------------------

  private connectMore(): void {
    if (this.stopping || (this.completedAt !== null && !this.opts.seed)) return;
    const max = this.opts.maxPeers ?? 50;
    const maxHalfOpen = this.opts.maxHalfOpen ?? 16;
    const now = this.now();
    // A seed does not dial other seeds; it waits for leechers (and dials what trackers give).
    for (const c of this.book.due(now)) {
      if (this.peers.size + this.halfOpen >= max || this.halfOpen >= maxHalfOpen) return;
      void this.dial(c);
    }
  }

  private async dial(c: Candidate): Promise<void> {
    c.state = 'connecting';
    this.halfOpen++;
    const transport = this.transports[0]!;
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(new BtError('NET_CONNECT_TIMEOUT', 'network', 'connect timed out')), this.opts.connectTimeoutMs ?? 10_000);
    const onStop = () => ctl.abort(this.abort.signal.reason);
    this.abort.signal.addEventListener('abort', onStop, { once: true });
    let conn: Connection | undefined;
    try {
      conn = await transport.dial(c.endpoint, { signal: ctl.signal });
    } catch (err) {
      this.halfOpen--;
      clearTimeout(timer);
      this.abort.signal.removeEventListener('abort', onStop);
      this.book.dialFailed(c, this.now());
      void err;
      return;
    }
    clearTimeout(timer);
    this.abort.signal.removeEventListener('abort', onStop);
    this.halfOpen--;
    await this.setUp(conn, c, c.source);
  }

  private async acceptLoop(l: Listener): Promise<void> {
    try {
      for await (const conn of l) {
        if (this.stopping || this.peers.size + this.halfOpen >= (this.opts.maxPeers ?? 50) + 5) {
          conn.close();
          continue;
        }
        void this.setUp(conn, undefined, 'incoming');
      }
    } catch {
      // the listener failed: incoming connections stop, outgoing ones go on
    }
  }

  /** Handshake, then run the peer until it ends. */
  private async setUp(conn: Connection, candidate: Candidate | undefined, source: PeerSourceName): Promise<void> {
    if (this.stopping) {
      conn.close();
      return;
    }
    const remote = { host: conn.remote.host, port: conn.remote.port };
    const wire = new PeerWire(conn, {
      infoHash: this.infoHash,
      peerId: this.opts.peerId,
      pieceCount: this.meta.pieceCount,
      now: this.now,
      extendedHandshake: {
        v: this.opts.clientName ?? 'btkit',
        reqq: OUR_REQQ,
        ...(this.listenPort ? { p: this.listenPort } : {}),
        ...(yourIp(remote.host) ? { yourip: yourIp(remote.host)! } : {}),
      },
    });
    if (conn.direction === 'incoming') this.halfOpen++;
    let selfOrBanned: 'self' | 'banned' | 'duplicate' | null = null;
    try {
      await wire.handshake({
        timeoutMs: this.opts.handshakeTimeoutMs ?? 10_000,
        signal: this.abort.signal,
        accept: (h) => {
          const idHex = Buffer.from(h.peerId).toString('hex');
          if (Buffer.compare(h.peerId, this.opts.peerId) === 0) selfOrBanned = 'self';
          else if (this.bannedIds.has(idHex)) selfOrBanned = 'banned';
          else if ([...this.peers].some((p) => p.peerIdHex === idHex)) selfOrBanned = 'duplicate';
          if (selfOrBanned) throw new BtError('PEER_REFUSED', 'network', `refused: ${selfOrBanned}`);
        },
      });
    } catch {
      if (conn.direction === 'incoming') this.halfOpen--;
      if (candidate) {
        if (selfOrBanned === 'self' || selfOrBanned === 'banned') this.book.exclude(candidate, selfOrBanned);
        else this.book.dialFailed(candidate, this.now());
      }
      return;
    } finally {
      // nothing
    }
    if (conn.direction === 'incoming') this.halfOpen--;
    if (this.stopping) {
      wire.close();
      return;
    }
    const now = this.now();
    const peer: Peer = {
      id: this.nextPeerId++,
      key: candidate?.key ?? keyOf(remote),
      candidate,
      wire,
      source,
      direction: conn.direction,
      peerIdHex: Buffer.from(wire.peerHandshake!.peerId).toString('hex'),
      client: clientFromPeerId(wire.peerHandshake!.peerId),
      pieces: new Bitfield(this.meta.pieceCount),
      reqq: DEFAULT_REQQ,
      down: new RateMeter(now),
      up: new RateMeter(now),
      rejected: new Set(),
      snubbed: false,
      expiries: 0,
      connectedAt: now,
      lastDataAt: now,
      dropped: false,
    };
    if (candidate) this.book.connected(candidate);
    this.peers.add(peer);
    this.emit({ type: 'peer-connected', peer: peer.key, peerId: peer.peerIdHex, source, direction: conn.direction, client: peer.client });
    this.sendPieceSet(peer);
    try {
      await wire.run({
        onMessage: (m) => this.onMessage(peer, m),
        onExtendedHandshake: (h) => {
          if (h.reqq) peer.reqq = Math.min(h.reqq, 4096);
          if (h.v) peer.client = h.v.slice(0, 64);
        },
        onChunkEnd: () => this.requestMore(peer),
        beforeRead: () => this.beforeRead(),
      });
      this.dropPeer(peer, null, 'the peer closed the connection');
    } catch (err) {
      this.dropPeer(peer, isBtError(err) ? err : new BtError('PEER_FAILED', 'network', String(err)));
    }
  }

  private sendPieceSet(p: Peer): void {
    const fast = p.wire.state!.features.fast;
    const have = this.picker.completed;
    if (have === this.meta.pieceCount && fast) p.wire.send({ type: 'have-all' });
    else if (have === 0) {
      if (fast) p.wire.send({ type: 'have-none' });
    } else p.wire.send({ type: 'bitfield', bits: this.picker.haveBitfield().toWire() });
  }

  /** Backpressure before the next socket read: the download limit, and the disk. */
  private beforeRead(): Promise<void> | void {
    const waits: Promise<void>[] = [];
    if (!this.downBucket.unlimited && this.downBucket.waitMs() > 0) waits.push(this.downBucket.ready(this.abort.signal).catch(() => undefined));
    if (this.inflightBytes > MAX_INFLIGHT_BYTES) waits.push(new Promise<void>((resolve) => this.inflightWaiters.push(resolve)));
    if (waits.length === 0) return;
    return Promise.all(waits).then(() => undefined);
  }

  private dropPeer(p: Peer, error: BtError | null, reason?: string, options: { graceful?: boolean } = {}): Promise<void> {
    if (p.dropped) return Promise.resolve();
    p.dropped = true;
    const closed = options.graceful ? p.wire.closeGracefully(GOODBYE_MS) : Promise.resolve(p.wire.close(error ?? undefined));
    this.peers.delete(p);
    this.uploader.forget(p);
    this.picker.removePeer(p.pieces);
    this.scheduler.releasePeer(p);
    this.smartBan.peerGone(p);
    if (p.candidate) this.book.disconnected(p.candidate, this.now());
    this.emit({
      type: 'peer-dropped',
      peer: p.key,
      peerId: p.peerIdHex,
      reason: error?.message ?? reason ?? 'closed',
      code: error?.code ?? null,
      downloaded: p.wire.downloadedPayload,
      uploaded: p.wire.uploadedPayload,
    });
    if (!this.stopping) {
      this.connectMore();
      // Blocks it held go to others now, not at their next chunk.
      for (const q of this.peers) this.requestMore(q);
      // Its upload slot goes to a waiting peer now, not at the next round (up to 10 s later): a
      // seed whose leechers finish and leave would otherwise leave the last ones waiting.
      if (!p.wire.state!.amChoking) {
        for (const q of this.peers) {
          if (this.unchokedCount() >= this.choker.slots) break;
          if (q.wire.state!.amChoking && q.wire.state!.peerInterested) this.setChoked(q, false);
        }
      }
    }
    return closed;
  }

  private ban(p: Peer, reason: string): void {
    this.bannedIds.add(p.peerIdHex);
    if (p.candidate) this.book.exclude(p.candidate, 'banned');
    this.emit({ type: 'peer-banned', peer: p.key, reason });
    this.dropPeer(p, new BtError('PEER_BANNED', 'network', reason));
  }

  // --- messages --------------------------------------------------------------------------------

  private onMessage(p: Peer, m: Message): void {
    switch (m.type) {
      case 'bitfield':
        // A bitfield may replace an earlier piece set (wire/state.ts: after have none): uncount that first.
        this.picker.removePeer(p.pieces);
        p.pieces = Bitfield.fromWire(m.bits, this.meta.pieceCount);
        this.picker.addPeer(p.pieces);
        if (p.pieces.hasAll()) this.emit({ type: 'peer-complete', peer: p.key, peerId: p.peerIdHex });
        this.updateInterest(p);
        return;
      case 'have-all':
        p.pieces = 'all';
        this.picker.addPeer('all');
        this.emit({ type: 'peer-complete', peer: p.key, peerId: p.peerIdHex });
        this.updateInterest(p);
        return;
      case 'have-none':
        return;
      case 'have':
        if (p.pieces !== 'all' && p.pieces.set(m.index)) {
          this.picker.addHave(m.index);
          if (p.pieces.hasAll()) {
            // Count a peer that completed as a seed from now on.
            this.picker.removePeer(p.pieces);
            p.pieces = 'all';
            this.picker.addPeer('all');
            this.emit({ type: 'peer-complete', peer: p.key, peerId: p.peerIdHex });
          }
          if (!p.wire.state!.amInterested && this.picker.isWanted(m.index)) p.wire.send({ type: 'interested' });
        }
        return;
      case 'choke':
        if (!p.wire.state!.features.fast) this.scheduler.releasePeer(p);
        return;
      case 'unchoke':
        p.rejected.clear();
        this.requestMore(p);
        return;
      case 'interested':
        if (p.wire.state!.amChoking && this.unchokedCount() < this.choker.slots) this.setChoked(p, false);
        return;
      case 'not-interested':
        return;
      case 'request':
        this.uploader.request(p, m);
        return;
      case 'cancel':
        this.uploader.cancel(p, m);
        return;
      case 'reject':
        if (this.scheduler.release(p, m)) {
          p.rejected.add(m.index);
          this.requestMore(p);
        }
        return;
      case 'piece':
        this.onPiece(p, m.index, m.begin, m.block);
        return;
      default:
        return;
    }
  }

  private updateInterest(p: Peer): void {
    const st = p.wire.state!;
    const want = this.picker.wantedMissing > 0 && this.picker.interesting(p.pieces);
    if (want && !st.amInterested) p.wire.send({ type: 'interested' });
    else if (!want && st.amInterested) p.wire.send({ type: 'not-interested' });
  }

  private requestMore(p: Peer): void {
    if (p.dropped || this.stopping) return;
    const st = p.wire.state!;
    if (!st.amInterested) return;
    if (st.peerChoking && st.allowedFastIn.size === 0) return;
    const now = this.now();
    const depth = p.snubbed ? 1 : pipelineDepth(p.down.rate(now), { max: Math.min(p.reqq, MAX_PIPELINE), min: 16 });
    const outstanding = this.scheduler.outstandingCount(p);
    const room = depth - outstanding;
    // Top up in batches (an eighth of the pipeline at a time): one pass over the picker and one
    // write per batch, not per block.
    if (room <= 0 || (outstanding > 0 && room < Math.max(2, depth >> 3))) return;
    const requests = this.scheduler.request(p, p.pieces, room, {
      now,
      canRequest: (i) => st.canRequest(i) && !p.rejected.has(i) && this.smartBan.mayRequest(i, p),
    });
    for (const r of requests) {
      this.smartBan.requested(r.index, p);
      p.wire.send({ type: 'request', ...r });
    }
  }

  // --- pieces ----------------------------------------------------------------------------------

  private onPiece(p: Peer, index: number, begin: number, block: Uint8Array): void {
    const now = this.now();
    const res = this.scheduler.received(p, index, begin, block.length);
    if (res.status === 'invalid') {
      this.dropPeer(p, new BtError('PEER_BAD_BLOCK', 'network', `a block that is not one of ours (piece ${index}, offset ${begin}, ${block.length} bytes)`));
      return;
    }
    if (res.status !== 'accepted') {
      this.wasted += block.length;
      return;
    }
    p.down.add(block.length, now);
    this.downRate.add(block.length, now);
    this.downBucket.consume(block.length);
    this.downloaded += block.length;
    this.lastDataAt = now;
    p.lastDataAt = now;
    if (p.snubbed) {
      p.snubbed = false;
      p.expiries = 0;
    }
    let buf = this.buffers.get(index);
    if (!buf) {
      buf = this.allocPiece(index);
      this.buffers.set(index, buf);
    }
    buf.set(block, begin);
    let from = this.blockFrom.get(index);
    if (!from) this.blockFrom.set(index, (from = []));
    from[begin / BLOCK_LENGTH] = p;
    for (const c of res.cancels) c.peer.wire.send({ type: 'cancel', ...c.request });
    if (res.pieceComplete) this.verify(index);
  }

  private allocPiece(index: number): Uint8Array {
    const size = this.geometry.pieceSize(index);
    const ab = this.freeBuffers.pop() ?? new ArrayBuffer(this.meta.pieceLength);
    return new Uint8Array(ab, 0, size);
  }

  private recycle(data: Uint8Array): void {
    const ab = data.buffer;
    if (!(ab instanceof ArrayBuffer) || ab.byteLength !== this.meta.pieceLength) return;
    if ((this.freeBuffers.length + 1) * this.meta.pieceLength > MAX_FREE_BUFFERS_BYTES) return;
    this.freeBuffers.push(ab);
  }

  private verify(index: number): void {
    const data = this.buffers.get(index)!;
    this.buffers.delete(index);
    const from = this.blockFrom.get(index) ?? [];
    this.blockFrom.delete(index);
    const size = data.length;
    this.inflightBytes += size;
    const work = (async () => {
      const { ok, data: back } = await this.hasher.check(index, data);
      if (this.stopping && !ok) return;
      if (ok) {
        await this.store.writePiece(index, back);
        this.onVerified(index, back);
      } else {
        this.onFailed(index, back, from);
      }
      this.recycle(back);
    })();
    this.inflight.add(work);
    work
      .catch((err) => this.fail(err))
      .finally(() => {
        this.inflight.delete(work);
        this.inflightBytes -= size;
        if (this.inflightBytes <= MAX_INFLIGHT_BYTES / 2) for (const w of this.inflightWaiters.splice(0)) w();
      });
  }

  private markHave(index: number): void {
    if (this.picker.hasPiece(index)) return;
    this.picker.markHave(index);
    if (this.picker.priorityOf(index) > 0) this.haveWantedBytes += this.geometry.pieceSize(index);
  }

  private onVerified(index: number, data: Uint8Array): void {
    const contributors = this.scheduler.pieceVerified(index);
    if (this.picker.priorityOf(index) > 0) this.haveWantedBytes += this.geometry.pieceSize(index);
    this.trust.verified(contributors);
    // The piece is right now: whoever sent a block that differs from it earlier lied.
    for (const liar of this.smartBan.verified(index, data)) if (!liar.dropped) this.ban(liar, `sent bad data for piece ${index}`);
    this.dirty = true;
    for (const p of this.peers) {
      // Seeds are told too: a seed counts the peers that completed (`btkit seed --until peers-complete`).
      if (p.pieces !== 'all' && p.pieces.get(index)) continue;
      p.wire.send({ type: 'have', index });
    }
    this.emit({ type: 'piece-verified', index, havePieces: this.picker.completed, doneBytes: this.haveWantedBytes, totalBytes: this.wantedBytes });
    const waiters = this.pieceWaiters.get(index);
    if (waiters) {
      this.pieceWaiters.delete(index);
      for (const w of waiters) w();
    }
    if (this.picker.wantedMissing === 0 && this.completedAt === null) this.onComplete();
  }

  private onFailed(index: number, data: Uint8Array, from: Peer[]): void {
    const contributors = this.scheduler.pieceFailed(index);
    this.wasted += data.length;
    // Each block's hash and sender are kept: when the piece passes, they tell who lied.
    this.smartBan.failed(index, data, from, contributors.size);
    const peers = [...contributors.keys()];
    this.emit({ type: 'piece-failed', index, peers: peers.map((p) => p.key) });
    for (const p of this.trust.failed(contributors)) if (!p.dropped) this.ban(p, `sent bad data for piece ${index}`);
    for (const p of this.peers) this.requestMore(p);
  }

  private onComplete(): void {
    this.completedAt = this.now();
    this.emit({ type: 'complete', ...this.stats() });
    if (!this.startedComplete) for (const s of this.sources) s.completed?.();
    for (const p of this.peers) this.updateInterest(p);
    if (!this.opts.seed) {
      this.doneReason = 'complete';
      void this.stop();
    } else {
      for (const p of [...this.peers]) if (p.pieces === 'all') this.dropPeer(p, null, 'both seeds');
      this.checkSeedDone(this.completedAt);
    }
  }
}

/** Our address as a peer sees it, for BEP 10 `yourip`: the peer's own address bytes, reversed roles. */
function yourIp(host: string): Uint8Array | null {
  return parseIPv4(host) ?? parseIPv6(host);
}

/** Piece priorities from a file selection: a piece is wanted when any selected, non-empty file has a byte in it. */
export function piecePriorities(meta: Pick<Metainfo, 'pieceLength' | 'pieceCount' | 'files'>, selection?: readonly boolean[]): Uint8Array {
  const out = new Uint8Array(meta.pieceCount);
  if (!selection) return out.fill(1);
  meta.files.forEach((f, i) => {
    if (!selection[i] || f.length === 0 || f.padding) return;
    const first = Math.floor(f.offset / meta.pieceLength);
    const last = Math.floor((f.offset + f.length - 1) / meta.pieceLength);
    for (let p = first; p <= last; p++) out[p] = 1;
  });
  return out;
}
