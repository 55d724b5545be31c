/**
 * The session over the in-memory transport (transport/memory.ts): no sockets, so what is tested
 * is the coordinator and its parts alone — a download from a seed, a download that starts from the
 * infohash alone and gets the metadata from the seed (BEP 9) over the connections it then
 * downloads on, and a metadata-only run. No assertion is timed.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTorrent } from '../../../../src/core/metainfo/create.js';
import { parseTorrent } from '../../../../src/core/metainfo/parse.js';
import type { Metainfo } from '../../../../src/core/metainfo/types.js';
import { Session, type SessionEvent, type SessionOptions } from '../../../../src/core/session/index.js';
import { FileStore } from '../../../../src/core/storage/file-store.js';
import { makePeerId } from '../../../../src/core/tracker/peer-id.js';
import { MemoryNetwork } from '../../../../src/core/transport/memory.js';
import { PeerWire } from '../../../../src/core/wire/peer-wire.js';
import { patternBytes } from '../../../helpers/tmp.js';

let root: string;
let meta: Metainfo;
let data: Buffer;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'btkit-memsession-'));
  data = patternBytes(512 * 1024 + 77, 'memory');
  await writeFile(join(root, 'f.bin'), data);
  meta = (await createTorrent({ path: join(root, 'f.bin'), pieceLength: 32 * 1024, threads: 1 })).metainfo;
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function drain(session: Session, signal?: AbortSignal): Promise<{ events: SessionEvent[]; error: unknown }> {
  const events: SessionEvent[] = [];
  let error: unknown;
  try {
    for await (const ev of session.run(signal)) events.push(ev);
  } catch (e) {
    error = e;
  }
  return { events, error };
}

/** A seed on `net` at 127.0.0.2:6881, listening, running until the returned stop is called. */
async function startSeed(net: MemoryNetwork) {
  const seed = new Session({
    metainfo: meta,
    store: FileStore.open(meta, { outDir: root }),
    peerId: makePeerId('-BK0100-'),
    transports: [net.transport('127.0.0.2')],
    listen: { host: '127.0.0.2', port: 6881 },
    seed: {},
    tickMs: 50,
  });
  const ctl = new AbortController();
  const run = drain(seed, ctl.signal);
  for (let i = 0; i < 500 && !seed.listening; i++) await new Promise((r) => setTimeout(r, 5));
  return {
    seed,
    stop: async () => {
      ctl.abort();
      return run;
    },
  };
}

let outs = 0;
function leecher(net: MemoryNetwork, options: Partial<SessionOptions>): { session: Session; out: string } {
  const out = join(root, `out-${++outs}`);
  const session = new Session({
    peerId: makePeerId('-BK0100-'),
    transports: [net.transport('127.0.0.3')],
    stallTimeoutMs: 20_000,
    tickMs: 50,
    ...options,
  } as SessionOptions);
  session.addPeers('manual', [{ host: '127.0.0.2', port: 6881 }]);
  return { session, out };
}

describe('session over the in-memory transport', () => {
  it('downloads from a seed, byte for byte', async () => {
    const net = new MemoryNetwork();
    const s = await startSeed(net);
    try {
      const out = join(root, 'plain');
      const { session } = leecher(net, { metainfo: meta, store: FileStore.open(meta, { outDir: out }) });
      const r = await drain(session);
      expect(r.error).toBeUndefined();
      expect(r.events.at(-1)).toMatchObject({ type: 'done', reason: 'complete' });
      expect((await readFile(join(out, 'f.bin'))).equals(data)).toBe(true);
      expect(r.events.find((e) => e.type === 'peer-connected')).toMatchObject({ source: 'manual', direction: 'outgoing' });
      // The seed saw the leecher lack pieces, then hold them all: it finished here (issue 13, item 8).
      const seedEvents = (await s.stop()).events;
      expect(seedEvents.filter((e) => e.type === 'peer-complete')).toMatchObject([{ finished: true }]);
    } finally {
      await s.stop();
    }
  });

  it('another seed connecting complete is a peer-complete that did not finish here (seed --until peers-complete counts only finishers)', async () => {
    const net = new MemoryNetwork();
    const s = await startSeed(net);
    try {
      const other = new Session({
        metainfo: meta,
        store: FileStore.open(meta, { outDir: root }),
        peerId: makePeerId('-BK0100-'),
        transports: [net.transport('127.0.0.4')],
        trustedComplete: true,
        seed: { timeMs: 300 },
        tickMs: 50,
      });
      other.addPeers('manual', [{ host: '127.0.0.2', port: 6881 }]);
      const r = await drain(other);
      expect(r.error).toBeUndefined();
      const seedEvents = (await s.stop()).events;
      expect(seedEvents.some((e) => e.type === 'peer-connected')).toBe(true);
      expect(seedEvents.filter((e) => e.type === 'peer-complete' && e.finished)).toHaveLength(0);
    } finally {
      await s.stop();
    }
  });

  it('starts from the infohash alone: fetches the metadata from the seed (BEP 9), then the data over the same connection', async () => {
    const net = new MemoryNetwork();
    const s = await startSeed(net);
    try {
      let out = '';
      let got: Uint8Array | undefined;
      const { session } = leecher(net, {
        infoHash: meta.infoHash.v1!,
        onMetadata: async (info) => {
          got = info;
          const m = parseTorrent(Buffer.concat([Buffer.from('d4:info'), info, Buffer.from('e')]));
          out = join(root, 'magnet');
          return { metainfo: m, store: FileStore.open(m, { outDir: out }) };
        },
      });
      const r = await drain(session);
      expect(r.error).toBeUndefined();
      expect(Buffer.from(got!).equals(meta.infoBytes)).toBe(true);
      const types = r.events.map((e) => e.type);
      expect(types[0]).toBe('metadata-wanted');
      expect(types.indexOf('metadata')).toBeLessThan(types.indexOf('started'));
      expect(r.events.filter((e) => e.type === 'peer-connected')).toHaveLength(1);
      expect(r.events.at(-1)).toMatchObject({ type: 'done', reason: 'complete' });
      expect((await readFile(join(out, 'f.bin'))).equals(data)).toBe(true);
    } finally {
      await s.stop();
    }
  });

  it('a magnet downloader that gets the metadata tells the peers it met before (a new BEP 10 handshake): they fetch it from it', async () => {
    const net = new MemoryNetwork();
    const s = await startSeed(net);
    try {
      const setup = (name: string) => async (info: Uint8Array) => {
        const m = parseTorrent(Buffer.concat([Buffer.from('d4:info'), info, Buffer.from('e')]));
        return { metainfo: m, store: FileStore.open(m, { outDir: join(root, name) }) };
      };
      // A listens and knows nobody yet; B knows only A, and connects while A has no metadata either.
      const a = new Session({ infoHash: meta.infoHash.v1!, peerId: makePeerId('-BK0100-'), transports: [net.transport('127.0.0.5')], listen: { host: '127.0.0.5', port: 6881 }, seed: { timeMs: 60_000 }, stallTimeoutMs: 20_000, tickMs: 50, pex: false, onMetadata: setup('a') });
      const actl = new AbortController();
      const arun = drain(a, actl.signal);
      for (let i = 0; i < 500 && !a.listening; i++) await new Promise((r) => setTimeout(r, 5));
      const b = new Session({ infoHash: meta.infoHash.v1!, peerId: makePeerId('-BK0100-'), transports: [net.transport('127.0.0.6')], stallTimeoutMs: 20_000, tickMs: 50, pex: false, onMetadata: setup('b') });
      b.addPeers('manual', [{ host: '127.0.0.5', port: 6881 }]);
      const brun = drain(b);
      // Let B's connection to A be made (A has no metadata to offer it yet), then give A the seed.
      await new Promise((r) => setTimeout(r, 300));
      a.addPeers('manual', [{ host: '127.0.0.2', port: 6881 }]);
      const rb = await brun;
      actl.abort();
      await arun;
      expect(rb.error).toBeUndefined();
      expect(rb.events.find((e) => e.type === 'metadata')).toMatchObject({ size: meta.infoBytes.length, peers: ['127.0.0.5:6881'] });
      expect((await readFile(join(root, 'b', 'f.bin'))).equals(data)).toBe(true);
    } finally {
      await s.stop();
    }
  });

  it('a metadata-only run ends with reason `metadata` once the info dictionary is checked', async () => {
    const net = new MemoryNetwork();
    const s = await startSeed(net);
    try {
      let calls = 0;
      const { session } = leecher(net, {
        infoHash: meta.infoHash.v1!,
        metadataOnly: true,
        onMetadata: async (info) => {
          calls++;
          const m = parseTorrent(Buffer.concat([Buffer.from('d4:info'), info, Buffer.from('e')]));
          return { metainfo: m, store: FileStore.open(m, { outDir: join(root, 'meta-only') }) };
        },
      });
      const r = await drain(session);
      expect(r.error).toBeUndefined();
      expect(calls).toBe(1);
      expect(r.events.find((e) => e.type === 'metadata')).toMatchObject({ size: meta.infoBytes.length });
      expect(r.events.some((e) => e.type === 'piece-verified')).toBe(false);
      expect(r.events.at(-1)).toMatchObject({ type: 'done', reason: 'metadata' });
    } finally {
      await s.stop();
    }
  });

  it('without any peer that has the metadata, the stall timeout ends it with NO_METADATA and done says failed', async () => {
    const net = new MemoryNetwork();
    const { session } = leecher(net, {
      infoHash: Buffer.alloc(20, 7),
      stallTimeoutMs: 300,
      onMetadata: async () => {
        throw new Error('never called');
      },
    });
    const r = await drain(session);
    expect(r.error).toMatchObject({ code: 'NO_METADATA', category: 'no-metadata' });
    expect(r.events.at(-1)).toMatchObject({ type: 'done', reason: 'failed' });
  });

  describe('peer exchange (BEP 11) and private torrents (BEP 27)', () => {
    /** A seed and two downloaders that know only the seed; does one learn of the other through PEX? */
    async function pexRun(m: Metainfo): Promise<{ aEvents: SessionEvent[]; bEvents: SessionEvent[] }> {
      const net = new MemoryNetwork();
      const seedSession = new Session({ metainfo: m, store: FileStore.open(m, { outDir: root }), peerId: makePeerId('-BK0100-'), transports: [net.transport('127.0.0.2')], listen: { host: '127.0.0.2', port: 6881 }, seed: {}, tickMs: 20, pexIntervalMs: 50, uploadLimit: 256 * 1024 });
      const sctl = new AbortController();
      const srun = drain(seedSession, sctl.signal);
      for (let i = 0; i < 500 && !seedSession.listening; i++) await new Promise((r) => setTimeout(r, 5));
      const leech = (host: string, dir: string) => {
        const session = new Session({ metainfo: m, store: FileStore.open(m, { outDir: join(root, dir) }), peerId: makePeerId('-BK0100-'), transports: [net.transport(host)], listen: { host, port: 6881 }, tickMs: 20, pexIntervalMs: 50, stallTimeoutMs: 20_000 });
        session.addPeers('manual', [{ host: '127.0.0.2', port: 6881 }]);
        return drain(session);
      };
      const [a, b] = await Promise.all([leech('127.0.0.7', `pex-a-${m.private}`), leech('127.0.0.8', `pex-b-${m.private}`)]);
      sctl.abort();
      await srun;
      expect(a.error).toBeUndefined();
      expect(b.error).toBeUndefined();
      return { aEvents: a.events, bEvents: b.events };
    }
    const fromPex = (events: SessionEvent[]) => events.filter((e) => e.type === 'peer-connected' && e.source === 'pex');

    it('two downloaders given only the seed learn of each other through the seed\'s PEX', async () => {
      const r = await pexRun(meta);
      expect(fromPex(r.aEvents).length + fromPex(r.bEvents).length).toBeGreaterThan(0);
    });

    it('a private torrent: no PEX, so they never meet', async () => {
      await writeFile(join(root, 'p.bin'), data);
      const priv = (await createTorrent({ path: join(root, 'p.bin'), pieceLength: 32 * 1024, threads: 1, private: true })).metainfo;
      expect(priv.private).toBe(true);
      const r = await pexRun(priv);
      expect(fromPex(r.aEvents)).toHaveLength(0);
      expect(fromPex(r.bEvents)).toHaveLength(0);
      const keys = [...r.aEvents, ...r.bEvents].filter((e) => e.type === 'peer-connected').map((e) => (e as { peer: string }).peer);
      expect(keys.every((k) => k === '127.0.0.2:6881' || !k.startsWith('127.0.0.7') && !k.startsWith('127.0.0.8'))).toBe(true);
    });
  });

  it('a peer that pushes blocks nobody asked for is counted as waste, then dropped (issue 15, item 3)', async () => {
    const net = new MemoryNetwork();
    // A hostile "seed": it answers the handshake, says it has everything, never unchokes, and
    // sends piece 0's first block again and again.
    const listener = await net.transport('127.0.0.9').listen({ host: '127.0.0.9', port: 6881 });
    let sent = 0;
    const hostile = (async () => {
      for await (const conn of listener) {
        const wire = new PeerWire(conn, { infoHash: meta.infoHash.v1!, peerId: makePeerId('-XX0001-'), pieceCount: meta.pieceCount });
        await wire.handshake({ timeoutMs: 5000 });
        wire.send({ type: 'have-all' });
        const block = data.subarray(0, 16384);
        for (let i = 0; i < 1200 && !wire.closed; i++) {
          wire.send({ type: 'piece', index: 0, begin: 0, block });
          sent++;
          if (i % 50 === 0) await new Promise((r) => setTimeout(r, 1));
        }
        void wire.run({ onMessage: () => undefined }).catch(() => undefined);
        return;
      }
    })();
    const out = join(root, 'unrequested');
    const { session } = leecher(net, { metainfo: meta, store: FileStore.open(meta, { outDir: out }), stallTimeoutMs: 2_000 });
    session.addPeers('manual', [{ host: '127.0.0.9', port: 6881 }]);
    const r = await drain(session);
    await listener.close();
    await hostile;
    const dropped = r.events.find((e) => e.type === 'peer-dropped' && e.peer === '127.0.0.9:6881');
    expect(dropped).toMatchObject({ code: 'PEER_UNREQUESTED_DATA' });
    expect(sent).toBeGreaterThan(1000);
    expect(r.events.at(-1)).toMatchObject({ type: 'done', wasted: expect.any(Number) });
    expect((r.events.at(-1) as { wasted: number }).wasted).toBeGreaterThanOrEqual(1000 * 16384);
  });
});
