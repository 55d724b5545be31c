/**
 * Acceptance 2: a DHT of 30 btkit nodes on loopback converges (every routing table fills, every
 * node is reachable from the others' lookups) and lookups from every node find an announced peer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import type { DhtNode } from '../../../../src/core/dht/node.js';
import { closeAll, collect, startNode } from './loopback-nodes.js';

const COUNT = 30;
const HASH = createHash('sha1').update('swarm test torrent').digest();
let nodes: DhtNode[] = [];

beforeAll(async () => {
  const first = await startNode();
  nodes.push(first);
  for (let i = 1; i < COUNT; i++) nodes.push(await startNode({ bootstrap: [{ host: '127.0.0.1', port: first.port }] }));
  // Two rounds of find_node(self) (BEP 5 bootstrapping); the second lets the early nodes learn
  // the late ones. Bounded: 2 × 30 lookups of at most 5 s each.
  for (let round = 0; round < 2; round++) for (const n of nodes.slice(1)) await n.bootstrap({ timeoutMs: 5_000 });
}, 120_000);

afterAll(async () => {
  await closeAll(nodes);
  nodes = [];
});

describe(`a DHT of ${COUNT} btkit nodes`, () => {
  it('converges: every routing table holds at least k = 8 nodes', () => {
    const sizes = nodes.map((n) => n.tableSize().v4);
    expect(Math.min(...sizes)).toBeGreaterThanOrEqual(8);
  });

  it('lets every node find a peer announced by one of them', async () => {
    const announcer = nodes[17]!;
    const res = await announcer.announce(HASH, { port: 45_000, timeoutMs: 5_000 });
    expect(res.attempted).toBe(8);
    expect(res.accepted).toBe(8);
    const misses: number[] = [];
    for (const [i, n] of nodes.entries()) {
      if (n === announcer) continue;
      const { events, done } = await collect(n.lookup(HASH, { timeoutMs: 5_000 }));
      if (!events.some((e) => e.type === 'peer' && e.peer.port === 45_000)) misses.push(i);
      expect(done.failed).toBe(0);
    }
    expect(misses).toEqual([]);
  });

  it('converges on the same k closest nodes from every starting point', async () => {
    const target = createHash('sha1').update('another key').digest();
    const truth = nodes
      .map((n) => ({ id: n.nodeId, port: n.port }))
      .sort((a, b) => Buffer.compare(xor(a.id, target), xor(b.id, target)))
      .slice(0, 8)
      .map((n) => n.port);
    for (const n of [nodes[0]!, nodes[9]!, nodes[29]!]) {
      const { done } = await collect(n.lookup(target, { timeoutMs: 5_000 }));
      expect(done.reason).toBe('complete');
      // The true 8 closest, less the node itself (never in its own result), lead the list.
      expect(done.closest.map((c) => c.port).slice(0, 7)).toEqual(truth.filter((p) => p !== n.port).slice(0, 7));
    }
  });
});

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.alloc(20);
  for (let i = 0; i < 20; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}
