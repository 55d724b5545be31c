/**
 * Magnet links (BEP 9, BEP 53 `so`, BEP 52 `btmh`): parse/format round trips, every parameter,
 * and the errors with their codes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BtError } from '../../../../src/core/errors.js';
import { base32Decode, base32Encode, formatMagnet, formatSelect, type Magnet, parseInfoHashText, parseMagnet, peerAddressDefect } from '../../../../src/core/metainfo/index.js';

const HEX = 'c12fe1c06bba254a9dc9f519b335aa7c1367a88a';
const V1 = Buffer.from(HEX, 'hex');
// RFC 4648 base32 of the same 20 bytes (computed with `base32` from coreutils).
const B32 = 'YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKEK';
const V2HEX = 'caf1e1c30e81cb361b9ee167c4aa64228a7fa4fa9f6105232b28ad099f3a302e';

function codeOf(uri: string): string {
  try {
    parseMagnet(uri);
  } catch (e) {
    expect(e).toBeInstanceOf(BtError);
    expect((e as BtError).category).toBe('input');
    return (e as BtError).code;
  }
  return 'OK';
}

describe('infohash text', () => {
  it('hex (either case) and base32 (either case) give the same 20 bytes', () => {
    expect(parseInfoHashText(HEX)!.equals(V1)).toBe(true);
    expect(parseInfoHashText(HEX.toUpperCase())!.equals(V1)).toBe(true);
    expect(parseInfoHashText(B32)!.equals(V1)).toBe(true);
    expect(parseInfoHashText(B32.toLowerCase())!.equals(V1)).toBe(true);
    expect(base32Encode(V1)).toBe(B32);
  });

  it.each([HEX.slice(1), `${HEX}0`, `${HEX.slice(1)}g`, B32.slice(1), `${B32.slice(1)}1`, '', 'x'])('%j is not an infohash', (t) => {
    expect(parseInfoHashText(t)).toBeNull();
  });

  it('base32 round-trips any bytes (RFC 4648 test vectors too)', () => {
    expect(base32Encode(Buffer.from('foobar'))).toBe('MZXW6YTBOI');
    expect(base32Decode('MZXW6YTBOI======')!.toString()).toBe('foobar');
    expect(base32Decode('MZXW6YQ=')!.toString()).toBe('foob');
    expect(base32Decode('MZ1W')).toBeNull();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        expect([...base32Decode(base32Encode(bytes))!]).toEqual([...bytes]);
      }),
      { numRuns: 200 },
    );
  });
});

describe('parseMagnet', () => {
  it('hex btih, dn with spaces and UTF-8, several tr, ws, x.pe, xl, so', () => {
    const m = parseMagnet(
      `magnet:?xt=urn:btih:${HEX}&dn=My+Holiday%20Photos%20%E2%80%94%20%C3%A9t%C3%A9` +
        '&tr=http%3A%2F%2F127.0.0.1%3A6969%2Fannounce&tr=udp://127.0.0.1:6969&tr.1=http://127.0.0.1:7000/announce%3Fk%3Dv' +
        '&ws=http://127.0.0.1:8000/files/&x.pe=127.0.0.1:6881&x.pe=%5B::1%5D:6882&xl=123456789&so=0,2-4,7',
    );
    expect(m.infoHash.v1!.equals(V1)).toBe(true);
    expect(m.infoHash.v2).toBeNull();
    expect(m.name).toBe('My Holiday Photos — été');
    expect(m.trackers).toEqual(['http://127.0.0.1:6969/announce', 'udp://127.0.0.1:6969', 'http://127.0.0.1:7000/announce?k=v']);
    expect(m.webSeeds).toEqual(['http://127.0.0.1:8000/files/']);
    expect(m.peers).toEqual(['127.0.0.1:6881', '[::1]:6882']);
    expect(m.exactLength).toBe(123456789);
    expect(m.select).toEqual([
      [0, 0],
      [2, 4],
      [7, 7],
    ]);
    expect(m.extra).toEqual([]);
  });

  it('base32 btih', () => {
    expect(parseMagnet(`magnet:?xt=urn:btih:${B32}`).infoHash.v1!.equals(V1)).toBe(true);
    expect(parseMagnet(`MAGNET:?xt=URN:BTIH:${B32.toLowerCase()}`).infoHash.v1!.equals(V1)).toBe(true);
  });

  it('btmh (v2, sha2-256 multihash) alone, and with btih in a hybrid link via numbered xt', () => {
    const v2only = parseMagnet(`magnet:?xt=urn:btmh:1220${V2HEX}&dn=x`);
    expect(v2only.infoHash.v1).toBeNull();
    expect(v2only.infoHash.v2!.toString('hex')).toBe(V2HEX);
    const hybrid = parseMagnet(`magnet:?xt.1=urn:btih:${HEX}&xt.2=urn:btmh:1220${V2HEX}`);
    expect(hybrid.infoHash.v1!.equals(V1)).toBe(true);
    expect(hybrid.infoHash.v2!.toString('hex')).toBe(V2HEX);
  });

  it('keeps unknown parameters, in order, with their names as given', () => {
    const m = parseMagnet(`magnet:?xt=urn:btih:${HEX}&kt=a+b&xt=urn:ed2k:31D6CFE0D16AE931B73C59D7E0C089C0&x.foo=%26bar&flag&as=http://127.0.0.1/x`);
    expect(m.extra).toEqual([
      ['kt', 'a b'],
      ['xt', 'urn:ed2k:31D6CFE0D16AE931B73C59D7E0C089C0'],
      ['x.foo', '&bar'],
      ['flag', ''],
      ['as', 'http://127.0.0.1/x'],
    ]);
    expect(m.infoHash.v1!.equals(V1)).toBe(true);
  });

  it.each([
    ['https://example.invalid/?xt=urn:btih:' + HEX, 'MAGNET_NOT_MAGNET'],
    ['magnet:?dn=nothing', 'MAGNET_NO_INFOHASH'],
    ['magnet:?', 'MAGNET_NO_INFOHASH'],
    ['magnet:?xt=urn:ed2k:31D6CFE0D16AE931B73C59D7E0C089C0', 'MAGNET_NO_INFOHASH'],
    [`magnet:?xt=urn:btih:${HEX.slice(2)}`, 'MAGNET_BAD_INFOHASH'],
    [`magnet:?xt=urn:btih:${HEX}00`, 'MAGNET_BAD_INFOHASH'],
    [`magnet:?xt=urn:btih:${B32.slice(0, 31)}0`, 'MAGNET_BAD_INFOHASH'],
    ['magnet:?xt=urn:btih:', 'MAGNET_NO_INFOHASH'],
    [`magnet:?xt=urn:btmh:1114${V2HEX}`, 'MAGNET_BAD_INFOHASH'],
    [`magnet:?xt=urn:btmh:1220${V2HEX.slice(2)}`, 'MAGNET_BAD_INFOHASH'],
    [`magnet:?xt=urn:btih:${HEX}&dn=%E0%A4%A`, 'MAGNET_BAD_ENCODING'],
    [`magnet:?xt=urn:btih:${HEX}&dn=100%`, 'MAGNET_BAD_ENCODING'],
    [`magnet:?xt=urn:btih:${HEX}&tr=%zz`, 'MAGNET_BAD_ENCODING'],
    [`magnet:?xt=urn:btih:${HEX}&dn=%FF`, 'MAGNET_BAD_ENCODING'],
    [`magnet:?xt=urn:btih:%ZZ${HEX}`, 'MAGNET_BAD_ENCODING'],
    [`magnet:?xt=urn:btih:${HEX}&so=`, 'MAGNET_BAD_SELECT'],
    [`magnet:?xt=urn:btih:${HEX}&so=a`, 'MAGNET_BAD_SELECT'],
    [`magnet:?xt=urn:btih:${HEX}&so=4-2`, 'MAGNET_BAD_SELECT'],
    [`magnet:?xt=urn:btih:${HEX}&so=1,,2`, 'MAGNET_BAD_SELECT'],
    [`magnet:?xt=urn:btih:${HEX}&so=-1`, 'MAGNET_BAD_SELECT'],
    [`magnet:?xt=urn:btih:${HEX}&so=99999999999999999999`, 'MAGNET_BAD_SELECT'],
    [`magnet:?xt=urn:btih:${HEX}&xl=-1`, 'MAGNET_BAD_LENGTH'],
    [`magnet:?xt=urn:btih:${HEX}&xl=1e3`, 'MAGNET_BAD_LENGTH'],
    [`magnet:?xt=urn:btih:${HEX}&xl=`, 'MAGNET_BAD_LENGTH'],
    [`magnet:?xt=urn:btih:${HEX}&xl=99999999999999999999`, 'MAGNET_BAD_LENGTH'],
  ])('%s → %s', (uri, code) => {
    expect(codeOf(uri)).toBe(code);
  });
});

describe('formatMagnet', () => {
  it('writes hex btih and a 1220 btmh, escapes what must be escaped, keeps : and / bare', () => {
    const m: Magnet = {
      infoHash: { v1: V1, v2: Buffer.from(V2HEX, 'hex') },
      name: 'a b&c=d+é',
      trackers: ['http://127.0.0.1:6969/announce?x=1&y=2'],
      webSeeds: [],
      peers: ['[::1]:6881'],
      exactLength: 42,
      select: [
        [1, 1],
        [3, 5],
      ],
      extra: [['kt', 'tag one']],
    };
    expect(formatMagnet(m)).toBe(
      `magnet:?xt=urn:btih:${HEX}&xt=urn:btmh:1220${V2HEX}&dn=a%20b%26c%3Dd%2B%C3%A9&xl=42` +
        '&tr=http://127.0.0.1:6969/announce%3Fx%3D1%26y%3D2&x.pe=%5B::1%5D:6881&so=1,3-5&kt=tag%20one',
    );
    expect(parseMagnet(formatMagnet(m))).toEqual(m);
  });

  it('a base32 or upper-case link is written back as lower-case hex, meaning unchanged', () => {
    const text = formatMagnet(parseMagnet(`magnet:?xt=urn:btih:${B32}&dn=x`));
    expect(text).toBe(`magnet:?xt=urn:btih:${HEX}&dn=x`);
  });

  it('numbered keys are written plain (BEP 9: they mean the same)', () => {
    expect(formatMagnet(parseMagnet(`magnet:?xt.1=urn:btih:${HEX}&tr.1=udp://127.0.0.1:1&tr.2=udp://127.0.0.1:2`))).toBe(
      `magnet:?xt=urn:btih:${HEX}&tr=udp://127.0.0.1:1&tr=udp://127.0.0.1:2`,
    );
  });

  /** Any text a magnet can carry: valid Unicode (no lone surrogates), including &, =, +, %, #, spaces. */
  const text = fc.string({ unit: fc.oneof(fc.constantFrom('&', '=', '+', '%', '#', ' ', '?', ':', '/', '[', ']'), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 })), maxLength: 24 });
  const extraKey = fc.stringMatching(/^[a-z][a-z0-9._-]{0,6}$/).filter((k) => !/^(xt|dn|tr|ws|x\.pe|xl|so)(\.\d+)?$/.test(k));
  const range = fc.tuple(fc.nat(1000), fc.nat(1000)).map(([a, b]): [number, number] => (a <= b ? [a, b] : [b, a]));
  const magnet: fc.Arbitrary<Magnet> = fc
    .record({
      v1: fc.option(fc.uint8Array({ minLength: 20, maxLength: 20 }), { nil: null }),
      v2: fc.option(fc.uint8Array({ minLength: 32, maxLength: 32 }), { nil: null }),
      name: fc.option(text, { nil: undefined }),
      trackers: fc.array(text, { maxLength: 3 }),
      webSeeds: fc.array(text, { maxLength: 2 }),
      // Only peer addresses survive parsing (invalid x.pe values are flagged in badPeers, below).
      peers: fc.array(fc.constantFrom('127.0.0.1:6881', '[::1]:6882', 'localhost:51413', '127.0.0.255:65535'), { maxLength: 2 }),
      exactLength: fc.option(fc.maxSafeNat(), { nil: undefined }),
      select: fc.option(fc.array(range, { minLength: 1, maxLength: 3 }), { nil: undefined }),
      extra: fc.array(fc.tuple(extraKey, text), { maxLength: 3 }),
    })
    .filter((r) => r.v1 !== null || r.v2 !== null)
    .map((r) => {
      const m: Magnet = {
        infoHash: { v1: r.v1 && Buffer.from(r.v1), v2: r.v2 && Buffer.from(r.v2) },
        trackers: r.trackers,
        webSeeds: r.webSeeds,
        peers: r.peers,
        extra: r.extra,
      };
      if (r.name !== undefined) m.name = r.name;
      if (r.exactLength !== undefined) m.exactLength = r.exactLength;
      if (r.select !== undefined) m.select = r.select;
      return m;
    });

  it('parse(format(m)) = m and format(parse(format(m))) = format(m) for random links', () => {
    fc.assert(
      fc.property(magnet, (m) => {
        const text1 = formatMagnet(m);
        const back = parseMagnet(text1);
        expect(back).toEqual(m);
        expect(formatMagnet(back)).toBe(text1);
      }),
      { numRuns: 300 },
    );
  });
});

describe('x.pe checks (issue 13 item 11): flagged, not refused', () => {
  it('999.1.1.1:99999 is no peer: kept out of peers, listed in badPeers with the reason; the link still parses', () => {
    const m = parseMagnet(`magnet:?xt=urn:btih:${HEX}&x.pe=999.1.1.1:99999&x.pe=127.0.0.1:6881`);
    expect(m.peers).toEqual(['127.0.0.1:6881']);
    expect(m.badPeers).toEqual([{ value: '999.1.1.1:99999', reason: 'port 99999 is outside 1-65535' }]);
    expect(formatMagnet(m)).not.toContain('999.1.1.1');
  });

  it.each([
    ['999.1.1.1:6881', 'is not an IPv4 address'],
    ['127.2.3.4:0', 'outside 1-65535'],
    ['127.2.3.4:65536', 'outside 1-65535'],
    ['127.2.3.4', 'not host:port'],
    ['[::g]:6881', 'is not an IPv6 address'],
    ['bad_host!:6881', 'neither an IP address nor a host name'],
    ['-x.example:6881', 'neither an IP address nor a host name'],
    [':6881', 'neither an IP address nor a host name'],
  ])('%s: %s', (value, reason) => {
    expect(peerAddressDefect(value)).toContain(reason);
    expect(parseMagnet(`magnet:?xt=urn:btih:${HEX}&x.pe=${encodeURIComponent(value)}`).badPeers?.[0]?.value).toBe(value);
  });

  it.each(['127.0.0.1:1', '[::1]:65535', '[2001:db8::7]:6881', 'localhost:6881', 'seed.example.org:51413', 'a-b.example:80'])('%s is a peer address', (value) => {
    expect(peerAddressDefect(value)).toBeNull();
  });
});

describe('formatSelect', () => {
  it('writes ranges as so= does: [[0,0],[2,3]] → 0,2-3', () => {
    expect(formatSelect([[0, 0], [2, 3]])).toBe('0,2-3');
  });
});
