/**
 * BEP 17 HTTP seeds (`httpseeds`): the request URL, and WebSeed in its `bep17` mode against a
 * loopback BEP 17 script (test/helpers/httpseed-server.ts) — whole pieces, parts of pieces as
 * `ranges`, a 503 whose body is the delay, an unknown torrent, a body of the wrong length. What is
 * asserted is bytes, requests, events and error codes, never a duration.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { httpSeedUrl, WebSeed, type WebSeedEvent, type WebSeedOptions } from '../../../../src/core/webseed/index.js';
import { retryFromBody } from '../../../../src/core/webseed/http-range.js';
import { networkError } from '../../../../src/core/errors.js';
import { startHttpSeed, type HttpSeedServer } from '../../../helpers/httpseed-server.js';
import { bytes, fixture } from './torrent-fixture.js';
import { settledCode } from '../../../helpers/errors.js';

// The info hash of BEP 17's own example URL.
const bepHash = Buffer.from('9cd9698af555751a9186ae066c57ea21572335e0', 'hex');

describe('httpSeedUrl (BEP 17)', () => {
  it("gives the BEP's example URLs for its example hash", () => {
    expect(httpSeedUrl('http://www.whatever.com/seed.php', bepHash, 3)).toBe('http://www.whatever.com/seed.php?info_hash=%9C%D9i%8A%F5Uu%1A%91%86%AE%06lW%EA%21W%235%E0&piece=3');
    expect(httpSeedUrl('http://www.whatever.com/seed.php', bepHash, 8, { start: 49152, end: 131071 })).toBe(
      'http://www.whatever.com/seed.php?info_hash=%9C%D9i%8A%F5Uu%1A%91%86%AE%06lW%EA%21W%235%E0&piece=8&ranges=49152-131071',
    );
  });

  it('appends to a URL that already has a query', () => {
    expect(httpSeedUrl('http://h/s.php?k=1', Buffer.alloc(20, 0x41), 0)).toBe(`http://h/s.php?k=1&info_hash=${'A'.repeat(20)}&piece=0`);
    expect(httpSeedUrl('http://h/s.php?', Buffer.alloc(20, 0x41), 1)).toBe(`http://h/s.php?info_hash=${'A'.repeat(20)}&piece=1`);
  });

  it('encodes every byte that is not unreserved, and only those', () => {
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const url = httpSeedUrl('http://h/s', all, 0);
    const hash = /info_hash=([^&]*)&/.exec(url)![1]!;
    expect(decodeURIComponent(hash.replace(/%([89A-F][0-9A-F])/g, '%25$1'))).toBeTypeOf('string');
    const back = Buffer.from(hash.replace(/%([0-9A-F]{2})|(.)/g, (_, hex: string | undefined, c: string | undefined) => String.fromCharCode(hex ? parseInt(hex, 16) : c!.charCodeAt(0))), 'latin1');
    expect(back.equals(all)).toBe(true);
    expect(hash.replace(/%[0-9A-F]{2}/g, '')).toMatch(/^[A-Za-z0-9\-._~]*$/);
  });
});

describe('retryFromBody (BEP 17 503)', () => {
  const busy = networkError('WEBSEED_RETRY_LATER', 'x: 503, retry later', { detail: { status: 503, retryAfterMs: null } });
  it('reads an ASCII integer of seconds, capped at a day; anything else leaves the error as it was', () => {
    expect(retryFromBody(busy, Buffer.from('30')).detail?.retryAfterMs).toBe(30_000);
    expect(retryFromBody(busy, Buffer.from(' 7\r\n')).detail?.retryAfterMs).toBe(7_000);
    expect(retryFromBody(busy, Buffer.from('99999999')).detail?.retryAfterMs).toBe(86_400_000);
    expect(retryFromBody(busy, Buffer.from('soon'))).toBe(busy);
    expect(retryFromBody(busy, Buffer.alloc(0))).toBe(busy);
  });
  it('a Retry-After header wins over the body; other errors are untouched', () => {
    const header = networkError('WEBSEED_RETRY_LATER', 'x', { detail: { retryAfterMs: 2000 } });
    expect(retryFromBody(header, Buffer.from('30'))).toBe(header);
    const notFound = networkError('WEBSEED_NOT_FOUND', 'x');
    expect(retryFromBody(notFound, Buffer.from('30'))).toBe(notFound);
  });
});

const fx = fixture(
  'set',
  [
    { path: ['a.bin'], data: bytes(40_000, 'a') },
    { path: ['b.bin'], data: bytes(30_000, 'b') },
  ],
  16_384,
);
const infoHash = Buffer.from('00112233445566778899aabbccddeeff01234567', 'hex');

const servers: HttpSeedServer[] = [];
const seeds: WebSeed[] = [];
afterEach(async () => {
  for (const s of seeds.splice(0)) s.close();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function setup(opts: Partial<WebSeedOptions> = {}, hash: Uint8Array = infoHash) {
  const server = await startHttpSeed({ infoHash, pieceLength: fx.pieceLength, stream: fx.stream });
  servers.push(server);
  const events: WebSeedEvent[] = [];
  const seed = new WebSeed({
    url: server.url,
    bep17: { infoHash: hash },
    layout: fx.layout,
    pieceLength: fx.pieceLength,
    totalLength: fx.totalLength,
    idleTimeoutMs: 2000,
    deadlineMs: 10_000,
    backoff: { initialMs: 1, maxMs: 5000 },
    onEvent: (e) => events.push(e),
    ...opts,
  });
  seeds.push(seed);
  return { server, seed, events };
}

const code = settledCode;

describe('WebSeed, BEP 17 mode', () => {
  it('fetches every piece whole (no ranges parameter), over the node:http and the raw client alike', async () => {
    const { server, seed } = await setup({ maxInFlight: 1 });
    for (let i = 0; i < fx.pieceCount; i++) expect(Buffer.from(await seed.fetchPiece(i)).equals(fx.piece(i))).toBe(true);
    expect(server.requests).toEqual(Array.from({ length: fx.pieceCount }, (_, i) => ({ piece: i, ranges: null })));
    // With a sink: the raw HTTP client.
    const got = Buffer.alloc(fx.totalLength);
    await seed.fetchRange(0, fx.totalLength, { sink: (o, b) => b.copy(got, o) });
    expect(got.equals(fx.stream)).toBe(true);
    expect(seed.hasPiece(fx.pieceCount - 1)).toBe(true);
  });

  it('a range that starts and ends inside pieces: one request per piece, ranges inclusive and relative to the piece', async () => {
    const { server, seed } = await setup();
    const start = 10_000;
    const length = 40_000; // 10000..49999: piece 0 from 10000, pieces 1 and 2 whole, piece 3 to 49999
    const got = Buffer.from(await seed.fetchRange(start, length));
    expect(got.equals(fx.stream.subarray(start, start + length))).toBe(true);
    expect(server.requests).toEqual([
      { piece: 0, ranges: '10000-16383' },
      { piece: 1, ranges: null },
      { piece: 2, ranges: null },
      { piece: 3, ranges: '0-847' },
    ]);
  });

  it("a 503 whose body is a number: the seed backs off that many seconds (BEP 17's retry after), then serves", async () => {
    const { server, seed, events } = await setup();
    server.busy(1, 1);
    expect(Buffer.from(await seed.fetchPiece(2)).equals(fx.piece(2))).toBe(true);
    expect(events.find((e) => e.type === 'webseed-backoff')).toMatchObject({ reason: 'retry-later', retryAfterMs: 1000, delayMs: 1000 });
    expect(events.find((e) => e.type === 'webseed-error')).toMatchObject({ code: 'WEBSEED_RETRY_LATER', willRetry: true });
    expect(server.requests.filter((r) => r.piece === 2)).toHaveLength(2);
  });

  it('a script that does not know the torrent (404): the seed drops, every piece is refused', async () => {
    const { seed, events } = await setup({}, Buffer.alloc(20, 9));
    expect(await code(seed.fetchPiece(0))).toBe('WEBSEED_DROPPED');
    expect(events.find((e) => e.type === 'webseed-dropped')).toMatchObject({ reason: 'no-files', code: 'WEBSEED_NO_FILES' });
    expect(seed.hasPiece(1)).toBe(false);
    expect(await code(seed.fetchPiece(1))).toBe('WEBSEED_DROPPED');
  });

  it('a body longer than asked is a strike; a short one is retried', async () => {
    const { server, seed, events } = await setup({ maxAttempts: 3 });
    server.fault = (x) => {
      if (x.piece !== 0) return false;
      const long = Buffer.concat([x.body, Buffer.alloc(10)]);
      x.res.writeHead(200, { 'Content-Length': long.length }).end(long);
      return true;
    };
    expect(await code(seed.fetchPiece(0))).toBe('WEBSEED_BODY_TOO_LONG');
    expect(events.find((e) => e.type === 'webseed-strike')).toMatchObject({ code: 'WEBSEED_BODY_TOO_LONG', strikes: 1 });
    let cut = 0;
    server.fault = (x) => {
      if (x.piece !== 1 || cut++ > 0) return false;
      x.res.writeHead(200, { 'Content-Length': x.body.length });
      x.res.write(x.body.subarray(0, 100));
      x.res.destroy();
      return true;
    };
    expect(Buffer.from(await seed.fetchPiece(1)).equals(fx.piece(1))).toBe(true);
    // The cut shows as a reset on node:http's path (the raw client calls it a short body): a transient error, tried again.
    const errors = events.filter((e): e is Extract<WebSeedEvent, { type: 'webseed-error' }> => e.type === 'webseed-error');
    expect(errors.map((e) => [e.code, e.willRetry])).toEqual([
      ['WEBSEED_BODY_TOO_LONG', false],
      [expect.stringMatching(/^(WEBSEED_SHORT_BODY|NET_ECONNRESET)$/), true],
    ]);
  });
});

describe('httpSeedUrls (which BEP 17 seeds a download uses)', () => {
  it("the torrent's httpseeds, http(s) only, once each; none with --no-web-seeds", async () => {
    const { httpSeedUrls } = await import('../../../../src/core/session/download.js');
    const meta = { httpSeeds: ['http://127.0.0.1:1/s', 'ftp://127.0.0.1/x', 'http://127.0.0.1:1/s', 'https://127.0.0.1:2/t'] };
    expect(httpSeedUrls({ useWebSeeds: true }, meta)).toEqual(['http://127.0.0.1:1/s', 'https://127.0.0.1:2/t']);
    expect(httpSeedUrls({ useWebSeeds: false }, meta)).toEqual([]);
    expect(httpSeedUrls({ useWebSeeds: true }, null)).toEqual([]);
  });
});
