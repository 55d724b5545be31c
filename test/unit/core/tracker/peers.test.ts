import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { azureusPrefix, makePeerId, parsePeerIdText } from '../../../../src/core/tracker/peer-id.js';
import { decodeCompactPeers, encodeCompactPeers, formatIPv6, formatPeer, ipFamily, normalizeAddress, parseIPv4, parseIPv6 } from '../../../../src/core/tracker/peers.js';

const hx = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('compact peers', () => {
  it('decodes BEP 23 IPv4 entries (address, then big-endian port)', () => {
    expect(decodeCompactPeers(hx('7f000001 1ae1 ffffffff ffff'), 4)).toEqual([
      { ip: '127.0.0.1', port: 6881, family: 4 },
      { ip: '255.255.255.255', port: 65535, family: 4 },
    ]);
  });
  it('decodes BEP 7 IPv6 entries', () => {
    expect(decodeCompactPeers(hx('fe800000000000000000000000000001 0050'), 6)).toEqual([{ ip: 'fe80::1', port: 80, family: 6 }]);
  });
  it('refuses ragged lists with TRACKER_BAD_PEERS', () => {
    expect(() => decodeCompactPeers(hx('7f000001 1a'), 4)).toThrow(expect.objectContaining({ code: 'TRACKER_BAD_PEERS', category: 'network' }));
    expect(() => decodeCompactPeers(hx('7f0000011ae1'), 6)).toThrow(/6 bytes is not a multiple of 18/);
  });
  it('round-trips any IPv4 and IPv6 list (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 65535 })), { maxLength: 20 }), (list) => {
        const peers = list.map(([ip, port]) => ({ ip, port }));
        const back = decodeCompactPeers(encodeCompactPeers(peers, 4), 4);
        expect(back.map((p) => [p.ip, p.port])).toEqual(list);
      }),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.integer({ min: 0, max: 65535 })), { maxLength: 10 }), (list) => {
        const peers = list.map(([raw, port]) => ({ ip: formatIPv6(raw), port }));
        const enc = encodeCompactPeers(peers, 6);
        expect(enc).toEqual(Buffer.concat(list.map(([raw, port]) => Buffer.concat([raw, Buffer.from([port >> 8, port & 255])]))));
      }),
    );
  });
  it('skips peers of the other family when encoding', () => {
    expect(encodeCompactPeers([{ ip: '::1', port: 1 }, { ip: '1.2.3.4', port: 2 }], 4)).toEqual(hx('01020304 0002'));
  });
});

describe('addresses', () => {
  it.each([
    ['00000000000000000000000000000001', '::1'],
    ['00000000000000000000000000000000', '::'],
    ['20010db8000000010000000000000001', '2001:db8:0:1::1'],
    ['20010db8000000000001000000000001', '2001:db8::1:0:0:1'],
    ['00000000000000000000ffff7f000001', '::ffff:127.0.0.1'],
    ['fe800001000200030004000500060007', 'fe80:1:2:3:4:5:6:7'],
  ])('formats %s as %s (RFC 5952) and parses it back', (raw, text) => {
    expect(formatIPv6(hx(raw))).toBe(text);
    expect(parseIPv6(text)).toEqual(hx(raw));
  });
  it('parses brackets, refuses zones (not wire addresses) and junk', () => {
    expect(parseIPv6('[::1]')).toEqual(hx('00000000000000000000000000000001'));
    expect(parseIPv6('fe80::1%eth0')).toBeNull();
    for (const bad of ['1.2.3.4', '1::2::3', 'g::1', '1:2:3:4:5:6:7:8:9', '::ffff:1.2.3.400']) expect(parseIPv6(bad)).toBeNull();
    expect(parseIPv4('256.1.1.1')).toBeNull();
    expect(ipFamily('example.org')).toBeNull();
  });
  it('normalizes IPv4-mapped addresses and formats host:port', () => {
    expect(normalizeAddress('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(normalizeAddress('::1')).toBe('::1');
    expect(formatPeer({ ip: '::1', port: 5 })).toBe('[::1]:5');
    expect(formatPeer({ ip: '1.2.3.4', port: 5 })).toBe('1.2.3.4:5');
  });
});

describe('peer ids (BEP 20)', () => {
  const zeros = (n: number) => new Uint8Array(n);
  it('builds the Azureus-style prefix from a version', () => {
    expect(azureusPrefix('BK', '0.1.0')).toBe('-BK0100-');
    expect(azureusPrefix('BK', '1.12.3-beta')).toBe('-BK1930-');
  });
  it('pads a prefix to 20 bytes with alphanumerics', () => {
    expect(makePeerId('-BK0100-', zeros).toString('latin1')).toBe('-BK0100-000000000000');
    expect(makePeerId('-BK0100-').toString('latin1')).toMatch(/^-BK0100-[0-9A-Za-z]{12}$/);
    expect(() => makePeerId('x'.repeat(21))).toThrow(expect.objectContaining({ code: 'PEER_ID_TOO_LONG', category: 'usage' }));
  });
  it('reads 40 hex digits, a client code, or a prefix', () => {
    expect(parsePeerIdText('ab'.repeat(20))).toEqual(Buffer.alloc(20, 0xab));
    expect(parsePeerIdText('qB4630', zeros).toString('latin1')).toBe('-qB4630-000000000000');
    expect(parsePeerIdText('-UT3550-', zeros).toString('latin1')).toBe('-UT3550-000000000000');
    expect(() => parsePeerIdText('é')).toThrow(expect.objectContaining({ category: 'usage' }));
  });
});
