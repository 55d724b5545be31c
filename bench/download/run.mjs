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
//        BTKIT_ARGS (extra btkit flags), CPU_PROF=1 (btkit writes a V8 CPU profile there),
//        BTKIT_COMPARE=LABEL=DIR[,…] (also run the btkit built in DIR, e.g. a worktree of an older
//        commit, as the tool `btkit@LABEL` in the same rounds: two builds against one seeder),
//        BENCH_TOOLS=btkit,libtorrent,… (run only these tools; default all).
// Needs: python3-libtorrent, aria2, opentracker. Results also go to bench/download/results/download-<time>.json.
import { existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PY, btkitFlags, btkitRun, freePort, identical, inRounds, ltGetArgs, makeData, makeTorrent, median, requireTools, startLtSeed, startOpentracker, stop, timed, writeResults } from '../lib.mjs';

const [runs = 3, sizeMiB = 1024] = process.argv.slice(2).map(Number);
const work = process.env.BTKIT_BENCH_DIR ?? join(tmpdir(), 'btkit-bench-download');
requireTools('bench/download', [['libtorrent (python3-libtorrent)', PY], ['aria2c', '/usr/bin/aria2c'], ['opentracker', '/usr/bin/opentracker'], ['/usr/bin/time', '/usr/bin/time']], 'download');

// --- data, torrent, tracker, seeder ------------------------------------------------------------
const { path: dataPath, size } = makeData('bench/download', join(work, 'seed'), sizeMiB);
const otPort = await freePort();
const opentracker = startOpentracker('btkit-bench-ot-', otPort);
const torrent = join(work, 'big.torrent');
opentracker.allow(makeTorrent(dataPath, torrent, `http://127.0.0.1:${otPort}/announce`));

const { child: seeder, port: seedPort } = await startLtSeed(torrent, join(work, 'seed'), ['--reannounce', '5', '--seconds', '3600'], 120_000).catch((err) => {
  opentracker.stop();
  throw err;
});
console.error(`bench/download: libtorrent seeding on 127.0.0.1:${seedPort}, opentracker on ${otPort}; ${runs} rounds of ${sizeMiB} MiB`);

const outDir = join(work, 'out');
// The seeder and libtorrent's leecher speak TCP only (lt_seed.py / lt_get.py --tcp-only), so this
// checkout's btkit is told the same (--transport tcp): with both, a TCP-only peer is dialed after
// uTP's 300 ms head start (transport/dual.ts). A build given with BTKIT_COMPARE is told the same
// when it has uTP (its dist/ holds transport/dual.js), and nothing when it predates uTP.
const btkitTool = (run, transport = []) => () => {
  const { node, extra } = btkitFlags(work);
  return timed(process.execPath, [...node, run, 'download', torrent, '-o', outDir, '--peer', `127.0.0.1:${seedPort}`, '--port', '0', '--bind', '127.0.0.1', '--quiet', ...transport, ...extra]);
};
const compare = (process.env.BTKIT_COMPARE ?? '').split(',').filter(Boolean).map((s) => s.split('='));
const allTools = {
  btkit: btkitTool(btkitRun, ['--transport', 'tcp']),
  ...Object.fromEntries(compare.map(([label, dir]) => [`btkit@${label}`, btkitTool(join(dir, 'bin', 'run.js'), existsSync(join(dir, 'dist', 'core', 'transport', 'dual.js')) ? ['--transport', 'tcp'] : [])])),
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
    return timed(PY, ltGetArgs(torrent, outDir, port, ['--peer', `127.0.0.1:${seedPort}`, '--no-tracker']));
  },
};
const only = (process.env.BENCH_TOOLS ?? '').split(',').filter(Boolean);
const tools = Object.fromEntries(Object.entries(allTools).filter(([n]) => only.length === 0 || only.includes(n) || (n.startsWith('btkit@') && only.includes('btkit'))));

const names = Object.keys(tools);
const results = Object.fromEntries(names.map((n) => [n, []]));
try {
  await inRounds(names, runs, outDir, async (name, round) => {
    const r = await tools[name]();
    const same = r.ok && identical(dataPath, join(outDir, 'big.bin'));
    const mbps = r.ok ? size / 1e6 / r.wall : NaN;
    results[name].push({ ...r, lines: undefined, mbps, identical: same, output: r.ok ? undefined : r.output.slice(-2000) });
    console.error(`round ${round + 1} ${name.padEnd(10)} ${r.ok ? `${r.wall.toFixed(2)} s  ${mbps.toFixed(0)} MB/s  RSS ${(r.rssKiB / 1024).toFixed(0)} MiB  CPU ${r.cpu.toFixed(2)} s${same ? '' : '  NOT IDENTICAL'}` : `FAILED (exit ${r.code}) ${r.output.slice(-500)}`}`);
  });
} finally {
  await stop(seeder);
  opentracker.stop();
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
const w = Math.max(11, ...names.map((n) => n.length + 2));
const lt = summary.libtorrent;
console.log(`${'tool'.padEnd(w)}${'wall s'.padStart(8)}${'MB/s'.padStart(8)}${'RSS MiB'.padStart(9)}${'CPU s'.padStart(8)}${'CPU s/GiB'.padStart(11)}${'btkit/x MB/s'.padStart(14)}${lt ? 'x/libtorrent MB/s'.padStart(19) : ''}`);
for (const n of names) {
  const s = summary[n];
  s.cpuSPerGiB = s.cpuS / (sizeMiB / 1024);
  const vsLt = lt ? (s.MBps / lt.MBps).toFixed(2).padStart(19) : '';
  console.log(`${n.padEnd(w)}${s.wallS.toFixed(2).padStart(8)}${s.MBps.toFixed(0).padStart(8)}${s.peakRssMiB.toFixed(0).padStart(9)}${s.cpuS.toFixed(2).padStart(8)}${s.cpuSPerGiB.toFixed(2).padStart(11)}${(b ? (b.MBps / s.MBps).toFixed(2) : '-').padStart(14)}${vsLt}   (${s.ok}/${s.runs} ok)`);
}
// The ratio that counts is the one within a round (same minutes, same load): per round, each tool's MB/s over libtorrent's.
const perRound = lt ? Object.fromEntries(names.map((n) => [n, median(results[n].map((r, i) => r.mbps / results.libtorrent[i]?.mbps))])) : {};
if (lt) console.log(`median over rounds of (x MB/s ÷ libtorrent MB/s in the same round): ${names.map((n) => `${n} ${perRound[n].toFixed(2)}`).join(', ')}`);
writeResults('download', { sizeMiB, runs, summary, perRoundRatioToLibtorrent: perRound, compare: Object.fromEntries(compare), results, node: process.version, btkitArgs: process.env.BTKIT_ARGS ?? '', cpuProf: Boolean(process.env.CPU_PROF) });
