/**
 * fast-check generators for bencode values in btkit's model (src/core/bencode/types.ts), and a
 * normal form for comparing values.
 *
 * The generated values are exactly what the decoder returns: integers are `number` when safe and
 * `bigint` otherwise (never a bigint that fits a safe integer, never -0), byte strings are
 * `Uint8Array`, dictionary keys are binary strings (latin1, one char per byte) of any bytes.
 */
import fc from 'fast-check';
import type { BDict, BValue } from '../../../../src/core/bencode/index.js';

const SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** The largest integer the decoder accepts by default: 20 digits (DEFAULT_MAX_INTEGER_DIGITS). */
export const MAX_INT_20 = 10n ** 20n - 1n;

/**
 * Integers as the decoder returns them: small, safe, bigints on both sides of ±2^53, of 64 bits
 * and up to the 20-digit bound.
 */
export const bInt: fc.Arbitrary<number | bigint> = fc.oneof(
  fc.integer({ min: -1000, max: 1000 }),
  fc.maxSafeInteger(),
  fc.bigInt({ min: SAFE + 1n, max: SAFE + 1000n }),
  fc.bigInt({ min: -SAFE - 1000n, max: -SAFE - 1n }),
  fc.constantFrom(MAX_INT_20, -MAX_INT_20, (1n << 64n) - 1n, -(1n << 63n)),
  fc.bigInt({ min: -MAX_INT_20, max: MAX_INT_20 }).map((b) => (b >= -SAFE && b <= SAFE ? Number(b) : b)),
).map((n) => (Object.is(n, -0) ? 0 : n));

/** Byte strings, biased to include short, empty and non-UTF-8 ones. */
export const bBytes: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.uint8Array({ maxLength: 8 }),
  fc.uint8Array({ maxLength: 64 }),
  fc.constantFrom(new Uint8Array([0xff, 0xfe]), new Uint8Array([0xc3, 0x28]), new Uint8Array([0x80]), new Uint8Array(0)),
);

const latin1 = (b: Uint8Array): string => Buffer.from(b).toString('latin1');

/** Binary dictionary keys: any bytes, including empty and non-UTF-8. */
export const bKey: fc.Arbitrary<string> = fc.oneof(
  fc.uint8Array({ maxLength: 6 }).map(latin1),
  fc.constantFrom('info', 'name', 'a', 'aa', 'b', '', '\xff', '\x00', 'piece length'),
);

/** Any value; `maxDepth` bounds nesting, sizes stay small so hundreds of runs take milliseconds. */
export function bValue(options: { int?: fc.Arbitrary<number | bigint>; bytes?: fc.Arbitrary<Uint8Array>; key?: fc.Arbitrary<string>; maxDepth?: number } = {}): fc.Arbitrary<BValue> {
  const int = options.int ?? bInt;
  const bytes = options.bytes ?? bBytes;
  const key = options.key ?? bKey;
  const { value } = fc.letrec<{ value: BValue; list: BValue[]; dict: BDict }>((tie) => ({
    value: fc.oneof({ depthSize: 'small', maxDepth: options.maxDepth ?? 4 }, int, bytes, tie('list'), tie('dict')),
    list: fc.array(tie('value'), { maxLength: 5 }),
    dict: fc
      .uniqueArray(fc.tuple(key, tie('value')), { selector: ([k]) => k, maxLength: 5 })
      .map((entries) => new Map(entries)),
  }));
  return value;
}

/** A dictionary with at least `min` entries. */
export function bDict(min = 0, options: Parameters<typeof bValue>[0] = {}): fc.Arbitrary<BDict> {
  return fc
    .uniqueArray(fc.tuple(options.key ?? bKey, bValue(options)), { selector: ([k]) => k, minLength: min, maxLength: 6 })
    .map((entries) => new Map(entries));
}

/**
 * A value as plain JSON-able data that `toEqual` compares without surprises: bytes become
 * `{ b: hex }` (so a Buffer and a Uint8Array with the same bytes are equal, and two different
 * byte strings never are), integers `{ i: decimal }` (so 5 and 5n are told apart by `t`), and a
 * dictionary the list of its entries in *insertion* order (so order mistakes are caught too).
 */
export type Norm = { b: string } | { i: string; t: 'number' | 'bigint' } | Norm[] | { d: [string, Norm][] };

export function norm(v: BValue): Norm {
  if (v instanceof Uint8Array) return { b: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex') };
  if (typeof v === 'number') {
    if (Object.is(v, -0)) return { i: '-0', t: 'number' };
    return { i: String(v), t: 'number' };
  }
  if (typeof v === 'bigint') return { i: v.toString(), t: 'bigint' };
  if (Array.isArray(v)) return v.map(norm);
  return { d: [...v.entries()].map(([k, x]) => [Buffer.from(k, 'latin1').toString('hex'), norm(x)]) };
}

/** The same normal form with dictionary entries sorted by raw key bytes (BEP 3 order). */
export function normSorted(v: BValue): Norm {
  if (Array.isArray(v)) return v.map(normSorted);
  if (v instanceof Map) {
    const entries = [...v.entries()].sort(([a], [b]) => Buffer.compare(Buffer.from(a, 'latin1'), Buffer.from(b, 'latin1')));
    return { d: entries.map(([k, x]) => [Buffer.from(k, 'latin1').toString('hex'), normSorted(x)]) };
  }
  return norm(v);
}
