// bench/tracker/trackers.mjs — start and stop the trackers the benches compare, on 127.0.0.1, and
// read a process's CPU seconds and peak RSS from /proc. Shared by swarm.mjs and scale.mjs.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, chmodSync, writeFileSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import net from 'node:net';
import dgram from 'node:dgram';
import { createInterface } from 'node:readline';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const opentrackerScript = join(root, 'test', 'lab', 'opentracker.sh');

export function needBuild() {
  if (!existsSync(join(root, 'dist', 'commands', 'tracker.js'))) {
    console.error('bench/tracker: run `npm run build` first');
    process.exit(2);
  }
}
export function needOpentracker() {
  if (!existsSync('/usr/bin/opentracker')) {
    console.error('bench/tracker: opentracker is not installed (apt-get install opentracker)');
    process.exit(2);
  }
}

/** A port free for both TCP and UDP on 127.0.0.1. */
export async function freePort() {
  for (let tries = 0; tries < 50; tries++) {
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
  throw new Error('no free port');
}

/** { cpuS, peakRssMiB, rssMiB } of a live process. */
export function procStats(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime, fields 14 and 15
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (k) => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN);
    return { cpuS: ticks / 100, peakRssMiB: Math.round((kib('VmHWM') / 1024) * 10) / 10, rssMiB: Math.round((kib('VmRSS') / 1024) * 10) / 10 };
  } catch {
    return { cpuS: NaN, peakRssMiB: NaN, rssMiB: NaN };
  }
}

/**
 * `btkit tracker` on one port for HTTP and UDP, open mode, --quiet, the given interval (seconds);
 * `extra` adds flags. Returns { name, port, pid, intervalRange, stop }.
 */
export async function startBtkit({ intervalS = 1800, extra = [], env = {} } = {}) {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [...(process.env.BTKIT_NODE_FLAGS ? process.env.BTKIT_NODE_FLAGS.split(' ') : []), join(root, 'bin', 'run.js'), 'tracker', '--http-port', String(port), '--udp-port', String(port), '--quiet', '--interval', `${intervalS}s`, '--stop-after', '30m', ...extra],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } },
  );
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const lines = createInterface({ input: child.stdout });
  await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('btkit tracker did not start')), 30_000);
    let n = 0;
    lines.on('line', (l) => {
      if (/^(http|udp) /.test(l) && ++n === 2) {
        clearTimeout(t);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`btkit tracker exited (${code})`)));
  });
  return {
    name: 'btkit',
    port,
    pid: child.pid,
    intervalRange: [intervalS, intervalS],
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGINT');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** Debian opentracker with `hashes` (Buffers) whitelisted. Same shape as startBtkit's. */
export async function startOpentracker(hashes) {
  const dir = mkdtempSync(join(tmpdir(), 'btkit-bench-ot-'));
  chmodSync(dir, 0o755);
  writeFileSync(join(dir, 'whitelist'), hashes.map((h) => `${h.toString('hex')}\n`).join(''));
  const port = await freePort();
  execFileSync('bash', [opentrackerScript, 'start', dir, String(port)], { stdio: 'pipe', env: { ...process.env, OT_MAX_SECONDS: '1800' } });
  const wrapper = readFileSync(join(dir, 'pid'), 'utf8').trim();
  // opentracker.sh runs it under `timeout`: the tracker is the wrapper's child.
  const pid = execFileSync('pgrep', ['-P', wrapper]).toString().trim().split('\n')[0];
  return {
    name: 'opentracker',
    port,
    pid,
    // opentracker's interval: 1800 s give or take its random variation.
    intervalRange: [1200, 2400],
    stop: async () => {
      execFileSync('bash', [opentrackerScript, 'stop', dir], { stdio: 'pipe' });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const median = (xs) => {
  const s = xs.filter((x) => x !== null && !Number.isNaN(x)).sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : null;
};

export const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
