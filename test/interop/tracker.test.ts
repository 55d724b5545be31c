/**
 * Tracker interop with independently written software, on 127.0.0.1:
 *
 * 1. btkit `announce` / `scrape` against opentracker (HTTP and UDP) agree with libtorrent, which
 *    announced to the same tracker: btkit sees libtorrent as a peer, and both scrapes count alike.
 * 2. libtorrent announces to and scrapes `btkit tracker` (HTTP and UDP), receives the peer btkit
 *    announced (and dials it: a BitTorrent handshake reaches the port btkit announced), and the
 *    counts it scrapes match btkit's.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, runCli } from '../helpers/cli.js';
import { interopAvailable } from '../helpers/interop.js';
import {
  handshakeCatcher,
  startBtkitTracker,
  startLibtorrentClient,
  startOpentracker,
  type BtkitTracker,
  type LtClient,
  type Opentracker,
} from '../helpers/tracker-interop.js';

const available = interopAvailable('opentracker', 'libtorrent');
const stops: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const s of stops.splice(0).reverse()) await s();
});
const lt = async (...args: Parameters<typeof startLibtorrentClient>): Promise<LtClient> => {
  const c = await startLibtorrentClient(...args);
  stops.push(() => c.stop());
  return c;
};

async function btkit(args: string[]) {
  const r = await runCli([...args, '--json', '--timeout', '5s', '--udp-retransmit', '1s'], { timeoutMs: 20_000 });
  if (r.code !== 0) throw new Error(`btkit ${args.join(' ')} exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
  return r.json().result;
}

describe.skipIf(!available)('btkit announce/scrape against opentracker, checked with libtorrent', () => {
  const hashes = { http: randomBytes(20).toString('hex'), udp: randomBytes(20).toString('hex') };
  let ot: Opentracker;
  beforeAll(async () => {
    ensureBuilt();
    ot = await startOpentracker(Object.values(hashes));
  });
  afterAll(() => ot?.stop());

  for (const proto of ['http', 'udp'] as const) {
    it(`${proto}: btkit sees libtorrent's announce, and both scrapes count the same`, async () => {
      const url = ot[proto];
      const ih = hashes[proto];
      const client = await lt(ih, [url], ['--no-ssrf-mitigation']);
      await client.lines.next((o) => o.event === 'tracker_reply', 20_000, 'libtorrent announce to opentracker');

      const a = await btkit(['announce', ih, '-t', url, '--port', '40001']);
      const t = a.trackers[0];
      expect(t).toMatchObject({ ok: true, protocol: proto });
      expect(t.interval).toBeGreaterThan(0);
      expect(t.peers.map((p: { ip: string; port: number }) => `${p.ip}:${p.port}`)).toContain(`127.0.0.1:${client.port}`);

      const mark = client.lines.seen.length;
      client.send('scrape');
      const ltScrape = await client.lines.next((o) => o.event === 'scrape_reply' || o.event === 'scrape_failed', 20_000, 'libtorrent scrape', mark);
      expect(ltScrape.event).toBe('scrape_reply');
      const s = await btkit(['scrape', ih, '-t', url]);
      const file = s.trackers[0].files[0];
      expect(file.infoHash).toBe(ih);
      // libtorrent and btkit are both leechers in this swarm.
      expect({ complete: file.complete, incomplete: file.incomplete }).toEqual({ complete: ltScrape.complete, incomplete: ltScrape.incomplete });
      expect(file.incomplete).toBe(2);
    });
  }

  it('an infohash opentracker does not serve ends in exit 4 with the reason (HTTP) and the hint (UDP)', async () => {
    const other = randomBytes(20).toString('hex');
    const r = await runCli(['announce', other, '-t', ot.http, '-t', ot.udp, '--json', '--timeout', '5s'], { timeoutMs: 20_000 });
    expect(r.code).toBe(4);
    const env = r.json();
    expect(env.error.code).toBe('TRACKER_ALL_FAILED');
    const byUrl = Object.fromEntries(env.error.detail.result.trackers.map((t: any) => [t.url, t.error]));
    expect(byUrl[ot.http]).toMatchObject({ code: 'TRACKER_FAILURE', message: expect.stringContaining('not authorized') });
    expect(byUrl[ot.udp]).toMatchObject({ code: 'TRACKER_BAD_PACKET', message: expect.stringContaining('do not serve') });
  });
});

describe.skipIf(!available)('libtorrent as a client of btkit tracker', () => {
  let tracker: BtkitTracker;
  beforeAll(async () => {
    ensureBuilt();
    tracker = await startBtkitTracker();
  });
  afterAll(async () => {
    if (tracker) expect(await tracker.stop()).toBe(0);
  });

  for (const proto of ['http', 'udp'] as const) {
    it(`${proto}: libtorrent announces, gets and dials the peer btkit announced, and scrapes the same counts`, async () => {
      const url = tracker[proto];
      const ih = randomBytes(20).toString('hex');
      const peer = await handshakeCatcher();
      stops.push(() => peer.close());
      await btkit(['announce', ih, '-t', url, '--port', String(peer.port)]);

      // Announce with libtorrent's default SSRF mitigation: it accepts btkit's /announce path.
      const announcer = await lt(ih, [url]);
      const reply = await announcer.lines.next((o) => o.event === 'tracker_reply' || o.event === 'tracker_error', 20_000, 'libtorrent announce to btkit tracker');
      expect(reply).toMatchObject({ event: 'tracker_reply', url, num_peers: 1 });
      expect(await peer.handshake(20_000)).toBe(ih);

      // btkit sees libtorrent in the swarm.
      const a = await btkit(['announce', ih, '-t', url, '--port', String(peer.port), '--event', 'none']);
      expect(a.trackers[0].peers.map((p: { ip: string; port: number }) => `${p.ip}:${p.port}`)).toEqual([`127.0.0.1:${announcer.port}`]);

      // Scrape: libtorrent (SSRF mitigation off, see lt_announce.py) and btkit count alike.
      const scraper = proto === 'udp' ? announcer : await lt(ih, [url], ['--no-ssrf-mitigation']);
      if (scraper !== announcer) await scraper.lines.next((o) => o.event === 'tracker_reply', 20_000, 'second libtorrent announce');
      const mark = scraper.lines.seen.length;
      scraper.send('scrape');
      const ltScrape = await scraper.lines.next((o) => o.event === 'scrape_reply' || o.event === 'scrape_failed', 20_000, 'libtorrent scrape of btkit tracker', mark);
      expect(ltScrape).toMatchObject({ event: 'scrape_reply', url });
      const s = await btkit(['scrape', ih, '-t', url]);
      const file = s.trackers[0].files[0];
      expect({ complete: file.complete, incomplete: file.incomplete }).toEqual({ complete: ltScrape.complete, incomplete: ltScrape.incomplete });
      expect(file.incomplete).toBe(proto === 'udp' ? 2 : 3);

      // The tracker logged libtorrent's announce as NDJSON.
      expect(tracker.events.seen.some((e) => e.type === 'announce' && e.protocol === proto && e.infoHash === ih && e.port === announcer.port && e.peerId.startsWith('2d4c54'))).toBe(true);
    });
  }
});
