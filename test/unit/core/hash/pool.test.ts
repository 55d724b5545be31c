/** The hash worker pool: correct digests for whole buffers, buffers handed back, clean close. */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BtError } from '../../../../src/core/errors.js';
import { HashPool, defaultThreads } from '../../../../src/core/hash/pool.js';
import { patternBytes } from '../../../helpers/tmp.js';

describe('HashPool', () => {
  it('hashes consecutive pieces of a transferred buffer and hands the buffer back', async () => {
    const pool = new HashPool(2);
    try {
      const bytes = patternBytes(5 * 1000 + 1, 'pool');
      const ab = new ArrayBuffer(8000);
      new Uint8Array(ab).set(bytes);
      const { buffer, digests } = await pool.hash(ab, bytes.length, 1000);
      expect(ab.byteLength).toBe(0); // transferred, not copied
      expect(buffer.byteLength).toBe(8000);
      expect(Buffer.from(buffer, 0, bytes.length)).toEqual(bytes);
      const expected = [];
      for (let s = 0; s < bytes.length; s += 1000) expected.push(createHash('sha1').update(bytes.subarray(s, s + 1000)).digest());
      expect(digests).toEqual(Buffer.concat(expected));
    } finally {
      await pool.close();
    }
  });

  it('runs more jobs than workers, each resolving with its own digests', async () => {
    const pool = new HashPool(2);
    try {
      const inputs = Array.from({ length: 7 }, (_, i) => patternBytes(3000, i + 1));
      const results = await Promise.all(
        inputs.map((b) => {
          const ab = new ArrayBuffer(b.length);
          new Uint8Array(ab).set(b);
          return pool.hash(ab, b.length, 3000, 'sha256');
        }),
      );
      results.forEach((r, i) => expect(r.digests).toEqual(createHash('sha256').update(inputs[i]!).digest()));
    } finally {
      await pool.close();
    }
  });

  it('refuses work once closed', async () => {
    const pool = new HashPool(1);
    await pool.close();
    await expect(pool.hash(new ArrayBuffer(1), 1, 1)).rejects.toSatisfy((e) => e instanceof BtError && e.code === 'HASH_POOL_CLOSED');
  });

  it('defaults to at least one thread', () => {
    expect(defaultThreads()).toBeGreaterThanOrEqual(1);
  });
});
