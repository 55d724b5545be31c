/**
 * Every socket an HTTP tracker request opened is closed when the call ends, whatever the answer
 * (issue 15): a redirect whose body never ends kept its socket, and the process, alive for as long
 * as the tracker kept writing. The server here watches its own side of every connection and the
 * tests wait for each one's `close` event, under a generous bound.
 */
import http from 'node:http';
import type net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { TrackerClient } from '../../../../src/core/tracker/index.js';
import { TEST_ANNOUNCE, TEST_INFO_HASH } from '../../../helpers/tracker-fakes.js';

const IH = TEST_INFO_HASH;
const params = TEST_ANNOUNCE;

/** Far above a loopback close (milliseconds), far below the 30 s the endless body would last. */
const CLOSE_BOUND_MS = 5000;
/** How long the endless body goes on at most, so that a failing test still ends. */
const ENDLESS_FOR_MS = 30_000;

interface Tracked {
  url: (path?: string) => string;
  sockets: net.Socket[];
  closed: Set<net.Socket>;
  /** The endless bodies' timers, cleared at close. */
  timers: Set<NodeJS.Timeout>;
  close(): Promise<void>;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function trackedServer(handler: (req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<Tracked> {
  const sockets: net.Socket[] = [];
  const closed = new Set<net.Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const server = http.createServer(handler);
  server.on('connection', (s) => {
    sockets.push(s);
    s.on('close', () => closed.add(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const t: Tracked = {
    url: (path = '/announce') => `http://127.0.0.1:${port}${path}`,
    sockets,
    closed,
    timers,
    close: () =>
      new Promise<void>((resolve) => {
        for (const x of timers) clearInterval(x);
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  cleanups.push(() => t.close());
  return t;
}

/** A 302 whose chunked body goes on (a chunk every 5 ms) until the client hangs up, or 30 s. */
function endlessRedirect(res: http.ServerResponse, location: string, timers: Set<NodeJS.Timeout>): void {
  res.writeHead(302, { location, 'transfer-encoding': 'chunked' });
  const until = Date.now() + ENDLESS_FOR_MS;
  const timer = setInterval(() => {
    if (res.destroyed || Date.now() > until) {
      clearInterval(timer);
      timers.delete(timer);
      if (!res.destroyed) res.end();
      return;
    }
    res.write(Buffer.alloc(1024, 0x61));
  }, 5);
  timers.add(timer);
}

/** Resolves once every socket the server saw is closed; false if any is still open after `ms`. */
async function allClosed(t: Tracked, ms = CLOSE_BOUND_MS): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (t.sockets.length > 0 && t.sockets.every((s) => t.closed.has(s))) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return false;
}

function client() {
  const c = new TrackerClient({});
  cleanups.push(() => c.close());
  return c;
}

describe('HTTP tracker requests close their sockets', () => {
  it('a 302 with an endless chunked body: the announce resolves at the target, and the redirect\'s socket is closed', async () => {
    const t: Tracked = await trackedServer((req, res) => {
      if (req.url!.startsWith('/old')) return endlessRedirect(res, `/announce${req.url!.slice(req.url!.indexOf('?'))}`, t.timers);
      res.writeHead(200);
      res.end(Buffer.from('d8:intervali60e5:peers6:\x7f\x00\x00\x01\x1a\xe1e', 'latin1'));
    });
    await expect(client().announce(t.url('/old/announce'), params, { timeoutMs: 5000 })).resolves.toMatchObject({ interval: 60, redirects: 1, peers: [{ ip: '127.0.0.1', port: 6881, family: 4 }] });
    expect(t.sockets).toHaveLength(2);
    expect(await allClosed(t)).toBe(true);
  });

  it('a scrape redirected the same way ends with every socket closed', async () => {
    const t: Tracked = await trackedServer((req, res) => {
      if (req.url!.startsWith('/old')) return endlessRedirect(res, `/scrape${req.url!.slice(req.url!.indexOf('?'))}`, t.timers);
      res.writeHead(200);
      res.end(Buffer.concat([Buffer.from('d5:filesd20:'), IH, Buffer.from('d8:completei1e10:downloadedi2e10:incompletei3eeee')]));
    });
    const r = await client().scrape(t.url('/old/announce'), [IH], { timeoutMs: 5000 });
    expect(r.files.size).toBe(1);
    expect(await allClosed(t)).toBe(true);
  });

  it('endless redirects past the bound: the error comes, and every socket is closed', async () => {
    const t: Tracked = await trackedServer((req, res) => {
      const n = Number(/\/r(\d+)/.exec(req.url!)?.[1] ?? 0);
      endlessRedirect(res, `/r${n + 1}/announce`, t.timers);
    });
    await expect(client().announce(t.url('/r0/announce'), params, { timeoutMs: 5000 })).rejects.toMatchObject({ code: 'TRACKER_TOO_MANY_REDIRECTS' });
    expect(await allClosed(t)).toBe(true);
  });

  it('a plain answer, and a body over the limit: every socket is closed', async () => {
    const ok = await trackedServer((_req, res) => {
      res.writeHead(200);
      res.end('d8:intervali60e5:peers0:e');
    });
    await client().announce(ok.url(), params, { timeoutMs: 5000 });
    expect(await allClosed(ok)).toBe(true);

    const big: Tracked = await trackedServer((_req, res) => {
      res.writeHead(200, { 'content-length': 10_000_000 });
      res.write('d8:interval');
    });
    await expect(client().announce(big.url(), params, { timeoutMs: 5000 })).rejects.toMatchObject({ code: 'TRACKER_RESPONSE_TOO_LARGE' });
    expect(await allClosed(big)).toBe(true);
  });
});
