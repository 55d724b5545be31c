// bench/seed/run.mjs — `btkit seed` against a libtorrent seeder, on 127.0.0.1, in the same run,
// alternating the order each round; medians of RUNS rounds (default 3).
//
// (a) one leecher: a libtorrent leecher (test/lab/lt_get.py --tcp-only --peer, no tracker)
//     downloads a SIZE_MIB MiB single-file torrent (default 1024, 1 MiB pieces) from
//       btkit:      node bin/run.js seed T DATA --port P --host 127.0.0.1 --skip-verify
//       libtorrent: lt_seed.py T DATA --tcp-only --no-tracker --seed-mode
//     A fresh seeder per run. Reports the leecher's transfer time (lt_get's "seconds": torrent
//     added → finished) and wall time, MB/s, the seeder's peak RSS (VmHWM from /proc/<pid>/status
//     just before it is stopped) and CPU seconds (utime + stime from /proc/<pid>/stat).
// (b) one seed, LEECHERS leechers (default 8) of a SWARM_MIB MiB torrent (default 256), all
//     started at once, time until the last is complete:
//       btkit:      btkit seed + LEECHERS × `btkit download`, through `btkit tracker`
//       libtorrent: lt_seed.py + LEECHERS × lt_get.py --tcp-only, through opentracker
//     Every copy is compared with the original.
//
// Before each run the previous output is deleted, `sync`ed, and 3 s pass.
//
// Usage: node bench/seed/run.mjs [RUNS] [SIZE_MIB]          (after `npm run build`)
// Env:   BTKIT_BENCH_DIR (default /tmp/btkit-bench-seed; the data is kept between runs),
//        ONLY=a|b, SWARM_MIB (256), LEECHERS (8), BTKIT_ARGS (extra `btkit seed` flags),
//        CPU_PROF=1 (the btkit seed writes a V8 CPU profile to $BTKIT_BENCH_DIR/prof).
// Needs: python3-libtorrent, opentracker. Results go to bench/seed/results/seed-<time>.json.
import { spawn, execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, openSync, writeSync, closeSync, statSync } from 'node:fs';
import { randomFillSync } from 'node:crypto';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import net from 'node:net';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const lab = join(root, 'test', 'lab');
const run = join(root, 'bin', 'run.js');
const [runs = 3, sizeMiB = 1024] = process.argv.slice(2).map(Number);
const swarmMiB = Number(process.env.SWARM_MIB ?? 256);
const leechers = Number(process.env.LEECHERS ?? 8);
const only = process.env.ONLY ?? '';
const PY = '/usr/bin/python3';
const work = process.env.BTKIT_BENCH_DIR ?? join(tmpdir(), 'btkit-bench-seed');
const CLK_TCK = 100;
for (const [what, path] of [['libtorrent (python3-libtorrent)', PY], ['opentracker', '/usr/bin/opentracker']]) {
  if (!existsSync(path)) {
    console.error(`bench/seed: ${what} is missing`);
    process.exit(2);
  }
}
if (!existsSync(join(root, 'dist', 'commands', 'seed.js'))) {
  console.error('bench/seed: run `npm run build` first');
  process.exit(2);
}

async function freePort() {
  const srv = net.createServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const port = srv.address().port;
  await new Promise((r) => srv.close(r));
  return port;
}

/** Spawn, resolve once `ready` matches its output (stdout + stderr). */
function startUntil(cmd, args, ready, timeoutMs) {
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

function stop(child) {
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

/** Peak RSS (MiB) and CPU seconds of a live process, from /proc. */
function procUsage(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { rssMiB: hwm ? Number(hwm[1]) / 1024 : NaN, cpu: (Number(f[11]) + Number(f[12])) / CLK_TCK };
  } catch {
    return { rssMiB: NaN, cpu: NaN };
  }
}

/** Run to the end (bounded); resolves { code, wall, output }. */
function runChild(cmd, args, timeoutMs = 600_000) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b) => (out += b.toString()));
    child.stderr.on('data', (b) => (out += b.toString()));
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, wall: (performance.now() - t0) / 1000, output: out });
    });
  });
}

const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function identical(a, b) {
  try {
    execFileSync('cmp', ['-s', a, b]);
    return true;
  } catch {
    return false;
  }
}
async function settle(dir) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  execFileSync('sync');
  await sleep(3000);
}

function makeData(dir, mib) {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'big.bin');
  const size = mib * 1024 * 1024;
  if (!existsSync(path) || statSync(path).size !== size) {
    console.error(`bench/seed: writing ${mib} MiB of random data to ${path}`);
    const fd = openSync(path, 'w');
    const buf = Buffer.allocUnsafe(4 * 1024 * 1024);
    for (let done = 0; done < size; done += buf.length) writeSync(fd, randomFillSync(buf), 0, Math.min(buf.length, size - done));
    closeSync(fd);
  }
  return { path, size };
}
function makeTorrent(dataPath, out, tracker) {
  execFileSync(process.execPath, [run, 'create', dataPath, '-o', out, '--piece-length', '1MiB', ...(tracker ? ['-t', tracker] : []), '--force', '--quiet'], { stdio: 'pipe' });
  return JSON.parse(execFileSync(process.execPath, [run, 'inspect', out, '--json'], { encoding: 'utf8' })).result.infoHash;
}

function startBtkitSeed(torrent, dataDir, extra = []) {
  const node = process.env.CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${join(work, 'prof')}`] : [];
  const btArgs = (process.env.BTKIT_ARGS ?? '').split(' ').filter(Boolean);
  return freePort().then((port) =>
    startUntil(process.execPath, [...node, run, 'seed', torrent, dataDir, '--port', String(port), '--host', '127.0.0.1', '--skip-verify', ...btArgs, ...extra], /seeding .* on 127\.0\.0\.1:(\d+)/, 60_000),
  ).then(({ child, match }) => ({ child, port: Number(match[1]) }));
}
function startLtSeed(torrent, dataDir, extra = ['--no-tracker']) {
  return startUntil(PY, [join(lab, 'lt_seed.py'), torrent, dataDir, '--tcp-only', '--seed-mode', '--port', '0', '--seconds', '900', ...extra], /READY infohash=\w+ port=(\d+)/, 60_000).then(({ child, match }) => ({
    child,
    port: Number(match[1]),
  }));
}

const resultsAll = { sizeMiB, runs, swarmMiB, leechers, node: process.version, btkitArgs: process.env.BTKIT_ARGS ?? '' };
const report = [];

// --- (a) one libtorrent leecher ------------------------------------------------------------------
if (only !== 'b') {
  const { path: dataPath, size } = makeData(join(work, 'seed'), sizeMiB);
  const torrent = join(work, 'big.torrent');
  makeTorrent(dataPath, torrent, null);
  const outDir = join(work, 'out');
  const seeders = { btkit: (t, d) => startBtkitSeed(t, d), libtorrent: (t, d) => startLtSeed(t, d) };
  const names = Object.keys(seeders);
  const results = Object.fromEntries(names.map((n) => [n, []]));
  try {
    for (let round = 0; round < runs; round++) {
      const order = names.map((_, i) => names[(i + round) % names.length]);
      for (const name of order) {
        await settle(outDir);
        let seed = null;
        try {
          seed = await seeders[name](torrent, join(work, 'seed'));
          const port = await freePort();
          const r = await runChild(PY, [join(lab, 'lt_get.py'), torrent, outDir, '--peer', `127.0.0.1:${seed.port}`, '--no-tracker', '--tcp-only', '--port', String(port), '--json', '--timeout', '300']);
          const usage = procUsage(seed.child.pid);
          let lt = {};
          try {
            lt = JSON.parse(r.output.trim().split('\n').filter((l) => l.startsWith('{')).pop() ?? '{}');
          } catch {}
          const ok = r.code === 0 && lt.ok === true;
          const same = ok && identical(dataPath, join(outDir, 'big.bin'));
          const seconds = ok ? lt.seconds : NaN;
          const rec = { ok: ok && same, wall: r.wall, seconds, mbps: size / 1e6 / seconds, seedRssMiB: usage.rssMiB, seedCpuS: usage.cpu, output: ok ? undefined : r.output.slice(-1500) };
          results[name].push(rec);
          console.error(`(a) round ${round + 1} ${name.padEnd(10)} ${ok ? `${seconds.toFixed(2)} s (wall ${r.wall.toFixed(2)})  ${rec.mbps.toFixed(0)} MB/s  seed RSS ${usage.rssMiB.toFixed(0)} MiB  CPU ${usage.cpu.toFixed(2)} s${same ? '' : '  NOT IDENTICAL'}` : `FAILED (exit ${r.code}) ${r.output.slice(-500)}`}`);
        } catch (err) {
          results[name].push({ ok: false, error: String(err).slice(0, 1500) });
          console.error(`(a) round ${round + 1} ${name}: ${String(err).slice(0, 500)}`);
        } finally {
          if (seed) await stop(seed.child);
        }
      }
    }
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
  const summary = Object.fromEntries(
    names.map((n) => {
      const rs = results[n].filter((r) => r.ok);
      return [n, { runs: results[n].length, ok: rs.length, seconds: median(rs.map((r) => r.seconds)), wallS: median(rs.map((r) => r.wall)), MBps: median(rs.map((r) => r.mbps)), seedPeakRssMiB: median(rs.map((r) => r.seedRssMiB)), seedCpuS: median(rs.map((r) => r.seedCpuS)) }];
    }),
  );
  resultsAll.single = { summary, results };
  const b = summary.btkit;
  const l = summary.libtorrent;
  report.push(`(a) libtorrent leecher, ${sizeMiB} MiB from one seeder on loopback, medians of ${runs}:`);
  report.push(`${'seeder'.padEnd(11)}${'xfer s'.padStart(8)}${'wall s'.padStart(8)}${'MB/s'.padStart(8)}${'seed RSS MiB'.padStart(14)}${'seed CPU s'.padStart(12)}`);
  for (const n of names) {
    const s = summary[n];
    report.push(`${n.padEnd(11)}${s.seconds.toFixed(2).padStart(8)}${s.wallS.toFixed(2).padStart(8)}${s.MBps.toFixed(0).padStart(8)}${s.seedPeakRssMiB.toFixed(0).padStart(14)}${s.seedCpuS.toFixed(2).padStart(12)}   (${s.ok}/${s.runs} ok)`);
  }
  report.push(`btkit / libtorrent MB/s: ${(b.MBps / l.MBps).toFixed(2)}`);
}

// --- (b) one seed, LEECHERS leechers -------------------------------------------------------------
if (only !== 'a') {
  const dataDir = join(work, 'swarm-seed');
  const { path: dataPath, size } = makeData(dataDir, swarmMiB);
  const otDir = mkdtempSync(join(tmpdir(), 'btkit-bench-seed-ot-'));
  chmodSync(otDir, 0o755);
  const otPort = await freePort();
  const btPort = await freePort();
  const tBt = join(work, 'swarm-btkit.torrent');
  const tOt = join(work, 'swarm-ot.torrent');
  const infoHash = makeTorrent(dataPath, tBt, `http://127.0.0.1:${btPort}/announce`);
  makeTorrent(dataPath, tOt, `http://127.0.0.1:${otPort}/announce`);
  execFileSync('bash', [join(lab, 'opentracker.sh'), 'start', otDir, String(otPort)], { stdio: 'pipe', env: { ...process.env, OT_MAX_SECONDS: '3600' } });
  execFileSync('bash', [join(lab, 'opentracker.sh'), 'allow', otDir, infoHash], { stdio: 'pipe' });
  let btTracker = null;
  const outRoot = join(work, 'swarm-out');
  const names = ['btkit', 'libtorrent'];
  const results = Object.fromEntries(names.map((n) => [n, []]));
  try {
    btTracker = (await startUntil(process.execPath, [run, 'tracker', '--host', '127.0.0.1', '--http-port', String(btPort), '--no-udp', '--allow', infoHash, '--interval', '5s', '--min-interval', '1s', '--quiet', '--stop-after', '60m'], /http\s+http:/, 30_000)).child;
    for (let round = 0; round < runs; round++) {
      const order = names.map((_, i) => names[(i + round) % names.length]);
      for (const name of order) {
        await settle(outRoot);
        let seed = null;
        try {
          seed = name === 'btkit' ? await startBtkitSeed(tBt, dataDir) : await startLtSeed(tOt, dataDir, ['--reannounce', '5']);
          const t0 = performance.now();
          const jobs = [];
          for (let i = 0; i < leechers; i++) {
            const out = join(outRoot, String(i));
            const port = await freePort();
            jobs.push(
              name === 'btkit'
                ? runChild(process.execPath, [run, 'download', tBt, '-o', out, '--port', String(port), '--bind', '127.0.0.1', '--quiet'], 600_000)
                : runChild(PY, [join(lab, 'lt_get.py'), tOt, out, '--tcp-only', '--port', String(port), '--json', '--timeout', '580']),
            );
          }
          const rs = await Promise.all(jobs);
          const total = (performance.now() - t0) / 1000;
          const usage = procUsage(seed.child.pid);
          const okCount = rs.filter((r, i) => r.code === 0 && identical(dataPath, join(outRoot, String(i), 'big.bin'))).length;
          const rec = { ok: okCount === leechers, okCount, totalS: total, slowestS: Math.max(...rs.map((r) => r.wall)), fastestS: Math.min(...rs.map((r) => r.wall)), seedRssMiB: usage.rssMiB, seedCpuS: usage.cpu, failures: rs.filter((r) => r.code !== 0).map((r) => r.output.slice(-800)) };
          results[name].push(rec);
          console.error(`(b) round ${round + 1} ${name.padEnd(10)} all ${leechers} done in ${total.toFixed(2)} s (first ${rec.fastestS.toFixed(2)} s)  ${okCount}/${leechers} ok  seed RSS ${usage.rssMiB.toFixed(0)} MiB  CPU ${usage.cpu.toFixed(2)} s`);
        } catch (err) {
          results[name].push({ ok: false, error: String(err).slice(0, 1500) });
          console.error(`(b) round ${round + 1} ${name}: ${String(err).slice(0, 500)}`);
        } finally {
          if (seed) await stop(seed.child);
        }
      }
    }
  } finally {
    await stop(btTracker);
    execFileSync('bash', [join(lab, 'opentracker.sh'), 'stop', otDir], { stdio: 'pipe' });
    rmSync(otDir, { recursive: true, force: true });
    rmSync(outRoot, { recursive: true, force: true });
  }
  const summary = Object.fromEntries(
    names.map((n) => {
      const rs = results[n].filter((r) => r.ok);
      return [n, { runs: results[n].length, ok: rs.length, totalS: median(rs.map((r) => r.totalS)), fastestS: median(rs.map((r) => r.fastestS)), aggregateMBps: median(rs.map((r) => (leechers * size) / 1e6 / r.totalS)), seedPeakRssMiB: median(rs.map((r) => r.seedRssMiB)), seedCpuS: median(rs.map((r) => r.seedCpuS)) }];
    }),
  );
  resultsAll.swarm = { summary, results };
  report.push('');
  report.push(`(b) 1 seed → ${leechers} leechers, ${swarmMiB} MiB, through a tracker, medians of ${runs}:`);
  report.push(`${'swarm'.padEnd(11)}${'all done s'.padStart(11)}${'first s'.padStart(9)}${'agg MB/s'.padStart(10)}${'seed RSS MiB'.padStart(14)}${'seed CPU s'.padStart(12)}`);
  for (const n of names) {
    const s = summary[n];
    report.push(`${n.padEnd(11)}${s.totalS.toFixed(2).padStart(11)}${s.fastestS.toFixed(2).padStart(9)}${s.aggregateMBps.toFixed(0).padStart(10)}${s.seedPeakRssMiB.toFixed(0).padStart(14)}${s.seedCpuS.toFixed(2).padStart(12)}   (${s.ok}/${s.runs} ok)`);
  }
  report.push(`libtorrent / btkit time to all-complete: ${(summary.libtorrent.totalS / summary.btkit.totalS).toFixed(2)}`);
}

console.log(`\n${report.join('\n')}`);
const resultsDir = join(root, 'bench', 'seed', 'results');
mkdirSync(resultsDir, { recursive: true });
const file = join(resultsDir, `seed-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(file, `${JSON.stringify(resultsAll, null, 2)}\n`);
console.log(`\nresults: ${file}`);
