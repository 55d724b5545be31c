/**
 * Hand-written cases for the bencode decoder (BEP 3): every error code with its byte offset, the
 * non-canonical kinds one by one, and the value model (bytes, number/bigint, Map with binary keys).
 * The property tests (codec.property.test.ts) cover the same ground with random values; these pin
 * the exact behaviour a reader of the code expects.
 */
import { describe, expect, it } from 'vitest';
import { type BDict, decode, encode, isBytes, isDict, isInt, isList, keyBytes, keyOf, keyText, toJson, utf8OrNull } from '../../../../src/core/bencode/index.js';
import { BtError } from '../../../../src/core/errors.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

function errorOf(input: string, options: Parameters<typeof decode>[1] = {}): { code: string; offset: unknown; category: string } {
  try {
    decode(b(input), options);
  } catch (e) {
    expect(e).toBeInstanceOf(BtError);
    const bt = e as BtError;
    return { code: bt.code, offset: bt.detail?.offset, category: bt.category };
  }
  throw new Error(`expected ${JSON.stringify(input)} to be refused`);
}

describe('malformed input: code and offset', () => {
  it.each([
    ['', 'BENCODE_EMPTY', 0],
    ['x', 'BENCODE_BAD_TOKEN', 0],
    ['e', 'BENCODE_BAD_TOKEN', 0],
    ['li1ex', 'BENCODE_BAD_TOKEN', 4],
    ['i', 'BENCODE_UNEXPECTED_END', 0],
    ['i12', 'BENCODE_UNEXPECTED_END', 0],
    ['i-', 'BENCODE_UNEXPECTED_END', 0],
    ['ie', 'BENCODE_BAD_INTEGER', 0],
    ['i-e', 'BENCODE_BAD_INTEGER', 0],
    ['i+1e', 'BENCODE_BAD_INTEGER', 0],
    ['i1.5e', 'BENCODE_BAD_INTEGER', 2],
    ['i--1e', 'BENCODE_BAD_INTEGER', 0],
    ['i 1e', 'BENCODE_BAD_INTEGER', 0],
    ['1', 'BENCODE_UNEXPECTED_END', 0],
    ['12', 'BENCODE_LENGTH_PAST_END', 0], // 12 > the 2-byte input: refused before reading on
    ['1x', 'BENCODE_BAD_STRING', 1],
    ['-3:abc', 'BENCODE_BAD_TOKEN', 0],
    ['4:abc', 'BENCODE_LENGTH_PAST_END', 0],
    ['l3:ab', 'BENCODE_LENGTH_PAST_END', 1],
    ['l', 'BENCODE_UNEXPECTED_END', 0],
    ['li1e', 'BENCODE_UNEXPECTED_END', 0],
    ['lli1ee', 'BENCODE_UNEXPECTED_END', 0],
    ['d', 'BENCODE_UNEXPECTED_END', 0],
    ['d1:a', 'BENCODE_UNEXPECTED_END', 1],
    ['d1:ai1e', 'BENCODE_UNEXPECTED_END', 0],
    ['di1ei2ee', 'BENCODE_BAD_KEY', 1],
    ['dlei1ee', 'BENCODE_BAD_KEY', 1],
    ['d1:ae', 'BENCODE_BAD_TOKEN', 4],
    ['i1ei2e', 'BENCODE_TRAILING_BYTES', 3],
    [`i${'9'.repeat(21)}e`, 'BENCODE_INTEGER_TOO_LONG', 0],
    [`i-${'1'.repeat(21)}e`, 'BENCODE_INTEGER_TOO_LONG', 0],
    [`li1ei${'0'.repeat(25)}1ee`, 'BENCODE_INTEGER_TOO_LONG', 4],
    [`d1:ai${'5'.repeat(60)}`, 'BENCODE_INTEGER_TOO_LONG', 4],
    ['le ', 'BENCODE_TRAILING_BYTES', 2],
  ])('%j → %s at byte %d', (input, code, offset) => {
    expect(errorOf(input)).toEqual({ code, offset, category: 'input' });
  });

  it('names the offset in the message', () => {
    // toThrow fails when decode returns instead of throwing (a try/catch alone would pass then).
    expect(() => decode(b('l3:ab'))).toThrow(/^bencode: string of 3 bytes runs past the end of input at byte 1$/);
    expect(() => decode(b('l3:ab'))).toThrow(BtError);
  });
});

describe('non-canonical forms', () => {
  it.each([
    ['i03e', 'BENCODE_NONCANONICAL_INTEGER_LEADING_ZERO', [{ kind: 'integer-leading-zero', offset: 0 }], 3],
    ['i00e', 'BENCODE_NONCANONICAL_INTEGER_LEADING_ZERO', [{ kind: 'integer-leading-zero', offset: 0 }], 0],
    ['i-0e', 'BENCODE_NONCANONICAL_NEGATIVE_ZERO', [{ kind: 'negative-zero', offset: 0 }], 0],
    [
      'i-00e',
      'BENCODE_NONCANONICAL_INTEGER_LEADING_ZERO',
      [
        { kind: 'integer-leading-zero', offset: 0 },
        { kind: 'negative-zero', offset: 0 },
      ],
      0,
    ],
    // -5 with a leading zero: not a negative zero.
    ['i-05e', 'BENCODE_NONCANONICAL_INTEGER_LEADING_ZERO', [{ kind: 'integer-leading-zero', offset: 0 }], -5],
    ['li1ei007ee', 'BENCODE_NONCANONICAL_INTEGER_LEADING_ZERO', [{ kind: 'integer-leading-zero', offset: 4 }], [1, 7]],
  ])('%j: strict → %s; lenient reports %j', (input, code, kinds, value) => {
    expect(errorOf(input).code).toBe(code);
    const r = decode(b(input), { mode: 'lenient' });
    expect(r.nonCanonical).toEqual(kinds);
    expect(r.value).toEqual(value);
    if (typeof r.value === 'number') expect(Object.is(r.value, -0)).toBe(false);
  });

  it('03:abc: a string length with a leading zero', () => {
    expect(errorOf('03:abc')).toEqual({ code: 'BENCODE_NONCANONICAL_LENGTH_LEADING_ZERO', offset: 0, category: 'input' });
    const r = decode(b('l00:03:abce'), { mode: 'lenient' });
    expect(r.nonCanonical).toEqual([
      { kind: 'length-leading-zero', offset: 1 },
      { kind: 'length-leading-zero', offset: 4 },
    ]);
    expect((r.value as Uint8Array[]).map((x) => Buffer.from(x).toString())).toEqual(['', 'abc']);
    // `0:` is the canonical empty string.
    expect((decode(b('0:')).value as Uint8Array).length).toBe(0);
  });

  it('unsorted and duplicate keys', () => {
    expect(errorOf('d1:bi1e1:ai2ee')).toEqual({ code: 'BENCODE_NONCANONICAL_UNSORTED_KEYS', offset: 7, category: 'input' });
    expect(errorOf('d1:ai1e1:ai2ee')).toEqual({ code: 'BENCODE_NONCANONICAL_DUPLICATE_KEY', offset: 7, category: 'input' });
    // A repeat that is not adjacent is a duplicate too, not merely unsorted.
    expect(errorOf('d1:ai1e1:bi2e1:ai3ee', { mode: 'strict' }).code).toBe('BENCODE_NONCANONICAL_DUPLICATE_KEY');
    const r = decode(b('d1:ai1e1:bi2e1:ai3ee'), { mode: 'lenient' });
    expect(r.nonCanonical).toEqual([{ kind: 'duplicate-key', offset: 13 }]);
    expect([...(r.value as BDict)]).toEqual([
      ['a', 1],
      ['b', 2],
    ]);
    // Keys compare as raw bytes: "a" < "aa" < "b", and 0x80 > 0x7f.
    expect(decode(b('d1:ai1e2:aai2e1:bi3ee')).nonCanonical).toEqual([]);
    expect(errorOf('d1:\x80i1e1:\x7fi2ee').code).toBe('BENCODE_NONCANONICAL_UNSORTED_KEYS');
  });

  it('lenient mode still refuses what is not bencode at all', () => {
    expect(errorOf('i1x', { mode: 'lenient' }).code).toBe('BENCODE_BAD_INTEGER');
    expect(errorOf('d1:a', { mode: 'lenient' }).code).toBe('BENCODE_UNEXPECTED_END');
  });
});

describe('value model', () => {
  it('byte strings are bytes, not text', () => {
    const v = decode(b('3:\xff\xfe\x00')).value;
    expect(isBytes(v)).toBe(true);
    expect([...(v as Uint8Array)]).toEqual([0xff, 0xfe, 0x00]);
    expect(utf8OrNull(v as Uint8Array)).toBeNull();
    expect(utf8OrNull(Buffer.from('héllo'))).toBe('héllo');
  });

  it('dictionary keys are binary strings; keyOf/keyText/keyBytes convert', () => {
    const d = decode(encode(new Map([[keyOf('naïve'), 1], ['\xff\x00', 2], ['interval', 3]]))).value as BDict;
    expect(isDict(d)).toBe(true);
    expect(d.get('interval')).toBe(3);
    expect(d.get(keyOf('naïve'))).toBe(1);
    expect(d.get('naïve')).toBeUndefined(); // the binary key is the UTF-8 bytes, one char per byte
    expect(keyText(keyOf('naïve'))).toBe('naïve');
    expect(keyText('\xff\x00')).toBeNull();
    expect([...keyBytes('\xff\x00')]).toEqual([0xff, 0]);
  });

  it('plain-object keys are UTF-8 text; strings encode as UTF-8; booleans as 0/1; undefined is skipped', () => {
    expect(encode({ naïve: 'é', t: true, f: false, skip: undefined }).toString('latin1')).toBe(
      `d1:fi0e${Buffer.from('6:naïve2:é').toString('latin1')}1:ti1ee`,
    );
  });

  it('type guards', () => {
    expect(isList(decode(b('le')).value)).toBe(true);
    expect(isInt(decode(b('i1e')).value)).toBe(true);
    expect(isInt(decode(b('i99999999999999999999e')).value)).toBe(true);
    expect(isDict(decode(b('le')).value)).toBe(false);
  });

  it('encode refuses what bencode cannot represent', () => {
    const codeOf = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return (e as BtError).code;
      }
      return 'none';
    };
    expect(codeOf(() => encode(1.5))).toBe('BENCODE_ENCODE_NOT_INTEGER');
    expect(codeOf(() => encode(Number.NaN))).toBe('BENCODE_ENCODE_NOT_INTEGER');
    expect(codeOf(() => encode(2 ** 60))).toBe('BENCODE_ENCODE_NOT_INTEGER');
    expect(codeOf(() => encode(null as never))).toBe('BENCODE_ENCODE_BAD_VALUE');
    // Two text keys that become the same UTF-8 bytes (a lone surrogate is written as U+FFFD).
    expect(codeOf(() => encode({ '\uD800': 1, '\uFFFD': 2 }))).toBe('BENCODE_ENCODE_DUPLICATE_KEY');
    let deep: unknown = [];
    for (let i = 0; i < 300; i++) deep = [deep];
    expect(codeOf(() => encode(deep as never))).toBe('BENCODE_ENCODE_TOO_DEEP');
  });

  it('toJson: UTF-8 strings as text, other bytes as hex, hash keys always hex', () => {
    const v = decode(encode({ name: 'x', pieces: Buffer.from('abc'), blob: Buffer.from([0xff]), n: 7n ** 22n })).value;
    expect(toJson(v, { binaryKeys: new Set(['pieces']) })).toEqual({
      blob: { hex: 'ff' },
      n: (7n ** 22n).toString(),
      name: 'x',
      pieces: { hex: '616263' },
    });
  });
});
