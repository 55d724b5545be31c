/**
 * Bencode encoder (BEP 3). Dictionary keys are written sorted by their raw bytes, as BEP 3
 * requires (not by UTF-16 code units, which differ for non-ASCII keys).
 *
 * Map keys are binary strings (one char per byte, as the decoder produces); plain-object keys and
 * string values are text, written as UTF-8. `undefined` members are skipped, so optional fields
 * can be written inline.
 */
import { BtError } from '../errors.js';
import { keyOf, type BEncodable } from './types.js';

/** Encode a value to canonical bencode. */
export function encode(value: BEncodable): Buffer {
  const w = new Writer();
  write(value, w, 0);
  return w.result();
}

/**
 * Encode `value` and say where in the bytes the value `part` (an object inside it, compared by
 * identity) was written: a creator gets a torrent and its info dictionary's bytes (what the
 * infohash is over) from one pass, without decoding what it just wrote. `span` is null when
 * `part` is not in `value`.
 */
export function encodeWithSpan(value: BEncodable, part: object): { bytes: Buffer; span: { start: number; end: number } | null } {
  const w = new Writer();
  w.mark = part;
  write(value, w, 0);
  return { bytes: w.result(), span: w.span };
}

/**
 * Bytes that are already bencode, written as they are: a creator that encodes a large part of a
 * torrent itself (the v2 `file tree` of a sorted file list) hands it over this way. The encoder
 * does not check them.
 */
export class Encoded {
  constructor(readonly bytes: Uint8Array) {}
}

const MAX_DEPTH = 256;
/** Up to this many chars, text is written char by char (see Writer.latin1). */
const SHORT = 64;

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}

/**
 * One growing buffer: a torrent of 10,000 files is ~200,000 tokens, and a Buffer per token (then
 * a concat) made half of `create`'s time on such a tree garbage collection.
 */
class Writer {
  private buf = Buffer.allocUnsafe(4096);
  at = 0;
  /** The value whose span to record (encodeWithSpan), and where it went. */
  mark: object | null = null;
  span: { start: number; end: number } | null = null;

  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + n));
    this.buf.copy(next, 0, 0, this.at);
    this.buf = next;
  }

  /** ASCII or binary text (one char per byte). */
  latin1(text: string): void {
    this.room(text.length);
    // Most tokens are a few chars ("d", "6:", "i1024e"): a loop beats a call into Buffer.write,
    // which a 10,000-file torrent makes ~200,000 times. Latin-1 writing keeps each char's low byte.
    if (text.length <= SHORT) {
      const buf = this.buf;
      let at = this.at;
      for (let i = 0; i < text.length; i++) buf[at++] = text.charCodeAt(i) & 0xff;
      this.at = at;
    } else this.at += this.buf.write(text, this.at, 'latin1');
  }

  /** `<n>:` */
  private length(n: number): void {
    this.latin1(`${n}:`);
  }

  raw(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.at);
    this.at += b.length;
  }

  bytes(b: Uint8Array): void {
    this.length(b.length);
    this.room(b.length);
    this.buf.set(b, this.at);
    this.at += b.length;
  }

  utf8(text: string): void {
    if (text.length <= SHORT && isAscii(text)) {
      this.length(text.length);
      this.latin1(text);
      return;
    }
    const n = Buffer.byteLength(text, 'utf8');
    this.length(n);
    this.room(n);
    this.at += this.buf.write(text, this.at, n, 'utf8');
  }

  result(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.at));
  }
}

function write(v: BEncodable, out: Writer, depth: number): void {
  if (out.mark !== null && v === out.mark) {
    const start = out.at;
    out.mark = null;
    write(v, out, depth);
    out.span = { start, end: out.at };
    return;
  }
  if (depth > MAX_DEPTH) throw new BtError('BENCODE_ENCODE_TOO_DEEP', 'internal', 'bencode: value nested too deeply to encode');
  if (v instanceof Uint8Array) {
    out.bytes(v);
  } else if (v instanceof Encoded) {
    out.raw(v.bytes);
  } else if (typeof v === 'string') {
    out.utf8(v);
  } else if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw new BtError('BENCODE_ENCODE_NOT_INTEGER', 'internal', `bencode: cannot encode ${v} as an integer`);
    out.latin1(`i${v}e`);
  } else if (typeof v === 'bigint') {
    out.latin1(`i${v}e`);
  } else if (typeof v === 'boolean') {
    out.latin1(v ? 'i1e' : 'i0e');
  } else if (Array.isArray(v)) {
    out.latin1('l');
    for (const item of v as readonly BEncodable[]) write(item, out, depth + 1);
    out.latin1('e');
  } else if (v instanceof Map) {
    writeDict([...v.entries()] as (readonly [string, BEncodable | undefined])[], out, depth);
  } else if (typeof v === 'object' && v !== null) {
    // Text keys: convert to binary strings so sorting compares UTF-8 bytes (ASCII keys are already).
    writeDict(
      Object.entries(v).map(([k, val]) => [keyOf(k), val as BEncodable | undefined] as const),
      out,
      depth,
    );
  } else {
    throw new BtError('BENCODE_ENCODE_BAD_VALUE', 'internal', `bencode: cannot encode a value of type ${v === null ? 'null' : typeof v}`);
  }
}


function writeDict(entries: (readonly [string, BEncodable | undefined])[], out: Writer, depth: number): void {
  const present = entries.filter((e): e is readonly [string, BEncodable] => e[1] !== undefined);
  present.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  out.latin1('d');
  for (let i = 0; i < present.length; i++) {
    const [k, val] = present[i]!;
    if (i > 0 && present[i - 1]![0] === k) {
      throw new BtError('BENCODE_ENCODE_DUPLICATE_KEY', 'internal', 'bencode: duplicate dictionary key');
    }
    // Keys are binary strings: their length in chars is their length in bytes.
    out.latin1(`${k.length}:`);
    out.latin1(k);
    write(val, out, depth + 1);
  }
  out.latin1('e');
}
