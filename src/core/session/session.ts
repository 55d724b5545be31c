/**
 * The session: the coordinator that joins connections, pieces and storage for one torrent (BEP 3,
 * with BEP 6 and BEP 10 on every connection, BEP 9 for magnet links, BEP 11 peer exchange). It
 * acts on what its parts report and owns no protocol detail itself:
 *
 * - connections.ts  dialing, accepting, the handshake policy, the limits, the transport choice;
 * - peer-set.ts     the connected peers: each one's run from handshake to drop, their timeouts;
 * - peer-book.ts    every address from every peer source (trackers, DHT, PEX, --peer) in one book;
 * - assembler.ts    blocks → pieces → a `PieceVerifier` → storage; the one writer of the picker;
 * - peer-messages.ts what a peer's messages do (piece sets, requests, blocks into the assembler);
 * - uploader.ts     the upload side; upload-slots.ts (over choker.ts / seed-choker.ts) who is unchoked;
 * - traffic.ts      totals, rates and limits; persistence.ts the resume state; metadata.ts BEP 9;
 * - webseed-source.ts HTTP web seeds (BEP 19) as block sources beside peers.
 *
 *   const session = new Session({ metainfo, store, peerId, resumePath, listen: { host, port } });
 *   // or, for a magnet link: new Session({ infoHash, peerId, onMetadata: async (info) => ({ metainfo, store, … }) })
 *   session.addSource(new TrackerSource({ client, tiers, infoHash, peerId }));
 *   session.addPeers('manual', [{ host: '127.0.0.1', port: 6881 }]);
 *   for await (const ev of session.run(signal)) { … }   // started, peer-…, piece-…, progress, complete, done
 *
 * A session built from an infohash alone first fetches the info dictionary from peers (BEP 9)
 * over the same connections it then downloads on; storage, picker and verifier are created once
 * the metadata is known and checked (`onMetadata`).
 *
 * `run` ends after its `done` event: the selection is complete (and seeding, if asked, reached its
 * ratio or time), or `signal` fired (within about a second: connections closed, writes finished,
 * the resume state saved). It throws a BtError when the download cannot go on: NO_PEERS /
 * DOWNLOAD_STALLED / NO_METADATA (category no-peers) when nothing arrived for `stallTimeoutMs`,
 * an io error from the disk.
 */
import { BtError, abortError, isBtError } from '../errors.js';
import type { ExtensionFactory } from '../extension/registry.js';
import { TcpTransport } from '../transport/tcp.js';
import type { Endpoint } from '../transport/types.js';
import { localAddresses, usableEndpoints } from './addresses.js';
import { Choker } from './choker.js';
import { ConnectionManager } from './connections.js';
import { MetadataExchange, type MetadataSlot } from './metadata.js';
import type { SessionOptions, TorrentSetup } from './options.js';
import { type Peer, greet, ourExtendedHandshake, requestMore, updateInterest } from './peer.js';
import { PeerBook } from './peer-book.js';
import { PeerMessages } from './peer-messages.js';
import { PeerSet } from './peer-set.js';
import { PeerExchange } from './pex.js';
import { PieceWaiters } from './piece-waiters.js';
import { AsyncQueue } from './queue.js';
import { seedOnDone, stallError } from './stop-conditions.js';
import { Torrent } from './torrent.js';
import { sessionStats } from './stats.js';
import { Traffic } from './traffic.js';
import type { DoneReason, PeerSource, PeerSourceContext, PeerSourceName, SessionEvent, SessionStats } from './types.js';
import { UploadSlots } from './upload-slots.js';
import { PieceLayers } from './piece-layers.js';
import { V2Hashes } from './v2-hashes.js';
import { V2Trees } from './v2-verifier.js';
import { WebSeedSources, isWebSeedSender, webSeedLayout } from './webseed-source.js';

export type { SessionMetainfo, SessionOptions, TorrentSetup } from './options.js';
export { piecePriorities } from './torrent.js';

export class Session {
  private readonly opts: SessionOptions;
  private readonly now: () => number;
  private readonly rng: () => number;
  /** The infohash we dial with: v1, or a v2-only torrent's truncated v2 infohash (BEP 52). */
  private readonly infoHash: Buffer;
  /** The v2 infohash truncated to 20 bytes (BEP 52 handshakes), when known. */
  private v2Hash: Buffer | null;
  private readonly hashes: V2Hashes<Peer>;
  private readonly slots: UploadSlots;
  private readonly queue = new AsyncQueue<SessionEvent>();
  private readonly sources: PeerSource[] = [];
  private readonly book = new PeerBook();
  private readonly peers: PeerSet;
  private readonly local = localAddresses();
  private readonly abort = new AbortController();
  private readonly connections: ConnectionManager;
  private readonly metadata: MetadataExchange<Peer>;
  private readonly pex: PeerExchange<Peer> | null;
  private readonly pieceWaiters = new PieceWaiters();
  private readonly traffic: Traffic;
  private readonly messages: PeerMessages;
  private t: Torrent<Peer> | null = null;
  private webSeeds: WebSeedSources<Peer> | null = null;
  private startedAt = 0;
  private completedAt: number | null = null;
  private startedComplete = false;
  private readonly layers: PieceLayers;
  private tickTimer: ReturnType<typeof setInterval> | undefined;
  private lastProgress = -Infinity;
  private stopping: Promise<void> | undefined;
  private fatal: BtError | undefined;
  private doneReason: DoneReason = 'complete';
  private running = false;
  private sourcesStarted = false;
  /** How the disk was found at start (for the `started` event). */
  private restoredInfo: Extract<SessionEvent, { type: 'started' }>['resume'] = { mode: 'none', checked: 0, recovered: 0, note: null };

  constructor(options: SessionOptions) {
    this.opts = options;
    const v1 = options.metainfo ? options.metainfo.infoHash.v1 : (options.infoHash ?? null);
    const v2 = options.metainfo ? options.metainfo.infoHash.v2 : (options.infoHashV2 ?? null);
    this.v2Hash = v2 && v2.length === 32 ? Buffer.from(v2.subarray(0, 20)) : null;
    const dial = v1 ?? this.v2Hash;
    if (!dial || dial.length !== 20) throw new BtError('SESSION_NO_INFOHASH', 'internal', 'a session needs a metainfo, a 20-byte v1 infohash or a 32-byte v2 one');
    if (!options.metainfo && !options.onMetadata) throw new BtError('SESSION_NO_METADATA_HANDLER', 'internal', 'a session from an infohash needs onMetadata');
    if (options.metainfo && !options.store) throw new BtError('SESSION_NO_STORE', 'internal', 'a session with a metainfo needs its store');
    this.infoHash = Buffer.from(dial);
    this.hashes = new V2Hashes<Peer>({
      now: () => this.now(),
      peers: () => this.peers,
      drop: (p, err, ban) => (ban ? this.peers.ban(p, err.message) : void this.peers.drop(p, err)),
      readPiece: (i) => (this.t?.picker.hasPiece(i) ? this.t.store.readPiece(i) : Promise.resolve(null)),
      servedFromData: (p, range, answered) => this.emit({ type: 'block-hashes-served', peer: p.key, ...range, answered }),
    });
    this.now = options.now ?? (() => performance.now());
    this.layers = new PieceLayers({
      hashes: this.hashes,
      now: this.now,
      emit: (ev) => this.emit(ev),
      released: () => {
        for (const p of this.peers) this.requestMore(p);
      },
      stopping: () => !!this.stopping,
      signal: this.abort.signal,
    });
    this.rng = options.rng ?? Math.random;
    this.slots = new UploadSlots(new Choker<Peer>({ slots: options.uploadSlots ?? 4, rng: this.rng }), options.seedChoker ?? null);
    this.traffic = new Traffic(this.now, { download: options.downloadLimit, upload: options.uploadLimit });
    this.messages = new PeerMessages({
      torrent: () => this.t,
      traffic: this.traffic,
      now: this.now,
      emit: (ev) => this.emit(ev),
      drop: (p, err) => void this.peers.drop(p, err),
      requestMore: (p) => this.requestMore(p),
      updateInterest: (p) => this.updateInterest(p),
      interested: (p) => this.t && this.slots.interested(p, this.peers, this.t.uploader),
      dhtNodeSeen: (host, port) => {
        for (const s of this.sources) s.nodeSeen?.(host, port);
      },
      hashMessage: (p, m) => this.hashes.onMessage(p, m),
    });
    this.metadata = new MetadataExchange<Peer>({
      infoHash: this.infoHash,
      ...(!v1 && v2 ? { infoHashV2: v2 } : {}),
      info: options.metainfo?.infoBytes ?? null,
      maxSize: options.maxMetadataSize,
      now: this.now,
      drop: (p, err) => this.peers.ban(p, err.message),
      emit: (ev) => this.emit(ev),
    });
    this.peers = new PeerSet({
      now: this.now,
      emit: (ev) => this.emit(ev),
      torrent: () => this.t,
      stopping: () => !!this.stopping,
      joined: (p, slot) => {
        this.metadata.bind(slot as MetadataSlot<Peer>, p);
        greet(this.t, p, { infoHash: this.infoHash, allowedFast: this.opts.allowedFast ?? 10, dhtPort: this.dhtPort() });
        if (p.v2) this.hashes.askMore();
      },
      onMessage: (p, m) => this.messages.onMessage(p, m),
      // A peer's listening port (BEP 10 `p`): its address is not dialed over the other transport while connected.
      listensAt: (p, port) => this.connections.listensAt(p.wire.conn, port),
      requestMore: (p) => this.requestMore(p),
      beforeRead: () => this.traffic.beforeRead(this.t?.assembler.backpressure(), this.abort.signal),
      forget: (p) => this.forget(p),
      refill: (p) => {
        this.connections.connectMore();
        // Blocks it held go to others now, not at their next chunk.
        for (const q of this.peers) this.requestMore(q);
        // Its upload slot goes to a waiting peer now, not at the next round (up to 10 s later).
        if (this.t) this.slots.refill(p, this.peers, this.t.uploader);
      },
      banned: (p) => {
        this.connections.ban(p.peerIdHex);
        if (p.candidate) this.book.exclude(p.candidate, 'banned');
      },
    });
    const isPrivate = options.metainfo?.private ?? false;
    this.pex =
      options.pex === false || isPrivate
        ? null
        : new PeerExchange<Peer>({
            intervalMs: options.pexIntervalMs,
            learned: (peers) => this.addPeers('pex', peers),
          });
    this.connections = new ConnectionManager({
      infoHash: this.infoHash,
      peerId: options.peerId,
      transports: options.transports ?? [new TcpTransport()],
      book: this.book,
      maxPeers: options.maxPeers,
      maxHalfOpen: options.maxHalfOpen,
      connectTimeoutMs: options.connectTimeoutMs,
      handshakeTimeoutMs: options.handshakeTimeoutMs,
      now: this.now,
      signal: this.abort.signal,
      wireOptions: (remote) => {
        const { slot, factory } = this.metadata.plugin();
        const extensions: ExtensionFactory[] = [factory];
        if (this.pex) extensions.push(this.pex.factory());
        return {
          tag: slot,
          wire: {
            ...(this.t ? { pieceCount: this.t.meta.pieceCount } : {}),
            ...(this.dhtPort() ? { dht: true } : {}),
            // BEP 52: a hybrid is reached through either infohash; we speak v2 once the torrent has it.
            ...(this.v2Hash ? { v2: true, alsoInfoHashes: [this.v2Hash] } : {}),
            extensions,
            extendedHandshake: ourExtendedHandshake(remote.host, { client: options.clientName ?? 'btkit', port: this.connections.port }),
          },
        };
      },
      connected: () => this.peers.size,
      connectedAs: (idHex) => {
        const p = this.peers.byPeerId(idHex);
        return p ? { direction: p.direction, since: p.connectedAt } : null;
      },
      replace: (idHex) => {
        const p = this.peers.byPeerId(idHex);
        if (p) void this.peers.drop(p, null, 'a connection in the other direction replaces it (both ends dialed; the one dialed by the lower peer id is kept)');
      },
      wantsPeers: () => !this.stopping && (this.completedAt === null || !!options.seed),
      // BEP 52: v2 messages on a connection made with the v2 infohash, or where both set the upgrade bit.
      onPeer: (wire, candidate, source, slot) => {
        const v2 = !!this.v2Hash && (Buffer.compare(wire.peerHandshake!.infoHash, this.v2Hash) === 0 || !!wire.state!.features.v2);
        void this.peers.run(wire, candidate, source, slot, v2);
      },
      onWarning: (message, code) => this.emit({ type: 'warning', message, code }),
    });
    if (options.metainfo) this.t = this.buildTorrent({ metainfo: options.metainfo, store: options.store!, resumePath: options.resumePath, selection: options.selection }, v2TreesOf(options.metainfo));
  }

  // --- public API ------------------------------------------------------------------------

  /** A peer source to start with the session (trackers, DHT; PEX and --peer feed `addPeers`). */
  addSource(source: PeerSource): void {
    this.sources.push(source);
    if (this.sourcesStarted) source.start(this.sourceContext(source));
  }

  /** Peer addresses from `source`; ourselves and known addresses are skipped. Manual peers are retried forever. */
  addPeers(source: PeerSourceName, peers: readonly Endpoint[]): void {
    const now = this.now();
    for (const e of usableEndpoints(peers, this.local, this.connections.port)) this.book.add(e, source, now);
    if (this.running) this.connections.connectMore();
  }

  /** Whether we have piece `index` (verified and written). */
  hasPiece(index: number): boolean {
    return this.t?.picker.hasPiece(index) ?? false;
  }

  /** Resolves once piece `index` is verified and written; rejects when the session stops first or `signal` fires. */
  waitForPiece(index: number, signal?: AbortSignal): Promise<void> {
    if (this.hasPiece(index)) return Promise.resolve();
    if (this.stopping) return Promise.reject(this.fatal ?? abortError(signal));
    return this.pieceWaiters.wait(index, (i) => this.hasPiece(i), () => this.fatal, signal);
  }

  /** Our listening endpoint, once `run` has started listening. */
  get listening(): Endpoint | null {
    return this.connections.listening;
  }

  /** A v2 or hybrid torrent's piece layers known so far (BEP 52), and whether that is all; null for v1 or before the metadata. */
  pieceLayers(): ReturnType<V2Hashes<Peer>['pieceLayers']> {
    return this.hashes.pieceLayers();
  }

  /** The info dictionary's bytes, once known (given, or fetched from peers). */
  get info(): Uint8Array | null {
    return this.metadata.info;
  }

  stats(): SessionStats {
    return sessionStats({ now: this.now(), startedAt: this.startedAt, torrent: this.t, peers: this.peers, traffic: this.traffic, webSeeds: this.webSeeds, known: this.book.size });
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

  /** Stop everything; resolves when connections are closed, writes finished and the state saved. */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  // --- the torrent's parts -----------------------------------------------------------------

  private buildTorrent(setup: TorrentSetup, v2: V2Trees | null): Torrent<Peer> {
    if (v2) this.hashes.setTrees(v2);
    return new Torrent<Peer>(setup, {
      v2,
      infoHashHex: this.infoHash.toString('hex'),
      rng: this.rng,
      now: this.now,
      sequential: this.opts.sequential ?? false,
      hashPool: this.opts.hashPool ?? null,
      upBucket: this.traffic.upBucket,
      saveEveryMs: this.opts.saveEveryMs,
      signal: this.abort.signal,
      assembler: {
        verified: (i, from) => this.onVerified(i, from),
        failed: (i, senders) => this.onFailed(i, senders),
        liar: (p, i) => {
          if (isWebSeedSender(p)) this.webSeeds?.liar(p, i);
          else if (!p.dropped) this.peers.ban(p, `sent bad data for piece ${i}`);
        },
        fatal: (err) => this.fail(err),
      },
      onSent: (peer, bytes) => this.traffic.sent(peer, bytes),
      onReadError: (err) => this.emit({ type: 'warning', message: `cannot read a block to upload: ${err.message}`, code: err.code }),
    });
  }

  // --- start and stop ----------------------------------------------------------------------

  private emit(ev: SessionEvent): void {
    this.queue.push(ev);
  }

  private async start(signal?: AbortSignal): Promise<void> {
    this.startedAt = this.now();
    this.traffic.restartStallTimer();
    if (this.t) {
      await this.prepareTorrent(this.t, signal);
      if (this.stopping) return;
      if (this.opts.listen) await this.connections.listen(this.opts.listen);
      if (this.stopping) return;
      this.emitStarted(this.t);
      const t = this.t;
      if (t.v2 && !t.v2.complete && !this.startedComplete) {
        // A .torrent without `piece layers`: from peers, before any block for v2-only, alongside for a hybrid.
        void this.layers.fetch(t.v2, { block: !t.meta.infoHash.v1 }).then((ok) => {
          if (ok) this.traffic.restartStallTimer();
        });
      }
      // A seed of such a .torrent hashes them from its data, to answer v2 peers' hash requests.
      if (t.v2 && !t.v2.complete && this.startedComplete) this.layersFromData(t, t.v2);
      this.startWebSeeds(t);
      if (this.startedComplete) {
        this.completedAt = this.now();
        this.emit({ type: 'complete', ...this.stats() });
        if (!this.opts.seed) {
          void this.stop();
          return;
        }
      }
    } else {
      if (this.opts.listen) await this.connections.listen(this.opts.listen);
      if (this.stopping) return;
      this.emit({ type: 'metadata-wanted', infoHash: this.infoHash.toString('hex'), listen: this.listening });
      void this.metadata.fetched.then(
        (info) => this.onMetadata(info),
        () => undefined,
      );
    }
    this.sourcesStarted = true;
    for (const s of this.sources) s.start(this.sourceContext(s));
    this.traffic.restartStallTimer();
    this.tickTimer = setInterval(() => this.tick(), this.opts.tickMs ?? 1000);
    this.connections.connectMore();
  }

  /** Look at the disk (resume state, or a hash of what is there) and prepare the files. */
  private async prepareTorrent(t: Torrent<Peer>, signal?: AbortSignal): Promise<void> {
    this.restoredInfo = await t.prepare({ trusted: this.opts.trustedComplete ?? false, recheck: this.opts.recheck ?? false, ...(signal ? { signal } : {}) });
    this.startedComplete = t.complete;
  }

  private emitStarted(t: Torrent<Peer>): void {
    this.emit({
      type: 'started',
      infoHash: this.infoHash.toString('hex'),
      name: t.meta.name,
      pieces: t.meta.pieceCount,
      pieceLength: t.meta.pieceLength,
      totalBytes: t.wantedBytes,
      doneBytes: t.haveWantedBytes,
      resume: this.restoredInfo,
      listen: this.listening,
    });
  }

  /** The metadata arrived (BEP 9): build the torrent's parts and go on over the same connections. */
  private async onMetadata(info: Uint8Array): Promise<void> {
    if (this.stopping || this.t) return;
    const setup = await this.opts.onMetadata!(info).catch((err) => {
      this.fail(err);
      return null;
    });
    if (!setup || this.stopping) return;
    if (this.opts.metadataOnly) {
      // A v2 or hybrid torrent: its piece layers too, when peers give them in time (options.ts).
      const v2 = setup.metainfo.infoHash.v2 ? v2TreesOf(setup.metainfo) : null;
      if (v2 && !v2.complete && this.v2Hash) {
        this.hashes.setTrees(v2);
        await this.layers.waitForMetadataOnly(v2, this.opts.metadataLayersWaitMs ?? 0);
        if (this.stopping) return;
      }
      this.doneReason = 'metadata';
      void this.stop();
      return;
    }
    if (setup.metainfo.private) {
      // BEP 27: a private torrent's peers come from its trackers alone: no PEX, no DHT.
      this.pex?.disable();
      for (const s of this.sources) if (s.name === 'dht') void s.stop(0);
    }
    const v2 = v2TreesOf(setup.metainfo);
    if (v2 && setup.metainfo.infoHash.v2) {
      this.v2Hash ??= Buffer.from(setup.metainfo.infoHash.v2.subarray(0, 20));
      // A v2-only torrent from a magnet: its info dictionary has each file's root only; the piece
      // layers come from peers (BEP 52 hash requests) before any piece can be checked.
      this.hashes.setTrees(v2);
      if (!setup.metainfo.infoHash.v1 && !(await this.layers.fetch(v2))) return;
      // A hybrid's v1 hashes check its pieces meanwhile: its layers come alongside (to check by both, serve, save).
      if (setup.metainfo.infoHash.v1) void this.layers.fetch(v2, { block: false });
    }
    const t = this.buildTorrent(setup, v2);
    await this.prepareTorrent(t, this.abort.signal).catch((err) => {
      this.fail(err);
    });
    if (this.stopping) return;
    this.t = t;
    this.emitStarted(t);
    this.startWebSeeds(t);
    // Every connection learns the piece count; what peers said before now becomes their piece set.
    for (const p of [...this.peers]) {
      try {
        this.messages.metadataArrived(t, p);
      } catch (err) {
        void this.peers.drop(p, isBtError(err) ? err : new BtError('PEER_FAILED', 'network', String(err)));
      }
    }
    this.traffic.restartStallTimer();
    if (this.startedComplete) {
      this.completedAt = this.now();
      this.emit({ type: 'complete', ...this.stats() });
      if (!this.opts.seed) void this.stop();
    }
  }

  /** Piece layers a complete torrent lacks, hashed from its data (piece-layers.ts). */
  private layersFromData(t: Torrent<Peer>, v2: V2Trees): void {
    this.layers.fromData(v2, { have: (i) => t.picker.hasPiece(i), readPiece: (i) => t.store.readPiece(i) });
  }

  /** Web seeds (BEP 19) beside the peers, for a download that is not complete yet. */
  private startWebSeeds(t: Torrent<Peer>): void {
    const urls = this.opts.webSeeds ?? [];
    const httpSeeds = this.opts.httpSeeds ?? [];
    if ((urls.length === 0 && httpSeeds.length === 0) || t.complete || this.stopping) return;
    const m = t.meta;
    const options = { urls, httpSeeds, infoHash: m.infoHash.v1, layout: webSeedLayout(m), pieceLength: m.pieceLength, totalLength: m.totalLength, userAgent: this.opts.clientName ?? 'btkit', ...this.opts.webSeedTuning };
    this.webSeeds = new WebSeedSources<Peer>(options, {
      assembler: t.assembler,
      traffic: this.traffic,
      now: this.now,
      emit: (ev) => this.emit(ev),
      released: () => {
        for (const p of this.peers) this.requestMore(p);
      },
      cancel: (p, r) => p.wire.send({ type: 'cancel', index: r.index, begin: r.begin, length: r.length }),
      fatal: (err) => this.fail(err),
      signal: this.abort.signal,
    });
    this.webSeeds.start();
  }

  private sourceContext(source: PeerSource): PeerSourceContext {
    return {
      addPeers: (peers) => this.addPeers(source.name, peers),
      totals: () => ({
        uploaded: this.traffic.uploaded,
        downloaded: this.traffic.downloaded,
        // Unknown before the metadata: BEP 3 trackers expect a number; a large one says "leecher".
        left: this.t ? this.t.wantedBytes - this.t.haveWantedBytes : 16 * 1024 * 1024,
      }),
      port: this.connections.port,
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
      } else {
        this.doneReason = 'failed';
      }
    }
    void this.stop();
  }

  private async shutdown(): Promise<void> {
    // Let a `start` that is still checking the disk see the stop.
    await Promise.resolve();
    if (this.tickTimer) clearInterval(this.tickTimer);
    this.abort.abort(new BtError('SESSION_STOPPED', 'interrupted', 'session stopped'));
    this.metadata.stop();
    this.webSeeds?.stop();
    const sourcesStopped = Promise.allSettled(this.sources.map((s) => s.stop(800)));
    await this.connections.close();
    // Peers are let go gracefully: what we queued last (the `have` of our last piece, which tells
    // a seed we completed) reaches them before the connection goes.
    const goodbyes = this.peers.dropAll('session stopped');
    await Promise.allSettled([this.t?.assembler.stop(), ...goodbyes]);
    this.pieceWaiters.wakeAll();
    if (this.t) {
      try {
        await this.t.persistence.close();
      } catch (err) {
        this.fatal ??= isBtError(err) ? err : new BtError('RESUME_SAVE_FAILED', 'io', `cannot save the resume state: ${(err as Error).message}`);
      }
      await this.t.store.close().catch(() => undefined);
    }
    await sourcesStopped;
    this.emit({ type: 'done', reason: this.doneReason, ...this.stats() });
    this.queue.end();
  }

  // --- the timer -------------------------------------------------------------------------------

  private tick(): void {
    if (this.stopping) return;
    const now = this.now();
    const t = this.t;
    if (!t) this.metadata.tick();
    this.hashes.tick();
    this.peers.tick(now, { requestMs: this.opts.requestTimeoutMs ?? 30_000, idleMs: this.opts.idleTimeoutMs ?? 120_000, keepAliveMs: this.opts.keepAliveMs ?? 90_000 });
    if (t) {
      for (const p of this.peers) {
        this.updateInterest(p);
        this.requestMore(p);
      }
    }
    this.pex?.tick(this.peers, now);
    this.webSeeds?.pump();
    if (t) this.slots.tick(this.peers, t.uploader, this.completedAt !== null, now);
    this.connections.connectMore();
    if (now - this.lastProgress >= 1000) {
      this.lastProgress = now;
      this.emit({ type: 'progress', ...this.stats() });
    }
    t?.persistence.tick((err) => this.fail(err));
    const stall = this.opts.stallTimeoutMs ?? 60_000;
    if (this.completedAt === null && !this.layers.waiting && stall > 0 && now - this.traffic.lastDataAt >= stall) {
      this.fail(stallError(stall, { haveMetadata: !!t, known: this.book.size, connected: this.peers.size, downloaded: this.traffic.downloaded, webSeeds: this.webSeeds?.active ?? null }));
      return;
    }
    this.checkSeedDone(now);
  }

  private checkSeedDone(now: number): void {
    if (this.completedAt === null || !this.opts.seed || !this.t) return;
    const reason = seedOnDone(this.opts.seed, { uploaded: this.traffic.uploaded, wanted: this.t.wantedBytes, now, completedAt: this.completedAt });
    if (reason) {
      this.doneReason = reason;
      void this.stop();
    }
  }

  // --- peers -----------------------------------------------------------------------------------

  /** Our DHT's port when a DHT source runs (BEP 5), else 0. */
  private dhtPort(): number {
    for (const s of this.sources) if (s.dhtPort) return s.dhtPort;
    return 0;
  }

  /** `p` is gone (peer-set.ts): every part forgets it. */
  private forget(p: Peer): void {
    this.metadata.peerGone(p);
    this.hashes.peerGone(p);
    this.pex?.peerGone(p);
    const t = this.t;
    if (t) {
      t.uploader.forget(p);
      if (!p.early) t.picker.removePeer(p.pieces);
      t.assembler.peerGone(p);
    }
    if (p.candidate) this.book.disconnected(p.candidate, this.now());
  }

  // --- messages -------------------------------------------------------------------------------

  private updateInterest(p: Peer): void {
    if (this.t) updateInterest(this.t, p);
  }

  private requestMore(p: Peer): void {
    if (this.t && !this.stopping && !this.layers.blocking) requestMore(this.t, p, this.now());
  }

  // --- pieces ----------------------------------------------------------------------------------

  private onVerified(index: number, from: readonly { key: string }[]): void {
    const t = this.t!;
    t.counted(index);
    t.persistence.markDirty();
    for (const p of this.peers) {
      // Seeds are told too: a seed counts the peers that completed (`btkit seed --until peers-complete`).
      if (p.pieces !== 'all' && !p.early && p.pieces.get(index)) continue;
      p.wire.send({ type: 'have', index });
    }
    this.emit({ type: 'piece-verified', index, havePieces: t.picker.completed, doneBytes: t.haveWantedBytes, totalBytes: t.wantedBytes, from: from.map((s) => s.key) });
    this.pieceWaiters.verified(index);
    if (t.picker.wantedMissing === 0 && this.completedAt === null) this.onComplete();
  }

  private onFailed(index: number, senders: readonly { key: string }[]): void {
    this.emit({ type: 'piece-failed', index, peers: senders.map((p) => p.key) });
    for (const p of this.peers) this.requestMore(p);
    this.webSeeds?.pump();
  }

  private onComplete(): void {
    this.completedAt = this.now();
    // Seeding on: the layers no peer sent (a hybrid fetched over v1) come from the data.
    if (this.opts.seed && this.t?.v2 && !this.t.v2.complete) this.layersFromData(this.t, this.t.v2);
    this.webSeeds?.stop();
    this.emit({ type: 'complete', ...this.stats() });
    if (!this.startedComplete) for (const s of this.sources) s.completed?.();
    for (const p of this.peers) this.updateInterest(p);
    if (!this.opts.seed) {
      this.doneReason = 'complete';
      void this.stop();
    } else {
      for (const p of [...this.peers]) if (p.pieces === 'all') void this.peers.drop(p, null, 'both seeds');
      this.checkSeedDone(this.completedAt);
    }
  }
}


/** The merkle trees of a v2 or hybrid torrent (with the piece layers it carries), null for v1. */
function v2TreesOf(meta: TorrentSetup['metainfo']): V2Trees | null {
  return meta.infoHash.v2 ? new V2Trees(meta.files, meta.pieceLength, meta.pieceCount) : null;
}
