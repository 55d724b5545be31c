/**
 * Valid torrents through parseTorrent (BEP 3, 12, 19, 27, 47, 52 detection), and the rule that the
 * infohash is over the info dictionary's original bytes (anacrolix/libtorrent: "the original bytes
 * are the truth"), checked against hashes computed by hand outside btkit.
 */
import { layerHashes, rootFromLayer } from '../../../../src/core/metainfo/merkle.js';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { type BEncodable, type BDict, decode, encode, keyOf } from '../../../../src/core/bencode/index.js';
import { BtError } from '../../../../src/core/errors.js';
import { type Metainfo, parseTorrent, pieceHash, pieceSize, unsafeComponent } from '../../../../src/core/metainfo/index.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const sha1 = (x: Uint8Array) => createHash('sha1').update(x).digest();
const hashes = (n: number): Buffer => Buffer.concat(Array.from({ length: n }, (_, i) => sha1(Buffer.from([i]))));
const TRACKER = 'http://127.0.0.1:6969/announce';

function single(over: Record<string, BEncodable | undefined> = {}, infoOver: Record<string, BEncodable | undefined> = {}): Buffer {
  return encode({ announce: TRACKER, info: { length: 40000, name: 'hello.txt', 'piece length': 16384, pieces: hashes(3), ...infoOver }, ...over });
}

function multi(files: { length: number; path: string[]; attr?: string }[], infoOver: Record<string, BEncodable | undefined> = {}, pieceLength = 16384): Buffer {
  const total = files.reduce((n, f) => n + f.length, 0);
  return encode({ info: { files, name: 'dir', 'piece length': pieceLength, pieces: hashes(Math.ceil(total / pieceLength)), ...infoOver } });
}

function codeOf(bytes: Uint8Array, mode: 'strict' | 'lenient' = 'lenient'): string {
  try {
    parseTorrent(bytes, { mode });
  } catch (e) {
    expect(e).toBeInstanceOf(BtError);
    return (e as BtError).code;
  }
  return 'OK';
}

describe('the infohash is over the original info bytes', () => {
  // Written by hand, not by btkit's encoder: the info dict's keys are out of order (name before
  // length), the outer dict puts `info` before `announce`, and `creation date` has a leading zero.
  const piecesHex = 'aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d'; // SHA-1("hello")
  const info = Buffer.concat([b('d4:name9:hello.txt6:lengthi5e12:piece lengthi16384e6:pieces20:'), Buffer.from(piecesHex, 'hex'), b('e')]);
  const torrent = Buffer.concat([b('d4:info'), info, b(`8:announce${TRACKER.length}:${TRACKER}13:creation datei01700000000ee`)]);
  // `sha1sum`/`sha256sum` of `info` above, computed outside btkit (and libtorrent 2.0 agrees on the v1 hash).
  const SHA1_OF_INFO = 'f7ba5f51e61eab68c3f52a610b7274edf27e7060';
  const SHA1_OF_CANONICAL_INFO = '0eb2d544ef0c9ae3c0fbba90a71cd742a44aa81d';

  it('spanOf(info) is the info bytes exactly, although the outer dict is not canonical', () => {
    const r = decode(torrent, { mode: 'lenient' });
    const infoDict = (r.value as BDict).get('info') as BDict;
    const span = r.spanOf(infoDict)!;
    expect(span).toEqual({ start: 7, end: 7 + info.length });
    expect(torrent.subarray(span.start, span.end).equals(info)).toBe(true);
    expect(r.nonCanonical.map((n) => n.kind)).toEqual(['unsorted-keys', 'unsorted-keys', 'integer-leading-zero']);
  });

  it('the v1 infohash is SHA-1 over those bytes, not over a re-encoding', () => {
    const meta = parseTorrent(torrent);
    expect(meta.infoHash.v1!.toString('hex')).toBe(SHA1_OF_INFO);
    expect(meta.infoBytes.equals(info)).toBe(true);
    // The canonical re-encoding is a different torrent as far as the swarm is concerned.
    expect(sha1(encode((decode(torrent, { mode: 'lenient' }).value as BDict).get('info')!)).toString('hex')).toBe(SHA1_OF_CANONICAL_INFO);
    expect(meta.nonCanonical.length).toBe(3);
    expect(meta.creationDate).toBe(1_700_000_000);
  });

  it('strict mode refuses the same torrent', () => {
    expect(codeOf(torrent, 'strict')).toBe('BENCODE_NONCANONICAL_UNSORTED_KEYS');
  });

  it('the same bytes inside a larger buffer (a Uint8Array view at an offset) give the same hash', () => {
    const host = new Uint8Array(torrent.length + 11);
    host.set(torrent, 11);
    const meta = parseTorrent(host.subarray(11));
    expect(meta.infoHash.v1!.toString('hex')).toBe(SHA1_OF_INFO);
    expect(meta.infoBytes.equals(info)).toBe(true);
  });

  it('with duplicate `info` keys (lenient), the first one is the torrent', () => {
    const other = encode({ length: 1, name: 'x', 'piece length': 16384, pieces: hashes(1) });
    const dup = Buffer.concat([b('d4:info'), info, b('4:info'), other, b('e')]);
    expect(parseTorrent(dup).infoHash.v1!.toString('hex')).toBe(SHA1_OF_INFO);
    expect(parseTorrent(dup).nonCanonical).toContainEqual({ kind: 'duplicate-key', offset: 7 + info.length });
  });
});

describe('valid torrents', () => {
  it('single file', () => {
    const bytes = single();
    const meta = parseTorrent(bytes, { mode: 'strict' });
    expect(meta).toMatchObject<Partial<Metainfo>>({
      version: 'v1',
      name: 'hello.txt',
      pieceLength: 16384,
      pieceCount: 3,
      totalLength: 40000,
      multiFile: false,
      private: false,
      trackers: [[TRACKER]],
      webSeeds: [],
      dhtNodes: [],
      nonCanonical: [],
    });
    expect(meta.files).toEqual([{ path: ['hello.txt'], length: 40000, offset: 0, attr: '', padding: false }]);
    expect(meta.infoHash.v2).toBeNull();
    const infoStart = bytes.indexOf('4:infod') + 6;
    expect(meta.infoBytes.equals(bytes.subarray(infoStart, bytes.length - 1))).toBe(true);
    expect(meta.infoHash.v1!.equals(sha1(bytes.subarray(infoStart, bytes.length - 1)))).toBe(true);
    expect(pieceSize(meta, 0)).toBe(16384);
    expect(pieceSize(meta, 2)).toBe(40000 - 2 * 16384);
    expect(pieceHash(meta, 1).equals(hashes(3).subarray(20, 40))).toBe(true);
  });

  it('multi-file: paths below the name, offsets in the piece stream, multiFile even for one file', () => {
    const meta = parseTorrent(
      multi([
        { length: 10, path: ['a', 'b.txt'] },
        { length: 0, path: ['empty'] },
        { length: 20000, path: ['c'] },
      ]),
    );
    expect(meta.multiFile).toBe(true);
    expect(meta.name).toBe('dir');
    expect(meta.files.map((f) => [f.path.join('/'), f.length, f.offset])).toEqual([
      ['a/b.txt', 10, 0],
      ['empty', 0, 10],
      ['c', 20000, 10],
    ]);
    expect(meta.totalLength).toBe(20010);
    expect(meta.pieceCount).toBe(2);
    expect(parseTorrent(multi([{ length: 5, path: ['only'] }])).multiFile).toBe(true);
  });

  it('BEP 12: announce-list wins over announce; empty tiers and URLs are dropped', () => {
    const meta = parseTorrent(
      single({
        announce: 'http://127.0.0.1:1/ignored',
        'announce-list': [['http://127.0.0.1:2/a', 'udp://127.0.0.1:3'], [], ['', 'http://127.0.0.1:4/b'], b('not a tier')],
      }),
    );
    expect(meta.trackers).toEqual([['http://127.0.0.1:2/a', 'udp://127.0.0.1:3'], ['http://127.0.0.1:4/b']]);
    expect(parseTorrent(single({ 'announce-list': [[], ['']] })).trackers).toEqual([[TRACKER]]);
    expect(parseTorrent(single({ announce: undefined })).trackers).toEqual([]);
  });

  it('BEP 19: url-list as one string or a list', () => {
    expect(parseTorrent(single({ 'url-list': 'http://127.0.0.1:8000/x' })).webSeeds).toEqual(['http://127.0.0.1:8000/x']);
    expect(parseTorrent(single({ 'url-list': ['http://127.0.0.1:8000/x', 'http://127.0.0.1:8001/'] })).webSeeds).toEqual([
      'http://127.0.0.1:8000/x',
      'http://127.0.0.1:8001/',
    ]);
    expect(parseTorrent(single({ 'url-list': '' })).webSeeds).toEqual([]);
  });

  it('BEP 17: httpseeds apart from url-list, as a list (or one string)', () => {
    const meta = parseTorrent(single({ httpseeds: ['http://127.0.0.1:8000/seed.php', ''], 'url-list': 'http://127.0.0.1:8001/' }));
    expect(meta.httpSeeds).toEqual(['http://127.0.0.1:8000/seed.php']);
    expect(meta.webSeeds).toEqual(['http://127.0.0.1:8001/']);
    expect(parseTorrent(single({ httpseeds: 'http://127.0.0.1:8000/s' })).httpSeeds).toEqual(['http://127.0.0.1:8000/s']);
    expect(parseTorrent(single()).httpSeeds).toEqual([]);
    expect(parseTorrent(single({ httpseeds: 5 })).httpSeeds).toEqual([]);
  });

  it('BEP 27: private is info.private = 1 (and only in the info dict)', () => {
    expect(parseTorrent(single({}, { private: 1 })).private).toBe(true);
    expect(parseTorrent(single({}, { private: 0 })).private).toBe(false);
    expect(parseTorrent(single({ private: 1 })).private).toBe(false);
    // private changes the info dict, so it changes the infohash.
    expect(parseTorrent(single({}, { private: 1 })).infoHash.v1!.equals(parseTorrent(single()).infoHash.v1!)).toBe(false);
  });

  it('BEP 47: padding files are marked, counted in offsets, and may repeat `.pad/N`', () => {
    const meta = parseTorrent(
      multi([
        { length: 10000, path: ['a'] },
        { length: 6384, path: ['.pad', '6384'], attr: 'p' },
        { length: 10000, path: ['b'], attr: 'x' },
        { length: 6384, path: ['.pad', '6384'], attr: 'p' },
        { length: 5, path: ['c'] },
      ]),
    );
    expect(meta.files.map((f) => [f.path.join('/'), f.offset, f.padding, f.attr])).toEqual([
      ['a', 0, false, ''],
      ['.pad/6384', 10000, true, 'p'],
      ['b', 16384, false, 'x'],
      ['.pad/6384', 26384, true, 'p'],
      ['c', 32768, false, ''],
    ]);
    expect(meta.totalLength).toBe(32773);
    expect(meta.pieceCount).toBe(3);
    // A repeated path that is not padding is still refused.
    expect(codeOf(multi([{ length: 1, path: ['.pad', '1'] }, { length: 1, path: ['.pad', '1'] }]))).toBe('METAINFO_DUPLICATE_PATH');
    // Padding paths are still checked for safety.
    expect(codeOf(multi([{ length: 1, path: ['..', 'pad'], attr: 'p' }]))).toBe('METAINFO_PATH_TRAVERSAL');
  });

  it('BEP 47: symlink targets are read when attr has `l`', () => {
    const bytes = encode({
      info: {
        files: [
          { length: 1, path: ['a'] },
          { attr: 'l', length: 0, path: ['link'], 'symlink path': ['a'] },
        ],
        name: 'dir',
        'piece length': 16384,
        pieces: hashes(1),
      },
    });
    expect(parseTorrent(bytes).files[1]!.symlinkPath).toEqual(['a']);
  });

  it('name.utf-8 and path.utf-8 are preferred over name and path', () => {
    const latin1Name = Buffer.from([0x63, 0x61, 0x66, 0xe9]); // "café" in Latin-1: not UTF-8
    const meta = parseTorrent(
      encode({
        info: {
          files: [{ length: 3, path: [Buffer.from([0xe9])], 'path.utf-8': ['é'] }],
          name: latin1Name,
          'name.utf-8': 'café',
          'piece length': 16384,
          pieces: hashes(1),
        },
      }),
    );
    expect(meta.name).toBe('café');
    expect(meta.files[0]!.path).toEqual(['é']);
    // When both are UTF-8 the .utf-8 twin still wins.
    expect(parseTorrent(single({}, { 'name.utf-8': 'Grüße.txt' })).name).toBe('Grüße.txt');
    // A bad twin does not hide a good name.
    expect(parseTorrent(single({}, { 'name.utf-8': Buffer.from([0xff]) })).name).toBe('hello.txt');
  });

  it('hybrid (BEP 52 meta version 2 + v1 pieces): version hybrid, v1 = SHA-1 and v2 = SHA-256 of the info bytes', () => {
    // The layer must fold to the root (METAINFO_PIECE_LAYER_MISMATCH otherwise), so the root is computed from it.
    const root = rootFromLayer(layerHashes(Buffer.alloc(96, 1)), 16384);
    const bytes = encode({
      info: {
        'file tree': { 'hello.txt': { '': { length: 40000, 'pieces root': root } } },
        length: 40000,
        'meta version': 2,
        name: 'hello.txt',
        'piece length': 16384,
        pieces: hashes(3),
      },
      'piece layers': new Map([[root.toString('latin1'), Buffer.alloc(96, 1)]]),
    });
    const meta = parseTorrent(bytes, { mode: 'strict' });
    expect(meta.version).toBe('hybrid');
    const info = bytes.subarray(bytes.indexOf('4:infod') + 6, bytes.indexOf('12:piece layers'));
    expect(meta.infoBytes.equals(info)).toBe(true);
    expect(meta.infoHash.v1!.equals(sha1(info))).toBe(true);
    expect(meta.infoHash.v2!.equals(createHash('sha256').update(info).digest())).toBe(true);
    expect(meta.infoHash.v2!.length).toBe(32);
  });

  it('BEP 5 nodes, comment, created by, creation date, encoding, source', () => {
    const meta = parseTorrent(
      single(
        {
          nodes: [['127.0.0.1', 6881], ['::1', 6882], ['bad'], 'junk'],
          comment: 'a comment',
          'comment.utf-8': 'ä comment',
          'created by': 'btkit test',
          'creation date': 1_700_000_000,
          encoding: 'UTF-8',
        },
        { source: 'SRC' },
      ),
    );
    expect(meta.dhtNodes).toEqual(['127.0.0.1:6881', '[::1]:6882']);
    expect(meta.comment).toBe('ä comment');
    expect(meta.createdBy).toBe('btkit test');
    expect(meta.creationDate).toBe(1_700_000_000);
    expect(meta.encoding).toBe('UTF-8');
    expect(meta.source).toBe('SRC');
    expect(meta.raw.get(keyOf('created by'))).toEqual(Buffer.from('btkit test'));
  });

  it('edge values that are valid: an empty file, a zero-length torrent, the largest piece length', () => {
    const empty = parseTorrent(single({}, { length: 0, pieces: Buffer.alloc(0) }));
    expect(empty.pieceCount).toBe(0);
    expect(empty.totalLength).toBe(0);
    expect(parseTorrent(single({}, { 'piece length': 1024 ** 3, pieces: hashes(1) })).pieceLength).toBe(1024 ** 3);
    expect(codeOf(single({}, { 'piece length': 1024 ** 3 + 1, pieces: hashes(1) }))).toBe('METAINFO_BAD_PIECE_LENGTH');
    expect(codeOf(single({}, { 'piece length': 2n ** 64n }))).toBe('METAINFO_BAD_PIECE_LENGTH');
    expect(codeOf(single({}, { length: 2n ** 64n }))).toBe('METAINFO_BAD_LENGTH');
  });

  it('file/directory clashes are named as such, in either order', () => {
    const msg = (files: { length: number; path: string[] }[]) => {
      try {
        parseTorrent(multi(files));
      } catch (e) {
        return (e as BtError).message;
      }
      return 'OK';
    };
    expect(msg([{ length: 1, path: ['a'] }, { length: 1, path: ['a', 'b'] }])).toContain('`a` is both a file and a directory');
    expect(msg([{ length: 1, path: ['a', 'b'] }, { length: 1, path: ['a'] }])).toContain('`a` is both a file and a directory');
    expect(msg([{ length: 1, path: ['a', 'b'] }, { length: 1, path: ['a', 'b'] }])).toContain('`a/b` appears twice');
    // Siblings in one directory are fine.
    expect(msg([{ length: 1, path: ['a', 'b'] }, { length: 1, path: ['a', 'c'] }])).toBe('OK');
  });
});

describe('path component safety (the guard before any file is written)', () => {
  it.each([
    ['', 'empty'],
    ['.', 'dot'],
    ['..', 'traversal'],
    ['a\0b', 'nul'],
    ['C:', 'absolute'],
    ['c:evil', 'absolute'],
    ['/etc', 'separator'],
    ['a/b', 'separator'],
    ['a\\b', 'separator'],
    ['CON', 'reserved'],
    ['con.txt', 'reserved'],
    ['nul.tar.gz', 'reserved'],
    ['LPT1', 'reserved'],
    ['com9.log', 'reserved'],
    ['Aux', 'reserved'],
  ])('%j → %s', (component, reason) => {
    expect(unsafeComponent(component)).toBe(reason);
  });

  it.each(['a', '...', '.hidden', 'console', 'nul_', 'com10', 'file.con', 'ü', 'a b'])('%j is fine', (component) => {
    expect(unsafeComponent(component)).toBeNull();
  });
});

describe('path.utf-8 falls back to path when it is not a usable list', () => {
  it.each([
    ['a string', b('junk')],
    ['an empty list', []],
    ['an integer', 3],
  ])('path.utf-8 is %s → path is used', (_what, twin) => {
    const meta = parseTorrent(
      encode({ info: { files: [{ length: 3, path: ['ok.txt'], 'path.utf-8': twin as BEncodable }], name: 'dir', 'piece length': 16384, pieces: hashes(1) } }),
    );
    expect(meta.files[0]!.path).toEqual(['ok.txt']);
  });

  it('a usable path.utf-8 is still checked for safety', () => {
    const bytes = encode({ info: { files: [{ length: 3, path: ['ok.txt'], 'path.utf-8': ['..', 'x'] }], name: 'dir', 'piece length': 16384, pieces: hashes(1) } });
    expect(codeOf(bytes)).toBe('METAINFO_PATH_TRAVERSAL');
  });
});

describe("unsafePaths: 'report' (issue 13 item 13: show a torrent that would be refused for writing)", () => {
  const evil = multi([{ length: 1, path: ['..', 'evil'] }, { length: 1, path: ['ok'] }]);

  it('refuses by default, as every writer needs', () => {
    expect(codeOf(evil)).toBe('METAINFO_PATH_TRAVERSAL');
  });

  it("keeps the torrent and lists each unsafe path with the code refusing it would give", () => {
    const meta = parseTorrent(evil, { unsafePaths: 'report' });
    expect(meta.files.map((f) => f.path)).toEqual([['..', 'evil'], ['ok']]);
    expect(meta.unsafePaths).toEqual([
      { where: 'info.files[0]', path: ['..', 'evil'], code: 'METAINFO_PATH_TRAVERSAL', message: 'info.files[0]: path `../evil` tries to leave the output directory with `..`' },
    ]);
    const name = parseTorrent(single({}, { name: '..' }), { unsafePaths: 'report' });
    expect(name.unsafePaths?.map((u) => [u.where, u.code])).toEqual([['info.name', 'METAINFO_PATH_TRAVERSAL']]);
  });

  it('a safe torrent has no unsafePaths field', () => {
    expect(parseTorrent(single(), { unsafePaths: 'report' }).unsafePaths).toBeUndefined();
  });
});
