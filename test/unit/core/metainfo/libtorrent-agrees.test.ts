/**
 * libtorrent (the reference implementation, via its Python binding) as a second opinion on valid
 * torrents: a hand-written non-canonical torrent, one with BEP 47 padding files, and a v1+v2
 * hybrid made by libtorrent itself. Both must agree on the v1 and v2 infohashes, the file list
 * (padding marked) and the piece count. Skipped without libtorrent (required in CI).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encode } from '../../../../src/core/bencode/index.js';
import { parseTorrent } from '../../../../src/core/metainfo/index.js';
import { interopAvailable, LAB_DIR, SYSTEM_PYTHON } from '../../../helpers/interop.js';

interface LtView {
  v1: string | null;
  v2: string | null;
  name: string;
  pieces: number;
  total: number;
  files: [string, number, boolean][];
}

const READ = `
import json, sys
import libtorrent as lt
out = []
for path in sys.argv[1:]:
    ti = lt.torrent_info(path)
    ih = ti.info_hashes()
    fs = ti.files()
    out.append({
        'v1': str(ih.v1) if ih.has_v1() else None,
        'v2': str(ih.v2) if ih.has_v2() else None,
        'name': ti.name(), 'pieces': ti.num_pieces(), 'total': fs.total_size(),
        'files': [[fs.file_path(i), fs.file_size(i), bool(fs.file_flags(i) & lt.file_storage.flag_pad_file)] for i in range(fs.num_files())],
    })
print(json.dumps(out))
`;

describe.skipIf(!interopAvailable('libtorrent'))('libtorrent reads the same torrent btkit does', () => {
  let dir: string;
  const torrents: Record<string, string> = {};
  let lt: Record<string, LtView>;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'btkit-lt-agree-'));
    const sha1ofHello = Buffer.from('aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d', 'hex');
    torrents.noncanonical = join(dir, 'noncanonical.torrent');
    writeFileSync(
      torrents.noncanonical,
      Buffer.concat([
        Buffer.from('d4:infod4:name9:hello.txt6:lengthi5e12:piece lengthi16384e6:pieces20:'),
        sha1ofHello,
        Buffer.from('e8:announce30:http://127.0.0.1:6969/announce13:creation datei01700000000ee'),
      ]),
    );
    torrents.padded = join(dir, 'padded.torrent');
    writeFileSync(
      torrents.padded,
      encode({
        info: {
          files: [
            { length: 10000, path: ['a.bin'] },
            { attr: 'p', length: 6384, path: ['.pad', '6384'] },
            { length: 20000, path: ['sub', 'b.bin'] },
          ],
          name: 'padded',
          'piece length': 16384,
          pieces: Buffer.alloc(3 * 20, 0x5a),
        },
      }),
    );
    // A hybrid made by libtorrent's own create_torrent.
    const data = join(dir, 'data');
    mkdirSync(join(data, 'sub'), { recursive: true });
    writeFileSync(join(data, 'a.bin'), Buffer.alloc(40000, 1));
    writeFileSync(join(data, 'sub', 'b.bin'), Buffer.alloc(5000, 2));
    torrents.hybrid = join(dir, 'hybrid.torrent');
    execFileSync(SYSTEM_PYTHON, [join(LAB_DIR, 'lt_create.py'), data, torrents.hybrid, '--piece-kib', '16', '--hybrid'], { stdio: 'ignore', timeout: 30_000 });
    const names = Object.keys(torrents);
    const views = JSON.parse(execFileSync(SYSTEM_PYTHON, ['-c', READ, ...names.map((n) => torrents[n]!)], { encoding: 'utf8', timeout: 30_000 })) as LtView[];
    lt = Object.fromEntries(names.map((n, i) => [n, views[i]!]));
  }, 60_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it.each(['noncanonical', 'padded', 'hybrid'])('%s: same infohashes, files, pieces', (name) => {
    const meta = parseTorrent(readFileSync(torrents[name]!));
    const ref = lt[name]!;
    expect(meta.infoHash.v1?.toString('hex') ?? null).toBe(ref.v1);
    expect(meta.infoHash.v2?.toString('hex') ?? null).toBe(ref.v2);
    expect(meta.name).toBe(ref.name);
    expect(meta.pieceCount).toBe(ref.pieces);
    expect(meta.totalLength).toBe(ref.total);
    expect(meta.files.map((f) => [meta.multiFile ? [meta.name, ...f.path].join('/') : meta.name, f.length, f.padding])).toEqual(ref.files);
  });

  it('the hybrid is recognised as such', () => {
    const meta = parseTorrent(readFileSync(torrents.hybrid!));
    expect(meta.version).toBe('hybrid');
    expect(meta.files.filter((f) => f.padding).length).toBeGreaterThan(0);
  });
});
