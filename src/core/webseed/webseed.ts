/**
 * A web seed (BEP 19, `url-list`) as a piece source: `fetchPiece(i)` asks the server for the
 * piece's bytes, file by file (see ./ranges.ts, ./url.ts), over HTTP range requests
 * (./http-range.ts). With the `bep17` option it is an HTTP seed of BEP 17 (`httpseeds`) instead:
 * a script that knows the torrent, asked piece by piece (`?info_hash=…&piece=…&ranges=…`, one
 * request per piece a range touches); everything below (backoff, strikes, bounds, events) is the
 * same, except that a 404 means the script does not serve the torrent at all (the seed drops,
 * `no-files`), and a 503's body gives the delay when no `Retry-After` does (BEP 17).
 *
 * What it decides, and what it leaves to its owner:
 * - **Hash checks stay outside.** The session's assembler checks every piece whatever its source;
 *   when a piece from this seed fails, the owner calls `reportBadPiece(i)`, and after
 *   `maxBadPieces` such strikes the seed drops itself (a server serving another version of a file
 *   stays wrong). A protocol violation (a body longer than asked, the wrong Content-Range) is a
 *   strike too.
 * - **Transient failures back off.** 503/429 (`Retry-After` honoured up to `backoff.maxMs`),
 *   timeouts, resets and other 5xx put the whole seed in `backoff` (exponential from
 *   `backoff.initialMs`); each part is tried at most `maxAttempts` times, and `maxErrors` failures
 *   in a row without one success drop the seed.
 * - **One missing file is not a dead server.** 404/410/416 or a redirect loop for one file marks
 *   that file unavailable from this seed (`hasPiece` turns false for its pieces, `fetchPiece`
 *   rejects with `WEBSEED_PIECE_UNAVAILABLE`); other files go on. When no file is left, the seed drops.
 * - **A server that ignores `Range`** (200 with the whole body) is used for files up to
 *   `wholeBodyLimit` (the asked window is cut out while reading) and dropped beyond, with a
 *   `webseed-dropped` event whose reason says so.
 * - **Bounded everywhere**: at most `maxInFlight` requests at once (and as many kept-alive
 *   connections), `maxQueued` callers waiting, `maxRedirects` per request, `deadlineMs` per request.
 *
 * Events: through the `onEvent` option, synchronously and in order — a plain callback, as
 * ut-metadata's fetcher does, not an AsyncIterable: a web seed lives as long as the download and
 * its events are a side channel of many `fetchPiece` calls, so the owner (the session) forwards
 * them into its own event stream rather than running a second consumer loop per server.
 */
import { BtError, type ErrorCode, abortError, networkError } from '../errors.js';
import { RangeClient, type RangeSink, type RangeTarget } from './http-range.js';
import { pieceRange, planLayout, planRange, type PlanFile, type RangePart } from './ranges.js';
import { fileUrl, httpSeedUrl, webSeedBase, type WebSeedLayoutNames } from './url.js';
import type { LayoutFile } from '../storage/layout.js';

/** A torrent as the web seed sees it; a parsed `Metainfo` is one. */
export interface WebSeedLayout extends WebSeedLayoutNames {
  files: readonly (PlanFile & { path: readonly string[] })[];
}

export type WebSeedState = 'ready' | 'backoff' | 'dropped' | 'closed';

export type WebSeedDropReason = 'range-ignored' | 'bad-pieces' | 'errors' | 'no-files';

export type WebSeedEvent =
  /** One request failed; `willRetry` says whether this part is tried again. */
  | { type: 'webseed-error'; url: string; fileUrl: string | null; code: string; message: string; attempt: number; willRetry: boolean }
  /** The seed waits before its next request. */
  | { type: 'webseed-backoff'; url: string; delayMs: number; retryAfterMs: number | null; reason: 'retry-later' | 'timeout' | 'error' }
  /** One file cannot be had from this seed; its pieces are no longer asked for here. */
  | { type: 'webseed-file-unavailable'; url: string; fileUrl: string; fileIndex: number; path: string[]; code: string; status: number | null }
  /** The server ignored `Range`; the file was small enough to read whole. Once per file. */
  | { type: 'webseed-range-ignored'; url: string; fileUrl: string; fileIndex: number }
  /** The owner reported a piece from this seed failed its hash check, or the server broke the protocol. */
  | { type: 'webseed-strike'; url: string; piece: number | null; code: string; strikes: number; maxStrikes: number }
  /** The seed gave up for good; every pending and later `fetchPiece` rejects with `WEBSEED_DROPPED`. */
  | { type: 'webseed-dropped'; url: string; reason: WebSeedDropReason; code: string; message: string };

export interface WebSeedOptions {
  url: string;
  /** A BEP 17 HTTP seed (`httpseeds`): `url` is a script asked by v1 info hash and piece index. */
  bep17?: { infoHash: Uint8Array };
  layout: WebSeedLayout;
  pieceLength: number;
  totalLength: number;
  /** Requests at once to this server, and kept-alive connections (default 4). */
  maxInFlight?: number;
  /** Callers waiting for a request slot before `fetchPiece` refuses with `WEBSEED_BUSY` (default 256). */
  maxQueued?: number;
  idleTimeoutMs?: number;
  deadlineMs?: number;
  maxRedirects?: number;
  /** Largest file read whole from a server that ignores `Range` (default 4 MiB). */
  wholeBodyLimit?: number;
  /** Tries per part for transient errors (default 3). */
  maxAttempts?: number;
  /** Transient failures in a row (no success between) that drop the seed (default 8). */
  maxErrors?: number;
  /** Bad pieces / protocol violations that drop the seed (default 3). */
  maxBadPieces?: number;
  backoff?: { initialMs?: number; maxMs?: number };
  userAgent?: string;
  onEvent?: (event: WebSeedEvent) => void;
}

export interface WebSeedStats {
  /** Payload bytes received (the asked windows; padding zeros not counted). */
  bytes: number;
  requests: number;
  /** Requests that went over a kept-alive connection. */
  reusedConnections: number;
  strikes: number;
  errors: number;
}

/** Errors that make one file unavailable from this seed, not the seed itself. */
const FILE_ERRORS = new Set<ErrorCode>(['WEBSEED_NOT_FOUND', 'WEBSEED_RANGE_NOT_SATISFIABLE', 'WEBSEED_REDIRECT_LOOP', 'WEBSEED_TOO_MANY_REDIRECTS', 'WEBSEED_BAD_REDIRECT', 'WEBSEED_BAD_URL']);
/** One HTTP request of a range: a file's bytes (BEP 19) or a piece's (BEP 17, `fileIndex` null). */
type HttpPart = { kind: 'http'; url: string; fileIndex: number | null; fileOffset: number; rangeOffset: number; length: number };
type Part = HttpPart | Extract<RangePart, { kind: 'zeros' }>;

/** Protocol violations: the server answered, but not what was asked. */
const STRIKE_ERRORS = new Set<ErrorCode>(['WEBSEED_BODY_TOO_LONG', 'WEBSEED_BAD_CONTENT_RANGE', 'WEBSEED_ENCODED_BODY']);

export class WebSeed {
  readonly url: string;
  readonly stats: WebSeedStats = { bytes: 0, requests: 0, reusedConnections: 0, strikes: 0, errors: 0 };
  private readonly layout: WebSeedLayout;
  /** BEP 17: the torrent's v1 info hash; null for a BEP 19 web seed. */
  private readonly infoHash: Uint8Array | null;
  private readonly plan: LayoutFile[];
  private readonly pieceLength: number;
  private readonly totalLength: number;
  private readonly client: RangeClient;
  private readonly maxInFlight: number;
  private readonly maxQueued: number;
  private readonly maxAttempts: number;
  private readonly maxErrors: number;
  private readonly maxBadPieces: number;
  private readonly backoffInitial: number;
  private readonly backoffMax: number;
  private readonly onEvent: (e: WebSeedEvent) => void;
  private readonly life = new AbortController();
  private readonly unavailable = new Set<number>();
  private readonly rangeIgnoredFiles = new Set<number>();
  private inFlight = 0;
  private readonly waiting: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  private consecutiveErrors = 0;
  private backoffUntil = 0;
  private ended: 'dropped' | 'closed' | null = null;
  private dropError: BtError | null = null;

  constructor(options: WebSeedOptions) {
    const { layout } = options;
    if (!(options.pieceLength > 0) || !(options.totalLength > 0)) throw new RangeError('pieceLength and totalLength must be positive');
    this.infoHash = options.bep17?.infoHash ?? null;
    this.url = this.infoHash ? options.url : webSeedBase(options.url, layout.multiFile);
    this.layout = layout;
    this.plan = planLayout(layout.files);
    this.pieceLength = options.pieceLength;
    this.totalLength = options.totalLength;
    this.maxInFlight = Math.max(1, options.maxInFlight ?? 4);
    this.maxQueued = options.maxQueued ?? 256;
    this.maxAttempts = Math.max(1, options.maxAttempts ?? 3);
    this.maxErrors = Math.max(1, options.maxErrors ?? 8);
    this.maxBadPieces = Math.max(1, options.maxBadPieces ?? 3);
    this.backoffInitial = options.backoff?.initialMs ?? 1000;
    this.backoffMax = options.backoff?.maxMs ?? 60_000;
    this.onEvent = options.onEvent ?? (() => undefined);
    this.client = new RangeClient({
      maxSockets: this.maxInFlight,
      idleTimeoutMs: options.idleTimeoutMs ?? 30_000,
      deadlineMs: options.deadlineMs ?? 120_000,
      maxRedirects: options.maxRedirects ?? 5,
      wholeBodyLimit: options.wholeBodyLimit ?? 4 * 1024 * 1024,
      ...(options.userAgent ? { userAgent: options.userAgent } : {}),
    });
  }

  /** `ready`, `backoff` (waiting out a 503 or errors; requests queue), `dropped` or `closed`. */
  get state(): WebSeedState {
    if (this.ended) return this.ended;
    return Date.now() < this.backoffUntil ? 'backoff' : 'ready';
  }

  /** Why the seed dropped itself, or null. */
  get dropReason(): BtError | null {
    return this.dropError;
  }

  /** Whether asking this seed for piece `index` makes sense (not dropped, no missing file in it). */
  hasPiece(index: number): boolean {
    if (this.ended) return false;
    if (this.infoHash || this.unavailable.size === 0) return true;
    const { start, length } = pieceRange(index, this.pieceLength, this.totalLength);
    return planRange(this.layout.files, this.plan, start, length).every((p) => p.kind === 'zeros' || !this.unavailable.has(p.fileIndex));
  }

  /** Indices of files this seed cannot serve. */
  unavailableFiles(): number[] {
    return [...this.unavailable].sort((a, b) => a - b);
  }

  /** The bytes of piece `index`, unchecked (the owner hashes them). */
  fetchPiece(index: number, { signal }: { signal?: AbortSignal } = {}): Promise<Uint8Array> {
    const { start, length } = pieceRange(index, this.pieceLength, this.totalLength);
    return this.fetchRange(start, length, { signal });
  }

  /**
   * Bytes `[start, start + length)` of the piece stream (padding files as zeros). With `sink`, the
   * bytes go there as they arrive (offsets relative to `start`; padding as zeros) and the result
   * is empty; a part tried again is written again. With `target` as well, plain-http bytes may
   * be read by the socket straight into the memory it gives (see RangeRequestOptions.target).
   */
  async fetchRange(start: number, length: number, { signal, sink, target }: { signal?: AbortSignal; sink?: RangeSink; target?: RangeTarget } = {}): Promise<Uint8Array> {
    if (start < 0 || length <= 0 || start + length > this.totalLength) throw new RangeError(`range ${start}+${length} is outside the torrent`);
    this.throwIfEnded();
    const parts = this.parts(start, length);
    for (const p of parts) {
      if (p.kind === 'http' && p.fileIndex !== null && this.unavailable.has(p.fileIndex)) throw this.unavailableError(p.fileIndex);
    }
    const linked = signal ? AbortSignal.any([signal, this.life.signal]) : this.life.signal;
    await this.acquire(linked);
    try {
      if (sink) {
        for (const part of parts) {
          if (part.kind === 'zeros') sink(part.rangeOffset, Buffer.alloc(part.length));
          else await this.fetchPart(part, linked, (o, b) => sink(part.rangeOffset + o, b), target && ((o, max) => target(part.rangeOffset + o, max)));
        }
        return new Uint8Array(0);
      }
      // The common case, one file covering the whole range: the response body is the result (no copy).
      if (parts.length === 1 && parts[0]!.kind === 'http') return await this.fetchPart(parts[0]!, linked);
      const out = new Uint8Array(length); // zeros: padding parts need no work
      for (const part of parts) {
        if (part.kind === 'zeros') continue;
        const bytes = await this.fetchPart(part, linked);
        out.set(bytes, part.rangeOffset);
      }
      return out;
    } catch (e) {
      throw this.ended && this.dropError && !signal?.aborted ? this.dropError : e;
    } finally {
      this.release();
    }
  }

  /**
   * The owner's verdict: piece `index`, fetched from here, failed its hash check. After
   * `maxBadPieces` strikes the seed drops itself.
   */
  reportBadPiece(index: number): void {
    this.strike(index, 'WEBSEED_BAD_PIECE');
  }

  /** Stop: pending requests reject, connections close. */
  close(): void {
    if (this.ended) return;
    this.ended = 'closed';
    this.life.abort(networkError('WEBSEED_CLOSED', `web seed \`${this.url}\` closed`));
    this.client.close();
    this.rejectWaiting();
  }

  /**
   * The requests for stream bytes `[start, start + length)`: one per file (BEP 19; padding as
   * zeros), or one per piece with `ranges` for a part of one (BEP 17).
   */
  private parts(start: number, length: number): Part[] {
    const hash = this.infoHash;
    if (!hash) {
      return planRange(this.layout.files, this.plan, start, length).map((p): Part => (p.kind === 'zeros' ? p : { ...p, url: fileUrl(this.url, this.layout, p.fileIndex) }));
    }
    const out: Part[] = [];
    for (let at = start; at < start + length; ) {
      const piece = Math.floor(at / this.pieceLength);
      const r = pieceRange(piece, this.pieceLength, this.totalLength);
      const end = Math.min(start + length, r.start + r.length);
      const whole = at === r.start && end === r.start + r.length;
      const url = httpSeedUrl(this.url, hash, piece, whole ? undefined : { start: at - r.start, end: end - r.start - 1 });
      out.push({ kind: 'http', url, fileIndex: null, fileOffset: 0, rangeOffset: at - start, length: end - at });
      at = end;
    }
    return out;
  }

  private async fetchPart(part: HttpPart, signal: AbortSignal, sink?: RangeSink, target?: RangeTarget): Promise<Buffer> {
    const url = part.url;
    for (let attempt = 1; ; attempt++) {
      await this.waitBackoff(signal);
      this.stats.requests++;
      try {
        const res = await this.client.get(url, part.fileOffset, part.length, { signal, exact: this.infoHash !== null, ...(sink ? { sink } : {}), ...(target ? { target } : {}) });
        this.consecutiveErrors = 0;
        this.stats.bytes += part.length;
        if (res.reusedConnection) this.stats.reusedConnections++;
        if (res.status === 200 && part.fileIndex !== null && !this.infoHash && !this.rangeIgnoredFiles.has(part.fileIndex)) {
          this.rangeIgnoredFiles.add(part.fileIndex);
          this.onEvent({ type: 'webseed-range-ignored', url: this.url, fileUrl: url, fileIndex: part.fileIndex });
        }
        return res.body;
      } catch (e) {
        if (signal.aborted) throw this.dropError && this.ended ? this.dropError : abortError(signal);
        const err = e instanceof BtError ? e : networkError('WEBSEED_ERROR', String(e), { cause: e });
        this.stats.errors++;
        if (FILE_ERRORS.has(err.code)) {
          this.emitError(url, err, attempt, false);
          if (part.fileIndex === null) {
            // BEP 17: the script answers for the whole torrent; one that lacks it lacks every piece.
            this.drop('no-files', networkError('WEBSEED_NO_FILES', `http seed \`${this.url}\` does not serve this torrent: ${err.message}`, { cause: err }));
            throw this.dropError!;
          }
          this.markUnavailable(part.fileIndex, url, err);
          throw this.unavailableError(part.fileIndex, err);
        }
        if (err.code === 'WEBSEED_RANGE_IGNORED') {
          this.emitError(url, err, attempt, false);
          this.drop('range-ignored', err);
          throw this.dropError!;
        }
        if (STRIKE_ERRORS.has(err.code)) {
          this.emitError(url, err, attempt, false);
          this.strike(null, err.code);
          throw err;
        }
        // Transient: timeouts, 5xx, resets, short bodies.
        this.consecutiveErrors++;
        const willRetry = attempt < this.maxAttempts && this.consecutiveErrors < this.maxErrors;
        this.emitError(url, err, attempt, willRetry);
        if (this.consecutiveErrors >= this.maxErrors) {
          this.drop('errors', networkError('WEBSEED_TOO_MANY_ERRORS', `web seed \`${this.url}\`: ${this.consecutiveErrors} failures in a row, last: ${err.message}`, { cause: err }));
          throw this.dropError!;
        }
        this.startBackoff(err);
        if (!willRetry) throw err;
      }
    }
  }

  private startBackoff(err: BtError): void {
    const retryAfter = err.code === 'WEBSEED_RETRY_LATER' ? ((err.detail?.retryAfterMs as number | null | undefined) ?? null) : null;
    const exponential = this.backoffInitial * 2 ** Math.min(this.consecutiveErrors - 1, 16);
    const delayMs = Math.min(this.backoffMax, retryAfter ?? exponential);
    this.backoffUntil = Math.max(this.backoffUntil, Date.now() + delayMs);
    const reason = err.code === 'WEBSEED_RETRY_LATER' ? 'retry-later' : err.code === 'WEBSEED_TIMEOUT' ? 'timeout' : 'error';
    this.onEvent({ type: 'webseed-backoff', url: this.url, delayMs, retryAfterMs: retryAfter, reason });
  }

  private async waitBackoff(signal: AbortSignal): Promise<void> {
    const wait = this.backoffUntil - Date.now();
    if (wait <= 0) return;
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        clearTimeout(timer);
        reject(abortError(signal));
      };
      const timer = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, wait);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  private markUnavailable(fileIndex: number, url: string, err: BtError): void {
    if (this.unavailable.has(fileIndex)) return;
    this.unavailable.add(fileIndex);
    const file = this.layout.files[fileIndex]!;
    const status = typeof err.detail?.status === 'number' ? err.detail.status : null;
    this.onEvent({ type: 'webseed-file-unavailable', url: this.url, fileUrl: url, fileIndex, path: [...file.path], code: err.code, status });
    const left = this.layout.files.some((f, i) => !f.padding && f.length > 0 && !this.unavailable.has(i));
    if (!left) this.drop('no-files', networkError('WEBSEED_NO_FILES', `web seed \`${this.url}\` serves none of the torrent's files`, { cause: err }));
  }

  private strike(piece: number | null, code: ErrorCode): void {
    if (this.ended) return;
    this.stats.strikes++;
    this.onEvent({ type: 'webseed-strike', url: this.url, piece, code, strikes: this.stats.strikes, maxStrikes: this.maxBadPieces });
    if (this.stats.strikes >= this.maxBadPieces) {
      this.drop('bad-pieces', networkError('WEBSEED_BAD_DATA', `web seed \`${this.url}\`: ${this.stats.strikes} pieces failed or broke the protocol`, { detail: { strikes: this.stats.strikes } }));
    }
  }

  private drop(reason: WebSeedDropReason, cause: BtError): void {
    if (this.ended) return;
    this.ended = 'dropped';
    this.dropError = networkError('WEBSEED_DROPPED', `web seed \`${this.url}\` dropped (${reason}): ${cause.message}`, { cause, detail: { reason, cause: cause.code } });
    this.onEvent({ type: 'webseed-dropped', url: this.url, reason, code: cause.code, message: cause.message });
    this.life.abort(this.dropError);
    this.client.close();
    this.rejectWaiting();
  }

  private emitError(fileUrl: string, err: BtError, attempt: number, willRetry: boolean): void {
    this.onEvent({ type: 'webseed-error', url: this.url, fileUrl, code: err.code, message: err.message, attempt, willRetry });
  }

  private unavailableError(fileIndex: number, cause?: BtError): BtError {
    const path = this.layout.files[fileIndex]?.path.join('/') ?? String(fileIndex);
    return networkError('WEBSEED_PIECE_UNAVAILABLE', `web seed \`${this.url}\` does not serve \`${path}\``, { cause, detail: { fileIndex } });
  }

  private throwIfEnded(): void {
    if (this.ended === 'dropped') throw this.dropError!;
    if (this.ended === 'closed') throw networkError('WEBSEED_CLOSED', `web seed \`${this.url}\` closed`);
  }

  private acquire(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(this.ended === 'dropped' ? this.dropError : abortError(signal));
    if (this.inFlight < this.maxInFlight) {
      this.inFlight++;
      return Promise.resolve();
    }
    if (this.waiting.length >= this.maxQueued) {
      return Promise.reject(networkError('WEBSEED_BUSY', `web seed \`${this.url}\`: ${this.waiting.length} requests already waiting`));
    }
    return new Promise<void>((resolve, reject) => {
      const entry = {
        resolve: () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        },
        reject: (e: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(e);
        },
      };
      const onAbort = () => {
        const i = this.waiting.indexOf(entry);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(this.ended === 'dropped' ? this.dropError : abortError(signal));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(entry);
    });
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next.resolve(); // the slot passes on
    else this.inFlight--;
  }

  private rejectWaiting(): void {
    for (const w of this.waiting.splice(0)) w.reject(this.dropError ?? networkError('WEBSEED_CLOSED', `web seed \`${this.url}\` closed`));
  }
}
