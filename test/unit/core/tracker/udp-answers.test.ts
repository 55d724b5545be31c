/**
 * The built-in tracker under a small version of the scale bench (issue 15: "0 wrong answers"):
 * 20,000 UDP announces and some scrapes from 4,000 peers on 32 loopback source addresses over 300
 * torrents of skewed popularity, each answer checked by bench/tracker/swarm-load.mjs in strict mode
 * (the interval, seeder and leecher counts within what the peers announced so far allow, at most
 * numwant peers, each one that announced in that torrent, never the asker, never twice, never
 * fewer than the torrent surely held; scrape counts likewise). Then the same checker against a
 * tracker that lies, so that a checker that passes everything would be caught. No timing is
 * asserted: a datagram counts as lost only after 30 s.
 */
import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { startTrackerServer } from '../../../../src/core/tracker/index.js';
// The bench's own load generator and checker (plain JavaScript).
import { swarmLoad } from '../../../../bench/tracker/swarm-load.mjs';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('tracker: every UDP answer right under a many-peer load', () => {
  it('20,000 announces from 4,000 peers over 300 torrents: nothing lost, nothing wrong', async () => {
    const server = await startTrackerServer({ httpPort: null, udpPort: 0, intervalS: 1800 });
    cleanups.push(() => server.close());
    const r = await swarmLoad({
      port: server.udp!.port, torrents: 300, peers: 4000, count: 20_000, sources: 32, window: 64,
      scrapeShare: 0.05, lossMs: 30_000, maxSeconds: 600, interval: [1800, 1800], strict: true, seed: 15,
    });
    expect({ lost: r.lost, wrong: r.wrong, reasons: r.wrongReasons, short: r.short, self: r.selfInAnswer }).toEqual({ lost: 0, wrong: 0, reasons: {}, short: 0, self: 0 });
    expect(r.announces).toBe(20_000);
    expect(r.answered).toBe(r.announces + r.scrapes);
    expect(r.peers).toBe(4000);
    expect(server.store.totalPeers).toBe(4000);
    expect(server.stats.announces).toBe(20_000);
  }, 600_000);

  it('the checker catches a tracker that answers with the asker and wrong counts', async () => {
    // A liar: connects properly, then answers every announce with counts of 0 and the asker's own
    // address and announced port as its only peer.
    const liar = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => liar.bind(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => liar.close(() => resolve())));
    liar.on('message', (m, rinfo) => {
      const action = m.readUInt32BE(8);
      const out = Buffer.alloc(action === 0 ? 16 : 26);
      out.writeUInt32BE(action === 0 ? 0 : 1, 0);
      m.copy(out, 4, 12, 16);
      if (action === 0) out.writeUInt32BE(7, 12);
      else {
        out.writeUInt32BE(1800, 8);
        for (const [i, part] of rinfo.address.split('.').entries()) out[20 + i] = Number(part);
        m.copy(out, 24, 96, 98);
      }
      liar.send(out, rinfo.port, rinfo.address);
    });
    const r = await swarmLoad({ port: liar.address().port, torrents: 10, peers: 50, count: 200, sources: 4, window: 8, scrapeShare: 0, lossMs: 30_000, maxSeconds: 120, interval: [1800, 1800], strict: true });
    expect(r.lost).toBe(0);
    expect(r.wrong).toBe(200);
    expect(Object.keys(r.wrongReasons).sort()).toEqual(['counts out of bounds']);
  }, 180_000);
});
