// bench/webseed/run.mjs — a download from a web seed alone (BEP 19, issue 11 acceptance 4): a
// loopback nginx serves a SIZE_MIB MiB file (default 1024); the torrent (1 MiB pieces) lists
// nginx's folder in its url-list and no tracker. Tools, alternating each round, RUNS rounds
// (default 3), each writing the file to disk:
//   btkit   `btkit download T --no-dht --port 0 --quiet` (nothing but the web seed);
//   aria2c  the same torrent (aria2c fetches from url-list web seeds; no tracker, DHT off);
//   curl    `curl -o FILE URL` of the same file from the same nginx: the limit.
// Reports per tool the median wall time, MiB/s, peak RSS and CPU seconds (/usr/bin/time), and
// btkit's ratio to each (median of the per-round ratios, and ratio of the medians).
//
// Usage: node bench/webseed/run.mjs [RUNS] [SIZE_MIB]          (after `npm run build`)
// Env:   BTKIT_BENCH_DIR (default /tmp/btkit-bench-webseed: the data is kept between runs),
//        BTKIT_ARGS (extra btkit flags), CPU_PROF=1 (btkit writes a V8 CPU profile to <dir>/prof),
//        BENCH_TOOLS=btkit,curl (only these tools).
// Needs: nginx (nginx-light), aria2, curl. Results also go to bench/webseed/results/webseed-<time>.json.
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { btkitFlags, btkitRun, freePort, identical, inRounds, makeData, median, requireTools, stop, timed, writeResults } from '../lib.mjs';
import { execFileSync } from 'node:child_process';

const [runs = 3, sizeMiB = 1024] = process.argv.slice(2).map(Number);
const work = process.env.BTKIT_BENCH_DIR ?? join(tmpdir(), 'btkit-bench-webseed');
requireTools('bench/webseed', [['nginx', '/usr/sbin/nginx'], ['aria2c', '/usr/bin/aria2c'], ['curl', '/usr/bin/curl'], ['/usr/bin/time', '/usr/bin/time']], 'download');

// --- data, nginx, torrent ----------------------------------------------------------------------
const www = join(work, 'www');
const { path: dataPath, size } = makeData('bench/webseed', www, sizeMiB);
const port = await freePort();
const ngx = join(work, 'nginx');
mkdirSync(join(ngx, 'logs'), { recursive: true });
writeFileSync(
  join(ngx, 'nginx.conf'),
  `daemon off; master_process off; worker_processes 1;
error_log ${ngx}/logs/error.log warn; pid ${ngx}/nginx.pid;
events { worker_connections 256; }
http { access_log off; sendfile on; tcp_nopush on; keepalive_requests 100000; types { } default_type application/octet-stream;
  client_body_temp_path ${ngx}/t1; proxy_temp_path ${ngx}/t2; fastcgi_temp_path ${ngx}/t3; uwsgi_temp_path ${ngx}/t4; scgi_temp_path ${ngx}/t5;
  server { listen 127.0.0.1:${port}; root ${www}; } }
`,
);
const nginx = spawn('/usr/sbin/nginx', ['-p', ngx, '-c', join(ngx, 'nginx.conf'), '-e', join(ngx, 'logs', 'error.log')], { stdio: 'ignore' });
const up = async () => {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise((r) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), r(true)));
      s.once('error', () => r(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('nginx did not start');
};
await up();
const base = `http://127.0.0.1:${port}/`;
const torrent = join(work, 'big-ws.torrent');
execFileSync(process.execPath, [btkitRun, 'create', dataPath, '-o', torrent, '--piece-length', '1MiB', '--web-seed', base, '--force', '--quiet'], { stdio: 'pipe' });
console.error(`bench/webseed: nginx on 127.0.0.1:${port} serving ${sizeMiB} MiB; ${runs} rounds; load: ${execFileSync('uptime', { encoding: 'utf8' }).trim()}`);

// --- the tools ---------------------------------------------------------------------------------
const outDir = join(work, 'out');
const allTools = {
  btkit: () => {
    const { node, extra } = btkitFlags(work);
    return timed(process.execPath, [...node, btkitRun, 'download', torrent, '-o', outDir, '--no-dht', '--port', '0', '--bind', '127.0.0.1', '--quiet', ...extra]);
  },
  aria2c: async () => {
    const p = await freePort();
    return timed('aria2c', [
      '--enable-dht=false', '--enable-dht6=false', '--bt-enable-lpd=false', '--enable-peer-exchange=false', '--disable-ipv6=true', '--async-dns=false',
      '--interface=127.0.0.1', `--listen-port=${p}`, '--seed-time=0', '--file-allocation=none', '--summary-interval=0', '--console-log-level=warn',
      '-d', outDir, torrent,
    ]);
  },
  curl: () => timed('curl', ['-s', '-f', '-o', join(outDir, 'big.bin'), `${base}big.bin`]),
};
const only = (process.env.BENCH_TOOLS ?? '').split(',').filter(Boolean);
const tools = Object.fromEntries(Object.entries(allTools).filter(([name]) => only.length === 0 || only.includes(name)));

const results = Object.fromEntries(Object.keys(tools).map((n) => [n, []]));
try {
  await inRounds(Object.keys(tools), runs, outDir, async (name, round) => {
    const r = await tools[name]();
    const ok = r.ok && identical(dataPath, join(outDir, 'big.bin'));
    results[name].push({ round, ok, wall: r.wall, rssKiB: r.rssKiB, cpu: r.cpu });
    console.error(`round ${round + 1} ${name.padEnd(6)} ${ok ? `${r.wall.toFixed(2)} s  ${(sizeMiB / r.wall).toFixed(0)} MiB/s  rss ${(r.rssKiB / 1024).toFixed(0)} MiB  cpu ${r.cpu.toFixed(2)} s` : `FAILED (exit ${r.code}): ${r.output.slice(-500)}`}`);
  });
} finally {
  process.kill(nginx.pid, 'SIGQUIT');
  await stop(nginx);
  rmSync(outDir, { recursive: true, force: true });
}

// --- report ------------------------------------------------------------------------------------
const summary = {};
for (const [name, rs] of Object.entries(results)) {
  const good = rs.filter((r) => r.ok);
  const wall = median(good.map((r) => r.wall));
  summary[name] = { ok: good.length, runs: rs.length, wall, mibPerS: sizeMiB / wall, rssMiB: median(good.map((r) => r.rssKiB / 1024)), cpu: median(good.map((r) => r.cpu)) };
}
const ratios = {};
if (results.btkit) {
  for (const other of Object.keys(results).filter((n) => n !== 'btkit')) {
    const per = results.btkit.map((b) => {
      const o = results[other].find((r) => r.round === b.round);
      return b.ok && o?.ok ? o.wall / b.wall : NaN;
    });
    // btkit's speed as a fraction of the other's: > 1 is faster.
    ratios[`btkit/${other}`] = { medianOfRounds: median(per), ofMedians: summary[other].wall / summary.btkit.wall, perRound: per };
  }
}
console.log('\ntool    ok  wall(s)  MiB/s  RSS(MiB)  CPU(s)');
for (const [name, s] of Object.entries(summary)) {
  console.log(`${name.padEnd(7)} ${s.ok}/${s.runs} ${s.wall.toFixed(2).padStart(8)} ${s.mibPerS.toFixed(0).padStart(6)} ${s.rssMiB.toFixed(0).padStart(9)} ${s.cpu.toFixed(2).padStart(7)}`);
}
for (const [k, r] of Object.entries(ratios)) console.log(`${k}: ${r.medianOfRounds.toFixed(2)}× (median of rounds), ${r.ofMedians.toFixed(2)}× (of medians)`);
writeResults('webseed', { date: new Date().toISOString(), sizeMiB, size, runs, load: execFileSync('uptime', { encoding: 'utf8' }).trim(), results, summary, ratios });
