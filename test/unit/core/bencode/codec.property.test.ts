/**
 * Property tests of the bencode codec (BEP 3): round trips both ways, every non-canonical form
 * refused in strict mode and reported (kind and byte offset) in lenient mode, limits, and fuzzing
 * (only typed errors, never a crash or a stall). numRuns are chosen so the file runs in a few
 * seconds on two cores; the generators keep values small and the edge cases biased in.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type BDict, type BValue, decode, encode, Encoded, encodeWithSpan } from '../../../../src/core/bencode/index.js';
import { BtError } from '../../../../src/core/errors.js';
import { thrownSync } from '../../../helpers/errors.js';
import { bDict, bInt, bValue, type Norm, norm, normSorted } from './arbitraries.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const enc = (v: BValue): Buffer => encode(v);
const cat = (...parts: Uint8Array[]): Buffer => Buffer.concat(parts);
/** Bencode of a binary-string key. */
const keyEnc = (k: string): Buffer => cat(b(`${Buffer.byteLength(k, 'latin1')}:`), b(k));

/** A dictionary's normal form with its own entries in the given (file) order and everything inside it canonical. */
const inOrder = (entries: [string, BValue][]): Norm => ({ d: entries.map(([k, v]) => [Buffer.from(k, 'latin1').toString('hex'), normSorted(v)]) });

describe('round trips', () => {
  it('an Encoded value is written as its bytes: the same as encoding the value in its place', () => {
    fc.assert(
      fc.property(bValue(), bValue(), (a, b) => {
        expect(Buffer.compare(encode([a, new Encoded(encode(b)), a]), encode([a, b, a]))).toBe(0);
      }),
      { numRuns: 200 },
    );
  });

  it('encodeWithSpan: the same bytes as encode, and the span of the marked dictionary holds encode(part)', () => {
    fc.assert(
      fc.property(bDict(), bDict(), fc.string(), (outer, part, key) => {
        const whole = new Map(outer);
        whole.set(key, part);
        const { bytes, span } = encodeWithSpan(whole, part);
        expect(Buffer.compare(bytes, encode(whole))).toBe(0);
        expect(span).not.toBeNull();
        expect(Buffer.compare(bytes.subarray(span!.start, span!.end), encode(part))).toBe(0);
        expect(encodeWithSpan(outer, part).span).toBeNull();
      }),
      { numRuns: 200 },
    );
  });

  it('decode(encode(x)) = x, with keys in byte order and nothing non-canonical', () => {
    fc.assert(
      fc.property(bValue(), (x) => {
        const bytes = encode(x);
        const r = decode(bytes);
        expect(norm(r.value)).toEqual(normSorted(x));
        expect(r.end).toBe(bytes.length);
        expect(r.nonCanonical).toEqual([]);
      }),
      { numRuns: 400 },
    );
  });

  it('encode(decode(b)) = b for canonical b, from a plain Uint8Array at a non-zero offset', () => {
    fc.assert(
      fc.property(bValue(), fc.uint8Array({ minLength: 1, maxLength: 7 }), (x, pad) => {
        const canonical = encode(x);
        // The same bytes inside a larger ArrayBuffer, not a Buffer: offsets and spans must be
        // relative to the view, and strings must still be read as bytes.
        const host = new Uint8Array(pad.length + canonical.length);
        host.set(pad);
        host.set(canonical, pad.length);
        const view = host.subarray(pad.length);
        const r = decode(view);
        expect(Buffer.compare(encode(r.value), canonical)).toBe(0);
        if (typeof r.value === 'object' && !(r.value instanceof Uint8Array)) {
          expect(r.spanOf(r.value)).toEqual({ start: 0, end: canonical.length });
        }
      }),
      { numRuns: 300 },
    );
  });

  it('integers: safe ones come back as numbers, others as bigints, exactly', () => {
    fc.assert(
      fc.property(bInt, (n) => {
        const bytes = encode(n);
        expect(bytes.toString('latin1')).toBe(`i${n.toString()}e`);
        const v = decode(bytes).value;
        expect(typeof v).toBe(typeof n);
        expect(v).toBe(n);
      }),
      { numRuns: 300 },
    );
    expect(decode(b('i9007199254740991e')).value).toBe(Number.MAX_SAFE_INTEGER);
    expect(decode(b('i9007199254740992e')).value).toBe(9007199254740992n);
    expect(decode(b('i-9007199254740992e')).value).toBe(-9007199254740992n);
    expect(decode(b('i99999999999999999999e')).value).toBe(99999999999999999999n);
    expect(decode(b('i123456789012345678901234567890e'), { maxIntegerDigits: 30 }).value).toBe(123456789012345678901234567890n);
  });

  it('integers longer than the digit bound are refused at their `i`, wherever they are (issue 15)', () => {
    fc.assert(
      fc.property(
        // One-digit integers around it, so that only the long one meets the bound.
        fc.array(bValue({ maxDepth: 2, int: fc.integer({ min: -9, max: 9 }) }), { maxLength: 4 }),
        fc.nat(),
        fc.record({ negative: fc.boolean(), first: fc.integer({ min: 0, max: 9 }), extra: fc.integer({ min: 1, max: 200 }), bound: fc.integer({ min: 1, max: 40 }), terminated: fc.boolean() }),
        (items, where, { negative, first, extra, bound, terminated }) => {
          const at = where % (items.length + 1);
          const before = items.slice(0, at).map((x) => encode(x));
          const offset = 1 + before.reduce((n, x) => n + x.length, 0);
          const digits = `${first}${'7'.repeat(bound + extra - 1)}`;
          const token = b(`i${negative ? '-' : ''}${digits}${terminated ? 'e' : ''}`);
          const bytes = Buffer.concat([b('l'), ...before, token, ...items.slice(at).map((x) => encode(x)), b('e')]);
          for (const mode of ['strict', 'lenient'] as const) {
            const e = thrownSync(() => decode(bytes, { mode, maxIntegerDigits: bound }));
            expect(e.code).toBe('BENCODE_INTEGER_TOO_LONG');
            expect(e.detail?.offset).toBe(offset);
          }
          // At the bound exactly, the same digits are an integer (or a lenient leading zero).
          const fits = b(`i${negative ? '-' : ''}${digits.slice(0, bound)}e`);
          const v = decode(fits, { mode: 'lenient', maxIntegerDigits: bound }).value;
          expect(BigInt(v as number | bigint)).toBe(BigInt(`${negative ? '-' : ''}${digits.slice(0, bound)}`));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a 5-million-digit integer is refused by default, at byte 0, after reading no more than 21 digits', () => {
    const huge = Buffer.alloc(5_000_002, 0x39);
    huge[0] = 0x69; // i
    huge[huge.length - 1] = 0x65; // e
    const e = thrownSync(() => decode(huge));
    expect(e).toMatchObject({ code: 'BENCODE_INTEGER_TOO_LONG', category: 'input', detail: { offset: 0 } });
    // Not even a valid bound's worth: a byte that is not a digit after 21 digits still says "too long".
    expect(thrownSync(() => decode(b(`i${'1'.repeat(21)}xe`))).code).toBe('BENCODE_INTEGER_TOO_LONG');
    expect(thrownSync(() => decode(b(`i${'1'.repeat(20)}xe`))).code).toBe('BENCODE_BAD_INTEGER');
  });

  it('every list and dictionary has the span of its own bytes', () => {
    fc.assert(
      fc.property(bValue(), (x) => {
        const bytes = encode(x);
        const r = decode(bytes);
        const walk = (v: BValue): void => {
          if (v instanceof Uint8Array || typeof v !== 'object') return;
          const span = r.spanOf(v)!;
          expect(span).toBeDefined();
          expect(Buffer.compare(bytes.subarray(span.start, span.end), encode(v))).toBe(0);
          for (const c of Array.isArray(v) ? v : v.values()) walk(c);
        };
        walk(r.value);
      }),
      { numRuns: 200 },
    );
  });

  it('sorts dictionary keys by raw bytes, not by UTF-16 code units', () => {
    // U+FFFF is EF BF BF in UTF-8 and U+10000 is F0 90 80 80: byte order puts U+FFFF first, while
    // JavaScript's string order (UTF-16: FFFF vs D800) would put U+10000 first.
    const ffff = Buffer.from('\uFFFF', 'utf8');
    const u10000 = Buffer.from('\u{10000}', 'utf8');
    expect(ffff).toEqual(Buffer.from([0xef, 0xbf, 0xbf]));
    expect(encode({ '\u{10000}': 1, '\uFFFF': 2 })).toEqual(cat(b('d3:'), ffff, b('i2e4:'), u10000, b('i1ee')));
    // Binary keys: 0x80 sorts after 0x7f and before 0xff; a prefix sorts first.
    expect(encode(new Map<string, BValue>([['\xff', 1], ['\x80', 2], ['\x7f', 3], ['\x7f\x00', 4]])).toString('latin1')).toBe(
      'd1:\x7fi3e2:\x7f\x00i4e1:\x80i2e1:\xffi1ee',
    );
  });
});

describe('non-canonical input', () => {
  /** Expected deviations for dict entries written in the given order: where a key is smaller than the one before it. */
  function unsortedAt(keys: string[], offsets: number[]): { kind: 'unsorted-keys'; offset: number }[] {
    const out: { kind: 'unsorted-keys'; offset: number }[] = [];
    for (let i = 1; i < keys.length; i++) if (keys[i]! < keys[i - 1]!) out.push({ kind: 'unsorted-keys', offset: offsets[i]! });
    return out;
  }

  it('unsorted keys: strict refuses at the first out-of-order key; lenient reports each and keeps every entry', () => {
    const shuffled = bDict(2).chain((dict) =>
      fc
        .shuffledSubarray([...dict.entries()], { minLength: dict.size, maxLength: dict.size })
        .filter((es) => es.some(([k], i) => i > 0 && k < es[i - 1]![0]))
        .map((entries) => ({ dict, entries })),
    );
    fc.assert(
      fc.property(shuffled, fc.uint8Array({ maxLength: 3 }), ({ dict, entries }, prefixPad) => {
        // Put the dict inside a list after some padding values, so offsets are not all relative to 0.
        const prefix = cat(b('l'), ...[...prefixPad].map((n) => enc(n)));
        const offsets: number[] = [];
        const parts: Buffer[] = [prefix, b('d')];
        let at = prefix.length + 1;
        for (const [k, v] of entries) {
          offsets.push(at);
          const part = cat(keyEnc(k), enc(v));
          parts.push(part);
          at += part.length;
        }
        parts.push(b('ee'));
        const bytes = cat(...parts);
        const expected = unsortedAt(
          entries.map(([k]) => k),
          offsets,
        );

        const e = thrownSync(() => decode(bytes));
        expect(e.code).toBe('BENCODE_NONCANONICAL_UNSORTED_KEYS');
        expect(e.category).toBe('input');
        expect(e.detail?.offset).toBe(expected[0]!.offset);

        const r = decode(bytes, { mode: 'lenient' });
        expect(r.nonCanonical).toEqual(expected);
        const got = (r.value as BValue[]).at(-1) as BDict;
        expect(normSorted(got)).toEqual(normSorted(dict));
        expect(norm(got)).toEqual(inOrder(entries)); // file order kept
        expect(Buffer.compare(encode(r.value), encode([...prefixPad, dict]))).toBe(0);
      }),
      { numRuns: 200 },
    );
  });

  it('duplicate keys: strict refuses at the repeat; lenient reports it and keeps the first value', () => {
    const arb = bDict(1).chain((dict) =>
      fc.record({ dict: fc.constant(dict), which: fc.nat(dict.size - 1), second: bValue({ maxDepth: 1 }) }),
    );
    fc.assert(
      fc.property(arb, ({ dict, which, second }) => {
        const sorted = [...dict.entries()].sort(([a], [c]) => (a < c ? -1 : a > c ? 1 : 0));
        const parts: Buffer[] = [b('d')];
        let at = 1;
        let dupAt = -1;
        sorted.forEach(([k, v], i) => {
          const part = cat(keyEnc(k), enc(v));
          parts.push(part);
          at += part.length;
          if (i === which) {
            dupAt = at;
            const dup = cat(keyEnc(k), enc(second));
            parts.push(dup);
            at += dup.length;
          }
        });
        parts.push(b('e'));
        const bytes = cat(...parts);

        const e = thrownSync(() => decode(bytes));
        expect(e.code).toBe('BENCODE_NONCANONICAL_DUPLICATE_KEY');
        expect(e.detail?.offset).toBe(dupAt);

        const r = decode(bytes, { mode: 'lenient' });
        expect(r.nonCanonical).toEqual([{ kind: 'duplicate-key', offset: dupAt }]);
        expect(norm(r.value)).toEqual(inOrder(sorted));
      }),
      { numRuns: 200 },
    );
  });

  /** A non-canonical token, its kinds (in report order), and the value it still stands for. */
  const badToken = fc.oneof(
    fc.record({ zeros: fc.integer({ min: 1, max: 3 }), n: fc.nat(99999), neg: fc.boolean() }).map(({ zeros, n, neg }) => {
      // i03e, i007e, i-05e, i00e: a leading zero; negative zero only when the number is zero.
      const value = neg ? -n : n;
      const kinds = n === 0 && neg ? ['integer-leading-zero', 'negative-zero'] : ['integer-leading-zero'];
      return { bytes: b(`i${neg ? '-' : ''}${'0'.repeat(zeros)}${n}e`), kinds, value: value === 0 ? 0 : value };
    }),
    fc.constant({ bytes: b('i-0e'), kinds: ['negative-zero'], value: 0 as BValue }),
    fc.record({ zeros: fc.integer({ min: 1, max: 3 }), s: fc.uint8Array({ maxLength: 12 }) }).map(({ zeros, s }) => ({
      bytes: cat(b(`${'0'.repeat(zeros)}${s.length}:`), s),
      kinds: ['length-leading-zero'],
      value: s as BValue,
    })),
  );

  it('i03e, i-0e, 03:abc inside any list: strict names the first kind and offset; lenient reports all, keeps the value', () => {
    fc.assert(
      fc.property(fc.array(bValue({ maxDepth: 2 }), { maxLength: 4 }), fc.nat(), badToken, (items, where, token) => {
        const at = where % (items.length + 1);
        const before = items.slice(0, at).map(enc);
        const offset = 1 + before.reduce((n, x) => n + x.length, 0);
        const bytes = cat(b('l'), ...before, token.bytes, ...items.slice(at).map(enc), b('e'));

        const e = thrownSync(() => decode(bytes));
        expect(e.code).toBe(`BENCODE_NONCANONICAL_${token.kinds[0]!.toUpperCase().replaceAll('-', '_')}`);
        expect(e.detail?.offset).toBe(offset);

        const r = decode(bytes, { mode: 'lenient' });
        expect(r.nonCanonical).toEqual(token.kinds.map((kind) => ({ kind, offset })));
        const expected = [...items.slice(0, at), token.value, ...items.slice(at)];
        expect(norm(r.value)).toEqual(norm(decode(encode(expected)).value));
      }),
      { numRuns: 300 },
    );
  });

  it('a dictionary key with a leading-zero length is reported at the key', () => {
    expect(thrownSync(() => decode(b('d02:abi1ee'))).code).toBe('BENCODE_NONCANONICAL_LENGTH_LEADING_ZERO');
    expect(decode(b('d02:abi1ee'), { mode: 'lenient' }).nonCanonical).toEqual([{ kind: 'length-leading-zero', offset: 1 }]);
  });

  it('trailing bytes: strict refuses at the first extra byte; lenient reports it; allowTrailing returns the end', () => {
    fc.assert(
      fc.property(bValue({ maxDepth: 2 }), fc.uint8Array({ minLength: 1, maxLength: 16 }), (x, extra) => {
        const value = encode(x);
        const bytes = cat(value, extra);
        const e = thrownSync(() => decode(bytes));
        expect(e.code).toBe('BENCODE_TRAILING_BYTES');
        expect(e.detail?.offset).toBe(value.length);

        const r = decode(bytes, { mode: 'lenient' });
        expect(r.nonCanonical).toEqual([{ kind: 'trailing-bytes', offset: value.length }]);
        expect(r.end).toBe(value.length);
        expect(norm(r.value)).toEqual(normSorted(x));

        const t = decode(bytes, { allowTrailing: true });
        expect(t.end).toBe(value.length);
        expect(t.nonCanonical).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });

  it('lenient decoding of a canonical value reports nothing and equals strict decoding', () => {
    fc.assert(
      fc.property(bValue(), (x) => {
        const bytes = encode(x);
        const r = decode(bytes, { mode: 'lenient' });
        expect(r.nonCanonical).toEqual([]);
        expect(norm(r.value)).toEqual(norm(decode(bytes).value));
      }),
      { numRuns: 100 },
    );
  });
});

describe('hostile input: only BtError, never a crash or a stall', () => {
  /** Decodes in both modes; a success must be consistent, a failure a typed bencode error with an offset inside the input. */
  function survive(bytes: Uint8Array): void {
    for (const mode of ['strict', 'lenient'] as const) {
      try {
        const r = decode(bytes, { mode });
        expect(r.end).toBeGreaterThan(0);
        expect(r.end).toBeLessThanOrEqual(bytes.length);
        // Canonical encoding is unique: anything strict accepts must re-encode to the same bytes.
        if (mode === 'strict') expect(Buffer.compare(encode(r.value), bytes)).toBe(0);
        else expect(norm(decode(encode(r.value)).value)).toEqual(normSorted(r.value));
      } catch (e) {
        if (!(e instanceof BtError)) throw e;
        expect(e.code).toMatch(/^BENCODE_[A-Z_]+$/);
        expect(e.category).toBe('input');
        const offset = e.detail?.offset as number;
        expect(Number.isInteger(offset)).toBe(true);
        expect(offset).toBeGreaterThanOrEqual(0);
        expect(offset).toBeLessThanOrEqual(bytes.length);
        expect(e.message).toContain(`at byte ${offset}`);
      }
    }
  }

  /** Bytes from bencode's own alphabet, so the decoder gets deep into structures before failing. */
  const alphabet = b('dlie0123456789:-');
  const bencodeish = (maxLength: number) =>
    fc.array(fc.integer({ min: 0, max: alphabet.length - 1 }), { maxLength }).map((ix) => new Uint8Array(ix.map((i) => alphabet[i]!)));

  it('random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 4096 }), survive), { numRuns: 300 });
  });

  it('random bytes from the bencode alphabet', () => {
    fc.assert(fc.property(bencodeish(512), survive), { numRuns: 1000 });
  });

  it('valid encodings with bytes flipped, inserted, removed or cut', () => {
    const mutated = fc
      .tuple(bValue(), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 3 }), fc.nat(255)), { minLength: 1, maxLength: 4 }))
      .map(([x, edits]) => {
        let bytes = [...encode(x)];
        for (const [where, op, byte] of edits) {
          const at = where % (bytes.length + 1);
          if (op === 0) bytes[at] = byte;
          else if (op === 1) bytes.splice(at, 0, alphabet[byte % alphabet.length]!);
          else if (op === 2) bytes.splice(at, 1);
          else bytes = bytes.slice(0, at);
        }
        return new Uint8Array(bytes);
      });
    fc.assert(fc.property(mutated, survive), { numRuns: 1000 });
  });

  it('1 MiB inputs: random, bencode-alphabet, and degenerate repetitions', () => {
    const MiB = 1 << 20;
    /** A seeded linear congruential generator: 1 MiB per run without fast-check building a million-element array. */
    const lcg = (seed: number) => {
      let s = seed >>> 0;
      return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0);
    };
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (seed) => {
        const next = lcg(seed);
        const out = new Uint8Array(MiB);
        for (let i = 0; i < MiB; i++) out[i] = next() >>> 24;
        survive(out);
      }),
      { numRuns: 5 },
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (seed) => {
        // Long runs of one token are what makes naive decoders recurse or loop: build 1 MiB from
        // a seeded choice of short tokens.
        const tokens = ['l', 'd', 'e', 'i', '1', '0', ':', '-', '1:', 'le', 'i1e', 'd1:a', '9'].map(b);
        const out = Buffer.alloc(MiB);
        const next = lcg(seed);
        let n = 0;
        while (n < MiB) {
          const s = next();
          const t = tokens[s % tokens.length]!;
          const run = 1 + ((s >>> 8) % 64);
          for (let i = 0; i < run && n < MiB; i++) n += t.copy(out, n);
        }
        survive(out);
      }),
      { numRuns: 10 },
    );
    for (const s of ['l', 'd', 'i', '9', '0', 'le', 'i1e', '1:a', 'd1:a', 'li1ee']) survive(b(s.repeat(Math.ceil(MiB / s.length))));
  });
});

describe('limits', () => {
  it('100k nested lists: BENCODE_TOO_DEEP at the first list past the default depth (64)', () => {
    const e = thrownSync(() => decode(b('l'.repeat(100_000))));
    expect(e.code).toBe('BENCODE_TOO_DEEP');
    expect(e.detail?.offset).toBe(64);
    expect(thrownSync(() => decode(b(`${'d1:a'.repeat(100_000)}`))).code).toBe('BENCODE_TOO_DEEP');
    expect(thrownSync(() => decode(b(`${'l'.repeat(100_000)}${'e'.repeat(100_000)}`))).code).toBe('BENCODE_TOO_DEEP');
  });

  it('maxDepth is exact: depth n passes, n + 1 fails at the offending byte', () => {
    for (const n of [1, 2, 3, 10]) {
      expect(decode(b(`${'l'.repeat(n)}${'e'.repeat(n)}`), { maxDepth: n }).end).toBe(2 * n);
      const e = thrownSync(() => decode(b(`${'l'.repeat(n + 1)}${'e'.repeat(n + 1)}`), { maxDepth: n }));
      expect(e.code).toBe('BENCODE_TOO_DEEP');
      expect(e.detail?.offset).toBe(n);
    }
    expect(thrownSync(() => decode(b('li1ee'), { maxDepth: 0 })).code).toBe('BENCODE_TOO_DEEP');
    expect(decode(b('i1e'), { maxDepth: 0 }).value).toBe(1);
  });

  it('a high maxDepth does not turn deep input into a stack overflow', () => {
    // The caller may allow deep nesting; the decoder must then either decode it or fail with a
    // BtError, never with the JavaScript engine's RangeError.
    const depth = 100_000;
    const closed = b(`${'l'.repeat(depth)}${'e'.repeat(depth)}`);
    const r = decode(closed, { maxDepth: depth });
    let v = r.value;
    let levels = 0;
    while (Array.isArray(v) && v.length === 1) {
      v = v[0]!;
      levels++;
    }
    expect(levels).toBe(depth - 1);
    expect(r.spanOf(r.value as BValue[])).toEqual({ start: 0, end: 2 * depth });
    expect(thrownSync(() => decode(b('l'.repeat(depth)), { maxDepth: depth })).code).toBe('BENCODE_UNEXPECTED_END');
    expect(thrownSync(() => decode(b('d1:a'.repeat(depth)), { maxDepth: depth })).code).toBe('BENCODE_UNEXPECTED_END');
  });

  it('maxItems counts every value, containers included', () => {
    const ten = b(`l${'i0e'.repeat(9)}e`); // the list and nine integers
    expect(decode(ten, { maxItems: 10 }).end).toBe(ten.length);
    const e = thrownSync(() => decode(ten, { maxItems: 9 }));
    expect(e.code).toBe('BENCODE_TOO_MANY_ITEMS');
    expect(e.detail?.offset).toBe(1 + 8 * 3);
    expect(thrownSync(() => decode(b('d1:ai1e1:bi2ee'), { maxItems: 2 })).code).toBe('BENCODE_TOO_MANY_ITEMS');
    expect(decode(b('d1:ai1e1:bi2ee'), { maxItems: 3 }).end).toBe(14);
  });

  it('huge length prefixes fail at once with BENCODE_LENGTH_PAST_END at the prefix', () => {
    for (const s of ['99999999999999999999:', '99999999999999999999999999999999999999999999:abc', '5:abc', '1:', `l${'9'.repeat(1 << 20)}:e`]) {
      const e = thrownSync(() => decode(b(s)));
      expect(e.code).toBe('BENCODE_LENGTH_PAST_END');
      expect(e.detail?.offset).toBe(s.startsWith('l') ? 1 : 0);
    }
    // A length that fits exactly is fine; one byte more is not.
    expect(Buffer.from(decode(b('3:abc')).value as Uint8Array).toString()).toBe('abc');
    expect(thrownSync(() => decode(b('l5:abce'))).code).toBe('BENCODE_LENGTH_PAST_END');
  });
});
