/**
 * Web seeds as block sources in the session (webseed-source.ts): a loopback HTTP server with fault
 * modes (test/helpers/webseed-fault-server.ts) beside, or instead of, a seed over the in-memory
 * transport. Each fault ends in its event, and the download completes byte for byte when another
 * source has the data, or ends with the stall error when none does. No assertion is timed.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BtError } from '../../../../src/core/errors.js';
import { createTorrent } from '../../../../src/core/metainfo/create.js';
import type { Metainfo } from '../../../../src/core/metainfo/types.js';
import { Session, type SessionEvent, type SessionOptions } from '../../../../src/core/session/index.js';
import { contiguous } from '../../../../src/core/session/webseed-source.js';
import { FileStore } from '../../../../src/core/storage/file-store.js';
import { makePeerId } from '../../../../src/core/tracker/peer-id.js';
import { MemoryNetwork } from '../../../../src/core/transport/memory.js';
import { startFaultServer, type FaultServer } from '../../../helpers/webseed-fault-server.js';
import { startHttpSeed, type HttpSeedServer } from '../../../helpers/httpseed-server.js';
import { patternBytes, writeTree } from '../../../helpers/tmp.js';

let root: string;
let meta: Metainfo;
const files: Record<string, Buffer> = {};

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'btkit-wssession-'));
  const tree = { 'set/a.bin': patternBytes(300_000, 'a'), 'set/sub/b c.bin': patternBytes(200_001, 'b'), 'set/z.bin': patternBytes(70_000, 'z') };
  await writeTree(join(root, 'src'), tree);
  for (const [path, data] of Object.entries(tree)) files[`/${path}`] = data;
  meta = (await createTorrent({ path: join(root, 'src', 'set'), pieceLength: 32 * 1024, threads: 1 })).metainfo;
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const servers: FaultServer[] = [];
const stops: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function server(): Promise<FaultServer> {
  const s = await startFaultServer(files);
  servers.push(s);
  return s;
}

async function drain(session: Session, signal?: AbortSignal): Promise<{ events: SessionEvent[]; error: unknown }> {
  const events: SessionEvent[] = [];
  let error: unknown;
  try {
    for await (const ev of session.run(signal)) events.push(ev);
  } catch (e) {
    error = e;
  }
  return { events, error };
}

/** A complete seed over the in-memory transport at 127.0.0.2:6881. */
async function memorySeed(net: MemoryNetwork): Promise<void> {
  const seed = new Session({
    metainfo: meta,
    store: FileStore.open(meta, { outDir: join(root, 'src') }),
    peerId: makePeerId('-BK0100-'),
    transports: [net.transport('127.0.0.2')],
    listen: { host: '127.0.0.2', port: 6881 },
    trustedComplete: true,
    seed: {},
    tickMs: 50,
  });
  const ctl = new AbortController();
  const run = drain(seed, ctl.signal);
  for (let i = 0; i < 500 && !seed.listening; i++) await new Promise((r) => setTimeout(r, 5));
  stops.push(() => {
    ctl.abort();
    return run;
  });
}

let outs = 0;
async function download(webSeeds: string[], options: Partial<SessionOptions> & { peer?: MemoryNetwork } = {}) {
  const out = join(root, `out-${++outs}`);
  const { peer, ...rest } = options;
  const session = new Session({
    metainfo: meta,
    store: FileStore.open(meta, { outDir: out }),
    peerId: makePeerId('-BK0100-'),
    transports: [(peer ?? new MemoryNetwork()).transport('127.0.0.3')],
    stallTimeoutMs: 20_000,
    tickMs: 50,
    webSeeds,
    webSeedTuning: { idleTimeoutMs: 500, seedOptions: { backoff: { initialMs: 5, maxMs: 200 }, deadlineMs: 5000 } },
    ...rest,
  });
  if (peer) session.addPeers('manual', [{ host: '127.0.0.2', port: 6881 }]);
  const r = await drain(session);
  return { ...r, out, session };
}

async function sameBytes(out: string): Promise<boolean> {
  for (const [path, data] of Object.entries(files)) {
    if (!(await readFile(join(out, path))).equals(data)) return false;
  }
  return true;
}

const done = (events: SessionEvent[]) => events.find((e) => e.type === 'done') as Extract<SessionEvent, { type: 'done' }>;

describe('session: web seeds as block sources', () => {
  it('downloads from a web seed alone (no peer), byte for byte; the bytes are counted apart from peer bytes', async () => {
    const s = await server();
    const r = await download([`${s.base}/`]);
    expect(r.error).toBeUndefined();
    expect(await sameBytes(r.out)).toBe(true);
    const end = done(r.events);
    expect(end).toMatchObject({ reason: 'complete', downloadedWebSeed: meta.totalLength, downloaded: meta.totalLength });
    expect(r.events.find((e) => e.type === 'webseed-added')).toEqual({ type: 'webseed-added', url: `${s.base}/`, protocol: 'bep19' });
    const verified = r.events.filter((e): e is Extract<SessionEvent, { type: 'piece-verified' }> => e.type === 'piece-verified');
    expect(verified).toHaveLength(meta.pieceCount);
    expect(verified.every((e) => e.from.length === 1 && e.from[0] === `${s.base}/`)).toBe(true);
    // Runs join consecutive pieces: fewer HTTP requests than pieces (files split a run into several ranges).
    expect(s.requests.length, JSON.stringify(r.events.filter((e) => e.type === 'webseed-error'))).toBeLessThan(meta.pieceCount);
  });

  it('wrong bytes for one range: the piece fails, the server gets a strike, the data comes right from a peer', async () => {
    const s = await server();
    s.fault = (x) => {
      if (x.path !== '/set/a.bin' || !x.range || x.range.start > 100_000 || x.range.end < 100_000) return false;
      const body = Buffer.from(x.file!.subarray(x.range.start, x.range.end + 1));
      body[100_000 - x.range.start] ^= 0xff;
      x.res.writeHead(206, { 'Content-Range': `bytes ${x.range.start}-${x.range.end}/${x.file!.length}`, 'Content-Length': body.length }).end(body);
      return true;
    };
    const net = new MemoryNetwork();
    await memorySeed(net);
    const r = await download([`${s.base}/`], { peer: net, stallTimeoutMs: 5000 });
    if (r.error) console.log(JSON.stringify(r.events.filter((e) => /webseed|failed|peer-|piece-verified/.test(e.type)).map((e) => ({ ...e, ...('from' in e ? {} : {}) }))));
    expect(r.error).toBeUndefined();
    expect(await sameBytes(r.out)).toBe(true);
    const bad = Math.floor(100_000 / meta.pieceLength);
    expect(r.events.filter((e) => e.type === 'piece-failed').map((e) => (e as { index: number }).index)).toContain(bad);
    expect(r.events.find((e) => e.type === 'webseed-strike')).toMatchObject({ piece: bad, code: 'WEBSEED_BAD_PIECE', strikes: 1 });
    expect(done(r.events).wasted).toBeGreaterThan(0);
  });

  it('wrong bytes everywhere and no other source: strikes drop the server, then the stall error ends the download', async () => {
    const s = await server();
    s.fault = (x) => {
      if (!x.range || !x.file) return false;
      const len = x.range.end - x.range.start + 1;
      x.res.writeHead(206, { 'Content-Range': `bytes ${x.range.start}-${x.range.end}/${x.file.length}`, 'Content-Length': len }).end(Buffer.alloc(len, 7));
      return true;
    };
    const r = await download([`${s.base}/`], { stallTimeoutMs: 1500 });
    expect(r.error).toBeInstanceOf(BtError);
    expect((r.error as BtError).category).toBe('no-peers');
    expect((r.error as BtError).message).toContain('0 web seed(s) usable');
    expect(r.events.find((e) => e.type === 'webseed-dropped')).toMatchObject({ reason: 'bad-pieces', code: 'WEBSEED_BAD_DATA' });
    expect(done(r.events).havePieces).toBe(0);
  });

  it('wrong bytes everywhere beside a peer: the server is dropped and the pieces it held under suspicion go to the peer', async () => {
    const s = await server();
    s.fault = (x) => {
      if (!x.range || !x.file) return false;
      const len = x.range.end - x.range.start + 1;
      x.res.writeHead(206, { 'Content-Range': `bytes ${x.range.start}-${x.range.end}/${x.file.length}`, 'Content-Length': len }).end(Buffer.alloc(len, 7));
      return true;
    };
    const net = new MemoryNetwork();
    await memorySeed(net);
    const r = await download([`${s.base}/`], { peer: net });
    expect(r.error).toBeUndefined();
    expect(await sameBytes(r.out)).toBe(true);
    expect(r.events.find((e) => e.type === 'webseed-dropped')).toMatchObject({ reason: 'bad-pieces' });
  });

  it('a file the server lacks (404) comes from a peer; the other files from the server', async () => {
    const s = await server();
    s.files.delete('/set/sub/b c.bin');
    const net = new MemoryNetwork();
    await memorySeed(net);
    const r = await download([`${s.base}/`], { peer: net });
    expect(r.error).toBeUndefined();
    expect(await sameBytes(r.out)).toBe(true);
    expect(r.events.find((e) => e.type === 'webseed-file-unavailable')).toMatchObject({ path: ['sub', 'b c.bin'], status: 404 });
  });

  it('503 with Retry-After: the server is backed off, then serves the rest', async () => {
    const s = await server();
    let refused = 0;
    s.fault = (x) => {
      if (refused >= 2) return false;
      refused++;
      x.res.writeHead(503, { 'Retry-After': '0', 'Content-Length': 0 }).end();
      return true;
    };
    const r = await download([`${s.base}/`]);
    expect(r.error).toBeUndefined();
    expect(await sameBytes(r.out)).toBe(true);
    expect(r.events.find((e) => e.type === 'webseed-backoff')).toMatchObject({ reason: 'retry-later' });
  });

  it('a server that never answers: its blocks go to a peer (endgame or request expiry) and the download completes', async () => {
    const s = await server();
    s.fault = () => true; // never answers
    const net = new MemoryNetwork();
    await memorySeed(net);
    const r = await download([`${s.base}/`], { peer: net });
    expect(r.error).toBeUndefined();
    expect(await sameBytes(r.out)).toBe(true);
    expect(done(r.events).downloadedWebSeed).toBe(0);
  });

  it('a redirect loop: the files are unavailable from that server, the peer has them', async () => {
    const s = await server();
    s.fault = (x) => {
      x.res.writeHead(302, { Location: x.req.url!, 'Content-Length': 0 }).end();
      return true;
    };
    const net = new MemoryNetwork();
    await memorySeed(net);
    const r = await download([`${s.base}/`], { peer: net });
    expect(r.error).toBeUndefined();
    expect(await sameBytes(r.out)).toBe(true);
    expect(r.events.find((e) => e.type === 'webseed-file-unavailable')).toMatchObject({ code: 'WEBSEED_REDIRECT_LOOP' });
  });

  it('a server that ignores Range for big files is dropped; another web seed has the data', async () => {
    const bad = await server();
    bad.fault = (x) => {
      if (!x.file) return false;
      x.res.writeHead(200, { 'Content-Length': x.file.length }).end(x.file);
      return true;
    };
    const good = await server();
    const r = await download([`${bad.base}/`, `${good.base}/`], { webSeedTuning: { seedOptions: { wholeBodyLimit: 100_000, backoff: { initialMs: 5, maxMs: 200 } } } });
    expect(r.error).toBeUndefined();
    expect(await sameBytes(r.out)).toBe(true);
    expect(r.events.find((e) => e.type === 'webseed-dropped')).toMatchObject({ url: `${bad.base}/`, reason: 'range-ignored' });
  });
});

describe('session: BEP 17 HTTP seeds (httpseeds) beside BEP 19 web seeds', () => {
  const httpSeeds: HttpSeedServer[] = [];
  afterEach(async () => {
    await Promise.all(httpSeeds.splice(0).map((h) => h.close()));
  });
  async function httpSeed(): Promise<HttpSeedServer> {
    const stream = Buffer.concat(meta.files.map((f) => (f.padding ? Buffer.alloc(f.length) : files[`/set/${f.path.join('/')}`]!)));
    const h = await startHttpSeed({ infoHash: meta.infoHash.v1!, pieceLength: meta.pieceLength, stream });
    httpSeeds.push(h);
    return h;
  }

  it('downloads from an HTTP seed alone, byte for byte, a piece per request', async () => {
    const h = await httpSeed();
    const r = await download([], { httpSeeds: [h.url] });
    expect(r.error).toBeUndefined();
    expect(await sameBytes(r.out)).toBe(true);
    expect(r.events.find((e) => e.type === 'webseed-added')).toEqual({ type: 'webseed-added', url: h.url, protocol: 'bep17' });
    expect(done(r.events)).toMatchObject({ reason: 'complete', downloadedWebSeed: meta.totalLength });
    // Every piece asked once, whole (no ranges): a run of several pieces is one request per piece.
    expect(h.requests.map((q) => q.piece).sort((x, y) => x - y), JSON.stringify(r.events.filter((e) => e.type === 'webseed-error'))).toEqual(Array.from({ length: meta.pieceCount }, (_, i) => i));
    expect(h.requests.every((q) => q.ranges === null)).toBe(true);
  });

  it("a busy script (503 with the seconds to wait as its body) is backed off for that long, then serves the rest", async () => {
    const h = await httpSeed();
    h.busy(2, 1);
    const r = await download([], { httpSeeds: [h.url], webSeedTuning: { idleTimeoutMs: 2000, seedOptions: { backoff: { initialMs: 5, maxMs: 5000 }, deadlineMs: 10_000 } } });
    expect(r.error).toBeUndefined();
    expect(await sameBytes(r.out)).toBe(true);
    expect(r.events.find((e) => e.type === 'webseed-backoff')).toMatchObject({ url: h.url, reason: 'retry-later', retryAfterMs: 1000 });
  });

  it('wrong bytes for one piece from the HTTP seed (once): the piece fails, the seed gets a strike, the piece is asked again', async () => {
    const h = await httpSeed();
    const bad = 3;
    let lied = false;
    h.fault = (x) => {
      if (x.piece !== bad || lied) return false;
      lied = true;
      const body = Buffer.from(x.body);
      body[0]! ^= 0xff;
      x.res.writeHead(200, { 'Content-Length': body.length }).end(body);
      return true;
    };
    const r = await download([], { httpSeeds: [h.url] });
    expect(r.error).toBeUndefined();
    expect(await sameBytes(r.out)).toBe(true);
    expect(r.events.filter((e) => e.type === 'piece-failed').map((e) => (e as { index: number }).index)).toEqual([bad]);
    expect(r.events.find((e) => e.type === 'webseed-strike')).toMatchObject({ url: h.url, piece: bad, code: 'WEBSEED_BAD_PIECE', strikes: 1 });
    expect(h.requests.filter((q) => q.piece === bad)).toHaveLength(2);
  });

  it('a script that does not know the torrent (404) is dropped; with no other source the stall error ends the download', async () => {
    const h = await httpSeed();
    h.fault = (x) => {
      x.res.writeHead(404, { 'Content-Length': 0 }).end();
      return true;
    };
    const r = await download([], { httpSeeds: [h.url], stallTimeoutMs: 1500 });
    expect(r.error).toBeInstanceOf(BtError);
    expect((r.error as BtError).category).toBe('no-peers');
    expect(r.events.find((e) => e.type === 'webseed-dropped')).toMatchObject({ url: h.url, reason: 'no-files', code: 'WEBSEED_NO_FILES' });
  });
});

describe('contiguous', () => {
  it('joins blocks that follow each other in the piece stream, across pieces, in offset order', () => {
    const runs = contiguous(
      [
        { index: 1, begin: 0, length: 10 },
        { index: 0, begin: 10, length: 10 },
        { index: 3, begin: 0, length: 5 },
      ],
      20,
    );
    expect(runs.map((r) => [r.start, r.length, r.requests.length])).toEqual([
      [10, 20, 2],
      [60, 5, 1],
    ]);
  });
});
