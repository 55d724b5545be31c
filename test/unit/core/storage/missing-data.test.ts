/**
 * Missing or short files are judged from their sizes at once; only the bytes present are read and
 * hashed (issue 15: a 64 GiB torrent against an empty directory took 29 s in `verify` and said
 * "64.00 GiB checked"). Sparse layouts: torrents declaring gigabytes, with little or nothing on
 * disk. The assertions are on the result and on what the hasher (or the piece check) was asked
 * for, counted, never on time.
 */
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hashFiles } from '../../../../src/core/hash/file-hasher.js';
import type { FileEntry, Metainfo } from '../../../../src/core/metainfo/types.js';
import { diskLayout, verifyData } from '../../../../src/core/storage/verify.js';
import { FileStore } from '../../../../src/core/storage/file-store.js';
import type { LayoutFile } from '../../../../src/core/storage/layout.js';
import { restore } from '../../../../src/core/storage/resume.js';
import { patternBytes, tempDirs } from '../../../helpers/tmp.js';

const tmp = tempDirs();
const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

/**
 * A multi-file torrent `top` over `sizes`, with real piece hashes for the bytes `content(i)` of
 * the files that are given, and zeros (which will not match) for the rest.
 */
function torrent(sizes: number[], pieceLength: number, content: (i: number) => Uint8Array | null): Metainfo {
  let offset = 0;
  const files: FileEntry[] = sizes.map((length, i) => {
    const e = { path: [`f${i}`], length, offset, attr: '', padding: false };
    offset += length;
    return e;
  });
  const pieceCount = Math.ceil(offset / pieceLength);
  const pieces = Buffer.alloc(pieceCount * 20);
  // Hash the pieces that lie wholly in a file given in full.
  files.forEach((f, i) => {
    const data = content(i);
    if (!data) return;
    for (let p = Math.ceil(f.offset / pieceLength); p < pieceCount; p++) {
      const end = Math.min((p + 1) * pieceLength, offset);
      if (end > f.offset + f.length) break;
      createHash('sha1').update(data.subarray(p * pieceLength - f.offset, end - f.offset)).digest().copy(pieces, p * 20);
    }
  });
  return {
    name: 'top',
    files,
    multiFile: true,
    pieceLength,
    totalLength: offset,
    pieceCount,
    pieces,
  } as unknown as Metainfo;
}

/** hashFiles, counting the pieces and bytes it is asked to hash. */
function countingHasher() {
  const asked = { calls: 0, pieces: 0, bytes: 0 };
  const hasher: typeof hashFiles = (files: readonly LayoutFile[], options) => {
    asked.calls++;
    asked.pieces += Math.ceil(options.totalLength / options.pieceLength);
    asked.bytes += options.totalLength;
    return hashFiles(files, options);
  };
  return { asked, hasher };
}

describe('verify: missing data is not read', () => {
  it('4 GiB declared, nothing on disk: every piece bad, every file missing, the hasher never asked', async () => {
    const dir = await tmp.make('miss-empty');
    const meta = torrent([GiB, GiB, 2 * GiB], 4 * MiB, () => null);
    const { asked, hasher } = countingHasher();
    const progress: [number, number][] = [];
    const r = await verifyData(meta, { contentPath: join(dir, 'top'), hasher, onProgress: (d, t) => progress.push([d, t]) });
    expect(r.ok).toBe(false);
    expect(r.pieceCount).toBe(1024);
    expect(r.goodPieces).toBe(0);
    expect(r.badPieces).toHaveLength(1024);
    expect(r.bytesChecked).toBe(0);
    expect(r.files.map((f) => [f.status, f.actualLength, f.badPieces.length])).toEqual([
      ['missing', null, 256],
      ['missing', null, 256],
      ['missing', null, 512],
    ]);
    expect(asked).toEqual({ calls: 0, pieces: 0, bytes: 0 });
    expect(progress).toEqual([]);
  });

  it('a 100 kB file before 4 GiB missing: nothing read, since its one piece also holds missing bytes', async () => {
    const dir = await tmp.make('miss-small');
    const small = patternBytes(100_000, 'small');
    const meta = torrent([100_000, 4 * GiB], 4 * MiB, (i) => (i === 0 ? small : null));
    await mkdir(join(dir, 'top'));
    await writeFile(join(dir, 'top', 'f0'), small);
    const { asked, hasher } = countingHasher();
    const r = await verifyData(meta, { contentPath: join(dir, 'top'), hasher });
    expect(asked.calls).toBe(0);
    expect(r.bytesChecked).toBe(0);
    expect(r.files.map((f) => [f.status, f.actualLength])).toEqual([['bad-pieces', 100_000], ['missing', null]]);
    expect(r.goodPieces).toBe(0);
  });

  it('one whole piece present between two missing gigabytes: that piece alone is hashed, and it is good', async () => {
    const dir = await tmp.make('miss-some');
    const one = patternBytes(4 * MiB, 'one');
    const meta = torrent([2 * GiB, 4 * MiB, 2 * GiB], 4 * MiB, (i) => (i === 1 ? one : null));
    await mkdir(join(dir, 'top'));
    await writeFile(join(dir, 'top', 'f1'), one);
    const { asked, hasher } = countingHasher();
    const r = await verifyData(meta, { contentPath: join(dir, 'top'), hasher });
    expect(asked).toEqual({ calls: 1, pieces: 1, bytes: 4 * MiB });
    expect(r.goodPieces).toBe(1);
    expect(r.bytesChecked).toBe(4 * MiB);
    expect(r.badPieces).not.toContain(512);
    expect(r.files.map((f) => f.status)).toEqual(['missing', 'complete', 'missing']);
  });

  it('a short file: the pieces past its end are judged at once, the ones before it are hashed (and good)', async () => {
    const dir = await tmp.make('miss-short');
    const PL = 16384;
    const full = patternBytes(10 * PL, 'short');
    const meta = torrent([10 * PL, 3 * GiB], PL, (i) => (i === 0 ? full : null));
    await mkdir(join(dir, 'top'));
    // f0 cut at 4.5 pieces; f1 absent.
    await writeFile(join(dir, 'top', 'f0'), full.subarray(0, 4 * PL + PL / 2));
    const { asked, hasher } = countingHasher();
    const r = await verifyData(meta, { contentPath: join(dir, 'top'), hasher });
    expect(asked).toEqual({ calls: 1, pieces: 4, bytes: 4 * PL });
    expect(r.bytesChecked).toBe(4 * PL);
    expect(r.goodPieces).toBe(4);
    expect(r.files[0]).toMatchObject({ status: 'wrong-size', actualLength: 4 * PL + PL / 2 });
    expect(r.files[0]!.badPieces).toEqual([4, 5, 6, 7, 8, 9]);
    expect(r.files[1]).toMatchObject({ status: 'missing' });
    expect(r.badPieces[0]).toBe(4);
    expect(r.badPieces).toHaveLength(meta.pieceCount - 4);
  });

  it('runs of present pieces between missing files are hashed each at its own place (a piece spanning files too)', async () => {
    const dir = await tmp.make('miss-runs');
    const PL = 16384;
    // a: 2.5 pieces, present; b: one piece's worth, missing; c: 3.5 pieces, present. Pieces 2
    // (a + b) and 3 (b + c) lack bytes; 0, 1 and c's whole pieces 4, 5, 6 are hashed, the second
    // run with c starting half a piece before it.
    const a = patternBytes(2 * PL + PL / 2, 'a');
    const c = patternBytes(PL / 2 + 3 * PL, 'c');
    const sizes = [a.length, PL, c.length];
    const stream = Buffer.concat([a, Buffer.alloc(PL), c]);
    const hashes = Buffer.alloc(Math.ceil(stream.length / PL) * 20);
    for (let p = 0; p * PL < stream.length; p++) createHash('sha1').update(stream.subarray(p * PL, (p + 1) * PL)).digest().copy(hashes, p * 20);
    const meta = { ...torrent(sizes, PL, () => null), pieces: hashes } as Metainfo;
    await mkdir(join(dir, 'top'));
    await writeFile(join(dir, 'top', 'f0'), a);
    await writeFile(join(dir, 'top', 'f2'), c);
    const { asked, hasher } = countingHasher();
    const r = await verifyData(meta, { contentPath: join(dir, 'top'), hasher });
    expect(asked).toEqual({ calls: 2, pieces: 2 + 3, bytes: 2 * PL + 3 * PL });
    expect(r.badPieces).toEqual([2, 3]);
    expect(r.goodPieces).toBe(5);
    expect(r.files.map((f) => [f.status, f.badPieces])).toEqual([
      ['bad-pieces', [2]],
      ['missing', [2, 3]],
      ['bad-pieces', [3]],
    ]);
  });

  it('lays out the files of a very deep path without a spread (diskLayout)', () => {
    const deep = Array.from({ length: 300_000 }, () => 'd');
    const meta = torrent([1], 16384, () => null);
    meta.files[0]!.path = deep;
    expect(diskLayout(meta, '/c')[0]!.diskPath).toBe(`/c/${deep.join('/')}`);
  });
});

describe('restore: missing data is not read', () => {
  // restore() already judged pieces by file size (store.present()); this keeps it so at scale.
  it('4 GiB declared, nothing on disk, no state: nothing hashed, nothing read', async () => {
    const out = await tmp.make('miss-restore');
    const meta = torrent([GiB, 3 * GiB], 16 * MiB, () => null);
    const store = FileStore.open(meta, { outDir: out });
    let checks = 0;
    const r = await restore({
      store,
      id: { infoHash: 'cd'.repeat(20), pieceLength: meta.pieceLength, totalLength: meta.totalLength, pieceCount: meta.pieceCount },
      state: null,
      check: async () => (checks++, true),
    });
    expect(r).toMatchObject({ mode: 'full', checked: 0, recovered: 0 });
    expect(r.have.hasNone()).toBe(true);
    expect(checks).toBe(0);
    await store.close();
  });
});
