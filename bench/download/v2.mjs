// bench/download/v2.mjs — `btkit download` of the same data as a v1, a hybrid and a v2-only torrent
// (BEP 52), each from its own libtorrent seeder (test/lab/lt_seed.py --tcp-only) on 127.0.0.1, and
// libtorrent's own download of the hybrid as the reference, in the same run, the order rotating each
// round: RUNS rounds (default 3) of SIZE_MIB MiB (default 256) in 1 MiB pieces. Reports per tool
// the median wall time, MB/s, peak RSS and CPU seconds, and per round each one's MB/s over
// libtorrent's. What it shows: the cost of checking a hybrid by SHA-1 and merkle both, and of v2's
// merkle check alone, against v1 and against libtorrent on the same hybrid.
//
// Usage: node bench/download/v2.mjs [RUNS] [SIZE_MIB]          (after `npm run build`)
// Env:   BTKIT_BENCH_DIR (default /tmp/btkit-bench-download-v2: the data is kept between runs).
// Results also go to bench/download-v2/results/download-v2-<time>.json.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PY, btkitRun, freePort, identical, inRounds, ltGetArgs, makeData, median, requireTools, startLtSeed, stop, timed, writeResults } from '../lib.mjs';

const [runs = 3, sizeMiB = 256] = process.argv.slice(2).map(Number);
const work = process.env.BTKIT_BENCH_DIR ?? join(tmpdir(), 'btkit-bench-download-v2');
requireTools('bench/download/v2', [['libtorrent (python3-libtorrent)', PY], ['/usr/bin/time', '/usr/bin/time']], 'download');

const { path: dataPath, size } = makeData('bench/download/v2', join(work, 'seed'), sizeMiB);
const versions = ['v1', 'hybrid', 'v2'];
const seeders = {};
try {
  for (const v of versions) {
    const torrent = join(work, `${v}.torrent`);
    execFileSync(process.execPath, [btkitRun, 'create', dataPath, '-o', torrent, '--piece-length', '1MiB', ...(v === 'v1' ? [] : [`--${v}`]), '--force', '--quiet'], { stdio: 'pipe' });
    seeders[v] = { torrent, ...(await startLtSeed(torrent, join(work, 'seed'), ['--no-tracker', '--seconds', '3600'], 120_000)) };
  }
} catch (err) {
  for (const s of Object.values(seeders)) await stop(s.child);
  throw err;
}
console.error(`bench/download/v2: libtorrent seeding v1, hybrid, v2 on ${versions.map((v) => seeders[v].port).join(', ')}; ${runs} rounds of ${sizeMiB} MiB`);

const outDir = join(work, 'out');
const tools = {
  ...Object.fromEntries(
    versions.map((v) => [
      `btkit-${v}`,
      () => timed(process.execPath, [btkitRun, 'download', seeders[v].torrent, '-o', outDir, '--peer', `127.0.0.1:${seeders[v].port}`, '--port', '0', '--bind', '127.0.0.1', '--no-dht', '--quiet']),
    ]),
  ),
  'libtorrent-hybrid': async () => timed(PY, ltGetArgs(seeders.hybrid.torrent, outDir, await freePort(), ['--peer', `127.0.0.1:${seeders.hybrid.port}`, '--no-tracker'])),
};
const names = Object.keys(tools);
const results = Object.fromEntries(names.map((n) => [n, []]));
try {
  await inRounds(names, runs, outDir, async (name, round) => {
    const r = await tools[name]();
    const same = r.ok && identical(dataPath, join(outDir, 'big.bin'));
    const mbps = r.ok ? size / 1e6 / r.wall : NaN;
    results[name].push({ ...r, lines: undefined, mbps, identical: same, output: r.ok ? undefined : r.output.slice(-2000) });
    console.error(`round ${round + 1} ${name.padEnd(18)} ${r.ok ? `${r.wall.toFixed(2)} s  ${mbps.toFixed(0)} MB/s  RSS ${(r.rssKiB / 1024).toFixed(0)} MiB  CPU ${r.cpu.toFixed(2)} s${same ? '' : '  NOT IDENTICAL'}` : `FAILED (exit ${r.code}) ${r.output.slice(-500)}`}`);
  });
} finally {
  for (const s of Object.values(seeders)) await stop(s.child);
  rmSync(outDir, { recursive: true, force: true });
}

const ref = 'libtorrent-hybrid';
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
      // Within a round (same minutes, same load): this tool's MB/s over libtorrent's on the hybrid.
      perRoundRatioToLibtorrent: median(results[n].map((r, i) => r.mbps / results[ref][i]?.mbps)),
    },
  ]),
);
console.log(`\n${sizeMiB} MiB from libtorrent seeders on loopback, medians of ${runs}:`);
console.log(`${'tool'.padEnd(20)}${'wall s'.padStart(8)}${'MB/s'.padStart(8)}${'RSS MiB'.padStart(9)}${'CPU s'.padStart(8)}${'x/libtorrent-hybrid'.padStart(21)}`);
for (const n of names) {
  const s = summary[n];
  console.log(`${n.padEnd(20)}${s.wallS.toFixed(2).padStart(8)}${s.MBps.toFixed(0).padStart(8)}${s.peakRssMiB.toFixed(0).padStart(9)}${s.cpuS.toFixed(2).padStart(8)}${s.perRoundRatioToLibtorrent.toFixed(2).padStart(21)}   (${s.ok}/${s.runs} ok)`);
}
writeResults('download-v2', { sizeMiB, runs, summary, results, node: process.version });
