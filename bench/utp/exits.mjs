// bench/utp/exits.mjs — no hang (issue 10, acceptance 4): RUNS consecutive pairs (default 20) of
// `btkit seed --transport utp --until peers-complete=1` and `btkit download --transport utp` from
// it, an 8 MiB torrent on 127.0.0.1. Both must exit 0 on their own (each is killed, and counted
// as a hang, after 60 s). Reports for each command the time from the end of its job (download's
// `complete` event, seed's `until`) to the process's exit, as the lines arrive on the pipe: the
// whole stop (goodbyes to peers, the uTP socket closed, the resume state saved) plus Node's exit.
//
// Usage: node bench/utp/exits.mjs [RUNS] [MODE]      (MODE: utp (default), both or tcp)
// Results also go to bench/utp/results/utp-<time>.json (kind: exits).
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { btkitRun, makeData, makeTorrent, median, requireTools, runChild, writeResults } from '../lib.mjs';

const [runsArg = '20', mode = 'utp'] = process.argv.slice(2);
const runs = Number(runsArg);
const work = process.env.BTKIT_BENCH_DIR ?? join(tmpdir(), 'btkit-bench-utp-exits');
requireTools('bench/utp', [], 'seed');
const { path: dataPath } = makeData('bench/utp', join(work, 'seed'), 8);
const torrent = join(work, 'small.torrent');
makeTorrent(dataPath, torrent);
const out = join(work, 'out');
console.error(`bench/utp exits: ${runs} runs of seed + download over ${mode}; load ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);

/** Like lib.mjs's runChild, with the lines readable while it runs: { lines, done }. */
function start(args, timeoutMs) {
  const t0 = performance.now();
  const child = spawn(process.execPath, [btkitRun, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = [];
  let partial = '';
  child.stdout.on('data', (b) => {
    const t = (performance.now() - t0) / 1000;
    const parts = (partial + b.toString()).split('\n');
    partial = parts.pop();
    for (const text of parts) lines.push({ t, text });
  });
  child.stderr.resume();
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const done = new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, wall: (performance.now() - t0) / 1000, lines });
    }),
  );
  return { lines, done, kill: () => child.kill('SIGKILL') };
}

/** Seconds from the line with `"type":"<type>"` (the end of the job: download's complete, seed's until) to the exit (wall is measured at 'close'). */
const tail = (r, type) => {
  const end = r.lines.find((l) => l.text.includes(`"type":"${type}"`));
  return end ? r.wall - end.t : NaN;
};

const rows = [];
for (let i = 0; i < runs; i++) {
  rmSync(out, { recursive: true, force: true });
  const seed = start(['seed', torrent, dataPath, '--transport', mode, '--port', '0', '--host', '127.0.0.1', '--no-dht', '--no-pex', '--skip-verify', '--until', 'peers-complete=1', '--json'], 60_000);
  // The seed's port, from its 'started' event (polled: start() collects the lines).
  const port = await new Promise((resolve, reject) => {
    const t0 = Date.now();
    const poll = setInterval(() => {
      const started = seed.lines.find((l) => l.text.includes('"type":"started"'));
      if (started) {
        clearInterval(poll);
        resolve(JSON.parse(started.text).listen.port);
      } else if (Date.now() - t0 > 30_000) {
        clearInterval(poll);
        reject(new Error('the seed did not start'));
      }
    }, 20);
  }).catch(() => null);
  const dl = port === null ? null : await runChild(process.execPath, [btkitRun, 'download', torrent, '-o', out, '--transport', mode, '--peer', `127.0.0.1:${port}`, '--port', '0', '--bind', '127.0.0.1', '--no-dht', '--no-pex', '--json', '--timeout', '30s'], 60_000);
  if (dl === null) seed.kill();
  const s = await seed.done;
  const row = { run: i + 1, seedCode: s.code, downloadCode: dl?.code ?? null, seedTailMs: tail(s, 'until') * 1000, downloadTailMs: dl ? tail(dl, 'complete') * 1000 : NaN };
  rows.push(row);
  console.error(`run ${String(i + 1).padStart(2)}  seed exit ${row.seedCode} ${row.seedTailMs.toFixed(0).padStart(5)} ms after 'until'      download exit ${row.downloadCode} ${row.downloadTailMs.toFixed(0).padStart(5)} ms after 'complete'`);
}
rmSync(out, { recursive: true, force: true });
const ok = (k) => rows.filter((r) => r[k] === 0).length;
const summary = {
  mode,
  runs,
  seedExited0: ok('seedCode'),
  downloadExited0: ok('downloadCode'),
  seedTailMs: { median: median(rows.map((r) => r.seedTailMs)), max: Math.max(...rows.map((r) => r.seedTailMs)) },
  downloadTailMs: { median: median(rows.map((r) => r.downloadTailMs)), max: Math.max(...rows.map((r) => r.downloadTailMs)) },
};
console.log(`\n${mode}: seed exited 0 on its own ${summary.seedExited0}/${runs}, download ${summary.downloadExited0}/${runs}`);
console.log(`end of the job -> exit (seed: 'until', download: 'complete'): seed median ${summary.seedTailMs.median.toFixed(0)} ms (max ${summary.seedTailMs.max.toFixed(0)}), download median ${summary.downloadTailMs.median.toFixed(0)} ms (max ${summary.downloadTailMs.max.toFixed(0)})`);
writeResults('utp', { kind: 'exits', summary, rows, node: process.version, load: loadavg() });
