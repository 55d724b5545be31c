/**
 * The fault suite: the session against peers written in the test (test/helpers/fake-peer.ts) on
 * loopback, each misbehaving in one way, usually beside an honest peer. Every download must end
 * with the right bytes on disk, the bad peer dropped or banned, and no crash. No assertion is
 * timed: short timeouts only make the faults show up sooner.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isBtError } from '../../../../src/core/errors.js';
import { createTorrent } from '../../../../src/core/metainfo/create.js';
import type { Metainfo } from '../../../../src/core/metainfo/types.js';
import { Session, type SessionEvent, type SessionOptions } from '../../../../src/core/session/index.js';
import { FileStore } from '../../../../src/core/storage/file-store.js';
import { makePeerId } from '../../../../src/core/tracker/peer-id.js';
import { type FakePeer, type FakePeerOptions, startFakePeer } from '../../../helpers/fake-peer.js';
import { patternBytes } from '../../../helpers/tmp.js';

let root: string;
let meta: Metainfo;
let data: Buffer;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'btkit-faults-'));
  data = patternBytes(1024 * 1024 + 100, 'faults');
  await writeFile(join(root, 'f.bin'), data);
  // 32 KiB pieces: 33 pieces of two 16 KiB blocks each.
  meta = (await createTorrent({ path: join(root, 'f.bin'), pieceLength: 32 * 1024, threads: 1 })).metainfo;
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

interface Run {
  events: SessionEvent[];
  error: unknown;
  out: string;
}

let runs = 0;
async function download(peers: FakePeer[], options: Partial<SessionOptions> = {}, onEvent?: (ev: SessionEvent) => void | Promise<void>): Promise<Run> {
  const out = join(root, `out-${++runs}`);
  const store = FileStore.open(meta, { outDir: out });
  const session = new Session({
    metainfo: meta,
    store,
    peerId: makePeerId('-BK0100-'),
    resumePath: join(out, '.btkit', 'state.resume'),
    stallTimeoutMs: 10_000,
    requestTimeoutMs: 1_000,
    tickMs: 100,
    ...options,
  });
  session.addPeers(
    'manual',
    peers.map((p) => ({ host: '127.0.0.1', port: p.port })),
  );
  const events: SessionEvent[] = [];
  let error: unknown;
  try {
    for await (const ev of session.run()) {
      events.push(ev);
      await onEvent?.(ev);
    }
  } catch (e) {
    error = e;
  }
  return { events, error, out };
}

const fileOf = (r: Run) => readFile(join(r.out, 'f.bin'));
const of = <T extends SessionEvent['type']>(r: Run, type: T) => r.events.filter((e): e is Extract<SessionEvent, { type: T }> => e.type === type);
const keyOf = (p: FakePeer) => `127.0.0.1:${p.port}`;

async function withPeers<T>(list: FakePeerOptions[], fn: (peers: FakePeer[]) => Promise<T>): Promise<T> {
  const peers = await Promise.all(list.map((o) => startFakePeer(o)));
  try {
    return await fn(peers);
  } finally {
    await Promise.all(peers.map((p) => p.close()));
  }
}

describe('session faults', () => {
  it('an honest seeder alone: the file comes out byte-identical', async () => {
    await withPeers([{ meta, data }], async ([honest]) => {
      const r = await download([honest!]);
      expect(r.error).toBeUndefined();
      expect((await fileOf(r)).equals(data)).toBe(true);
      expect(of(r, 'done')[0]).toMatchObject({ reason: 'complete', doneBytes: data.length });
    });
  });

  it('a peer that sends corrupt blocks is banned; its pieces are fetched elsewhere; the data is right', async () => {
    // The honest peer is slow, so the liar certainly delivers some pieces first.
    await withPeers([{ meta, data, corrupt: () => true }, { meta, data, blockDelayMs: 5 }], async ([liar, honest]) => {
      const r = await download([liar!, honest!]);
      expect(r.error).toBeUndefined();
      expect((await fileOf(r)).equals(data)).toBe(true);
      expect(liar!.stats.corrupted).toBeGreaterThan(0);
      expect(of(r, 'piece-failed').length).toBeGreaterThan(0);
      const banned = of(r, 'peer-banned').map((e) => e.peer);
      expect(banned).toContain(keyOf(liar!));
      expect(banned).not.toContain(keyOf(honest!));
      // Banned means never again: one connection to the liar only.
      expect(liar!.stats.connections).toBe(1);
    });
  });

  it('a peer that corrupts one block in two is found block by block, the honest peer is never banned', async () => {
    await withPeers([{ meta, data, corrupt: (_i, begin) => begin === 0 }, { meta, data, blockDelayMs: 5 }], async ([liar, honest]) => {
      const r = await download([liar!, honest!]);
      expect(r.error).toBeUndefined();
      expect((await fileOf(r)).equals(data)).toBe(true);
      const banned = of(r, 'peer-banned').map((e) => e.peer);
      expect(liar!.stats.corrupted).toBeGreaterThan(0);
      expect(banned).toContain(keyOf(liar!));
      expect(banned).not.toContain(keyOf(honest!));
    });
  });

  it('a peer that disconnects midway: its blocks go to the other peer', async () => {
    await withPeers([{ meta, data, disconnectAfterBlocks: 7 }, { meta, data, blockDelayMs: 2 }], async ([flaky, honest]) => {
      const r = await download([flaky!, honest!]);
      expect(r.error).toBeUndefined();
      expect((await fileOf(r)).equals(data)).toBe(true);
      expect(flaky!.stats.blocks).toBeGreaterThan(0);
      expect(of(r, 'peer-dropped').some((e) => e.peer === keyOf(flaky!) && e.reason !== 'session stopped')).toBe(true);
      void honest;
    });
  });

  it('peers that send oversized or malformed messages are dropped, without a crash', async () => {
    const tooLarge = Buffer.from([0x7f, 0xff, 0xff, 0xff, 7]);
    const unknownId = Buffer.from([0, 0, 0, 1, 99]);
    // 33 pieces: a bitfield is 5 bytes. A well-formed one after `have all` is out of place.
    const secondBitfield = Buffer.from([0, 0, 0, 6, 5, 0xff, 0xff, 0xff, 0xff, 0x80]);
    const shortBitfield = Buffer.from([0, 0, 0, 2, 5, 0xff]);
    const badLength = Buffer.from([0, 0, 0, 3, 4, 0, 0]); // `have` must be 5 bytes
    await withPeers(
      [
        { meta, data, garbage: tooLarge },
        { meta, data, garbage: unknownId },
        { meta, data, garbage: secondBitfield },
        { meta, data, garbage: badLength },
        { meta, data, garbage: shortBitfield, fast: false, have: [] },
        { meta, data, blockDelayMs: 1 },
      ],
      async (peers) => {
        const r = await download(peers);
        expect(r.error).toBeUndefined();
        expect((await fileOf(r)).equals(data)).toBe(true);
        const codes = new Map(of(r, 'peer-dropped').map((e) => [e.peer, e.code]));
        expect(codes.get(keyOf(peers[0]!))).toBe('WIRE_MESSAGE_TOO_LARGE');
        expect(codes.get(keyOf(peers[1]!))).toBe('WIRE_UNKNOWN_MESSAGE');
        expect(codes.get(keyOf(peers[2]!))).toBe('WIRE_UNEXPECTED_BITFIELD');
        expect(codes.get(keyOf(peers[3]!))).toBe('WIRE_BAD_LENGTH');
        expect(codes.get(keyOf(peers[4]!))).toBe('WIRE_BAD_BITFIELD');
      },
    );
  });

  it('a peer that never unchokes, alone: the download gives up with NO_PEERS (exit category no-peers)', async () => {
    await withPeers([{ meta, data, neverUnchoke: true }], async ([stubborn]) => {
      const r = await download([stubborn!], { stallTimeoutMs: 1_000 });
      expect(isBtError(r.error)).toBe(true);
      expect(r.error).toMatchObject({ code: 'NO_PEERS', category: 'no-peers' });
      expect(stubborn!.stats.requests).toBe(0);
      expect(of(r, 'done')).toHaveLength(1);
    });
  });

  it('a peer that never unchokes beside an honest one: the download completes', async () => {
    await withPeers([{ meta, data, neverUnchoke: true }, { meta, data }], async ([stubborn, honest]) => {
      const r = await download([stubborn!, honest!]);
      expect(r.error).toBeUndefined();
      expect((await fileOf(r)).equals(data)).toBe(true);
      expect(stubborn!.stats.requests).toBe(0);
    });
  });

  it('a peer that goes silent with our requests: they expire and go to the other peer', async () => {
    await withPeers([{ meta, data, silentAfterBlocks: 3 }, { meta, data, blockDelayMs: 3 }], async ([silent, honest]) => {
      const r = await download([silent!, honest!], { requestTimeoutMs: 300 });
      expect(r.error).toBeUndefined();
      expect((await fileOf(r)).equals(data)).toBe(true);
      void honest;
    });
  });

  it('a seeder killed at 50% with another still up: the download completes from the other', async () => {
    await withPeers([{ meta, data, blockDelayMs: 2 }, { meta, data, blockDelayMs: 2 }], async ([a, b]) => {
      let killed = false;
      const r = await download([a!, b!], {}, async (ev) => {
        if (!killed && ev.type === 'piece-verified' && ev.havePieces >= meta.pieceCount / 2) {
          killed = true;
          await a!.close();
        }
      });
      expect(killed).toBe(true);
      expect(r.error).toBeUndefined();
      expect((await fileOf(r)).equals(data)).toBe(true);
      expect(b!.stats.blocks).toBeGreaterThan(0);
    });
  });

  it('a session that starts complete seeds: another session downloads from it (upload, choking, BEP 6)', async () => {
    // The seeder's data is the original file, where the torrent was made.
    const seedStore = FileStore.open(meta, { outDir: root });
    const seeder = new Session({ metainfo: meta, store: seedStore, peerId: makePeerId('-BK0100-'), listen: { host: '127.0.0.1', port: 0 }, seed: {}, tickMs: 100 });
    const seedEvents: SessionEvent[] = [];
    const ctl = new AbortController();
    const seeding = (async () => {
      try {
        for await (const ev of seeder.run(ctl.signal)) seedEvents.push(ev);
      } catch {
        // aborted at the end of the test
      }
    })();
    try {
      for (let i = 0; i < 200 && !seeder.listening; i++) await new Promise((r) => setTimeout(r, 20));
      const port = seeder.listening!.port;
      expect(seedEvents[0]).toMatchObject({ type: 'started', doneBytes: data.length });
      const r = await download([{ port, stats: { blocks: 0, connections: 0, requests: 0, corrupted: 0 }, close: async () => undefined }]);
      expect(r.error).toBeUndefined();
      expect((await fileOf(r)).equals(data)).toBe(true);
      expect(seeder.stats().uploaded).toBeGreaterThanOrEqual(data.length);
    } finally {
      ctl.abort();
      await seeding;
    }
  });
});
