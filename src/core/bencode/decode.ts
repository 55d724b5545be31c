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
import { BtError } from '../errors.js';
import type { BDict, BValue } from './types.js';

export type NonCanonicalKind =
  | 'unsorted-keys'
  | 'duplicate-key'
  | 'integer-leading-zero'
  | 'negative-zero'
  | 'length-leading-zero'
  | 'trailing-bytes';

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

export const DEFAULT_MAX_DEPTH = 64;
export const DEFAULT_MAX_ITEMS = 4_000_000;

function fail(code: string, message: string, offset: number): never {
  throw new BtError(code, 'input', `bencode: ${message} at byte ${offset}`, { detail: { offset } });
}

/** Decode one bencoded value. Throws `BtError` (category `input`) with a byte offset on bad input. */
export function decode(input: Uint8Array, options: DecodeOptions = {}): DecodeResult {
  const strict = (options.mode ?? 'strict') === 'strict';
  const maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
  const maxItems = options.maxItems ?? DEFAULT_MAX_ITEMS;
  const buf = input;
  const len = buf.length;
  const spans = new WeakMap<object, Span>();
  const nonCanonical: NonCanonical[] = [];
  let pos = 0;
  let items = 0;

  const deviate = (kind: NonCanonicalKind, offset: number, message: string): void => {
    if (strict) fail(`BENCODE_NONCANONICAL_${kind.toUpperCase().replaceAll('-', '_')}`, message, offset);
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
    while (pos < len && buf[pos]! >= C.zero && buf[pos]! <= C.nine) pos++;
    if (pos >= len) fail('BENCODE_UNEXPECTED_END', 'unterminated integer', start);
    if (pos === firstDigit) fail('BENCODE_BAD_INTEGER', 'integer without digits', start);
    if (buf[pos] !== C.e) fail('BENCODE_BAD_INTEGER', `unexpected byte 0x${buf[pos]!.toString(16)} in integer`, pos);
    const ndigits = pos - firstDigit;
    if (buf[firstDigit] === C.zero && ndigits > 1) deviate('integer-leading-zero', start, 'integer with a leading zero');
    if (negative && buf[firstDigit] === C.zero) deviate('negative-zero', start, 'negative zero');
    const text = latin1Slice(buf, digitsStart, pos);
    pos++; // 'e'
    if (ndigits < 16) return Number(text);
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

  const readValue = (depth: number): BValue => {
    if (++items > maxItems) fail('BENCODE_TOO_MANY_ITEMS', `more than ${maxItems} values`, pos);
    if (pos >= len) fail('BENCODE_UNEXPECTED_END', 'unexpected end of input', pos);
    const c = buf[pos]!;
    if (c === C.i) return readInt();
    if (c >= C.zero && c <= C.nine) return readBytes();
    if (c === C.l) {
      if (depth >= maxDepth) fail('BENCODE_TOO_DEEP', `nesting deeper than ${maxDepth}`, pos);
      const start = pos++;
      const list: BValue[] = [];
      while (true) {
        if (pos >= len) fail('BENCODE_UNEXPECTED_END', 'unterminated list', start);
        if (buf[pos] === C.e) break;
        list.push(readValue(depth + 1));
      }
      pos++;
      spans.set(list, { start, end: pos });
      return list;
    }
    if (c === C.d) {
      if (depth >= maxDepth) fail('BENCODE_TOO_DEEP', `nesting deeper than ${maxDepth}`, pos);
      const start = pos++;
      const dict: BDict = new Map();
      let prev: string | undefined;
      while (true) {
        if (pos >= len) fail('BENCODE_UNEXPECTED_END', 'unterminated dictionary', start);
        if (buf[pos] === C.e) break;
        const keyAt = pos;
        const kc = buf[pos]!;
        if (kc < C.zero || kc > C.nine) fail('BENCODE_BAD_KEY', 'dictionary key is not a string', pos);
        const keyRaw = readBytes();
        const key = latin1Slice(keyRaw, 0, keyRaw.length);
        if (prev !== undefined) {
          if (key === prev || dict.has(key)) deviate('duplicate-key', keyAt, 'duplicate dictionary key');
          else if (key < prev) deviate('unsorted-keys', keyAt, 'dictionary keys not in sorted order');
        }
        prev = key;
        if (pos >= len) fail('BENCODE_UNEXPECTED_END', 'dictionary key without a value', keyAt);
        const v = readValue(depth + 1);
        // Lenient mode keeps the first of duplicate keys: what a reader that stops at the first
        // match (most clients) sees. The deviation is reported either way.
        if (!dict.has(key)) dict.set(key, v);
      }
      pos++;
      spans.set(dict, { start, end: pos });
      return dict;
    }
    fail('BENCODE_BAD_TOKEN', `unexpected byte 0x${c.toString(16)}`, pos);
  };

  if (len === 0) fail('BENCODE_EMPTY', 'empty input', 0);
  const value = readValue(0);
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
