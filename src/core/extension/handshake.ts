/**
 * The BEP 10 extended handshake: the payload of extended message id 0, a bencoded dictionary
 * each side sends right after the BEP 3 handshake (and may send again later to update it).
 *
 * Keys this module knows (BEP 10 unless noted):
 * - `m`: extension name → the message id the *sender* wants to receive it as (1..255); 0 turns
 *   an extension off in a later handshake;
 * - `v`: client name and version (display only); `p`: the sender's listening TCP port;
 * - `yourip`: our address as the sender sees it (4 or 16 bytes); `ipv4`/`ipv6`: the sender's own;
 * - `reqq`: how many outstanding requests the sender accepts (bounds our pipeline depth);
 * - `metadata_size` (BEP 9): the info dictionary's size, for fetching metadata from peers.
 *
 * Decoding is strict bencode with small limits (the dictionary is tiny; a deep or huge one is
 * hostile), but tolerant of content: unknown keys are kept in `raw` for plug-ins, and a known
 * key of the wrong type is dropped and named in `ignored` rather than costing us the peer.
 */
import { type BDict, type BEncodable, decode, encode, isBytes, isDict, keyOf, keyText } from '../bencode/index.js';
import { BtError } from '../errors.js';

/** More entries than distinct ids (1..255) can only be padding from a hostile peer. */
export const MAX_EXTENSIONS = 256;
const MAX_DEPTH = 16;
const MAX_ITEMS = 10_000;

export interface ExtendedHandshake {
  /**
   * Extension name (a binary string, as bencode keys are; names are ASCII in practice) → id.
   * Entries with id 0 are kept: in a later handshake they mean "disabled".
   */
  m: Map<string, number>;
  v?: string;
  p?: number;
  yourip?: Uint8Array;
  ipv4?: Uint8Array;
  ipv6?: Uint8Array;
  reqq?: number;
  metadataSize?: number;
  /** The whole decoded dictionary, unknown keys included (e.g. BEP 21 `upload_only`). */
  raw: BDict;
  /** Known keys present with a value of the wrong type or range, and therefore not read. */
  ignored: string[];
}

/** What we send; `extra` adds keys a plug-in contributes (e.g. `metadata_size`). */
export interface ExtendedHandshakeInit {
  m: ReadonlyMap<string, number> | Readonly<Record<string, number>>;
  v?: string;
  p?: number;
  yourip?: Uint8Array;
  reqq?: number;
  metadataSize?: number;
  extra?: Readonly<Record<string, BEncodable>>;
}

export interface ExtendedHandshakeDecodeOptions {
  /** Bencode mode; `strict` (default) refuses unsorted or duplicate keys and other non-canonical forms. */
  mode?: 'strict' | 'lenient';
}

const badHandshake = (message: string, options: { cause?: unknown; detail?: Record<string, unknown> } = {}) =>
  new BtError('EXT_BAD_HANDSHAKE', 'network', `bad extended handshake: ${message}`, options);

const isPositiveInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v > 0;

/** The payload (after the extended id byte) of our extended handshake. */
export function encodeExtendedHandshake(h: ExtendedHandshakeInit): Buffer {
  const m = new Map<string, number>();
  const entries = h.m instanceof Map ? [...h.m.entries()] : Object.entries(h.m);
  for (const [name, id] of entries) {
    if (!Number.isInteger(id) || id < 0 || id > 255) throw new RangeError(`extension ${name}: id ${id} is not 0..255`);
    // Object keys are text; Map keys are already binary strings.
    m.set(h.m instanceof Map ? name : keyOf(name), id);
  }
  const dict = new Map<string, BEncodable | undefined>();
  for (const [k, v] of Object.entries(h.extra ?? {})) dict.set(keyOf(k), v);
  dict.set('m', m);
  // A named field, when given, wins over the same key in `extra`; an absent one leaves it alone.
  const named: [string, BEncodable | undefined][] = [
    ['v', h.v],
    ['p', h.p],
    ['yourip', h.yourip],
    ['reqq', h.reqq],
    ['metadata_size', h.metadataSize],
  ];
  for (const [k, v] of named) if (v !== undefined) dict.set(k, v);
  return encode(dict);
}

/** Decode a received extended handshake. Throws EXT_BAD_HANDSHAKE (category network). */
export function decodeExtendedHandshake(payload: Uint8Array, options: ExtendedHandshakeDecodeOptions = {}): ExtendedHandshake {
  let raw: BDict;
  try {
    const value = decode(payload, { mode: options.mode ?? 'strict', maxDepth: MAX_DEPTH, maxItems: MAX_ITEMS }).value;
    if (!isDict(value)) throw badHandshake('not a dictionary');
    raw = value;
  } catch (e) {
    if (e instanceof BtError && e.code === 'EXT_BAD_HANDSHAKE') throw e;
    throw badHandshake(e instanceof Error ? e.message : String(e), { cause: e });
  }

  const ignored: string[] = [];
  const m = new Map<string, number>();
  const mValue = raw.get('m');
  if (isDict(mValue)) {
    if (mValue.size > MAX_EXTENSIONS) throw badHandshake(`${mValue.size} extensions in m (at most ${MAX_EXTENSIONS})`, { detail: { count: mValue.size } });
    for (const [name, id] of mValue) {
      if (typeof id === 'number' && Number.isInteger(id) && id >= 0 && id <= 255) m.set(name, id);
      else ignored.push(`m.${keyText(name) ?? Buffer.from(name, 'latin1').toString('hex')}`);
    }
  } else if (mValue !== undefined) {
    ignored.push('m');
  }

  const h: ExtendedHandshake = { m, raw, ignored };
  const v = raw.get('v');
  if (isBytes(v)) h.v = Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('utf8'); // display only: lossy is fine
  else if (v !== undefined) ignored.push('v');

  const p = raw.get('p');
  if (isPositiveInt(p) && p <= 0xffff) h.p = p;
  else if (p !== undefined) ignored.push('p');

  const readAddress = (key: 'yourip' | 'ipv4' | 'ipv6', sizes: number[]): void => {
    const a = raw.get(key);
    if (isBytes(a) && sizes.includes(a.length)) h[key] = Uint8Array.from(a);
    else if (a !== undefined) ignored.push(key);
  };
  readAddress('yourip', [4, 16]);
  readAddress('ipv4', [4]);
  readAddress('ipv6', [16]);

  const reqq = raw.get('reqq');
  if (isPositiveInt(reqq)) h.reqq = reqq;
  else if (reqq !== undefined) ignored.push('reqq');

  const size = raw.get('metadata_size');
  if (isPositiveInt(size)) h.metadataSize = size;
  else if (size !== undefined) ignored.push('metadata_size');

  return h;
}
