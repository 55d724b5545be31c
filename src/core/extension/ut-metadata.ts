/**
 * BEP 9, "Extension for Peers to Send Metadata Files" (`ut_metadata`): fetching the info
 * dictionary of a magnet link from peers, and serving ours to them.
 *
 * The metadata is the info dictionary's bytes, cut into 16 KiB pieces (the last one shorter). A
 * peer announces `metadata_size` in its BEP 10 handshake; messages are a bencoded dictionary
 * (`msg_type` 0 request, 1 data, 2 reject; `piece`; `total_size` in data) and, for data, the
 * piece's bytes right after the dictionary.
 *
 * Three layers, from pure to stateful:
 * - the codec: `encodeMetadataMessage` / `decodeMetadataMessage` (pure; `readMetadataMessage`
 *   also says where the dictionary ended);
 * - `MetadataFetcher`: one per torrent, across every connection. It adopts one size, asks each
 *   missing piece of one peer at a time (several peers at once), re-asks elsewhere on a reject or
 *   a timeout (`tick()`), checks the SHA-1 against the infohash and finds who lied;
 * - `utMetadata(options)`: THE plug-in of one connection (ExtensionFactory). A connection has
 *   exactly one extension named `ut_metadata` (the registry refuses two), so this one plug-in both
 *   serves (when we have the info dictionary) and fetches (when given a fetcher):
 *
 *     // a download from a magnet link: fetch, and serve once verified
 *     const fetcher = new MetadataFetcher({ infoHash, onEvent: (e) => emit(e) });
 *     extensions: [fetcher.plugin(peerKey, { drop: (err) => wire.close(err) })]
 *     … every second: fetcher.tick();  when a connection ends: fetcher.peerClosed(peerKey)
 *     const info = await fetcher.metadata;  // SHA-1 checked against infoHash
 *
 *     // a seed (or a download that started from a .torrent): serve only
 *     extensions: [metadataServer(() => meta.infoBytes)]
 *
 *     // both, explicitly: utMetadata({ get, fetch: { fetcher, peer, drop } })
 *
 *   `fetcher.plugin(…)` is `utMetadata({ fetch })`: it serves the fetcher's bytes once verified.
 *   `metadataServer(get)` is `utMetadata({ get })`.
 *
 * Trust: a peer's word (its size, its pieces) is checked before it costs us anything. A data
 * message that contradicts the size in use (out-of-range piece, other `total_size`, wrong length)
 * is thrown as a BtError from `onMessage`, which has the session drop the peer. A lie only visible
 * after the fact (the assembled bytes fail SHA-1) is found by refetching from one peer at a time
 * and comparing (see `MetadataFetcher`), and the liar is dropped through the `drop` hook.
 * A `metadata_size` over `maxSize` is not fetched (event `metadata-rejected`), but that alone does
 * not cost the peer its connection: it may still be a good source of pieces. Memory is bounded by
 * `maxSize`: one buffer of the adopted size, and one digest per piece as evidence.
 *
 * For the session, beyond the names it codes against:
 * - events come through the `onEvent` option, synchronously, in order (not an AsyncIterable);
 * - `peerClosed(peer)` must be called when a connection ends (its requests go to others at once,
 *   rather than after a timeout), before another connection under the same key is attached;
 * - `drop(err)` may be called synchronously while another peer's message is being handled (the
 *   last piece arrived and condemned a liar): close that connection, then call `peerClosed`;
 * - `MetadataMessage` has a fourth variant, `unknown` (BEP 9: unknown msg_type is ignored);
 * - `bytes()` and `progress()` read the state; `attach` is what `utMetadata` uses.
 */
import { createHash } from 'node:crypto';
import { type BDict, decode, encode, isDict } from '../bencode/index.js';
import { BtError, type CodeOf, type ErrorCode } from '../errors.js';
import type { ExtendedHandshake } from './handshake.js';
import type { ExtensionContext, ExtensionFactory, ExtensionPlugin } from './registry.js';

/** The extension's name in the BEP 10 `m` dictionary. */
export const UT_METADATA = 'ut_metadata';
/** BEP 9: "The metadata is handled in blocks of 16KiB (16384 Bytes)". */
export const METADATA_PIECE_LENGTH = 16384;
/** libtorrent's cap (its `max_metadata_size` setting): larger announced sizes are not fetched. */
export const DEFAULT_MAX_METADATA_SIZE = 30 * 1024 * 1024;
/** A request unanswered this long goes to another peer. */
export const DEFAULT_METADATA_REQUEST_TIMEOUT_MS = 10_000;
/** Requests in flight to one peer: the metadata is small, a few in flight keep a peer busy. */
export const DEFAULT_MAX_OUTSTANDING_PER_PEER = 4;

/** BEP 9 `msg_type` values. */
export const METADATA_MSG_TYPE = { request: 0, data: 1, reject: 2 } as const;

/**
 * One ut_metadata message. `unknown` (an addition to the three of BEP 9) is a `msg_type` this
 * module does not know: BEP 9 says "an unrecognized message ID MUST be ignored", so it is decoded
 * rather than refused, and the plug-in ignores it.
 */
export type MetadataMessage =
  | { type: 'request'; piece: number }
  | { type: 'data'; piece: number; totalSize: number; data: Uint8Array }
  | { type: 'reject'; piece: number }
  | { type: 'unknown'; msgType: number };

/** Piece indices and sizes above these are nonsense for any metadata we would accept. */
const MAX_PIECE_INDEX = 0x7fffffff;
const MAX_TOTAL_SIZE = 0x7fffffff;

/** Pieces of metadata of `size` bytes. */
export const metadataPieceCount = (size: number): number => Math.ceil(size / METADATA_PIECE_LENGTH);

/** Bytes of piece `piece` of metadata of `size` bytes (BEP 9: 16 KiB except the last), or 0 when out of range. */
export function metadataPieceLength(size: number, piece: number): number {
  const start = piece * METADATA_PIECE_LENGTH;
  if (piece < 0 || start >= size) return 0;
  return Math.min(METADATA_PIECE_LENGTH, size - start);
}

const badMessage = (message: string, detail?: Record<string, unknown>, cause?: unknown) =>
  new BtError('EXT_BAD_METADATA_MESSAGE', 'network', `bad ut_metadata message: ${message}`, {
    ...(detail ? { detail } : {}),
    ...(cause === undefined ? {} : { cause }),
  });

const isIndex = (v: unknown, max: number): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v <= max;

/** The payload (after the extended id) of one message. Throws RangeError for values no peer could accept. */
export function encodeMetadataMessage(m: MetadataMessage): Buffer {
  if (m.type === 'unknown') throw new RangeError('an unknown ut_metadata message cannot be encoded');
  if (!isIndex(m.piece, MAX_PIECE_INDEX)) throw new RangeError(`ut_metadata piece ${m.piece} is not 0..2^31-1`);
  const dict = new Map<string, number>([
    ['msg_type', METADATA_MSG_TYPE[m.type]],
    ['piece', m.piece],
  ]);
  if (m.type !== 'data') return encode(dict);
  if (!isIndex(m.totalSize, MAX_TOTAL_SIZE) || m.totalSize === 0) throw new RangeError(`ut_metadata total_size ${m.totalSize} is not 1..2^31-1`);
  if (m.data.length > METADATA_PIECE_LENGTH) throw new RangeError(`ut_metadata piece of ${m.data.length} bytes (at most ${METADATA_PIECE_LENGTH})`);
  dict.set('total_size', m.totalSize);
  const head = encode(dict);
  return Buffer.concat([head, m.data]);
}

export interface ReadMetadataMessage {
  message: MetadataMessage;
  /** Bytes of the bencoded dictionary (where a data message's piece bytes begin). */
  dictLength: number;
}

/**
 * Decode a message and say where its dictionary ended. The end is found by the bencode decoder
 * (with small depth and item limits), never by searching for `ee`: a piece's bytes, or a key
 * this module does not know, may contain any byte. Bencode form is lenient (key order is not our
 * concern: the metadata itself is checked by SHA-1). Throws EXT_BAD_METADATA_MESSAGE (category
 * network) for anything malformed: not a dictionary, a missing or wrong-typed `msg_type`, `piece`
 * or `total_size`, a data piece over 16 KiB, bytes after a request or reject.
 */
export function readMetadataMessage(payload: Uint8Array): ReadMetadataMessage {
  let dict: BDict;
  let end: number;
  try {
    const r = decode(payload, { mode: 'lenient', allowTrailing: true, maxDepth: 4, maxItems: 64 });
    if (!isDict(r.value)) throw badMessage('not a dictionary');
    dict = r.value;
    end = r.end;
  } catch (e) {
    if (e instanceof BtError && e.code === 'EXT_BAD_METADATA_MESSAGE') throw e;
    throw badMessage(e instanceof Error ? e.message : String(e), undefined, e);
  }
  const msgType = dict.get('msg_type');
  if (!isIndex(msgType, MAX_PIECE_INDEX)) throw badMessage('missing or invalid msg_type');
  // BEP 9: "an unrecognized message ID MUST be ignored" (for future extensions): nothing else is read.
  if (msgType > 2) return { message: { type: 'unknown', msgType }, dictLength: end };
  const piece = dict.get('piece');
  if (!isIndex(piece, MAX_PIECE_INDEX)) throw badMessage('missing or invalid piece', { msgType });
  const trailing = payload.length - end;
  if (msgType !== METADATA_MSG_TYPE.data) {
    if (trailing !== 0) throw badMessage(`${trailing} bytes after a ${msgType === 0 ? 'request' : 'reject'}`, { msgType, trailing });
    return { message: { type: msgType === 0 ? 'request' : 'reject', piece }, dictLength: end };
  }
  const totalSize = dict.get('total_size');
  if (!isIndex(totalSize, MAX_TOTAL_SIZE) || totalSize === 0) throw badMessage('missing or invalid total_size', { piece });
  if (trailing > METADATA_PIECE_LENGTH) throw badMessage(`a piece of ${trailing} bytes (at most ${METADATA_PIECE_LENGTH})`, { piece, length: trailing });
  return { message: { type: 'data', piece, totalSize, data: payload.subarray(end) }, dictLength: end };
}

/** Decode one message (see `readMetadataMessage`). A data message's `data` is a view of `payload`. */
export function decodeMetadataMessage(payload: Uint8Array): MetadataMessage {
  return readMetadataMessage(payload).message;
}

// ---------------------------------------------------------------------------------------------
// Fetching

export type MetadataEvent =
  /** A peer offers metadata of this size (its handshake's `metadata_size`). */
  | { type: 'metadata-peer'; peer: string; size: number }
  /** A piece arrived and was kept. */
  | { type: 'metadata-piece'; peer: string; piece: number; pieces: number }
  /** A peer we stopped using (for a while or for good) or dropped; `code` says why. */
  | { type: 'metadata-rejected'; peer: string; reason: string; code: ErrorCode }
  /** The assembled bytes did not hash to the infohash; these peers had sent them. */
  | { type: 'metadata-hash-mismatch'; peers: string[] };

export interface MetadataFetcherOptions {
  /** 20-byte v1 infohash the metadata must SHA-1 to (or, with `infoHashV2`, the v2 one truncated). */
  infoHash: Uint8Array;
  /** A v2-only torrent's 32-byte infohash: the metadata must SHA-256 to it instead (BEP 52). */
  infoHashV2?: Uint8Array;
  /** Largest metadata fetched. Default DEFAULT_MAX_METADATA_SIZE. */
  maxSize?: number;
  /** Milliseconds, monotonic. Default performance.now. */
  now?: () => number;
  /** Re-ask another peer after this long. Default DEFAULT_METADATA_REQUEST_TIMEOUT_MS. */
  requestTimeoutMs?: number;
  /** Default DEFAULT_MAX_OUTSTANDING_PER_PEER. */
  maxOutstandingPerPeer?: number;
  /** Events as they happen, synchronously (the session forwards them as NDJSON). Must not throw. */
  onEvent?: (e: MetadataEvent) => void;
}

export interface MetadataProgress {
  /** The size being assembled, once one was adopted. */
  size: number | undefined;
  pieces: number;
  received: number;
  done: boolean;
}

/** What the fetcher needs of one connection (made by `utMetadata`). */
export interface MetadataFetchLink {
  /** The peer's extended handshake, each time one arrives. */
  handshake(h: ExtendedHandshake, supported: boolean): void;
  /** A data or reject message from the peer. Throws BtError when the peer must be dropped. */
  message(m: MetadataMessage): void;
  /** The peer sent something malformed (`err`, about to be thrown to the session): stop using it. */
  malformed(err: BtError): void;
}

/** Rejects from one peer after which it is not asked again. */
const MAX_REJECTS = 8;
/** Data nobody asked for (late answers are counted here only when nobody asked) before the peer is dropped. */
const MAX_UNREQUESTED = 64;
/** Timed-out requests remembered per peer (their late answers are still welcome). */
const MAX_LATE = 64;

interface PeerRecord {
  key: string;
  ctx: ExtensionContext;
  drop: (err: BtError) => void;
  /** Its announced metadata_size, when usable (positive and within maxSize). */
  size: number | undefined;
  supported: boolean;
  /** Pieces requested and not answered: piece → when asked. */
  outstanding: Map<number, number>;
  /** Requests that timed out: an answer is still welcome if the piece is still missing. */
  late: Set<number>;
  /** Timed out: not asked again until it answers something. */
  stalled: boolean;
  /** After a reject, not asked again before this time. */
  backoffUntil: number;
  rejects: number;
  unrequested: number;
  /** Dropped, closed or replaced: ignore everything from it. */
  gone: boolean;
  /** Not used again (too many rejects, a size over the cap). */
  refused: boolean;
}

/**
 * Assembles one info dictionary from many peers. Every method is synchronous and bounded.
 *
 * How a lie is found: if the assembled bytes fail SHA-1 and one peer sent every piece, that peer
 * lied and is dropped. If several did, each piece's digest and sender are kept as evidence, and
 * the metadata is fetched again from ONE peer at a time (peers that had no part in the failure
 * first). A single-source copy that fails condemns its source; one that passes is the truth, and
 * every sender whose evidence differs from it is dropped. Each failure thus removes at least one
 * peer, so it ends. If no peer remains that announces the size in use, the fetcher adopts the
 * size most other peers announce (the adopted size was a lie or a mistake).
 */
export class MetadataFetcher {
  readonly metadata: Promise<Uint8Array>;
  private resolve!: (bytes: Uint8Array) => void;
  private readonly infoHash: Buffer;
  private readonly infoHashV2: Buffer | null;
  private readonly maxSize: number;
  private readonly now: () => number;
  private readonly timeoutMs: number;
  private readonly maxOutstanding: number;
  private readonly onEvent: (e: MetadataEvent) => void;
  private readonly startedAt: number;
  private readonly peers = new Map<string, PeerRecord>();
  /** Peers that lied: a reconnection under the same key is not used. */
  private readonly banned = new Set<string>();

  private size: number | undefined;
  private buffer: Uint8Array | undefined;
  /** Per piece: who sent the bytes now in `buffer`, or undefined while missing. */
  private from: (string | undefined)[] = [];
  /** Per piece: who is being asked for it. */
  private askedOf: (string | undefined)[] = [];
  /** Pieces to ask for (may hold stale entries: skipped when popped). */
  private queue: number[] = [];
  private received = 0;
  /** After a multi-peer hash failure: fetch from one peer at a time. */
  private singleSource = false;
  private source: string | undefined;
  /** Per piece: sender → SHA-1 of what it sent, from failed attempts. */
  private evidence = new Map<number, Map<string, string>>();
  private verified: Uint8Array | undefined;
  private outcome: { peers: string[]; elapsedMs: number } | null = null;

  constructor(options: MetadataFetcherOptions) {
    if (options.infoHash.length !== 20) throw new RangeError(`infohash must be 20 bytes, got ${options.infoHash.length}`);
    this.infoHash = Buffer.from(options.infoHash);
    this.infoHashV2 = options.infoHashV2 ? Buffer.from(options.infoHashV2) : null;
    this.maxSize = options.maxSize ?? DEFAULT_MAX_METADATA_SIZE;
    this.now = options.now ?? (() => performance.now());
    this.timeoutMs = options.requestTimeoutMs ?? DEFAULT_METADATA_REQUEST_TIMEOUT_MS;
    this.maxOutstanding = Math.max(1, options.maxOutstandingPerPeer ?? DEFAULT_MAX_OUTSTANDING_PER_PEER);
    this.onEvent = options.onEvent ?? (() => undefined);
    this.startedAt = this.now();
    this.metadata = new Promise((resolve) => (this.resolve = resolve));
  }

  /**
   * The BEP 10 plug-in for one connection: fetches through it, and serves our metadata on it once
   * verified. `peer` keys the connection in events; `drop(err)` asks the session to drop the
   * connection (when we learn after the fact that it lied).
   */
  plugin(peer: string, hooks: { drop(err: BtError): void }): ExtensionFactory {
    return utMetadata({ fetch: { fetcher: this, peer, drop: hooks.drop } });
  }

  /**
   * Attach one connection (used by `utMetadata`; the session uses `plugin`). A second attach with
   * the same key replaces the first (a reconnection): what was asked of the old one is re-asked.
   */
  attach(peer: string, ctx: ExtensionContext, drop: (err: BtError) => void): MetadataFetchLink {
    const old = this.peers.get(peer);
    if (old) this.forget(old);
    const rec: PeerRecord = {
      key: peer,
      ctx,
      drop,
      size: undefined,
      supported: false,
      outstanding: new Map(),
      late: new Set(),
      stalled: false,
      backoffUntil: 0,
      rejects: 0,
      unrequested: 0,
      gone: false,
      refused: this.banned.has(peer),
    };
    this.peers.set(peer, rec);
    return {
      handshake: (h, supported) => this.onHandshake(rec, h, supported),
      message: (m) => this.onMessage(rec, m),
      malformed: (err) => {
        if (rec.gone) return;
        this.forget(rec);
        this.event({ type: 'metadata-rejected', peer: rec.key, reason: err.message, code: err.code });
        this.settle();
      },
    };
  }

  /**
   * The connection of `peer` ended: its requests go to others. Call it for every connection that
   * closes, before a new connection under the same key is attached.
   */
  peerClosed(peer: string): void {
    const rec = this.peers.get(peer);
    if (rec) this.forget(rec);
    this.settle();
  }

  /** Re-request timed-out pieces from other peers; the session calls it from its 1 s timer. */
  tick(): void {
    if (this.verified) return;
    const now = this.now();
    for (const rec of this.peers.values()) {
      let timedOut = 0;
      for (const [piece, at] of rec.outstanding) {
        if (now - at < this.timeoutMs) continue;
        rec.outstanding.delete(piece);
        if (rec.late.size >= MAX_LATE) rec.late.clear();
        rec.late.add(piece);
        this.release(piece, rec.key);
        timedOut++;
      }
      if (timedOut > 0 && !rec.stalled) {
        rec.stalled = true;
        this.event({ type: 'metadata-rejected', peer: rec.key, reason: `no answer within ${this.timeoutMs} ms`, code: 'EXT_METADATA_TIMEOUT' });
      }
    }
    this.settle();
  }

  /** Which peers contributed to the final metadata, and ms from construction to completion. */
  result(): { peers: string[]; elapsedMs: number } | null {
    return this.outcome;
  }

  /** The verified info dictionary, or null before. */
  bytes(): Uint8Array | null {
    return this.verified ?? null;
  }

  progress(): MetadataProgress {
    return { size: this.size, pieces: this.from.length, received: this.received, done: this.verified !== undefined };
  }

  // --- per-connection input

  private onHandshake(rec: PeerRecord, h: ExtendedHandshake, supported: boolean): void {
    if (rec.gone) return;
    rec.supported = supported;
    // Turned off (a later handshake with ut_metadata 0): what it was asked will not come.
    if (!supported) this.releaseAll(rec);
    const announced = h.metadataSize;
    let size: number | undefined;
    if (announced !== undefined && announced > this.maxSize) {
      if (!rec.refused) {
        this.event({
          type: 'metadata-rejected',
          peer: rec.key,
          reason: `metadata_size ${announced} is over the ${this.maxSize}-byte limit`,
          code: 'EXT_METADATA_TOO_LARGE',
        });
      }
      rec.refused = true;
    } else if (announced !== undefined) {
      size = announced;
    }
    if (size !== rec.size) {
      // What it was asked under its old size is not its to answer now.
      this.releaseAll(rec);
      rec.size = size;
      if (size !== undefined && supported) this.event({ type: 'metadata-peer', peer: rec.key, size });
    }
    this.settle();
  }

  private onMessage(rec: PeerRecord, m: MetadataMessage): void {
    if (rec.gone || this.verified) return;
    if (m.type === 'reject') return this.onReject(rec, m.piece);
    if (m.type === 'data') return this.onData(rec, m);
  }

  private onReject(rec: PeerRecord, piece: number): void {
    if (!rec.outstanding.delete(piece) && !rec.late.delete(piece)) {
      this.countUnrequested(rec, piece);
      return;
    }
    rec.stalled = false;
    rec.rejects++;
    // BEP 9: a peer without the whole metadata rejects; give it time before asking again.
    rec.backoffUntil = this.now() + this.timeoutMs;
    this.release(piece, rec.key);
    if (rec.rejects >= MAX_REJECTS && !rec.refused) {
      rec.refused = true;
      this.releaseAll(rec);
      this.event({ type: 'metadata-rejected', peer: rec.key, reason: `${rec.rejects} requests rejected`, code: 'EXT_METADATA_REJECTED' });
    }
    this.settle();
  }

  private onData(rec: PeerRecord, m: Extract<MetadataMessage, { type: 'data' }>): void {
    const size = this.size;
    const requested = rec.outstanding.has(m.piece) || rec.late.has(m.piece);
    // A peer that has the size in use is held to it: any contradiction is a lie or a bug, and
    // costs it the connection (thrown: the session drops it).
    if (size !== undefined && rec.size === size) {
      const pieces = metadataPieceCount(size);
      if (m.piece >= pieces) {
        throw this.fail(rec, 'EXT_METADATA_PIECE_OUT_OF_RANGE', `piece ${m.piece} of metadata that has ${pieces}`, { piece: m.piece, pieces });
      }
      if (m.totalSize !== size) {
        throw this.fail(rec, 'EXT_METADATA_SIZE_MISMATCH', `total_size ${m.totalSize}, but it announced ${size}`, { totalSize: m.totalSize, size });
      }
      const want = metadataPieceLength(size, m.piece);
      if (m.data.length !== want) {
        throw this.fail(rec, 'EXT_METADATA_BAD_PIECE_LENGTH', `piece ${m.piece} is ${m.data.length} bytes, not ${want}`, {
          piece: m.piece,
          length: m.data.length,
          expected: want,
        });
      }
    }
    if (!requested || size === undefined || rec.size !== size) {
      this.countUnrequested(rec, m.piece);
      return;
    }
    rec.outstanding.delete(m.piece);
    rec.late.delete(m.piece);
    rec.stalled = false;
    if (this.askedOf[m.piece] === rec.key) this.askedOf[m.piece] = undefined;
    // Already here (a late answer raced a re-request), or from a peer that is not the single source.
    if (this.from[m.piece] !== undefined || (this.singleSource && rec.key !== this.source)) {
      if (this.from[m.piece] === undefined && this.askedOf[m.piece] === undefined) this.queue.push(m.piece);
      this.settle();
      return;
    }
    this.buffer!.set(m.data, m.piece * METADATA_PIECE_LENGTH);
    this.from[m.piece] = rec.key;
    this.received++;
    this.event({ type: 'metadata-piece', peer: rec.key, piece: m.piece, pieces: this.from.length });
    if (this.received === this.from.length) this.verify();
    this.settle();
  }

  private countUnrequested(rec: PeerRecord, piece: number): void {
    // Late answers after a timeout are normal; a stream of data nobody asked for is not.
    if (++rec.unrequested > MAX_UNREQUESTED) {
      throw this.fail(rec, 'EXT_METADATA_UNREQUESTED', `${rec.unrequested} ut_metadata messages nobody asked for`, { piece });
    }
  }

  // --- verification

  private verify(): void {
    const bytes = this.buffer!;
    const contributors = unique(this.from as string[]);
    const good = this.infoHashV2 ? createHash('sha256').update(bytes).digest().equals(this.infoHashV2) : sha1(bytes) === this.infoHash.toString('hex');
    if (good) {
      this.complete(bytes, contributors);
      return;
    }
    this.event({ type: 'metadata-hash-mismatch', peers: contributors });
    if (contributors.length === 1) {
      this.condemn(contributors[0]!, 'its metadata does not hash to the infohash');
    } else {
      for (let i = 0; i < this.from.length; i++) {
        let byPeer = this.evidence.get(i);
        if (!byPeer) this.evidence.set(i, (byPeer = new Map()));
        byPeer.set(this.from[i]!, sha1(pieceOf(bytes, i)));
      }
      this.singleSource = true;
    }
    this.source = undefined;
    this.restartPieces();
  }

  private complete(bytes: Uint8Array, contributors: string[]): void {
    this.verified = bytes;
    this.outcome = { peers: contributors, elapsedMs: this.now() - this.startedAt };
    for (const rec of this.peers.values()) {
      rec.outstanding.clear();
      rec.late.clear();
    }
    this.queue = [];
    // A verified copy tells who lied in the failed attempts.
    for (const [piece, byPeer] of this.evidence) {
      const truth = sha1(pieceOf(bytes, piece));
      for (const [peer, digest] of byPeer) {
        if (digest !== truth && !this.banned.has(peer)) this.condemn(peer, `its piece ${piece} of the metadata was wrong`);
      }
    }
    this.evidence.clear();
    this.resolve(bytes);
  }

  /** Drop a peer that lied (after the fact: through the session's hook) and never use its key again. */
  private condemn(peer: string, reason: string): void {
    this.banned.add(peer);
    const rec = this.peers.get(peer);
    this.event({ type: 'metadata-rejected', peer, reason, code: 'EXT_METADATA_HASH_MISMATCH' });
    if (!rec) return;
    this.forget(rec);
    rec.drop(new BtError('EXT_METADATA_HASH_MISMATCH', 'network', `ut_metadata: ${reason}`, { detail: { peer } }));
  }

  /** A lie seen in a message: the peer is forgotten here and the error is thrown for the session. */
  private fail(rec: PeerRecord, code: Extract<CodeOf<'network'>, `EXT_METADATA_${string}`>, reason: string, detail: Record<string, unknown>): BtError {
    this.banned.add(rec.key);
    this.forget(rec);
    this.event({ type: 'metadata-rejected', peer: rec.key, reason, code });
    this.settle();
    return new BtError(code, 'network', `ut_metadata: ${reason}`, { detail: { peer: rec.key, ...detail } });
  }

  // --- bookkeeping

  private event(e: MetadataEvent): void {
    this.onEvent(e);
  }

  private forget(rec: PeerRecord): void {
    rec.gone = true;
    this.releaseAll(rec);
    if (this.peers.get(rec.key) === rec) this.peers.delete(rec.key);
  }

  private releaseAll(rec: PeerRecord): void {
    for (const piece of rec.outstanding.keys()) this.release(piece, rec.key);
    rec.outstanding.clear();
    rec.late.clear();
  }

  /** `piece` is no longer being asked of `peer`: ask someone else. */
  private release(piece: number, peer: string): void {
    if (this.askedOf[piece] !== peer) return;
    this.askedOf[piece] = undefined;
    if (this.from[piece] === undefined) this.queue.push(piece);
  }

  private usable(rec: PeerRecord, now: number): boolean {
    return (
      !rec.gone && !rec.refused && rec.supported && rec.size !== undefined && rec.size === this.size && !rec.stalled && now >= rec.backoffUntil
    );
  }

  /** Adopt a size if needed, pick the single source if needed, and send requests. */
  private settle(): void {
    if (this.verified) return;
    this.adoptSize();
    if (this.size === undefined) return;
    const now = this.now();
    let candidates = [...this.peers.values()].filter((r) => this.usable(r, now));
    if (this.singleSource) {
      let source = this.source === undefined ? undefined : this.peers.get(this.source);
      if (!source || !this.usable(source, now)) {
        // Peers with no part in a failure first: they are the likeliest to be honest.
        const fresh = candidates.filter((r) => ![...this.evidence.values()].some((m) => m.has(r.key)));
        const next = fresh[0] ?? candidates[0];
        if (next?.key !== this.source) this.switchSource(next?.key);
        source = next;
      }
      candidates = source ? [source] : [];
    }
    // Round-robin, one request per peer per round, so the pieces spread over the peers.
    let progressed = true;
    for (let round = 0; progressed && round < this.maxOutstanding; round++) {
      progressed = false;
      for (const rec of candidates) {
        if (rec.gone || rec.outstanding.size >= this.maxOutstanding) continue;
        const piece = this.nextPiece();
        if (piece === undefined) return;
        if (!rec.ctx.send(encodeMetadataMessage({ type: 'request', piece }))) {
          // The peer turned ut_metadata off (a later handshake) in the meantime.
          rec.supported = false;
          this.queue.push(piece);
          continue;
        }
        rec.outstanding.set(piece, now);
        this.askedOf[piece] = rec.key;
        progressed = true;
      }
    }
  }

  private nextPiece(): number | undefined {
    while (this.queue.length > 0) {
      const piece = this.queue.pop()!;
      if (this.from[piece] === undefined && this.askedOf[piece] === undefined) return piece;
    }
    return undefined;
  }

  /** A new single source: what the old one sent is set aside, so every copy has one sender. */
  private switchSource(peer: string | undefined): void {
    this.source = peer;
    this.restartPieces();
  }

  /** Forget every piece received (not what is being asked) and queue them again. */
  private restartPieces(): void {
    this.received = 0;
    this.from = this.from.map(() => undefined);
    this.queue = [];
    for (let i = this.from.length - 1; i >= 0; i--) if (this.askedOf[i] === undefined) this.queue.push(i);
  }

  /**
   * Keep the size in use while some live peer announces it; otherwise adopt the size most live
   * peers announce (ties: the smallest, the cheaper to try), starting over.
   */
  private adoptSize(): void {
    const votes = new Map<number, number>();
    for (const rec of this.peers.values()) {
      if (rec.gone || rec.refused || !rec.supported || rec.size === undefined) continue;
      votes.set(rec.size, (votes.get(rec.size) ?? 0) + 1);
    }
    if (this.size !== undefined && votes.has(this.size)) return;
    let best: number | undefined;
    for (const [size, n] of votes) {
      const bestVotes = best === undefined ? -1 : votes.get(best)!;
      if (n > bestVotes || (n === bestVotes && size < best!)) best = size;
    }
    if (best === undefined || best === this.size) return;
    for (const rec of this.peers.values()) this.releaseAll(rec);
    this.size = best;
    this.buffer = new Uint8Array(best);
    const pieces = metadataPieceCount(best);
    this.from = new Array<string | undefined>(pieces).fill(undefined);
    this.askedOf = new Array<string | undefined>(pieces).fill(undefined);
    this.evidence.clear();
    this.singleSource = false;
    this.source = undefined;
    this.restartPieces();
  }
}

// ---------------------------------------------------------------------------------------------
// The plug-in

export interface UtMetadataOptions {
  /** Our info dictionary's original bytes, or null while unknown (we then reject every request). */
  get?: () => Uint8Array | null;
  /** Fetch through this connection. Without `get`, the fetcher's bytes are served once verified. */
  fetch?: { fetcher: MetadataFetcher; peer: string; drop(err: BtError): void };
  /**
   * Data messages we send on one connection, as a multiple of the metadata's pieces (plus 16):
   * past it, requests are rejected. A peer needs each piece once; a few re-asks are fair.
   * Default 4.
   */
  serveBudget?: number;
}

/**
 * The `ut_metadata` plug-in of one connection: serves (when `get` or a verified fetcher has the
 * info dictionary) and fetches (when `fetch` is given). Register exactly one per connection.
 */
export function utMetadata(options: UtMetadataOptions): ExtensionFactory {
  return (ctx): ExtensionPlugin => {
    const fetch = options.fetch;
    const link = fetch ? fetch.fetcher.attach(fetch.peer, ctx, fetch.drop) : undefined;
    const get = (): Uint8Array | null => options.get?.() ?? fetch?.fetcher.bytes() ?? null;
    const budgetFactor = options.serveBudget ?? 4;
    let served = 0;

    const serve = (piece: number): void => {
      const info = get();
      const length = info ? metadataPieceLength(info.length, piece) : 0;
      // BEP 9: "peers that do not have the entire metadata MUST respond with a reject"; a piece
      // out of range, or a peer past its budget, gets the same answer.
      if (!info || length === 0 || served >= budgetFactor * metadataPieceCount(info.length) + 16) {
        ctx.send(encodeMetadataMessage({ type: 'reject', piece }));
        return;
      }
      served++;
      const start = piece * METADATA_PIECE_LENGTH;
      ctx.send(encodeMetadataMessage({ type: 'data', piece, totalSize: info.length, data: info.subarray(start, start + length) }));
    };

    return {
      name: UT_METADATA,
      // BEP 9: metadata_size only when we know it.
      handshakeFields: (): Record<string, number> => {
        const info = get();
        return info ? { metadata_size: info.length } : {};
      },
      onExtendedHandshake: (h, supported) => link?.handshake(h, supported),
      onMessage: (payload) => {
        let m: MetadataMessage;
        try {
          m = decodeMetadataMessage(payload);
        } catch (e) {
          // Malformed: the session drops the peer; the fetcher stops counting on it first.
          if (e instanceof BtError) link?.malformed(e);
          throw e;
        }
        if (m.type === 'request') serve(m.piece);
        else link?.message(m);
      },
    };
  };
}

/** The plug-in of a connection that only serves: `utMetadata({ get })`. */
export function metadataServer(get: () => Uint8Array | null): ExtensionFactory {
  return utMetadata({ get });
}

// ---------------------------------------------------------------------------------------------

const sha1 = (bytes: Uint8Array): string => createHash('sha1').update(bytes).digest('hex');

const pieceOf = (bytes: Uint8Array, piece: number): Uint8Array =>
  bytes.subarray(piece * METADATA_PIECE_LENGTH, piece * METADATA_PIECE_LENGTH + metadataPieceLength(bytes.length, piece));

function unique(keys: readonly string[]): string[] {
  return [...new Set(keys)];
}
