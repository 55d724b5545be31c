/**
 * Building a v1 torrent: exactly the canonical bencode an independent encoder (the `bencode` npm
 * package) gives for the same dictionary, reproducible, announce-list only when it says more than
 * announce (BEP 12), private/source inside the info dict (BEP 27), url-list (BEP 19).
 */
import { createHash } from 'node:crypto';
import bencode from 'bencode';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BtError } from '../../../../src/core/errors.js';
import { buildTorrent, type BuildInput } from '../../../../src/core/metainfo/build.js';
import { parseTorrent } from '../../../../src/core/metainfo/parse.js';
import { treeOrder } from '../../../../src/core/metainfo/v2-layout.js';

const pieces = Buffer.alloc(40, 7);
const single: BuildInput = { name: 'file.bin', pieceLength: 16384, pieces, files: null, length: 20000 };
const multi: BuildInput = {
  name: 'dir',
  pieceLength: 16384,
  pieces,
  files: [
    { path: ['a.txt'], length: 1 },
    { path: ['sub', 'ä'], length: 19999 },
    { path: ['z'], length: 0 },
  ],
};

/** The decoded torrent as plain objects, byte strings as Buffers. */
const decoded = (bytes: Uint8Array) => bencode.decode(Buffer.from(bytes)) as Record<string, any>;
const text = (v: unknown) => Buffer.from(v as Uint8Array).toString('utf8');

describe('buildTorrent', () => {
  it('a single-file torrent is byte for byte what an independent encoder gives', () => {
    const bytes = buildTorrent({ ...single, trackers: [['http://127.0.0.1:6969/announce']] });
    const expected = bencode.encode({
      announce: 'http://127.0.0.1:6969/announce',
      info: { length: 20000, name: 'file.bin', 'piece length': 16384, pieces },
    });
    expect(Buffer.from(bytes)).toEqual(Buffer.from(expected));
  });

  it('a multi-file torrent is byte for byte what an independent encoder gives, files in the given order', () => {
    const bytes = buildTorrent(multi);
    const expected = bencode.encode({
      info: {
        files: [
          { length: 1, path: ['a.txt'] },
          { length: 19999, path: ['sub', 'ä'] },
          { length: 0, path: ['z'] },
        ],
        name: 'dir',
        'piece length': 16384,
        pieces,
      },
    });
    expect(Buffer.from(bytes)).toEqual(Buffer.from(expected));
    const meta = parseTorrent(bytes, { mode: 'strict' });
    expect(meta.files.map((f) => [f.path.join('/'), f.length, f.offset])).toEqual([['a.txt', 1, 0], ['sub/ä', 19999, 1], ['z', 0, 20000]]);
    expect(meta.multiFile).toBe(true);
  });

  it('is reproducible: the same input gives the same bytes, and dates/creators only when given', () => {
    expect(buildTorrent(multi)).toEqual(buildTorrent({ ...multi }));
    const plain = decoded(buildTorrent(multi));
    expect(plain['creation date']).toBeUndefined();
    expect(plain['created by']).toBeUndefined();
    expect(plain.comment).toBeUndefined();
    const full = decoded(buildTorrent({ ...multi, creationDate: 1_700_000_000, createdBy: 'btkit/0.1.0', comment: 'hi' }));
    expect(full['creation date']).toBe(1_700_000_000);
    expect(text(full['created by'])).toBe('btkit/0.1.0');
    expect(text(full.comment)).toBe('hi');
  });

  it('neither date, creator nor comment changes the infohash', () => {
    const a = parseTorrent(buildTorrent(multi)).infoHash.v1;
    const b = parseTorrent(buildTorrent({ ...multi, creationDate: 1, createdBy: 'x', comment: 'y', trackers: [['udp://t:1/announce']] })).infoHash.v1;
    expect(a).toEqual(b);
  });

  it('announce only, for a single tracker', () => {
    const t = decoded(buildTorrent({ ...single, trackers: [['http://a/announce']] }));
    expect(text(t.announce)).toBe('http://a/announce');
    expect(t['announce-list']).toBeUndefined();
  });

  it('announce-list when a tier has two trackers or there are two tiers; announce is the first', () => {
    const sameTier = decoded(buildTorrent({ ...single, trackers: [['http://a/announce', 'http://b/announce']] }));
    expect(text(sameTier.announce)).toBe('http://a/announce');
    expect(sameTier['announce-list'].map((tier: unknown[]) => tier.map(text))).toEqual([['http://a/announce', 'http://b/announce']]);
    const tiers = decoded(buildTorrent({ ...single, trackers: [['http://a/announce', 'http://b/announce'], ['udp://c:80/announce']] }));
    expect(tiers['announce-list'].map((tier: unknown[]) => tier.map(text))).toEqual([['http://a/announce', 'http://b/announce'], ['udp://c:80/announce']]);
    expect(parseTorrent(buildTorrent({ ...single, trackers: [['http://a/announce'], ['udp://c:80/announce']] })).trackers).toEqual([['http://a/announce'], ['udp://c:80/announce']]);
  });

  it('no announce at all without trackers; empty tiers are dropped', () => {
    const none = decoded(buildTorrent(single));
    expect(none.announce).toBeUndefined();
    expect(none['announce-list']).toBeUndefined();
    const empty = decoded(buildTorrent({ ...single, trackers: [[], ['http://a/announce'], []] }));
    expect(text(empty.announce)).toBe('http://a/announce');
    expect(empty['announce-list']).toBeUndefined();
  });

  it('private and source go inside the info dict and change the infohash', () => {
    const base = parseTorrent(buildTorrent(single));
    const priv = parseTorrent(buildTorrent({ ...single, private: true }));
    const src = parseTorrent(buildTorrent({ ...single, source: 'TRACKER' }));
    expect(decoded(priv.infoBytes).private).toBe(1);
    expect(decoded(base.infoBytes).private).toBeUndefined();
    expect(decoded(buildTorrent({ ...single, private: false })).info.private).toBeUndefined();
    expect(priv.private).toBe(true);
    expect(text(decoded(src.infoBytes).source)).toBe('TRACKER');
    expect(src.source).toBe('TRACKER');
    const hashes = new Set([base, priv, src].map((m) => m.infoHash.v1!.toString('hex')));
    expect(hashes.size).toBe(3);
    expect(base.infoHash.v1).toEqual(createHash('sha1').update(bencode.encode({ length: 20000, name: 'file.bin', 'piece length': 16384, pieces })).digest());
  });

  it('url-list only when there are web seeds', () => {
    expect(decoded(buildTorrent(single))['url-list']).toBeUndefined();
    expect(decoded(buildTorrent({ ...single, webSeeds: [] }))['url-list']).toBeUndefined();
    const t = parseTorrent(buildTorrent({ ...single, webSeeds: ['http://ws/a/', 'http://ws/b/'] }));
    expect(t.webSeeds).toEqual(['http://ws/a/', 'http://ws/b/']);
  });

  it('parses back in strict mode to the same facts', () => {
    const meta = parseTorrent(buildTorrent({ ...single, trackers: [['http://a/announce']], private: true, source: 's', comment: 'c', createdBy: 'me', creationDate: 5 }), { mode: 'strict' });
    expect(meta).toMatchObject({ name: 'file.bin', pieceLength: 16384, pieceCount: 2, totalLength: 20000, multiFile: false, private: true, source: 's', comment: 'c', createdBy: 'me', creationDate: 5 });
    expect(meta.pieces).toEqual(pieces);
  });

  it('refuses an unsafe name or file path', () => {
    for (const [input, code] of [
      [{ ...single, name: '..' }, 'METAINFO_PATH_TRAVERSAL'],
      [{ ...single, name: 'a/b' }, 'METAINFO_PATH_ABSOLUTE'],
      [{ ...multi, files: [{ path: ['ok', '..', 'x'], length: 1 }] }, 'METAINFO_PATH_TRAVERSAL'],
      [{ ...multi, files: [{ path: [], length: 1 }] }, 'METAINFO_PATH_EMPTY'],
    ] as const) {
      let err: unknown;
      try {
        buildTorrent(input as BuildInput);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(BtError);
      expect((err as BtError).code).toBe(code);
      expect((err as BtError).category).toBe('input');
    }
  });
});

describe('buildTorrent: the v2 file tree', () => {
  // Files in tree order are written straight to bytes; any other order goes through a dictionary
  // per directory that the encoder sorts. Both must give the same torrent.
  const component = fc.constantFrom('a', 'a.txt', 'b', 'B', 'ä', 'z z', '\u{1F600}', '\uE000', 'x-1', '.hidden');
  const file = fc.record({
    path: fc.array(component, { minLength: 1, maxLength: 3 }),
    length: fc.nat({ max: 1 << 20 }),
    attr: fc.constantFrom(undefined, 'x', 'xh'),
  });
  it('from files in tree order, the same bytes as from the same files in any other order', () => {
    fc.assert(
      fc.property(fc.array(file, { maxLength: 25 }), fc.nat(), (raw, seed) => {
        // Unique paths, none a directory of another.
        const keys = new Set(raw.map((f) => f.path.join('/')));
        const files = raw.filter((f, i) => raw.findIndex((g) => g.path.join('/') === f.path.join('/')) === i && ![...keys].some((k) => k.startsWith(`${f.path.join('/')}/`)));
        if (files.length === 0) return;
        const tree = files.map((f, i) => ({ path: f.path, length: f.length, root: f.length > 0 ? Buffer.alloc(32, i + 1) : null, ...(f.attr ? { attr: f.attr } : {}) }));
        const sorted = treeOrder(tree);
        const shuffled = [...sorted].map((f, i) => ({ f, k: (i * 7919 + seed) % 101 })).sort((a, b) => a.k - b.k).map((x) => x.f);
        const build = (t: typeof tree) => buildTorrent({ name: 'n', pieceLength: 16384, pieces: Buffer.alloc(0), files: null, version: 'v2', tree: t });
        expect(Buffer.compare(build(sorted), build(shuffled.length > 1 ? shuffled.reverse() : shuffled))).toBe(0);
        const parsed = parseTorrent(build(sorted), { mode: 'strict', allowV2Only: true });
        expect(parsed.files.filter((f) => !f.padding).map((f) => f.path.join('/'))).toEqual(sorted.map((f) => f.path.join('/')));
      }),
      { numRuns: 300 },
    );
  });
});
