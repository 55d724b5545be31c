/** BEP 6 allowed fast set generation: BEP 6's own test vector, our IPv6 choice, and the bounds. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { allowedFastSet } from '../../../../src/core/wire/allowed-fast.js';

const AA = new Uint8Array(20).fill(0xaa);

// 80.4.4.200 is BEP 6's own test vector: an address hashed into a piece set, never contacted.
describe('BEP 6 test vector (infohash 0xaa × 20, 80.4.4.200, 1313 pieces)', () => {
  it('k = 7', () => {
    expect(allowedFastSet(AA, '80.4.4.200', 1313, 7)).toEqual([1059, 431, 808, 1217, 287, 376, 1188]);
  });

  it('k = 9 extends the same sequence', () => {
    expect(allowedFastSet(AA, '80.4.4.200', 1313, 9)).toEqual([1059, 431, 808, 1217, 287, 376, 1188, 353, 508]);
  });

  it('depends on the /24 only: every address of 80.4.4.0/24 gets the same set', () => {
    for (const ip of ['80.4.4.0', '80.4.4.1', '80.4.4.255']) expect(allowedFastSet(AA, ip, 1313, 7)).toEqual([1059, 431, 808, 1217, 287, 376, 1188]);
    expect(allowedFastSet(AA, '80.4.5.200', 1313, 7)).not.toEqual([1059, 431, 808, 1217, 287, 376, 1188]);
  });

  it('an IPv4-mapped IPv6 address is its IPv4 address, in either spelling', () => {
    expect(allowedFastSet(AA, '::ffff:80.4.4.200', 1313, 7)).toEqual([1059, 431, 808, 1217, 287, 376, 1188]);
    expect(allowedFastSet(AA, '::ffff:5004:4c8', 1313, 7)).toEqual([1059, 431, 808, 1217, 287, 376, 1188]);
  });
});

describe('IPv6 (not in BEP 6): the /48 decides', () => {
  it('addresses in one /48 share a set; another /48 gets another', () => {
    const a = allowedFastSet(AA, '2001:db8:1:2::5', 1313, 10);
    expect(a).toHaveLength(10);
    expect(new Set(a).size).toBe(10);
    expect(allowedFastSet(AA, '2001:db8:1:ffff:1:2:3:4', 1313, 10)).toEqual(a);
    expect(allowedFastSet(AA, '2001:db8:2::5', 1313, 10)).not.toEqual(a);
  });

  it('loopback works too', () => {
    expect(allowedFastSet(AA, '::1', 1313, 3)).toHaveLength(3);
  });
});

describe('bounds', () => {
  it('k >= pieceCount: every piece, in order, at once', () => {
    expect(allowedFastSet(AA, '80.4.4.200', 5, 5)).toEqual([0, 1, 2, 3, 4]);
    expect(allowedFastSet(AA, '80.4.4.200', 5, 1_000_000)).toEqual([0, 1, 2, 3, 4]);
    expect(allowedFastSet(AA, '80.4.4.200', 1, 10)).toEqual([0]);
  });

  it('k = 0 or no pieces: the empty set', () => {
    expect(allowedFastSet(AA, '80.4.4.200', 1313, 0)).toEqual([]);
    expect(allowedFastSet(AA, '80.4.4.200', 0, 10)).toEqual([]);
  });

  it('k just under pieceCount terminates with k distinct pieces', () => {
    const started = Date.now();
    const s = allowedFastSet(AA, '80.4.4.200', 5000, 4999);
    expect(s).toHaveLength(4999);
    expect(new Set(s).size).toBe(4999);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('refuses arguments no caller can mean', () => {
    expect(() => allowedFastSet(new Uint8Array(32), '80.4.4.200', 10, 1)).toThrow(RangeError);
    expect(() => allowedFastSet(AA, 'example.org', 10, 1)).toThrow(RangeError);
    expect(() => allowedFastSet(AA, '80.4.4.200', -1, 1)).toThrow(RangeError);
    expect(() => allowedFastSet(AA, '80.4.4.200', 10, 1.5)).toThrow(RangeError);
  });

  it('property: k distinct pieces below pieceCount (min(k, n)), and a prefix of any larger k', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 20, maxLength: 20 }),
        fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 })),
        fc.integer({ min: 1, max: 3000 }),
        fc.integer({ min: 0, max: 40 }),
        (ih, octets, n, k) => {
          const ip = octets.join('.');
          const s = allowedFastSet(ih, ip, n, k);
          expect(s).toHaveLength(Math.min(k, n));
          expect(new Set(s).size).toBe(s.length);
          for (const i of s) expect(i >= 0 && i < n).toBe(true);
          if (k + 1 < n) expect(allowedFastSet(ih, ip, n, k + 1).slice(0, k)).toEqual(s);
        },
      ),
      { numRuns: 200 },
    );
  });
});
