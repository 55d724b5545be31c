/** One pieceSize (issue 13 item 21): the metainfo, the block geometry and storage agree, and no other copy exists. */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pieceSize as metainfoPieceSize } from '../../../../src/core/metainfo/index.js';
import { PieceGeometry, pieceSize } from '../../../../src/core/pieces/index.js';

const SRC = join(import.meta.dirname, '..', '..', '..', '..', 'src');
const sources = (dir: string): string[] =>
  readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? sources(join(dir, n)) : n.endsWith('.ts') ? [join(dir, n)] : []));

describe('pieceSize', () => {
  it.each([
    [16384, 40000, [16384, 16384, 7232]],
    [16384, 32768, [16384, 16384]],
    [16384, 100, [100]],
  ])('piece length %i, total %i', (pieceLength, totalLength, sizes) => {
    const geometry = new PieceGeometry(totalLength, pieceLength);
    sizes.forEach((size, i) => {
      expect(pieceSize({ pieceLength, totalLength }, i)).toBe(size);
      expect(metainfoPieceSize({ pieceLength, totalLength }, i)).toBe(size);
      expect(geometry.pieceSize(i)).toBe(size);
    });
  });

  it('is computed in src/core/pieces/geometry.ts only', () => {
    const copies = sources(SRC)
      .filter((f) => /totalLength\s*-\s*\w+\s*\*\s*(this\.|g\.|meta\.|this\.geometry\.)?pieceLength/.test(readFileSync(f, 'utf8')))
      .map((f) => relative(SRC, f));
    expect(copies).toEqual([join('core', 'pieces', 'geometry.ts')]);
  });
});
