/** BEP 5 / BEP 32 compact peer and node info, and the address checks used on network input. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeCompactNodes,
  decodeCompactPeer,
  encodeCompactNodes,
  encodeCompactPeer,
  formatHostPort,
  formatIpv6,
  isUsableAddress,
  parseIpv4,
  parseIpv6,
} from '../../../../src/core/dht/compact.js';

const id = (byte: number) => Buffer.alloc(20, byte);

describe('IPv4 and IPv6 text', () => {
  it('parses dotted quads and refuses anything else', () => {
    expect(parseIpv4('127.0.0.1')).toEqual(Buffer.from([127, 0, 0, 1]));
    for (const bad of ['256.0.0.1', '1.2.3', '1.2.3.4.5', 'a.b.c.d', '', '::1']) expect(parseIpv4(bad)).toBeNull();
  });

  it('parses IPv6 with ::, embedded IPv4 and brackets', () => {
    expect(parseIpv6('::1')!.toString('hex')).toBe('00000000000000000000000000000001');
    expect(parseIpv6('[2001:db8::1]')!.toString('hex')).toBe('20010db8000000000000000000000001');
    expect(parseIpv6('::ffff:192.0.2.1')!.toString('hex')).toBe('00000000000000000000ffffc0000201');
    expect(parseIpv6('1:2:3:4:5:6:7:8')!.toString('hex')).toBe('00010002000300040005000600070008');
    for (const bad of ['1:2:3:4:5:6:7:8:9', '1::2::3', '12345::', 'fe80::1%eth0', '127.0.0.1', ':::', '1:2:3:4:5:6:7']) {
      expect(parseIpv6(bad), bad).toBeNull();
    }
  });

  it('formats IPv6 the RFC 5952 way', () => {
    expect(formatIpv6(parseIpv6('2001:0db8:0000:0000:0000:0000:0000:0001')!)).toBe('2001:db8::1');
    expect(formatIpv6(parseIpv6('2001:db8:0:1:1:1:1:1')!)).toBe('2001:db8:0:1:1:1:1:1'); // one zero group stays
    expect(formatIpv6(parseIpv6('1:0:0:2:0:0:0:3')!)).toBe('1:0:0:2::3'); // the longest run is shortened
    expect(formatIpv6(Buffer.alloc(16))).toBe('::');
  });

  it('round-trips any 16 bytes through format and parse', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (bytes) => {
      expect(parseIpv6(formatIpv6(bytes))).toEqual(Buffer.from(bytes));
    }), { numRuns: 500 });
  });

  it('writes host:port with brackets for IPv6', () => {
    expect(formatHostPort('127.0.0.1', 6881)).toBe('127.0.0.1:6881');
    expect(formatHostPort('::1', 6881)).toBe('[::1]:6881');
  });
});

describe('compact peers (BEP 5, BEP 32)', () => {
  it('encodes and decodes 6- and 18-byte forms', () => {
    const v4 = encodeCompactPeer('192.0.2.3', 6881);
    expect(v4.toString('hex')).toBe('c00002031ae1');
    expect(decodeCompactPeer(v4)).toEqual({ host: '192.0.2.3', port: 6881, family: 4 });
    const v6 = encodeCompactPeer('2001:db8::7', 51413);
    expect(v6.length).toBe(18);
    expect(decodeCompactPeer(v6)).toEqual({ host: '2001:db8::7', port: 51413, family: 6 });
  });

  it('refuses other lengths', () => {
    for (const n of [0, 5, 7, 17, 19, 26]) expect(decodeCompactPeer(new Uint8Array(n))).toBeNull();
  });
});

describe('compact nodes (BEP 5 nodes, BEP 32 nodes6)', () => {
  it('round-trips both families and skips the other family when encoding', () => {
    const nodes = [
      { id: id(1), host: '127.0.0.1', port: 7001 },
      { id: id(2), host: '::1', port: 7002 },
      { id: id(3), host: '127.0.0.2', port: 7003 },
    ];
    const v4 = encodeCompactNodes(nodes, 4);
    expect(v4.length).toBe(52);
    expect(decodeCompactNodes(v4, 4).nodes.map((n) => [n.id[0], n.host, n.port])).toEqual([[1, '127.0.0.1', 7001], [3, '127.0.0.2', 7003]]);
    const v6 = encodeCompactNodes(nodes, 6);
    expect(v6.length).toBe(38);
    expect(decodeCompactNodes(v6, 6).nodes).toEqual([{ id: id(2), host: '::1', port: 7002, family: 6 }]);
  });

  it('reports a misaligned string as malformed and decodes none of it', () => {
    const d = decodeCompactNodes(Buffer.alloc(26 * 3 + 5), 4);
    expect(d).toEqual({ nodes: [], malformed: true, skipped: 0 });
  });

  it('decodes at most `max` entries of a huge list', () => {
    const huge = Buffer.alloc(26 * 2000, 7);
    const d = decodeCompactNodes(huge, 4, 16);
    expect(d.nodes.length).toBe(16);
    expect(d.skipped).toBe(1984);
  });
});

describe('isUsableAddress', () => {
  it('accepts ordinary unicast addresses', () => {
    for (const [h, p] of [['127.0.0.1', 1], ['8.8.8.8', 6881], ['::1', 65535], ['2001:db8::1', 80]] as const) expect(isUsableAddress(h, p)).toBe(true);
  });
  it('refuses port 0, unspecified, multicast, broadcast and non-IP hosts', () => {
    for (const [h, p] of [
      ['127.0.0.1', 0], ['0.0.0.0', 6881], ['0.1.2.3', 6881], ['224.0.0.1', 6881], ['255.255.255.255', 6881],
      ['240.0.0.1', 1], ['::', 6881], ['ff02::1', 6881], ['example.com', 6881], ['127.0.0.1', 70000],
    ] as const) expect(isUsableAddress(h, p), `${h}:${p}`).toBe(false);
  });
});
