/**
 * The connection manager's handshake policy, through two sessions over the in-memory transport.
 *
 * Two peers that learn of each other at the same moment (the same PEX message from a common peer)
 * dial each other at once. Each end then holds an incoming connection when its own dial's
 * handshake arrives; refusing that dial as a duplicate at both ends closes both connections, and
 * the next attempts, on the same back-off schedule, can collide again. The rule both ends apply
 * the same way (libtorrent's): keep the connection dialed by the peer with the lower peer id.
 *
 * The clock is held still, so nothing is retried: the first attempt must give a connection.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTorrent } from '../../../../src/core/metainfo/create.js';
import type { Metainfo } from '../../../../src/core/metainfo/types.js';
import { keepsNew } from '../../../../src/core/session/connections.js';
import { Session, type SessionEvent } from '../../../../src/core/session/index.js';
import { FileStore } from '../../../../src/core/storage/file-store.js';
import { makePeerId } from '../../../../src/core/tracker/peer-id.js';
import { MemoryNetwork } from '../../../../src/core/transport/memory.js';
import { patternBytes } from '../../../helpers/tmp.js';

let root: string;
let meta: Metainfo;
let data: Buffer;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'btkit-conns-'));
  data = patternBytes(256 * 1024 + 5, 'simultaneous-open');
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

describe('keepsNew: the connection dialed by the lower peer id is kept, the same at both ends', () => {
  const low = Buffer.from('-AA0001-aaaaaaaaaaaa');
  const high = Buffer.from('-ZZ0001-zzzzzzzzzzzz');
  it('each end, seeing the other end\'s connection second, decides alike', () => {
    // low dialed A, high dialed B. At low: A (outgoing) arrives while B is held, or B (incoming) while A is.
    expect(keepsNew('outgoing', low, high)).toBe(true); // at low: keep A
    expect(keepsNew('incoming', low, high)).toBe(false); // at low: refuse B
    expect(keepsNew('incoming', high, low)).toBe(true); // at high: keep A (dialed by low)
    expect(keepsNew('outgoing', high, low)).toBe(false); // at high: refuse B
  });
});

describe('two peers dialing each other at once', () => {
  // Both orders of peer ids: the lower id is the seed's, then the leecher's.
  for (const [seedPrefix, leechPrefix] of [
    ['-AA0001-', '-ZZ0001-'],
    ['-ZZ0001-', '-AA0001-'],
  ] as const) {
    it(`keep exactly one connection, the same at both ends (seed ${seedPrefix}, leecher ${leechPrefix})`, async () => {
      const net = new MemoryNetwork();
      const frozen = performance.now();
      const now = () => frozen;
      const seed = new Session({
        metainfo: meta,
        store: FileStore.open(meta, { outDir: root }),
        peerId: makePeerId(seedPrefix),
        transports: [net.transport('127.0.0.2')],
        listen: { host: '127.0.0.2', port: 6881 },
        trustedComplete: true,
        seed: {},
        pex: false,
        tickMs: 20,
        now,
      });
      const out = join(root, `out-${seedPrefix}`);
      const leecher = new Session({
        metainfo: meta,
        store: FileStore.open(meta, { outDir: out }),
        peerId: makePeerId(leechPrefix),
        transports: [net.transport('127.0.0.3')],
        listen: { host: '127.0.0.3', port: 6881 },
        pex: false,
        stallTimeoutMs: 0,
        tickMs: 20,
        now,
      });
      const seedCtl = new AbortController();
      const leechCtl = new AbortController();
      const seedEvents: SessionEvent[] = [];
      const leechEvents: SessionEvent[] = [];
      const seedRun = collect(seed, seedCtl.signal, seedEvents);
      const leechRun = collect(leecher, leechCtl.signal, leechEvents);
      try {
        for (let i = 0; i < 400 && !(seed.listening && leecher.listening); i++) await sleep(10);
        expect(seed.listening && leecher.listening).toBeTruthy();
        // The same moment for both: each dials the other.
        seed.addPeers('pex', [{ host: '127.0.0.3', port: 6881 }]);
        leecher.addPeers('pex', [{ host: '127.0.0.2', port: 6881 }]);
        // Bounded: with the clock still, a failed first attempt is never retried.
        for (let i = 0; i < 500 && !leechEvents.some((e) => e.type === 'done'); i++) await sleep(10);
        expect(leechEvents.at(-1)).toMatchObject({ type: 'done', reason: 'complete' });
        expect((await readFile(join(out, 'f.bin'))).equals(data)).toBe(true);
        // The data came over the connection dialed by the lower peer id, at both ends.
        const seedDialed = seedPrefix < leechPrefix;
        const carried = leechEvents.filter((e) => e.type === 'peer-dropped' && e.downloaded > 0);
        expect(carried).toHaveLength(1);
        const connectedAtLeecher = leechEvents.filter((e) => e.type === 'peer-connected');
        const kept = connectedAtLeecher.filter((e) => e.type === 'peer-connected' && e.peer === (carried[0] as { peer: string }).peer);
        expect(kept).toMatchObject([{ direction: seedDialed ? 'incoming' : 'outgoing' }]);
        // One end closed the other connection in its favour (the collision did happen).
        const replaced = [...leechEvents, ...seedEvents].filter((e) => e.type === 'peer-dropped' && e.reason.startsWith('a connection in the other direction replaces it'));
        expect(replaced).toHaveLength(1);
      } finally {
        leechCtl.abort();
        seedCtl.abort();
        await Promise.all([seedRun, leechRun]);
      }
    });
  }
});
