/** Small torrents for web seed tests: a layout (as `Metainfo` has it), the stream and its pieces. */
import { patternBytes } from '../../../helpers/tmp.js';
import type { WebSeedLayout } from '../../../../src/core/webseed/index.js';

export interface FixtureFile {
  path: string[];
  /** Bytes of the file; for a padding file, its length. */
  data: Buffer | number;
}

export interface Fixture {
  layout: WebSeedLayout;
  stream: Buffer;
  pieceLength: number;
  totalLength: number;
  pieceCount: number;
  piece(i: number): Buffer;
  /** Server paths (`/name/a/b`) to file bytes, for a directory URL; padding files left out. */
  served(prefix?: string): Record<string, Buffer>;
}

export function fixture(name: string, files: FixtureFile[], pieceLength: number, multiFile = files.length > 1): Fixture {
  let offset = 0;
  const parts: Buffer[] = [];
  const layoutFiles = files.map((f) => {
    const padding = typeof f.data === 'number';
    const bytes = typeof f.data === 'number' ? Buffer.alloc(f.data) : f.data;
    parts.push(bytes);
    const entry = { path: f.path, length: bytes.length, offset, padding };
    offset += bytes.length;
    return entry;
  });
  const stream = Buffer.concat(parts);
  const totalLength = stream.length;
  return {
    layout: { name, multiFile, files: layoutFiles },
    stream,
    pieceLength,
    totalLength,
    pieceCount: Math.ceil(totalLength / pieceLength),
    piece: (i) => stream.subarray(i * pieceLength, Math.min(totalLength, (i + 1) * pieceLength)),
    served: (prefix = '') => {
      const out: Record<string, Buffer> = {};
      files.forEach((f, i) => {
        if (typeof f.data === 'number') return;
        out[multiFile ? `${prefix}/${name}/${f.path.join('/')}` : `${prefix}/${name}`] = f.data;
        void i;
      });
      return out;
    },
  };
}

export const bytes = (n: number, seed: string) => patternBytes(n, seed);
