/**
 * Every hostile answer a tracker can give ends in a typed network error within the request's
 * timeout: fake HTTP and UDP trackers on loopback script each misbehaviour.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type dgram from 'node:dgram';
import { TrackerClient } from '../../../../src/core/tracker/index.js';
import { retransmitDelayMs } from '../../../../src/core/tracker/udp-client.js';
import {
  decodeRequest,
  encodeAnnounceResponse,
  encodeConnectResponse,
  encodeErrorResponse,
  encodeScrapeResponse,
} from '../../../../src/core/tracker/udp-codec.js';
import { closedTcpPort, closedUdpPort, fakeHttpTracker, fakeUdpTracker, TEST_ANNOUNCE, TEST_INFO_HASH } from '../../../helpers/tracker-fakes.js';

const IH = TEST_INFO_HASH;
const params = TEST_ANNOUNCE;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
function client(options: ConstructorParameters<typeof TrackerClient>[0] = {}) {
  const c = new TrackerClient({ retransmitBaseMs: 100, ...options });
  cleanups.push(() => c.close());
  return c;
}
async function http_(handler: Parameters<typeof fakeHttpTracker>[0]) {
  const f = await fakeHttpTracker(handler);
  cleanups.push(() => f.close());
  return f;
}
async function udp_(handler: Parameters<typeof fakeUdpTracker>[0], host?: string) {
  const f = await fakeUdpTracker(handler, host);
  cleanups.push(() => f.close());
  return f;
}

const bencoded = (s: string | Buffer) => (_req: unknown, res: { writeHead: (s: number) => void; end: (b: string | Buffer) => void }) => {
  res.writeHead(200);
  res.end(s);
};

describe('HTTP: hostile answers', () => {
  it('a body that is not bencode → TRACKER_BAD_RESPONSE', async () => {
    const t = await http_(bencoded('<html>Service Unavailable</html>'));
    await expect(client().announce(t.url(), params, { timeoutMs: 5000 })).rejects.toMatchObject({ code: 'TRACKER_BAD_RESPONSE', category: 'network' });
  });
  it('a truncated compact peer list → TRACKER_BAD_PEERS', async () => {
    const t = await http_(bencoded(Buffer.concat([Buffer.from('d8:intervali60e5:peers8:'), Buffer.from('7f0000011ae17f00', 'hex'), Buffer.from('e')])));
    await expect(client().announce(t.url(), params, { timeoutMs: 5000 })).rejects.toMatchObject({ code: 'TRACKER_BAD_PEERS', category: 'network' });
  });
  it('a body larger than the limit (declared) → TRACKER_RESPONSE_TOO_LARGE', async () => {
    const t = await http_((_req, res) => {
      res.writeHead(200, { 'content-length': 10_000_000 });
      res.write('d8:interval');
    });
    await expect(client({ http: { maxBytes: 64 * 1024 } }).announce(t.url(), params, { timeoutMs: 5000 })).rejects.toMatchObject({ code: 'TRACKER_RESPONSE_TOO_LARGE', category: 'network' });
  });
  it('an endless chunked body → TRACKER_RESPONSE_TOO_LARGE once past the limit', async () => {
    let written = 0;
    const t = await http_((_req, res) => {
      res.writeHead(200);
      const chunk = Buffer.alloc(16 * 1024, 0x61);
      const pump = () => {
        // Bounded: stop after 8 MiB even if the client kept reading.
        while (written < 8 * 1024 * 1024 && !res.destroyed) {
          written += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    });
    await expect(client({ http: { maxBytes: 256 * 1024 } }).announce(t.url(), params, { timeoutMs: 10_000 })).rejects.toMatchObject({ code: 'TRACKER_RESPONSE_TOO_LARGE' });
    expect(written).toBeLessThan(8 * 1024 * 1024);
  });
  it('a redirect loop → TRACKER_REDIRECT_LOOP', async () => {
    const t = await http_((req, res) => {
      const query = req.url!.slice(req.url!.indexOf('?'));
      res.writeHead(302, { location: `${req.url!.startsWith('/a') ? '/b' : '/a'}/announce${query}` });
      res.end();
    });
    await expect(client().announce(t.url('/a/announce'), params, { timeoutMs: 5000 })).rejects.toMatchObject({ code: 'TRACKER_REDIRECT_LOOP', category: 'network' });
    expect(t.requests.length).toBe(2);
  });
  it('endless distinct redirects → TRACKER_TOO_MANY_REDIRECTS after the bound', async () => {
    const t = await http_((req, res) => {
      const n = Number(/\/r(\d+)/.exec(req.url!)?.[1] ?? 0);
      res.writeHead(301, { location: `/r${n + 1}/announce` });
      res.end();
    });
    await expect(client({ http: { maxRedirects: 3 } }).announce(t.url('/r0/announce'), params, { timeoutMs: 5000 })).rejects.toMatchObject({ code: 'TRACKER_TOO_MANY_REDIRECTS' });
    expect(t.requests.length).toBe(4);
  });
  it('a redirect to another scheme → TRACKER_BAD_REDIRECT', async () => {
    const t = await http_((_req, res) => {
      res.writeHead(307, { location: 'udp://127.0.0.1:1/announce' });
      res.end();
    });
    await expect(client().announce(t.url(), params, { timeoutMs: 5000 })).rejects.toMatchObject({ code: 'TRACKER_BAD_REDIRECT' });
  });
  it('follows a redirect and reports it', async () => {
    const t = await http_((req, res) => {
      if (req.url!.startsWith('/old')) {
        res.writeHead(301, { location: `/announce${req.url!.slice(req.url!.indexOf('?'))}` });
        return void res.end();
      }
      res.writeHead(200);
      res.end('d8:intervali60e5:peers0:e');
    });
    await expect(client().announce(t.url('/old/announce'), params, { timeoutMs: 5000 })).resolves.toMatchObject({ interval: 60, redirects: 1 });
  });
  it('a tracker that accepts and never answers → TRACKER_TIMEOUT', async () => {
    const t = await http_(() => {});
    await expect(client().announce(t.url(), params, { timeoutMs: 300 })).rejects.toMatchObject({
      code: 'TRACKER_TIMEOUT',
      category: 'network',
      message: expect.stringContaining('within 300 ms'),
    });
  });
  it('a tracker that stalls in the middle of the body → TRACKER_TIMEOUT', async () => {
    const t = await http_((_req, res) => {
      res.writeHead(200, { 'content-length': 100 });
      res.write('d8:inter');
    });
    await expect(client().announce(t.url(), params, { timeoutMs: 300 })).rejects.toMatchObject({ code: 'TRACKER_TIMEOUT' });
  });
  it('a connection closed in the middle of the body → TRACKER_UNREACHABLE', async () => {
    const t = await http_((_req, res) => {
      res.writeHead(200, { 'content-length': 100 });
      res.write('d8:inter', () => res.destroy());
    });
    await expect(client().announce(t.url(), params, { timeoutMs: 5000 })).rejects.toMatchObject({ code: 'TRACKER_UNREACHABLE', category: 'network' });
  });
  it('connection refused → TRACKER_UNREACHABLE naming the cause', async () => {
    const port = await closedTcpPort();
    await expect(client().announce(`http://127.0.0.1:${port}/announce`, params, { timeoutMs: 5000 })).rejects.toMatchObject({
      code: 'TRACKER_UNREACHABLE',
      message: expect.stringContaining('connection refused'),
    });
  });
  it('HTTP 500 → TRACKER_HTTP_STATUS; a 4xx with a bencoded failure reason → TRACKER_FAILURE', async () => {
    const t = await http_((req, res) => {
      if (req.url!.startsWith('/five')) {
        res.writeHead(500);
        return void res.end('Internal Server Error');
      }
      res.writeHead(403);
      res.end('d14:failure reason12:unregisterede');
    });
    await expect(client().announce(t.url('/five/announce'), params, { timeoutMs: 5000 })).rejects.toMatchObject({
      code: 'TRACKER_HTTP_STATUS',
      detail: { status: 500 },
      message: expect.stringContaining('HTTP 500: Internal Server Error'),
    });
    await expect(client().announce(t.url(), params, { timeoutMs: 5000 })).rejects.toMatchObject({ code: 'TRACKER_FAILURE', message: 'the tracker refused: unregistered' });
  });
  it('a failure reason → TRACKER_FAILURE', async () => {
    const t = await http_(bencoded('d14:failure reason36:Requested download is not authorizede'));
    await expect(client().announce(t.url(), params, { timeoutMs: 5000 })).rejects.toMatchObject({
      code: 'TRACKER_FAILURE',
      detail: { failureReason: 'Requested download is not authorized' },
    });
  });
  it('a scrape URL BEP 48 cannot derive → TRACKER_SCRAPE_UNSUPPORTED, without a request', async () => {
    const t = await http_(bencoded('de'));
    await expect(client().scrape(t.url('/tracker'), [IH], { timeoutMs: 5000 })).rejects.toMatchObject({ code: 'TRACKER_SCRAPE_UNSUPPORTED' });
    expect(t.requests).toEqual([]);
  });
  it('an aborted signal ends a pending request as interrupted', async () => {
    const t = await http_(() => {});
    const ac = new AbortController();
    const p = client().announce(t.url(), params, { timeoutMs: 10_000, signal: ac.signal });
    setTimeout(() => ac.abort(), 50);
    await expect(p).rejects.toMatchObject({ category: 'interrupted' });
  });
  it('sends the infohash and peer id percent-encoded as raw bytes', async () => {
    const t = await http_(bencoded('d8:intervali60e5:peers0:e'));
    await client().announce(t.url(), params, { timeoutMs: 5000 });
    expect(t.requests[0]).toContain('info_hash=%99%24%E7%60%3A%285%3E%40%EA%29%B8f%0C%8AX.%BD%C9%9C&peer_id=-BK0100-abcdefghijkl&port=6881');
  });
});

/** Answers connects with connection id 7 and hands other requests to `rest`. */
function connecting(rest: (req: ReturnType<typeof decodeRequest>, reply: (b: Buffer) => void, from: dgram.RemoteInfo) => void) {
  return (msg: Buffer, from: dgram.RemoteInfo, reply: (b: Buffer) => void) => {
    const req = decodeRequest(msg);
    if (req.action === 'connect') return reply(encodeConnectResponse(req.transactionId, 7n));
    rest(req, reply, from);
  };
}

describe('UDP: BEP 15 behaviour', () => {
  it('the retransmission schedule is 15 · 2^n seconds, n = 0…8', () => {
    expect(Array.from({ length: 9 }, (_, n) => retransmitDelayMs(15_000, n) / 1000)).toEqual([15, 30, 60, 120, 240, 480, 960, 1920, 3840]);
  });
  it('retransmits the same packet after a loss, then connects and announces', async () => {
    const t = await udp_((msg, _from, reply, i) => {
      if (i === 0) return; // drop the first connect
      const req = decodeRequest(msg);
      if (req.action === 'connect') return reply(encodeConnectResponse(req.transactionId, 7n));
      if (req.action === 'announce') reply(encodeAnnounceResponse({ transactionId: req.transactionId, interval: 60, leechers: 1, seeders: 2, peers: [{ ip: '192.0.2.3', port: 9 }] }, 4));
    });
    // The retransmission comes 1 s after the loss; on a loaded machine a reply may still be slower
    // than that and draw one more retransmission, so the count is at least three.
    const r = await client({ retransmitBaseMs: 1000 }).announce(t.url(), params, { timeoutMs: 20_000 });
    expect(r).toMatchObject({ protocol: 'udp', interval: 60, complete: 2, incomplete: 1, peers: [{ ip: '192.0.2.3', port: 9, family: 4 }] });
    expect(r.packets).toBeGreaterThanOrEqual(3);
    expect(t.packets[1]).toEqual(t.packets[0]); // the very same bytes, transaction id included
  });
  it('reuses the connection id within its lifetime and reconnects after it', async () => {
    let now = 0;
    const t = await udp_(
      connecting((req, reply) => {
        if (req.action === 'announce') {
          expect(req.connectionId).toBe(7n);
          reply(encodeAnnounceResponse({ transactionId: req.transactionId, interval: 60, leechers: 0, seeders: 0, peers: [] }, 4));
        }
      }),
    );
    // Retransmissions far apart: a slow reply on a loaded machine must not add packets to the count.
    const c = client({ now: () => now, retransmitBaseMs: 15_000 });
    await c.announce(t.url(), params, { timeoutMs: 30_000 });
    now += 59_000;
    await c.announce(t.url(), params, { timeoutMs: 30_000 });
    now += 2_000;
    await c.announce(t.url(), params, { timeoutMs: 30_000 });
    expect(t.packets.map((p) => decodeRequest(p).action)).toEqual(['connect', 'announce', 'announce', 'connect', 'announce']);
  });
  it('sends the path and query as BEP 41 URL data', async () => {
    const t = await udp_(
      connecting((req, reply) => {
        if (req.action === 'announce') reply(encodeAnnounceResponse({ transactionId: req.transactionId, interval: 1, leechers: 0, seeders: 0, peers: [] }, 4));
      }),
    );
    await client().announce(t.url('/announce?passkey=s3cret'), params, { timeoutMs: 5000 });
    expect(decodeRequest(t.packets[1]!)).toMatchObject({ action: 'announce', urlData: '/announce?passkey=s3cret' });
  });
  it('scrapes 100 infohashes as two packets of 74 and 26', async () => {
    const hashes = Array.from({ length: 100 }, (_, i) => Buffer.alloc(20, i));
    const t = await udp_(
      connecting((req, reply) => {
        if (req.action === 'scrape') reply(encodeScrapeResponse(req.transactionId, req.infoHashes.map((h) => ({ complete: h[0]!, incomplete: 1, downloaded: 2 }))));
      }),
    );
    const r = await client().scrape(t.url(), hashes, { timeoutMs: 5000 });
    expect(t.packets.map((p) => [decodeRequest(p).action, p.length])).toEqual([['connect', 16], ['scrape', 16 + 74 * 20], ['scrape', 16 + 26 * 20]]);
    expect(r.files.size).toBe(100);
    expect(r.files.get(Buffer.alloc(20, 99).toString('hex'))).toEqual({ complete: 99, incomplete: 1, downloaded: 2 });
  });
  it('reads 18-byte peers from a tracker on IPv6', async () => {
    const t = await udp_(
      connecting((req, reply) => {
        if (req.action === 'announce') reply(encodeAnnounceResponse({ transactionId: req.transactionId, interval: 60, leechers: 1, seeders: 0, peers: [{ ip: '::1', port: 51413 }] }, 6));
      }),
      '::1',
    );
    const r = await client().announce(t.url(), params, { timeoutMs: 5000 });
    expect(r.peers).toEqual([{ ip: '::1', port: 51413, family: 6 }]);
  });
  it('ignores an answer with the right transaction id from another address', async () => {
    const tids = [0x11111111, 0x22222222];
    let forger: Awaited<ReturnType<typeof udp_>> | undefined;
    const t = await udp_((msg, from, reply) => {
      const req = decodeRequest(msg);
      if (req.action === 'connect') {
        forger!.send(encodeConnectResponse(req.transactionId, 666n), from); // spoofed, first
        setTimeout(() => reply(encodeConnectResponse(req.transactionId, 7n)), 30);
      } else if (req.action === 'announce') {
        reply(req.connectionId === 7n ? encodeAnnounceResponse({ transactionId: req.transactionId, interval: 9, leechers: 0, seeders: 0, peers: [] }, 4) : encodeErrorResponse(req.transactionId, 'spoofed id used'));
      }
    });
    forger = await udp_(() => {});
    let i = 0;
    const r = await client({ randomTransactionId: () => tids[i++ % 2]! }).announce(t.url(), params, { timeoutMs: 5000 });
    expect(r.interval).toBe(9);
  });
});

describe('UDP: hostile answers', () => {
  it('a closed port → TRACKER_UNREACHABLE from the ICMP answer, after one packet, not a timeout (issue 13 item 15)', async () => {
    const port = await closedUdpPort();
    // BEP 15's own schedule and a long timeout: only the port-unreachable report can end this early.
    const err = await client({ retransmitBaseMs: 15_000 }).announce(`udp://127.0.0.1:${port}/announce`, params, { timeoutMs: 15_000 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'TRACKER_UNREACHABLE', category: 'network', detail: { url: `udp://127.0.0.1:${port}/announce`, packets: 1 } });
  });
  it('a closed port does not break the next request to a live tracker on the same client', async () => {
    const c = client();
    const port = await closedUdpPort();
    await expect(c.scrape(`udp://127.0.0.1:${port}/announce`, [IH], { timeoutMs: 15_000 })).rejects.toMatchObject({ code: 'TRACKER_UNREACHABLE' });
    const t = await udp_(
      connecting((req, reply) => {
        if (req.action === 'announce') reply(encodeAnnounceResponse({ transactionId: req.transactionId, interval: 60, leechers: 0, seeders: 1, peers: [] }, 4));
      }),
    );
    expect((await c.announce(t.url(), params, { timeoutMs: 5000 })).interval).toBe(60);
  });
  it('a tracker that never answers → TRACKER_TIMEOUT after retransmitting', async () => {
    const t = await udp_(() => {});
    await expect(client({ retransmitBaseMs: 50 }).announce(t.url(), params, { timeoutMs: 1000 })).rejects.toMatchObject({
      code: 'TRACKER_TIMEOUT',
      category: 'network',
      message: expect.stringMatching(/no answer from udp:\/\/127\.0\.0\.1:\d+\/announce within 1 s \(\d+ packet\(s\) sent\)/),
    });
    expect(t.packets.length).toBeGreaterThanOrEqual(2);
  });
  it('gives up after the last retransmission of the schedule, even without a timeout', async () => {
    const t = await udp_(() => {});
    await expect(client({ retransmitBaseMs: 5, maxRetransmits: 2 }).announce(t.url(), params, { timeoutMs: 30_000 })).rejects.toMatchObject({
      code: 'TRACKER_TIMEOUT',
      message: expect.stringContaining('after the last BEP 15 retransmission'),
    });
    expect(t.packets.length).toBe(3); // n = 0, 1, 2
  });
  it('answers only with a wrong transaction id → TRACKER_BAD_TRANSACTION', async () => {
    const t = await udp_((msg, _from, reply) => {
      const req = decodeRequest(msg);
      reply(encodeConnectResponse((req.transactionId + 1) >>> 0, 7n));
    });
    await expect(client().announce(t.url(), params, { timeoutMs: 500 })).rejects.toMatchObject({
      code: 'TRACKER_BAD_TRANSACTION',
      category: 'network',
      message: expect.stringContaining('never with the transaction id we sent'),
    });
  });
  it('garbage too short to carry a transaction id counts as a wrong answer', async () => {
    const t = await udp_((_msg, _from, reply) => reply(Buffer.from('oops')));
    await expect(client().announce(t.url(), params, { timeoutMs: 500 })).rejects.toMatchObject({ code: 'TRACKER_BAD_TRANSACTION' });
  });
  it('an oversized datagram → TRACKER_PACKET_TOO_LARGE', async () => {
    const t = await udp_((msg, _from, reply) => {
      const req = decodeRequest(msg);
      const big = Buffer.alloc(20_000);
      encodeConnectResponse(req.transactionId, 7n).copy(big);
      reply(big);
    });
    await expect(client().announce(t.url(), params, { timeoutMs: 5000 })).rejects.toMatchObject({ code: 'TRACKER_PACKET_TOO_LARGE', category: 'network' });
  });
  it('a truncated peer list → TRACKER_BAD_PACKET', async () => {
    const t = await udp_(
      connecting((req, reply) => {
        const ok = encodeAnnounceResponse({ transactionId: req.transactionId, interval: 60, leechers: 0, seeders: 1, peers: [{ ip: '1.2.3.4', port: 5 }] }, 4);
        reply(ok.subarray(0, ok.length - 2));
      }),
    );
    await expect(client().announce(t.url(), params, { timeoutMs: 5000 })).rejects.toMatchObject({ code: 'TRACKER_BAD_PACKET', message: expect.stringContaining('not a multiple of 6') });
  });
  it('the error action → TRACKER_FAILURE with the message', async () => {
    const t = await udp_(connecting((req, reply) => reply(encodeErrorResponse(req.transactionId, 'Requested download is not authorized'))));
    await expect(client().announce(t.url(), params, { timeoutMs: 5000 })).rejects.toMatchObject({
      code: 'TRACKER_FAILURE',
      message: 'the tracker refused: Requested download is not authorized',
    });
  });
  it('an answer of the wrong kind → TRACKER_BAD_PACKET', async () => {
    const t = await udp_(connecting((req, reply) => reply(encodeScrapeResponse(req.transactionId, []))));
    await expect(client().announce(t.url(), params, { timeoutMs: 5000 })).rejects.toMatchObject({ code: 'TRACKER_BAD_PACKET', message: expect.stringContaining('with a scrape packet') });
  });
  it('a scrape answer with the wrong number of entries → TRACKER_BAD_PACKET', async () => {
    const t = await udp_(connecting((req, reply) => reply(encodeScrapeResponse(req.transactionId, [{ complete: 1, incomplete: 1, downloaded: 1 }]))));
    await expect(client().scrape(t.url(), [IH, IH], { timeoutMs: 5000 })).rejects.toMatchObject({ code: 'TRACKER_BAD_PACKET' });
  });
  it('an aborted signal ends the wait as interrupted', async () => {
    const t = await udp_(() => {});
    const ac = new AbortController();
    const p = client().announce(t.url(), params, { timeoutMs: 10_000, signal: ac.signal });
    setTimeout(() => ac.abort(), 50);
    await expect(p).rejects.toMatchObject({ category: 'interrupted' });
  });
  it('a URL without a port, or of another scheme, is an input error', async () => {
    await expect(client().announce('udp://127.0.0.1/announce', params)).rejects.toMatchObject({ code: 'TRACKER_BAD_URL', category: 'input' });
    await expect(client().announce('wss://127.0.0.1:1/announce', params)).rejects.toMatchObject({ code: 'TRACKER_UNSUPPORTED_SCHEME', category: 'input' });
  });
});

describe('UDP: connection ids after an error', () => {
  it('connects afresh after an error answer instead of reusing the connection id', async () => {
    let refuse = true;
    const t = await udp_(
      connecting((req, reply) => {
        if (req.action !== 'announce') return;
        if (refuse) {
          refuse = false;
          return reply(encodeErrorResponse(req.transactionId, 'unknown connection id'));
        }
        reply(encodeAnnounceResponse({ transactionId: req.transactionId, interval: 1, leechers: 0, seeders: 0, peers: [] }, 4));
      }),
    );
    const c = client();
    await expect(c.announce(t.url(), params, { timeoutMs: 5000 })).rejects.toMatchObject({ code: 'TRACKER_FAILURE' });
    await expect(c.announce(t.url(), params, { timeoutMs: 5000 })).resolves.toMatchObject({ interval: 1 });
    expect(t.packets.map((p) => decodeRequest(p).action)).toEqual(['connect', 'announce', 'connect', 'announce']);
  });
});

describe('HTTP scrape of many infohashes', () => {
  it('sends 64 per request and merges the answers', async () => {
    const { encodeScrapeBody, parseScrapeQuery } = await import('../../../../src/core/tracker/http-codec.js');
    const t = await http_((req, res) => {
      const hashes = parseScrapeQuery(req.url!.slice(req.url!.indexOf('?') + 1));
      res.writeHead(200);
      res.end(encodeScrapeBody(hashes.map((h) => [h, { complete: h[0]!, incomplete: 0, downloaded: 0 }] as [Buffer, { complete: number; incomplete: number; downloaded: number }])));
    });
    const hashes = Array.from({ length: 100 }, (_, i) => Buffer.alloc(20, i));
    const r = await client().scrape(t.url(), hashes, { timeoutMs: 5000 });
    expect(t.requests.map((u) => u.split('info_hash=').length - 1)).toEqual([64, 36]);
    expect(r.files.size).toBe(100);
    expect(r.files.get(Buffer.alloc(20, 99).toString('hex'))).toMatchObject({ complete: 99 });
  });
});
