// bench/tracker/scale.mjs — does `btkit tracker` hold a large swarm population, in bounded memory,
// answering every announce right? (issue 15's acceptance: 1M announces from 200k peers, RSS under a
// documented bound, 0 wrong answers.)
//
// ANNOUNCES UDP announces (default 1,000,000) from PEERS distinct peers (default 200,000: 256
// loopback source addresses × ~782 announced ports each) over TORRENTS torrents (default 20,000,
// skewed popularity), numwant 30, 75 % seeders, no scrapes, through swarm-load.mjs in strict mode:
// every answer is checked (interval, seeder and leecher counts within what the model allows, at most
// numwant peers, every peer one that announced in that torrent, never the asker, never a peer
// twice, never fewer peers than the torrent surely held). Reports the tracker's peak RSS (VmHWM),
// its RSS at the end, its CPU seconds, lost and wrong. With `--opentracker`, opentracker (the
// infohashes whitelisted) takes the same load afterwards, for its figures beside btkit's.
//
// Exit status 0 only when nothing was lost or wrong and the peak RSS is under BOUND_MIB (default
// 200, the bound the README and `btkit tracker --help` state for 200k peers).
//
// Usage: node bench/tracker/scale.mjs [ANNOUNCES] [PEERS] [TORRENTS] [--opentracker]
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { swarmLoad, benchInfoHashes } from './swarm-load.mjs';
import { root, needBuild, needOpentracker, startBtkit, startOpentracker, procStats, load } from './trackers.mjs';

needBuild();
const args = process.argv.slice(2);
const withOt = args.includes('--opentracker');
const [count = 1_000_000, peers = 200_000, torrents = 20_000] = args.filter((a) => !a.startsWith('--')).map(Number);
const bound = Number(process.env.BOUND_MIB ?? 200);
if (withOt) needOpentracker();

const runs = [];
const trackers = [['btkit', () => startBtkit()]];
if (withOt) trackers.push(['opentracker', () => startOpentracker(benchInfoHashes(torrents))]);
console.error(`load before: ${load()}`);
for (const [name, start] of trackers) {
  const t = await start();
  try {
    const c0 = procStats(t.pid).cpuS;
    const res = await swarmLoad({ port: t.port, torrents, peers, count, sources: 256, window: 256, scrapeShare: 0, interval: t.intervalRange, strict: name === 'btkit', maxSeconds: 900 });
    const s = procStats(t.pid);
    const run = { name, ...res, cpuS: Math.round((s.cpuS - c0) * 100) / 100, peakRssMiB: s.peakRssMiB, rssEndMiB: s.rssMiB };
    runs.push(run);
    console.log(
      `${name.padEnd(11)} ${res.announces} announces from ${res.peers} peers over ${torrents} torrents: ${res.rps} req/s, p99 ${res.p99Us} µs, lost ${res.lost}, wrong ${res.wrong}${res.wrong ? ` ${JSON.stringify(res.wrongReasons)}` : ''}, short ${res.short}, asker in own answer ${res.selfInAnswer}; CPU ${run.cpuS} s; peak RSS ${run.peakRssMiB} MiB (end ${run.rssEndMiB} MiB)`,
    );
  } finally {
    await t.stop();
  }
}
console.log(`load after: ${load()}`);
mkdirSync(join(root, 'bench', 'results'), { recursive: true });
const out = join(root, 'bench', 'results', `tracker-scale-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(out, JSON.stringify({ count, peers, torrents, bound, runs }, null, 2));
console.log(`(details: ${out})`);
const b = runs[0];
const ok = b.lost === 0 && b.wrong === 0 && b.peakRssMiB < bound;
console.log(ok ? `btkit: 0 lost, 0 wrong, peak RSS ${b.peakRssMiB} MiB < ${bound} MiB` : `btkit: FAILED (lost ${b.lost}, wrong ${b.wrong}, peak RSS ${b.peakRssMiB} MiB, bound ${bound} MiB)`);
process.exit(ok ? 0 : 1);
