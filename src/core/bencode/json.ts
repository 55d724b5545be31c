/**
 * A bencode value as JSON, for `inspect --raw` and debugging: byte strings that are valid UTF-8
 * become strings, other byte strings become `{ "hex": "…" }`, so nothing is lost and nothing
 * binary pretends to be text. Keys that are not UTF-8 are written as `hex:<hex>`.
 */
import { type BValue, keyBytes, utf8OrNull } from './types.js';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [k: string]: JsonValue };

export interface ToJsonOptions {
  /** Keys whose byte-string values are always hex (hashes), e.g. `pieces`. */
  binaryKeys?: ReadonlySet<string>;
}

export function toJson(v: BValue, options: ToJsonOptions = {}, binary = false): JsonValue {
  if (v instanceof Uint8Array) {
    const text = binary ? null : utf8OrNull(v);
    return text ?? { hex: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex') };
  }
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return v.toString();
  if (Array.isArray(v)) return v.map((x) => toJson(x, options, binary));
  const out: { [k: string]: JsonValue } = {};
  for (const [k, val] of v) {
    const kb = keyBytes(k);
    const text = utf8OrNull(kb);
    const name = text ?? `hex:${kb.toString('hex')}`;
    out[name] = toJson(val, options, options.binaryKeys?.has(name) ?? false);
  }
  return out;
}
