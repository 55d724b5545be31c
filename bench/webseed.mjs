#!/usr/bin/env node
// Bench (not a test): fetch one file through WebSeed from a loopback nginx, against `curl` of the
// same file from the same nginx, alternating, medians of N. Uses the built dist/.
//   node bench/webseed.mjs [MiB=512] [runs=3] [pieceKiB=512] [inFlight=4]
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, openSync, writeSync, closeSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomFillSync } from 'node:crypto';
import { WebSeed } from '../dist/core/webseed/index.js';

const [mib = 512, runs = 3, pieceKiB = 512, inFlight = 4] = process.argv.slice(2).map(Number);
const dir = mkdtempSync(join(tmpdir(), 'btkit-bench-ws-'));
const www = join(dir, 'www');
mkdirSync(www);
const total = mib * 1024 * 1024;
const fd = openSync(join(www, 'big.bin'), 'w');
const chunk = Buffer.alloc(8 << 20);
for (let done = 0; done < total; done += chunk.length) writeSync(fd, randomFillSync(chunk), 0, Math.min(chunk.length, total - done));
closeSync(fd);

const port = await new Promise((resolve) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => {
    const p = s.address().port;
    s.close(() => resolve(p));
  });
});
mkdirSync(join(dir, 'logs'));
writeFileSync(join(dir, 'nginx.conf'), `daemon off; master_process off; worker_processes 1;
error_log ${dir}/logs/error.log warn; pid ${dir}/nginx.pid;
events { worker_connections 256; }
http { access_log off; sendfile on; tcp_nopush on; keepalive_requests 100000;
  client_body_temp_path ${dir}/t1; proxy_temp_path ${dir}/t2; fastcgi_temp_path ${dir}/t3; uwsgi_temp_path ${dir}/t4; scgi_temp_path ${dir}/t5;
  server { listen 127.0.0.1:${port}; root ${www}; } }`);
const nginx = spawn('/usr/sbin/nginx', ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'logs/error.log')], { stdio: 'ignore' });
for (let i = 0; i < 100; i++) {
  const ok = await new Promise((r) => net.connect(port, '127.0.0.1').once('connect', function () { this.destroy(); r(true); }).once('error', () => r(false)));
  if (ok) break;
  await new Promise((r) => setTimeout(r, 50));
}
const url = `http://127.0.0.1:${port}/big.bin`;
const layout = { name: 'big.bin', multiFile: false, files: [{ path: ['big.bin'], length: total, offset: 0, padding: false }] };
const pieceLength = pieceKiB * 1024;

async function viaWebSeed() {
  const seed = new WebSeed({ url, layout, pieceLength, totalLength: total, maxInFlight: inFlight });
  const t = performance.now();
  const pieces = Math.ceil(total / pieceLength);
  let next = 0;
  let bytes = 0;
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (next < pieces) {
      const piece = await seed.fetchPiece(next++);
      bytes += piece.length;
    }
  }));
  const s = (performance.now() - t) / 1000;
  seed.close();
  if (bytes !== total) throw new Error(`got ${bytes} of ${total}`);
  return s;
}
function viaCurl() {
  const t = performance.now();
  execFileSync('curl', ['-s', '-o', '/dev/null', url]);
  return (performance.now() - t) / 1000;
}
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const ws = [];
const curl = [];
try {
  for (let i = 0; i < runs; i++) {
    curl.push(viaCurl());
    ws.push(await viaWebSeed());
  }
} finally {
  process.kill(nginx.pid, 'SIGQUIT');
  rmSync(dir, { recursive: true, force: true });
}
const rate = (s) => `${(mib / s).toFixed(0)} MiB/s`;
console.log(JSON.stringify({ mib, runs, pieceKiB, inFlight, webseed: ws.map((s) => +s.toFixed(3)), curl: curl.map((s) => +s.toFixed(3)) }));
console.log(`WebSeed ${rate(median(ws))} (median ${median(ws).toFixed(2)} s) · curl ${rate(median(curl))} (median ${median(curl).toFixed(2)} s) · ratio ${(median(curl) / median(ws)).toFixed(2)}× curl`);
