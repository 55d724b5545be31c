import { describe, expect, it } from 'vitest';
import { SwarmStore, type SwarmAnnounce } from '../../../../src/core/tracker/swarm.js';

const IH = Buffer.alloc(20, 1);
const IH2 = Buffer.alloc(20, 2);
const id = (n: number) => Buffer.from(`-XX0001-${String(n).padStart(12, '0')}`);

function store(opts: { ttl?: number; maxNumWant?: number; maxTorrents?: number } = {}) {
  let now = 1_000_000;
  const s = new SwarmStore({ now: () => now, random: () => 0, peerTtlMs: opts.ttl ?? 60_000, maxNumWant: opts.maxNumWant ?? 200, ...(opts.maxTorrents ? { maxTorrents: opts.maxTorrents } : {}) });
  return { s, advance: (ms: number) => (now += ms) };
}

const ann = (n: number, extra: Partial<SwarmAnnounce> = {}): SwarmAnnounce => ({
  infoHash: IH,
  peerId: id(n),
  ip: '127.0.0.1',
  port: 1000 + n,
  left: 100n,
  event: 'started',
  families: 'both',
  ...extra,
});

describe('SwarmStore', () => {
  it('counts seeders and leechers and never returns the asking peer', () => {
    const { s } = store();
    expect(s.announce(ann(1))).toEqual({ complete: 0, incomplete: 1, downloaded: 0, peers: [] });
    s.announce(ann(2, { left: 0n }));
    const r = s.announce(ann(3));
    expect(r).toMatchObject({ complete: 1, incomplete: 2 });
    expect(r.peers.map((p) => p.port).sort()).toEqual([1001, 1002]);
    expect(s.scrape(IH)).toEqual({ complete: 1, incomplete: 2, downloaded: 0 });
    expect(s.scrape(IH2)).toEqual({ complete: 0, incomplete: 0, downloaded: 0 });
  });
  it('identifies a peer by address and port: a re-announce updates it, and a leecher that finishes becomes a seeder', () => {
    const { s } = store();
    s.announce(ann(1));
    s.announce(ann(1, { peerId: id(99), left: 0n, event: 'completed' }));
    expect(s.scrape(IH)).toEqual({ complete: 1, incomplete: 0, downloaded: 1 });
    expect(s.totalPeers).toBe(1);
    s.announce(ann(1, { left: 5n, event: 'none' }));
    expect(s.scrape(IH)).toMatchObject({ complete: 0, incomplete: 1 });
  });
  it('removes a peer on stopped and answers it with no peers', () => {
    const { s } = store();
    s.announce(ann(1));
    s.announce(ann(2));
    expect(s.announce(ann(1, { event: 'stopped' }))).toEqual({ complete: 0, incomplete: 1, downloaded: 0, peers: [] });
    expect(s.announce(ann(3)).peers.map((p) => p.port)).toEqual([1002]);
    expect(s.announce(ann(7, { infoHash: IH2, event: 'stopped' }))).toMatchObject({ incomplete: 0 });
    expect(s.torrentCount).toBe(1);
  });
  it('honours numwant, the default and the cap', () => {
    const { s } = store({ maxNumWant: 5 });
    for (let i = 0; i < 80; i++) s.announce(ann(i, { numWant: 0 }));
    expect(s.announce(ann(100, { numWant: 3 })).peers).toHaveLength(3);
    expect(s.announce(ann(100, { numWant: 1000 })).peers).toHaveLength(5);
    expect(s.announce(ann(100, { numWant: undefined })).peers).toHaveLength(5);
    expect(s.announce(ann(100, { numWant: 0 })).peers).toHaveLength(0);
  });
  it('gives each transport only the families it can carry', () => {
    const { s } = store();
    s.announce(ann(1, { ip: '::1' }));
    s.announce(ann(2));
    expect(s.announce(ann(3, { families: 4 })).peers.map((p) => p.ip)).toEqual(['127.0.0.1']);
    expect(s.announce(ann(3, { families: 6 })).peers.map((p) => p.ip)).toEqual(['::1']);
    expect(s.announce(ann(3, { families: 'both' })).peers).toHaveLength(2);
  });
  it('expires silent peers after their time, keeping swarms with history', () => {
    const { s, advance } = store({ ttl: 60_000 });
    s.announce(ann(1));
    s.announce(ann(2, { infoHash: IH2, event: 'completed', left: 0n }));
    advance(30_000);
    s.announce(ann(3));
    expect(s.expire()).toBe(0);
    advance(30_000);
    // Peers 1 and 2 are now exactly 60 s old: gone from answers even before the sweep.
    expect(s.announce(ann(3)).peers).toEqual([]);
    expect(s.expire()).toBe(2);
    expect(s.scrape(IH)).toMatchObject({ incomplete: 1 });
    expect(s.scrape(IH2)).toEqual({ complete: 0, incomplete: 0, downloaded: 1 });
    expect(s.torrentCount).toBe(2);
    advance(60_000);
    expect(s.expire()).toBe(1);
    expect(s.torrentCount).toBe(1); // IH had no completed downloads: dropped; IH2 keeps its count
    expect(s.totalPeers).toBe(0);
  });
  it('refuses new torrents past its limit', () => {
    const { s } = store({ maxTorrents: 1 });
    s.announce(ann(1));
    expect(() => s.announce(ann(1, { infoHash: IH2 }))).toThrow(expect.objectContaining({ code: 'TRACKER_SERVER_FULL' }));
  });
  it('lists every torrent for a full scrape', () => {
    const { s } = store();
    s.announce(ann(1));
    s.announce(ann(1, { infoHash: IH2, left: 0n }));
    expect([...s.entries()].map(([h, st]) => [h.toString('hex').slice(0, 2), st.complete])).toEqual([['01', 0], ['02', 1]]);
    expect([...s.entries(1)]).toHaveLength(1);
  });
});
