// bench/utp/run.mjs — uTP (BEP 29, issue 10): btkit ↔ libtorrent over uTP against libtorrent ↔
// libtorrent over uTP, on 127.0.0.1, in the same run, alternating the order each round: RUNS
// rounds (default 3) of a SIZE_MIB MiB single-file torrent (default 256) in 1 MiB pieces.
//
// Three transfers a round, every one uTP only:
//   btkit<-lt       `btkit download --transport utp` from `lt_seed.py --utp-only`
//   lt<-btkit       `lt_get.py --utp-only` from `btkit seed --transport utp`
//   lt<-lt          `lt_get.py --utp-only` from `lt_seed.py --utp-only` (the reference)
// Each is timed whole (process wall time: start-up and exit included) under /usr/bin/time, with
// peak RSS and CPU seconds; the report gives medians and, the figure that counts, the median over
// rounds of each transfer's MB/s over lt<-lt's in the same round. The btkit seed's CPU is not in
// lt<-btkit's figures (it runs for the whole benchmark): its peak RSS and CPU seconds (from /proc,
// the whole benchmark, clock ticks of 10 ms) are printed at the end.
//
// Then the time to connect to a TCP-only seeder (`lt_seed.py --tcp-only`, an 8 MiB torrent) with
// `btkit download --transport both` against `--transport tcp`: from btkit's `started` event to its
// first `peer-connected`, as the lines arrive on the pipe, CONNECT_RUNS times each (default 5).
//
// Usage: node bench/utp/run.mjs [RUNS] [SIZE_MIB] [CONNECT_RUNS]       (after `npm run build`)
// Env:   BTKIT_BENCH_DIR (default /tmp/btkit-bench-utp: the data is kept between runs).
// Needs: python3-libtorrent. Results also go to bench/utp/results/utp-<time>.json.
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PY, btkitRun, freePort, identical, inRounds, makeData, makeTorrent, median, requireTools, runChild, startUntil, stop, timed, writeResults } from '../lib.mjs';

const lab = join(import.meta.dirname, '..', '..', 'test', 'lab');
const [runs = 3, sizeMiB = 256, connectRuns = 5] = process.argv.slice(2).map(Number);
const work = process.env.BTKIT_BENCH_DIR ?? join(tmpdir(), 'btkit-bench-utp');
requireTools('bench/utp', [['libtorrent (python3-libtorrent)', PY], ['/usr/bin/time', '/usr/bin/time']], 'download');

const { path: dataPath, size } = makeData('bench/utp', join(work, 'seed'), sizeMiB);
const torrent = join(work, 'big.torrent');
makeTorrent(dataPath, torrent);
const ready = /READY infohash=\w+ port=(\d+)/;

const ltSeed = await startUntil(PY, [join(lab, 'lt_seed.py'), torrent, join(work, 'seed'), '--utp-only', '--port', '0', '--no-tracker', '--seconds', '3600'], ready, 120_000);
const ltPort = Number(ltSeed.match[1]);
let btSeed;
try {
  btSeed = await startUntil(
    process.execPath,
    [btkitRun, 'seed', torrent, dataPath, '--transport', 'utp', '--port', '0', '--host', '127.0.0.1', '--no-dht', '--no-pex', '--json'],
    /"type":"started".*?"port":(\d+)/,
    300_000,
  );
} catch (err) {
  await stop(ltSeed.child);
  throw err;
}
const btPort = Number(btSeed.match[1]);
console.error(`bench/utp: libtorrent seeding over uTP on 127.0.0.1:${ltPort}, btkit seed on ${btPort}; ${runs} rounds of ${sizeMiB} MiB; load: ${(await import('node:os')).loadavg().map((x) => x.toFixed(1)).join(' ')}`);

const outDir = join(work, 'out');
const ltGet = async (port) => timed(PY, [join(lab, 'lt_get.py'), torrent, outDir, '--utp-only', '--no-tracker', '--peer', `127.0.0.1:${port}`, '--port', String(await freePort()), '--json', '--timeout', '600']);
const tools = {
  'btkit<-lt': () => timed(process.execPath, [btkitRun, 'download', torrent, '-o', outDir, '--transport', 'utp', '--peer', `127.0.0.1:${ltPort}`, '--port', '0', '--bind', '127.0.0.1', '--no-dht', '--no-pex', '--quiet', '--timeout', '60s']),
  'lt<-btkit': () => ltGet(btPort),
  'lt<-lt': () => ltGet(ltPort),
};
const names = Object.keys(tools);
const results = Object.fromEntries(names.map((n) => [n, []]));
let connect = {};
let seedFigures = null;
try {
  await inRounds(names, runs, outDir, async (name, round) => {
    const r = await tools[name]();
    const same = r.ok && identical(dataPath, join(outDir, 'big.bin'));
    const mbps = r.ok ? size / 1e6 / r.wall : NaN;
    results[name].push({ ...r, lines: undefined, mbps, identical: same, output: r.ok ? undefined : r.output.slice(-2000) });
    console.error(`round ${round + 1} ${name.padEnd(10)} ${r.ok ? `${r.wall.toFixed(2)} s  ${mbps.toFixed(1)} MB/s  RSS ${(r.rssKiB / 1024).toFixed(0)} MiB  CPU ${r.cpu.toFixed(2)} s${same ? '' : '  NOT IDENTICAL'}` : `FAILED (exit ${r.code}) ${r.output.slice(-500)}`}`);
  });

  // --- time to connect to a TCP-only seeder --------------------------------------------------
  const smallDir = join(work, 'small');
  const small = makeData('bench/utp', smallDir, 8);
  const smallTorrent = join(work, 'small.torrent');
  makeTorrent(small.path, smallTorrent);
  const tcpSeed = await startUntil(PY, [join(lab, 'lt_seed.py'), smallTorrent, smallDir, '--tcp-only', '--port', '0', '--no-tracker', '--seconds', '1800'], ready, 120_000);
  const tcpPort = Number(tcpSeed.match[1]);
  const smallOut = join(work, 'small-out');
  try {
    for (const mode of ['both', 'tcp']) connect[mode] = [];
    for (let i = 0; i < connectRuns; i++) {
      for (const mode of i % 2 ? ['tcp', 'both'] : ['both', 'tcp']) {
        rmSync(smallOut, { recursive: true, force: true });
        const r = await runChild(process.execPath, [btkitRun, 'download', smallTorrent, '-o', smallOut, '--transport', mode, '--peer', `127.0.0.1:${tcpPort}`, '--port', '0', '--bind', '127.0.0.1', '--no-dht', '--no-pex', '--json', '--timeout', '30s'], 120_000);
        const started = r.lines.find((l) => l.text.includes('"type":"started"'));
        const first = r.lines.find((l) => l.text.includes('"type":"peer-connected"'));
        const ms = r.code === 0 && started && first ? (first.t - started.t) * 1000 : NaN;
        const transport = first ? JSON.parse(first.text).transport : null;
        connect[mode].push({ ms, transport, code: r.code });
        console.error(`connect ${i + 1} --transport ${mode.padEnd(4)} ${Number.isFinite(ms) ? `${ms.toFixed(0)} ms over ${transport}` : `FAILED (exit ${r.code})`}`);
      }
    }
  } finally {
    await stop(tcpSeed.child);
    rmSync(smallOut, { recursive: true, force: true });
  }
} finally {
  await stop(ltSeed.child);
  // The btkit seed's own figures, read from /proc before it is stopped.
  try {
    const stat = readFileSync(`/proc/${btSeed.child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
    const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${btSeed.child.pid}/status`, 'utf8'));
    seedFigures = { cpuS: (Number(stat[11]) + Number(stat[12])) / 100, peakRssMiB: hwm ? Number(hwm[1]) / 1024 : NaN };
  } catch {
    seedFigures = null;
  }
  await stop(btSeed.child);
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
const perRound = Object.fromEntries(names.map((n) => [n, median(results[n].map((r, i) => r.mbps / results['lt<-lt'][i]?.mbps))]));
console.log(`\n${sizeMiB} MiB over uTP on loopback, medians of ${runs} rounds:`);
console.log(`${'transfer'.padEnd(12)}${'wall s'.padStart(8)}${'MB/s'.padStart(8)}${'RSS MiB'.padStart(9)}${'CPU s'.padStart(8)}${'x/lt<-lt (per round)'.padStart(22)}`);
for (const n of names) {
  const s = summary[n];
  console.log(`${n.padEnd(12)}${s.wallS.toFixed(2).padStart(8)}${s.MBps.toFixed(1).padStart(8)}${s.peakRssMiB.toFixed(0).padStart(9)}${s.cpuS.toFixed(2).padStart(8)}${perRound[n].toFixed(2).padStart(22)}   (${s.ok}/${s.runs} ok)`);
}
if (seedFigures) console.log(`btkit seed (the whole benchmark): peak RSS ${seedFigures.peakRssMiB.toFixed(0)} MiB, CPU ${seedFigures.cpuS.toFixed(2)} s`);
const connectSummary = Object.fromEntries(Object.entries(connect).map(([mode, xs]) => [mode, { medianMs: median(xs.map((x) => x.ms)), transports: [...new Set(xs.map((x) => x.transport))] }]));
for (const [mode, s] of Object.entries(connectSummary)) console.log(`connect to a TCP-only libtorrent seeder, --transport ${mode}: median ${s.medianMs.toFixed(0)} ms from 'started' to 'peer-connected' (over ${s.transports.join(', ')})`);
writeResults('utp', { sizeMiB, runs, summary, perRoundRatioToLtLt: perRound, seed: seedFigures, connect, connectSummary, results, node: process.version });
