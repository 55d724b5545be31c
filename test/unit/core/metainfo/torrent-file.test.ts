/**
 * A `.torrent` around received metadata (BEP 9 → BEP 3 file): the info bytes are spliced in
 * verbatim, so the file's infohash is SHA-1 of the received bytes even when they are not
 * canonical; the outer dictionary is what an independent encoder (the `bencode` npm package)
 * writes; BEP 12 tiers and BEP 19 url-list as build.ts writes them.
 */
import { createHash } from 'node:crypto';
import bencode from 'bencode';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildTorrent } from '../../../../src/core/metainfo/build.js';
import { parseTorrent } from '../../../../src/core/metainfo/parse.js';
import { buildTorrentFile } from '../../../../src/core/metainfo/torrent-file.js';
import { thrownSync } from '../../../helpers/errors.js';

const sha1 = (x: Uint8Array) => createHash('sha1').update(x).digest('hex');
const pieces = Buffer.alloc(60, 9);
/** A real info dictionary: the one buildTorrent writes, cut out of its torrent by the parser. */
const info = parseTorrent(buildTorrent({ name: 'movie.mkv', pieceLength: 32768, pieces, files: null, length: 70000 })).infoBytes;

describe('buildTorrentFile', () => {
  it('parses with btkit’s parser, with the infohash of the received bytes', () => {
    const file = buildTorrentFile({ info, announce: [['http://127.0.0.1:6969/announce']] });
    const meta = parseTorrent(file, { mode: 'strict' });
    expect(meta.infoHash.v1!.toString('hex')).toBe(sha1(info));
    expect(Buffer.compare(meta.infoBytes, info)).toBe(0);
    expect(meta.name).toBe('movie.mkv');
    expect(meta.totalLength).toBe(70000);
    expect(meta.trackers).toEqual([['http://127.0.0.1:6969/announce']]);
  });

  it('is byte for byte what the bencode package writes for the same dictionary (canonical info)', () => {
    const file = buildTorrentFile({
      info,
      announce: [['http://a/announce', 'http://b/announce'], ['udp://c:80/announce']],
      urlList: ['http://127.0.0.1/seed/'],
      createdBy: 'btkit/0.1.0',
      creationDate: 1_700_000_000,
      comment: 'from a magnet link',
    });
    const expected = bencode.encode({
      announce: 'http://a/announce',
      'announce-list': [['http://a/announce', 'http://b/announce'], ['udp://c:80/announce']],
      comment: 'from a magnet link',
      'created by': 'btkit/0.1.0',
      'creation date': 1_700_000_000,
      info: bencode.decode(info),
      'url-list': ['http://127.0.0.1/seed/'],
    });
    expect(Buffer.from(file).toString('hex')).toBe(Buffer.from(expected).toString('hex'));
  });

  it('keeps a non-canonical info dict byte for byte (re-encoding would change the infohash)', () => {
    // Keys out of order and an integer with a leading zero: legal to receive, not canonical.
    const odd = Buffer.from(`d4:name3:abc12:piece lengthi016384e6:lengthi5e6:pieces20:${'x'.repeat(20)}e`, 'latin1');
    const file = buildTorrentFile({ info: odd });
    const meta = parseTorrent(file); // lenient by default: reports, does not fix
    expect(meta.infoHash.v1!.toString('hex')).toBe(sha1(odd));
    expect(Buffer.compare(meta.infoBytes, odd)).toBe(0);
    expect(meta.nonCanonical.length).toBeGreaterThan(0);
    // What an encoder round trip would have produced instead: another identity.
    expect(sha1(bencode.encode(bencode.decode(odd)))).not.toBe(sha1(odd));
  });

  it('writes only `info` when nothing else is given; announce-list only when it says more than announce', () => {
    expect(Buffer.from(buildTorrentFile({ info })).toString('latin1')).toBe(`d4:info${Buffer.from(info).toString('latin1')}e`);
    const one = bencode.decode(buildTorrentFile({ info, announce: [['http://a/announce'], []] })) as Record<string, unknown>;
    expect(Object.keys(one).sort()).toEqual(['announce', 'info']);
    const empty = bencode.decode(buildTorrentFile({ info, announce: [], urlList: [] })) as Record<string, unknown>;
    expect(Object.keys(empty)).toEqual(['info']);
  });

  it.each([
    ['not bencode', 'd4:name'],
    ['a list', 'li1ee'],
    ['bytes after the dictionary', 'd1:ai1eexyz'],
    ['empty', ''],
  ])('refuses info that is %s (TORRENT_FILE_BAD_INFO)', (_what, text) => {
    const e = thrownSync(() => buildTorrentFile({ info: Buffer.from(text, 'latin1') }));
    expect(e.code).toBe('TORRENT_FILE_BAD_INFO');
    expect(e.category).toBe('input');
  });

  it('property: any tiers and web seeds leave the infohash alone and match the oracle', () => {
    const url = fc.webUrl({ validSchemes: ['http', 'https'] });
    fc.assert(
      fc.property(fc.array(fc.array(url, { maxLength: 3 }), { maxLength: 3 }), fc.array(url, { maxLength: 2 }), (tiers, seeds) => {
        const file = buildTorrentFile({ info, announce: tiers, urlList: seeds });
        expect(parseTorrent(file, { mode: 'strict' }).infoHash.v1!.toString('hex')).toBe(sha1(info));
        const round = Buffer.from(bencode.encode(bencode.decode(file))).toString('hex');
        expect(Buffer.from(file).toString('hex')).toBe(round);
      }),
      { numRuns: 40 },
    );
  });
});
