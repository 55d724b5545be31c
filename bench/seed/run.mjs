// bench/seed/run.mjs — `btkit seed` against a libtorrent seeder, on 127.0.0.1, in the same run,
// alternating the order each round; medians of RUNS rounds (default 3).
//
// Every btkit runs with --transport tcp: the libtorrent peers here are TCP-only (lt_seed.py and
// lt_get.py --tcp-only), and between btkit peers the default (`both`) would carry the swarm over
// uTP, which is not what the libtorrent swarm is measured on (and costs btkit's leechers 2-3× the
// CPU on loopback; see bench/README.md, 2026-12-02 swarm).
//
// (a) one leecher: a libtorrent leecher (test/lab/lt_get.py --tcp-only --peer, no tracker)
//     downloads a SIZE_MIB MiB single-file torrent (default 1024, 1 MiB pieces) from
//       btkit:      node bin/run.js seed T DATA --port P --host 127.0.0.1 --skip-verify --transport tcp
//       libtorrent: lt_seed.py T DATA --tcp-only --no-tracker --seed-mode
//     A fresh seeder per run. Reports the leecher's transfer time (lt_get's "seconds": torrent
//     added → finished) and wall time, MB/s, the seeder's peak RSS (VmHWM from /proc/<pid>/status
//     just before it is stopped) and CPU seconds (utime + stime from /proc/<pid>/stat).
// (b) one seed, LEECHERS leechers (default 8) of a SWARM_MIB MiB torrent (default 256), all
//     started at once, time until the last is complete:
//       btkit:      btkit seed + LEECHERS × `btkit download --json`, through `btkit tracker`
//       libtorrent: lt_seed.py + LEECHERS × lt_get.py --tcp-only --peer-log, through opentracker
//     Every copy is compared with the original. Each leecher runs under /usr/bin/time (its CPU
//     seconds and peak RSS); "swarm CPU" is the leechers' and the seed's together. "from seed" is
//     how much of the 8 × SWARM_MIB the leechers got from the seed (btkit: each connection's
//     `downloaded` in `peer-dropped`; libtorrent: lt_get's peer log), the rest they traded.
//     "÷ lt" is the median over rounds of libtorrent's time ÷ btkit's in the same round.
//
// Before each run the previous output is deleted, `sync`ed, and 3 s pass.
//
// Usage: node bench/seed/run.mjs [RUNS] [SIZE_MIB]          (after `npm run build`)
// Env:   BTKIT_BENCH_DIR (default /tmp/btkit-bench-seed; the data is kept between runs),
//        ONLY=a|b, SWARM_MIB (256), LEECHERS (8), BTKIT_ARGS (extra `btkit seed` flags),
//        BTKIT_COMPARE=LABEL=DIR[,…] (b: also run the btkit built in DIR, e.g. a worktree of an
//        older commit, as `btkit@LABEL` in the same rounds; DIR may be this checkout, and
//        SEED_ARGS_LABEL='--upload-slots 8' gives that one's seed extra flags),
//        BENCH_TRACE=DIR (b: keep every leecher's output, one file per leecher and run),
//        CPU_PROF=1 (the btkit seed writes a V8 CPU profile to $BTKIT_BENCH_DIR/prof).
// Needs: python3-libtorrent, opentracker. Results go to bench/seed/results/seed-<time>.json.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PY, btkitFlags, btkitRun as run, freePort, identical, inRounds, ltGetArgs, makeData, makeTorrent, median, requireTools, runChild, startLtSeed, startOpentracker, startUntil, stop, timed, writeResults } from '../lib.mjs';

const [runs = 3, sizeMiB = 1024] = process.argv.slice(2).map(Number);
const swarmMiB = Number(process.env.SWARM_MIB ?? 256);
const leechers = Number(process.env.LEECHERS ?? 8);
const only = process.env.ONLY ?? '';
const work = process.env.BTKIT_BENCH_DIR ?? join(tmpdir(), 'btkit-bench-seed');
const CLK_TCK = 100;
requireTools('bench/seed', [['libtorrent (python3-libtorrent)', PY], ['opentracker', '/usr/bin/opentracker']], 'seed');

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

async function startBtkitSeed(torrent, dataDir, runJs = run, more = []) {
  const { node, extra: given } = btkitFlags(work);
  const extra = [...given, ...more];
  const port = await freePort();
  const { child, match } = await startUntil(process.execPath, [...node, runJs, 'seed', torrent, dataDir, '--port', String(port), '--host', '127.0.0.1', '--skip-verify', '--transport', 'tcp', ...extra], /seeding .* on 127\.0\.0\.1:(\d+)/, 60_000);
  return { child, port: Number(match[1]) };
}
/** lt_seed.py with --seed-mode: it trusts the data as btkit's --skip-verify does. */
const startLtSeedMode = (torrent, dataDir, extra = ['--no-tracker']) => startLtSeed(torrent, dataDir, ['--seed-mode', '--seconds', '900', ...extra], 60_000);

/** One run against a fresh seeder: `measure(seed)` makes the record; a failure is recorded too, and the seeder is stopped either way. */
async function withSeed(part, name, round, start, measure) {
  let seed = null;
  try {
    seed = await start();
    return await measure(seed);
  } catch (err) {
    console.error(`(${part}) round ${round + 1} ${name}: ${String(err).slice(0, 500)}`);
    return { ok: false, error: String(err).slice(0, 1500) };
  } finally {
    if (seed) await stop(seed.child);
  }
}

const resultsAll = { sizeMiB, runs, swarmMiB, leechers, node: process.version, btkitArgs: process.env.BTKIT_ARGS ?? '' };
const report = [];

// --- (a) one libtorrent leecher ------------------------------------------------------------------
if (only !== 'b') {
  const { path: dataPath, size } = makeData('bench/seed', join(work, 'seed'), sizeMiB);
  const torrent = join(work, 'big.torrent');
  makeTorrent(dataPath, torrent, null);
  const outDir = join(work, 'out');
  const seeders = { btkit: (t, d) => startBtkitSeed(t, d), libtorrent: (t, d) => startLtSeedMode(t, d) };
  const names = Object.keys(seeders);
  const results = Object.fromEntries(names.map((n) => [n, []]));
  try {
    await inRounds(names, runs, outDir, async (name, round) => {
      const measure = async (seed) => {
        const port = await freePort();
        const r = await runChild(PY, ltGetArgs(torrent, outDir, port, ['--peer', `127.0.0.1:${seed.port}`, '--no-tracker', '--timeout', '300']));
        const usage = procUsage(seed.child.pid);
        let lt = {};
        try {
          lt = JSON.parse(r.output.trim().split('\n').filter((l) => l.startsWith('{')).pop() ?? '{}');
        } catch {}
        const ok = r.code === 0 && lt.ok === true;
        const same = ok && identical(dataPath, join(outDir, 'big.bin'));
        const seconds = ok ? lt.seconds : NaN;
        const rec = { ok: ok && same, wall: r.wall, seconds, mbps: size / 1e6 / seconds, seedRssMiB: usage.rssMiB, seedCpuS: usage.cpu, output: ok ? undefined : r.output.slice(-1500) };
        console.error(`(a) round ${round + 1} ${name.padEnd(10)} ${ok ? `${seconds.toFixed(2)} s (wall ${r.wall.toFixed(2)})  ${rec.mbps.toFixed(0)} MB/s  seed RSS ${usage.rssMiB.toFixed(0)} MiB  CPU ${usage.cpu.toFixed(2)} s${same ? '' : '  NOT IDENTICAL'}` : `FAILED (exit ${r.code}) ${r.output.slice(-500)}`}`);
        return rec;
      };
      results[name].push(await withSeed('a', name, round, () => seeders[name](torrent, join(work, 'seed')), measure));
    });
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
  const { path: dataPath, size } = makeData('bench/seed', dataDir, swarmMiB);
  const otPort = await freePort();
  const btPort = await freePort();
  const tBt = join(work, 'swarm-btkit.torrent');
  const tOt = join(work, 'swarm-ot.torrent');
  const infoHash = makeTorrent(dataPath, tBt, `http://127.0.0.1:${btPort}/announce`);
  makeTorrent(dataPath, tOt, `http://127.0.0.1:${otPort}/announce`);
  const opentracker = startOpentracker('btkit-bench-seed-ot-', otPort);
  opentracker.allow(infoHash);
  let btTracker = null;
  const outRoot = join(work, 'swarm-out');
  const trace = process.env.BENCH_TRACE ?? '';
  if (trace) mkdirSync(trace, { recursive: true });
  const compare = (process.env.BTKIT_COMPARE ?? '').split(',').filter(Boolean).map((x) => x.split('='));
  /** The btkit builds in the rounds: this checkout's, then any BTKIT_COMPARE ones. */
  const builds = { btkit: run, ...Object.fromEntries(compare.map(([label, dir]) => [`btkit@${label}`, join(dir, 'bin', 'run.js')])) };
  const names = [...Object.keys(builds), 'libtorrent'];
  const results = Object.fromEntries(names.map((n) => [n, []]));
  const mib = (bytes) => bytes / 1024 / 1024;
  /**
   * MiB the leechers got from the seed on `seedPort`, from their outputs (btkit --json, lt_get
   * --peer-log); NaN if an output says nothing. btkit: each connection's `downloaded` in
   * `peer-dropped`, the seed known by the peer id it has where a leecher dialed it (the seed
   * dials leechers too, from another port). libtorrent: the peer log's connections to the
   * seed's port (a connection the seed dialed is not told apart: a lower bound).
   */
  const fromSeed = (outputs, seedPort) => {
    const events = outputs.map((output) =>
      output
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .flatMap((l) => {
          try {
            return [JSON.parse(l)];
          } catch {
            return [];
          }
        }),
    );
    const addr = `127.0.0.1:${seedPort}`;
    const seedIds = new Set(events.flat().filter((ev) => ev.type === 'peer-connected' && ev.peer === addr).map((ev) => ev.peerId));
    let bytes = 0;
    for (const evs of events) {
      if (!evs.some((ev) => ev.type === 'done' || Array.isArray(ev.peer_log))) return NaN;
      for (const ev of evs) {
        if (ev.type === 'peer-dropped' && (ev.peer === addr || seedIds.has(ev.peerId))) bytes += ev.downloaded;
        else if (Array.isArray(ev.peer_log)) for (const p of ev.peer_log) if (p.addr === addr) bytes += p.downloaded;
      }
    }
    return mib(bytes);
  };
  try {
    btTracker = (await startUntil(process.execPath, [run, 'tracker', '--host', '127.0.0.1', '--http-port', String(btPort), '--no-udp', '--allow', infoHash, '--interval', '5s', '--min-interval', '1s', '--quiet', '--stop-after', '60m'], /http\s+http:/, 30_000)).child;
    await inRounds(names, runs, outRoot, async (name, round) => {
      const btkit = builds[name];
      const seedArgs = (process.env[`SEED_ARGS_${name.replace(/^btkit@/, '')}`] ?? '').split(' ').filter(Boolean);
      const start = () => (btkit ? startBtkitSeed(tBt, dataDir, btkit, seedArgs) : startLtSeedMode(tOt, dataDir, ['--reannounce', '5']));
      const measure = async (seed) => {
        const t0 = performance.now();
        const jobs = [];
        for (let i = 0; i < leechers; i++) {
          const out = join(outRoot, String(i));
          const port = await freePort();
          jobs.push(
            btkit
              ? timed(process.execPath, [btkit, 'download', tBt, '-o', out, '--port', String(port), '--bind', '127.0.0.1', '--transport', 'tcp', '--json'], 600_000)
              : timed(PY, ltGetArgs(tOt, out, port, ['--timeout', '580', '--peer-log']), 600_000),
          );
        }
        const rs = await Promise.all(jobs);
        const total = (performance.now() - t0) / 1000;
        const usage = procUsage(seed.child.pid);
        if (trace) rs.forEach((r, i) => writeFileSync(join(trace, `${name}-r${round + 1}-${i}.out`), r.output));
        const okCount = rs.filter((r, i) => r.code === 0 && identical(dataPath, join(outRoot, String(i), 'big.bin'))).length;
        const leechCpuS = rs.reduce((a, r) => a + r.cpu, 0);
        const seedMiB = fromSeed(rs.map((r) => r.output), seed.port);
        const rec = {
          ok: okCount === leechers,
          okCount,
          totalS: total,
          slowestS: Math.max(...rs.map((r) => r.wall)),
          fastestS: Math.min(...rs.map((r) => r.wall)),
          leechCpuS,
          leechCpuEachS: rs.map((r) => r.cpu),
          leechRssMiB: Math.max(...rs.map((r) => r.rssKiB / 1024)),
          fromSeedMiB: seedMiB,
          seedRssMiB: usage.rssMiB,
          seedCpuS: usage.cpu,
          load1: Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]),
          failures: rs.filter((r) => r.code !== 0).map((r) => r.output.slice(-800)),
        };
        console.error(
          `(b) round ${round + 1} ${name.padEnd(12)} all ${leechers} done in ${total.toFixed(2)} s (first ${rec.fastestS.toFixed(2)} s)  ${okCount}/${leechers} ok  ` +
            `leechers CPU ${leechCpuS.toFixed(2)} s  seed CPU ${usage.cpu.toFixed(2)} s  from seed ${seedMiB.toFixed(0)} MiB  seed RSS ${usage.rssMiB.toFixed(0)} MiB  load ${rec.load1}`,
        );
        return rec;
      };
      results[name].push(await withSeed('b', name, round, start, measure));
    });
  } finally {
    await stop(btTracker);
    opentracker.stop();
    rmSync(outRoot, { recursive: true, force: true });
  }
  // Per round: libtorrent's time ÷ each btkit's (the same round, so the same load).
  const perRound = Object.fromEntries(
    Object.keys(builds).map((n) => [n, results[n].map((r, i) => (r.ok && results.libtorrent[i]?.ok ? results.libtorrent[i].totalS / r.totalS : NaN))]),
  );
  const summary = Object.fromEntries(
    names.map((n) => {
      const rs = results[n].filter((r) => r.ok);
      return [
        n,
        {
          runs: results[n].length,
          ok: rs.length,
          totalS: median(rs.map((r) => r.totalS)),
          fastestS: median(rs.map((r) => r.fastestS)),
          aggregateMBps: median(rs.map((r) => (leechers * size) / 1e6 / r.totalS)),
          leechCpuS: median(rs.map((r) => r.leechCpuS)),
          swarmCpuS: median(rs.map((r) => r.leechCpuS + r.seedCpuS)),
          fromSeedMiB: median(rs.map((r) => r.fromSeedMiB)),
          leechPeakRssMiB: median(rs.map((r) => r.leechRssMiB)),
          seedPeakRssMiB: median(rs.map((r) => r.seedRssMiB)),
          seedCpuS: median(rs.map((r) => r.seedCpuS)),
          load1: median(rs.map((r) => r.load1)),
          ltOverThis: perRound[n] ? median(perRound[n]) : NaN,
        },
      ];
    }),
  );
  resultsAll.swarm = { summary, perRound, compare: Object.fromEntries(compare), results };
  report.push('');
  report.push(`(b) 1 seed → ${leechers} leechers, ${swarmMiB} MiB, through a tracker, medians of ${runs}:`);
  report.push(
    `${'swarm'.padEnd(13)}${'all done s'.padStart(11)}${'first s'.padStart(9)}${'agg MB/s'.padStart(10)}${'leech CPU s'.padStart(13)}${'seed CPU s'.padStart(12)}${'from seed MiB'.padStart(15)}${'leech RSS'.padStart(11)}${'seed RSS'.padStart(10)}${'÷ lt'.padStart(7)}${'load'.padStart(7)}`,
  );
  for (const n of names) {
    const s = summary[n];
    report.push(
      `${n.padEnd(13)}${s.totalS.toFixed(2).padStart(11)}${s.fastestS.toFixed(2).padStart(9)}${s.aggregateMBps.toFixed(0).padStart(10)}${s.leechCpuS.toFixed(2).padStart(13)}${s.seedCpuS.toFixed(2).padStart(12)}${s.fromSeedMiB.toFixed(0).padStart(15)}${s.leechPeakRssMiB.toFixed(0).padStart(11)}${s.seedPeakRssMiB.toFixed(0).padStart(10)}${(n === 'libtorrent' ? '' : s.ltOverThis.toFixed(2)).padStart(7)}${s.load1.toFixed(1).padStart(7)}   (${s.ok}/${s.runs} ok)`,
    );
  }
  report.push(`÷ lt: the median over rounds of libtorrent's all-done time ÷ that swarm's, same round (≥ 1.0: as fast as libtorrent or faster)`);
}

console.log(`\n${report.join('\n')}`);
writeResults('seed', resultsAll);
