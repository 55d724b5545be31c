// bench/tracker/run.mjs — `btkit tracker` against opentracker under the same UDP announce load, in
// the same run, alternating: RUNS rounds (default 3) of COUNT announces (default 20,000) from PEERS
// distinct peers (default 2,000) over 10 torrents, 128 requests in flight. Reports, per tracker,
// the median requests per second, p50 / p99 latency, lost and wrong answers, and peak RSS of the
// tracker process (VmHWM). Each tracker is started fresh for each round, on 127.0.0.1 only.
//
// Usage: node bench/tracker/run.mjs [RUNS] [COUNT] [PEERS]     (after `npm run build`)
// Needs: opentracker (Debian package). Results also go to bench/results/tracker-<time>.json.
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, chmodSync, writeFileSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import net from 'node:net';
import dgram from 'node:dgram';
import { createInterface } from 'node:readline';
import { udpLoad, infoHashes } from './udp-load.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const [runs = 3, count = 20000, peers = 2000] = process.argv.slice(2).map(Number);
const TORRENTS = 10;
const opentrackerScript = join(root, 'test', 'lab', 'opentracker.sh');
if (!existsSync('/usr/bin/opentracker')) {
  console.error('bench/tracker: opentracker is not installed (apt-get install opentracker)');
  process.exit(2);
}
if (!existsSync(join(root, 'dist', 'commands', 'tracker.js'))) {
  console.error('bench/tracker: run `npm run build` first');
  process.exit(2);
}

async function freePort() {
  for (;;) {
    const srv = net.createServer();
    await new Promise((r) => srv.listen(0, '127.0.0.1', r));
    const port = srv.address().port;
    await new Promise((r) => srv.close(r));
    const sock = dgram.createSocket('udp4');
    const ok = await new Promise((resolve) => {
      sock.once('error', () => resolve(false));
      sock.bind(port, '127.0.0.1', () => resolve(true));
    });
    await new Promise((r) => sock.close(r));
    if (ok) return port;
  }
}

const peakRssKiB = (pid) => {
  try {
    return Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
  } catch {
    return NaN;
  }
};

/** btkit tracker, UDP only, open mode, no per-request log (--quiet). Returns { port, pid, stop }. */
async function startBtkit() {
  const child = spawn(process.execPath, [join(root, 'bin', 'run.js'), 'tracker', '--no-http', '--udp-port', '0', '--quiet', '--interval', '30m', '--stop-after', '10m'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const first = await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('btkit tracker did not start')), 20_000);
    createInterface({ input: child.stdout }).once('line', (l) => {
      clearTimeout(t);
      resolve(l);
    });
  });
  child.stdout.resume();
  const port = Number(/^udp +udp:\/\/127\.0\.0\.1:(\d+)\/announce$/.exec(first)[1]);
  return {
    port,
    pid: child.pid,
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', resolve);
        child.kill('SIGINT');
      }),
  };
}

/** Debian opentracker with the bench's infohashes whitelisted. */
async function startOpentracker() {
  const dir = mkdtempSync(join(tmpdir(), 'btkit-bench-ot-'));
  chmodSync(dir, 0o755);
  writeFileSync(join(dir, 'whitelist'), infoHashes(TORRENTS).map((h) => `${h.toString('hex')}\n`).join(''));
  const port = await freePort();
  execFileSync('bash', [opentrackerScript, 'start', dir, String(port)], { stdio: 'pipe', env: { ...process.env, OT_MAX_SECONDS: '600' } });
  const wrapper = readFileSync(join(dir, 'pid'), 'utf8').trim();
  // opentracker.sh runs it under `timeout`: the tracker is the wrapper's child.
  const pid = execFileSync('pgrep', ['-P', wrapper]).toString().trim().split('\n')[0];
  return {
    port,
    pid,
    stop: async () => {
      execFileSync('bash', [opentrackerScript, 'stop', dir], { stdio: 'pipe' });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const trackers = { btkit: startBtkit, opentracker: startOpentracker };
const results = { btkit: [], opentracker: [] };
for (let r = 1; r <= runs; r++) {
  // Alternate which goes first, so neither always runs on a warmer machine.
  const order = r % 2 === 1 ? ['btkit', 'opentracker'] : ['opentracker', 'btkit'];
  for (const name of order) {
    const t = await trackers[name]();
    try {
      const res = await udpLoad({ port: t.port, count, peers, torrents: TORRENTS });
      res.peakRssMiB = Math.round((peakRssKiB(t.pid) / 1024) * 10) / 10;
      results[name].push(res);
      console.error(`run ${r} ${name.padEnd(11)} ${String(res.rps).padStart(7)} req/s  p50 ${res.p50Us} µs  p99 ${res.p99Us} µs  lost ${res.lost}  wrong ${res.wrong}${res.wrong ? ` ${JSON.stringify(res.wrongReasons)}` : ''}  peak RSS ${res.peakRssMiB} MiB`);
    } finally {
      await t.stop();
    }
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)];
};
const summary = {};
for (const [name, rs] of Object.entries(results)) {
  summary[name] = {
    rps: median(rs.map((x) => x.rps)),
    p50Us: median(rs.map((x) => x.p50Us)),
    p99Us: median(rs.map((x) => x.p99Us)),
    lost: rs.reduce((n, x) => n + x.lost, 0),
    wrong: rs.reduce((n, x) => n + x.wrong, 0),
    peakRssMiB: median(rs.map((x) => x.peakRssMiB)),
  };
}
const ratio = summary.btkit.rps / summary.opentracker.rps;
console.log(`== UDP announces: ${count} from ${peers} peers over ${TORRENTS} torrents, 128 in flight; median of ${runs} runs (lost and wrong: totals)`);
for (const [name, s] of Object.entries(summary)) {
  console.log(`  ${name.padEnd(11)} ${String(s.rps).padStart(7)} req/s   p50 ${String(s.p50Us).padStart(5)} µs   p99 ${String(s.p99Us).padStart(6)} µs   lost ${s.lost}   wrong ${s.wrong}   peak RSS ${s.peakRssMiB} MiB`);
}
console.log(`  btkit / opentracker throughput: ${ratio.toFixed(2)} (target ≥ 0.50, with zero lost and wrong)`);
mkdirSync(join(root, 'bench', 'results'), { recursive: true });
const out = join(root, 'bench', 'results', `tracker-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(out, JSON.stringify({ runs, count, peers, torrents: TORRENTS, summary, ratio, results }, null, 2));
console.log(`  (details: ${out})`);
process.exit(summary.btkit.lost + summary.btkit.wrong === 0 && ratio >= 0.5 ? 0 : 1);
