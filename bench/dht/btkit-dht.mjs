#!/usr/bin/env node
// A private DHT of btkit nodes on 127.0.0.1 (the built core, dist/core/dht), for demos and
// benchmarks: N nodes bootstrapping off the first, two find_node(self) rounds, optionally one
// peer announced. Prints "NODES 127.0.0.1:P1,…" when ready; runs until SIGINT/SIGTERM or
// --seconds. Never touches the public DHT: every node's bootstrap list is explicit loopback.
//
//   node bench/dht/btkit-dht.mjs [--nodes 30] [--announce HEX40:PORT] [--seconds 600] [--delay MS]
//
// --delay holds every datagram these nodes send for MS milliseconds (a stand-in for network
// latency, which loopback lacks: lookups that differ by a round trip differ by ~1 ms here, by
// 50–300 ms on the Internet). It wraps dgram's send in this process only.
import dgram from 'node:dgram';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { DhtNode } = await import(join(root, 'dist', 'core', 'dht', 'index.js'));
const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '30' },
    announce: { type: 'string' },
    seconds: { type: 'string', default: '600' },
    delay: { type: 'string', default: '0' },
  },
});
const delayMs = Number(values.delay);
if (delayMs > 0) {
  const send = dgram.Socket.prototype.send;
  dgram.Socket.prototype.send = function delayedSend(...args) {
    setTimeout(() => {
      try {
        send.apply(this, args);
      } catch {
        // the socket closed meanwhile
      }
    }, delayMs);
  };
}
const count = Number(values.nodes);
const loopbackOnly = (host) => /^127\./.test(host);
const start = (bootstrap) => DhtNode.start({ bootstrap, host: '127.0.0.1', port: 0, addressFilter: loopbackOnly, queryTimeoutMs: 1000 });

const first = await start([]);
const nodes = [first];
for (let i = 1; i < count; i++) nodes.push(await start([{ host: '127.0.0.1', port: first.port }]));
for (let round = 0; round < 2; round++) for (const n of nodes.slice(1)) await n.bootstrap({ timeoutMs: 5000 });
if (values.announce) {
  const [hex, port] = values.announce.split(':');
  const res = await nodes[nodes.length - 1].announce(hex, { port: Number(port), timeoutMs: 5000 });
  console.log(`ANNOUNCED ${hex} port ${port} to ${res.accepted}/${res.attempted} nodes`);
}
console.log(`NODES ${nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}`);
console.log(`routing-table sizes ${nodes.map((n) => n.tableSize().v4).join(' ')}`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await Promise.all(nodes.map((n) => n.close()));
  console.log('EXIT');
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
setTimeout(stop, Number(values.seconds) * 1000);
