/**
 * sortByUtf8 against the reference order (a Buffer of UTF-8 per key, Buffer.compare), on text that
 * stays below the surrogates (the fast path) and on full Unicode with surrogate pairs and
 * U+E000–U+FFFF (where UTF-16 order and UTF-8 order differ).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sortByUtf8 } from '../../../../src/core/fs/utf8-order.js';

const reference = (keys: string[]): string[] => [...keys].sort((a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));

describe('sortByUtf8', () => {
  it('sorts as the UTF-8 bytes do, for any Unicode text', () => {
    const text = fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary' }), fc.constantFrom('a', 'a.txt', 'a\0b', '\uE000', '\u{1F600}', '\uFFFD', 'Z', 'ä'));
    fc.assert(
      fc.property(fc.array(text, { maxLength: 30 }), (keys) => {
        expect(sortByUtf8(keys, (k) => k)).toEqual(reference(keys));
      }),
      { numRuns: 500 },
    );
  });

  it('a surrogate pair sorts after U+E000–U+FFFF, as its UTF-8 bytes do (not as its UTF-16 units would)', () => {
    expect(sortByUtf8(['\u{1F600}', '\uFFFD', 'b', '\uE000'], (k) => k)).toEqual(['b', '\uE000', '\uFFFD', '\u{1F600}']);
    expect(sortByUtf8([{ n: 'b' }, { n: 'a' }], (x) => x.n)).toEqual([{ n: 'a' }, { n: 'b' }]);
  });
});
