/**
 * `btkit download` as a user runs it (the built CLI in a child process), against peers written in
 * the test (test/helpers/fake-peer.ts) on loopback: exit codes, NDJSON events, resume after
 * SIGINT and after `kill -9`, --select, --stdout (into `tar t`), --seed, refused paths.
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTorrent } from '../../src/core/metainfo/create.js';
import { parseTorrent } from '../../src/core/metainfo/parse.js';
import { Session } from '../../src/core/session/index.js';
import { FileStore } from '../../src/core/storage/file-store.js';
import { makePeerId } from '../../src/core/tracker/peer-id.js';
import type { Metainfo } from '../../src/core/metainfo/types.js';
import { BIN, ROOT, ensureBuilt, runClean, runCli } from '../helpers/cli.js';
import { type FakePeer, startFakePeer } from '../helpers/fake-peer.js';
import { fakeHttpTracker } from '../helpers/tracker-fakes.js';
import { patternBytes, tempDirs } from '../helpers/tmp.js';
import { ndjson } from '../lab/download-lab.js';
import { ttyToolAvailable } from '../helpers/interop.js';
import { startHttpSeed } from '../helpers/httpseed-server.js';
import { decode } from '../../src/core/bencode/decode.js';
import { encode } from '../../src/core/bencode/encode.js';
import type { BDict } from '../../src/core/bencode/types.js';

const tmp = tempDirs();
const NET = ['--port', '0', '--bind', '127.0.0.1'];

interface Made {
  torrent: string;
  meta: Metainfo;
  /** The piece stream. */
  data: Buffer;
  files: Map<string, Buffer>;
}

/** Files under `dir/name` (or the single file `dir/name`), a torrent of them with `pieceLength`. */
async function make(dir: string, name: string, files: Record<string, Buffer> | Buffer, pieceLength: number): Promise<Made> {
  const content = join(dir, name);
  const map = new Map<string, Buffer>();
  if (Buffer.isBuffer(files)) {
    await writeFile(content, files);
    map.set(name, files);
  } else {
    for (const [rel, bytes] of Object.entries(files)) {
      const p = join(content, ...rel.split('/'));
      await mkdir(join(p, '..'), { recursive: true });
      await writeFile(p, bytes);
      map.set(`${name}/${rel}`, bytes);
    }
  }
  const created = await createTorrent({ path: content, pieceLength, threads: 1 });
  const torrent = join(dir, `${name}.torrent`);
  await writeFile(torrent, created.torrent);
  const data = Buffer.concat(created.metainfo.files.map((f) => map.get(created.metainfo.multiFile ? `${name}/${f.path.join('/')}` : name)!));
  return { torrent, meta: created.metainfo, data, files: map };
}

/** How a spawned btkit ended, and the NDJSON events it printed. */
interface BtkitRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  events: any[];
  stderr: string;
}

/** Spawn btkit with --json and hand each NDJSON event to `onEvent` until it exits. */
function spawnBtkit(args: string[], onEvent: (ev: any, kill: (sig: NodeJS.Signals) => void) => void, timeoutMs = 30_000): Promise<BtkitRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const events: any[] = [];
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    createInterface({ input: child.stdout }).on('line', (line) => {
      let ev: any;
      try {
        ev = JSON.parse(line);
      } catch {
        return;
      }
      events.push(ev);
      onEvent(ev, (sig) => child.kill(sig));
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, events, stderr });
    });
  });
}

/**
 * Runs `btkit` with `args` and sends it `signal` at the first verified piece that brings the
 * download to `bytes` or more; returns the run and the bytes done at that moment (0 if never reached).
 */
async function signalOnceDone(args: string[], bytes: number, signal: NodeJS.Signals): Promise<{ run: BtkitRun; doneAtSignal: number }> {
  let doneAtSignal = 0;
  const run = await spawnBtkit(args, (ev, kill) => {
    if (ev.type === 'piece-verified' && doneAtSignal === 0 && ev.doneBytes >= bytes) {
      doneAtSignal = ev.doneBytes;
      kill(signal);
    }
  });
  return { run, doneAtSignal };
}

describe('btkit download', () => {
  /** A btkit session seeding `m` in this process (it serves the metadata too, BEP 9); stopped by the returned function. */
  const sessionSeed = async (m: Made): Promise<{ port: number; stop: () => Promise<void> }> => {
    const session = new Session({ metainfo: m.meta, store: FileStore.open(m.meta, { outDir: dir }), peerId: makePeerId('-BK0100-'), trustedComplete: true, listen: { host: '127.0.0.1', port: 0 }, seed: {}, tickMs: 100 });
    const ctl = new AbortController();
    const run = (async () => {
      try {
        for await (const _ of session.run(ctl.signal));
      } catch {
        // aborted at the end of the test
      }
    })();
    for (let i = 0; i < 400 && !session.listening; i++) await new Promise((r) => setTimeout(r, 10));
    const stop = async () => {
      ctl.abort();
      await run;
    };
    sessionSeeds.push(stop);
    return { port: session.listening!.port, stop };
  };
  const sessionSeeds: (() => Promise<void>)[] = [];
  afterAll(async () => {
    await Promise.all(sessionSeeds.map((s) => s()));
  });
  let dir: string;
  let single: Made;
  let multi: Made;
  let seeders: FakePeer[] = [];
  const seed = async (m: Made, blockDelayMs = 0) => {
    const p = await startFakePeer({ meta: m.meta, data: m.data, blockDelayMs });
    seeders.push(p);
    return p;
  };

  beforeAll(async () => {
    ensureBuilt();
    dir = await tmp.make('download-cmd');
    single = await make(dir, 'single.bin', patternBytes(2 * 1024 * 1024 + 333, 'single'), 32 * 1024);
    // A real tar archive, for --stdout | tar t.
    const tarSrc = join(dir, 'tar-src');
    await mkdir(join(tarSrc, 'docs'), { recursive: true });
    await writeFile(join(tarSrc, 'docs', 'readme.txt'), 'hello from inside a torrent\n');
    await writeFile(join(tarSrc, 'payload.bin'), patternBytes(300_000, 'payload'));
    execFileSync('tar', ['cf', join(dir, 'archive.tar'), '-C', tarSrc, 'docs/readme.txt', 'payload.bin']);
    multi = await make(
      dir,
      'multi',
      {
        'a.bin': patternBytes(64 * 1024, 'a'),
        'b.bin': patternBytes(100_000, 'b'),
        'empty.txt': Buffer.alloc(0),
        'files/archive.tar': await readFile(join(dir, 'archive.tar')),
        'files/z.bin': patternBytes(200_001, 'z'),
      },
      32 * 1024,
    );
  });

  afterAll(async () => {
    await Promise.all(seeders.map((s) => s.close()));
    seeders = [];
  });

  it('downloads from --peer, prints NDJSON events and a summary envelope, exit 0', async () => {
    const p = await seed(single);
    const out = join(dir, 'out-basic');
    const r = await runClean(['download', single.torrent, '-o', out, '--peer', `127.0.0.1:${p.port}`, '--json', ...NET], { timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(0);
    expect((await readFile(join(out, 'single.bin'))).equals(single.data)).toBe(true);
    const events = ndjson(r.stdout);
    expect(events[0]).toMatchObject({ type: 'started', name: 'single.bin', totalBytes: single.data.length, doneBytes: 0 });
    expect(events.some((e) => e.type === 'peer-connected')).toBe(true);
    expect(events.some((e) => e.type === 'piece-verified')).toBe(true);
    expect(events.at(-2)).toMatchObject({ type: 'done', reason: 'complete', doneBytes: single.data.length });
    expect(events.at(-1)).toMatchObject({ ok: true, command: 'download', result: { reason: 'complete', downloaded: single.data.length, doneBytes: single.data.length } });
  });

  it('human output: a summary on stderr, nothing on stdout', async () => {
    const p = await seed(single);
    const out = join(dir, 'out-human');
    const r = await runClean(['download', single.torrent, '-o', out, '--peer', `127.0.0.1:${p.port}`, ...NET], { timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/saved to\s+.*single\.bin/);
  });

  // `script` (util-linux) gives the command a terminal; CI requires it (issue 13 item 23).
  it.skipIf(!ttyToolAvailable())('on a terminal: a progress line (percent, sizes, rates, peers, ETA) on stderr, then the summary', async () => {
    const p = await seed(single, 4);
    const out = join(dir, 'out-tty');
    const quote = (x: string) => `'${x.replace(/'/g, `'\\''`)}'`;
    const cmd = [process.execPath, BIN, 'download', single.torrent, '-o', out, '--peer', `127.0.0.1:${p.port}`, ...NET].map(quote).join(' ');
    const env: Record<string, string | undefined> = { ...process.env, TERM: 'xterm', COLUMNS: '120' };
    for (const k of ['NODE_ENV', 'NO_COLOR', 'FORCE_COLOR']) delete env[k];
    const { stdout: screen } = await promisify(execFile)('/usr/bin/script', ['-qec', cmd, '/dev/null'], { env: env as NodeJS.ProcessEnv, timeout: 30_000, encoding: 'utf8' });
    expect(screen, JSON.stringify(screen)).toMatch(/\d+\.\d%\s+[\d.]+ (B|KiB|MiB)\/2\.00 MiB\s+down [\d.]+ \S+\/s\s+up [\d.]+ \S+\/s\s+1 peer( \(1 seed\))?\s+ETA/);
    expect(screen).toMatch(/saved to\s+.*single\.bin/);
    expect((await readFile(join(out, 'single.bin'))).equals(single.data)).toBe(true);
  });

  it('a second run on a complete download fetches nothing (resume, fast path)', async () => {
    const p = await seed(single);
    const out = join(dir, 'out-twice');
    const args = ['download', single.torrent, '-o', out, '--peer', `127.0.0.1:${p.port}`, '--json', ...NET];
    expect((await runClean(args, { timeoutMs: 30_000 })).code).toBe(0);
    const again = await runClean(args, { timeoutMs: 30_000 });
    expect(again.code).toBe(0);
    const last = ndjson(again.stdout).at(-1);
    expect(last).toMatchObject({ ok: true, result: { downloaded: 0, doneBytes: single.data.length, resume: { mode: 'fast', checked: 0 } } });
  });

  it('SIGINT: exit 130, the state saved cleanly, and a second run fetches only the rest', async () => {
    const p = await seed(single, 8);
    const out = join(dir, 'out-sigint');
    const args = ['download', single.torrent, '-o', out, '--peer', `127.0.0.1:${p.port}`, '--json', ...NET];
    const { run: first, doneAtSignal: doneAtStop } = await signalOnceDone(args, single.data.length / 3, 'SIGINT');
    expect(doneAtStop).toBeGreaterThan(0);
    expect(first.code, first.stderr).toBe(130);
    expect(first.events.at(-1)).toMatchObject({ ok: false, error: { category: 'interrupted', exitCode: 130 } });
    const state = JSON.parse(await readFile(join(out, '.btkit', `${single.meta.infoHash.v1!.toString('hex')}.resume`), 'utf8'));
    expect(state.clean).toBe(true);
    const second = await runClean(args, { timeoutMs: 30_000 });
    expect(second.code, second.stderr).toBe(0);
    const result = ndjson(second.stdout).at(-1).result;
    expect(result.resume.mode).toBe('fast');
    expect(result.downloaded).toBeLessThanOrEqual(single.data.length - doneAtStop);
    expect((await readFile(join(out, 'single.bin'))).equals(single.data)).toBe(true);
  });

  it('kill -9 at about 50%: a re-run completes, correct, without fetching again what was verified', async () => {
    const p = await seed(single, 8);
    const out = join(dir, 'out-kill9');
    const args = ['download', single.torrent, '-o', out, '--peer', `127.0.0.1:${p.port}`, '--json', ...NET];
    const { run: first, doneAtSignal: doneAtKill } = await signalOnceDone(args, single.data.length / 2, 'SIGKILL');
    expect(first.signal).toBe('SIGKILL');
    expect(doneAtKill).toBeGreaterThan(0);
    const second = await runClean(args, { timeoutMs: 30_000 });
    expect(second.code, second.stderr).toBe(0);
    const result = ndjson(second.stdout).at(-1).result;
    // Everything verified before the kill was found on disk: by the state file, or by hashing what the state did not record.
    expect(['partial', 'full']).toContain(result.resume.mode);
    expect(result.downloaded).toBeLessThanOrEqual(single.data.length - doneAtKill);
    expect((await readFile(join(out, 'single.bin'))).equals(single.data)).toBe(true);
  });

  it('--select by glob and by index: only those files are fetched; a file sharing no piece is not created', async () => {
    const p = await seed(multi);
    const out = join(dir, 'out-select');
    // files: 0 a.bin (pieces 0-1), 1 b.bin (bytes 65 536..165 535: pieces 2-5), 2 empty.txt,
    // 3 files/archive.tar (from byte 165 536: piece 5 on), 4 files/z.bin
    const r = await runClean(['download', multi.torrent, '-o', out, '--peer', `127.0.0.1:${p.port}`, '--select', '*.tar', '--select', '2', '--json', ...NET], { timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(0);
    expect((await readFile(join(out, 'multi', 'files', 'archive.tar'))).equals(multi.files.get('multi/files/archive.tar')!)).toBe(true);
    expect((await readFile(join(out, 'multi', 'empty.txt'))).length).toBe(0);
    // a.bin shares no piece with a selected file: never created.
    expect(existsSync(join(out, 'multi', 'a.bin'))).toBe(false);
    // b.bin shares piece 5 with archive.tar: only that piece's part of it was written, the rest is a hole.
    const b = await readFile(join(out, 'multi', 'b.bin'));
    const sharedFrom = 5 * 32 * 1024 - 64 * 1024;
    expect(b.length).toBe(100_000);
    expect(b.subarray(0, sharedFrom).every((x) => x === 0)).toBe(true);
    expect(b.subarray(sharedFrom).equals(multi.files.get('multi/b.bin')!.subarray(sharedFrom))).toBe(true);
    const result = ndjson(r.stdout).at(-1).result;
    expect(result.files.filter((f: any) => f.selected).map((f: any) => f.index)).toEqual([2, 3]);
    expect(result.downloaded).toBeLessThan(multi.meta.totalLength);
    // z.bin follows archive.tar: at most the piece they share was written.
    const z = await readFile(join(out, 'multi', 'files', 'z.bin')).catch(() => Buffer.alloc(0));
    expect(z.length).toBeLessThanOrEqual(32 * 1024);
  });

  it('--stdout streams the selected file in order: btkit download … --stdout | tar t', async () => {
    const p = await seed(multi, 1);
    const cmd = `node ${JSON.stringify(BIN)} download ${JSON.stringify(multi.torrent)} --select archive.tar --stdout --peer 127.0.0.1:${p.port} --port 0 --bind 127.0.0.1 | tar t`;
    // Asynchronously: the seeder lives in this process and must keep serving meanwhile.
    const cwd = await tmp.make('stdout-cwd');
    const { stdout: listing } = await promisify(execFile)('bash', ['-o', 'pipefail', '-c', cmd], { cwd, timeout: 30_000, encoding: 'utf8' });
    expect(listing.split('\n').filter(Boolean)).toEqual(['docs/readme.txt', 'payload.bin']);
    // Without -o nothing is left behind in the current directory.
    expect(await readdir(cwd)).toEqual([]);
  });

  it('--stdout gives the exact bytes of the file', async () => {
    const p = await seed(multi);
    const r = await runClean(['download', multi.torrent, '--select', '4', '--stdout', '--peer', `127.0.0.1:${p.port}`, ...NET], { timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdoutBytes.equals(multi.files.get('multi/files/z.bin')!)).toBe(true);
  });

  it('--seed --seed-time: keeps seeding, then exits 0 with reason seed-time', async () => {
    const p = await seed(single);
    const out = join(dir, 'out-seed');
    const r = await runClean(['download', single.torrent, '-o', out, '--peer', `127.0.0.1:${p.port}`, '--seed', '--seed-time', '1s', '--json', ...NET], { timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(0);
    const last = ndjson(r.stdout).at(-1) as { result: { elapsedMs: number; downloadMs: number; seedMs: number } };
    expect(last).toMatchObject({ ok: true, result: { reason: 'seed-time' } });
    // The seeding time is not download time (issue 13 item 11): the two add up to the run.
    expect(last.result.seedMs).toBeGreaterThan(0);
    expect(last.result.downloadMs + last.result.seedMs).toBe(last.result.elapsedMs);
  });

  it('--download-limit and --upload-limit are accepted and the download completes', async () => {
    const p = await seed(single);
    const out = join(dir, 'out-limit');
    const r = await runClean(['download', single.torrent, '-o', out, '--peer', `127.0.0.1:${p.port}`, '--download-limit', '16MiB', '--upload-limit', '1MiB', ...NET], { timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(0);
    expect((await readFile(join(out, 'single.bin'))).equals(single.data)).toBe(true);
  });

  it('no peer answers before --timeout: exit 6 (no peers), NO_PEERS', async () => {
    const out = join(dir, 'out-nopeers');
    // A port nobody listens on.
    const r = await runClean(['download', single.torrent, '-o', out, '--peer', '127.0.0.1:9', '--timeout', '1s', '--json', ...NET], { timeoutMs: 30_000 });
    expect(r.code).toBe(6);
    expect(ndjson(r.stdout).at(-1)).toMatchObject({ ok: false, error: { code: 'NO_PEERS', category: 'no-peers', exitCode: 6 } });
    // The done event says why it ended: it failed, it did not complete (issue 13, item 3).
    const done = ndjson(r.stdout).find((e: any) => e.type === 'done');
    expect(done).toMatchObject({ type: 'done', reason: 'failed', havePieces: 0 });
  });

  it('--stdout into a reader that stops early (| head -c 1000): exit 0, no error (issue 13, item 5)', async () => {
    const p = await seed(single);
    const cmd = `node ${JSON.stringify(BIN)} download ${JSON.stringify(single.torrent)} --stdout --peer 127.0.0.1:${p.port} --port 0 --bind 127.0.0.1 2>stderr.txt | head -c 1000 | wc -c; echo "status \${PIPESTATUS[0]}"`;
    const cwd = await tmp.make('stdout-head');
    const { stdout } = await promisify(execFile)('bash', ['-c', cmd], { cwd, timeout: 30_000, encoding: 'utf8' });
    expect(stdout).toMatch(/^\s*1000\s+status 0\s*$/);
    expect(await readFile(join(cwd, 'stderr.txt'), 'utf8')).not.toMatch(/error/);
  });

  it('one vocabulary: -t URL announces to that tracker too (a URL, as in create, seed, announce), --host names the listen address (issue 13, item 14)', async () => {
    const p = await seed(single);
    // A tracker that answers with no peers: the download still comes from --peer, and the announce is seen.
    const tracker = await fakeHttpTracker((_req, res) => res.end('d8:intervali60e5:peers0:e'));
    try {
      const out = join(dir, 'out-vocab');
      const r = await runClean(['download', single.torrent, '-o', out, '--peer', `127.0.0.1:${p.port}`, '-t', tracker.url(), '--port', '0', '--host', '127.0.0.1', '--json'], { timeoutMs: 30_000 });
      expect(r.code, r.stderr).toBe(0);
      expect(tracker.requests.some((q) => q.startsWith('/announce?') && q.includes('event=started'))).toBe(true);
      expect(ndjson(r.stdout).find((e: any) => e.type === 'started').listen).toMatchObject({ host: '127.0.0.1' });
      const bad = await runClean(['download', single.torrent, '-o', out, '-t', 'ftp://nope', ...NET]);
      expect(bad.code).toBe(2);
    } finally {
      await tracker.close();
    }
  });

  it('a magnet link with nobody to give the metadata: exit 8 (no metadata), NO_METADATA', async () => {
    const out = join(dir, 'out-nometa');
    const magnet = `magnet:?xt=urn:btih:${single.meta.infoHash.v1!.toString('hex')}&x.pe=127.0.0.1:9`;
    const r = await runClean(['download', magnet, '-o', out, '--timeout', '1s', '--json', ...NET], { timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(8);
    expect(ndjson(r.stdout).at(-1)).toMatchObject({ ok: false, error: { code: 'NO_METADATA', category: 'no-metadata', exitCode: 8 } });
    expect(ndjson(r.stdout)[0]).toMatchObject({ type: 'metadata-wanted' });
  });

  it('a magnet link: the metadata from the seed (BEP 9), then the data; --save-torrent keeps the .torrent byte for byte', async () => {
    const p = await sessionSeed(single);
    const out = join(dir, 'out-magnet');
    const saved = join(dir, 'saved-magnet.torrent');
    const magnet = `magnet:?xt=urn:btih:${single.meta.infoHash.v1!.toString('hex')}&dn=x&x.pe=127.0.0.1:${p.port}`;
    const r = await runClean(['download', magnet, '-o', out, '--save-torrent', saved, '--json', ...NET], { timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(0);
    const events = ndjson(r.stdout);
    expect(events.find((e: any) => e.type === 'metadata')).toMatchObject({ size: single.meta.infoBytes.length });
    expect(events.find((e: any) => e.type === 'torrent-saved')).toMatchObject({ path: saved });
    expect((await readFile(join(out, 'single.bin'))).equals(single.data)).toBe(true);
    const back = parseTorrent(await readFile(saved));
    expect(back.infoBytes.equals(single.meta.infoBytes)).toBe(true);
  });

  it('--metadata-only writes DIR/NAME.torrent and downloads no data', async () => {
    const p = await sessionSeed(single);
    const out = join(dir, 'out-metaonly');
    const r = await runClean(['download', single.meta.infoHash.v1!.toString('hex'), '-o', out, '--peer', `127.0.0.1:${p.port}`, '--metadata-only', '--json', ...NET], { timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(ndjson(r.stdout).at(-1)).toMatchObject({ ok: true, result: { reason: 'metadata', torrentFile: join(out, 'single.bin.torrent') } });
    expect(parseTorrent(await readFile(join(out, 'single.bin.torrent'))).infoBytes.equals(single.meta.infoBytes)).toBe(true);
    expect(await readdir(out)).toEqual(['single.bin.torrent']);
  });

  it('a disk error is exit 7 (io): a directory where the file should go', async () => {
    const p = await seed(single);
    const out = join(dir, 'out-eisdir');
    await mkdir(join(out, 'single.bin'), { recursive: true });
    const r = await runClean(['download', single.torrent, '-o', out, '--peer', `127.0.0.1:${p.port}`, '--json', ...NET], { timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(7);
    expect(ndjson(r.stdout).at(-1)).toMatchObject({ ok: false, error: { category: 'io', exitCode: 7 } });
  });

  it('a torrent whose paths leave the output directory is refused (exit 3) before anything is written', async () => {
    const out = join(dir, 'out-escape');
    for (const bad of ['path-dotdot.torrent', 'path-absolute-slash.torrent', 'name-dotdot.torrent']) {
      const r = await runClean(['download', join(ROOT, 'test', 'fixtures', 'invalid', bad), '-o', out, '--peer', '127.0.0.1:9', ...NET]);
      expect(r.code, `${bad}: ${r.stderr}`).toBe(3);
      expect(r.stderr).toMatch(/METAINFO_PATH_|METAINFO_BAD_NAME|METAINFO_/);
      expect(existsSync(out), bad).toBe(false);
    }
  });

  it("a torrent's httpseeds (BEP 17) alone: downloaded from the script, no tracker, no peer; --no-web-seeds leaves no source (exit 2)", async () => {
    const h = await startHttpSeed({ infoHash: multi.meta.infoHash.v1!, pieceLength: multi.meta.pieceLength, stream: multi.data });
    try {
      const root = decode(await readFile(multi.torrent)).value as BDict;
      root.delete('announce');
      root.set('httpseeds', [Buffer.from(h.url)]);
      const torrent = join(dir, 'multi-httpseeds.torrent');
      await writeFile(torrent, encode(root));
      const out = join(dir, 'out-httpseeds');
      const r = await runClean(['download', torrent, '-o', out, '--no-dht', '--json', ...NET], { timeoutMs: 60_000 });
      expect(r.code, r.stderr).toBe(0);
      for (const [rel, bytes] of multi.files) expect((await readFile(join(out, rel))).equals(bytes), rel).toBe(true);
      const events = ndjson(r.stdout);
      expect(events.find((e) => e.type === 'webseed-added')).toEqual({ type: 'webseed-added', url: h.url, protocol: 'bep17' });
      expect(events.at(-1)).toMatchObject({ ok: true, result: { reason: 'complete', downloadedWebSeed: multi.data.length } });
      const off = await runClean(['download', torrent, '-o', join(dir, 'out-httpseeds-off'), '--no-dht', '--no-web-seeds', ...NET]);
      expect(off.code).toBe(2);
      expect(off.stderr).toMatch(/no way to find peers/);
    } finally {
      await h.close();
    }
  });

  it('usage errors: --stdout with --json, --stdout with several files, --seed-ratio without --seed, a bad --select', async () => {
    const cases: [string[], RegExp][] = [
      [['--stdout', '--json'], /--stdout and --json/],
      [['--stdout'], /--stdout streams one file; 5 are selected/],
      [['--seed-ratio', '2'], /need --seed/],
      [['--select', 'nothing-matches-*.xyz'], /no file of the torrent matches/],
      [['--select', '9'], /indices 0\.\.4/],
    ];
    for (const [extra, message] of cases) {
      const r = await runClean(['download', multi.torrent, '--peer', '127.0.0.1:9', ...extra, ...NET]);
      expect(r.code, extra.join(' ')).toBe(2);
      expect(r.stdout + r.stderr).toMatch(message);
    }
  });
});
