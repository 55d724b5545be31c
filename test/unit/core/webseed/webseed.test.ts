/**
 * WebSeed against a loopback HTTP server with fault modes: each fault ends in its event and its
 * outcome (data, a typed error, a dropped seed). No assertion depends on timing: timeouts are
 * short only so the tests are quick, and what is asserted is the event and the error code.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WebSeed, type WebSeedEvent, type WebSeedOptions } from '../../../../src/core/webseed/index.js';
import { startFaultServer, type FaultServer } from '../../../helpers/webseed-fault-server.js';
import { bytes, fixture, type Fixture } from './torrent-fixture.js';
import { settledCode } from '../../../helpers/errors.js';

const servers: FaultServer[] = [];
const seeds: WebSeed[] = [];
afterEach(async () => {
  for (const s of seeds.splice(0)) s.close();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

// Multi-file: a(40000) | pad(960) | "b c#?.bin"(30000) | ünï/d(5000); piece length 16 KiB.
const multi = fixture(
  'set',
  [
    { path: ['a.bin'], data: bytes(40_000, 'a') },
    { path: ['.pad', '960'], data: 960 },
    { path: ['b c#?.bin'], data: bytes(30_000, 'b') },
    { path: ['ünï', 'd'], data: bytes(5_000, 'd') },
  ],
  16_384,
);
const single = fixture('one.iso', [{ path: ['one.iso'], data: bytes(100_000, 'one') }], 16_384);

async function setup(fx: Fixture, opts: Partial<WebSeedOptions> = {}, urlPath = '/') {
  const server = await startFaultServer(fx.served());
  servers.push(server);
  const events: WebSeedEvent[] = [];
  const seed = new WebSeed({
    url: server.base + urlPath,
    layout: fx.layout,
    pieceLength: fx.pieceLength,
    totalLength: fx.totalLength,
    idleTimeoutMs: 300,
    deadlineMs: 10_000,
    backoff: { initialMs: 1, maxMs: 20 },
    onEvent: (e) => events.push(e),
    ...opts,
  });
  seeds.push(seed);
  return { server, seed, events };
}

const code = settledCode;
const types = (events: WebSeedEvent[]) => events.map((e) => e.type);

describe('WebSeed: a good server', () => {
  it('fetches every piece of a multi-file torrent byte for byte, never asking for padding', async () => {
    const { server, seed, events } = await setup(multi, { maxInFlight: 1 });
    for (let i = 0; i < multi.pieceCount; i++) {
      expect(Buffer.from(await seed.fetchPiece(i))).toEqual(multi.piece(i));
    }
    expect(events).toEqual([]);
    expect(server.requests.some((p) => p.includes('.pad'))).toBe(false);
    // The encoded name reached the server as the file's name.
    expect(server.requests).toContain('/set/b c#?.bin');
    expect(server.requests).toContain('/set/ünï/d');
    // Keep-alive: one connection for every request (one at a time).
    expect(server.requests.length).toBeGreaterThan(multi.pieceCount);
    expect(server.connections).toBe(1);
    expect(seed.stats.reusedConnections).toBe(server.requests.length - 1);
  });

  it('a single-file torrent from a file URL and from a directory URL', async () => {
    const a = await setup(single, {}, '/one.iso');
    expect(Buffer.from(await a.seed.fetchPiece(6))).toEqual(single.piece(6));
    const b = await setup(single, {}, '/');
    expect(Buffer.from(await b.seed.fetchPiece(0))).toEqual(single.piece(0));
    expect(b.server.requests).toEqual(['/one.iso']);
  });

  it('keeps at most maxInFlight requests open and as many connections', async () => {
    const { server, seed } = await setup(single, { maxInFlight: 3 });
    const all = await Promise.all(Array.from({ length: single.pieceCount }, (_, i) => seed.fetchPiece(i)));
    expect(Buffer.concat(all.map((b) => Buffer.from(b)))).toEqual(single.stream);
    expect(server.maxOpen).toBeLessThanOrEqual(3);
    expect(server.connections).toBeLessThanOrEqual(3);
  });

  it('follows one redirect', async () => {
    const { server, seed } = await setup(single, {}, '/old.iso');
    server.fault = (x) => {
      if (x.path !== '/old.iso') return false;
      x.res.writeHead(302, { Location: '/one.iso', 'Content-Length': 0 }).end();
      return true;
    };
    expect(Buffer.from(await seed.fetchPiece(1))).toEqual(single.piece(1));
  });
});

describe('WebSeed: faults', () => {
  it('wrong bytes: returned unchecked; after maxBadPieces reports the seed drops itself', async () => {
    const { server, seed, events } = await setup(single, { maxBadPieces: 2 });
    server.fault = (x) => {
      x.res.writeHead(206, { 'Content-Range': `bytes ${x.range!.start}-${x.range!.end}/${x.file!.length}` }).end(Buffer.alloc(x.range!.end - x.range!.start + 1, 7));
      return true;
    };
    const got = Buffer.from(await seed.fetchPiece(0));
    expect(got).not.toEqual(single.piece(0)); // the hash check is the owner's
    seed.reportBadPiece(0);
    expect(seed.state).toBe('ready');
    seed.reportBadPiece(1);
    expect(seed.state).toBe('dropped');
    expect(events.filter((e) => e.type === 'webseed-strike')).toHaveLength(2);
    expect(events.at(-1)).toMatchObject({ type: 'webseed-dropped', reason: 'bad-pieces', code: 'WEBSEED_BAD_DATA' });
    expect(seed.hasPiece(2)).toBe(false);
    expect(await code(seed.fetchPiece(2))).toBe('WEBSEED_DROPPED');
  });

  it('ignores Range, small file: read whole, the window kept, one event', async () => {
    const { server, seed, events } = await setup(single, { wholeBodyLimit: 1 << 20 });
    server.fault = (x) => {
      x.res.writeHead(200, { 'Content-Length': x.file!.length }).end(x.file);
      return true;
    };
    expect(Buffer.from(await seed.fetchPiece(3))).toEqual(single.piece(3));
    expect(Buffer.from(await seed.fetchPiece(6))).toEqual(single.piece(6)); // the short last piece
    expect(types(events)).toEqual(['webseed-range-ignored']);
    expect(seed.state).toBe('ready');
  });

  it('ignores Range, big file (chunked, no length): cut off and dropped with a clear event', async () => {
    const { server, seed, events } = await setup(single, { wholeBodyLimit: 50_000 });
    server.fault = (x) => {
      x.res.writeHead(200);
      x.res.end(x.file); // no Content-Length given: chunked, so the limit is found while reading
      return true;
    };
    expect(await code(seed.fetchPiece(0))).toBe('WEBSEED_DROPPED');
    expect(events.at(-1)).toMatchObject({ type: 'webseed-dropped', reason: 'range-ignored', code: 'WEBSEED_RANGE_IGNORED' });
    expect(seed.state).toBe('dropped');
  });

  it('503 with Retry-After: backs off (capped), then gets the data', async () => {
    const { server, seed, events } = await setup(single);
    let refusals = 2;
    server.fault = (x) => {
      if (refusals-- <= 0) return false;
      x.res.writeHead(503, { 'Retry-After': '1', 'Content-Length': 4 }).end('busy');
      return true;
    };
    expect(Buffer.from(await seed.fetchPiece(2))).toEqual(single.piece(2));
    const backoffs = events.filter((e) => e.type === 'webseed-backoff');
    expect(backoffs).toHaveLength(2);
    expect(backoffs[0]).toMatchObject({ reason: 'retry-later', retryAfterMs: 1000, delayMs: 20 });
    expect(events.filter((e) => e.type === 'webseed-error').map((e) => (e as { code: string }).code)).toEqual(['WEBSEED_RETRY_LATER', 'WEBSEED_RETRY_LATER']);
    // The 503 bodies were drained: still one connection.
    expect(server.connections).toBe(1);
  });

  it('503 every time: gives up on the piece after maxAttempts, the seed stays', async () => {
    const { server, seed, events } = await setup(single, { maxAttempts: 2 });
    server.fault = (x) => {
      x.res.writeHead(503, { 'Content-Length': 0 }).end();
      return true;
    };
    expect(await code(seed.fetchPiece(0))).toBe('WEBSEED_RETRY_LATER');
    expect(server.requests).toHaveLength(2);
    expect(events.filter((e) => e.type === 'webseed-error').map((e) => (e as { willRetry: boolean }).willRetry)).toEqual([true, false]);
    expect(seed.state).not.toBe('dropped');
  });

  it('never answers: timeouts, then dropped after maxErrors failures in a row', async () => {
    const { server, seed, events } = await setup(single, { idleTimeoutMs: 100, maxAttempts: 5, maxErrors: 3 });
    server.fault = () => true; // the request is left hanging
    expect(await code(seed.fetchPiece(0))).toBe('WEBSEED_DROPPED');
    const errors = events.filter((e) => e.type === 'webseed-error');
    expect(errors.map((e) => (e as { code: string }).code)).toEqual(['WEBSEED_TIMEOUT', 'WEBSEED_TIMEOUT', 'WEBSEED_TIMEOUT']);
    expect(events.filter((e) => e.type === 'webseed-backoff').every((e) => (e as { reason: string }).reason === 'timeout')).toBe(true);
    expect(events.at(-1)).toMatchObject({ type: 'webseed-dropped', reason: 'errors' });
  });

  it('redirect loop: that file unavailable; a single-file seed then has nothing and drops', async () => {
    const { server, seed, events } = await setup(single, {}, '/one.iso');
    server.fault = (x) => {
      x.res.writeHead(301, { Location: x.path === '/one.iso' ? '/two.iso' : '/one.iso', 'Content-Length': 0 }).end();
      return true;
    };
    // The only file is gone, so the seed is too: the fetch reports the drop.
    expect(await code(seed.fetchPiece(0))).toBe('WEBSEED_DROPPED');
    expect(types(events)).toEqual(['webseed-error', 'webseed-file-unavailable', 'webseed-dropped']);
    expect(events.find((e) => e.type === 'webseed-file-unavailable')).toMatchObject({ fileIndex: 0, code: 'WEBSEED_REDIRECT_LOOP' });
    expect(events.at(-1)).toMatchObject({ type: 'webseed-dropped', reason: 'no-files' });
    expect(server.requests).toEqual(['/one.iso', '/two.iso']);
  });

  it('too many redirects (no loop) are refused at the bound', async () => {
    const { server, seed, events } = await setup(single, { maxRedirects: 3 }, '/r0');
    server.fault = (x) => {
      const n = Number(x.path.slice(2));
      x.res.writeHead(302, { Location: `/r${n + 1}`, 'Content-Length': 0 }).end();
      return true;
    };
    expect(await code(seed.fetchPiece(0))).toBe('WEBSEED_DROPPED');
    expect(events.find((e) => e.type === 'webseed-file-unavailable')).toMatchObject({ code: 'WEBSEED_TOO_MANY_REDIRECTS' });
    expect(server.requests).toEqual(['/r0', '/r1', '/r2', '/r3']);
  });

  it('404 for one file: its pieces unavailable, the other files still served', async () => {
    const { server, seed, events } = await setup(multi);
    server.files.delete('/set/b c#?.bin');
    // Piece 2 (32768..49151) holds the end of a.bin, the padding and the start of "b c#?.bin".
    expect(await code(seed.fetchPiece(2))).toBe('WEBSEED_PIECE_UNAVAILABLE');
    expect(events.filter((e) => e.type === 'webseed-file-unavailable')).toEqual([
      expect.objectContaining({ fileIndex: 2, path: ['b c#?.bin'], code: 'WEBSEED_NOT_FOUND', status: 404 }),
    ]);
    expect(seed.hasPiece(2)).toBe(false);
    expect(seed.hasPiece(3)).toBe(false);
    expect(seed.hasPiece(4)).toBe(false); // "b c#?.bin" ends at 70960, inside piece 4
    expect(seed.hasPiece(0)).toBe(true);
    expect(seed.hasPiece(1)).toBe(true);
    expect(seed.unavailableFiles()).toEqual([2]);
    expect(Buffer.from(await seed.fetchPiece(0))).toEqual(multi.piece(0));
    // No request for the missing file after the first 404.
    const before = server.requests.length;
    expect(await code(seed.fetchPiece(3))).toBe('WEBSEED_PIECE_UNAVAILABLE');
    expect(server.requests.length).toBe(before);
    expect(seed.state).toBe('ready');
  });

  it('slow body that stalls: idle timeout, retried, data correct', async () => {
    const { server, seed, events } = await setup(single, { idleTimeoutMs: 150 });
    let stalls = 1;
    server.fault = (x) => {
      if (stalls-- <= 0) return false;
      const { start, end } = x.range!;
      x.res.writeHead(206, { 'Content-Range': `bytes ${start}-${end}/${x.file!.length}`, 'Content-Length': end - start + 1 });
      x.res.write(x.file!.subarray(start, start + 100)); // then nothing more
      return true;
    };
    expect(Buffer.from(await seed.fetchPiece(1))).toEqual(single.piece(1));
    expect(events[0]).toMatchObject({ type: 'webseed-error', code: 'WEBSEED_TIMEOUT', willRetry: true });
  });

  it('a body that trickles past the deadline is a timeout', async () => {
    const { server, seed, events } = await setup(single, { idleTimeoutMs: 5_000, deadlineMs: 200, maxAttempts: 1 });
    const timers: NodeJS.Timeout[] = [];
    server.fault = (x) => {
      const { start, end } = x.range!;
      x.res.writeHead(206, { 'Content-Range': `bytes ${start}-${end}/${x.file!.length}`, 'Content-Length': end - start + 1 });
      let at = start;
      // One byte every 20 ms, bounded: 16 KiB would take minutes; the client gives up first.
      const t = setInterval(() => {
        if (at > end || x.res.destroyed) return clearInterval(t);
        x.res.write(x.file!.subarray(at, at + 1));
        at++;
      }, 20);
      timers.push(t);
      x.res.on('close', () => clearInterval(t));
      return true;
    };
    expect(await code(seed.fetchPiece(0))).toBe('WEBSEED_TIMEOUT');
    for (const t of timers) clearInterval(t);
    expect(events[0]).toMatchObject({ type: 'webseed-error', code: 'WEBSEED_TIMEOUT', willRetry: false });
  });

  it('a 206 body longer than asked: refused, a strike, nothing past the range kept', async () => {
    const { server, seed, events } = await setup(single);
    server.fault = (x) => {
      const { start, end } = x.range!;
      x.res.writeHead(206, { 'Content-Range': `bytes ${start}-${end}/${x.file!.length}` }); // chunked, no length
      x.res.end(x.file!.subarray(start, end + 1 + 5000));
      return true;
    };
    expect(await code(seed.fetchPiece(0))).toBe('WEBSEED_BODY_TOO_LONG');
    expect(types(events)).toEqual(['webseed-error', 'webseed-strike']);
    expect(seed.stats.strikes).toBe(1);
  });

  it('a 206 for another range than asked is refused', async () => {
    const { server, seed } = await setup(single);
    server.fault = (x) => {
      x.res.writeHead(206, { 'Content-Range': `bytes 0-9/${x.file!.length}`, 'Content-Length': 10 }).end(x.file!.subarray(0, 10));
      return true;
    };
    expect(await code(seed.fetchPiece(1))).toBe('WEBSEED_BAD_CONTENT_RANGE');
  });

  it('abort: a pending fetch rejects ABORTED and the seed stays usable', async () => {
    const { server, seed } = await setup(single);
    let hang = true;
    server.fault = () => hang;
    const ac = new AbortController();
    const p = seed.fetchPiece(0, { signal: ac.signal });
    ac.abort();
    expect(await code(p)).toBe('ABORTED');
    hang = false;
    expect(Buffer.from(await seed.fetchPiece(0))).toEqual(single.piece(0));
  });

  it('close: waiting and later fetches reject WEBSEED_CLOSED', async () => {
    const { server, seed } = await setup(single, { maxInFlight: 1 });
    server.fault = () => true;
    const first = seed.fetchPiece(0);
    const queued = seed.fetchPiece(1);
    seed.close();
    expect(await code(queued)).toBe('WEBSEED_CLOSED');
    expect(await code(first)).toBe('WEBSEED_CLOSED');
    expect(await code(seed.fetchPiece(2))).toBe('WEBSEED_CLOSED');
    expect(seed.state).toBe('closed');
  });
});
