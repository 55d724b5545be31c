import type { AnnounceParams } from '../../src/core/tracker/index.js';
/**
 * Fake trackers for the hostile-answer suite: an HTTP server and a UDP socket on loopback, port 0,
 * whose every answer the test scripts. Each is closed by `close()` (call it in afterEach).
 */
import http from 'node:http';
import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';

export interface FakeHttp {
  url: (path?: string) => string;
  requests: string[];
  close(): Promise<void>;
}

export async function fakeHttpTracker(handler: (req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<FakeHttp> {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    requests.push(req.url ?? '');
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: (path = '/announce') => `http://127.0.0.1:${port}${path}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface FakeUdp {
  url: (path?: string) => string;
  port: number;
  /** Every datagram received, in order. */
  packets: Buffer[];
  send(b: Buffer, to: dgram.RemoteInfo): void;
  close(): Promise<void>;
}

export async function fakeUdpTracker(
  handler: (msg: Buffer, from: dgram.RemoteInfo, reply: (b: Buffer) => void, index: number) => void,
  host = '127.0.0.1',
): Promise<FakeUdp> {
  const socket = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  const packets: Buffer[] = [];
  socket.on('message', (msg, rinfo) => {
    packets.push(msg);
    handler(msg, rinfo, (b) => socket.send(b, rinfo.port, rinfo.address), packets.length - 1);
  });
  await new Promise<void>((resolve) => socket.bind(0, host, resolve));
  const port = socket.address().port;
  const h = host.includes(':') ? `[${host}]` : host;
  return {
    url: (path = '/announce') => `udp://${h}:${port}${path}`,
    port,
    packets,
    send: (b, to) => socket.send(b, to.port, to.address),
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

/** A port on 127.0.0.1 that nothing listens on (bound, then released). */
export async function closedTcpPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** A UDP port on 127.0.0.1 that nothing listens on (bound, then closed): the host answers ICMP port-unreachable. */
export async function closedUdpPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  const port = s.address().port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** The announce the tracker tests send: a fixed infohash and peer id, `started`, 50 wanted. */
export const TEST_INFO_HASH = Buffer.from('9924e7603a28353e40ea29b8660c8a582ebdc99c', 'hex');
export const TEST_ANNOUNCE: AnnounceParams = {
  infoHash: TEST_INFO_HASH,
  peerId: Buffer.from('-BK0100-abcdefghijkl'),
  port: 6881,
  uploaded: 0,
  downloaded: 0,
  left: 1,
  event: 'started',
  numWant: 50,
  key: 1,
};
