/**
 * The bencode value model (BEP 3, "bencoding").
 *
 * - byte strings are `Uint8Array` (bencode strings are bytes, not text);
 * - integers are `number` when they fit in a safe integer, `bigint` otherwise (bencode integers
 *   are unbounded, and a lossy conversion would change what re-encoding produces);
 * - lists are arrays;
 * - dictionaries are `Map`s whose keys are *binary strings*: one JavaScript char per byte
 *   (latin1), so any key round-trips exactly, two distinct keys never collide, and comparing keys
 *   as strings is the same as comparing their raw bytes, which is the order BEP 3 requires.
 *   Use `keyOf("name")` / `keyText(k)` to go between UTF-8 text and binary keys.
 */
import type { Encoded } from './encode.js';

export type BValue = Uint8Array | number | bigint | BValue[] | BDict;
export type BDict = Map<string, BValue>;

/** Values the encoder accepts: the decoded model plus conveniences for building. */
export type BEncodable =
  | Uint8Array
  | Encoded
  | number
  | bigint
  | string
  | boolean
  | readonly BEncodable[]
  | ReadonlyMap<string, BEncodable | undefined>
  | { readonly [key: string]: BEncodable | undefined };

const latin1 = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');

// eslint-disable-next-line no-control-regex -- the ASCII range is the point
const ASCII = /^[\x00-\x7f]*$/;

/** The binary-string dictionary key for a UTF-8 text key (ASCII text is its own key: no Buffer per call). */
export const keyOf = (text: string): string => (ASCII.test(text) ? text : latin1(Buffer.from(text, 'utf8')));

/** The raw bytes of a binary-string key. */
export const keyBytes = (key: string): Buffer => Buffer.from(key, 'latin1');

/** A binary-string key shown as text: UTF-8 when it decodes cleanly, else null. */
export function keyText(key: string): string | null {
  return utf8OrNull(keyBytes(key));
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Decode bytes as UTF-8, or null when they are not valid UTF-8. */
export function utf8OrNull(bytes: Uint8Array): string | null {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return null;
  }
}

export const isDict = (v: BValue | undefined): v is BDict => v instanceof Map;
export const isList = (v: BValue | undefined): v is BValue[] => Array.isArray(v);
export const isBytes = (v: BValue | undefined): v is Uint8Array => v instanceof Uint8Array;
export const isInt = (v: BValue | undefined): v is number | bigint => typeof v === 'number' || typeof v === 'bigint';
