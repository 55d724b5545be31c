// bench/tracker/store-mem.mjs — the swarm store's memory at its default global cap: PEERS distinct
// peers (default 1,000,000, DEFAULT_MAX_PEERS) announced over TORRENTS torrents (default 100,000,
// the torrent cap), then as many again, all new, so the cap evicts a million. Reports the heap and
// the process's RSS and peak RSS (VmHWM). In-process, no sockets. (after `npm run build`)
// Usage: node bench/tracker/store-mem.mjs [PEERS] [TORRENTS]
import { readFileSync } from 'node:fs';
import { SwarmStore } from '../../dist/core/tracker/swarm.js';

const [peers = 1_000_000, torrents = 100_000] = process.argv.slice(2).map(Number);
const s = new SwarmStore({ peerTtlMs: 3_600_000 });
const hash = Buffer.alloc(20);
const id = Buffer.alloc(20, 7);
const kib = (k) => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(readFileSync('/proc/self/status', 'utf8'))[1]);
const mib = (n) => Math.round((n / 1024) * 10) / 10;
for (let round = 0; round < 2; round++) {
  for (let p = 0; p < peers; p++) {
    hash.writeUInt32BE((p % torrents) + 1, 0);
    const n = p + round * peers;
    // 127.x.y.z addresses, ports 1024+: every (address, port) distinct.
    s.announceCompact(hash, 0, 4, 0, 0, 0xffff, (0x7f000000 | (n & 0xffffff)) >>> 0, 1024 + (n >>> 24), id, 0, p % 4 !== 0, 2, 30, Buffer.alloc(0), 0);
  }
  globalThis.gc?.();
  console.log(`round ${round + 1}: ${s.totalPeers} peers in ${s.torrentCount} torrents, ${s.evicted} evicted; heap ${mib(process.memoryUsage().heapUsed / 1024)} MiB, array buffers ${mib(process.memoryUsage().arrayBuffers / 1024)} MiB, RSS ${mib(kib('VmRSS'))} MiB, peak RSS ${mib(kib('VmHWM'))} MiB`);
}
