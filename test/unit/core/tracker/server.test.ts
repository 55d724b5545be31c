/**
 * The in-memory tracker, driven by btkit's own client over real loopback sockets (HTTP and UDP),
 * plus raw requests for what the client never sends.
 */
import { afterEach, describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import http from 'node:http';
import { TrackerClient, startTrackerServer, type AnnounceParams, type TrackerServer, type TrackerServerEvent, type TrackerServerOptions } from '../../../../src/core/tracker/index.js';
import { decodeResponse, encodeConnectRequest, encodeScrapeRequest } from '../../../../src/core/tracker/udp-codec.js';
import { parseScrapeBody } from '../../../../src/core/tracker/http-codec.js';

const IH = Buffer.from('9924e7603a28353e40ea29b8660c8a582ebdc99c', 'hex');
const OTHER = Buffer.alloc(20, 7);
const base: AnnounceParams = { infoHash: IH, peerId: Buffer.from('-BK0100-aaaaaaaaaaaa'), port: 1, uploaded: 0, downloaded: 0, left: 10, event: 'started', numWant: 50 };
const as = (port: number, extra: Partial<AnnounceParams> = {}): AnnounceParams => ({ ...base, peerId: Buffer.from(`-BK0100-${String(port).padStart(12, '0')}`), port, ...extra });

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
async function start(options: TrackerServerOptions = {}): Promise<{ server: TrackerServer; events: TrackerServerEvent[]; client: TrackerClient }> {
  const events: TrackerServerEvent[] = [];
  const server = await startTrackerServer({ httpPort: 0, udpPort: 0, intervalS: 60, minIntervalS: 10, onEvent: (e) => events.push(e), ...options });
  const client = new TrackerClient({ retransmitBaseMs: 200 });
  cleanups.push(() => server.close(), () => client.close());
  return { server, events, client };
}
const opts = { timeoutMs: 5000 };

describe('btkit tracker over HTTP', () => {
  it('serves /announce with compact peers, counts, min interval and the external ip', async () => {
    const { server, client, events } = await start();
    const url = server.http!.announceUrl;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/announce$/);
    await client.announce(url, as(1001, { left: 0 }), opts);
    const r = await client.announce(url, as(1002), opts);
    expect(r).toMatchObject({ protocol: 'http', interval: 60, minInterval: 10, complete: 1, incomplete: 1, downloaded: 0, externalIp: '127.0.0.1', peers: [{ ip: '127.0.0.1', port: 1001, family: 4 }] });
    expect(events.at(-1)).toMatchObject({ type: 'announce', protocol: 'http', infoHash: IH.toString('hex'), ip: '127.0.0.1', port: 1002, event: 'started', left: 10, returned: 1, complete: 1, incomplete: 1 });
  });
  it('answers the dictionary model with peer ids when asked', async () => {
    const { server, client } = await start();
    await client.announce(server.http!.announceUrl, as(1001), opts);
    const r = await client.announce(server.http!.announceUrl, as(1002, { compact: false, noPeerId: false }), opts);
    expect(r.peers).toEqual([{ ip: '127.0.0.1', port: 1001, family: 4, id: Buffer.from('-BK0100-000000001001') }]);
  });
  it('scrapes one, several and all infohashes (BEP 48)', async () => {
    const { server, client } = await start();
    const url = server.http!.announceUrl;
    await client.announce(url, as(1001, { left: 0 }), opts);
    await client.announce(url, as(1002, { event: 'completed', left: 0 }), opts);
    await client.announce(url, as(1003, { infoHash: OTHER }), opts);
    const r = await client.scrape(url, [IH, OTHER], opts);
    expect(r.files.get(IH.toString('hex'))).toEqual({ complete: 2, incomplete: 0, downloaded: 1 });
    expect(r.files.get(OTHER.toString('hex'))).toEqual({ complete: 0, incomplete: 1, downloaded: 0 });
    const all = parseScrapeBody(await get(`http://127.0.0.1:${server.http!.port}/scrape`).then((x) => x.body));
    expect([...all.files.keys()].sort()).toEqual([OTHER.toString('hex'), IH.toString('hex')].sort());
  });
  it('refuses infohashes not on the allow list with a failure reason', async () => {
    const { server, client, events } = await start({ allow: [IH.toString('hex').toUpperCase()] });
    await expect(client.announce(server.http!.announceUrl, as(1, { infoHash: OTHER }), opts)).rejects.toMatchObject({ code: 'TRACKER_FAILURE', message: 'the tracker refused: infohash not allowed on this tracker' });
    expect(events.at(-1)).toMatchObject({ type: 'refused', infoHash: OTHER.toString('hex') });
    await expect(client.announce(server.http!.announceUrl, as(1), opts)).resolves.toMatchObject({ incomplete: 1 });
  });
  it('answers a malformed query and an unknown path with a failure, not a crash', async () => {
    const { server, events } = await start();
    const r1 = await get(`http://127.0.0.1:${server.http!.port}/announce?info_hash=short`);
    expect(r1.status).toBe(400);
    expect(r1.body.toString()).toBe('d14:failure reason28:`info_hash` must be 20 bytese');
    const r2 = await get(`http://127.0.0.1:${server.http!.port}/stats`);
    expect(r2.status).toBe(404);
    expect(r2.body.toString()).toMatch(/^d14:failure reason\d+:no such path "\/stats"/);
    expect(events.map((e) => e.type)).toEqual(['bad-request', 'bad-request']);
  });
  it('records the claimed ip only with trustClientIp', async () => {
    const { server, client } = await start({ trustClientIp: true });
    await client.announce(server.http!.announceUrl, as(1, { ip: '198.51.100.7' }), opts);
    const r = await client.announce(server.http!.announceUrl, as(2), opts);
    expect(r.peers).toEqual([{ ip: '198.51.100.7', port: 1, family: 4 }]);
  });
});

describe('btkit tracker over UDP', () => {
  it('serves BEP 15 announce and scrape, sharing the swarm with HTTP', async () => {
    const { server, client, events } = await start();
    await client.announce(server.http!.announceUrl, as(1001, { left: 0 }), opts);
    const r = await client.announce(server.udp!.announceUrl, as(1002), opts);
    expect(r).toMatchObject({ protocol: 'udp', interval: 60, complete: 1, incomplete: 1, peers: [{ ip: '127.0.0.1', port: 1001 }], packets: 2 });
    const s = await client.scrape(server.udp!.announceUrl, [IH, OTHER], opts);
    expect(s.files.get(IH.toString('hex'))).toEqual({ complete: 1, incomplete: 1, downloaded: 0 });
    expect(s.files.get(OTHER.toString('hex'))).toEqual({ complete: 0, incomplete: 0, downloaded: 0 });
    expect(events.filter((e) => 'protocol' in e && e.protocol === 'udp').map((e) => e.type)).toEqual(['announce', 'scrape']);
  });
  it('removes a peer on stopped', async () => {
    const { server, client } = await start();
    await client.announce(server.udp!.announceUrl, as(1001), opts);
    await client.announce(server.udp!.announceUrl, as(1001, { event: 'stopped' }), opts);
    expect(server.store.scrape(IH)).toEqual({ complete: 0, incomplete: 0, downloaded: 0 });
  });
  it('refuses a forged connection id and infohashes not allowed, with the error action', async () => {
    const { server, client } = await start({ allow: [] });
    await expect(client.announce(server.udp!.announceUrl, as(1), opts)).rejects.toMatchObject({ code: 'TRACKER_FAILURE', message: expect.stringContaining('not allowed') });
    const reply = await udpExchange(server.udp!.port, encodeScrapeRequest({ connectionId: 12345n, transactionId: 77, infoHashes: [IH] }));
    expect(decodeResponse(reply, 4)).toEqual({ action: 'error', transactionId: 77, message: 'invalid or expired connection id' });
  });
  it('accepts a connection id for at least two minutes, and not after three', async () => {
    let now = 1_000_000_020_000;
    const { server } = await start({ now: () => now });
    // One socket for the whole test: the connection id is bound to the client's address and port.
    const sock = dgram.createSocket('udp4');
    cleanups.push(() => new Promise((r) => sock.close(() => r())));
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
    const ask = (b: Buffer) =>
      new Promise<Buffer>((resolve) => {
        sock.once('message', resolve);
        sock.send(b, server.udp!.port, '127.0.0.1');
      });
    const c = decodeResponse(await ask(encodeConnectRequest(5)), 4);
    if (c.action !== 'connect') throw new Error('no connect');
    const sc = () => ask(encodeScrapeRequest({ connectionId: c.connectionId, transactionId: 6, infoHashes: [IH] })).then((b) => decodeResponse(b, 4).action);
    now += 119_000;
    expect(await sc()).toBe('scrape');
    now += 62_000;
    expect(await sc()).toBe('error');
  });
  it('answers 18-byte peers on an IPv6 socket', async () => {
    const { server, client } = await start({ host: '::1' });
    expect(server.udp!.announceUrl).toMatch(/^udp:\/\/\[::1\]:\d+\/announce$/);
    await client.announce(server.udp!.announceUrl, as(1001), opts);
    const r = await client.announce(server.udp!.announceUrl, as(1002), opts);
    expect(r.peers).toEqual([{ ip: '::1', port: 1001, family: 6 }]);
    const h = await client.announce(server.http!.announceUrl, as(1003), opts);
    expect(h.peers.map((p) => p.family)).toEqual([6, 6]);
    expect(h.externalIp).toBe('::1');
  });
  it('can run one front end alone and closes cleanly', async () => {
    const { server } = await start({ httpPort: null });
    expect(server.http).toBeNull();
    expect(server.udp).not.toBeNull();
    await server.close();
    await server.close();
  });
});

function get(url: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    http.get(url, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
    }).on('error', reject);
  });
}

async function udpExchange(port: number, packet: Buffer): Promise<Buffer> {
  const sock = dgram.createSocket('udp4');
  try {
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
    return await new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no UDP answer')), 5000);
      sock.once('message', (m) => {
        clearTimeout(timer);
        resolve(m);
      });
      sock.send(packet, port, '127.0.0.1');
    });
  } finally {
    sock.close();
  }
}
