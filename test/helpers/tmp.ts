/**
 * Temporary directories for tests: each one under the OS temp dir, removed in `afterAll` (or by
 * `cleanup()`), so no test leaves files behind and no two tests share a tree.
 *
 *   const tmp = tempDirs();            // at the top of a describe / file: registers afterAll
 *   const dir = await tmp.make();      // a fresh empty directory
 *   await writeTree(dir, { 'a.txt': 'hi', 'sub/b.bin': Buffer.alloc(3) });
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll } from 'vitest';

export interface TempDirs {
  /** A new empty directory; `label` only makes its name easier to recognise. */
  make(label?: string): Promise<string>;
  /** Remove every directory made so far (also done automatically after all tests). */
  cleanup(): Promise<void>;
}

export function tempDirs(): TempDirs {
  const made: string[] = [];
  const cleanup = async () => {
    const dirs = made.splice(0);
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  };
  afterAll(cleanup);
  return {
    async make(label = 'test') {
      const dir = await mkdtemp(join(tmpdir(), `btkit-${label.replace(/[^\w.-]/g, '_')}-`));
      made.push(dir);
      return dir;
    },
    cleanup,
  };
}

/** File contents: text (UTF-8), bytes, or a size in bytes (filled with a deterministic pattern). */
export type TreeContent = string | Uint8Array | number;

/** Create files under `root`; keys are `/`-separated relative paths (parents are created). */
export async function writeTree(root: string, files: Record<string, TreeContent>): Promise<void> {
  for (const [rel, content] of Object.entries(files)) {
    const path = join(root, ...rel.split('/'));
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, typeof content === 'number' ? patternBytes(content, rel) : content);
  }
}

/**
 * `length` bytes of a deterministic pseudo-random pattern (xorshift, seeded from `seed`): cheap,
 * reproducible across runs, and different for different seeds so files never hash alike by chance.
 */
export function patternBytes(length: number, seed: string | number = 1): Buffer {
  let x = typeof seed === 'number' ? seed >>> 0 : [...Buffer.from(seed)].reduce((h, c) => Math.imul(h ^ c, 16777619) >>> 0, 2166136261);
  if (x === 0) x = 0x9e3779b9;
  const out = Buffer.allocUnsafe(length);
  let i = 0;
  for (; i + 4 <= length; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out.writeUInt32LE(x >>> 0, i);
  }
  for (; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Flip the lowest bit of the byte at `position` of a file (one changed byte, in place). */
export async function flipByte(path: string, position: number): Promise<void> {
  const { open } = await import('node:fs/promises');
  const fh = await open(path, 'r+');
  try {
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, position);
    b[0] = b[0]! ^ 0x01;
    await fh.write(b, 0, 1, position);
  } finally {
    await fh.close();
  }
}
