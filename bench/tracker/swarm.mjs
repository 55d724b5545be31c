// bench/tracker/swarm.mjs — `btkit tracker` against opentracker under an aquatic-shaped load (see
// swarm-load.mjs: many torrents with a skewed popularity, numwant 30, 75 % seeders, announces with
// some scrapes, many loopback source addresses), then HTTP announces (http-load.mjs), in the same
// run: RUNS rounds (default 3), the order alternating, each tracker started fresh each round.
// Reports per tracker the medians of UDP requests per second, p50 / p99 latency, the tracker's CPU
// seconds for the UDP load, its peak RSS (VmHWM), HTTP announces per second and their CPU seconds;
// lost and wrong as totals; and btkit's ratios to opentracker (the median of the per-round ratios).
//
// Usage: node bench/tracker/swarm.mjs [RUNS] [ANNOUNCES] [PEERS] [TORRENTS] [HTTP_ANNOUNCES]
//   (after `npm run build`; defaults 3 100000 20000 10000 20000). Results also go to
//   bench/results/tracker-swarm-<time>.json. Needs opentracker (Debian package).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { swarmLoad, benchInfoHashes } from './swarm-load.mjs';
import { httpLoad } from './http-load.mjs';
import { root, needBuild, needOpentracker, startBtkit, startOpentracker, procStats, median, load } from './trackers.mjs';

needBuild();
needOpentracker();
const [runs = 3, count = 100000, peers = 20000, torrents = 10000, httpCount = 20000] = process.argv.slice(2).map(Number);
const hashes = benchInfoHashes(torrents);
const starters = { btkit: () => startBtkit(), opentracker: () => startOpentracker(hashes) };
const results = { btkit: [], opentracker: [] };
const loads = [];
console.error(`load before: ${load()}`);

for (let r = 1; r <= runs; r++) {
  const order = r % 2 === 1 ? ['btkit', 'opentracker'] : ['opentracker', 'btkit'];
  for (const name of order) {
    const t = await starters[name]();
    try {
      const c0 = procStats(t.pid).cpuS;
      const udp = await swarmLoad({ port: t.port, torrents, peers, count, interval: t.intervalRange, strict: name === 'btkit' });
      const c1 = procStats(t.pid);
      const http = httpCount > 0 ? await httpLoad({ port: t.port, torrents, peers, count: httpCount }) : null;
      const c2 = procStats(t.pid);
      const res = { round: r, udp, udpCpuS: Math.round((c1.cpuS - c0) * 100) / 100, rssAfterUdpMiB: c1.rssMiB, http, httpCpuS: http ? Math.round((c2.cpuS - c1.cpuS) * 100) / 100 : null, peakRssMiB: c2.peakRssMiB };
      results[name].push(res);
      console.error(
        `run ${r} ${name.padEnd(11)} UDP ${String(udp.rps).padStart(6)} req/s (${udp.announces} ann + ${udp.scrapes} scr) p50 ${udp.p50Us} µs p99 ${udp.p99Us} µs lost ${udp.lost} wrong ${udp.wrong}${udp.wrong ? ` ${JSON.stringify(udp.wrongReasons)}` : ''} short ${udp.short} CPU ${res.udpCpuS} s` +
          `${http ? ` | HTTP ${http.rps} ann/s failed ${http.failed} CPU ${res.httpCpuS} s` : ''} | peak RSS ${res.peakRssMiB} MiB`,
      );
    } finally {
      await t.stop();
    }
  }
}
loads.push(load());

const summary = {};
for (const [name, rs] of Object.entries(results)) {
  summary[name] = {
    udpRps: median(rs.map((x) => x.udp.rps)),
    p50Us: median(rs.map((x) => x.udp.p50Us)),
    p99Us: median(rs.map((x) => x.udp.p99Us)),
    udpCpuS: median(rs.map((x) => x.udpCpuS)),
    lost: rs.reduce((n, x) => n + x.udp.lost, 0),
    wrong: rs.reduce((n, x) => n + x.udp.wrong, 0),
    short: rs.reduce((n, x) => n + x.udp.short, 0),
    httpRps: median(rs.map((x) => x.http?.rps ?? null)),
    httpFailed: rs.reduce((n, x) => n + (x.http?.failed ?? 0), 0),
    httpCpuS: median(rs.map((x) => x.httpCpuS)),
    peakRssMiB: median(rs.map((x) => x.peakRssMiB)),
  };
}
const perRound = (f) => median(results.btkit.map((b, i) => f(b) / f(results.opentracker[i])));
const ratios = {
  udpRps: perRound((x) => x.udp.rps),
  udpCpuS: perRound((x) => x.udpCpuS),
  httpRps: httpCount > 0 ? perRound((x) => x.http.rps) : null,
};
console.log(`== ${count} UDP announces (+~5 % scrapes) from ${peers} peers over ${torrents} torrents (skew 3), numwant 30, 256 in flight, 64 source addresses; ${httpCount} HTTP announces on 32 connections; median of ${runs} rounds (lost, wrong: totals); load ${loads.join(' → ')}`);
for (const [name, s] of Object.entries(summary)) {
  console.log(
    `  ${name.padEnd(11)} UDP ${String(s.udpRps).padStart(6)} req/s  p50 ${String(s.p50Us).padStart(6)} µs  p99 ${String(s.p99Us).padStart(6)} µs  CPU ${s.udpCpuS} s  lost ${s.lost}  wrong ${s.wrong}  short ${s.short} | HTTP ${s.httpRps} ann/s (failed ${s.httpFailed}) CPU ${s.httpCpuS} s | peak RSS ${s.peakRssMiB} MiB`,
  );
}
console.log(`  btkit ÷ opentracker (median of per-round ratios): UDP req/s ${ratios.udpRps?.toFixed(2)}×, UDP CPU s ${ratios.udpCpuS?.toFixed(2)}×, HTTP ann/s ${ratios.httpRps?.toFixed(2)}×  (target UDP ≥ 1.00× with 0 lost, 0 wrong)`);
mkdirSync(join(root, 'bench', 'results'), { recursive: true });
const out = join(root, 'bench', 'results', `tracker-swarm-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(out, JSON.stringify({ runs, count, peers, torrents, httpCount, loads, summary, ratios, results }, null, 2));
console.log(`  (details: ${out})`);
process.exit(summary.btkit.lost + summary.btkit.wrong === 0 ? 0 : 1);
