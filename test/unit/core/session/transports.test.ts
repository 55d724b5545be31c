/**
 * The connection manager's transport choice (connections.ts, transport/dual.ts) with real TCP and
 * uTP (BEP 29) sockets on 127.0.0.1: two sessions, a seed and a leecher, each with its transports.
 * - uTP only at both ends: the data comes over uTP.
 * - Both at both ends: uTP is dialed first and carries the data; uTP listens on TCP's port number.
 * - A TCP-only seed, a leecher with both: TCP after uTP's head start (the time is reported, not
 *   asserted: a loaded machine says nothing about the code).
 * - A seed with uTP only and a leecher with both: uTP, though TCP is refused.
 * - A peer that dialed us over uTP comes from its listening address: it is not dialed again.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTorrent } from '../../../../src/core/metainfo/create.js';
import type { Metainfo } from '../../../../src/core/metainfo/types.js';
import { Session, type SessionEvent } from '../../../../src/core/session/index.js';
import { FileStore } from '../../../../src/core/storage/file-store.js';
import { makePeerId } from '../../../../src/core/tracker/peer-id.js';
import { type TransportMode, closeTransports, createTransports } from '../../../../src/core/transport/dual.js';
import type { Transport } from '../../../../src/core/transport/types.js';
import { patternBytes } from '../../../helpers/tmp.js';

let root: string;
let meta: Metainfo;
let data: Buffer;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'btkit-transports-'));
  data = patternBytes(512 * 1024 + 9, 'transports');
  await writeFile(join(root, 'f.bin'), data);
  meta = (await createTorrent({ path: join(root, 'f.bin'), pieceLength: 32 * 1024, threads: 1 })).metainfo;
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function collect(session: Session, signal: AbortSignal, events: SessionEvent[]): Promise<unknown> {
  try {
    for await (const ev of session.run(signal)) events.push(ev);
    return undefined;
  } catch (e) {
    return e;
  }
}

type Connected = Extract<SessionEvent, { type: 'peer-connected' }>;

/** A seed with `seedMode` and a leecher with `leechMode`; the leecher is given the seed's address. Returns both ends' events. */
async function swarm(seedMode: TransportMode, leechMode: TransportMode, label: string): Promise<{ seedEvents: SessionEvent[]; leechEvents: SessionEvent[]; seedPort: number; connectMs: number }> {
  const transports: Transport[][] = [createTransports(seedMode), createTransports(leechMode)];
  const seed = new Session({
    metainfo: meta,
    store: FileStore.open(meta, { outDir: root }),
    peerId: makePeerId('-AA0001-'),
    transports: transports[0]!,
    listen: { host: '127.0.0.1', port: 0 },
    trustedComplete: true,
    seed: {},
    pex: false,
  });
  const out = join(root, `out-${label}`);
  const leecher = new Session({
    metainfo: meta,
    store: FileStore.open(meta, { outDir: out }),
    peerId: makePeerId('-ZZ0001-'),
    transports: transports[1]!,
    listen: { host: '127.0.0.1', port: 0 },
    pex: false,
    stallTimeoutMs: 30_000,
  });
  const seedCtl = new AbortController();
  const leechCtl = new AbortController();
  const seedEvents: SessionEvent[] = [];
  const leechEvents: SessionEvent[] = [];
  const seedRun = collect(seed, seedCtl.signal, seedEvents);
  try {
    for (let i = 0; i < 1000 && !seed.listening; i++) await sleep(10);
    const seedPort = seed.listening!.port;
    const leechRun = collect(leecher, leechCtl.signal, leechEvents);
    for (let i = 0; i < 1000 && !leecher.listening; i++) await sleep(10);
    const t0 = performance.now();
    leecher.addPeers('manual', [{ host: '127.0.0.1', port: seedPort }]);
    let connectMs = -1;
    for (let i = 0; i < 3000 && !leechEvents.some((e) => e.type === 'done'); i++) {
      if (connectMs < 0 && leechEvents.some((e) => e.type === 'peer-connected')) connectMs = performance.now() - t0;
      await sleep(10);
    }
    expect(await leechRun).toBeUndefined();
    expect(leechEvents.at(-1)).toMatchObject({ type: 'done', reason: 'complete' });
    expect((await readFile(join(out, 'f.bin'))).equals(data)).toBe(true);
    return { seedEvents, leechEvents, seedPort, connectMs };
  } finally {
    leechCtl.abort();
    seedCtl.abort();
    await seedRun;
    await Promise.all(transports.map(closeTransports));
  }
}

const connected = (events: SessionEvent[]) => events.filter((e): e is Connected => e.type === 'peer-connected');

describe('sessions over real TCP and uTP sockets', () => {
  it('uTP only at both ends: the data comes over uTP', async () => {
    const { leechEvents, seedEvents } = await swarm('utp', 'utp', 'utp-utp');
    expect(connected(leechEvents).map((e) => e.transport)).toEqual(['utp']);
    expect(connected(seedEvents).map((e) => e.transport)).toEqual(['utp']);
  });

  it('both at both ends: uTP is dialed first and carries the data, on the port number TCP has', async () => {
    const { leechEvents, seedEvents, seedPort } = await swarm('both', 'both', 'both-both');
    expect(connected(leechEvents)).toMatchObject([{ transport: 'utp', peer: `127.0.0.1:${seedPort}`, direction: 'outgoing' }]);
    expect(connected(seedEvents)).toMatchObject([{ transport: 'utp', direction: 'incoming' }]);
  });

  it('a TCP-only seed, a leecher with both: TCP after the head start (time reported)', async () => {
    const { leechEvents, connectMs } = await swarm('tcp', 'both', 'tcp-both');
    expect(connected(leechEvents).map((e) => e.transport)).toEqual(['tcp']);
    expect(connectMs).toBeGreaterThan(0);
    console.info(`connect to a TCP-only seed with both transports: ${connectMs.toFixed(0)} ms`);
  });

  it('a uTP-only seed, a leecher with both: uTP', async () => {
    const { leechEvents } = await swarm('utp', 'both', 'utp-both');
    expect(connected(leechEvents).map((e) => e.transport)).toEqual(['utp']);
  });

  it('a peer that dialed us over uTP is not dialed again while connected', async () => {
    // The seed learns the leecher's listening address too (as from a tracker): the leecher's uTP
    // connection comes from that very address, so the seed must not dial it.
    const transports: Transport[][] = [createTransports('both'), createTransports('both')];
    const seed = new Session({ metainfo: meta, store: FileStore.open(meta, { outDir: root }), peerId: makePeerId('-AA0001-'), transports: transports[0]!, listen: { host: '127.0.0.1', port: 0 }, trustedComplete: true, seed: {}, pex: false });
    const out = join(root, 'out-no-redial');
    const leecher = new Session({ metainfo: meta, store: FileStore.open(meta, { outDir: out }), peerId: makePeerId('-ZZ0001-'), transports: transports[1]!, listen: { host: '127.0.0.1', port: 0 }, pex: false, stallTimeoutMs: 30_000, downloadLimit: 64 * 1024 });
    const seedCtl = new AbortController();
    const leechCtl = new AbortController();
    const seedEvents: SessionEvent[] = [];
    const leechEvents: SessionEvent[] = [];
    const runs = [collect(seed, seedCtl.signal, seedEvents), collect(leecher, leechCtl.signal, leechEvents)];
    try {
      for (let i = 0; i < 1000 && !(seed.listening && leecher.listening); i++) await sleep(10);
      leecher.addPeers('manual', [{ host: '127.0.0.1', port: seed.listening!.port }]);
      // (The leecher downloads slowly, so the connection lasts through the check.)
      for (let i = 0; i < 3000 && connected(seedEvents).length === 0; i++) await sleep(10);
      expect(connected(seedEvents)).toMatchObject([{ transport: 'utp', direction: 'incoming', peer: `127.0.0.1:${leecher.listening!.port}` }]);
      seed.addPeers('tracker', [{ host: '127.0.0.1', port: leecher.listening!.port }]);
      // A few of the seed's dial rounds (one a second): none may reach the leecher.
      await sleep(2500);
      expect(connected(seedEvents)).toHaveLength(1);
      expect(connected(leechEvents)).toHaveLength(1);
      expect([...seedEvents, ...leechEvents].filter((e) => e.type === 'peer-dropped' || e.type === 'done')).toEqual([]);
    } finally {
      leechCtl.abort();
      seedCtl.abort();
      await Promise.all(runs);
      await Promise.all(transports.map(closeTransports));
    }
  });
});
