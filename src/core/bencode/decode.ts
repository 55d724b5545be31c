/**
 * Bencode decoder (BEP 3) with byte spans, limits and a canonical-form check.
 *
 * Why our own: the infohash is the SHA-1 of the info dictionary's *original* bytes, so the decoder
 * must say where each dictionary began and ended; and a torrent that is not canonical (unsorted or
 * duplicate keys, `i03e`, `i-0e`, `03:abc`, trailing bytes) must be either refused (strict) or
 * accepted with every deviation reported (lenient), never silently "fixed".
 *
 * The decoder is pure: bytes in, values out. Depth and size limits bound the work any input can
 * cause, so hostile input ends in a typed error, never a stack overflow or a long stall.
 */
import { BtError, type CodeOf } from '../errors.js';
import type { BDict, BValue } from './types.js';

export type NonCanonicalKind =
  | 'unsorted-keys'
  | 'duplicate-key'
  | 'integer-leading-zero'
  | 'negative-zero'
  | 'length-leading-zero'
  | 'trailing-bytes';

/**
 * The error code strict mode throws for each deviation (`BENCODE_NONCANONICAL_<KIND>`); trailing
 * bytes throw BENCODE_TRAILING_BYTES instead.
 */
const NONCANONICAL_CODES = {
  'unsorted-keys': 'BENCODE_NONCANONICAL_UNSORTED_KEYS',
  'duplicate-key': 'BENCODE_NONCANONICAL_DUPLICATE_KEY',
  'integer-leading-zero': 'BENCODE_NONCANONICAL_INTEGER_LEADING_ZERO',
  'negative-zero': 'BENCODE_NONCANONICAL_NEGATIVE_ZERO',
  'length-leading-zero': 'BENCODE_NONCANONICAL_LENGTH_LEADING_ZERO',
} as const satisfies Record<Exclude<NonCanonicalKind, 'trailing-bytes'>, CodeOf<'input'>>;

export interface NonCanonical {
  kind: NonCanonicalKind;
  /** Byte offset of the offending token. */
  offset: number;
}

export interface DecodeOptions {
  /** `strict` (default) throws on the first non-canonical construct; `lenient` records it. */
  mode?: 'strict' | 'lenient';
  /** Maximum nesting of lists and dictionaries. Default 64. */
  maxDepth?: number;
  /** Maximum number of values (of every kind) in the whole document. Default 4,000,000. */
  maxItems?: number;
  /**
   * Maximum digits in an integer, sign not counted, leading zeros counted. Default 20, as in
   * libtorrent's bdecode: every int64 and uint64 fits, and a hostile 60-million-digit integer is
   * refused at its first byte past the bound instead of being scanned and handed to BigInt, whose
   * parsing grows faster than linearly (21 s for one unused key, issue 15).
   */
  maxIntegerDigits?: number;
  /** Permit bytes after the first complete value (the count is returned as `end`). Default false. */
  allowTrailing?: boolean;
}

export interface Span {
  start: number;
  /** One past the last byte. */
  end: number;
}

export interface DecodeResult<T extends BValue = BValue> {
  value: T;
  /** Offset one past the decoded value. */
  end: number;
  /** Deviations from canonical form (always empty in strict mode). */
  nonCanonical: NonCanonical[];
  /** Byte span of any list or dictionary in `value` (by identity). */
  spanOf(container: BValue[] | BDict): Span | undefined;
}

const enum C {
  d = 0x64,
  e = 0x65,
  i = 0x69,
  l = 0x6c,
  colon = 0x3a,
  minus = 0x2d,
  zero = 0x30,
  nine = 0x39,
}

/** An open list, or an open dictionary with the last key read (`key` is the one awaiting its value). */
type Frame = { list: BValue[]; start: number } | { dict: BDict; start: number; prev: string | undefined; key: string };

export const DEFAULT_MAX_DEPTH = 64;
export const DEFAULT_MAX_ITEMS = 4_000_000;
export const DEFAULT_MAX_INTEGER_DIGITS = 20;

function fail(code: Extract<CodeOf<'input'>, `BENCODE_${string}`>, message: string, offset: number): never {
  throw new BtError(code, 'input', `bencode: ${message} at byte ${offset}`, { detail: { offset } });
}

/** Decode one bencoded value. Throws `BtError` (category `input`) with a byte offset on bad input. */
export function decode(input: Uint8Array, options: DecodeOptions = {}): DecodeResult {
  const strict = (options.mode ?? 'strict') === 'strict';
  const maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
  const maxItems = options.maxItems ?? DEFAULT_MAX_ITEMS;
  const maxIntegerDigits = options.maxIntegerDigits ?? DEFAULT_MAX_INTEGER_DIGITS;
  const buf = input;
  const len = buf.length;
  const spans = new WeakMap<object, Span>();
  const nonCanonical: NonCanonical[] = [];
  let pos = 0;
  let items = 0;

  const deviate = (kind: keyof typeof NONCANONICAL_CODES, offset: number, message: string): void => {
    if (strict) fail(NONCANONICAL_CODES[kind], message, offset);
    nonCanonical.push({ kind, offset });
  };

  const readInt = (): number | bigint => {
    // at 'i'
    const start = pos;
    pos++;
    const digitsStart = pos;
    let negative = false;
    if (buf[pos] === C.minus) {
      negative = true;
      pos++;
    }
    const firstDigit = pos;
    const digitsEnd = Math.min(len, firstDigit + maxIntegerDigits);
    while (pos < digitsEnd && buf[pos]! >= C.zero && buf[pos]! <= C.nine) pos++;
    // Stop at the bound: whatever follows, an integer this long is refused.
    if (pos === firstDigit + maxIntegerDigits && pos < len && buf[pos]! >= C.zero && buf[pos]! <= C.nine) {
      fail('BENCODE_INTEGER_TOO_LONG', `integer of more than ${maxIntegerDigits} digits`, start);
    }
    if (pos >= len) fail('BENCODE_UNEXPECTED_END', 'unterminated integer', start);
    if (pos === firstDigit) fail('BENCODE_BAD_INTEGER', 'integer without digits', start);
    if (buf[pos] !== C.e) fail('BENCODE_BAD_INTEGER', `unexpected byte 0x${buf[pos]!.toString(16)} in integer`, pos);
    const ndigits = pos - firstDigit;
    let zeros = 0;
    while (zeros < ndigits && buf[firstDigit + zeros] === C.zero) zeros++;
    if (zeros > 0 && ndigits > 1) deviate('integer-leading-zero', start, 'integer with a leading zero');
    // Only a zero can be a negative zero: `i-05e` is -5 written with a leading zero.
    if (negative && zeros === ndigits) deviate('negative-zero', start, 'negative zero');
    const text = latin1Slice(buf, digitsStart, pos);
    pos++; // 'e'
    // `+ 0` turns the -0 that Number('-0') gives (lenient `i-0e`) into the integer 0.
    if (ndigits < 16) return Number(text) + 0;
    const big = BigInt(text);
    return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
  };

  const readBytes = (): Uint8Array => {
    const start = pos;
    let n = 0;
    const digitsStart = pos;
    while (pos < len && buf[pos]! >= C.zero && buf[pos]! <= C.nine) {
      n = n * 10 + (buf[pos]! - C.zero);
      // Any length past the input's end is wrong whatever follows; stop before the number grows.
      if (n > len) fail('BENCODE_LENGTH_PAST_END', `string length exceeds the ${len}-byte input`, start);
      pos++;
    }
    if (pos >= len) fail('BENCODE_UNEXPECTED_END', 'unterminated string length', start);
    if (buf[pos] !== C.colon) fail('BENCODE_BAD_STRING', `expected ':' after string length, got 0x${buf[pos]!.toString(16)}`, pos);
    if (buf[digitsStart] === C.zero && pos - digitsStart > 1) deviate('length-leading-zero', start, 'string length with a leading zero');
    pos++;
    if (pos + n > len) fail('BENCODE_LENGTH_PAST_END', `string of ${n} bytes runs past the end of input`, start);
    const out = buf.subarray(pos, pos + n);
    pos += n;
    return out;
  };

  /**
   * Reads one value. Containers are tracked on an explicit stack rather than by recursion, so the
   * nesting a caller may allow (`maxDepth`) is bounded by memory, not by the JavaScript stack:
   * deep input ends in a BtError, never in a RangeError.
   */
  const readValue = (): BValue => {
    const stack: Frame[] = [];
    for (;;) {
      // Start a value at `pos`: a scalar is read whole; a container is opened (pushed).
      if (++items > maxItems) fail('BENCODE_TOO_MANY_ITEMS', `more than ${maxItems} values`, pos);
      if (pos >= len) fail('BENCODE_UNEXPECTED_END', 'unexpected end of input', pos);
      const c = buf[pos]!;
      let done: BValue | undefined;
      if (c === C.i) done = readInt();
      else if (c >= C.zero && c <= C.nine) done = readBytes();
      else if (c === C.l || c === C.d) {
        if (stack.length >= maxDepth) fail('BENCODE_TOO_DEEP', `nesting deeper than ${maxDepth}`, pos);
        const start = pos++;
        stack.push(c === C.l ? { list: [], start } : { dict: new Map(), start, prev: undefined, key: '' });
      } else {
        fail('BENCODE_BAD_TOKEN', `unexpected byte 0x${c.toString(16)}`, pos);
      }
      // Hand the finished value to its container, close containers that end here, and stop at
      // the first one that needs another value (after reading its key, for a dictionary).
      for (;;) {
        const top = stack.at(-1);
        if (top === undefined) return done!;
        if (done !== undefined) {
          if ('list' in top) top.list.push(done);
          // Lenient mode keeps the first of duplicate keys: what a reader that stops at the first
          // match (most clients) sees. The deviation is reported either way.
          else if (!top.dict.has(top.key)) top.dict.set(top.key, done);
          done = undefined;
        }
        if (pos >= len) fail('BENCODE_UNEXPECTED_END', 'list' in top ? 'unterminated list' : 'unterminated dictionary', top.start);
        if (buf[pos] === C.e) {
          pos++;
          done = 'list' in top ? top.list : top.dict;
          spans.set(done, { start: top.start, end: pos });
          stack.pop();
          continue;
        }
        if ('dict' in top) {
          const keyAt = pos;
          const kc = buf[pos]!;
          if (kc < C.zero || kc > C.nine) fail('BENCODE_BAD_KEY', 'dictionary key is not a string', pos);
          const keyRaw = readBytes();
          const key = latin1Slice(keyRaw, 0, keyRaw.length);
          if (top.prev !== undefined) {
            if (key === top.prev || top.dict.has(key)) deviate('duplicate-key', keyAt, 'duplicate dictionary key');
            else if (key < top.prev) deviate('unsorted-keys', keyAt, 'dictionary keys not in sorted order');
          }
          top.prev = key;
          top.key = key;
          if (pos >= len) fail('BENCODE_UNEXPECTED_END', 'dictionary key without a value', keyAt);
        }
        break;
      }
    }
  };

  if (len === 0) fail('BENCODE_EMPTY', 'empty input', 0);
  const value = readValue();
  const end = pos;
  if (end < len && !options.allowTrailing) {
    if (strict) fail('BENCODE_TRAILING_BYTES', `${len - end} unexpected bytes after the value`, end);
    nonCanonical.push({ kind: 'trailing-bytes', offset: end });
  }
  return {
    value,
    end,
    nonCanonical,
    spanOf: (container) => spans.get(container),
  };
}

function latin1Slice(buf: Uint8Array, start: number, end: number): string {
  // Buffer's latin1 decoding is native and fast; plain Uint8Arrays are wrapped without copying.
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  return b.toString('latin1', start, end);
}
