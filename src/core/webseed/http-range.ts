/**
 * The HTTP side of a web seed (BEP 19, and the BEP 17 requests that ride on it): one `GET` with a
 * `Range: bytes=a-b` header, answered by exactly the bytes asked for or a typed error. With
 * `exact` (BEP 17) the URL itself names the bytes (`?info_hash=…&piece=…&ranges=…`): no `Range`
 * header, the answer is a 200 of exactly that length, and a 503's body is an ASCII number of
 * seconds to wait (BEP 17: "the body of the return being an ASCII integer value specifying how
 * long (in seconds) the client should wait"), used when there is no `Retry-After` header.
 *
 * Over node:http / node:https rather than `undici`: btkit has no HTTP dependency, the built-in
 * Agent gives keep-alive with a per-origin socket bound (`maxSockets`), and reading the body by
 * hand is what lets every response be bounded to the length asked (a 206 longer than the range is
 * cut off and refused, not buffered).
 *
 * What a real server does, and what this answers:
 * - 206 with a `Content-Range` for the asked range → the bytes (a different range, a body longer or
 *   shorter than asked → `WEBSEED_BAD_CONTENT_RANGE` / `WEBSEED_BODY_TOO_LONG` / `WEBSEED_SHORT_BODY`);
 * - 200 with the whole file (the server ignores `Range`): read while the file is at most
 *   `wholeBodyLimit` bytes, keeping only the asked window; a bigger one is cut off at once with
 *   `WEBSEED_RANGE_IGNORED` (reading 4 GiB to use 16 KiB of it is not a fallback);
 * - 301/302/303/307/308 → followed, at most `maxRedirects` times, a URL seen twice is
 *   `WEBSEED_REDIRECT_LOOP`; only http(s) targets;
 * - 404/410 → `WEBSEED_NOT_FOUND`; 503/429 → `WEBSEED_RETRY_LATER` with the `Retry-After` delay;
 *   416 → `WEBSEED_RANGE_NOT_SATISFIABLE` (the file on the server is shorter than the torrent's);
 * - no byte for `idleTimeoutMs`, or the whole exchange over `deadlineMs` → `WEBSEED_TIMEOUT`.
 * Error and redirect bodies are drained up to 64 KiB so the connection can be reused, else the
 * socket is destroyed.
 */
import http from 'node:http';
import https from 'node:https';
import { BtError, abortError, fromSystemError, networkError } from '../errors.js';
import { RawHttpPool, type RawHead } from './http-raw.js';

export interface RangeClientOptions {
  /** Connections per origin (scheme, host, port), kept alive between requests. */
  maxSockets: number;
  /** No byte (connect, headers or body) for this long: a timeout. */
  idleTimeoutMs: number;
  /** The whole request, redirects included, may take at most this long. */
  deadlineMs: number;
  maxRedirects: number;
  /** A server that ignores `Range` is read only for files up to this size. */
  wholeBodyLimit: number;
  /** Different origins (redirects may lead elsewhere) this client keeps agents for. */
  maxOrigins?: number;
  userAgent?: string;
}

/**
 * Where the body goes instead of a buffer of its own: `bytes` are the range's bytes from `offset`
 * (relative to the asked start), in order, each byte once per attempt. The caller copies them
 * where they belong (piece buffers it reuses), so the body is copied once and no fresh memory is
 * touched per request.
 */
export type RangeSink = (offset: number, bytes: Buffer) => void;
export type RangeTarget = (offset: number, max: number) => Uint8Array | null;

/** Per request: `exact` for a URL that names exactly the bytes wanted (BEP 17), not a file to cut a range from. */
export interface RangeRequestOptions {
  signal?: AbortSignal;
  sink?: RangeSink;
  /**
   * With `sink`, on the raw path: memory for range bytes from `offset` (at most `max`) that the
   * socket may read into directly; `sink` then gets a view of that same memory. Null: no such
   * memory (the bytes come through the connection's buffer and `sink` copies them).
   */
  target?: RangeTarget;
  exact?: boolean;
}

export interface RangeResponse {
  /** Exactly the asked bytes (empty when a `sink` took them). */
  body: Buffer;
  /** 206, or 200 when the server sent the whole file and the window was cut out of it. */
  status: 200 | 206;
  /** The URL that answered, after redirects. */
  url: string;
  redirects: number;
  /** True when the request went over a connection kept alive from an earlier one. */
  reusedConnection: boolean;
  /** The resource's whole length as the server gave it (`Content-Range` total, or a 200's length), or null. */
  total: number | null;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const DRAIN_LIMIT = 64 * 1024;
/** First bytes of an error body kept (a BEP 17 503 carries its delay there). */
const ERROR_BODY_KEPT = 64;

/** `Retry-After` as milliseconds (delta-seconds or an HTTP date), or null when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now: number): number | null {
  if (value === undefined) return null;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Math.min(Number(v), 86_400) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

/** `Content-Range: bytes a-b/total` → [a, b, total or null for `*`], or null. */
export function parseContentRange(value: string | undefined): [number, number, number | null] | null {
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(value?.trim() ?? '');
  return m ? [Number(m[1]), Number(m[2]), m[3] === '*' ? null : Number(m[3])] : null;
}

export class RangeClient {
  private readonly agents = new Map<string, http.Agent>();
  /** Plain-http requests with a sink go over hand-written HTTP/1.1 (./http-raw.ts: far less CPU per byte). */
  private raw: RawHttpPool | null = null;
  private closed = false;

  constructor(private readonly options: RangeClientOptions) {}

  /** Bytes `[start, start + length)` of the resource at `url`. */
  async get(url: string, start: number, length: number, { signal, sink, target, exact = false }: RangeRequestOptions = {}): Promise<RangeResponse> {
    if (length <= 0) throw new RangeError('a range request needs at least one byte');
    if (this.closed) throw networkError('WEBSEED_CLOSED', 'the web seed client is closed');
    const deadline = AbortSignal.timeout(this.options.deadlineMs);
    const seen = new Set<string>();
    let current = url;
    for (let redirects = 0; ; redirects++) {
      seen.add(current);
      const step = await this.once(current, exact ? 0 : start, length, signal, deadline, sink, exact, target);
      if (step.kind === 'done') return { ...step.response, url: current, redirects };
      if (redirects >= this.options.maxRedirects) {
        throw networkError('WEBSEED_TOO_MANY_REDIRECTS', `\`${url}\`: more than ${this.options.maxRedirects} redirects`, { detail: { url, last: step.location } });
      }
      if (seen.has(step.location)) {
        throw networkError('WEBSEED_REDIRECT_LOOP', `\`${url}\`: redirect loop through \`${step.location}\``, { detail: { url, loop: step.location } });
      }
      current = step.location;
    }
  }

  /** Close every kept-alive connection; later requests fail with `WEBSEED_CLOSED`. */
  close(): void {
    this.closed = true;
    this.raw?.close();
    for (const agent of this.agents.values()) agent.destroy();
    this.agents.clear();
  }

  /** What a response head means for a range request (the raw path; the node:http path checks the same inline). */
  private checkHead(
    url: string,
    u: URL,
    h: RawHead,
    start: number,
    length: number,
    exact: boolean,
  ): { kind: 'redirect'; location: string } | { kind: 'error'; error: BtError } | { kind: 'body'; from: number; limit: number; status: 200 | 206; total: number | null } {
    const { status, headers } = h;
    const detail = { url, status };
    if (REDIRECTS.has(status)) {
      let next: URL | null = null;
      try {
        next = headers.location ? new URL(headers.location, u) : null;
      } catch {
        next = null;
      }
      if (!next || (next.protocol !== 'http:' && next.protocol !== 'https:')) {
        return { kind: 'error', error: networkError('WEBSEED_BAD_REDIRECT', `\`${url}\`: redirect ${status} to \`${headers.location ?? ''}\` is not an http(s) URL`, { detail }) };
      }
      return { kind: 'redirect', location: next.href };
    }
    if ((status !== 200 && status !== 206) || (exact && status !== 200)) return { kind: 'error', error: statusError(url, status, headers['retry-after']) };
    const encoding = headers['content-encoding'];
    if (encoding !== undefined && encoding !== 'identity') {
      return { kind: 'error', error: networkError('WEBSEED_ENCODED_BODY', `\`${url}\`: body sent with Content-Encoding \`${encoding}\``, { detail }) };
    }
    const declared = headers['content-length'] === undefined ? null : Number(headers['content-length']);
    if (exact) {
      if (declared !== null && declared > length) {
        return { kind: 'error', error: networkError('WEBSEED_BODY_TOO_LONG', `\`${url}\`: ${declared} bytes announced for ${length} bytes asked`, { detail: { ...detail, declared, asked: length } }) };
      }
      return { kind: 'body', from: 0, limit: length, status: 200, total: declared };
    }
    if (status === 206) {
      const cr = parseContentRange(headers['content-range']);
      if (!cr || cr[0] !== start || cr[1] !== start + length - 1) {
        return { kind: 'error', error: networkError('WEBSEED_BAD_CONTENT_RANGE', `\`${url}\`: asked for bytes ${start}-${start + length - 1}, got \`${headers['content-range'] ?? '(no Content-Range)'}\``, { detail }) };
      }
      if (declared !== null && declared > length) {
        return { kind: 'error', error: networkError('WEBSEED_BODY_TOO_LONG', `\`${url}\`: ${declared} bytes announced for a ${length}-byte range`, { detail: { ...detail, declared, asked: length } }) };
      }
      return { kind: 'body', from: 0, limit: length, status: 206, total: cr[2] };
    }
    if (declared !== null && declared > this.options.wholeBodyLimit) {
      return { kind: 'error', error: networkError('WEBSEED_RANGE_IGNORED', `\`${url}\`: the server ignores Range and sends the whole file (${declared} bytes)`, { detail: { ...detail, declared } }) };
    }
    return { kind: 'body', from: start, limit: this.options.wholeBodyLimit, status: 200, total: declared };
  }

  private agentFor(u: URL): http.Agent {
    const origin = `${u.protocol}//${u.host}`;
    let agent = this.agents.get(origin);
    if (agent) return agent;
    if (this.agents.size >= (this.options.maxOrigins ?? 8)) {
      throw networkError('WEBSEED_TOO_MANY_ORIGINS', `\`${u.href}\`: redirects led to more than ${this.options.maxOrigins ?? 8} servers`);
    }
    const opts = { keepAlive: true, maxSockets: this.options.maxSockets, maxFreeSockets: this.options.maxSockets, scheduling: 'lifo' as const };
    agent = u.protocol === 'https:' ? new https.Agent(opts) : new http.Agent(opts);
    this.agents.set(origin, agent);
    return agent;
  }

  private once(
    url: string,
    start: number,
    length: number,
    signal: AbortSignal | undefined,
    deadline: AbortSignal,
    sink: RangeSink | undefined,
    exact: boolean,
    target?: RangeTarget,
  ): Promise<{ kind: 'done'; response: Omit<RangeResponse, 'url' | 'redirects'> } | { kind: 'redirect'; location: string }> {
    const { idleTimeoutMs, wholeBodyLimit } = this.options;
    return new Promise((resolve, reject) => {
      let u: URL;
      try {
        u = new URL(url);
      } catch (cause) {
        reject(new BtError('WEBSEED_BAD_URL', 'input', `\`${url}\` is not a URL`, { cause }));
        return;
      }
      if (u.protocol !== 'http:' && u.protocol !== 'https:') {
        reject(new BtError('WEBSEED_BAD_URL', 'input', `\`${url}\`: only http and https web seeds are supported`));
        return;
      }
      if (signal?.aborted) {
        reject(abortError(signal));
        return;
      }
      let settled = false;
      const cleanup = () => {
        signal?.removeEventListener('abort', onAbort);
        deadline.removeEventListener('abort', onDeadline);
      };
      const fail = (err: unknown) => {
        if (settled) return;
        settled = true;
        cleanup();
        req.destroy();
        reject(err instanceof BtError ? err : fromSystemError(err, `web seed \`${url}\``));
      };
      const succeed = (v: Parameters<typeof resolve>[0]) => {
        if (settled) return;
        settled = true;
        cleanup();
        resolve(v);
      };
      const onAbort = () => fail(abortError(signal));
      const onDeadline = () =>
        fail(networkError('WEBSEED_TIMEOUT', `\`${url}\`: no complete answer within ${this.options.deadlineMs} ms`, { detail: { url, phase: 'deadline' } }));
      if (u.protocol === 'http:' && sink) {
        let cancel = () => undefined as void;
        const rawAbort = () => failRaw(abortError(signal));
        const rawDeadline = () => failRaw(networkError('WEBSEED_TIMEOUT', `\`${url}\`: no complete answer within ${this.options.deadlineMs} ms`, { detail: { url, phase: 'deadline' } }));
        const settle = () => {
          settled = true;
          signal?.removeEventListener('abort', rawAbort);
          deadline.removeEventListener('abort', rawDeadline);
        };
        const failRaw = (err: unknown) => {
          if (settled) return;
          settle();
          cancel();
          reject(err instanceof BtError ? err : fromSystemError(err, `web seed \`${url}\``));
        };
        const succeedRaw = (v: Parameters<typeof resolve>[0]) => {
          if (settled) return;
          settle();
          resolve(v);
        };
        signal?.addEventListener('abort', rawAbort, { once: true });
        deadline.addEventListener('abort', rawDeadline, { once: true });
        this.raw ??= new RawHttpPool({ maxIdle: this.options.maxSockets, idleTimeoutMs });
        let window: { from: number; limit: number; status: 200 | 206; total: number | null; reused: boolean } | null = null;
        let redirect: string | null = null;
        let error: BtError | null = null;
        const errorBody: Buffer[] = [];
        let errorBodyLength = 0;
        const headers: Record<string, string> = { ...(exact ? {} : { Range: `bytes=${start}-${start + length - 1}` }), 'Accept-Encoding': 'identity', ...(this.options.userAgent ? { 'User-Agent': this.options.userAgent } : {}) };
        cancel = this.raw.request(u.hostname.replace(/^\[|\]$/g, ''), Number(u.port || 80), `${u.pathname}${u.search}`, headers, {
          head: (h: RawHead) => {
            const v = this.checkHead(url, u, h, start, length, exact);
            if (v.kind === 'redirect') redirect = v.location;
            else if (v.kind === 'error') error = v.error;
            else window = { ...v, reused: h.reusedConnection };
            // A large error or redirect body is not read: the connection closes.
            const declared = Number(h.headers['content-length'] ?? NaN);
            // A BEP 17 503 without Content-Length is read until the server closes (bounded below).
            return window !== null || declared <= DRAIN_LIMIT || (exact && error?.code === 'WEBSEED_RETRY_LATER' && Number.isNaN(declared));
          },
          target: target
            ? (offset, max) => {
                // Body offset → range offset; only inside the asked window (a 200's other bytes are dropped).
                if (!window || settled) return null;
                const at = offset - window.from;
                if (at < 0 || at >= length) return null;
                return target(at, Math.min(max, length - at));
              }
            : undefined,
          body: (offset, bytes) => {
            if (!window || settled) {
              // An error's body is kept while short: a BEP 17 503 says there how long to wait.
              if (error && errorBodyLength < ERROR_BODY_KEPT) {
                errorBody.push(Buffer.from(bytes.subarray(0, ERROR_BODY_KEPT - errorBodyLength)));
                errorBodyLength += Math.min(bytes.length, ERROR_BODY_KEPT - errorBodyLength);
              }
              if (error && offset + bytes.length > DRAIN_LIMIT) failRaw(exact ? retryFromBody(error, Buffer.concat(errorBody)) : error);
              return;
            }
            const end = offset + bytes.length;
            if (end > window.limit) {
              failRaw(
                window.status === 206 || exact
                  ? networkError('WEBSEED_BODY_TOO_LONG', `\`${url}\`: more than the ${length} bytes asked for`, { detail: { url, status: 206, asked: length } })
                  : networkError('WEBSEED_RANGE_IGNORED', `\`${url}\`: the server ignores Range and sends more than ${wholeBodyLimit} bytes`, { detail: { url, status: 200 } }),
              );
              return;
            }
            const s0 = Math.max(offset, window.from);
            const e0 = Math.min(end, window.from + length);
            if (e0 > s0) sink(s0 - window.from, bytes.subarray(s0 - offset, e0 - offset));
          },
          end: (received) => {
            if (settled) return;
            if (redirect !== null) return succeedRaw({ kind: 'redirect', location: redirect });
            if (error) return failRaw(exact ? retryFromBody(error, Buffer.concat(errorBody)) : error);
            const w = window!;
            if (received < w.from + length) {
              failRaw(networkError('WEBSEED_SHORT_BODY', `\`${url}\`: ${Math.max(0, received - w.from)} of ${length} bytes received`, { detail: { url, status: w.status, received } }));
              return;
            }
            succeedRaw({ kind: 'done', response: { body: Buffer.alloc(0), status: w.status, reusedConnection: w.reused, total: w.total } });
          },
          error: (err) => {
            if (redirect !== null && !settled) return succeedRaw({ kind: 'redirect', location: redirect });
            if (error) return failRaw(error);
            const code = (err as NodeJS.ErrnoException).code;
            if (code === 'ETIMEDOUT') failRaw(networkError('WEBSEED_TIMEOUT', `\`${url}\`: nothing received for ${idleTimeoutMs} ms`, { detail: { url, phase: 'idle' } }));
            else if (code === 'ECONNRESET' && window) failRaw(networkError('WEBSEED_SHORT_BODY', `\`${url}\`: connection closed after ${(err as { received?: number }).received ?? 0} bytes`, { detail: { url } }));
            else failRaw(err);
          },
        });
        return;
      }
      let agent: http.Agent;
      try {
        agent = this.agentFor(u);
      } catch (e) {
        reject(e);
        return;
      }
      const mod = u.protocol === 'https:' ? https : http;
      const req = mod.request(u, {
        method: 'GET',
        agent,
        headers: {
          ...(exact ? {} : { Range: `bytes=${start}-${start + length - 1}` }),
          'Accept-Encoding': 'identity',
          ...(this.options.userAgent ? { 'User-Agent': this.options.userAgent } : {}),
        },
      });
      signal?.addEventListener('abort', onAbort, { once: true });
      deadline.addEventListener('abort', onDeadline, { once: true });
      req.setTimeout(idleTimeoutMs, () =>
        fail(networkError('WEBSEED_TIMEOUT', `\`${url}\`: nothing received for ${idleTimeoutMs} ms`, { detail: { url, phase: 'idle' } })),
      );
      req.on('error', fail);
      req.on('response', (res) => {
        const status = res.statusCode ?? 0;
        const detail = { url, status };
        if (REDIRECTS.has(status)) {
          const loc = res.headers.location;
          let next: URL | null = null;
          try {
            next = loc ? new URL(loc, u) : null;
          } catch {
            next = null;
          }
          if (!next || (next.protocol !== 'http:' && next.protocol !== 'https:')) {
            fail(networkError('WEBSEED_BAD_REDIRECT', `\`${url}\`: redirect ${status} to \`${loc ?? ''}\` is not an http(s) URL`, { detail }));
            return;
          }
          drain(res, req, () => succeed({ kind: 'redirect', location: next.href }));
          return;
        }
        if ((status !== 200 && status !== 206) || (exact && status !== 200)) {
          const err = statusError(url, status, res.headers['retry-after']);
          // Keep the connection when the error body is small; the error stands either way.
          drain(res, req, (body) => {
            if (settled) return;
            settled = true;
            cleanup();
            reject(exact ? retryFromBody(err, body) : err);
          });
          return;
        }
        const encoding = res.headers['content-encoding'];
        if (encoding !== undefined && encoding !== 'identity') {
          fail(networkError('WEBSEED_ENCODED_BODY', `\`${url}\`: body sent with Content-Encoding \`${encoding}\``, { detail }));
          return;
        }
        const declared = res.headers['content-length'] === undefined ? null : Number(res.headers['content-length']);
        // The window of the body to keep: [from, from + length) of what the server sends.
        let from: number;
        let total: number | null = declared;
        if (exact) {
          if (declared !== null && declared > length) {
            fail(networkError('WEBSEED_BODY_TOO_LONG', `\`${url}\`: ${declared} bytes announced for ${length} bytes asked`, { detail: { ...detail, declared, asked: length } }));
            return;
          }
          from = 0;
        } else if (status === 206) {
          const cr = parseContentRange(res.headers['content-range']);
          if (!cr || cr[0] !== start || cr[1] !== start + length - 1) {
            fail(networkError('WEBSEED_BAD_CONTENT_RANGE', `\`${url}\`: asked for bytes ${start}-${start + length - 1}, got \`${res.headers['content-range'] ?? '(no Content-Range)'}\``, { detail }));
            return;
          }
          if (declared !== null && declared > length) {
            fail(networkError('WEBSEED_BODY_TOO_LONG', `\`${url}\`: ${declared} bytes announced for a ${length}-byte range`, { detail: { ...detail, declared, asked: length } }));
            return;
          }
          from = 0;
          total = cr[2];
        } else {
          if (declared !== null && declared > wholeBodyLimit) {
            fail(networkError('WEBSEED_RANGE_IGNORED', `\`${url}\`: the server ignores Range and sends the whole file (${declared} bytes)`, { detail: { ...detail, declared } }));
            return;
          }
          from = start;
        }
        const limit = status === 206 || exact ? length : wholeBodyLimit;
        const body = sink ? Buffer.alloc(0) : Buffer.allocUnsafe(length);
        let received = 0;
        res.on('data', (chunk: Buffer) => {
          if (settled) return;
          const at = received;
          received += chunk.length;
          if (received > limit) {
            fail(
              status === 206 || exact
                ? networkError('WEBSEED_BODY_TOO_LONG', `\`${url}\`: more than the ${length} bytes asked for`, { detail: { ...detail, asked: length } })
                : networkError('WEBSEED_RANGE_IGNORED', `\`${url}\`: the server ignores Range and sends more than ${wholeBodyLimit} bytes`, { detail }),
            );
            return;
          }
          // Copy the part of [at, received) that falls in [from, from + length).
          const s = Math.max(at, from);
          const e = Math.min(received, from + length);
          if (e <= s) return;
          if (sink) sink(s - from, chunk.subarray(s - at, e - at));
          else chunk.copy(body, s - from, s - at, e - at);
        });
        res.on('error', fail);
        res.on('aborted', () => fail(networkError('WEBSEED_SHORT_BODY', `\`${url}\`: connection closed after ${received} bytes`, { detail })));
        res.on('end', () => {
          if (received < from + length) {
            fail(networkError('WEBSEED_SHORT_BODY', `\`${url}\`: ${received - from < 0 ? 0 : received - from} of ${length} bytes received`, { detail: { ...detail, received } }));
            return;
          }
          succeed({ kind: 'done', response: { body, status: status as 200 | 206, reusedConnection: req.reusedSocket, total } });
        });
      });
      req.end();
    });
  }
}

/** The error for a status that is neither a redirect nor 200/206. */
function statusError(url: string, status: number, retryAfter: string | undefined): BtError {
  const detail = { url, status };
  return status === 404 || status === 410
    ? networkError('WEBSEED_NOT_FOUND', `\`${url}\`: ${status}, the server does not have this file`, { detail })
    : status === 503 || status === 429
      ? networkError('WEBSEED_RETRY_LATER', `\`${url}\`: ${status}, retry later`, { detail: { ...detail, retryAfterMs: parseRetryAfter(retryAfter, Date.now()) } })
      : status === 416
        ? networkError('WEBSEED_RANGE_NOT_SATISFIABLE', `\`${url}\`: 416, the file on the server is shorter than the torrent says`, { detail })
        : networkError('WEBSEED_HTTP_STATUS', `\`${url}\`: HTTP ${status}`, { detail });
}

/**
 * BEP 17: a 503 whose body is an ASCII integer asks to wait that many seconds. Used when no
 * `Retry-After` header said so; capped as `Retry-After` is (a day).
 */
export function retryFromBody(err: BtError, body: Uint8Array): BtError {
  if (err.code !== 'WEBSEED_RETRY_LATER' || (err.detail?.retryAfterMs ?? null) !== null) return err;
  const m = /^\s*(\d{1,9})\s*$/.exec(Buffer.from(body).toString('latin1'));
  if (!m) return err;
  const retryAfterMs = Math.min(Number(m[1]), 86_400) * 1000;
  return networkError('WEBSEED_RETRY_LATER', `${err.message} (the body asks to wait ${m[1]} s)`, { detail: { ...err.detail, retryAfterMs } });
}

/**
 * Read and drop a small body so the connection stays alive (its first bytes go to `then`); destroy
 * it when the body is large.
 */
function drain(res: http.IncomingMessage, req: http.ClientRequest, then: (head: Buffer) => void): void {
  const declared = res.headers['content-length'] === undefined ? null : Number(res.headers['content-length']);
  if (declared !== null && declared > DRAIN_LIMIT) {
    req.destroy();
    then(Buffer.alloc(0));
    return;
  }
  let n = 0;
  const kept: Buffer[] = [];
  res.on('data', (c: Buffer) => {
    if (n < ERROR_BODY_KEPT) kept.push(c.subarray(0, ERROR_BODY_KEPT - n));
    n += c.length;
    if (n > DRAIN_LIMIT) req.destroy();
  });
  res.on('error', () => undefined);
  res.on('close', () => then(Buffer.concat(kept)));
}
