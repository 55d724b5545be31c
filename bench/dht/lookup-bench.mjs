#!/usr/bin/env node
// DHT lookup figures, btkit vs libtorrent, on 127.0.0.1 only (acceptance 4 and 5 of the DHT issue).
//
//   npm run build && node bench/dht/lookup-bench.mjs [--rounds 7] [--json out.json]
//
// Scenario A, "lt8": a private DHT of 8 libtorrent nodes (test/lab/lt_dht.py serve) and a libtorrent
// seeder announcing into it (test/lab/lt_seed_dht.py: lt_seed.py --dht with libtorrent's per-IP
// DHT rate limits lifted, as every lab node shares 127.0.0.1). Each round runs, in rotating order:
//   btkit cold  `btkit dht-lookup` with a fresh --state file (starts from the bootstrap node)
//   btkit warm  `btkit dht-lookup` with the state file the previous warm run saved
//   btkit JIT-warm  a fresh btkit node in a process whose code V8 has already compiled
//               (bench/dht/inprocess.mjs): the lookup without process start-up and JIT warm-up
//   libtorrent  bench/dht/lt_dht_timed.py: a fresh libtorrent session's dht_get_peers
// Scenario B, "btkit30": a DHT of 30 btkit nodes (bench/dht/btkit-dht.mjs) with one announced
// peer: btkit cold vs warm only, once as is and once with every datagram of the DHT nodes held
// --delays ms (default 0,25): loopback has no latency, so a saved round trip is otherwise ~1 ms.
//
// Figures, each a median over the rounds: time from the start of the lookup to the first peer and
// to its end (btkit: the `done` event, all 8 closest answered; libtorrent: its DHT log's
// "get_peers DONE"), and wall time of the whole process. Both lookup clients are read-only DHT
// nodes (BEP 43), so neither leaves dead entries in the lab nodes' tables between rounds.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import dgram from 'node:dgram';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const LAB = join(ROOT, 'test', 'lab');
const PY = '/usr/bin/python3';
const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '7' }, json: { type: 'string' }, 'only-lt8': { type: 'boolean' }, delays: { type: 'string', default: '0,25' } },
});
const ROUNDS = Number(values.rounds);

const children = [];
function start(cmd, args) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = [];
  let buf = '';
  const onData = (b) => {
    buf += b.toString();
    const parts = buf.split('\n');
    buf = parts.pop();
    lines.push(...parts);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  children.push(child);
  return {
    child,
    lines,
    async waitFor(re, ms) {
      const end = Date.now() + ms;
      while (Date.now() < end) {
        const hit = lines.find((l) => re.test(l));
        if (hit) return hit;
        if (child.exitCode !== null) break;
        await sleep(100);
      }
      throw new Error(`${args[0]}: no ${re} within ${ms} ms:\n${lines.join('\n')}`);
    },
  };
}

/** Run to completion; resolves {code, stdout, stderr, wallMs}. */
function run(cmd, args, timeoutMs = 30_000) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, BTKIT_NO_PUBLIC_DHT: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => (stdout += b));
    child.stderr.on('data', (b) => (stderr += b));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, wallMs: performance.now() - t0 });
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => {
  const s = xs.filter((x) => typeof x === 'number').sort((a, b) => a - b);
  if (s.length === 0) return null;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function freeBase(count) {
  for (;;) {
    const base = 20_000 + Math.floor(Math.random() * 40_000);
    const socks = [];
    let ok = true;
    for (let p = base; p < base + count && ok; p++) {
      const s = dgram.createSocket('udp4');
      ok = await new Promise((resolve) => {
        s.once('error', () => resolve(false));
        s.bind(p, '127.0.0.1', () => resolve(true));
      });
      socks.push(s);
    }
    for (const s of socks) {
      try {
        s.close();
      } catch {
        // never bound
      }
    }
    if (ok) return base;
  }
}

async function btkitLookup(hash, bootstrap, statePath) {
  const r = await run(process.execPath, [
    join(ROOT, 'bin', 'run.js'), 'dht-lookup', hash, '--json', '--bootstrap', bootstrap, '--host', '127.0.0.1', '--no-ipv6', '--timeout', '5s', '--state', statePath,
  ]);
  const events = r.stdout.split('\n').filter(Boolean).flatMap((l) => {
    try {
      return [JSON.parse(l)];
    } catch {
      return [];
    }
  });
  const done = events.find((e) => e.type === 'done');
  const failures = events.filter((e) => e.type === 'failure').map((e) => `${e.node.host}:${e.node.port} ${e.reason}`);
  return {
    ok: r.code === 0, firstPeerMs: done?.firstPeerMs ?? null, doneMs: done?.elapsedMs ?? null, queried: done?.queried ?? null, wallMs: r.wallMs, failures,
    ...(r.code !== 0 ? { exit: r.code, stderr: r.stderr.trim().split('\n').slice(-3).join(' | ') } : {}),
  };
}

async function btkitInProcess(hash, bootstrap, expect) {
  const r = await run(process.execPath, [join(ROOT, 'bench', 'dht', 'inprocess.mjs'), '--bootstrap', bootstrap, '--hash', hash, '--expect', expect]);
  const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
  const j = line ? JSON.parse(line) : {};
  return { ok: j.ok === true, firstPeerMs: j.firstPeerMs ?? null, doneMs: j.doneMs ?? null, queried: j.queried ?? null, wallMs: null };
}

async function ltLookup(hash, bootstrap, expect, port) {
  const r = await run(PY, [join(ROOT, 'bench', 'dht', 'lt_dht_timed.py'), '--bootstrap', bootstrap, '--info-hash', hash, '--expect', expect, '--port', String(port), '--timeout', '10']);
  const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
  const j = line ? JSON.parse(line) : {};
  return { ok: j.ok === true, firstPeerMs: j.firstPeerMs ?? null, doneMs: j.doneMs ?? null, readyMs: j.readyMs ?? null, wallMs: r.wallMs, port };
}

function summarize(name, rows) {
  return {
    name,
    runs: rows.length,
    ok: rows.filter((r) => r.ok).length,
    firstPeerMs: median(rows.map((r) => r.firstPeerMs)),
    doneMs: median(rows.map((r) => r.doneMs)),
    wallMs: median(rows.map((r) => r.wallMs)),
    ...(rows[0]?.queried !== undefined ? { queried: median(rows.map((r) => r.queried)) } : {}),
    ...(rows[0]?.readyMs !== undefined ? { readyMs: median(rows.map((r) => r.readyMs)) } : {}),
  };
}

const fmt = (x) => (x === null ? '—' : x < 10 ? x.toFixed(2) : x.toFixed(1));
function table(title, rows) {
  console.log(`\n${title}`);
  console.log('  tool              ok   first peer ms   done ms   wall ms   queries');
  for (const r of rows) console.log(`  ${r.name.padEnd(16)} ${`${r.ok}/${r.runs}`.padStart(4)}   ${fmt(r.firstPeerMs).padStart(13)}   ${fmt(r.doneMs).padStart(7)}   ${fmt(r.wallMs).padStart(7)}   ${r.queried ?? '—'}`);
}

const dir = mkdtempSync(join(tmpdir(), 'btkit-dht-bench-'));
chmodSync(dir, 0o755);
const results = { date: new Date().toISOString(), rounds: ROUNDS, scenarios: {} };
try {
  // ---- Scenario A: 8 libtorrent nodes + libtorrent seeder ----
  const base = await freeBase(40);
  const lab = start(PY, [join(LAB, 'lt_dht.py'), 'serve', '--nodes', '8', '--base-port', String(base), '--seconds', '1800',
    '--set', 'dht_block_ratelimit=100000', '--set', 'dht_upload_rate_limit=100000000']);
  const nodes = (await lab.waitFor(/^NODES /, 60_000)).slice(6).split(',');
  const bootstrap = nodes[0];
  results.ports = { lab: nodes, seeder: base + 10, libtorrentFrom: base + 20 };
  mkdirSync(join(dir, 'data'));
  writeFileSync(join(dir, 'data', 'file.bin'), randomBytes(256 * 1024));
  const torrent = join(dir, 'file.torrent');
  const created = await run(PY, [join(LAB, 'lt_create.py'), join(dir, 'data', 'file.bin'), torrent, '--piece-kib', '16', '--tracker', '']);
  const hash = (created.stdout + created.stderr).match(/infohash=([0-9a-f]{40})/)[1];
  const seedPort = base + 10;
  const seeder = start(PY, [join(LAB, 'lt_seed_dht.py'), torrent, join(dir, 'data'), '--port', String(seedPort), '--no-tracker', '--dht', nodes.slice(0, 2).join(','), '--seconds', '1800']);
  await seeder.waitFor(/^READY /, 30_000);
  const expect = `127.0.0.1:${seedPort}`;
  // Warm-up: wait until the seeder's announce is in; it also creates the warm state file.
  const warmState = join(dir, 'warm.json');
  for (let i = 0; i < 30; i++) {
    if ((await btkitLookup(hash, bootstrap, warmState)).ok) break;
    await sleep(1000);
  }
  const rows = { cold: [], warm: [], inproc: [], lt: [] };
  let ltPort = base + 20;
  for (let round = 0; round < ROUNDS; round++) {
    const order = ['cold', 'warm', 'inproc', 'lt'];
    for (let i = 0; i < round % 4; i++) order.push(order.shift());
    for (const which of order) {
      if (which === 'cold') rows.cold.push(await btkitLookup(hash, bootstrap, join(dir, `cold-${round}.json`)));
      if (which === 'warm') rows.warm.push(await btkitLookup(hash, bootstrap, warmState));
      if (which === 'inproc') rows.inproc.push(await btkitInProcess(hash, bootstrap, expect));
      if (which === 'lt') rows.lt.push(await ltLookup(hash, bootstrap, expect, ltPort++));
    }
    process.stderr.write(`lt8 round ${round + 1}/${ROUNDS}\n`);
  }
  const a = [summarize('btkit cold', rows.cold), summarize('btkit warm', rows.warm), summarize('btkit JIT-warm', rows.inproc), summarize('libtorrent', rows.lt)];
  results.scenarios.lt8 = { summary: a, raw: rows };
  table(`8 libtorrent nodes + libtorrent seeder, medians of ${ROUNDS} (lookup-relative times; wall = whole process)`, a);
  const ltRow = a[3];
  console.log('  btkit JIT-warm: a fresh node (cold routing table) in a process that already ran lookups (bench/dht/inprocess.mjs)');
  console.log(`  libtorrent session ready (table has a node) after a median ${fmt(ltRow.readyMs)} ms, not in its lookup times`);
  for (const c of children.splice(0)) c.kill('SIGTERM');
  await sleep(1000);

  // ---- Scenario B: 30 btkit nodes ----
  if (values['only-lt8']) throw Object.assign(new Error('done'), { skip: true });
  for (const delay of values.delays.split(',').map(Number)) {
    const hashB = randomBytes(20).toString('hex');
    const dhtB = start(process.execPath, [join(ROOT, 'bench', 'dht', 'btkit-dht.mjs'), '--nodes', '30', '--announce', `${hashB}:45000`, '--seconds', '1800', '--delay', String(delay)]);
    const nodesB = (await dhtB.waitFor(/^NODES /, 180_000)).slice(6).split(',');
    const warmB = join(dir, `warmB-${delay}.json`);
    await btkitLookup(hashB, nodesB[0], warmB);
    const rowsB = { cold: [], warm: [] };
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 ? ['warm', 'cold'] : ['cold', 'warm'];
      for (const which of order) {
        if (which === 'cold') rowsB.cold.push(await btkitLookup(hashB, nodesB[0], join(dir, `coldB-${delay}-${round}.json`)));
        else rowsB.warm.push(await btkitLookup(hashB, nodesB[0], warmB));
      }
      process.stderr.write(`btkit30 delay ${delay} round ${round + 1}/${ROUNDS}\n`);
    }
    const b = [summarize('btkit cold', rowsB.cold), summarize('btkit warm', rowsB.warm)];
    results.scenarios[`btkit30-delay${delay}`] = { summary: b, raw: rowsB };
    table(`30 btkit nodes, one announced peer, ${delay ? `every reply held ${delay} ms, ` : ''}medians of ${ROUNDS}`, b);
    dhtB.child.kill('SIGTERM');
    await sleep(500);
  }
} catch (err) {
  if (!err.skip) throw err;
} finally {
  for (const c of children) c.kill('SIGTERM');
  await sleep(500);
  rmSync(dir, { recursive: true, force: true });
}
if (values.json) writeFileSync(values.json, `${JSON.stringify(results, null, 1)}\n`);
process.exit(0);
