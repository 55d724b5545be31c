/**
 * The coordinator's small parts, each alone: the traffic totals and limits (traffic.ts), who gets
 * an upload slot between choke rounds (upload-slots.ts), piece waiters (piece-waiters.ts), the
 * stall verdicts (stop-conditions.ts `stallError`), and which addresses enter the book
 * (addresses.ts).
 */
import { describe, expect, it } from 'vitest';
import { BtError } from '../../../../src/core/errors.js';
import { usableEndpoints, yourIp } from '../../../../src/core/session/addresses.js';
import { Choker } from '../../../../src/core/session/choker.js';
import type { Peer } from '../../../../src/core/session/peer.js';
import { PieceWaiters } from '../../../../src/core/session/piece-waiters.js';
import { RateMeter } from '../../../../src/core/session/rate.js';
import { sessionStats } from '../../../../src/core/session/stats.js';
import { stallError } from '../../../../src/core/session/stop-conditions.js';
import { Traffic } from '../../../../src/core/session/traffic.js';
import { CHOKE_ROUND_MS, UploadSlots } from '../../../../src/core/session/upload-slots.js';
import type { Uploader } from '../../../../src/core/session/uploader.js';
import type { Message } from '../../../../src/core/wire/messages.js';

describe('Traffic', () => {
  it('counts received and sent payload per peer and in total, and restarts the stall timer', () => {
    let now = 1000;
    const tr = new Traffic(() => now, {});
    const peer = { down: new RateMeter(now), up: new RateMeter(now), lastDataAt: 0 };
    now = 1500;
    tr.received(peer, 16384);
    tr.sent(peer, 100);
    expect(tr.downloaded).toBe(16384);
    expect(tr.uploaded).toBe(100);
    expect(tr.lastDataAt).toBe(1500);
    expect(peer.lastDataAt).toBe(1500);
    now = 2000;
    tr.sent(peer, 100);
    expect(tr.lastDataAt).toBe(1500); // uploads do not count as data arriving
    tr.restartStallTimer();
    expect(tr.lastDataAt).toBe(2000);
  });

  it('reads at once when unlimited and no disk wait, waits for the disk when it is full', async () => {
    const tr = new Traffic(() => 0, {});
    const signal = new AbortController().signal;
    expect(tr.beforeRead(undefined, signal)).toBeUndefined();
    let released = false;
    const disk = new Promise<void>((r) => setTimeout(() => ((released = true), r()), 5));
    await tr.beforeRead(disk, signal);
    expect(released).toBe(true);
  });

  it('holds reads back once the download limit is spent, until the bucket refills', async () => {
    const tr = new Traffic(() => performance.now(), { download: 1_000_000 });
    const peer = { down: new RateMeter(0), up: new RateMeter(0), lastDataAt: 0 };
    const signal = new AbortController().signal;
    expect(tr.beforeRead(undefined, signal)).toBeUndefined();
    tr.received(peer, 300_000); // the burst is a quarter second's worth: 50 kB over it
    const wait = tr.beforeRead(undefined, signal);
    expect(wait).toBeInstanceOf(Promise);
    await wait;
    expect(tr.downBucket.waitMs()).toBe(0);
  });
});

function slotPeer(name: string, o: { interested: boolean; choking?: boolean; rate?: number }) {
  const sent: Message['type'][] = [];
  const state = { amChoking: o.choking ?? true, peerInterested: o.interested };
  const p = {
    key: name,
    connectedAt: 0,
    up: { rate: () => o.rate ?? 0 },
    down: { rate: () => o.rate ?? 0 },
    wire: {
      state,
      send: (m: Message) => {
        sent.push(m.type);
        if (m.type === 'choke') state.amChoking = true;
        if (m.type === 'unchoke') state.amChoking = false;
        return 'sent';
      },
    },
  };
  return { peer: p as unknown as Peer, sent, state };
}

function fakeUploader() {
  const choked: string[] = [];
  return { uploader: { choked: (p: Peer) => choked.push(p.key) } as unknown as Uploader<Peer>, choked };
}

describe('UploadSlots', () => {
  const rng = () => 0.5;

  it('an interested peer gets a free slot at once, not at the next round; a full house waits', () => {
    const slots = new UploadSlots(new Choker<Peer>({ slots: 2, rng }), null);
    const { uploader } = fakeUploader();
    const a = slotPeer('a', { interested: true });
    const b = slotPeer('b', { interested: true });
    const c = slotPeer('c', { interested: true });
    const all = [a.peer, b.peer, c.peer];
    slots.interested(a.peer, all, uploader);
    slots.interested(b.peer, all, uploader);
    slots.interested(c.peer, all, uploader);
    expect([a.state.amChoking, b.state.amChoking, c.state.amChoking]).toEqual([false, false, true]);
  });

  it('a leaving peer that held a slot hands it to a waiting interested peer', () => {
    const slots = new UploadSlots(new Choker<Peer>({ slots: 1, rng }), null);
    const { uploader } = fakeUploader();
    const gone = slotPeer('gone', { interested: true, choking: false });
    const idle = slotPeer('idle', { interested: false });
    const waiting = slotPeer('waiting', { interested: true });
    slots.refill(gone.peer, [idle.peer, waiting.peer], uploader);
    expect(waiting.sent).toEqual(['unchoke']);
    expect(idle.sent).toEqual([]);
    // A peer that was choked frees nothing.
    const other = slotPeer('other', { interested: true });
    slots.refill(slotPeer('choked', { interested: true }).peer, [other.peer], uploader);
    expect(other.sent).toEqual([]);
  });

  it('rounds run once per CHOKE_ROUND_MS; choked peers are told to the uploader; a seed ranks with the seed choker', () => {
    const seedRounds: number[] = [];
    const seedChoker = {
      round: (cs: readonly { peer: Peer }[]) => {
        seedRounds.push(cs.length);
        return new Set<unknown>([cs[0]!.peer]);
      },
    };
    // Two slots: the fastest by rate, and one optimistic among the rest.
    const slots = new UploadSlots(new Choker<Peer>({ slots: 2, rng }), seedChoker);
    const { uploader, choked } = fakeUploader();
    const fast = slotPeer('fast', { interested: true, rate: 100 });
    const mid = slotPeer('mid', { interested: true, choking: false, rate: 50 });
    const slow = slotPeer('slow', { interested: true, choking: false, rate: 1 });
    const all = [fast.peer, mid.peer, slow.peer];
    slots.tick(all, uploader, false, 0);
    expect(fast.state.amChoking).toBe(false);
    const nowChoked = [mid, slow].filter((x) => x.state.amChoking);
    expect(nowChoked).toHaveLength(1);
    expect(choked).toEqual([nowChoked[0]!.peer.key]);
    slots.tick(all, uploader, true, CHOKE_ROUND_MS - 1);
    expect(seedRounds).toEqual([]); // not due yet
    slots.tick(all, uploader, true, CHOKE_ROUND_MS);
    expect(seedRounds).toEqual([3]);
    expect(fast.state.amChoking).toBe(false); // the seed choker's pick
    expect(mid.state.amChoking && slow.state.amChoking).toBe(true);
  });
});

describe('PieceWaiters', () => {
  it('resolves when the piece is verified, rejects on stop, and on abort', async () => {
    const w = new PieceWaiters();
    const have = new Set<number>();
    const stopped = new BtError('SESSION_STOPPED', 'interrupted', 'stopped');
    const one = w.wait(1, (i) => have.has(i), () => undefined);
    const two = w.wait(2, (i) => have.has(i), () => stopped);
    const ctl = new AbortController();
    const three = w.wait(3, (i) => have.has(i), () => undefined, ctl.signal);
    have.add(1);
    w.verified(1);
    await expect(one).resolves.toBeUndefined();
    ctl.abort();
    await expect(three).rejects.toMatchObject({ category: 'interrupted' });
    w.wakeAll();
    await expect(two).rejects.toBe(stopped);
  });
});

describe('stallError', () => {
  it('names what was missing: the metadata, any data, or more data', () => {
    const seen = { known: 3, connected: 1, downloaded: 0 };
    expect(stallError(30_000, { ...seen, haveMetadata: false })).toMatchObject({ code: 'NO_METADATA', category: 'no-metadata' });
    expect(stallError(30_000, { ...seen, haveMetadata: true })).toMatchObject({ code: 'NO_PEERS', category: 'no-peers' });
    const e = stallError(30_000, { ...seen, haveMetadata: true, downloaded: 5 });
    expect(e).toMatchObject({ code: 'DOWNLOAD_STALLED', category: 'no-peers' });
    expect(e.message).toContain('30 s');
  });
});

describe('addresses', () => {
  it('keeps valid endpoints in normal form and skips ourselves on our port', () => {
    const local = new Set(['127.0.0.1', '::1']);
    const out = usableEndpoints(
      [
        { host: '127.0.0.1', port: 6881 }, // us
        { host: '127.0.0.1', port: 6882 },
        { host: '::ffff:127.0.0.2', port: 6881 },
        { host: '127.0.0.3', port: 0 },
        { host: '127.0.0.4', port: 70000 },
      ],
      local,
      6881,
    );
    expect(out).toEqual([
      { host: '127.0.0.1', port: 6882 },
      { host: '127.0.0.2', port: 6881 },
    ]);
    // Not listening: nothing is "us".
    expect(usableEndpoints([{ host: '127.0.0.1', port: 6881 }], local, 0)).toHaveLength(1);
  });

  it('yourip is the address bytes, or null for a name', () => {
    expect([...yourIp('127.0.0.9')!]).toEqual([127, 0, 0, 9]);
    expect(yourIp('::1')).toHaveLength(16);
    expect(yourIp('example.invalid')).toBeNull();
  });
});

describe('sessionStats', () => {
  const peers = { size: 3, seeds: () => 1 };
  it('before the metadata: no pieces, no ETA; totals and peers from their parts', () => {
    const traffic = new Traffic(() => 0, {});
    traffic.received({ down: new RateMeter(0), up: new RateMeter(0), lastDataAt: 0 }, 500);
    const s = sessionStats({ now: 2500, startedAt: 500, torrent: null, peers, traffic, webSeeds: null, known: 7 });
    expect(s).toMatchObject({ pieces: 0, havePieces: 0, totalBytes: 0, doneBytes: 0, downloaded: 500, peers: 3, seeds: 1, known: 7, webSeeds: 0, elapsedMs: 2000, etaMs: null });
  });

  it('with a torrent: bytes left over the rate give the ETA; done gives 0; web-seed bytes apart', () => {
    let now = 0;
    const traffic = new Traffic(() => now, {});
    const peer = { down: new RateMeter(0), up: new RateMeter(0), lastDataAt: 0 };
    for (now = 0; now <= 4000; now += 250) traffic.received(peer, 250_000); // ~1 MB/s
    const torrent = { meta: { pieceCount: 10 }, picker: { completed: 4 }, wantedBytes: 10_000_000, haveWantedBytes: 4_000_000, assembler: { wasted: 9 } } as unknown as Parameters<typeof sessionStats>[0]['torrent'];
    const s = sessionStats({ now, startedAt: 0, torrent, peers, traffic, webSeeds: { downloaded: 123, active: 1 }, known: 0 });
    expect(s).toMatchObject({ pieces: 10, havePieces: 4, totalBytes: 10_000_000, doneBytes: 4_000_000, wasted: 9, downloadedWebSeed: 123, webSeeds: 1 });
    expect(s.downRate).toBeGreaterThan(0);
    expect(s.etaMs).toBe(Math.round((6_000_000 / s.downRate) * 1000));
    const done = sessionStats({ now, startedAt: 0, torrent: { ...torrent!, haveWantedBytes: 10_000_000 } as typeof torrent, peers, traffic, webSeeds: null, known: 0 });
    expect(done.etaMs).toBe(0);
  });
});
