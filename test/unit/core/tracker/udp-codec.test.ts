/**
 * BEP 15 / BEP 41 packets against byte fixtures written out by hand from the BEP's tables (not
 * produced by the encoder), in both directions.
 */
import { describe, expect, it } from 'vitest';
import {
  MAX_SCRAPE_HASHES,
  decodeRequest,
  decodeResponse,
  decodeUrlData,
  encodeAnnounceRequest,
  encodeAnnounceResponse,
  encodeConnectRequest,
  encodeConnectResponse,
  encodeErrorResponse,
  encodeScrapeRequest,
  encodeScrapeResponse,
  encodeUrlData,
  ipv4Field,
  peekTransactionId,
} from '../../../../src/core/tracker/udp-codec.js';

const hx = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const IH = hx('9924e7603a28353e40ea29b8660c8a582ebdc99c');
const PID = Buffer.from('-BK0100-abcdefghijkl', 'latin1');

describe('connect', () => {
  const request = hx('00000417 27101980  00000000  deadbeef');
  const response = hx('00000000  deadbeef  0123456789abcdef');

  it('encodes the request with the protocol id', () => {
    expect(encodeConnectRequest(0xdeadbeef)).toEqual(request);
  });
  it('decodes the request', () => {
    expect(decodeRequest(request)).toEqual({ action: 'connect', transactionId: 0xdeadbeef, protocolId: 0x41727101980n });
  });
  it('encodes and decodes the response', () => {
    expect(encodeConnectResponse(0xdeadbeef, 0x0123456789abcdefn)).toEqual(response);
    expect(decodeResponse(response, 4)).toEqual({ action: 'connect', transactionId: 0xdeadbeef, connectionId: 0x0123456789abcdefn });
  });
  it('refuses a 15-byte connect answer', () => {
    expect(() => decodeResponse(response.subarray(0, 15), 4)).toThrow(expect.objectContaining({ code: 'TRACKER_BAD_PACKET' }));
  });
});

describe('announce request', () => {
  const fixture = hx(
    [
      '0123456789abcdef', // connection id
      '00000001', // action announce
      '00000007', // transaction id
      '9924e7603a28353e40ea29b8660c8a582ebdc99c', // info hash
      Buffer.from('-BK0100-abcdefghijkl').toString('hex'), // peer id
      '0000000000000010', // downloaded 16
      '0000000100000000', // left 2^32
      '0000000000000020', // uploaded 32
      '00000002', // event started
      '7f000001', // ip 127.0.0.1
      'cafebabe', // key
      'ffffffff', // num_want -1
      '1ae1', // port 6881
    ].join(''),
  );
  const req = {
    connectionId: 0x0123456789abcdefn,
    transactionId: 7,
    infoHash: IH,
    peerId: PID,
    downloaded: 16n,
    left: 2n ** 32n,
    uploaded: 32n,
    event: 'started' as const,
    ip: ipv4Field('127.0.0.1'),
    key: 0xcafebabe,
    numWant: -1,
    port: 6881,
  };

  it('is 98 bytes laid out as BEP 15 says', () => {
    expect(fixture.length).toBe(98);
    expect(encodeAnnounceRequest(req)).toEqual(fixture);
  });
  it('decodes back, fields and all', () => {
    expect(decodeRequest(fixture)).toMatchObject({ action: 'announce', ...req, infoHash: IH, peerId: PID });
  });
  it('numbers events none=0 completed=1 started=2 stopped=3', () => {
    for (const [event, code] of [['none', 0], ['completed', 1], ['started', 2], ['stopped', 3]] as const) {
      expect(encodeAnnounceRequest({ ...req, event }).readUInt32BE(80)).toBe(code);
    }
  });
  it('appends BEP 41 URL data after the 98 bytes', () => {
    const withUrl = encodeAnnounceRequest({ ...req, urlData: '/announce?passkey=x' });
    expect(withUrl.subarray(98)).toEqual(Buffer.concat([hx('0213'), Buffer.from('/announce?passkey=x')]));
    expect(decodeRequest(withUrl)).toMatchObject({ urlData: '/announce?passkey=x' });
  });
  it('refuses an announce shorter than 98 bytes', () => {
    expect(() => decodeRequest(fixture.subarray(0, 97))).toThrow(expect.objectContaining({ code: 'TRACKER_BAD_PACKET' }));
  });
  it('ipv4Field is 0 (use the sender) for anything but a dotted quad', () => {
    expect(ipv4Field(undefined)).toBe(0);
    expect(ipv4Field('::1')).toBe(0);
    expect(ipv4Field('192.0.2.3')).toBe(0xc0000203);
  });
});

describe('BEP 41 URL data', () => {
  it('splits data longer than 255 bytes into several options and joins them back', () => {
    const path = `/announce?${'k'.repeat(300)}`;
    const opts = encodeUrlData(path);
    expect(opts[0]).toBe(2);
    expect(opts[1]).toBe(255);
    expect(opts[257]).toBe(2);
    expect(opts[258]).toBe(path.length - 255);
    expect(decodeUrlData(opts)).toBe(path);
  });
  it('skips NOPs and stops at end-of-options', () => {
    expect(decodeUrlData(hx('01 02 02 2f61 01 02 01 62 00 02 01 63'))).toBe('/ab');
  });
  it('is empty for an empty path', () => {
    expect(encodeUrlData('')).toHaveLength(0);
  });
});

describe('announce response', () => {
  const v4 = hx('00000001 00000007 00000708 00000002 00000001  7f000001 1ae1  c0000202 c8d5');
  const v6 = hx('00000001 00000007 00000708 00000000 00000001  00000000000000000000000000000001 1ae1');

  it('decodes IPv4 peers (6 bytes each) over an IPv4 socket', () => {
    expect(decodeResponse(v4, 4)).toEqual({
      action: 'announce',
      transactionId: 7,
      interval: 1800,
      leechers: 2,
      seeders: 1,
      peers: [
        { ip: '127.0.0.1', port: 6881, family: 4 },
        { ip: '192.0.2.2', port: 51413, family: 4 },
      ],
    });
  });
  it('decodes IPv6 peers (18 bytes each) over an IPv6 socket', () => {
    expect(decodeResponse(v6, 6)).toMatchObject({ leechers: 0, seeders: 1, peers: [{ ip: '::1', port: 6881, family: 6 }] });
  });
  it('encodes both', () => {
    const peers = [{ ip: '127.0.0.1', port: 6881 }, { ip: '192.0.2.2', port: 51413 }];
    expect(encodeAnnounceResponse({ transactionId: 7, interval: 1800, leechers: 2, seeders: 1, peers }, 4)).toEqual(v4);
    expect(encodeAnnounceResponse({ transactionId: 7, interval: 1800, leechers: 0, seeders: 1, peers: [{ ip: '::1', port: 6881 }] }, 6)).toEqual(v6);
  });
  it('refuses a truncated peer list', () => {
    expect(() => decodeResponse(v4.subarray(0, v4.length - 1), 4)).toThrow(expect.objectContaining({ code: 'TRACKER_BAD_PACKET' }));
    expect(() => decodeResponse(v6.subarray(0, 30), 6)).toThrow(/not a multiple of 18/);
  });
  it('refuses an announce answer shorter than its 20-byte header', () => {
    expect(() => decodeResponse(v4.subarray(0, 19), 4)).toThrow(expect.objectContaining({ code: 'TRACKER_BAD_PACKET' }));
  });
});

describe('scrape', () => {
  const H2 = hx('00112233445566778899aabbccddeeff00112233');
  const request = Buffer.concat([hx('0123456789abcdef 00000002 00000009'), IH, H2]);
  const response = hx('00000002 00000009  00000005 00000064 00000003  00000000 00000000 00000000');

  it('encodes and decodes the request', () => {
    expect(encodeScrapeRequest({ connectionId: 0x0123456789abcdefn, transactionId: 9, infoHashes: [IH, H2] })).toEqual(request);
    expect(decodeRequest(request)).toEqual({ action: 'scrape', connectionId: 0x0123456789abcdefn, transactionId: 9, infoHashes: [IH, H2] });
  });
  it('encodes and decodes the response: seeders, completed, leechers per hash', () => {
    const stats = [
      { complete: 5, downloaded: 100, incomplete: 3 },
      { complete: 0, downloaded: 0, incomplete: 0 },
    ];
    expect(encodeScrapeResponse(9, stats)).toEqual(response);
    expect(decodeResponse(response, 4)).toEqual({ action: 'scrape', transactionId: 9, stats });
  });
  it('carries 1 to 74 infohashes', () => {
    const many = Array.from({ length: MAX_SCRAPE_HASHES + 1 }, () => IH);
    expect(encodeScrapeRequest({ connectionId: 1n, transactionId: 1, infoHashes: many.slice(0, 74) })).toHaveLength(16 + 74 * 20);
    expect(() => encodeScrapeRequest({ connectionId: 1n, transactionId: 1, infoHashes: many })).toThrow(/1 to 74/);
    expect(() => encodeScrapeRequest({ connectionId: 1n, transactionId: 1, infoHashes: [] })).toThrow(/1 to 74/);
  });
  it('refuses ragged bodies', () => {
    expect(() => decodeResponse(response.subarray(0, 19), 4)).toThrow(expect.objectContaining({ code: 'TRACKER_BAD_PACKET' }));
    expect(() => decodeRequest(request.subarray(0, 40))).toThrow(expect.objectContaining({ code: 'TRACKER_BAD_PACKET' }));
  });
});

describe('error', () => {
  const fixture = Buffer.concat([hx('00000003 0000002a'), Buffer.from('torrent not registered')]);
  it('encodes and decodes the message', () => {
    expect(encodeErrorResponse(42, 'torrent not registered')).toEqual(fixture);
    expect(decodeResponse(fixture, 4)).toEqual({ action: 'error', transactionId: 42, message: 'torrent not registered' });
  });
  it('tolerates a NUL-terminated message', () => {
    expect(decodeResponse(Buffer.concat([fixture, hx('00')]), 4)).toMatchObject({ message: 'torrent not registered' });
  });
});

describe('robustness', () => {
  it('peeks the transaction id of any packet of 8 bytes or more', () => {
    expect(peekTransactionId(hx('00000001 12345678'))).toBe(0x12345678);
    expect(peekTransactionId(hx('00000001 123456'))).toBeNull();
  });
  it('refuses unknown actions and short packets', () => {
    expect(() => decodeResponse(hx('00000009 00000001'), 4)).toThrow(/unknown action 9/);
    expect(() => decodeResponse(hx('000000'), 4)).toThrow(expect.objectContaining({ code: 'TRACKER_BAD_PACKET', category: 'network' }));
    expect(() => decodeRequest(hx('00000417271019800000000900000001'))).toThrow(/unknown action 9/);
  });
  it('never throws anything but TRACKER_BAD_PACKET on random bytes', () => {
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
    for (let i = 0; i < 2000; i++) {
      const len = rand() % 64;
      const b = Buffer.from(Array.from({ length: len }, rand));
      if (i % 4 === 0 && len >= 4) b.writeUInt32BE(i % 5, 0);
      for (const f of [() => decodeResponse(b, 4), () => decodeResponse(b, 6), () => decodeRequest(b)]) {
        try {
          f();
        } catch (err) {
          expect(err).toMatchObject({ code: 'TRACKER_BAD_PACKET' });
        }
      }
    }
  });
});
