/**
 * `btkit download` with web seeds (BEP 19, issue 11): a real nginx on 127.0.0.1 serving the
 * fixtures' folder (test/helpers/nginx.ts), torrents whose url-list names it.
 *
 * 1. A single-file and a multi-file torrent from the web seed alone (no tracker, no peer, no DHT),
 *    byte-identical; then a large one mixed with a libtorrent seeder holding half of the data
 *    (lt_seed.py --partial): both sources deliver.
 * 2. Cross-check: libtorrent (lt_get.py --web-seed loopback) and aria2c download the same torrent
 *    from the same nginx.
 * 3. Faults through the command, with the loopback fault server (test/helpers/webseed-fault-server.ts)
 *    as a --web-seed: wrong bytes for one range, Range ignored, 503 with Retry-After, never
 *    answers, a redirect loop — each ends in its event, and the download completes byte-identical
 *    when nginx (the torrent's own web seed) has the data, or exits 6 when nothing else does.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile, cp, open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTorrent } from '../../src/core/metainfo/create.js';
import { ensureBuilt, runCli } from '../helpers/cli.js';
import { interopAvailable, SYSTEM_PYTHON } from '../helpers/interop.js';
import { startNginx, type Nginx } from '../helpers/nginx.js';
import { startFaultServer, type FaultServer } from '../helpers/webseed-fault-server.js';
import { aria2LoopbackFlags, differences, type Fixture, freePort, LAB, makeFixture, ndjson, startLtSeeder } from '../lab/download-lab.js';

/** Loopback only, no DHT, machine-readable output. */
const FLAGS = ['--port', '0', '--bind', '127.0.0.1', '--no-dht', '--json'];

interface WsFixture extends Fixture {
  /** The same content, a torrent whose url-list is nginx's folder for it. */
  wsTorrent: string;
  url: string;
}

async function download(torrent: string, out: string, args: string[], timeoutMs = 90_000) {
  const r = await runCli(['download', torrent, '-o', out, ...FLAGS, ...args], { timeoutMs });
  return { ...r, events: ndjson(r.stdout) };
}

function run(cmd: string, args: string[], timeoutMs: number): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

describe.skipIf(!interopAvailable('nginx', 'libtorrent', 'aria2c'))('btkit download from web seeds (nginx)', () => {
  let root: string;
  let nginx: Nginx;
  const fx: Record<string, WsFixture> = {};
  let n = 0;
  const out = (label: string) => join(root, `out-${++n}-${label}`);

  beforeAll(async () => {
    ensureBuilt();
    root = await mkdtemp(join(tmpdir(), 'btkit-wsdl-'));
    const made = { single: await makeFixture(root, 'single'), multi: await makeFixture(root, 'multi'), large: await makeFixture(root, 'large') };
    nginx = await startNginx(root, join(root, 'nginx'));
    for (const [kind, f] of Object.entries(made)) {
      const url = `${nginx.base}/seed-${kind}/`;
      const created = await createTorrent({ path: f.content, pieceLength: f.meta.pieceLength, webSeeds: [url], creationDate: 0, threads: 1 });
      expect(created.metainfo.infoHash.v1!.equals(f.meta.infoHash.v1!)).toBe(true);
      const wsTorrent = join(root, `${kind}-ws.torrent`);
      await writeFile(wsTorrent, created.torrent);
      fx[kind] = { ...f, wsTorrent, url };
    }
  }, 120_000);

  afterAll(async () => {
    await nginx?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  describe('1. from the web seed alone, and beside a libtorrent seeder', () => {
    it.each(['single', 'multi'])('%s-file torrent from nginx alone (no tracker, no peer, no DHT): byte-identical', async (kind) => {
      const f = fx[kind]!;
      const dir = out(kind);
      const r = await download(f.wsTorrent, dir, []);
      expect(r.code, r.stderr + r.stdout.slice(-1500)).toBe(0);
      expect(await differences(f, dir)).toEqual([]);
      expect(r.events.find((e) => e.type === 'webseed-added')).toEqual({ type: 'webseed-added', url: f.url, protocol: 'bep19' });
      const done = r.events.find((e) => e.type === 'done');
      expect(done).toMatchObject({ reason: 'complete', downloadedWebSeed: f.meta.totalLength, peers: 0 });
      expect(r.events.filter((e) => e.type === 'piece-verified').every((e) => e.from.length === 1 && e.from[0] === f.url)).toBe(true);
      expect(r.events.at(-1)).toMatchObject({ ok: true, result: { downloadedWebSeed: f.meta.totalLength } });
      // Consecutive pieces of one file travel in one range request: fewer requests than pieces.
      const log = (await nginx.accessLog()).filter((l) => l.includes(`/seed-${kind}/`));
      expect(log.length).toBeGreaterThan(0);
      if (kind === 'single') expect(log.length).toBeLessThan(f.meta.pieceCount);
    });

    it('--web-seed adds a server to a torrent without url-list; --no-web-seeds with no other source is a usage error (exit 2)', async () => {
      const f = fx.single!;
      const dir = out('flag');
      const r = await download(f.torrent, dir, ['--web-seed', f.url]);
      expect(r.code, r.stderr).toBe(0);
      expect(await differences(f, dir)).toEqual([]);
      const none = await download(f.wsTorrent, out('none'), ['--no-web-seeds']);
      expect(none.code).toBe(2);
      expect(none.stdout + none.stderr).toMatch(/no way to find peers/);
      const bad = await download(f.torrent, out('ftp'), ['--web-seed', 'ftp://127.0.0.1/x']);
      expect(bad.code).toBe(2);
    });

    it('mixed: a libtorrent seeder holding the first half of a 16 MiB file, nginx for the rest; both deliver', async () => {
      const f = fx.large!;
      // The libtorrent seeder's copy: the second half zeroed, so it holds only the first half's pieces.
      const ltDir = join(root, 'lt-partial');
      await cp(f.seedDir, ltDir, { recursive: true });
      const fh = await open(join(ltDir, 'large.bin'), 'r+');
      const half = Math.ceil(f.meta.pieceCount / 2) * f.meta.pieceLength;
      await fh.write(Buffer.alloc(f.meta.totalLength - half), 0, f.meta.totalLength - half, half);
      await fh.close();
      const lt = await startLtSeeder(f.wsTorrent, ltDir, { extra: ['--partial'] });
      try {
        expect(lt.output()).toMatch(new RegExp(`pieces=${Math.ceil(f.meta.pieceCount / 2)}/${f.meta.pieceCount}`));
        const dir = out('mixed');
        // A download limit stretches the transfer so the peer is connected before the web seed could do it all.
        const r = await download(f.wsTorrent, dir, ['--peer', `127.0.0.1:${lt.port}`, '--download-limit', '8MiB']);
        expect(r.code, r.stderr + r.stdout.slice(-1500)).toBe(0);
        expect(await differences(f, dir)).toEqual([]);
        const done = r.events.find((e) => e.type === 'done');
        expect(done.downloadedWebSeed).toBeGreaterThan(0);
        expect(done.downloaded - done.downloadedWebSeed).toBeGreaterThan(0);
        const senders = new Set(r.events.filter((e) => e.type === 'piece-verified').flatMap((e) => e.from));
        expect(senders.has(f.url)).toBe(true);
        expect([...senders].some((s) => s.startsWith('127.0.0.1:'))).toBe(true);
      } finally {
        await lt.stop();
      }
    });
  });

  describe('2. cross-check: libtorrent and aria2c download the same torrent from the same nginx', () => {
    it.each(['single', 'multi'])('libtorrent (lt_get.py --web-seed loopback), %s-file', async (kind) => {
      const f = fx[kind]!;
      const dir = out(`lt-${kind}`);
      const r = await run(SYSTEM_PYTHON, [join(LAB, 'lt_get.py'), f.wsTorrent, dir, '--no-tracker', '--web-seed', 'loopback', '--port', String(await freePort()), '--timeout', '60', '--json'], 90_000);
      expect(r.code, r.out).toBe(0);
      expect(await differences(f, dir)).toEqual([]);
    });

    it.each(['single', 'multi'])('aria2c, %s-file', async (kind) => {
      const f = fx[kind]!;
      const dir = out(`aria-${kind}`);
      const args = [...aria2LoopbackFlags(await freePort()), '--seed-time=0', '--bt-stop-timeout=60', '--file-allocation=none', '--summary-interval=0', '--console-log-level=warn', '-d', dir, f.wsTorrent];
      const r = await run('aria2c', args, 90_000);
      expect(r.code, r.out).toBe(0);
      expect(await differences(f, dir)).toEqual([]);
    });
  });

  describe('3. faults, through btkit download', () => {
    let fault: FaultServer;
    beforeAll(async () => {
      const files: Record<string, Buffer> = {};
      for (const kind of ['single', 'large']) for (const [rel, data] of fx[kind]!.files) files[`/seed-${kind}/${rel}`] = data;
      fault = await startFaultServer(files);
    });
    afterAll(async () => {
      await fault?.close();
    });

    const faultUrl = (kind: string) => `${fault.base}/seed-${kind}/`;

    /** The first range the fault server is asked for comes back with its first byte flipped (`always`: every later ask for it too). */
    function corruptFirstRange(always: boolean): { start: () => number } {
      let badStart = -1;
      let served = 0;
      fault.fault = (x) => {
        if (!x.range || !x.file) return false;
        if (badStart < 0) badStart = x.range.start;
        if (x.range.start !== badStart || (!always && served++ > 0)) return false;
        const body = Buffer.from(x.file.subarray(x.range.start, x.range.end + 1));
        body[0] ^= 0xff;
        x.res.writeHead(206, { 'Content-Range': `bytes ${x.range.start}-${x.range.end}/${x.file.length}`, 'Content-Length': body.length }).end(body);
        return true;
      };
      return { start: () => badStart };
    }

    it('wrong bytes for one range, the server alone: the piece fails, the server gets a strike, the bytes are not kept; asked again, it serves them right', async () => {
      const f = fx.single!;
      const bad = corruptFirstRange(false);
      const dir = out('wrong-once');
      const r = await download(f.torrent, dir, ['--web-seed', faultUrl('single')]);
      expect(r.code, r.stderr).toBe(0);
      expect(await differences(f, dir)).toEqual([]);
      const piece = Math.floor(bad.start() / f.meta.pieceLength);
      expect(r.events.filter((e) => e.type === 'piece-failed').map((e) => e.index)).toEqual([piece]);
      expect(r.events.filter((e) => e.type === 'webseed-strike')).toMatchObject([{ url: faultUrl('single'), piece, code: 'WEBSEED_BAD_PIECE', strikes: 1 }]);
      expect(r.events.find((e) => e.type === 'done').wasted).toBeGreaterThan(0);
    });

    it('wrong bytes for one range, nginx beside it: the bad bytes are never kept, the data comes right from nginx', async () => {
      const f = fx.single!;
      corruptFirstRange(true);
      // nginx slowed to 1 MB/s per connection, so the bad range usually arrives first. When nginx's
      // endgame copy of the same blocks wins instead, the bad copy is a discarded duplicate: either
      // way the file is right, and any failed piece is the fault server's, with its strike.
      const slow = await startNginx(root, join(root, 'nginx-slow'), { limitRate: '1m' });
      const dir = out('wrong');
      const r = await download(f.torrent, dir, ['--web-seed', faultUrl('single'), '--web-seed', `${slow.base}/seed-single/`]).finally(() => slow.stop());
      expect(r.code, r.stderr).toBe(0);
      expect(await differences(f, dir)).toEqual([]);
      const failed = r.events.filter((e) => e.type === 'piece-failed');
      for (const e of failed) expect(e.peers).toEqual([faultUrl('single')]);
      expect(r.events.filter((e) => e.type === 'webseed-strike').map((e) => e.piece)).toEqual(failed.map((e) => e.index));
    });

    it('wrong bytes and no other source: strikes drop the server, exit 6 with the reason', async () => {
      const f = fx.single!;
      fault.fault = (x) => {
        if (!x.range || !x.file) return false;
        const len = x.range.end - x.range.start + 1;
        x.res.writeHead(206, { 'Content-Range': `bytes ${x.range.start}-${x.range.end}/${x.file.length}`, 'Content-Length': len }).end(Buffer.alloc(len, 1));
        return true;
      };
      const r = await download(f.torrent, out('wrong-alone'), ['--web-seed', faultUrl('single'), '--timeout', '5s']);
      expect(r.code).toBe(6);
      expect(r.events.find((e) => e.type === 'webseed-dropped')).toMatchObject({ reason: 'bad-pieces' });
      expect(r.events.at(-1)).toMatchObject({ ok: false, error: { message: expect.stringContaining('0 web seed(s) usable') } });
      expect(r.stderr).not.toMatch(/^ {4}at /m);
    });

    it('ignores Range on a 16 MiB file: dropped with its event; nginx has the data', async () => {
      const f = fx.large!;
      fault.fault = (x) => {
        if (!x.file) return false;
        x.res.writeHead(200, { 'Content-Length': x.file.length }).end(x.file);
        return true;
      };
      const dir = out('norange');
      const r = await download(f.wsTorrent, dir, ['--web-seed', faultUrl('large')]);
      expect(r.code, r.stderr).toBe(0);
      expect(await differences(f, dir)).toEqual([]);
      expect(r.events.find((e) => e.type === 'webseed-dropped')).toMatchObject({ url: faultUrl('large'), reason: 'range-ignored' });
    });

    it('503 with Retry-After: backed off, then the same server serves it all (no other source)', async () => {
      const f = fx.single!;
      let refused = 0;
      fault.fault = (x) => {
        if (refused >= 3) return false;
        refused++;
        x.res.writeHead(503, { 'Retry-After': '1', 'Content-Length': 0 }).end();
        return true;
      };
      const dir = out('503');
      const r = await download(f.torrent, dir, ['--web-seed', faultUrl('single')]);
      expect(r.code, r.stderr).toBe(0);
      expect(await differences(f, dir)).toEqual([]);
      expect(r.events.find((e) => e.type === 'webseed-backoff')).toMatchObject({ reason: 'retry-later', retryAfterMs: 1000 });
    });

    it('never answers: nginx has the data and the download completes; alone, exit 6', async () => {
      const f = fx.single!;
      fault.fault = () => true;
      const dir = out('silent');
      const r = await download(f.wsTorrent, dir, ['--web-seed', faultUrl('single')]);
      expect(r.code, r.stderr).toBe(0);
      expect(await differences(f, dir)).toEqual([]);
      const alone = await download(f.torrent, out('silent-alone'), ['--web-seed', faultUrl('single'), '--timeout', '4s']);
      expect(alone.code).toBe(6);
      expect(alone.events.some((e) => e.type === 'webseed-error' && e.code === 'WEBSEED_TIMEOUT') || alone.events.every((e) => e.type !== 'piece-verified')).toBe(true);
    });

    it('a redirect loop: the file is unavailable from that server (event), nginx has it; alone, exit 6', async () => {
      const f = fx.single!;
      fault.fault = (x) => {
        x.res.writeHead(302, { Location: x.req.url!, 'Content-Length': 0 }).end();
        return true;
      };
      const dir = out('loop');
      const r = await download(f.wsTorrent, dir, ['--web-seed', faultUrl('single')]);
      expect(r.code, r.stderr).toBe(0);
      expect(await differences(f, dir)).toEqual([]);
      const alone = await download(f.torrent, out('loop-alone'), ['--web-seed', faultUrl('single'), '--timeout', '3s']);
      expect(alone.code).toBe(6);
      expect(alone.events.find((e) => e.type === 'webseed-file-unavailable')).toMatchObject({ code: 'WEBSEED_REDIRECT_LOOP' });
      expect(alone.events.find((e) => e.type === 'webseed-dropped')).toMatchObject({ reason: 'no-files' });
    });
  });
});
