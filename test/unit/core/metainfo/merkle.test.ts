/**
 * BEP 52 merkle trees: the reference (src/core/metainfo/merkle.ts) on hand-computed cases, and the
 * multi-threaded file hasher's per-piece merkle hashes held to it for any layout of aligned files
 * (files shorter than a block, than a piece, exactly a piece, many pieces; empty files; padding),
 * with SHA-1 of the padded pieces computed in the same read.
 */
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hashFiles } from '../../../../src/core/hash/file-hasher.js';
import { blockLeaves, fileMerkle, merkleRoot, MERKLE_BLOCK, nextPow2, padHash, rootFromLayer } from '../../../../src/core/metainfo/merkle.js';
import type { LayoutFile } from '../../../../src/core/storage/layout.js';
import { thrown } from '../../../helpers/errors.js';
import { patternBytes, tempDirs } from '../../../helpers/tmp.js';

const tmp = tempDirs();
const sha256 = (...b: Uint8Array[]) => b.reduce((h, x) => h.update(x), createHash('sha256')).digest();

describe('merkle reference', () => {
  it('one block: the root is the SHA-256 of the block itself; a short block is hashed unpadded', () => {
    const block = patternBytes(MERKLE_BLOCK, 'one');
    expect(fileMerkle(block, MERKLE_BLOCK)).toEqual({ root: sha256(block), layer: null });
    const short = patternBytes(5, 'short');
    expect(fileMerkle(short, 4 * MERKLE_BLOCK).root).toEqual(sha256(short));
  });

  it('three blocks in a piece of four: leaves padded to four with 32 zero bytes', () => {
    const data = patternBytes(2 * MERKLE_BLOCK + 7, 'three');
    const [a, b, c] = blockLeaves(data) as [Buffer, Buffer, Buffer];
    const zero = Buffer.alloc(32);
    expect(fileMerkle(data, 4 * MERKLE_BLOCK).root).toEqual(sha256(sha256(a, b), sha256(c, zero)));
    // A file of one piece or less is widened to its blocks, not to the piece: same here (3 → 4).
    expect(fileMerkle(data, 16 * MERKLE_BLOCK).root).toEqual(sha256(sha256(a, b), sha256(c, zero)));
  });

  it('three pieces: a layer of three, the root widened with the pad hash of a whole piece', () => {
    const pl = 2 * MERKLE_BLOCK;
    const data = patternBytes(2 * pl + 1, 'pieces');
    const leaves = blockLeaves(data);
    const p0 = sha256(leaves[0]!, leaves[1]!);
    const p1 = sha256(leaves[2]!, leaves[3]!);
    const p2 = sha256(leaves[4]!, Buffer.alloc(32));
    const tree = fileMerkle(data, pl);
    expect(tree.layer).toEqual(Buffer.concat([p0, p1, p2]));
    expect(tree.root).toEqual(sha256(sha256(p0, p1), sha256(p2, padHash(1))));
    expect(rootFromLayer([p0, p1, p2], pl)).toEqual(tree.root);
  });

  it('an empty file has no root', () => {
    expect(fileMerkle(Buffer.alloc(0), MERKLE_BLOCK)).toEqual({ root: null, layer: null });
  });

  it('padHash(d) is the root of 2^d zero leaves; merkleRoot refuses a width that is not a power of two', () => {
    expect(padHash(2)).toEqual(merkleRoot([Buffer.alloc(32), Buffer.alloc(32), Buffer.alloc(32), Buffer.alloc(32)], 4));
    expect(() => merkleRoot([Buffer.alloc(32)], 3)).toThrow(RangeError);
    expect(nextPow2(5)).toBe(8);
  });
});

/** Files laid out as a hybrid torrent lays them: each on a piece boundary, padding between. */
async function aligned(sizes: number[], pl: number, tag: string): Promise<{ files: LayoutFile[]; data: (Buffer | null)[]; stream: Buffer }> {
  const dir = await tmp.make('merkle');
  const files: LayoutFile[] = [];
  const data: (Buffer | null)[] = [];
  const parts: Buffer[] = [];
  let offset = 0;
  for (const [i, size] of sizes.entries()) {
    const bytes = patternBytes(size, `${tag}-${i}`);
    const path = join(dir, `f${i}`);
    await writeFile(path, bytes);
    files.push({ diskPath: path, length: size, offset });
    data.push(bytes);
    parts.push(bytes);
    offset += size;
    const pad = (pl - (offset % pl)) % pl;
    if (pad > 0) {
      files.push({ diskPath: null, length: pad, offset });
      data.push(null);
      parts.push(Buffer.alloc(pad));
      offset += pad;
    }
  }
  return { files, data, stream: Buffer.concat(parts) };
}

describe('hashFiles with merkle: per-piece BEP 52 hashes and SHA-1 in one read', () => {
  it('agrees with the reference for any sizes, piece length, thread count and chunk size', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 3 * MERKLE_BLOCK }), fc.integer({ min: 1, max: 300_000 })), { minLength: 1, maxLength: 5 }),
        fc.constantFrom(MERKLE_BLOCK, 2 * MERKLE_BLOCK, 8 * MERKLE_BLOCK),
        fc.integer({ min: 1, max: 3 }),
        fc.constantFrom(MERKLE_BLOCK, 100_000, 4 * 1024 * 1024),
        async (sizes, pl, threads, chunkBytes) => {
          if (sizes.every((s) => s === 0)) sizes = [...sizes, 1];
          const { files, data, stream } = await aligned(sizes, pl, `p${pl}`);
          const merkle: Buffer[] = [];
          const sha1: Buffer[] = [];
          for await (const c of hashFiles(files, { totalLength: stream.length, pieceLength: pl, merkle: true, threads, chunkBytes })) {
            c.merkle.forEach((m, i) => (merkle[c.firstPiece + i] = Buffer.from(m)));
            c.digests.forEach((d, i) => (sha1[c.firstPiece + i] = Buffer.from(d)));
          }
          let piece = 0;
          files.forEach((f, i) => {
            if (f.diskPath === null || f.length === 0) return;
            const want = fileMerkle(data[i]!, pl);
            const count = Math.ceil(f.length / pl);
            const got = merkle.slice(piece, piece + count);
            if (count === 1) expect(got[0]).toEqual(want.root);
            else {
              expect(Buffer.concat(got)).toEqual(want.layer);
              expect(rootFromLayer(got, pl)).toEqual(want.root);
            }
            piece += count;
          });
          expect(piece).toBe(Math.ceil(stream.length / pl));
          for (let p = 0; p < piece; p++) expect(sha1[p]).toEqual(createHash('sha1').update(stream.subarray(p * pl, (p + 1) * pl)).digest());
        },
      ),
      { numRuns: 25 },
    );
  });

  it('in worker threads too (over the inline limit): the same layer and root as the reference', async () => {
    const pl = 4 * MERKLE_BLOCK;
    const { files, data, stream } = await aligned([9 * 1024 * 1024 + 5, 70_000], pl, 'workers');
    const merkle: Buffer[] = [];
    const threadsSeen = new Set<number>();
    for await (const c of hashFiles(files, { totalLength: stream.length, pieceLength: pl, merkle: true, threads: 2, useMainThread: false, chunkBytes: 1024 * 1024 })) {
      threadsSeen.add(c.thread);
      c.merkle.forEach((m, i) => (merkle[c.firstPiece + i] = Buffer.from(m)));
    }
    expect(threadsSeen.has(0)).toBe(false);
    const first = Math.ceil(files[0]!.length / pl);
    expect(Buffer.concat(merkle.slice(0, first))).toEqual(fileMerkle(data[0]!, pl).layer);
    expect(Buffer.concat(merkle.slice(first))).toEqual(fileMerkle(data[2]!, pl).layer);
  });

  it('algorithm null: merkle only, no flat digests', async () => {
    const { files, stream } = await aligned([40_000], MERKLE_BLOCK, 'only');
    for await (const c of hashFiles(files, { totalLength: stream.length, pieceLength: MERKLE_BLOCK, merkle: true, algorithm: null })) {
      expect(c.digests).toEqual([]);
      expect(c.merkle.length).toBeGreaterThan(0);
    }
  });

  it('refuses a layout whose files are not on piece boundaries (HASH_UNALIGNED)', async () => {
    const files: LayoutFile[] = [
      { diskPath: '/nonexistent/a', length: 10, offset: 0 },
      { diskPath: '/nonexistent/b', length: 10, offset: 10 },
    ];
    const e = await thrown(
      (async () => {
        for await (const _ of hashFiles(files, { totalLength: 20, pieceLength: MERKLE_BLOCK, merkle: true })) void _;
      })(),
    );
    expect(e.code).toBe('HASH_UNALIGNED');
  });
});
