// bench/download/run.mjs — `btkit download` against aria2c and a libtorrent leecher, downloading the
// same torrent from the same libtorrent seeder (test/lab/lt_seed.py --tcp-only) on 127.0.0.1, in
// the same run, alternating the order each round: RUNS rounds (default 3) of a SIZE_MIB MiB
// single-file torrent (default 1024) in 1 MiB pieces. Reports per tool the median wall time,
// MB/s, peak RSS and CPU seconds (user + system, from /usr/bin/time), and the ratios to btkit.
//
// btkit and libtorrent are given the seeder with --peer; aria2c cannot be told a peer, so the
// seeder also announces to a loopback opentracker, where aria2c finds it.
//
// Before each run the previous output is deleted, `sync`ed, and 3 s pass, so that freeing it is
// not timed as part of the next tool's run.
//
// Usage: node bench/download/run.mjs [RUNS] [SIZE_MIB]          (after `npm run build`)
// Env:   BTKIT_BENCH_DIR (default /tmp/btkit-bench-download: the data is kept between runs),
//        BTKIT_ARGS (extra btkit flags), CPU_PROF=1 (btkit writes a V8 CPU profile there).
// Needs: python3-libtorrent, aria2, opentracker. Results also go to bench/download/results/download-<time>.json.
import { spawn, execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, openSync, writeSync, closeSync, statSync } from 'node:fs';
import { randomFillSync } from 'node:crypto';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import net from 'node:net';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const lab = join(root, 'test', 'lab');
const [runs = 3, sizeMiB = 1024] = process.argv.slice(2).map(Number);
const PY = '/usr/bin/python3';
const work = process.env.BTKIT_BENCH_DIR ?? join(tmpdir(), 'btkit-bench-download');
for (const [what, path] of [['libtorrent (python3-libtorrent)', PY], ['aria2c', '/usr/bin/aria2c'], ['opentracker', '/usr/bin/opentracker'], ['/usr/bin/time', '/usr/bin/time']]) {
  if (!existsSync(path)) {
    console.error(`bench/download: ${what} is missing`);
    process.exit(2);
  }
}
if (!existsSync(join(root, 'dist', 'commands', 'download.js'))) {
  console.error('bench/download: run `npm run build` first');
  process.exit(2);
}

async function freePort() {
  const srv = net.createServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const port = srv.address().port;
  await new Promise((r) => srv.close(r));
  return port;
}

function startUntil(cmd, args, ready, timeoutMs) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${cmd} not ready: ${out.slice(-2000)}`)), timeoutMs);
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
    child.once('exit', (c) => reject(new Error(`${cmd} exited ${c}: ${out.slice(-2000)}`)));
  });
}

function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const k = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(k);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Run under /usr/bin/time; resolves { ok, wall, rssKiB, cpu, output }. */
function timed(cmd, args, timeoutMs = 600_000) {
  return new Promise((resolve) => {
    const child = spawn('/usr/bin/time', ['-f', 'TIME %e %M %U %S', cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b) => (out += b.toString()));
    child.stderr.on('data', (b) => (out += b.toString()));
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(t);
      const m = /TIME ([\d.]+) (\d+) ([\d.]+) ([\d.]+)/.exec(out);
      resolve({ ok: code === 0 && !!m, code, wall: m ? Number(m[1]) : NaN, rssKiB: m ? Number(m[2]) : NaN, cpu: m ? Number(m[3]) + Number(m[4]) : NaN, output: out });
    });
  });
}

const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

// --- data, torrent, tracker, seeder ------------------------------------------------------------
mkdirSync(join(work, 'seed'), { recursive: true });
const dataPath = join(work, 'seed', 'big.bin');
const size = sizeMiB * 1024 * 1024;
if (!existsSync(dataPath) || statSync(dataPath).size !== size) {
  console.error(`bench/download: writing ${sizeMiB} MiB of random data to ${dataPath}`);
  const fd = openSync(dataPath, 'w');
  const buf = Buffer.allocUnsafe(4 * 1024 * 1024);
  for (let done = 0; done < size; done += buf.length) writeSync(fd, randomFillSync(buf), 0, Math.min(buf.length, size - done));
  closeSync(fd);
}
const otDir = mkdtempSync(join(tmpdir(), 'btkit-bench-ot-'));
chmodSync(otDir, 0o755);
const otPort = await freePort();
execFileSync('bash', [join(lab, 'opentracker.sh'), 'start', otDir, String(otPort)], { stdio: 'pipe', env: { ...process.env, OT_MAX_SECONDS: '3600' } });
const tracker = `http://127.0.0.1:${otPort}/announce`;
const torrent = join(work, 'big.torrent');
execFileSync(process.execPath, [join(root, 'bin', 'run.js'), 'create', dataPath, '-o', torrent, '--piece-length', '1MiB', '-t', tracker, '--force', '--quiet'], { stdio: 'pipe' });
const infoHash = JSON.parse(execFileSync(process.execPath, [join(root, 'bin', 'run.js'), 'inspect', torrent, '--json'], { encoding: 'utf8' })).result.infoHash;
execFileSync('bash', [join(lab, 'opentracker.sh'), 'allow', otDir, infoHash], { stdio: 'pipe' });

const seedStart = await startUntil(PY, [join(lab, 'lt_seed.py'), torrent, join(work, 'seed'), '--tcp-only', '--port', '0', '--reannounce', '5', '--seconds', '3600'], /READY infohash=\w+ port=(\d+)/, 120_000);
const seeder = seedStart.child;
const seedPort = Number(seedStart.match[1]);
console.error(`bench/download: libtorrent seeding on 127.0.0.1:${seedPort}, opentracker on ${otPort}; ${runs} rounds of ${sizeMiB} MiB`);

const outDir = join(work, 'out');
const tools = {
  btkit: () => {
    const extra = (process.env.BTKIT_ARGS ?? '').split(' ').filter(Boolean);
    const node = process.env.CPU_PROF ? [`--cpu-prof`, `--cpu-prof-dir=${join(work, 'prof')}`] : [];
    return timed(process.execPath, [...node, join(root, 'bin', 'run.js'), 'download', torrent, '-o', outDir, '--peer', `127.0.0.1:${seedPort}`, '--port', '0', '--bind', '127.0.0.1', '--quiet', ...extra]);
  },
  aria2c: async () => {
    const port = await freePort();
    return timed('aria2c', [
      '--enable-dht=false', '--enable-dht6=false', '--bt-enable-lpd=false', '--enable-peer-exchange=false', '--disable-ipv6=true', '--async-dns=false',
      '--interface=127.0.0.1', `--listen-port=${port}`, '--seed-time=0', '--file-allocation=none', '--summary-interval=0', '--console-log-level=warn',
      '-d', outDir, torrent,
    ]);
  },
  libtorrent: async () => {
    const port = await freePort();
    return timed(PY, [join(lab, 'lt_get.py'), torrent, outDir, '--peer', `127.0.0.1:${seedPort}`, '--no-tracker', '--tcp-only', '--port', String(port), '--json']);
  },
};

const names = Object.keys(tools);
const results = Object.fromEntries(names.map((n) => [n, []]));
try {
  for (let round = 0; round < runs; round++) {
    // Rotate the order each round, so no tool always runs first (cold) or last.
    const order = names.map((_, i) => names[(i + round) % names.length]);
    for (const name of order) {
      rmSync(outDir, { recursive: true, force: true });
      mkdirSync(outDir, { recursive: true });
      // Let the system finish freeing the previous 1 GiB output before the next tool is timed
      // (on this sandbox a delete's cost otherwise lands, at random, in the next run's sys time).
      execFileSync('sync');
      await new Promise((r) => setTimeout(r, 3000));
      const r = await tools[name]();
      let identical = false;
      if (r.ok) {
        try {
          execFileSync('cmp', ['-s', dataPath, join(outDir, 'big.bin')]);
          identical = true;
        } catch {
          identical = false;
        }
      }
      const mbps = r.ok ? size / 1e6 / r.wall : NaN;
      results[name].push({ ...r, mbps, identical, output: r.ok ? undefined : r.output.slice(-2000) });
      console.error(`round ${round + 1} ${name.padEnd(10)} ${r.ok ? `${r.wall.toFixed(2)} s  ${mbps.toFixed(0)} MB/s  RSS ${(r.rssKiB / 1024).toFixed(0)} MiB  CPU ${r.cpu.toFixed(2)} s${identical ? '' : '  NOT IDENTICAL'}` : `FAILED (exit ${r.code}) ${r.output.slice(-500)}`}`);
    }
  }
} finally {
  await stop(seeder);
  execFileSync('bash', [join(lab, 'opentracker.sh'), 'stop', otDir], { stdio: 'pipe' });
  rmSync(otDir, { recursive: true, force: true });
  rmSync(outDir, { recursive: true, force: true });
}

const summary = Object.fromEntries(
  names.map((n) => [
    n,
    {
      runs: results[n].length,
      ok: results[n].filter((r) => r.ok && r.identical).length,
      wallS: median(results[n].map((r) => r.wall)),
      MBps: median(results[n].map((r) => r.mbps)),
      peakRssMiB: median(results[n].map((r) => r.rssKiB / 1024)),
      cpuS: median(results[n].map((r) => r.cpu)),
    },
  ]),
);
const b = summary.btkit;
console.log(`\n${sizeMiB} MiB from a libtorrent seeder on loopback, medians of ${runs}:`);
console.log(`${'tool'.padEnd(11)}${'wall s'.padStart(8)}${'MB/s'.padStart(8)}${'RSS MiB'.padStart(9)}${'CPU s'.padStart(8)}${'btkit/x MB/s'.padStart(14)}`);
for (const n of names) {
  const s = summary[n];
  console.log(`${n.padEnd(11)}${s.wallS.toFixed(2).padStart(8)}${s.MBps.toFixed(0).padStart(8)}${s.peakRssMiB.toFixed(0).padStart(9)}${s.cpuS.toFixed(2).padStart(8)}${(b.MBps / s.MBps).toFixed(2).padStart(14)}   (${s.ok}/${s.runs} ok)`);
}
const resultsDir = join(root, 'bench', 'download', 'results');
mkdirSync(resultsDir, { recursive: true });
const file = join(resultsDir, `download-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(file, `${JSON.stringify({ sizeMiB, runs, summary, results, node: process.version, btkitArgs: process.env.BTKIT_ARGS ?? '' }, null, 2)}\n`);
console.log(`\nresults: ${file}`);
