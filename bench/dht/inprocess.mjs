#!/usr/bin/env node
// One btkit lookup measured inside a warmed-up process: two throwaway btkit nodes first run 100
// lookups between themselves (so V8 has compiled and optimised the code paths), then a *fresh* node, knowing
// only --bootstrap, looks --hash up. Separates the lookup itself from process start and JIT
// warm-up, which the CLI figures include. Prints one JSON line {firstPeerMs, doneMs, queried}.
//
//   node bench/dht/inprocess.mjs --bootstrap 127.0.0.1:7001 --hash HEX40 --expect 127.0.0.1:6881
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { DhtNode } = await import(join(root, 'dist', 'core', 'dht', 'index.js'));
const { values } = parseArgs({ options: { bootstrap: { type: 'string' }, hash: { type: 'string' }, expect: { type: 'string' } } });
const loopbackOnly = (host) => /^127\./.test(host);
const opts = { host: '127.0.0.1', readOnly: true, addressFilter: loopbackOnly };

const a = await DhtNode.start({ ...opts, bootstrap: [] });
const b = await DhtNode.start({ ...opts, bootstrap: [{ host: '127.0.0.1', port: a.port }] });
for (let i = 0; i < 100; i++) {
  const key = Buffer.alloc(20, i);
  if (i % 10 === 0) await b.announce(key, { port: 1000 + i, timeoutMs: 2000 });
  for await (const _ of b.lookup(key, { timeoutMs: 2000 })) {
    // warm-up only
  }
}
await Promise.all([a.close(), b.close()]);

const [host, port] = values.bootstrap.split(':');
const node = await DhtNode.start({ ...opts, bootstrap: [{ host, port: Number(port) }] });
let firstPeerMs = null;
let done = null;
for await (const e of node.lookup(values.hash, { timeoutMs: 5000 })) {
  if (e.type === 'peer' && firstPeerMs === null && `${e.peer.host}:${e.peer.port}` === values.expect) firstPeerMs = e.atMs;
  if (e.type === 'done') done = e;
}
await node.close();
console.log(JSON.stringify({ firstPeerMs, doneMs: done?.elapsedMs ?? null, queried: done?.queried ?? null, ok: firstPeerMs !== null }));
