// bench/lib.mjs — what the download and seed benches share to drive the lab on 127.0.0.1: the
// tool checks, ports, starting and stopping processes (libtorrent seeders, opentracker), running
// a child to its end (optionally under /usr/bin/time), test data and torrents, the pause between
// runs, medians, and the results file. Each bench keeps its own measurements and report.
import { spawn, execFileSync } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { randomFillSync } from 'node:crypto';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import net from 'node:net';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

// download and seed run the DHT by default; under BTKIT_NO_PUBLIC_DHT a btkit without --bootstrap
// runs none, so no bench can reach the public routers even when a flag is forgotten (builds from
// before the DHT ignore it).
process.env.BTKIT_NO_PUBLIC_DHT ??= '1';
const lab = join(root, 'test', 'lab');
export const btkitRun = join(root, 'bin', 'run.js');
export const PY = '/usr/bin/python3';

/** Exit 2 with `<bench>: …` unless every [what, path] tool exists and dist/commands/<command>.js is built. */
export function requireTools(bench, tools, command) {
  for (const [what, path] of tools) {
    if (!existsSync(path)) {
      console.error(`${bench}: ${what} is missing`);
      process.exit(2);
    }
  }
  if (!existsSync(join(root, 'dist', 'commands', `${command}.js`))) {
    console.error(`${bench}: run \`npm run build\` first`);
    process.exit(2);
  }
}

export async function freePort() {
  const srv = net.createServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const port = srv.address().port;
  await new Promise((r) => srv.close(r));
  return port;
}

/** Spawn, resolve once `ready` matches its output (stdout + stderr); killed if not ready in time. */
export function startUntil(cmd, args, ready, timeoutMs) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${cmd} not ready: ${out.slice(-2000)}`));
    }, timeoutMs);
    const on = (b) => {
      out += b.toString();
      const m = ready.exec(out);
      if (m) {
        clearTimeout(t);
        resolve({ child, match: m });
      }
    };
    child.stdout.on('data', on);
    child.stderr.on('data', on);
    child.once('exit', (c) => {
      clearTimeout(t);
      reject(new Error(`${cmd} exited ${c}: ${out.slice(-2000)}`));
    });
  });
}

/** SIGTERM, then SIGKILL after 5 s; resolves once the child has exited (at once if there is none). */
export function stop(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const k = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(k);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/**
 * Run to the end (bounded); resolves { code, wall, output, lines, startedAt }. `lines` holds each
 * complete line of stdout with `t`, the seconds from the spawn to its arrival here (only as
 * precise as the child flushes), for benches that time events from outside; `startedAt` is the
 * spawn's Date.now().
 */
export function runChild(cmd, args, timeoutMs = 600_000) {
  return new Promise((resolve) => {
    const startedAt = Date.now();
    const t0 = performance.now();
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let partial = '';
    const lines = [];
    child.stdout.on('data', (b) => {
      const s = b.toString();
      out += s;
      const t = (performance.now() - t0) / 1000;
      const parts = (partial + s).split('\n');
      partial = parts.pop();
      for (const text of parts) lines.push({ t, text });
    });
    child.stderr.on('data', (b) => (out += b.toString()));
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, wall: (performance.now() - t0) / 1000, output: out, lines, startedAt });
    });
  });
}

/** Run under /usr/bin/time; resolves { ok, code, wall, rssKiB, cpu, output, lines, startedAt }, wall and CPU (user + system) in seconds as time measured them. */
export async function timed(cmd, args, timeoutMs = 600_000) {
  const r = await runChild('/usr/bin/time', ['-f', 'TIME %e %M %U %S', cmd, ...args], timeoutMs);
  const m = /TIME ([\d.]+) (\d+) ([\d.]+) ([\d.]+)/.exec(r.output);
  return { ok: r.code === 0 && !!m, code: r.code, wall: m ? Number(m[1]) : NaN, rssKiB: m ? Number(m[2]) : NaN, cpu: m ? Number(m[3]) + Number(m[4]) : NaN, output: r.output, lines: r.lines, startedAt: r.startedAt };
}

/** Arguments for test/lab/lt_get.py (run with PY): a TCP-only libtorrent leecher printing one JSON line. */
export function ltGetArgs(torrent, outDir, port, extra = []) {
  return [join(lab, 'lt_get.py'), torrent, outDir, '--tcp-only', '--port', String(port), '--json', ...extra];
}

/** A TCP-only libtorrent seeder (test/lab/lt_seed.py) on a port of its choosing; resolves { child, port }. */
export async function startLtSeed(torrent, dataDir, extra, timeoutMs) {
  const { child, match } = await startUntil(PY, [join(lab, 'lt_seed.py'), torrent, dataDir, '--tcp-only', '--port', '0', ...extra], /READY infohash=\w+ port=(\d+)/, timeoutMs);
  return { child, port: Number(match[1]) };
}

/** node flags and extra btkit flags for a timed btkit run, from CPU_PROF (profile to <work>/prof) and BTKIT_ARGS. */
export function btkitFlags(work) {
  return {
    node: process.env.CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${join(work, 'prof')}`] : [],
    extra: (process.env.BTKIT_ARGS ?? '').split(' ').filter(Boolean),
  };
}

/**
 * Debian's opentracker on 127.0.0.1:port (test/lab/opentracker.sh), in a fresh folder under the
 * system temp dir (made readable by others: opentracker drops to `nobody`). Lives at most an hour.
 */
export function startOpentracker(dirPrefix, port) {
  const dir = mkdtempSync(join(tmpdir(), dirPrefix));
  chmodSync(dir, 0o755);
  const script = join(lab, 'opentracker.sh');
  execFileSync('bash', [script, 'start', dir, String(port)], { stdio: 'pipe', env: { ...process.env, OT_MAX_SECONDS: '3600' } });
  return {
    allow: (infoHash) => execFileSync('bash', [script, 'allow', dir, infoHash], { stdio: 'pipe' }),
    stop: () => {
      execFileSync('bash', [script, 'stop', dir], { stdio: 'pipe' });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** dir/big.bin of `mib` MiB of random bytes, kept when it already has that size; returns { path, size }. */
export function makeData(bench, dir, mib) {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'big.bin');
  const size = mib * 1024 * 1024;
  if (!existsSync(path) || statSync(path).size !== size) {
    console.error(`${bench}: writing ${mib} MiB of random data to ${path}`);
    const fd = openSync(path, 'w');
    const buf = Buffer.allocUnsafe(4 * 1024 * 1024);
    for (let done = 0; done < size; done += buf.length) writeSync(fd, randomFillSync(buf), 0, Math.min(buf.length, size - done));
    closeSync(fd);
  }
  return { path, size };
}

/** `btkit create` with 1 MiB pieces (and the tracker, if any); returns the infohash. */
export function makeTorrent(dataPath, out, tracker) {
  execFileSync(process.execPath, [btkitRun, 'create', dataPath, '-o', out, '--piece-length', '1MiB', ...(tracker ? ['-t', tracker] : []), '--force', '--quiet'], { stdio: 'pipe' });
  return JSON.parse(execFileSync(process.execPath, [btkitRun, 'inspect', out, '--json'], { encoding: 'utf8' })).result.infoHash;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Whether two files have the same bytes (cmp). */
export function identical(a, b) {
  try {
    execFileSync('cmp', ['-s', a, b]);
    return true;
  } catch {
    return false;
  }
}

/**
 * Empty `dir` for the next run, then `sync` and wait 3 s: on this sandbox the cost of freeing the
 * previous run's output otherwise lands, at random, in the next run's system time.
 */
async function settle(dir) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  execFileSync('sync');
  await sleep(3000);
}

/**
 * `runs` rounds of `run(name, round)` for every name, each after settle(dir); the order rotates
 * each round, so that no tool always runs first (cold) or last.
 */
export async function inRounds(names, runs, dir, run) {
  for (let round = 0; round < runs; round++) {
    for (const name of names.map((_, i) => names[(i + round) % names.length])) {
      await settle(dir);
      await run(name, round);
    }
  }
}

/** Median of the finite values (NaN if none). */
export const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Write bench/<name>/results/<name>-<time>.json and print its path. */
export function writeResults(name, data) {
  const dir = join(root, 'bench', name, 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`);
  console.log(`\nresults: ${file}`);
}
