/** Bitfield: BEP 3's MSB-first layout, spare bits, counting, iteration (against a Set reference). */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Bitfield, bitfieldBytes } from '../../../../src/core/pieces/bitfield.js';
import { thrownSync } from '../../../helpers/errors.js';

const hex = (b: Bitfield) => Buffer.from(b.toWire()).toString('hex');

describe('Bitfield', () => {
  it('puts piece 0 in the high bit of the first byte', () => {
    const b = new Bitfield(10);
    b.set(0);
    b.set(9);
    expect(hex(b)).toBe('8040');
    expect([b.get(0), b.get(1), b.get(9)]).toEqual([true, false, true]);
  });

  it('sizes the wire bytes as ceil(n/8)', () => {
    expect([0, 1, 8, 9, 16, 17].map(bitfieldBytes)).toEqual([0, 1, 1, 2, 2, 3]);
  });

  it('fills a full bitfield without touching the spare bits', () => {
    const b = Bitfield.full(10);
    expect(hex(b)).toBe('ffc0');
    expect([b.count, b.hasAll(), b.hasNone()]).toEqual([10, true, false]);
    expect(hex(Bitfield.full(16))).toBe('ffff');
  });

  it('keeps the count through set and clear, and reports changes', () => {
    const b = new Bitfield(20);
    expect(b.set(3)).toBe(true);
    expect(b.set(3)).toBe(false);
    b.set(19);
    expect(b.count).toBe(2);
    expect(b.clear(3)).toBe(true);
    expect(b.clear(3)).toBe(false);
    expect(b.count).toBe(1);
  });

  it('refuses to set outside the range, and reads outside it as missing', () => {
    const b = new Bitfield(10);
    expect(() => b.set(10)).toThrow(RangeError);
    expect(() => b.set(-1)).toThrow(RangeError);
    expect(b.get(10)).toBe(false);
  });

  it('reads wire bytes, counts them, and copies them', () => {
    const bytes = Uint8Array.of(0xa0, 0x40);
    const b = Bitfield.fromWire(bytes, 10);
    bytes[0] = 0;
    expect([...b.setIndices()]).toEqual([0, 2, 9]);
    expect(b.count).toBe(3);
  });

  it('refuses spare bits and wrong lengths with WIRE_BAD_BITFIELD', () => {
    expect(thrownSync(() => Bitfield.fromWire(Uint8Array.of(0xff, 0xe0), 10))).toMatchObject({ code: 'WIRE_BAD_BITFIELD', category: 'network' });
    expect(thrownSync(() => Bitfield.fromWire(Uint8Array.of(0x00, 0x01), 15)).code).toBe('WIRE_BAD_BITFIELD');
    expect(() => Bitfield.fromWire(Uint8Array.of(0x00, 0x02), 15)).not.toThrow();
    expect(thrownSync(() => Bitfield.fromWire(Uint8Array.of(0xff), 10)).code).toBe('WIRE_BAD_BITFIELD');
    expect(thrownSync(() => Bitfield.fromWire(Uint8Array.of(0xff, 0xc0, 0), 10)).code).toBe('WIRE_BAD_BITFIELD');
  });

  it('handles an empty torrent', () => {
    const b = new Bitfield(0);
    expect([b.toWire().length, b.hasAll(), [...b.missingIndices()]]).toEqual([0, true, []]);
  });

  it('agrees with a Set of indices (set/missing iteration, count, wire round trip)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 80 }).chain((n) => fc.tuple(fc.constant(n), fc.array(fc.integer({ min: 0, max: n - 1 })))),
        ([n, idx]) => {
          const b = new Bitfield(n);
          const ref = new Set<number>();
          for (const i of idx) {
            if (ref.has(i)) {
              b.clear(i);
              ref.delete(i);
            } else {
              b.set(i);
              ref.add(i);
            }
          }
          const all = Array.from({ length: n }, (_, i) => i);
          expect([...b.setIndices()]).toEqual(all.filter((i) => ref.has(i)));
          expect([...b.missingIndices()]).toEqual(all.filter((i) => !ref.has(i)));
          expect(b.count).toBe(ref.size);
          const back = Bitfield.fromWire(b.toWire(), n);
          expect([...back.setIndices()]).toEqual([...b.setIndices()]);
          expect(back.count).toBe(b.count);
        },
      ),
      { numRuns: 300 },
    );
  });
});
