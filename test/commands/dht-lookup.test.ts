/**
 * `btkit dht-lookup` end to end: the built CLI against a private DHT of btkit nodes started in
 * this process on 127.0.0.1. Every run passes --bootstrap, --host 127.0.0.1, --no-ipv6 and a temp
 * --state, and BTKIT_NO_PUBLIC_DHT=1 so a forgotten --bootstrap is a usage error, never a packet
 * to the public routers.
 */
import dgram from 'node:dgram';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encode } from '../../src/core/bencode/index.js';
import type { DhtNode } from '../../src/core/dht/node.js';
import { type RunOptions, ensureBuilt, lines, runClean } from '../helpers/cli.js';
import { closeAll, collect, startNode } from '../unit/core/dht/loopback-nodes.js';

const WITH_PEERS = createHash('sha1').update('dht-lookup: with peers').digest();
const WITHOUT_PEERS = createHash('sha1').update('dht-lookup: nobody').digest();
const PEER_PORTS = [51_001, 51_002, 51_003, 51_004, 51_005];
let nodes: DhtNode[] = [];
let bootstrap: string;
let dir: string;

beforeAll(async () => {
  ensureBuilt();
  dir = await mkdtemp(join(tmpdir(), 'btkit-dht-lookup-'));
  const first = await startNode();
  nodes.push(first);
  for (let i = 1; i < 12; i++) nodes.push(await startNode({ bootstrap: [{ host: '127.0.0.1', port: first.port }] }));
  for (const n of nodes.slice(1)) await n.bootstrap({ timeoutMs: 3_000 });
  for (const [i, port] of PEER_PORTS.entries()) await nodes[3 + i]!.announce(WITH_PEERS, { port, timeoutMs: 3_000 });
  bootstrap = `127.0.0.1:${first.port}`;
}, 120_000);

afterAll(async () => {
  await closeAll(nodes);
  nodes = [];
  await rm(dir, { recursive: true, force: true });
});

let runs = 0;
/** Run dht-lookup with the loopback-only flags (and a fresh state file unless --state is given). */
function dht(args: string[], options: RunOptions = {}) {
  const state = args.includes('--state') ? [] : ['--state', join(dir, `state-${runs++}.json`)];
  const net = args.includes('--bootstrap') ? [] : ['--bootstrap', bootstrap];
  return runClean(['dht-lookup', ...args, ...net, '--host', '127.0.0.1', '--no-ipv6', ...state], {
    ...options,
    env: { BTKIT_NO_PUBLIC_DHT: '1', ...options.env },
  });
}

const ndjson = (stdout: string) => lines(stdout).map((l) => JSON.parse(l) as Record<string, any>);

describe('btkit dht-lookup', () => {
  it('prints the peers, host:port one a line, with a summary on stderr', async () => {
    const r = await dht([WITH_PEERS.toString('hex')]);
    expect(r.code, r.stderr + r.stdout.slice(-500)).toBe(0);
    expect(lines(r.stdout).sort()).toEqual(PEER_PORTS.map((p) => `127.0.0.1:${p}`));
    expect(r.stderr).toMatch(/5 peers; \d+ of \d+ queries answered.*first peer after/);
  });

  it('streams NDJSON events under --json, closed by the envelope', async () => {
    const r = await dht([WITH_PEERS.toString('hex'), '--json']);
    expect(r.code, r.stderr + r.stdout.slice(-500)).toBe(0);
    const events = ndjson(r.stdout);
    const types = new Set(events.map((e) => e.type));
    for (const t of ['query', 'response', 'peer', 'done']) expect(types.has(t), t).toBe(true);
    const peer = events.find((e) => e.type === 'peer')!;
    expect(peer.peer.host).toBe('127.0.0.1');
    expect(peer.from.id).toMatch(/^[0-9a-f]{40}$/);
    const last = events.at(-1)!;
    expect(last).toMatchObject({ ok: true, command: 'dht-lookup', result: { infoHash: WITH_PEERS.toString('hex'), reason: 'complete' } });
    expect(last.result.peers.sort()).toEqual(PEER_PORTS.map((p) => `127.0.0.1:${p}`));
    expect(r.stderr).toBe('');
  });

  it('stops at --max-peers', async () => {
    const r = await dht([WITH_PEERS.toString('hex'), '--max-peers', '2']);
    expect(r.code, r.stderr + r.stdout.slice(-500)).toBe(0);
    expect(lines(r.stdout)).toHaveLength(2);
    expect(r.stderr).toMatch(/--max-peers reached/);
  });

  it('takes a magnet link and a torrent file as well', async () => {
    const info = { length: 3, name: 'x', 'piece length': 16_384, pieces: Buffer.alloc(20) };
    const infoHash = createHash('sha1').update(encode(info)).digest();
    await nodes[5]!.announce(infoHash, { port: 52_000, timeoutMs: 3_000 });
    const torrent = join(dir, 'x.torrent');
    await writeFile(torrent, encode({ info }));
    for (const target of [torrent, `magnet:?xt=urn:btih:${infoHash.toString('hex')}&dn=x`]) {
      const r = await dht([target]);
      expect(r.code, target).toBe(0);
      expect(lines(r.stdout)).toEqual(['127.0.0.1:52000']);
    }
  });

  it('exits 6 when the lookup finds no peers', async () => {
    const r = await dht([WITHOUT_PEERS.toString('hex')]);
    expect(r.code).toBe(6);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/no peers found .*\[DHT_NO_PEERS\]/);
    const j = await dht([WITHOUT_PEERS.toString('hex'), '--json']);
    expect(j.code).toBe(6);
    expect(ndjson(j.stdout).at(-1)).toMatchObject({ ok: false, error: { code: 'DHT_NO_PEERS', category: 'no-peers', exitCode: 6 } });
  });

  it('exits 4 when no node answers', async () => {
    const silent = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
    try {
      const r = await dht([WITH_PEERS.toString('hex'), '--bootstrap', `127.0.0.1:${silent.address().port}`, '--timeout', '1500ms']);
      expect(r.code).toBe(4);
      expect(r.stderr).toMatch(/no DHT node answered .*\[DHT_NO_NODES\]/);
    } finally {
      silent.close();
    }
  });

  it('exits 4 when its UDP port cannot be bound', async () => {
    const taken = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => taken.bind(0, '127.0.0.1', resolve));
    try {
      const r = await dht([WITH_PEERS.toString('hex'), '--port', String(taken.address().port)]);
      expect(r.code).toBe(4);
      expect(r.stderr).toMatch(/\[DHT_BIND_FAILED\]/);
    } finally {
      taken.close();
    }
  });

  it('saves the routing table and starts the next run from it', async () => {
    const state = join(dir, 'warm', 'dht.json');
    const cold = await dht([WITHOUT_PEERS.toString('hex'), '--json', '--state', state]);
    expect(cold.code).toBe(6);
    expect(existsSync(state)).toBe(true);
    const saved = JSON.parse(await readFile(state, 'utf8'));
    expect(saved.nodes.length).toBeGreaterThanOrEqual(8);
    const coldFirst = ndjson(cold.stdout).find((e) => e.type === 'query')!;
    expect(coldFirst.node.id).toBeNull(); // cold: the bootstrap node, id unknown
    const warm = await dht([WITHOUT_PEERS.toString('hex'), '--json', '--state', state]);
    const events = ndjson(warm.stdout);
    expect(events.find((e) => e.type === 'query')!.node.id).toMatch(/^[0-9a-f]{40}$/); // warm: a saved node
    expect(events.filter((e) => e.type === 'query').every((e) => e.node.id !== null)).toBe(true);
    const envelope = events.at(-1)!;
    expect(envelope.error.detail.result.state.loadedNodes).toBe(saved.nodes.length);
    expect(envelope.error.detail.result.node.id).toBe(saved.nodeId); // the same node id across runs
  });

  it('announces itself with --announce so that others find it', async () => {
    const hash = createHash('sha1').update('dht-lookup: announce me').digest();
    const r = await dht([hash.toString('hex'), '--announce', '--announce-port', '53000', '--json']);
    // Nobody else is in that swarm yet, but publishing was the job: success (issue 13 item 12).
    expect(r.code, r.stderr + r.stdout.slice(-500)).toBe(0);
    const events = ndjson(r.stdout);
    expect(events.at(-1)).toMatchObject({ ok: true, result: { peers: [], announce: { port: 53000 } } });
    const announce = events.find((e) => e.type === 'announce')!;
    expect(announce.accepted).toBeGreaterThan(0);
    expect(announce).toMatchObject({ port: 53000, impliedPort: false });
    const { events: found } = await collect(nodes[9]!.lookup(hash, { timeoutMs: 3_000 }));
    expect(found.some((e) => e.type === 'peer' && e.peer.port === 53000)).toBe(true);
  });

  it('--announce in human mode: exit 0 and the summary says it was announced, though no peer was found', async () => {
    const hash = createHash('sha1').update('dht-lookup: announce me, quietly').digest();
    const r = await dht([hash.toString('hex'), '--announce']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^announced port \d+|announced our DHT port/m);
    expect(r.stderr).not.toMatch(/error/);
  });

  it('reports a BEP 33 estimate with --scrape', async () => {
    const r = await dht([WITH_PEERS.toString('hex'), '--scrape', '--json']);
    expect(r.code, r.stderr + r.stdout.slice(-500)).toBe(0);
    const result = ndjson(r.stdout).at(-1)!.result;
    // btkit nodes send no bloom filters, so the estimate comes from their values (BEP 33 legacy).
    expect(result.scrape).toMatchObject({ seeds: 0, peers: 1 }); // five ports, one IP
    const h = await dht([WITH_PEERS.toString('hex'), '--scrape']);
    expect(h.stderr).toMatch(/scrape \(BEP 33\): about 0 seeds and 1 other peer/);
  });

  it('refuses bad usage and bad targets with the documented codes', async () => {
    expect((await dht([WITH_PEERS.toString('hex'), '--announce-port', '1'])).code).toBe(2);
    expect((await dht([WITH_PEERS.toString('hex'), '--seed'])).code).toBe(2);
    // Not a hash, not a magnet link, and no such file: the file-system code (issue 13 item 6).
    expect((await dht(['not-a-hash'])).code).toBe(7);
    expect((await dht(['magnet:?dn=no-hash'])).code).toBe(3);
    const noBootstrap = await runClean(['dht-lookup', WITH_PEERS.toString('hex'), '--host', '127.0.0.1', '--no-ipv6', '--state', join(dir, 'nb.json')], { env: { BTKIT_NO_PUBLIC_DHT: '1' } });
    expect(noBootstrap.code).toBe(2);
    expect(noBootstrap.stderr).toMatch(/BTKIT_NO_PUBLIC_DHT/);
  });
});
