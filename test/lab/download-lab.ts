/**
 * Reference peers for the download interop suites and benchmarks, on 127.0.0.1 only: a
 * libtorrent seeder (lt_seed.py), an aria2c seeder (loopback-safe flags from the lab README),
 * opentracker (whitelist-only, via opentracker.sh), and the fixtures they share (a single-file
 * torrent, and a multi-file one whose pieces span file boundaries and which has an empty file).
 *
 * Every process started here is stopped by the returned `stop()` (by pid: SIGTERM, then SIGKILL
 * after a grace period) and every wait is bounded.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTorrent } from '../../src/core/metainfo/create.js';
import type { Metainfo } from '../../src/core/metainfo/types.js';

export const LAB = dirname(fileURLToPath(import.meta.url));
export const SYSTEM_PYTHON = '/usr/bin/python3';

export interface LabProcess {
  pid: number;
  port: number;
  /** Everything it printed so far. */
  output(): string;
  stop(): Promise<void>;
}

/** A TCP port free on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

function stopChild(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Start `cmd` and wait (bounded) until its output matches `ready`; returns the match. */
async function startUntil(cmd: string, args: string[], ready: RegExp, timeoutMs: number, cwd?: string): Promise<{ child: ChildProcess; match: RegExpMatchArray; output: () => string }> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(cwd ? { cwd } : {}) });
  let out = '';
  const output = () => out;
  const match = await new Promise<RegExpMatchArray>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`${cmd} not ready within ${timeoutMs} ms; output:\n${out.slice(-3000)}`));
    }, timeoutMs);
    const onData = (b: Buffer) => {
      out += b.toString();
      const m = ready.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${cmd} exited (${code}) before it was ready; output:\n${out.slice(-3000)}`));
    });
  }).catch(async (e) => {
    await stopChild(child, 0);
    throw e;
  });
  // Keep draining so the child never blocks on a full pipe.
  child.stdout!.on('data', () => undefined);
  return { child, match, output };
}

/**
 * A lab script (test/lab/*.py, run with /usr/bin/python3) started and waited for (bounded) until
 * its output matches `ready`; `port` is the first group of that match when it is a number, else 0.
 */
export async function startLabScript(script: string, args: string[], ready: RegExp, timeoutMs = 30_000): Promise<LabProcess & { match: RegExpMatchArray }> {
  const { child, match, output } = await startUntil(SYSTEM_PYTHON, [join(LAB, script), ...args], ready, timeoutMs);
  const port = Number(match[1] ?? 0);
  return { pid: child.pid!, port: Number.isInteger(port) ? port : 0, match, output, stop: () => stopChild(child) };
}

/** libtorrent seeding `torrent` from `savePath` (the directory containing the content), TCP only unless `transport` says uTP only. */
export async function startLtSeeder(torrent: string, savePath: string, options: { tracker?: boolean; seconds?: number; extra?: string[]; transport?: 'tcp' | 'utp' } = {}): Promise<LabProcess> {
  const args = [join(LAB, 'lt_seed.py'), torrent, savePath, options.transport === 'utp' ? '--utp-only' : '--tcp-only', '--port', '0', '--seconds', String(options.seconds ?? 120), ...(options.tracker ? ['--reannounce', '2'] : ['--no-tracker']), ...(options.extra ?? [])];
  const { child, output } = await startUntil(SYSTEM_PYTHON, args, /READY infohash=\w+ port=(\d+)/, 30_000);
  const port = Number(/READY infohash=\w+ port=(\d+)/.exec(output())![1]);
  return { pid: child.pid!, port, output, stop: () => stopChild(child) };
}

/**
 * aria2c flags that keep it on 127.0.0.1, listening on `listenPort`, with no way to find peers but
 * the torrent's trackers (no DHT, local discovery or peer exchange).
 */
export function aria2LoopbackFlags(listenPort: number): string[] {
  return [
    '--enable-dht=false',
    '--enable-dht6=false',
    '--bt-enable-lpd=false',
    '--enable-peer-exchange=false',
    '--disable-ipv6=true',
    '--async-dns=false',
    '--interface=127.0.0.1',
    `--listen-port=${listenPort}`,
  ];
}

/** aria2c seeding `torrent` from `dir` (the directory containing the content); announces to the torrent's trackers. */
export async function startAria2Seeder(torrent: string, dir: string, options: { seconds?: number } = {}): Promise<LabProcess> {
  const port = await freePort();
  const args = [
    ...aria2LoopbackFlags(port),
    '--file-allocation=none',
    '--check-integrity=true',
    `--seed-time=${Math.ceil((options.seconds ?? 120) / 60)}`,
    '--seed-ratio=0.0',
    '--bt-tracker-interval=2',
    '--summary-interval=0',
    '--console-log-level=notice',
    '-d',
    dir,
    torrent,
  ];
  const { child, output } = await startUntil('aria2c', args, /listening on TCP port (\d+)/, 30_000);
  // The TCP listener opens before the check of the data ends; wait for the check too.
  const deadline = Date.now() + 20_000;
  while (!/Verification finished successfully|seeding/i.test(output()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  return { pid: child.pid!, port, output, stop: () => stopChild(child) };
}

export interface LabTracker {
  url: string;
  allow(...infoHashes: string[]): void;
  stop(): void;
}

/** opentracker on a free port (HTTP and UDP), whitelist-only: `allow` each torrent. */
export async function startOpentracker(): Promise<LabTracker> {
  const dir = mkdtempSync(join(tmpdir(), 'btkit-dl-ot-'));
  chmodSync(dir, 0o755); // opentracker runs as `nobody` and must read the whitelist
  writeFileSync(join(dir, 'whitelist'), '');
  const script = join(LAB, 'opentracker.sh');
  let port = 0;
  for (let attempt = 0; attempt < 5 && port === 0; attempt++) {
    const p = await freePort();
    try {
      execFileSync('bash', [script, 'start', dir, String(p)], { stdio: 'pipe', timeout: 15_000, env: { ...process.env, OT_MAX_SECONDS: '600' } });
      port = p;
    } catch {
      // taken meanwhile (UDP): try another
    }
  }
  if (port === 0) throw new Error('could not start opentracker');
  return {
    url: `http://127.0.0.1:${port}/announce`,
    allow: (...hashes) => execFileSync('bash', [script, 'allow', dir, ...hashes], { stdio: 'pipe', timeout: 10_000 }),
    stop() {
      execFileSync('bash', [script, 'stop', dir], { stdio: 'pipe', timeout: 10_000 });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Deterministic bytes (xorshift), different per seed. */
export function pattern(length: number, seed: number): Buffer {
  let x = (seed * 2654435761) >>> 0 || 1;
  const out = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

export interface Fixture {
  /** The .torrent file. */
  torrent: string;
  meta: Metainfo;
  /** The directory containing the content (a seeder's save path). */
  seedDir: string;
  /** The content: the file, or the top directory. */
  content: string;
  /** Relative path (under the content's parent) → bytes, every file including empty ones. */
  files: Map<string, Buffer>;
}

export const MULTI_FILES: [string, number][] = [
  ['a.bin', 40_000],
  ['empty.txt', 0],
  ['sub/b.bin', 70_001],
  ['sub/deeper/c.dat', 5],
  ['z.bin', 100_000],
];

/**
 * A torrent and its content under `root`: `single` is one file of 3 MiB + 12345 bytes in 256 KiB
 * pieces; `multi` the MULTI_FILES tree in 32 KiB pieces (so pieces span file boundaries).
 */
export async function makeFixture(root: string, kind: 'single' | 'multi' | 'large', trackers: string[][] = [], name?: string): Promise<Fixture> {
  const seedDir = join(root, `seed-${name ?? kind}`);
  const files = new Map<string, Buffer>();
  let content: string;
  let pieceLength: number;
  if (kind === 'multi') {
    const top = name ?? 'multi';
    content = join(seedDir, top);
    for (const [rel, size] of MULTI_FILES) files.set(`${top}/${rel}`, pattern(size, size + rel.length));
    pieceLength = 32 * 1024;
  } else {
    const file = name ?? `${kind}.bin`;
    content = join(seedDir, file);
    files.set(file, pattern(kind === 'large' ? 16 * 1024 * 1024 + 777 : 3 * 1024 * 1024 + 12_345, kind === 'large' ? 7 : 3));
    pieceLength = 256 * 1024;
  }
  for (const [rel, data] of files) {
    const path = join(seedDir, ...rel.split('/'));
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, data);
  }
  const created = await createTorrent({ path: content, pieceLength, trackers, creationDate: 0, threads: 1 });
  const torrent = join(root, `${name ?? kind}.torrent`);
  await writeFile(torrent, created.torrent);
  return { torrent, meta: created.metainfo, seedDir, content, files };
}

/** The files of `fixture` as downloaded under `outDir` that differ from the originals (empty when identical). */
export async function differences(fixture: Fixture, outDir: string): Promise<string[]> {
  const bad: string[] = [];
  for (const [rel, want] of fixture.files) {
    const got = await readFile(join(outDir, ...rel.split('/'))).catch(() => null);
    if (!got) bad.push(`${rel}: missing`);
    else if (!got.equals(want)) bad.push(`${rel}: ${got.length} bytes differ from the original's ${want.length}`);
  }
  return bad;
}

/** NDJSON lines of a `btkit … --json` run. */
export function ndjson(stdout: string): any[] {
  return stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      try {
        return JSON.parse(l);
      } catch {
        return { unparsed: l };
      }
    });
}
