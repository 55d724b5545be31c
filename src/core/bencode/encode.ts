/**
 * Bencode encoder (BEP 3). Dictionary keys are written sorted by their raw bytes, as BEP 3
 * requires (not by UTF-16 code units, which differ for non-ASCII keys).
 *
 * Map keys are binary strings (one char per byte, as the decoder produces); plain-object keys and
 * string values are text, written as UTF-8. `undefined` members are skipped, so optional fields
 * can be written inline.
 */
import { BtError } from '../errors.js';
import type { BEncodable } from './types.js';

/** Encode a value to canonical bencode. */
export function encode(value: BEncodable): Buffer {
  const parts: Buffer[] = [];
  write(value, parts, 0);
  return Buffer.concat(parts);
}

const MAX_DEPTH = 256;

function write(v: BEncodable, out: Buffer[], depth: number): void {
  if (depth > MAX_DEPTH) throw new BtError('BENCODE_ENCODE_TOO_DEEP', 'internal', 'bencode: value nested too deeply to encode');
  if (v instanceof Uint8Array) {
    out.push(Buffer.from(`${v.length}:`, 'latin1'), Buffer.from(v.buffer, v.byteOffset, v.byteLength));
  } else if (typeof v === 'string') {
    const b = Buffer.from(v, 'utf8');
    out.push(Buffer.from(`${b.length}:`, 'latin1'), b);
  } else if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw new BtError('BENCODE_ENCODE_NOT_INTEGER', 'internal', `bencode: cannot encode ${v} as an integer`);
    out.push(Buffer.from(`i${v}e`, 'latin1'));
  } else if (typeof v === 'bigint') {
    out.push(Buffer.from(`i${v}e`, 'latin1'));
  } else if (typeof v === 'boolean') {
    out.push(Buffer.from(v ? 'i1e' : 'i0e', 'latin1'));
  } else if (Array.isArray(v)) {
    out.push(Buffer.from('l', 'latin1'));
    for (const item of v as readonly BEncodable[]) write(item, out, depth + 1);
    out.push(Buffer.from('e', 'latin1'));
  } else if (v instanceof Map) {
    writeDict([...v.entries()].map(([k, val]) => [k, val] as const), out, depth);
  } else if (typeof v === 'object' && v !== null) {
    // Text keys: convert to binary strings so sorting compares UTF-8 bytes.
    writeDict(
      Object.entries(v).map(([k, val]) => [Buffer.from(k, 'utf8').toString('latin1'), val as BEncodable | undefined] as const),
      out,
      depth,
    );
  } else {
    throw new BtError('BENCODE_ENCODE_BAD_VALUE', 'internal', `bencode: cannot encode a value of type ${v === null ? 'null' : typeof v}`);
  }
}

function writeDict(entries: (readonly [string, BEncodable | undefined])[], out: Buffer[], depth: number): void {
  const present = entries.filter((e): e is readonly [string, BEncodable] => e[1] !== undefined);
  present.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  out.push(Buffer.from('d', 'latin1'));
  for (let i = 0; i < present.length; i++) {
    const [k, val] = present[i]!;
    if (i > 0 && present[i - 1]![0] === k) {
      throw new BtError('BENCODE_ENCODE_DUPLICATE_KEY', 'internal', 'bencode: duplicate dictionary key');
    }
    const kb = Buffer.from(k, 'latin1');
    out.push(Buffer.from(`${kb.length}:`, 'latin1'), kb);
    write(val, out, depth + 1);
  }
  out.push(Buffer.from('e', 'latin1'));
}
