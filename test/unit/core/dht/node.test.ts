/**
 * The DHT node on real loopback sockets: the explicit-bootstrap rule, lookups and announces
 * between btkit nodes (BEP 5), IPv6 over ::1 (BEP 32), state export/import, bind errors.
 */
import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { encode, decode, isDict, isBytes } from '../../../../src/core/bencode/index.js';
import { BtError } from '../../../../src/core/errors.js';
import { decodeCompactNodes } from '../../../../src/core/dht/compact.js';
import { DhtNode } from '../../../../src/core/dht/node.js';
import { closeAll, collect, startNode } from './loopback-nodes.js';

const HASH = Buffer.alloc(20, 0x42);
let nodes: DhtNode[] = [];
afterEach(async () => {
  await closeAll(nodes);
  nodes = [];
});
const track = (n: DhtNode) => (nodes.push(n), n);

/** A chain of `count` nodes, each bootstrapping from the first, then each bootstrap()ed once. */
async function smallDht(count: number, extra: Parameters<typeof startNode>[0] = {}): Promise<DhtNode[]> {
  const first = track(await startNode(extra));
  const rest: DhtNode[] = [];
  for (let i = 1; i < count; i++) rest.push(track(await startNode({ ...extra, bootstrap: [{ host: '127.0.0.1', port: first.port }] })));
  for (const n of rest) await n.bootstrap({ timeoutMs: 3_000 });
  return [first, ...rest];
}

/** One KRPC query from a raw socket; resolves the decoded reply or null after `ms`. */
function rawQuery(port: number, message: Record<string, unknown>, host = '127.0.0.1', ms = 1000): Promise<Map<string, unknown> | null> {
  return new Promise((resolve) => {
    const sock = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    const timer = setTimeout(() => {
      sock.close();
      resolve(null);
    }, ms);
    sock.on('message', (msg) => {
      clearTimeout(timer);
      sock.close();
      const v = decode(msg, { mode: 'lenient' }).value;
      resolve(isDict(v) ? (v as Map<string, unknown>) : null);
    });
    sock.send(encode(message as never), port, host);
  });
}

describe('DhtNode', () => {
  it('refuses to start without an explicit bootstrap list', async () => {
    const err = await DhtNode.start({} as never).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BtError);
    expect((err as BtError).code).toBe('DHT_BOOTSTRAP_REQUIRED');
    const err2 = await DhtNode.start({ bootstrap: undefined } as never).catch((e: unknown) => e);
    expect((err2 as BtError).code).toBe('DHT_BOOTSTRAP_REQUIRED');
  });

  it('reports a port in use as a network error', async () => {
    const a = track(await startNode());
    const err = await startNode({ port: a.port }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BtError);
    expect((err as BtError).code).toBe('DHT_BIND_FAILED');
    expect((err as BtError).category).toBe('network');
  });

  it('announces and finds a peer across a small DHT', async () => {
    const dht = await smallDht(6);
    const announcer = dht[2]!;
    const res = await announcer.announce(HASH, { port: 51413, timeoutMs: 3_000 });
    expect(res.accepted).toBeGreaterThan(0);
    expect(res.accepted).toBe(res.attempted);
    const seeker = track(await startNode({ bootstrap: [{ host: '127.0.0.1', port: dht[0]!.port }] }));
    const { events, done } = await collect(seeker.lookup(HASH, { timeoutMs: 3_000 }));
    expect(events.some((e) => e.type === 'peer' && e.peer.host === '127.0.0.1' && e.peer.port === 51413)).toBe(true);
    expect(done.reason).toBe('complete');
    expect(done.peers).toBe(1);
    // The nodes that answered went into the seeker's routing table.
    expect(seeker.tableSize().v4).toBeGreaterThanOrEqual(done.answered - 1);
  });

  it('announces with implied_port as its own DHT port', async () => {
    const dht = await smallDht(4);
    const res = await dht[1]!.announce(HASH, { timeoutMs: 3_000 });
    expect(res).toMatchObject({ impliedPort: true, port: 0 });
    const { events } = await collect(dht[3]!.lookup(HASH, { timeoutMs: 3_000 }));
    expect(events.some((e) => e.type === 'peer' && e.peer.port === dht[1]!.port)).toBe(true);
  });

  it('answers find_node with at most 8 nodes (BEP 5), not its whole table', async () => {
    const dht = await smallDht(12);
    const reply = await rawQuery(dht[0]!.port, { t: Buffer.from('xy'), y: 'q', q: 'find_node', a: { id: Buffer.alloc(20, 9), target: Buffer.alloc(20, 1) } });
    const r = reply?.get('r') as Map<string, unknown>;
    const nodesField = r.get('nodes') as Uint8Array;
    expect(decodeCompactNodes(nodesField, 4).nodes.length).toBe(8);
  });

  it('exports its table and id, and a node started from them looks up warm', async () => {
    const dht = await smallDht(6);
    await dht[3]!.announce(HASH, { port: 6000, timeoutMs: 3_000 });
    const cold = track(await startNode({ bootstrap: [{ host: '127.0.0.1', port: dht[0]!.port }] }));
    const coldRun = await collect(cold.lookup(HASH, { timeoutMs: 3_000 }));
    const state = cold.exportState();
    expect(state.nodeId).toBe(cold.nodeId.toString('hex'));
    expect(state.nodes.length).toBeGreaterThanOrEqual(5);
    await cold.close();
    const warm = track(await startNode({ bootstrap: [{ host: '127.0.0.1', port: dht[0]!.port }], nodeId: Buffer.from(state.nodeId, 'hex'), nodes: state.nodes }));
    expect(warm.nodeId.toString('hex')).toBe(state.nodeId);
    const warmRun = await collect(warm.lookup(HASH, { timeoutMs: 3_000 }));
    expect(warmRun.done.peers).toBe(1);
    // Warm, the first round already goes to the closest nodes: no bootstrap round trip.
    const firstQueried = warmRun.events.find((e) => e.type === 'query');
    expect(firstQueried?.type === 'query' && firstQueried.node.id).not.toBeNull();
    expect(coldRun.events.find((e) => e.type === 'query')).toMatchObject({ node: { id: null, port: dht[0]!.port } });
  });

  it('keeps working when the bootstrap name cannot be resolved, with a warning', async () => {
    const n = track(await startNode({ bootstrap: [{ host: 'no-such-host.invalid', port: 6881 }], resolve: async () => { throw new Error('ENOTFOUND'); } }));
    expect(n.warnings.join('\n')).toMatch(/no-such-host\.invalid/);
    const { done } = await collect(n.lookup(HASH, { timeoutMs: 1_000 }));
    expect(done.reason).toBe('no-nodes');
  });

  it('runs BEP 33 scrapes against nodes that do not support them (legacy values)', async () => {
    const dht = await smallDht(5);
    await dht[1]!.announce(HASH, { port: 7000, timeoutMs: 3_000 });
    const { done } = await collect(dht[4]!.lookup(HASH, { timeoutMs: 3_000, scrape: true }));
    expect(done.scrape).toMatchObject({ seeds: 0, peers: 1 });
  });
});

describe('DhtNode over IPv6 (BEP 32)', () => {
  it('binds ::1 as well, answers want=n6 with nodes6 and finds IPv6 peers', async () => {
    const opts = { host6: '::1' };
    const first = track(await startNode(opts));
    expect(first.addresses().map((a) => a.family)).toEqual([4, 6]);
    const v6port = first.addresses()[1]!.port;
    const others: DhtNode[] = [];
    for (let i = 0; i < 4; i++) others.push(track(await startNode({ ...opts, bootstrap: [{ host: '::1', port: v6port }] })));
    for (const n of others) await n.bootstrap({ timeoutMs: 3_000 });
    expect(first.tableSize().v6).toBe(4);
    // A raw v4 query with want=n6 gets IPv6 nodes back.
    const reply = await rawQuery(first.port, { t: Buffer.from('xy'), y: 'q', q: 'find_node', a: { id: Buffer.alloc(20, 9), target: Buffer.alloc(20, 1), want: [Buffer.from('n6')] } });
    const r = reply?.get('r') as Map<string, unknown>;
    expect(isBytes(r.get('nodes6') as Uint8Array)).toBe(true);
    expect(decodeCompactNodes(r.get('nodes6') as Uint8Array, 6).nodes.every((n) => n.host === '::1')).toBe(true);
    expect(r.get('nodes')).toBeUndefined();
    // An IPv6 announce is stored as an 18-byte peer and found by another node.
    const res = await others[0]!.announce(HASH, { port: 6881, timeoutMs: 3_000 });
    expect(res.accepted).toBeGreaterThan(0);
    const { events } = await collect(others[3]!.lookup(HASH, { timeoutMs: 3_000 }));
    expect(events.some((e) => e.type === 'peer' && e.peer.host === '::1' && e.peer.port === 6881 && e.peer.family === 6)).toBe(true);
  });

  it('runs IPv4-only, with a warning, when the IPv6 address cannot be bound', async () => {
    const n = track(await startNode({ host6: '2001:db8::1' }));
    expect(n.addresses().map((a) => a.family)).toEqual([4]);
    expect(n.warnings.join('\n')).toMatch(/IPv6 DHT disabled/);
  });
});

describe('BEP 43 read-only nodes', () => {
  it('a read-only node sends ro=1 and stays out of the routing tables of the nodes it asks', async () => {
    const dht = await smallDht(5);
    const before = dht.map((n) => n.tableSize().v4);
    const ro = track(await startNode({ bootstrap: [{ host: '127.0.0.1', port: dht[0]!.port }], readOnly: true }));
    const { done } = await collect(ro.lookup(HASH, { timeoutMs: 3_000 }));
    expect(done.answered).toBeGreaterThanOrEqual(4);
    expect(dht.map((n) => n.tableSize().v4)).toEqual(before);
    // A normal node doing the same is added.
    const rw = track(await startNode({ bootstrap: [{ host: '127.0.0.1', port: dht[0]!.port }] }));
    await collect(rw.lookup(HASH, { timeoutMs: 3_000 }));
    expect(dht.map((n) => n.tableSize().v4).reduce((a, b) => a + b)).toBeGreaterThan(before.reduce((a, b) => a + b));
  });

  it('a read-only node can still announce', async () => {
    const dht = await smallDht(4);
    const ro = track(await startNode({ bootstrap: [{ host: '127.0.0.1', port: dht[0]!.port }], readOnly: true }));
    const res = await ro.announce(HASH, { port: 6999, timeoutMs: 3_000 });
    expect(res.accepted).toBeGreaterThan(0);
    const { events } = await collect(dht[2]!.lookup(HASH, { timeoutMs: 3_000 }));
    expect(events.some((e) => e.type === 'peer' && e.peer.port === 6999)).toBe(true);
  });
});

describe('DhtNode routing-table helpers', () => {
  it('ping() adds a node that answers (for BEP 5 PORT messages) and returns its id', async () => {
    const a = track(await startNode());
    const b = track(await startNode());
    expect(a.tableSize().v4).toBe(0);
    expect(await a.ping('127.0.0.1', b.port)).toBe(b.nodeId.toString('hex'));
    expect(a.tableSize().v4).toBe(1);
    const silent = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
    try {
      expect(await a.ping('127.0.0.1', silent.address().port)).toBeNull();
    } finally {
      silent.close();
    }
    expect(a.tableSize().v4).toBe(1);
  });

  it('keeps saved IPv6 nodes in its state when it runs IPv4 only', async () => {
    const saved = [
      { id: '11'.repeat(20), host: '::1', port: 7000 },
      { id: '22'.repeat(20), host: '127.0.0.1', port: 7001 },
    ];
    const n = track(await startNode({ nodes: saved }));
    expect(n.tableSize()).toEqual({ v4: 1, v6: 0 });
    expect(n.exportState().nodes).toEqual([saved[1], saved[0]]);
  });
});
