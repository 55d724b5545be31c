/**
 * Differential test: btkit's codec against the `bencode` npm package (v4, webtorrent's, used by
 * much of the JavaScript BitTorrent world) as an independent oracle. For random canonical values
 * both encoders must write identical bytes and both decoders must read the same value.
 *
 * The oracle's model differs from ours, and is lossy in places, so the values compared are
 * restricted to where it is exact (each restriction below says why):
 * - integers are safe integers: its encoder silently drops a `bigint` (it has no case for it)
 *   and its decoder accumulates digits in a double, so anything past 2^53 comes back rounded;
 * - dictionaries are plain objects with *text* keys: it decodes a key to UTF-8 text (and a key
 *   whose text contains U+FFFD, as any non-UTF-8 key does, to its hex), so keys are restricted
 *   to valid UTF-8 without U+FFFD;
 * - keys are BMP characters outside the surrogate range: it sorts keys with JavaScript's default
 *   sort, by UTF-16 code units, which orders U+10000… before U+E000…U+FFFF while BEP 3 orders by
 *   raw bytes (the last test shows that divergence; there btkit follows BEP 3);
 * - `__proto__` is never a key: the oracle assigns keys on a plain `{}`, where that one changes
 *   the prototype instead of adding a key;
 * - no key starts with U+FEFF: the oracle decodes keys with a TextDecoder, which drops a leading
 *   byte order mark (a key `EF BB BF` came back as the empty key: a counterexample fast-check found).
 * Byte-string *values* need no restriction: both sides keep them as bytes.
 */
import oracle from 'bencode';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type BValue, decode, encode, keyOf } from '../../../../src/core/bencode/index.js';
import { bBytes, bValue, type Norm, normSorted } from './arbitraries.js';

const textChar = fc
  .oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0, max: 0xffff }))
  .filter((c) => (c < 0xd800 || c > 0xdfff) && c !== 0xfffd)
  .map((c) => String.fromCharCode(c));
const textKey = fc.string({ unit: textChar, maxLength: 6 }).filter((k) => k !== '__proto__' && !k.startsWith('\uFEFF'));

/** Random values in the subset where the oracle is exact; keys are binary strings of UTF-8 text. */
const oracleValue = bValue({ int: fc.maxSafeInteger().map((n) => n + 0), bytes: bBytes, key: textKey.map(keyOf) });

/** Our value in the oracle's model: dictionaries as plain objects with text keys. */
function toOracle(v: BValue): unknown {
  if (v instanceof Uint8Array || typeof v === 'number') return v;
  if (typeof v === 'bigint') throw new Error('bigints are outside the oracle subset');
  if (Array.isArray(v)) return v.map(toOracle);
  const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const [k, x] of v) out[Buffer.from(k, 'latin1').toString('utf8')] = toOracle(x);
  return out;
}

/** The oracle's decoded value in our normal form (keys back to UTF-8 bytes, in byte order). */
function normOracle(v: unknown): Norm {
  if (v instanceof Uint8Array) return { b: Buffer.from(v).toString('hex') };
  if (typeof v === 'number') return { i: String(v), t: 'number' };
  if (Array.isArray(v)) return v.map(normOracle);
  if (v && typeof v === 'object') {
    const entries = Object.entries(v)
      .map(([k, x]) => [Buffer.from(k, 'utf8'), x] as const)
      .sort(([a], [c]) => Buffer.compare(a, c));
    return { d: entries.map(([k, x]) => [k.toString('hex'), normOracle(x)]) };
  }
  throw new Error(`unexpected oracle value ${String(v)}`);
}

describe('btkit bencode vs the bencode npm package', () => {
  it('both encoders write the same bytes', () => {
    fc.assert(
      fc.property(oracleValue, (x) => {
        const ours = encode(x);
        const theirs = oracle.encode(toOracle(x));
        expect(Buffer.from(theirs).toString('latin1')).toBe(ours.toString('latin1'));
      }),
      { numRuns: 400 },
    );
  });

  it('both decoders read the same value', () => {
    fc.assert(
      fc.property(oracleValue, (x) => {
        const bytes = encode(x);
        expect(normOracle(oracle.decode(bytes))).toEqual(normSorted(decode(bytes).value));
      }),
      { numRuns: 400 },
    );
  });

  it('a torrent-shaped document with a binary `pieces` value reads the same on both sides', () => {
    const doc = {
      announce: 'http://127.0.0.1:6969/announce',
      'creation date': 1_700_000_000,
      info: { length: 123456, name: 'ünïcødé.bin', 'piece length': 16384, pieces: Buffer.alloc(8 * 20, 0xfe) },
    };
    const ours = encode(doc);
    expect(Buffer.compare(Buffer.from(oracle.encode(doc)), ours)).toBe(0);
    expect(normOracle(oracle.decode(ours))).toEqual(normSorted(decode(ours).value));
  });

  it('where they differ, btkit follows BEP 3: keys in raw-byte order, not UTF-16 order', () => {
    // This is why the random keys above stay in the BMP: for these two keys the oracle's output is
    // not canonical bencode, and btkit's own strict decoder refuses it.
    const value = { '\u{10000}': 1, '\uFFFF': 2 };
    const ours = encode(value);
    const theirs = Buffer.from(oracle.encode(value));
    expect(ours.equals(theirs)).toBe(false);
    expect(decode(ours).nonCanonical).toEqual([]);
    expect(() => decode(theirs)).toThrow(expect.objectContaining({ code: 'BENCODE_NONCANONICAL_UNSORTED_KEYS' }));
  });
});
