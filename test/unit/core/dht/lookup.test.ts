/**
 * The iterative lookup (BEP 5 get_peers / find_node) over an in-memory network: convergence,
 * budgets, hostile answers, cancellation, BEP 32 families and the BEP 33 estimate.
 */
import { describe, expect, it } from 'vitest';
import { BtError } from '../../../../src/core/errors.js';
import { bloomInsert, emptyBloom } from '../../../../src/core/dht/bloom.js';
import { encodeCompactNodes } from '../../../../src/core/dht/compact.js';
import { type TraversalOptions, traverse } from '../../../../src/core/dht/lookup.js';
import type { DoneEvent, LookupEvent } from '../../../../src/core/dht/types.js';
import { SimNetwork, idOf, xorCompare } from './sim-network.js';

const SELF = idOf('self');
const HASH = idOf('the torrent');
const PEER = { host: '127.0.0.9', port: 6881 };

async function collect(opts: Partial<TraversalOptions> & Pick<TraversalOptions, 'transport' | 'seeds'>): Promise<{ events: LookupEvent[]; done: DoneEvent }> {
  const events: LookupEvent[] = [];
  for await (const e of traverse({ selfId: SELF, target: HASH, method: 'get_peers', timeoutMs: 5_000, ...opts })) events.push(e);
  const done = events.at(-1);
  if (done?.type !== 'done') throw new Error('the lookup did not end with done');
  return { events, done };
}

describe('lookup over an honest network', () => {
  it('converges on the k closest nodes and finds the stored peer', async () => {
    const net = SimNetwork.honest(200);
    net.store(HASH, PEER);
    const seed = net.nodes.get('127.0.0.1:10000')!;
    const { events, done } = await collect({ transport: net.transport(), seeds: [net.target(seed)] });
    expect(done.reason).toBe('complete');
    expect(done.peers).toBe(1);
    const peerEvents = events.filter((e) => e.type === 'peer');
    expect(peerEvents).toHaveLength(1);
    expect(peerEvents[0]).toMatchObject({ peer: { host: '127.0.0.9', port: 6881, family: 4 } });
    const trueClosest = [...net.nodes.values()].sort(xorCompare(HASH)).slice(0, 8).map((n) => n.port);
    expect(done.closest.map((c) => c.port)).toEqual(trueClosest);
    expect(done.closest.every((c) => c.token)).toBe(true);
    expect(done.queried).toBeLessThan(100); // logarithmic, not a flood
    expect(done.firstPeerMs).not.toBeNull();
    // Every query is followed by exactly one answer or failure.
    expect(events.filter((e) => e.type === 'query').length).toBe(done.queried);
    expect(events.filter((e) => e.type === 'response').length).toBe(done.answered);
  });

  it('hands the closest nodes and their tokens to onClosest (for announce_peer)', async () => {
    const net = SimNetwork.honest(50);
    let got: { port: number; token: string }[] = [];
    await collect({
      transport: net.transport(),
      seeds: [net.target(net.nodes.get('127.0.0.1:10000')!)],
      onClosest: (list) => (got = list.map((x) => ({ port: x.node.port, token: x.token.toString() }))),
    });
    expect(got).toHaveLength(8);
    for (const g of got) expect(g.token).toBe(`tok-${g.port}`);
  });

  it('stops at maxPeers', async () => {
    const net = SimNetwork.honest(100);
    for (let i = 0; i < 20; i++) net.store(HASH, { host: '127.0.0.9', port: 7000 + i });
    const { events, done } = await collect({ transport: net.transport(), seeds: [net.target(net.nodes.get('127.0.0.1:10000')!)], maxPeers: 5 });
    expect(done.reason).toBe('max-peers');
    expect(events.filter((e) => e.type === 'peer')).toHaveLength(5);
  });

  it('stops at maxQueried', async () => {
    const net = SimNetwork.honest(300, { neighbours: 4, random: 2 });
    const { done } = await collect({ transport: net.transport(), seeds: [net.target(net.nodes.get('127.0.0.1:10000')!)], maxQueried: 3, concurrency: 1 });
    expect(done.queried).toBe(3);
    expect(done.reason).toBe('max-queried');
  });

  it('never queries itself or addresses the filter refuses', async () => {
    const net = SimNetwork.honest(30);
    const me = net.add({ id: SELF, host: '127.0.0.1', port: 9999 });
    const outsider = net.add({ id: idOf('outsider'), host: '203.0.113.1', port: 6881 });
    for (const n of net.nodes.values()) if (n !== me) n.known.push(me, outsider);
    await collect({
      transport: net.transport(),
      seeds: [net.target(net.nodes.get('127.0.0.1:10000')!)],
      addressFilter: (host) => host.startsWith('127.'),
      selfAddresses: ['127.0.0.1:9999'],
    });
    const asked = new Set(net.queries.map((q) => q.to));
    expect(asked.has('127.0.0.1:9999')).toBe(false);
    expect(asked.has('203.0.113.1:6881')).toBe(false);
  });

  it('ends with no-nodes when there is nobody to ask', async () => {
    const net = new SimNetwork();
    const { done } = await collect({ transport: net.transport(), seeds: [] });
    expect(done.reason).toBe('no-nodes');
    expect(done.queried).toBe(0);
  });

  it('falls back to the bootstrap nodes when every saved node is dead', async () => {
    const net = SimNetwork.honest(40);
    net.store(HASH, PEER);
    const dead = Array.from({ length: 8 }, (_, i) => ({ host: '127.0.0.2', port: 20_000 + i, family: 4 as const, id: idOf(`dead${i}`) }));
    const { done } = await collect({
      transport: net.transport(),
      seeds: dead,
      fallback: [net.target(net.nodes.get('127.0.0.1:10000')!)],
    });
    expect(done.failed).toBeGreaterThanOrEqual(8);
    expect(done.peers).toBe(1);
  });

  it('runs find_node with a target instead of an infohash', async () => {
    const net = SimNetwork.honest(40);
    await collect({ transport: net.transport(), seeds: [net.target(net.nodes.get('127.0.0.1:10000')!)], method: 'find_node', target: SELF });
    expect(net.queries.every((q) => q.method === 'find_node' && Buffer.isBuffer(q.args.target))).toBe(true);
  });
});

describe('BEP 32: two families', () => {
  it('asks for both node lists and follows nodes6', async () => {
    const net = new SimNetwork();
    const v6 = Array.from({ length: 10 }, (_, i) => net.add({ id: idOf(`v6-${i}`), host: '::1', port: 30_000 + i, family: 6 }));
    const v4 = Array.from({ length: 10 }, (_, i) => net.add({ id: idOf(`v4-${i}`), host: '127.0.0.1', port: 31_000 + i }));
    for (const n of [...v4, ...v6]) n.known = [...v4, ...v6].filter((o) => o !== n);
    [...v6].sort(xorCompare(HASH))[0]!.peers.set(HASH.toString('hex'), [{ host: '::1', port: 6881 }]);
    const { events, done } = await collect({ transport: net.transport([4, 6]), seeds: [net.target(v4[0]!)] });
    expect(net.queries[0]!.args.want).toEqual([Buffer.from('n4'), Buffer.from('n6')]);
    expect(net.queries.some((q) => q.to.startsWith('[::1]'))).toBe(true);
    expect(events.find((e) => e.type === 'peer')).toMatchObject({ peer: { host: '::1', port: 6881, family: 6 } });
    expect(done.closest.filter((c) => c.family === 6)).toHaveLength(8);
    expect(done.closest.filter((c) => c.family === 4)).toHaveLength(8);
  });

  it('does not query a family it has no socket for', async () => {
    const net = new SimNetwork();
    const a = net.add({ id: idOf('a'), host: '127.0.0.1', port: 1000 });
    const b6 = net.add({ id: idOf('b6'), host: '::1', port: 1001, family: 6 });
    a.known = [b6];
    await collect({ transport: net.transport([4]), seeds: [net.target(a)] });
    expect(net.queries.map((q) => q.to)).toEqual(['127.0.0.1:1000']);
    expect(net.queries[0]!.args.want).toBeUndefined();
  });
});

describe('hostile and dead nodes', () => {
  it('ends by its time budget when every node is silent', async () => {
    const net = new SimNetwork(1, 60_000); // queries never time out on their own
    const liar = net.add({
      id: idOf('liar'), host: '127.0.0.1', port: 1000,
      respond: () => ({
        id: idOf('liar'),
        nodes: encodeCompactNodes(Array.from({ length: 8 }, (_, i) => ({ id: idOf(`ghost${i}`), host: '127.0.0.1', port: 2000 + i })), 4),
      }),
    });
    const { done } = await collect({ transport: net.transport(), seeds: [net.target(liar)], timeoutMs: 300, slowMs: 50 });
    expect(done.reason).toBe('timeout');
    expect(done.answered).toBe(1);
    // Slow queries gave up their slot, so every ghost among the 8 closest was tried within the
    // budget (7 or 8 of them, depending on where the liar itself ranks)…
    expect(done.queried).toBeGreaterThanOrEqual(8);
    expect(net.aborted).toBe(done.queried - 1); // …and every one was cancelled at the end
  });

  it('survives garbage in replies and reports it', async () => {
    const net = SimNetwork.honest(30);
    net.store(HASH, PEER);
    const garbage = net.add({
      id: idOf('garbage'), host: '127.0.0.1', port: 1000,
      respond: () => ({ id: idOf('garbage'), nodes: Buffer.alloc(27, 0xee), nodes6: 12, values: [Buffer.alloc(3), 'x', null], token: 5, BFsd: Buffer.alloc(7) }),
    });
    const { events, done } = await collect({ transport: net.transport(), seeds: [net.target(garbage), net.target(net.nodes.get('127.0.0.1:10000')!)] });
    const resp = events.find((e) => e.type === 'response' && e.node.port === 1000);
    expect(resp).toMatchObject({ type: 'response', nodes: 0, values: 0 });
    expect((resp as { problems?: string[] }).problems?.length).toBeGreaterThanOrEqual(3);
    expect(done.reason).toBe('complete');
    expect(done.peers).toBe(1);
  });

  it('bounds a huge list of fake nodes by maxQueried and the time budget', async () => {
    const net = new SimNetwork(1, 30);
    const fakes = Array.from({ length: 2500 }, (_, i) => ({ id: idOf(`fake${i}`), host: '127.0.0.1', port: 3000 + i }));
    const flood = net.add({ id: idOf('flood'), host: '127.0.0.1', port: 1000, respond: () => ({ id: idOf('flood'), nodes: encodeCompactNodes(fakes, 4) }) });
    const { done } = await collect({ transport: net.transport(), seeds: [net.target(flood)], timeoutMs: 2_000, maxQueried: 40 });
    // readReply keeps 16 nodes per reply, so the flood costs at most 16 dead queries.
    expect(done.queried).toBeLessThanOrEqual(17);
    expect(done.reason).toBe('complete');
    expect(done.answered).toBe(1);
  });

  it('counts a node answering with another id as failed', async () => {
    const net = new SimNetwork();
    const a = net.add({ id: idOf('a'), host: '127.0.0.1', port: 1000 });
    const b = net.add({ id: idOf('b'), host: '127.0.0.1', port: 1001 });
    a.respond = () => ({ id: idOf('a'), nodes: encodeCompactNodes([{ id: idOf('claimed'), host: b.host, port: b.port }], 4) });
    const { events } = await collect({ transport: net.transport(), seeds: [net.target(a)] });
    expect(events.find((e) => e.type === 'failure')).toMatchObject({ reason: 'unexpected-id', node: { port: 1001 } });
  });
});

describe('cancellation', () => {
  it('throws an interrupted BtError on abort and cancels queries in flight', async () => {
    const net = new SimNetwork(1, 60_000);
    const silent = Array.from({ length: 4 }, (_, i) => net.add({ id: idOf(`s${i}`), host: '127.0.0.1', port: 1000 + i, respond: () => 'silent' as const }));
    const controller = new AbortController();
    const it = traverse({ transport: net.transport(), selfId: SELF, target: HASH, method: 'get_peers', seeds: silent.map((s) => net.target(s)), signal: controller.signal, timeoutMs: 60_000 });
    const seen: LookupEvent[] = [];
    setTimeout(() => controller.abort(), 30);
    const err = await (async () => {
      try {
        for await (const e of it) seen.push(e);
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(err).toBeInstanceOf(BtError);
    expect((err as BtError).category).toBe('interrupted');
    expect(seen.filter((e) => e.type === 'query')).toHaveLength(4);
    expect(net.aborted).toBe(4);
  });

  it('cancels queries when the consumer stops reading', async () => {
    const net = new SimNetwork(1, 60_000);
    const silent = Array.from({ length: 3 }, (_, i) => net.add({ id: idOf(`s${i}`), host: '127.0.0.1', port: 1000 + i, respond: () => 'silent' as const }));
    for await (const e of traverse({ transport: net.transport(), selfId: SELF, target: HASH, method: 'get_peers', seeds: silent.map((s) => net.target(s)) })) {
      if (e.type === 'query') break;
    }
    expect(net.aborted).toBe(3);
  });
});

describe('BEP 33 scrape', () => {
  it('sends scrape=1 and estimates seeds and peers from the union of the filters', async () => {
    const net = SimNetwork.honest(60);
    const seeds = emptyBloom();
    const downloaders = emptyBloom();
    for (let i = 0; i < 30; i++) bloomInsert(seeds, Buffer.from([10, 0, 1, i]));
    for (let i = 0; i < 100; i++) bloomInsert(downloaders, Buffer.from([10, 0, 2, i]));
    const closest = [...net.nodes.values()].sort(xorCompare(HASH)).slice(0, 4);
    // Each of the four closest holds a part; the union is the whole swarm.
    closest.forEach((n, i) => {
      const s = emptyBloom();
      const p = emptyBloom();
      for (let j = i; j < 30; j += 4) bloomInsert(s, Buffer.from([10, 0, 1, j]));
      for (let j = i; j < 100; j += 4) bloomInsert(p, Buffer.from([10, 0, 2, j]));
      n.filters = { bfsd: Buffer.from(s), bfpe: Buffer.from(p) };
    });
    const { events, done } = await collect({ transport: net.transport(), seeds: [net.target(net.nodes.get('127.0.0.1:10000')!)], scrape: true });
    // The walk asks without scrape (libtorrent answers a scrape with filters instead of values);
    // then one scrape=1 round goes to the 8 closest nodes that answered.
    const scrapes = net.queries.filter((q) => q.args.scrape === 1);
    expect(scrapes.map((q) => q.to).sort()).toEqual(done.closest.map((c) => `127.0.0.1:${c.port}`).sort());
    expect(net.queries.slice(0, -8).every((q) => q.args.scrape === undefined)).toBe(true);
    expect(events.filter((e) => e.type === 'query').length).toBe(done.queried);
    expect(events.filter((e) => e.type === 'response').length).toBe(done.answered);
    expect(done.scrape?.nodes).toBe(4);
    expect(Math.abs(done.scrape!.seeds - 30)).toBeLessThanOrEqual(2);
    expect(Math.abs(done.scrape!.peers - 100)).toBeLessThanOrEqual(5);
  });

  it('counts plain values as peers when a node sends no filters (legacy responses)', async () => {
    const net = SimNetwork.honest(30);
    for (let i = 0; i < 5; i++) net.store(HASH, { host: `127.0.1.${i + 1}`, port: 6881 });
    const { done } = await collect({ transport: net.transport(), seeds: [net.target(net.nodes.get('127.0.0.1:10000')!)], scrape: true });
    expect(done.scrape).toMatchObject({ seeds: 0, peers: 5 });
  });

  it('has no estimate when no scrape was asked', async () => {
    const net = SimNetwork.honest(10);
    const { done } = await collect({ transport: net.transport(), seeds: [net.target(net.nodes.get('127.0.0.1:10000')!)] });
    expect(done.scrape).toBeUndefined();
    expect(net.queries.every((q) => q.args.scrape === undefined)).toBe(true);
  });
});

describe('BEP 33 scrape round', () => {
  it('keeps the peers of nodes that answer a scrape with filters only (as libtorrent does)', async () => {
    const net = SimNetwork.honest(40);
    net.store(HASH, PEER);
    const bloom = emptyBloom();
    bloomInsert(bloom, Buffer.from([127, 0, 0, 9]));
    for (const n of net.nodes.values()) {
      const honest = n;
      n.respond = (method, args) => {
        const r = (net as unknown as { answer(n: unknown, m: string, a: unknown): Record<string, unknown> }).answer(honest, method, args);
        if (args.scrape) {
          delete r.values; // libtorrent: filters instead of values
          if (honest.peers.size) r.BFsd = Buffer.from(bloom);
        }
        return r;
      };
    }
    const { events, done } = await collect({ transport: net.transport(), seeds: [net.target(net.nodes.get('127.0.0.1:10000')!)], scrape: true });
    expect(events.some((e) => e.type === 'peer' && e.peer.port === 6881)).toBe(true);
    expect(done.scrape).toMatchObject({ seeds: 1, peers: 0 });
  });

  it('skips the scrape round when the walk ran out of time', async () => {
    const net = new SimNetwork(1, 60_000);
    const silent = net.add({ id: idOf('s'), host: '127.0.0.1', port: 1000, respond: () => 'silent' as const });
    const { done } = await collect({ transport: net.transport(), seeds: [net.target(silent)], scrape: true, timeoutMs: 100 });
    expect(done.reason).toBe('timeout');
    expect(net.queries.filter((q) => q.args.scrape === 1)).toHaveLength(0);
    expect(done.scrape).toMatchObject({ seeds: 0, peers: 0, nodes: 0 });
  });
});
