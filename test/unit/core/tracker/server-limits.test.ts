/**
 * The built-in tracker's bounds (issue 15, item 10): a client that trickles its headers
 * (slowloris), or connects and says nothing, is disconnected once its timeout passed — not up to
 * 30 s later, when Node would next have checked; and the peers held across every torrent are
 * capped, the least recently announced evicted first. Raw loopback sockets; assertions on the
 * `close` event under generous bounds, never on tight timings.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startTrackerServer, type TrackerServer } from '../../../../src/core/tracker/index.js';
import { SwarmStore, type SwarmAnnounce } from '../../../../src/core/tracker/swarm.js';

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Far above the 300 ms timeouts below, far below the 30 s Node's default check would take. */
const CLOSED_WITHIN_MS = 5_000;

async function tracker(): Promise<TrackerServer> {
  const server = await startTrackerServer({ httpPort: 0, udpPort: null, http: { headersTimeoutMs: 300, requestTimeoutMs: 600, idleTimeoutMs: 300 } });
  cleanups.push(() => server.close());
  return server;
}

/** A raw connection; `closed` resolves with the ms it stayed open, or null if still open after the bound. */
async function connect(port: number): Promise<{ socket: net.Socket; closed: Promise<number | null> }> {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const opened = Date.now();
  socket.on('error', () => undefined);
  socket.resume();
  cleanups.push(() => void socket.destroy());
  const closed = new Promise<number | null>((resolve) => {
    const bound = setTimeout(() => resolve(null), CLOSED_WITHIN_MS);
    socket.once('close', () => {
      clearTimeout(bound);
      resolve(Date.now() - opened);
    });
  });
  return { socket, closed };
}

describe('tracker HTTP: idle and slow connections', () => {
  it('a client trickling its headers one byte at a time is disconnected once the headers timeout passed', async () => {
    const server = await tracker();
    const { socket, closed } = await connect(server.http!.port);
    const request = 'GET /announce?info_hash=aaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\nHost: x\r\nX-Slow: ';
    let i = 0;
    // A byte every 50 ms, bounded: never more than the request and 200 filler bytes.
    const trickle = setInterval(() => {
      if (socket.destroyed || i > request.length + 200) return clearInterval(trickle);
      socket.write(i < request.length ? request[i]! : 'a');
      i++;
    }, 50);
    cleanups.push(() => clearInterval(trickle));
    const openMs = await closed;
    expect(openMs).not.toBeNull();
    expect(socket.destroyed).toBe(true);
  });

  it('a client that connects and sends nothing is disconnected', async () => {
    const server = await tracker();
    const { closed } = await connect(server.http!.port);
    expect(await closed).not.toBeNull();
  });

  it('an idle kept-alive connection is closed after its answer', async () => {
    const server = await tracker();
    const { socket, closed } = await connect(server.http!.port);
    const answer = new Promise<string>((resolve) => socket.once('data', (d: Buffer) => resolve(d.toString('latin1'))));
    socket.write('GET /scrape HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n');
    expect(await answer).toMatch(/^HTTP\/1\.1 200/);
    expect(await closed).not.toBeNull();
  });

  it('an ordinary announce is still answered', async () => {
    const server = await tracker();
    const res = await fetch(`${server.http!.announceUrl}?info_hash=${'%aa'.repeat(20)}&peer_id=${'b'.repeat(20)}&port=6881&uploaded=0&downloaded=0&left=0&compact=1`);
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).toString('latin1')).toMatch(/^d8:completei1e/);
  });
});

const IH = (n: number) => Buffer.alloc(20, n);
const ann = (n: number, torrent = 1, extra: Partial<SwarmAnnounce> = {}): SwarmAnnounce => ({
  infoHash: IH(torrent),
  peerId: Buffer.from(`-XX0001-${String(n).padStart(12, '0')}`),
  ip: `127.0.${n >> 8}.${n & 255}`,
  port: 6881,
  left: 1n,
  event: 'started',
  families: 'both',
  ...extra,
});

describe('SwarmStore: a global cap on peers', () => {
  it('holds at most maxPeers across torrents, evicting the least recently announced first', () => {
    let now = 0;
    const s = new SwarmStore({ now: () => now, random: () => 0, peerTtlMs: 1e9, maxPeers: 4 });
    for (let n = 1; n <= 4; n++) {
      s.announce(ann(n, n % 2));
      now += 10;
    }
    // Peer 1 announces again: peer 2 is now the one heard from least recently.
    s.announce(ann(1, 1));
    s.announce(ann(5, 2));
    expect(s.totalPeers).toBe(4);
    expect(s.evicted).toBe(1);
    const countsOf = (t: number) => s.scrape(IH(t));
    expect(countsOf(0)).toEqual({ complete: 0, incomplete: 1, downloaded: 0 }); // 4 (2 is gone)
    expect(countsOf(1)).toEqual({ complete: 0, incomplete: 2, downloaded: 0 }); // 1, 3
    expect(countsOf(2)).toEqual({ complete: 0, incomplete: 1, downloaded: 0 }); // 5
    // And peer 2 is no longer in any answer.
    const all = s.announce(ann(6, 0)).peers.map((p) => p.ip);
    expect(all).not.toContain('127.0.0.2');
    expect(s.totalPeers).toBe(4);
  });

  it('a flood of 100,000 new peers over 100,000 torrents stays at the cap, and the newest are kept', () => {
    const s = new SwarmStore({ random: () => 0, peerTtlMs: 1e9, maxPeers: 1_000 });
    for (let n = 0; n < 100_000; n++) s.announce({ ...ann(n & 0xffff, 0), infoHash: Buffer.from(n.toString(16).padStart(40, '0'), 'hex'), ip: `127.${n >> 16}.${(n >> 8) & 255}.${n & 255}` });
    expect(s.totalPeers).toBe(1_000);
    expect(s.evicted).toBe(99_000);
    // Swarms emptied by eviction go with their last peer.
    expect(s.torrentCount).toBe(1_000);
    expect(s.scrape(Buffer.from((99_999).toString(16).padStart(40, '0'), 'hex'))).toMatchObject({ incomplete: 1 });
    expect(s.scrape(Buffer.from((0).toString(16).padStart(40, '0'), 'hex'))).toMatchObject({ incomplete: 0 });
  });

  it('a peer that leaves (stopped) or expires is not evicted again later', () => {
    let now = 0;
    const s = new SwarmStore({ now: () => now, random: () => 0, peerTtlMs: 100, maxPeers: 2 });
    s.announce(ann(1));
    s.announce(ann(2));
    s.announce(ann(1, 1, { event: 'stopped' }));
    s.announce(ann(3));
    expect(s.evicted).toBe(0);
    now += 200;
    expect(s.expire()).toBe(2);
    s.announce(ann(4));
    s.announce(ann(5));
    expect(s.evicted).toBe(0);
    s.announce(ann(6));
    expect(s.evicted).toBe(1);
    expect(s.totalPeers).toBe(2);
  });
});
