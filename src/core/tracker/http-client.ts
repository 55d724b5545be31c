/**
 * HTTP(S) transport for tracker requests (BEP 3 announce, BEP 48 scrape): one bounded GET.
 *
 * Bounded in every way a hostile tracker could stretch it: one overall deadline (DNS, connect,
 * headers, body and every redirect together), a maximum body size (checked against
 * Content-Length first, then while reading), a maximum number of redirects and loop detection.
 * Every failure is a network-category BtError naming the URL; an aborted signal rejects with the
 * abort error. No connection reuse: a tracker request is one short exchange.
 */
import http from 'node:http';
import https from 'node:https';
import { BtError, abortError, fromSystemError, inputError } from '../errors.js';
import { buildAnnounceUrl, buildScrapeUrl, parseAnnounceBody, parseScrapeBody, scrapeUrlFor } from './http-codec.js';
import { DEFAULT_TIMEOUT_MS, type AnnounceParams, type AnnounceResult, type RequestOptions, type ScrapeResult } from './types.js';

export interface HttpGetOptions extends RequestOptions {
  /** Largest body accepted. Default 2 MiB (200 compact peers are 1.2 KB; a big scrape is more). */
  maxBytes?: number;
  /** Redirects followed before giving up. Default 5. */
  maxRedirects?: number;
  userAgent?: string;
}

export interface HttpGetResult {
  status: number;
  body: Buffer;
  /** The URL that finally answered, after redirects. */
  url: string;
  redirects: number;
}

export const DEFAULT_MAX_BODY_BYTES = 2 * 1024 * 1024;
export const DEFAULT_MAX_REDIRECTS = 5;

/** GET `url`, following redirects; resolves with the final status and body (any status). */
export async function httpGet(url: string, options: HttpGetOptions = {}): Promise<HttpGetResult> {
  const { signal } = options;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxRedirects = options.maxRedirects ?? DEFAULT_MAX_REDIRECTS;
  if (signal?.aborted) throw abortError(signal);

  // One controller for the whole exchange: the deadline and the caller's signal both end it.
  const controller = new AbortController();
  const timeoutError = new BtError('TRACKER_TIMEOUT', 'network', `no answer from ${url} within ${formatMs(timeoutMs)}`, { detail: { url, timeoutMs } });
  const timer = setTimeout(() => controller.abort(timeoutError), timeoutMs);
  const onAbort = () => controller.abort(abortError(signal));
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const seen = new Set<string>();
    let current = url;
    for (let redirects = 0; ; redirects++) {
      seen.add(current);
      const res = await getOnce(current, controller.signal, options);
      if (res.location === undefined) return { status: res.status, body: res.body, url: current, redirects };
      const next = resolveRedirect(current, res.location);
      if (seen.has(next)) {
        throw new BtError('TRACKER_REDIRECT_LOOP', 'network', `${url} redirects in a loop (back to ${next})`, { detail: { url, chain: [...seen, next] } });
      }
      if (redirects + 1 > maxRedirects) {
        throw new BtError('TRACKER_TOO_MANY_REDIRECTS', 'network', `${url} redirected more than ${maxRedirects} times`, { detail: { url, chain: [...seen, next] } });
      }
      current = next;
    }
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
}

function resolveRedirect(from: string, location: string): string {
  let next: URL;
  try {
    next = new URL(location, from);
  } catch {
    throw new BtError('TRACKER_BAD_REDIRECT', 'network', `${from} redirects to an invalid URL \`${location.slice(0, 200)}\``);
  }
  if (next.protocol !== 'http:' && next.protocol !== 'https:') {
    throw new BtError('TRACKER_BAD_REDIRECT', 'network', `${from} redirects to \`${next.href.slice(0, 200)}\`, which is not HTTP(S)`);
  }
  return next.href;
}

interface OnceResult {
  status: number;
  body: Buffer;
  location?: string;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

function getOnce(url: string, signal: AbortSignal, options: HttpGetOptions): Promise<OnceResult> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BODY_BYTES;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return Promise.reject(inputError('TRACKER_BAD_URL', `\`${url}\` is not a valid URL`));
  }
  const mod = parsed.protocol === 'https:' ? https : parsed.protocol === 'http:' ? http : null;
  if (!mod) return Promise.reject(inputError('TRACKER_UNSUPPORTED_SCHEME', `\`${url}\` is not an HTTP(S) URL`));
  if (signal.aborted) return Promise.reject(signal.reason as Error);

  return new Promise<OnceResult>((resolve, reject) => {
    let settled = false;
    const finish = (err: unknown, value?: OnceResult) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      // The exchange is over whatever its outcome: the socket goes now. A redirect's body is not
      // read, and a tracker may make it endless (chunked, never finished): left to drain, it kept
      // the socket, and with it the process, alive long after the answer was printed (issue 15).
      req.destroy();
      if (err) reject(err);
      else resolve(value!);
    };
    const onAbort = () => finish(signal.reason);
    const req = mod.get(
      parsed,
      {
        agent: false,
        headers: { 'user-agent': options.userAgent ?? 'btkit', 'accept-encoding': 'identity', connection: 'close' },
      },
      (res) => {
        const status = res.statusCode ?? 0;
        const location = res.headers.location;
        if (REDIRECT_STATUSES.has(status) && location) {
          finish(null, { status, body: Buffer.alloc(0), location });
          return;
        }
        const declared = Number(res.headers['content-length']);
        if (Number.isFinite(declared) && declared > maxBytes) {
          finish(tooLarge(url, maxBytes, declared));
          return;
        }
        const chunks: Buffer[] = [];
        let total = 0;
        res.on('data', (chunk: Buffer) => {
          total += chunk.length;
          if (total > maxBytes) finish(tooLarge(url, maxBytes));
          else chunks.push(chunk);
        });
        res.on('end', () => finish(null, { status, body: Buffer.concat(chunks, total) }));
        res.on('error', (err) => finish(unreachable(url, err)));
        res.on('aborted', () => finish(new BtError('TRACKER_UNREACHABLE', 'network', `${url}: the connection closed in the middle of the answer`)));
      },
    );
    req.on('error', (err) => finish(unreachable(url, err)));
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function tooLarge(url: string, maxBytes: number, declared?: number): BtError {
  return new BtError(
    'TRACKER_RESPONSE_TOO_LARGE',
    'network',
    `${url} sent ${declared !== undefined ? `a ${declared}-byte answer` : 'more'} than the ${maxBytes}-byte limit`,
    { detail: { url, maxBytes, ...(declared !== undefined ? { declared } : {}) } },
  );
}

function unreachable(url: string, err: unknown): BtError {
  if (err instanceof BtError) return err;
  const sys = fromSystemError(err, url);
  const message = sys.category === 'internal' ? `${url}: ${(err as Error).message}` : sys.message;
  return new BtError('TRACKER_UNREACHABLE', 'network', message, { cause: err, ...(sys.detail ? { detail: { url, ...sys.detail } } : { detail: { url } }) });
}

export function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${ms} ms`;
}

// ---------------------------------------------------------------------------------------------
// The HTTP tracker client: announce and scrape over httpGet.

/** Announce over HTTP(S) (BEP 3, 7, 23, 24). Throws TRACKER_FAILURE for a `failure reason`. */
export async function httpAnnounce(url: string, params: AnnounceParams, options: HttpGetOptions = {}): Promise<AnnounceResult> {
  const started = performance.now();
  const res = await httpGet(buildAnnounceUrl(url, params), options);
  const body = parseAnswer(url, res, parseAnnounceBody);
  return { url, protocol: 'http', rttMs: elapsed(started), ...body, redirects: res.redirects };
}

/**
 * Scrape over HTTP (BEP 48): up to 64 infohashes per request (trackers that accept only one
 * answer for the first; the result says which hashes were answered). The scrape URL is derived from the
 * announce URL; a tracker whose URL does not allow it is TRACKER_SCRAPE_UNSUPPORTED.
 */
export async function httpScrape(announceUrl: string, infoHashes: readonly Uint8Array[], options: HttpGetOptions = {}): Promise<ScrapeResult> {
  const scrapeUrl = scrapeUrlFor(announceUrl);
  if (scrapeUrl === null) {
    throw new BtError('TRACKER_SCRAPE_UNSUPPORTED', 'network', `${announceUrl} cannot be scraped: its last path component does not start with \`announce\` (BEP 48)`, {
      detail: { url: announceUrl },
    });
  }
  const started = performance.now();
  const result: ScrapeResult = { url: announceUrl, protocol: 'http', rttMs: 0, files: new Map(), redirects: 0 };
  // Long lists go in several requests: a URL of thousands of escaped hashes meets HTTP 414.
  for (let i = 0; i < Math.max(1, infoHashes.length); i += HTTP_SCRAPE_BATCH) {
    const res = await httpGet(buildScrapeUrl(scrapeUrl, infoHashes.slice(i, i + HTTP_SCRAPE_BATCH)), options);
    const body = parseAnswer(announceUrl, res, parseScrapeBody);
    for (const [h, s] of body.files) result.files.set(h, s);
    result.redirects! += res.redirects;
    if (body.minRequestInterval !== undefined) result.minRequestInterval = body.minRequestInterval;
  }
  result.rttMs = elapsed(started);
  return result;
}

/** Infohashes per HTTP scrape request (each is ~60 characters of URL once escaped). */
export const HTTP_SCRAPE_BATCH = 64;

/**
 * A non-200 status is an error, but trackers often put a bencoded `failure reason` in a 4xx body:
 * when they do, that reason is the better message.
 */
function parseAnswer<T>(url: string, res: HttpGetResult, parse: (body: Uint8Array) => T): T {
  if (res.status !== 200) {
    try {
      parse(res.body);
    } catch (err) {
      if (err instanceof BtError && err.code === 'TRACKER_FAILURE') throw err;
    }
    const preview = res.body.subarray(0, 120).toString('latin1').replace(/[^\x20-\x7e]/g, '.').trim();
    throw new BtError('TRACKER_HTTP_STATUS', 'network', `${url} answered HTTP ${res.status}${preview ? `: ${preview}` : ''}`, {
      detail: { url, status: res.status },
    });
  }
  return parse(res.body);
}

const elapsed = (since: number) => Math.round((performance.now() - since) * 100) / 100;
