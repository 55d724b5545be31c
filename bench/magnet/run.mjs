// bench/magnet/run.mjs — `btkit download MAGNET` against libtorrent (test/lab/lt_get.py) and aria2c
// from the same magnet link, all fetching the metadata (BEP 9) and then the data from one libtorrent
// seeder (test/lab/lt_seed.py --tcp-only) on 127.0.0.1, in the same run, alternating the order each
// round: RUNS rounds (default 3) of a SIZE_MIB MiB single-file torrent (default 256) in 1 MiB
// pieces (issue 9, acceptance 6). Reports per tool the medians of the time to metadata, the time
// to complete, peak RSS and CPU seconds (user + system, from /usr/bin/time).
// btkit runs with --transport tcp, as the seeder and lt_get.py (--tcp-only) do.
//
// Two ways to the seeder, each its own set of rounds, the magnet the same for every tool in it:
//   tr    `magnet:?xt=…&dn=…&tr=http://127.0.0.1:P/announce`: a loopback opentracker where the
//         seeder announces (every 5 s); all three tools;
//   x.pe  `magnet:?xt=…&dn=…&x.pe=127.0.0.1:SEEDPORT`: the seeder named in the link, no tracker;
//         btkit and libtorrent (aria2c does not read x.pe).
//
// Time to metadata, two clocks:
//   from spawn   seconds from spawning the process to the moment the verified info dictionary is
//                reported, process start-up included: btkit's NDJSON `metadata` event (--json) and
//                lt_get.py --events' `metadata` line (metadata_received_alert) as they arrive on
//                the pipe here; aria2c's "Got ut_metadata" (logged once the SHA-1 matched) from its
//                own log (--log-level=info, microsecond timestamps) against the spawn's wall clock;
//   in-process   from the tool's session start: btkit's event's elapsedMs (from the fetcher's
//                creation) and lt_get.py's metadata_s (from add_torrent); n/a for aria2c.
// Time to complete is /usr/bin/time's wall time of the whole process (to exit, after the data is
// written: btkit without --seed, aria2c --seed-time=0, lt_get.py at torrent_finished_alert).
//
// Loopback only: btkit runs with --no-dht (and BTKIT_NO_PUBLIC_DHT, see lib.mjs), libtorrent's
// lab session has DHT, LSD, UPnP and NAT-PMP off and an IP filter outside 127/8, aria2c runs with
// --no-conf, DHT, LPD and PEX off, --interface=127.0.0.1.
//
// Usage: node bench/magnet/run.mjs [RUNS] [SIZE_MIB]          (after `npm run build`)
// Env:   BTKIT_BENCH_DIR (default /tmp/btkit-bench-magnet: the data is kept between runs),
//        BENCH_VIA=tr,x.pe (which ways; default both), BTKIT_ARGS (extra btkit flags),
//        CPU_PROF=1 (btkit writes a V8 CPU profile there).
// Needs: python3-libtorrent, aria2, opentracker. Results also go to bench/magnet/results/magnet-<time>.json.
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PY, btkitFlags, btkitRun, freePort, identical, inRounds, ltGetArgs, makeData, makeTorrent, median, requireTools, startLtSeed, startOpentracker, stop, timed, writeResults } from '../lib.mjs';

const [runs = 3, sizeMiB = 256] = process.argv.slice(2).map(Number);
const work = process.env.BTKIT_BENCH_DIR ?? join(tmpdir(), 'btkit-bench-magnet');
const vias = (process.env.BENCH_VIA ?? 'tr,x.pe').split(',').filter(Boolean);
requireTools('bench/magnet', [['libtorrent (python3-libtorrent)', PY], ['aria2c', '/usr/bin/aria2c'], ['opentracker', '/usr/bin/opentracker'], ['/usr/bin/time', '/usr/bin/time']], 'download');

// --- data, torrent, tracker, seeder ------------------------------------------------------------
const { path: dataPath, size } = makeData('bench/magnet', join(work, 'seed'), sizeMiB);
const otPort = await freePort();
const opentracker = startOpentracker('btkit-bench-ot-', otPort);
const torrent = join(work, 'big.torrent');
const announce = `http://127.0.0.1:${otPort}/announce`;
const infoHash = makeTorrent(dataPath, torrent, announce);
opentracker.allow(infoHash);

const { child: seeder, port: seedPort } = await startLtSeed(torrent, join(work, 'seed'), ['--reannounce', '5', '--seconds', '3600'], 120_000).catch((err) => {
  opentracker.stop();
  throw err;
});
const magnets = {
  tr: `magnet:?xt=urn:btih:${infoHash}&dn=big.bin&tr=${encodeURIComponent(announce)}`,
  'x.pe': `magnet:?xt=urn:btih:${infoHash}&dn=big.bin&x.pe=127.0.0.1:${seedPort}`,
};
console.error(`bench/magnet: libtorrent seeding on 127.0.0.1:${seedPort}, opentracker on ${otPort}; ${runs} rounds of ${sizeMiB} MiB per way (${vias.join(', ')})`);

const outDir = join(work, 'out');
const ariaLog = join(work, 'aria2c.log');

/** The parsed JSON lines of a run's stdout, each with `t` (seconds from the spawn). */
const jsonLines = (r) =>
  r.lines.flatMap(({ t, text }) => {
    try {
      const v = JSON.parse(text);
      return v && typeof v === 'object' ? [{ t, v }] : [];
    } catch {
      return [];
    }
  });

const tools = {
  btkit: async (magnet) => {
    const { node, extra } = btkitFlags(work);
    const r = await timed(process.execPath, [...node, btkitRun, 'download', magnet, '-o', outDir, '--port', '0', '--bind', '127.0.0.1', '--no-dht', '--transport', 'tcp', '--json', ...extra]);
    const meta = jsonLines(r).find(({ v }) => v.type === 'metadata');
    return { ...r, metaSpawnS: meta ? meta.t : NaN, metaInProcS: meta ? meta.v.elapsedMs / 1000 : NaN };
  },
  libtorrent: async (magnet) => {
    const port = await freePort();
    const r = await timed(PY, ltGetArgs(magnet, outDir, port, ['--events']));
    const lines = jsonLines(r);
    const meta = lines.find(({ v }) => v.event === 'metadata');
    const result = lines.find(({ v }) => 'ok' in v)?.v;
    return { ...r, metaSpawnS: meta ? meta.t : NaN, metaInProcS: result?.metadata_s ?? NaN };
  },
  aria2c: async (magnet) => {
    const port = await freePort();
    rmSync(ariaLog, { force: true });
    const r = await timed('aria2c', [
      '--no-conf', '--enable-dht=false', '--enable-dht6=false', '--bt-enable-lpd=false', '--enable-peer-exchange=false', '--disable-ipv6=true', '--async-dns=false',
      '--interface=127.0.0.1', `--listen-port=${port}`, '--seed-time=0', '--file-allocation=none', '--summary-interval=0', '--console-log-level=warn',
      `--log=${ariaLog}`, '--log-level=info', '-d', outDir, magnet,
    ]);
    // "2026-12-02 04:36:32.036765 [INFO] [UTMetadataDataExtensionMessage.cc:98] Got ut_metadata" (local time)
    let metaSpawnS = NaN;
    try {
      const m = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d\.\d+) .*Got ut_metadata/m.exec(readFileSync(ariaLog, 'utf8'));
      if (m) {
        const [hms, frac] = m[2].split('.');
        metaSpawnS = (new Date(`${m[1]}T${hms}`).getTime() + Number(`0.${frac}`) * 1000 - r.startedAt) / 1000;
      }
    } catch {
      // no log: n/a
    }
    return { ...r, metaSpawnS, metaInProcS: NaN };
  },
};

const results = {};
try {
  for (const via of vias) {
    const names = Object.keys(tools).filter((n) => via === 'tr' || n !== 'aria2c');
    results[via] = Object.fromEntries(names.map((n) => [n, []]));
    await inRounds(names, runs, outDir, async (name, round) => {
      const r = await tools[name](magnets[via]);
      const same = r.ok && identical(dataPath, join(outDir, 'big.bin'));
      results[via][name].push({ ok: r.ok, code: r.code, wall: r.wall, rssKiB: r.rssKiB, cpu: r.cpu, metaSpawnS: r.metaSpawnS, metaInProcS: r.metaInProcS, identical: same, output: r.ok ? undefined : r.output.slice(-2000) });
      const f = (x) => (Number.isFinite(x) ? x.toFixed(3) : 'n/a');
      console.error(
        `${via.padEnd(5)} round ${round + 1} ${name.padEnd(10)} ${r.ok ? `metadata ${f(r.metaSpawnS)} s from spawn (${f(r.metaInProcS)} s in-process)  complete ${r.wall.toFixed(2)} s  RSS ${(r.rssKiB / 1024).toFixed(0)} MiB  CPU ${r.cpu.toFixed(2)} s${same ? '' : '  NOT IDENTICAL'}` : `FAILED (exit ${r.code}) ${r.output.slice(-500)}`}`,
      );
    });
  }
} finally {
  await stop(seeder);
  opentracker.stop();
  rmSync(outDir, { recursive: true, force: true });
}

const summary = {};
for (const via of Object.keys(results)) {
  const rs = results[via];
  summary[via] = Object.fromEntries(
    Object.keys(rs).map((n) => [
      n,
      {
        runs: rs[n].length,
        ok: rs[n].filter((r) => r.ok && r.identical).length,
        metadataFromSpawnS: median(rs[n].map((r) => r.metaSpawnS)),
        metadataInProcessS: median(rs[n].map((r) => r.metaInProcS)),
        completeS: median(rs[n].map((r) => r.wall)),
        MBps: median(rs[n].map((r) => (r.ok ? size / 1e6 / r.wall : NaN))),
        peakRssMiB: median(rs[n].map((r) => r.rssKiB / 1024)),
        cpuS: median(rs[n].map((r) => r.cpu)),
      },
    ]),
  );
  // Within a round the load is the same for all: the median of btkit ÷ x per round.
  summary[via].btkitOverLibtorrentPerRound = {
    metadataFromSpawn: median(rs.btkit.map((r, i) => r.metaSpawnS / rs.libtorrent[i]?.metaSpawnS)),
    metadataInProcess: median(rs.btkit.map((r, i) => r.metaInProcS / rs.libtorrent[i]?.metaInProcS)),
    complete: median(rs.btkit.map((r, i) => r.wall / rs.libtorrent[i]?.wall)),
  };
}

const f = (x, d = 3) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
for (const via of Object.keys(summary)) {
  console.log(`\n${sizeMiB} MiB from a magnet link (${via}), libtorrent seeder on loopback, medians of ${runs}:`);
  console.log(`${'tool'.padEnd(11)}${'metadata s'.padStart(11)}${'(in-proc)'.padStart(10)}${'complete s'.padStart(11)}${'MB/s'.padStart(7)}${'RSS MiB'.padStart(9)}${'CPU s'.padStart(7)}`);
  for (const [n, s] of Object.entries(summary[via])) {
    if (n === 'btkitOverLibtorrentPerRound') continue;
    console.log(`${n.padEnd(11)}${f(s.metadataFromSpawnS).padStart(11)}${f(s.metadataInProcessS).padStart(10)}${f(s.completeS, 2).padStart(11)}${f(s.MBps, 0).padStart(7)}${f(s.peakRssMiB, 0).padStart(9)}${f(s.cpuS, 2).padStart(7)}   (${s.ok}/${s.runs} ok)`);
  }
  const q = summary[via].btkitOverLibtorrentPerRound;
  console.log(`btkit ÷ libtorrent, median over rounds: metadata ${f(q.metadataFromSpawn, 2)} from spawn, ${f(q.metadataInProcess, 2)} in-process; complete ${f(q.complete, 2)}`);
}
writeResults('magnet', { sizeMiB, runs, vias, summary, results, node: process.version, btkitArgs: process.env.BTKIT_ARGS ?? '', cpuProf: Boolean(process.env.CPU_PROF) });
