/** The JSON summary of a torrent (inspect --json) and its human rendering: tree, list, padding hidden. */
import { createHash } from 'node:crypto';
import bencode from 'bencode';
import { describe, expect, it } from 'vitest';
import { fileTree, magnetOf, renderSummary, summarize } from '../../../../src/cli/render/torrent.js';
import { buildTorrent } from '../../../../src/core/metainfo/build.js';
import { formatMagnet, parseMagnet } from '../../../../src/core/metainfo/magnet.js';
import { parseTorrent } from '../../../../src/core/metainfo/parse.js';

const multi = parseTorrent(
  buildTorrent({
    name: 'top',
    pieceLength: 16384,
    pieces: Buffer.alloc(40),
    files: [
      { path: ['a.txt'], length: 10 },
      { path: ['d', 'e', 'f.bin'], length: 20_000 },
      { path: ['d', 'g'], length: 0 },
      { path: ['z'], length: 2000 },
    ],
    trackers: [['http://a/announce', 'http://b/announce'], ['udp://c:1/announce']],
    webSeeds: ['http://ws/'],
    private: true,
    source: 'SRC',
    comment: 'hello',
    createdBy: 'btkit/test',
    creationDate: 1_700_000_000,
  }),
);

const single = parseTorrent(buildTorrent({ name: 'one.iso', pieceLength: 32768, pieces: Buffer.alloc(20), files: null, length: 5000 }));

describe('summarize', () => {
  it('every field, hashes in hex, paths with the torrent name', () => {
    const s = summarize(multi);
    expect(s).toMatchObject({
      name: 'top',
      version: 'v1',
      infoHash: createHash('sha1').update(multi.infoBytes).digest('hex'),
      infoHashV2: null,
      totalLength: 22_010,
      pieceLength: 16384,
      pieceCount: 2,
      multiFile: true,
      fileCount: 4,
      trackers: [['http://a/announce', 'http://b/announce'], ['udp://c:1/announce']],
      webSeeds: ['http://ws/'],
      private: true,
      source: 'SRC',
      comment: 'hello',
      createdBy: 'btkit/test',
      creationDate: '2023-11-14T22:13:20.000Z',
      creationDateUnix: 1_700_000_000,
      encoding: null,
      canonical: true,
      nonCanonical: [],
    });
    expect(s.files).toEqual([
      { index: 0, path: 'top/a.txt', length: 10, offset: 0, padding: false, attr: '', piecesRoot: null },
      { index: 1, path: 'top/d/e/f.bin', length: 20_000, offset: 10, padding: false, attr: '', piecesRoot: null },
      { index: 2, path: 'top/d/g', length: 0, offset: 20_010, padding: false, attr: '', piecesRoot: null },
      { index: 3, path: 'top/z', length: 2000, offset: 20_010, padding: false, attr: '', piecesRoot: null },
    ]);
    const magnet = parseMagnet(s.magnet);
    expect(magnet.infoHash.v1!.toString('hex')).toBe(s.infoHash);
    expect(magnet.name).toBe('top');
    expect(magnet.trackers).toEqual(['http://a/announce', 'http://b/announce', 'udp://c:1/announce']);
    expect(magnet.webSeeds).toEqual([]);
  });

  it('a single file is listed under the torrent name; missing optional fields are null', () => {
    const s = summarize(single);
    expect(s.files).toEqual([{ index: 0, path: 'one.iso', length: 5000, offset: 0, padding: false, attr: '', piecesRoot: null }]);
    expect(s).toMatchObject({ multiFile: false, source: null, comment: null, createdBy: null, creationDate: null, creationDateUnix: null, trackers: [] });
  });

  it('padding files are listed but not counted', () => {
    const pad = parseTorrent(
      bencode.encode({
        info: {
          files: [
            { length: 100, path: ['a'] },
            { attr: 'p', length: 16284, path: ['.pad', '16284'] },
            { length: 5, path: ['b'] },
          ],
          name: 'p',
          'piece length': 16384,
          pieces: Buffer.alloc(40),
        },
      }),
    );
    const s = summarize(pad);
    expect(s.fileCount).toBe(2);
    // Size counts the files, not the padding (issue 13 item 11); the piece stream keeps its length.
    expect(s.contentLength).toBe(105);
    expect(s.totalLength).toBe(16389);
    expect(renderSummary(s)).toContain('Size       105 B (105 bytes); 15.90 KiB of padding not counted');
    expect(s.files[1]).toMatchObject({ padding: true, attr: 'p' });
    expect(fileTree(s)).toEqual(['p/', '├── a (100 B)', '└── b (5 B)']);
    const listed = renderSummary(s, { list: true });
    expect(listed.some((l) => l.includes('.pad'))).toBe(false);
  });
});

describe('magnetOf', () => {
  it('trackers by default, web seeds only when asked', () => {
    expect(formatMagnet(magnetOf(multi, { trackers: false }))).not.toContain('tr=');
    const withWs = magnetOf(multi, { webSeeds: true });
    expect(withWs.webSeeds).toEqual(['http://ws/']);
    expect(withWs.trackers).toHaveLength(3);
  });
});

describe('renderSummary and fileTree', () => {
  it('a tree with directories, sizes and box drawing', () => {
    expect(fileTree(summarize(multi))).toEqual([
      'top/',
      '├── a.txt (10 B)',
      '├── d/',
      '│   ├── e/',
      '│   │   └── f.bin (19.53 KiB)',
      '│   └── g (0 B)',
      '└── z (1.95 KiB)',
    ]);
    expect(fileTree(summarize(single))).toEqual(['one.iso (4.88 KiB)']);
  });

  it('key/value lines with every tier, then the tree or the list', () => {
    const lines = renderSummary(summarize(multi));
    expect(lines).toContain('Name        top');
    expect(lines).toContain('Private     yes');
    expect(lines).toContain('Source      SRC');
    expect(lines).toContain('Trackers    tier 1: http://a/announce http://b/announce');
    expect(lines).toContain('            tier 2: udp://c:1/announce');
    expect(lines).toContain('Web seeds   http://ws/');
    expect(lines.at(-1)).toBe('└── z (1.95 KiB)');
    const list = renderSummary(summarize(multi), { list: true });
    expect(list.slice(-4)).toEqual([
      `${'10'.padStart(14)}  top/a.txt`,
      `${'20000'.padStart(14)}  top/d/e/f.bin`,
      `${'0'.padStart(14)}  top/d/g`,
      `${'2000'.padStart(14)}  top/z`,
    ]);
  });
});
