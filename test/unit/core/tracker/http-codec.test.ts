/**
 * HTTP tracker codec (BEP 3, 7, 23, 24, 48) against hand-written bencoded fixtures.
 */
import { describe, expect, it } from 'vitest';
import {
  buildAnnounceUrl,
  buildScrapeUrl,
  encodeAnnounceBody,
  encodeFailureBody,
  encodeScrapeBody,
  parseAnnounceBody,
  parseAnnounceQuery,
  parseScrapeBody,
  parseScrapeQuery,
  percentDecodeBytes,
  percentEncodeBytes,
  scrapeUrlFor,
} from '../../../../src/core/tracker/http-codec.js';
import type { AnnounceParams } from '../../../../src/core/tracker/types.js';

const hx = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const b = (s: string) => Buffer.from(s, 'latin1');
const IH = hx('9924e7603a28353e40ea29b8660c8a582ebdc99c');
const PID = b('-BK0100-abcdefghijkl');

const params: AnnounceParams = {
  infoHash: IH,
  peerId: PID,
  port: 6881,
  uploaded: 0,
  downloaded: 10,
  left: 2n ** 40n,
  event: 'started',
  numWant: 50,
  key: 0xbeef,
};

describe('percent-encoding of raw bytes', () => {
  it('keeps unreserved characters and escapes every other byte, not as UTF-8', () => {
    expect(percentEncodeBytes(IH)).toBe('%99%24%E7%60%3A%285%3E%40%EA%29%B8f%0C%8AX.%BD%C9%9C');
    expect(percentEncodeBytes(b('aZ09-._~ /+%'))).toBe('aZ09-._~%20%2F%2B%25');
  });
  it('decodes back to the same bytes', () => {
    expect(percentDecodeBytes(percentEncodeBytes(IH))).toEqual(IH);
    expect(percentDecodeBytes('a+b%2Bc')).toEqual(b('a b+c'));
    expect(percentDecodeBytes('%zz')).toBeNull();
    expect(percentDecodeBytes('%4')).toBeNull();
  });
});

describe('announce URL', () => {
  it('carries every BEP 3 parameter', () => {
    const url = buildAnnounceUrl('http://t.example/announce', params);
    expect(url).toBe(
      'http://t.example/announce?info_hash=%99%24%E7%60%3A%285%3E%40%EA%29%B8f%0C%8AX.%BD%C9%9C&peer_id=-BK0100-abcdefghijkl' +
        '&port=6881&uploaded=0&downloaded=10&left=1099511627776&event=started&compact=1&no_peer_id=1&numwant=50&key=0000BEEF',
    );
  });
  it('appends to an existing query (passkeys) and drops a fragment', () => {
    expect(buildAnnounceUrl('http://t/announce?passkey=abc#x', { ...params, event: 'none' })).toMatch(/^http:\/\/t\/announce\?passkey=abc&info_hash=/);
    expect(buildAnnounceUrl('http://t/announce?', params)).toMatch(/^http:\/\/t\/announce\?info_hash=/);
  });
  it('leaves out event=none and numwant=-1; sends ip, trackerid, compact=0', () => {
    const url = buildAnnounceUrl('http://t/a', { ...params, event: 'none', numWant: -1, ip: '::1', trackerId: b('id 1'), compact: false, noPeerId: false });
    expect(url).not.toMatch(/event=|numwant=|no_peer_id/);
    expect(url).toMatch(/&compact=0/);
    expect(url).toMatch(/&ip=%3A%3A1/);
    expect(url).toMatch(/&trackerid=id%201$/);
  });
});

describe('BEP 48 scrape URL', () => {
  it.each([
    ['http://example.com/announce', 'http://example.com/scrape'],
    ['http://example.com/x/announce', 'http://example.com/x/scrape'],
    ['http://example.com/announce.php', 'http://example.com/scrape.php'],
    ['http://example.com/a', null],
    ['http://example.com/announce?x2%0644', 'http://example.com/scrape?x2%0644'],
    ['http://example.com/a?x=y', null],
    ['http://example.com/x%064announce', null],
  ])('%s → %s', (announce, scrape) => {
    expect(scrapeUrlFor(announce)).toBe(scrape);
  });
  it('puts several infohashes in one request', () => {
    expect(buildScrapeUrl('http://t/scrape', [IH, b('aaaaaaaaaaaaaaaaaaaa')])).toBe(
      'http://t/scrape?info_hash=%99%24%E7%60%3A%285%3E%40%EA%29%B8f%0C%8AX.%BD%C9%9C&info_hash=aaaaaaaaaaaaaaaaaaaa',
    );
  });
});

describe('announce answers', () => {
  it('compact IPv4 peers (BEP 23) with every optional field', () => {
    const body = Buffer.concat([
      b('d8:completei3e10:downloadedi7e11:external ip4:'),
      hx('cb007105'),
      b('10:incompletei4e8:intervali1800e12:min intervali60e5:peers12:'),
      hx('7f0000011ae1 c0000202c8d5'),
      b('10:tracker id3:xyz15:warning message8:be nice.e'),
    ]);
    expect(parseAnnounceBody(body)).toEqual({
      interval: 1800,
      minInterval: 60,
      complete: 3,
      incomplete: 4,
      downloaded: 7,
      warning: 'be nice.',
      externalIp: '203.0.113.5',
      trackerId: b('xyz'),
      peers: [
        { ip: '127.0.0.1', port: 6881, family: 4 },
        { ip: '192.0.2.2', port: 51413, family: 4 },
      ],
    });
  });
  it('a body as large as the 2 MiB cap allows: 130,000 and 349,000 compact peers, 116,000 in peers6 (issue 15)', () => {
    // `peers.push(...decodeCompactPeers(…))` passed every peer as an argument: past the call
    // stack at 130,000 (RangeError, which the CLI reported as an internal error).
    const entry4 = hx('7f0000011ae1');
    const entry6 = hx('00000000000000000000000000000001 1ae1');
    for (const [n4, n6] of [[130_000, 0], [349_000, 0], [0, 116_000]] as const) {
      const body = Buffer.concat([
        b(`d8:intervali60e5:peers${n4 * 6}:`),
        Buffer.alloc(n4 * 6).fill(entry4),
        b(`6:peers6${n6 * 18}:`),
        Buffer.alloc(n6 * 18).fill(entry6),
        b('e'),
      ]);
      expect(body.length).toBeLessThanOrEqual(2 * 1024 * 1024);
      const peers = parseAnnounceBody(body).peers;
      expect(peers).toHaveLength(n4 + n6);
      expect(peers[peers.length - 1]).toEqual(n6 ? { ip: '::1', port: 6881, family: 6 } : { ip: '127.0.0.1', port: 6881, family: 4 });
    }
  });
  it('a dictionary-model list of 150,000 peers is read without a spread', () => {
    const one = 'd2:ip9:127.0.0.14:porti1ee';
    const body = b(`d8:intervali60e5:peersl${one.repeat(150_000)}ee`);
    expect(parseAnnounceBody(body).peers).toHaveLength(150_000);
  });
  it('the dictionary model (BEP 3), with and without peer ids, IPv6 text and hostnames', () => {
    const body = b('d8:intervali900e5:peersld2:ip9:127.0.0.17:peer id20:-XX0001-aaaaaaaaaaaa4:porti6881eed2:ip3:::14:porti1eed2:ip9:peer.host4:porti2eeee');
    expect(parseAnnounceBody(body).peers).toEqual([
      { ip: '127.0.0.1', port: 6881, family: 4, id: b('-XX0001-aaaaaaaaaaaa') },
      { ip: '::1', port: 1, family: 6 },
      { ip: 'peer.host', port: 2, family: 4 },
    ]);
  });
  it('IPv6 peers in peers6 (BEP 7) and an IPv6 external ip (BEP 24)', () => {
    const body = Buffer.concat([
      b('d11:external ip16:'),
      hx('20010db8000000000000000000000001'),
      b('8:intervali60e5:peers0:6:peers636:'),
      hx('00000000000000000000000000000001 1ae1  20010db8000000000000000000000002 0050'),
      b('e'),
    ]);
    const r = parseAnnounceBody(body);
    expect(r.externalIp).toBe('2001:db8::1');
    expect(r.peers).toEqual([
      { ip: '::1', port: 6881, family: 6 },
      { ip: '2001:db8::2', port: 80, family: 6 },
    ]);
  });
  it('a failure reason is TRACKER_FAILURE with the text (and BEP 31 retry in)', () => {
    expect(() => parseAnnounceBody(b('d14:failure reason17:torrent not found8:retry ini30ee'))).toThrow(
      expect.objectContaining({ code: 'TRACKER_FAILURE', category: 'network', message: 'the tracker refused: torrent not found', detail: { failureReason: 'torrent not found', retryInMinutes: 30 } }),
    );
  });
  it('a warning alone does not fail the announce', () => {
    expect(parseAnnounceBody(b('d8:intervali5e5:peers0:15:warning message4:slowe')).warning).toBe('slow');
  });
  it('tolerates unsorted keys and a trailing newline', () => {
    expect(parseAnnounceBody(b('d8:intervali5e5:peers0:8:completei1ee\r\n'))).toMatchObject({ interval: 5, complete: 1 });
  });
  it('refuses a body that is not bencoded, naming what it began with', () => {
    expect(() => parseAnnounceBody(b('<html><body>502 Bad Gateway</body></html>'))).toThrow(
      expect.objectContaining({ code: 'TRACKER_BAD_RESPONSE', category: 'network', message: expect.stringContaining('`<html><body>502') }),
    );
    expect(() => parseAnnounceBody(b('d8:intervali5e5:peers0:eGARBAGE'))).toThrow(expect.objectContaining({ code: 'TRACKER_BAD_RESPONSE' }));
    expect(() => parseAnnounceBody(b('li1ee'))).toThrow(/not a dictionary/);
    expect(() => parseAnnounceBody(b(''))).toThrow(expect.objectContaining({ code: 'TRACKER_BAD_RESPONSE' }));
  });
  it('refuses a truncated compact list', () => {
    expect(() => parseAnnounceBody(Buffer.concat([b('d8:intervali5e5:peers11:'), hx('7f0000011ae1 7f000001 1a'), b('e')]))).toThrow(
      expect.objectContaining({ code: 'TRACKER_BAD_PEERS', message: expect.stringContaining('11 bytes is not a multiple of 6') }),
    );
    expect(() => parseAnnounceBody(Buffer.concat([b('d8:intervali5e5:peers0:6:peers63:'), hx('000000'), b('e')]))).toThrow(expect.objectContaining({ code: 'TRACKER_BAD_PEERS' }));
  });
  it('refuses an answer without interval, or with a malformed peer', () => {
    expect(() => parseAnnounceBody(b('d5:peers0:e'))).toThrow(/without an `interval`/);
    expect(() => parseAnnounceBody(b('d8:intervali5e5:peersld4:porti1eeee'))).toThrow(expect.objectContaining({ code: 'TRACKER_BAD_PEERS' }));
    expect(() => parseAnnounceBody(b('d8:intervali5e5:peersi3ee'))).toThrow(expect.objectContaining({ code: 'TRACKER_BAD_RESPONSE' }));
  });
});

describe('scrape answers', () => {
  it('reads files keyed by raw infohash, with name and flags', () => {
    const body = Buffer.concat([
      b('d5:filesd20:'),
      IH,
      b('d8:completei5e10:downloadedi50e10:incompletei10e4:name3:abcee5:flagsd20:min_request_intervali900eee'),
    ]);
    const r = parseScrapeBody(body);
    expect(r.files.get('9924e7603a28353e40ea29b8660c8a582ebdc99c')).toEqual({ complete: 5, downloaded: 50, incomplete: 10, name: 'abc' });
    expect(r.minRequestInterval).toBe(900);
  });
  it('a failure reason, a missing files dict and garbage are errors', () => {
    expect(() => parseScrapeBody(b('d14:failure reason4:nopee'))).toThrow(expect.objectContaining({ code: 'TRACKER_FAILURE' }));
    expect(() => parseScrapeBody(b('de'))).toThrow(/no `files`/);
    expect(() => parseScrapeBody(b('not bencode'))).toThrow(expect.objectContaining({ code: 'TRACKER_BAD_RESPONSE' }));
  });
});

describe('BEP 7 addresses', () => {
  it('sends ipv4= and ipv6= percent-encoded, and a tracker reads them back as written', () => {
    const url = buildAnnounceUrl('http://t/announce', { ...params, ipv4: '192.0.2.7:6881', ipv6: '[2001:db8::7]:6881' });
    expect(url).toContain('&ipv4=192.0.2.7%3A6881&ipv6=%5B2001%3Adb8%3A%3A7%5D%3A6881');
    const q = parseAnnounceQuery(url.slice(url.indexOf('?') + 1));
    expect(q).toMatchObject({ ipv4: '192.0.2.7:6881', ipv6: '[2001:db8::7]:6881' });
    expect(parseAnnounceQuery(buildAnnounceUrl('http://t/a', params).split('?')[1]!)).not.toHaveProperty('ipv6');
  });
});

describe('server side', () => {
  it('parses the query a client builds (round trip through the URL)', () => {
    const url = buildAnnounceUrl('http://t/announce', { ...params, ip: '192.0.2.9', trackerId: b('tid') });
    const q = parseAnnounceQuery(url.slice(url.indexOf('?') + 1));
    expect(q).toEqual({
      infoHash: IH,
      peerId: PID,
      port: 6881,
      uploaded: 0n,
      downloaded: 10n,
      left: 2n ** 40n,
      event: 'started',
      numWant: 50,
      compact: true,
      noPeerId: true,
      key: '0000BEEF',
      ip: '192.0.2.9',
      trackerId: b('tid'),
    });
  });
  it('names the bad parameter', () => {
    const ok = 'info_hash=' + percentEncodeBytes(IH) + '&peer_id=' + percentEncodeBytes(PID);
    expect(() => parseAnnounceQuery('peer_id=x&port=1')).toThrow(/`info_hash` must be 20 bytes/);
    expect(() => parseAnnounceQuery(`${ok}`)).toThrow(/missing `port`/);
    expect(() => parseAnnounceQuery(`${ok}&port=70000`)).toThrow(/`port` is out of range/);
    expect(() => parseAnnounceQuery(`${ok}&port=1&left=-1`)).toThrow(/`left` is not a non-negative integer/);
    expect(() => parseAnnounceQuery(`${ok}&port=1&event=paused`)).toThrow(/unknown `event`/);
    expect(parseAnnounceQuery(`${ok}&port=1&event=empty&compact=0`)).toMatchObject({ event: 'none', compact: false, left: 0n });
  });
  it('parses scrape queries', () => {
    expect(parseScrapeQuery(`info_hash=${percentEncodeBytes(IH)}&info_hash=${percentEncodeBytes(IH)}`)).toEqual([IH, IH]);
    expect(parseScrapeQuery('')).toEqual([]);
    expect(() => parseScrapeQuery('info_hash=abc')).toThrow(/20 bytes/);
  });
  it('encodes compact answers the client codec reads back, v4 in peers and v6 in peers6', () => {
    const body = encodeAnnounceBody({
      interval: 60,
      minInterval: 30,
      complete: 1,
      incomplete: 2,
      downloaded: 3,
      compact: true,
      externalIp: '127.0.0.1',
      peers: [{ ip: '127.0.0.1', port: 1 }, { ip: '::1', port: 2 }],
    });
    expect(body.toString('latin1')).toContain('5:peers6:');
    expect(body.toString('latin1')).toContain('6:peers618:');
    expect(parseAnnounceBody(body)).toEqual({
      interval: 60,
      minInterval: 30,
      complete: 1,
      incomplete: 2,
      downloaded: 3,
      externalIp: '127.0.0.1',
      peers: [{ ip: '127.0.0.1', port: 1, family: 4 }, { ip: '::1', port: 2, family: 6 }],
    });
  });
  it('encodes the dictionary model with peer ids unless no_peer_id', () => {
    const peers = [{ ip: '127.0.0.1', port: 1, id: PID }];
    const withIds = encodeAnnounceBody({ interval: 60, complete: 0, incomplete: 1, compact: false, peers });
    expect(withIds.toString('latin1')).toBe('d8:completei0e10:incompletei1e8:intervali60e5:peersld2:ip9:127.0.0.17:peer id20:-BK0100-abcdefghijkl4:porti1eeee');
    const without = encodeAnnounceBody({ interval: 60, complete: 0, incomplete: 1, compact: false, noPeerId: true, peers });
    expect(without.toString('latin1')).not.toContain('peer id');
  });
  it('encodes scrape and failure bodies', () => {
    const body = encodeScrapeBody([[IH, { complete: 1, incomplete: 2, downloaded: 3 }]]);
    expect(body).toEqual(Buffer.concat([b('d5:filesd20:'), IH, b('d8:completei1e10:downloadedi3e10:incompletei2eeee')]));
    expect(encodeFailureBody('no').toString()).toBe('d14:failure reason2:noe');
  });
});
