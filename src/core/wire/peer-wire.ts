/**
 * One peer connection speaking the peer wire protocol (BEP 3), with the fast extension (BEP 6)
 * and the extension protocol (BEP 10): the glue between a transport `Connection` and the pure
 * codecs (wire/), the per-connection state machine (wire/state.ts) and the BEP 10 plug-in
 * registry (extension/). The session decides what to say; this module says it correctly.
 *
 * Why it works this way:
 * - Small messages (requests, haves, cancels) sent while handling one received chunk are joined
 *   into one write at the end of the current microtask run, so a burst of 50 requests costs one
 *   system call, not 50. A `piece` goes out as its 13-byte header and the block itself (never
 *   copied into a message buffer).
 * - Reading is pulled (`for await` over the connection); `beforeRead` lets the session hold the
 *   next read (a rate limit, a disk that is behind), which stops the socket and so the peer.
 * - Handlers run synchronously per message: no message of a peer is handled before the previous
 *   one, and the session's state changes in the same order the bytes arrived.
 * - Time comes from `now()`; timers that end a silent peer live in the session's tick, so one
 *   timer serves every peer.
 * - Received chunks go back to a transport that can reuse them (transport/tcp.ts
 *   `RecyclingConnection`) as soon as the decoder holds no byte of them: every view a handler
 *   gets (a block, a bitfield, an extended payload) is copied or done with before its handler
 *   returns, so after a dispatch only the decoder's unread tail still points into a chunk.
 */
import { BtError } from '../errors.js';
import { type ExtendedHandshake, type ExtendedHandshakeInit, type ExtensionFactory, ExtensionRegistry } from '../extension/index.js';
import { canRecycle } from '../transport/tcp.js';
import type { Connection } from '../transport/types.js';
import {
  ConnectionState,
  type Handshake,
  MessageDecoder,
  type Message,
  type ReceiveAction,
  type SendAction,
  encodeHandshake,
  encodeMessage,
  encodePieceHeader,
  negotiated,
  reservedWith,
} from './index.js';

export interface PeerWireOptions {
  /** The infohash we dial with (a v2-only torrent's: its SHA-256 infohash truncated to 20 bytes, BEP 52). */
  infoHash: Uint8Array;
  /**
   * Other infohashes a peer may use: a hybrid torrent is reached through its v1 and through its
   * (truncated) v2 infohash (BEP 52). To an incoming peer we answer with the one it used.
   */
  alsoInfoHashes?: readonly Uint8Array[];
  /** Set the BEP 52 v2 upgrade bit: we speak hash request / hashes / hash reject. */
  v2?: boolean;
  peerId: Uint8Array;
  /** Unknown for a magnet link until its metadata arrives (BEP 9): see `setPieceCount`. */
  pieceCount?: number;
  /** BEP 10 plug-ins (BEP 9 ut_metadata, BEP 11 ut_pex). */
  extensions?: readonly ExtensionFactory[];
  /** Fields of our BEP 10 handshake besides `m` (v, p, reqq, yourip). */
  extendedHandshake?: Omit<ExtendedHandshakeInit, 'm'>;
  now?: () => number;
  /** Set the BEP 5 DHT bit in our handshake (we run a DHT node and send `port`). */
  dht?: boolean;
  /** Largest block a peer may request from us or send us. Default 16 KiB. */
  maxBlockLength?: number;
}

export interface PeerWireHandler {
  /** Every message after the handshake, with what the state machine says to do about it. */
  onMessage(m: Message, action: ReceiveAction): void;
  /** The peer's BEP 10 handshake (each time one arrives). */
  onExtendedHandshake?(h: ExtendedHandshake): void;
  /** All frames of one received chunk were handled (a good moment to send requests). */
  onChunkEnd?(): void;
  /** Awaited before each read: the session's backpressure (rate limit, disk). */
  beforeRead?(bytes: number): Promise<void> | void;
}

/** Messages shorter than this are gathered into one write. */
const SMALL = 1024;

export class PeerWire {
  readonly conn: Connection;
  private readonly decoder: MessageDecoder;
  private readonly iterator: AsyncIterator<Uint8Array>;
  private readonly now: () => number;
  private readonly ourReserved: Uint8Array;
  state: ConnectionState | undefined;
  registry: ExtensionRegistry | undefined;
  peerHandshake: Handshake | undefined;
  /** Payload bytes (piece data) received and sent, and all bytes received. */
  downloadedPayload = 0;
  uploadedPayload = 0;
  receivedBytes = 0;
  private outbox: Uint8Array[] = [];
  private outboxSmall = 0;
  /** Called once the transport is done with what is queued now (see `sendPiece`'s `onWritten`). */
  private outboxWritten: (() => void)[] = [];
  private flushScheduled = false;
  private closedWith: BtError | undefined;
  private isClosed = false;
  /** Ending gracefully (`closeGracefully`): nothing more is sent, what arrives is read and ignored. */
  private closing = false;
  /** Chunks pushed into the decoder and not yet given back to the transport. */
  private held: Uint8Array[] = [];
  private heldBytes = 0;
  private readonly recycle: ((chunk: Uint8Array) => void) | undefined;

  constructor(
    conn: Connection,
    private readonly options: PeerWireOptions,
  ) {
    this.conn = conn;
    this.now = options.now ?? (() => performance.now());
    this.ourReserved = reservedWith([...(['fast', 'extended'] as const), ...(options.dht ? (['dht'] as const) : []), ...(options.v2 ? (['v2'] as const) : [])]);
    this.decoder = new MessageDecoder({
      ...(options.pieceCount !== undefined ? { pieceCount: options.pieceCount } : {}),
      ...(options.maxBlockLength ? { maxBlockLength: options.maxBlockLength } : {}),
    });
    this.iterator = conn[Symbol.asyncIterator]();
    if (canRecycle(conn)) this.recycle = (chunk) => conn.recycle(chunk);
    void conn.closed.then(() => {
      this.isClosed = true;
    });
  }

  /**
   * The piece count became known (BEP 9 metadata arrived after the connection was made): from now
   * on the decoder checks bitfield lengths and piece indices against it.
   */
  setPieceCount(n: number): void {
    this.decoder.setPieceCount(n);
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Why the connection ended, when it ended with an error. */
  get error(): BtError | undefined {
    return this.closedWith;
  }

  /**
   * Exchange BEP 3 handshakes. We send ours first when we dialed; when the peer dialed, we wait
   * for its handshake and `accept` it (right torrent?) before answering. Resolves with the
   * peer's handshake; rejects with a BtError (WIRE_…, NET_…, PEER_HANDSHAKE_TIMEOUT,
   * PEER_WRONG_TORRENT) after closing the connection.
   */
  async handshake(options: { timeoutMs: number; accept?: (h: Handshake) => void; signal?: AbortSignal }): Promise<Handshake> {
    const ours = (infoHash: Uint8Array) => encodeHandshake({ reserved: this.ourReserved, infoHash, peerId: this.options.peerId });
    if (this.conn.direction === 'outgoing') this.conn.write(ours(this.options.infoHash));
    const timer = setTimeout(
      () => this.close(new BtError('PEER_HANDSHAKE_TIMEOUT', 'network', `no handshake within ${options.timeoutMs} ms`)),
      options.timeoutMs,
    );
    const onAbort = () => this.close();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      for (;;) {
        for (const frame of this.decoder.messages()) {
          if (frame.type !== 'handshake') throw new BtError('WIRE_BAD_HANDSHAKE', 'network', 'message before the handshake');
          const h = frame.handshake;
          // A hybrid's v2 upgrade (BEP 52): a peer that sees our upgrade bit on a v1 handshake may
          // answer with the truncated v2 infohash (libtorrent does), so both directions accept both.
          const ok = Buffer.compare(h.infoHash, this.options.infoHash) === 0 || (this.options.alsoInfoHashes ?? []).some((x) => Buffer.compare(h.infoHash, x) === 0);
          if (!ok) {
            throw new BtError('PEER_WRONG_TORRENT', 'network', 'the peer asked for another torrent', { detail: { infoHash: Buffer.from(h.infoHash).toString('hex') } });
          }
          options.accept?.(h);
          if (this.conn.direction === 'incoming') this.conn.write(ours(h.infoHash));
          this.peerHandshake = h;
          const features = negotiated(this.ourReserved, h.reserved);
          this.state = new ConnectionState(features, this.now());
          this.registry = new ExtensionRegistry(this.options.extensions ?? [], {
            send: (id, payload) => this.send({ type: 'extended', id, payload }),
          });
          this.registry.onHandshake(h);
          if (features.extended) this.send({ type: 'extended', id: 0, payload: this.registry.ourHandshake(this.options.extendedHandshake ?? {}) });
          return h;
        }
        if (this.decoder.handshakeDone) throw new BtError('WIRE_BAD_HANDSHAKE', 'network', 'handshake expected');
        const r = await this.iterator.next();
        if (r.done) throw this.closedWith ?? new BtError('PEER_CLOSED', 'network', 'the peer closed the connection during the handshake');
        this.receivedBytes += r.value.length;
        this.take(r.value);
      }
    } catch (err) {
      const e = err instanceof BtError ? err : new BtError('PEER_FAILED', 'network', (err as Error).message, { cause: err });
      this.close(this.closedWith ?? e);
      throw this.closedWith ?? e;
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  /**
   * Read and dispatch messages until the connection ends. Resolves when the peer closed or we
   * did; rejects with the BtError that ended it (after closing the connection).
   */
  async run(handler: PeerWireHandler): Promise<void> {
    const state = this.state;
    if (!state) throw new BtError('PEER_NO_HANDSHAKE', 'internal', 'run() before handshake()');
    try {
      // Frames already buffered with the handshake (a bitfield often arrives in the same chunk).
      this.dispatch(handler, state);
      this.release();
      for (;;) {
        if (handler.beforeRead) await handler.beforeRead(this.decoder.buffered);
        if (this.isClosed && !this.closedWith) return;
        const r = await this.iterator.next();
        if (r.done) break;
        const chunk = r.value;
        this.receivedBytes += chunk.length;
        state.touchReceived(this.now());
        this.take(chunk);
        this.dispatch(handler, state);
        this.release();
      }
      if (this.closedWith) throw this.closedWith;
    } catch (err) {
      const e = err instanceof BtError ? err : new BtError('PEER_FAILED', 'network', (err as Error).message, { cause: err });
      this.close(this.closedWith ?? e);
      throw this.closedWith ?? e;
    }
  }

  private take(chunk: Uint8Array): void {
    this.decoder.push(chunk);
    if (this.recycle) {
      this.held.push(chunk);
      this.heldBytes += chunk.length;
    }
  }

  /** Give back the chunks the decoder has read past (it keeps only the last `buffered` bytes). */
  private release(): void {
    if (!this.recycle) return;
    const keep = this.decoder.buffered;
    while (this.held.length > 0 && this.heldBytes - this.held[0]!.length >= keep) {
      const c = this.held.shift()!;
      this.heldBytes -= c.length;
      this.recycle(c);
    }
  }

  private dispatch(handler: PeerWireHandler, state: ConnectionState): void {
    const now = this.now();
    for (const m of this.decoder.messages()) {
      if (m.type === 'handshake') throw new BtError('WIRE_BAD_HANDSHAKE', 'network', 'a second handshake');
      const action = state.receive(m, now);
      if (m.type === 'piece') this.downloadedPayload += m.block.length;
      if (m.type === 'extended') {
        if (!this.closing) this.onExtended(handler, m.id, m.payload);
        continue;
      }
      if (this.closing) continue;
      handler.onMessage(m, action);
      if (this.isClosed) return;
    }
    if (!this.closing) handler.onChunkEnd?.();
  }

  private onExtended(handler: PeerWireHandler, id: number, payload: Uint8Array): void {
    try {
      // A copy: the decoded handshake (and plug-ins) may keep views of it past this call.
      const r = this.registry!.receive(id, Uint8Array.from(payload));
      if (r.kind === 'handshake') handler.onExtendedHandshake?.(r.handshake);
    } catch (err) {
      // A message for an extension we never announced is the peer's confusion, not an attack.
      if (err instanceof BtError && err.code === 'EXT_UNKNOWN_MESSAGE') return;
      throw err;
    }
  }

  /**
   * Send our BEP 10 handshake again (BEP 10 allows updates): after the metadata arrived, peers
   * connected before learn our `metadata_size` and that they may ask us for it (BEP 9).
   */
  resendExtendedHandshake(): void {
    if (!this.state?.features.extended || !this.registry) return;
    this.send({ type: 'extended', id: 0, payload: this.registry.ourHandshake(this.options.extendedHandshake ?? {}) });
  }

  /** Queue a message; small ones are joined into one write. Returns what the state machine says to do. */
  send(m: Message): SendAction {
    if (this.isClosed || this.closing || !this.state) return 'none';
    const action = this.state.sent(m, this.now());
    if (m.type === 'piece') {
      this.sendPiece(m.index, m.begin, m.block);
      return action;
    }
    const bytes = encodeMessage(m);
    this.push(bytes);
    return action;
  }

  /**
   * Send a block as a `piece` message (header, then the block, not copied). Returns false when
   * the transport is above its high-water mark: await `drained()` before sending more.
   * `onWritten` is called once the block's memory is no longer needed (written, or dropped
   * because the connection closed): a caller may then reuse it.
   */
  sendPiece(index: number, begin: number, block: Uint8Array, onWritten?: () => void): boolean {
    if (this.isClosed || this.closing || !this.state) {
      onWritten?.();
      return false;
    }
    this.state.lastSentAt = this.now();
    this.push(encodePieceHeader(index, begin, block.length));
    this.push(block);
    if (onWritten) this.outboxWritten.push(onWritten);
    this.uploadedPayload += block.length;
    return this.flush();
  }

  private push(bytes: Uint8Array): void {
    this.outbox.push(bytes);
    if (bytes.length < SMALL) this.outboxSmall++;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(() => this.flush());
    }
  }

  /** Write what is queued now. Returns the transport's "below high water". */
  flush(): boolean {
    this.flushScheduled = false;
    const out = this.outbox;
    if (out.length === 0) return true;
    this.outbox = [];
    const joinSmall = this.outboxSmall > 1;
    this.outboxSmall = 0;
    const waiting = this.outboxWritten;
    this.outboxWritten = [];
    // Writes complete in order: the last one's completion covers everything written before it.
    const written = waiting.length === 0 ? undefined : () => waiting.forEach((w) => w());
    if (out.length > 1 && this.conn.writev) return this.conn.writev(out, written);
    let ok = true;
    if (!joinSmall) {
      out.forEach((b, i) => (ok = this.conn.write(b, i === out.length - 1 ? written : undefined)));
      return ok;
    }
    // Join runs of small messages; large buffers (blocks) go as they are.
    const writes: Uint8Array[] = [];
    let run: Uint8Array[] = [];
    const endRun = () => {
      if (run.length === 1) writes.push(run[0]!);
      else if (run.length > 1) writes.push(Buffer.concat(run));
      run = [];
    };
    for (const b of out) {
      if (b.length < SMALL) run.push(b);
      else {
        endRun();
        writes.push(b);
      }
    }
    endRun();
    writes.forEach((b, i) => (ok = this.conn.write(b, i === writes.length - 1 ? written : undefined)));
    return ok;
  }

  drained(signal?: AbortSignal): Promise<void> {
    this.flush();
    return this.conn.drained(signal ? { signal } : {});
  }

  /**
   * Close after what is queued has reached the peer: flush, send our end of stream, go on reading
   * (and ignoring) until the peer closes too or `graceMs` passes, then close. For a clean stop: a
   * close with data still unread on our side resets the connection, and the peer may then lose
   * what it had not read yet — such as the `have` that tells it we completed.
   */
  async closeGracefully(graceMs: number): Promise<void> {
    if (this.isClosed || this.closing) return;
    this.flush();
    this.closing = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
    try {
      await Promise.race([this.conn.end().then(() => this.conn.closed), grace]);
    } finally {
      clearTimeout(timer);
      this.close();
    }
  }

  /** Close at once; `error` is kept as the reason. Idempotent. */
  close(error?: BtError): void {
    if (error && !this.closedWith) this.closedWith = error;
    if (this.isClosed) return;
    this.isClosed = true;
    this.outbox = [];
    // What was queued will never be written: its memory is the sender's again.
    for (const w of this.outboxWritten.splice(0)) w();
    this.conn.close();
  }
}
