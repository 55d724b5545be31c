/** The `<torrent|magnet|infohash|->` argument: each form recognised, unknown text a clear input error. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readTorrentArg, resolveTarget } from '../../../src/cli/target.js';
import { base32Encode } from '../../../src/core/metainfo/magnet.js';
import { buildTorrent } from '../../../src/core/metainfo/build.js';
import { parseTorrent } from '../../../src/core/metainfo/parse.js';
import { tempDirs } from '../../helpers/tmp.js';
import { thrown } from '../../helpers/errors.js';

const tmp = tempDirs();
const HEX = '0123456789abcdef0123456789abcdef01234567';

describe('resolveTarget', () => {
  it('a magnet link: its infohash, name, and each tracker as a tier of its own', async () => {
    const t = await resolveTarget(`magnet:?xt=urn:btih:${HEX}&dn=x%20y&tr=http%3A%2F%2Fa%2Fannounce&tr=udp://b:1/announce`);
    expect(t.kind).toBe('magnet');
    expect(t.infoHash!.toString('hex')).toBe(HEX);
    expect(t.name).toBe('x y');
    expect(t.trackers).toEqual([['http://a/announce'], ['udp://b:1/announce']]);
    expect(t.magnet).toBeDefined();
    expect(t.metainfo).toBeUndefined();
  });

  it('a 40-hex or 32-base32 infohash', async () => {
    const hex = await resolveTarget(HEX.toUpperCase());
    expect(hex).toMatchObject({ kind: 'infohash', trackers: [] });
    expect(hex.infoHash!.toString('hex')).toBe(HEX);
    const b32 = await resolveTarget(base32Encode(Buffer.from(HEX, 'hex')));
    expect(b32.infoHash!.toString('hex')).toBe(HEX);
  });

  it('a torrent file: parsed, with its trackers and name', async () => {
    const dir = await tmp.make('target');
    const bytes = buildTorrent({ name: 'n', pieceLength: 16384, pieces: Buffer.alloc(20), files: null, length: 1, trackers: [['http://a/announce'], ['http://b/announce']] });
    await writeFile(join(dir, 'n.torrent'), bytes);
    const t = await resolveTarget(join(dir, 'n.torrent'));
    expect(t.kind).toBe('torrent');
    expect(t.name).toBe('n');
    expect(t.trackers).toEqual([['http://a/announce'], ['http://b/announce']]);
    expect(t.infoHash).toEqual(parseTorrent(bytes).infoHash.v1);
  });

  it('a missing file is an io error that says so, naming the other forms only where they are accepted', async () => {
    const dir = await tmp.make('target');
    const path = join(dir, 'missing.torrent');
    const e = await thrown(resolveTarget(path));
    expect(e.code).toBe('TARGET_NOT_FOUND');
    expect(e.category).toBe('io');
    expect(e.message).toBe(`\`${path}\`: no such file, and it is not a magnet link or a 40-hex infohash`);
    const f = await thrown(readTorrentArg(path));
    expect(f).toMatchObject({ code: 'TARGET_NOT_FOUND', category: 'io', message: `\`${path}\`: no such file` });
  });

  it('every source stops at the one cap with METAINFO_TOO_LARGE (a device: stat says 0 bytes)', async () => {
    const e = await thrown(readTorrentArg('/dev/zero'));
    expect(e.code).toBe('METAINFO_TOO_LARGE');
    expect(e.category).toBe('input');
  });

  it('a file that is not a torrent, or a directory, is refused with a typed error', async () => {
    const dir = await tmp.make('target');
    await writeFile(join(dir, 'junk'), 'not bencode');
    expect((await thrown(readTorrentArg(join(dir, 'junk')))).category).toBe('input');
    await mkdir(join(dir, 'd'));
    expect((await thrown(readTorrentArg(join(dir, 'd')))).category).toBe('io');
  });

  it('a malformed magnet link is an input error', async () => {
    expect((await thrown(resolveTarget('magnet:?dn=nohash'))).code).toBe('MAGNET_NO_INFOHASH');
  });
});
