/**
 * BEP 19 URL mapping: which URL a file of the torrent has on a web seed, for single- and
 * multi-file torrents, with and without the trailing `/`, and percent-encoding per path segment.
 */
import { describe, expect, it } from 'vitest';
import { encodeSegment, fileUrl, webSeedBase } from '../../../../src/core/webseed/url.js';

const single = { name: 'ubuntu.iso', multiFile: false, files: [{ path: ['ubuntu.iso'] }] };
const multi = { name: 'release 1.0', multiFile: true, files: [{ path: ['bin', 'tool'] }, { path: ['docs', 'read me#1?.txt'] }, { path: ['ünï', '日本.txt'] }] };
// A directory torrent holding one file is still a directory torrent: its paths are under the name.
const multiOfOne = { name: 'd', multiFile: true, files: [{ path: ['only.bin'] }] };

describe('webseed fileUrl (BEP 19)', () => {
  it.each([
    ['single, file URL', single, 'http://h/pub/ubuntu.iso', 0, 'http://h/pub/ubuntu.iso'],
    ['single, file URL under another name', single, 'http://h/get?id=7', 0, 'http://h/get?id=7'],
    ['single, directory URL', single, 'http://h/pub/', 0, 'http://h/pub/ubuntu.iso'],
    ['multi, directory URL', multi, 'http://h/pub/', 0, 'http://h/pub/release%201.0/bin/tool'],
    ['multi, no slash: one is added (libtorrent)', multi, 'http://h/pub', 0, 'http://h/pub/release%201.0/bin/tool'],
    ['multi, space # ? encoded per segment', multi, 'http://h/', 1, 'http://h/release%201.0/docs/read%20me%231%3F.txt'],
    ['multi, unicode as UTF-8', multi, 'http://h/', 2, 'http://h/release%201.0/%C3%BCn%C3%AF/%E6%97%A5%E6%9C%AC.txt'],
    ['multi of one file', multiOfOne, 'http://h/x/', 0, 'http://h/x/d/only.bin'],
    ['https kept', single, 'https://h:8443/a/', 0, 'https://h:8443/a/ubuntu.iso'],
  ])('%s', (_label, torrent, url, index, expected) => {
    expect(fileUrl(url, torrent, index)).toBe(expected);
  });

  it('a single-file torrent name with reserved characters is encoded under a directory URL', () => {
    expect(fileUrl('http://h/', { name: 'a/b %.iso', multiFile: false, files: [{ path: ['a/b %.iso'] }] }, 0)).toBe('http://h/a%2Fb%20%25.iso');
  });

  it('webSeedBase appends / only for multi-file torrents', () => {
    expect(webSeedBase('http://h/a', true)).toBe('http://h/a/');
    expect(webSeedBase('http://h/a/', true)).toBe('http://h/a/');
    expect(webSeedBase('http://h/a', false)).toBe('http://h/a');
  });

  it('encodeSegment leaves only unreserved characters and round-trips', () => {
    for (const s of ["a b", "x#y?z", "100%", "it's (1)*!", "ünï", "~._-AZaz09"]) {
      const e = encodeSegment(s);
      expect(e).toMatch(/^[A-Za-z0-9\-._~%]*$/);
      expect(decodeURIComponent(e)).toBe(s);
    }
  });

  it('refuses a file index the torrent does not have', () => {
    expect(() => fileUrl('http://h/', single, 1)).toThrow(RangeError);
  });
});
