/**
 * The peer wire handshake (BEP 3, "peer protocol"): the first 68 bytes each side sends.
 *
 *   1 byte   19 (length of the protocol string)
 *  19 bytes  "BitTorrent protocol"
 *   8 bytes  reserved: feature bits, all zero unless an extension claims one
 *  20 bytes  infohash
 *  20 bytes  peer id
 *
 * Reserved bits we read and set (byte index counted from 0, as the BEPs write them):
 * - BEP 10 extension protocol: byte 5, 0x10;
 * - BEP 6 fast extension: byte 7, 0x04;
 * - BEP 5 DHT (the peer accepts a `port` message): byte 7, 0x01;
 * - BEP 52 v2 upgrade (the peer speaks the v2 messages, hash request … hash reject, on a hybrid
 *   torrent reached through its v1 infohash): byte 7, 0x10.
 * Every other bit is kept as received, so a later extension can read it without this module
 * knowing about it.
 *
 * The infohash is a 20-byte parameter, never "the SHA-1 of the info dict" computed here: BEP 52
 * hybrid and v2 torrents use the SHA-256 infohash truncated to 20 bytes in the handshake, so the
 * caller chooses which hash a connection is for and this codec stays the same.
 */
import { BtError } from '../errors.js';

export const PROTOCOL = 'BitTorrent protocol';
export const PROTOCOL_BYTES = Buffer.from(PROTOCOL, 'latin1');
export const HANDSHAKE_LENGTH = 68;
export const RESERVED_LENGTH = 8;
export const INFOHASH_LENGTH = 20;
export const PEER_ID_LENGTH = 20;

/** A reserved bit: which of the 8 bytes, and the mask within it. */
export interface ReservedBit {
  byte: number;
  mask: number;
}

export const RESERVED_BITS = {
  /** BEP 10: the peer speaks the extension protocol (message id 20). */
  extended: { byte: 5, mask: 0x10 },
  /** BEP 6: the peer speaks the fast extension (have all/none, reject, suggest, allowed fast). */
  fast: { byte: 7, mask: 0x04 },
  /** BEP 5: the peer runs a DHT node and accepts (and may send) the `port` message. */
  dht: { byte: 7, mask: 0x01 },
  /** BEP 52: the peer speaks v2 (hash request, hashes, hash reject) on a hybrid torrent. */
  v2: { byte: 7, mask: 0x10 },
} as const satisfies Record<string, ReservedBit>;

export type Feature = keyof typeof RESERVED_BITS;

export interface Handshake {
  /** The 8 reserved bytes exactly as sent or received. */
  reserved: Uint8Array;
  /** 20 bytes: the v1 infohash, or BEP 52's truncated SHA-256 one. */
  infoHash: Uint8Array;
  /** 20 bytes, opaque (often an Azureus-style client tag, but nothing may rely on it). */
  peerId: Uint8Array;
}

/** Eight reserved bytes with the given features set. */
export function reservedWith(features: Iterable<Feature>): Uint8Array {
  const r = new Uint8Array(RESERVED_LENGTH);
  for (const f of features) {
    const bit = RESERVED_BITS[f];
    r[bit.byte]! |= bit.mask;
  }
  return r;
}

export function hasBit(reserved: Uint8Array, bit: ReservedBit): boolean {
  return ((reserved[bit.byte] ?? 0) & bit.mask) !== 0;
}

export const supportsExtended = (reserved: Uint8Array): boolean => hasBit(reserved, RESERVED_BITS.extended);
export const supportsFast = (reserved: Uint8Array): boolean => hasBit(reserved, RESERVED_BITS.fast);
export const supportsDht = (reserved: Uint8Array): boolean => hasBit(reserved, RESERVED_BITS.dht);
export const supportsV2 = (reserved: Uint8Array): boolean => hasBit(reserved, RESERVED_BITS.v2);

/**
 * What both sides support: a feature is in effect only when both set its bit (BEP 6 and BEP 10
 * both say so: a fast message to a peer that did not set the bit is a protocol error).
 */
export function negotiated(ours: Uint8Array, theirs: Uint8Array): Record<Feature, boolean> {
  return {
    extended: supportsExtended(ours) && supportsExtended(theirs),
    fast: supportsFast(ours) && supportsFast(theirs),
    dht: supportsDht(ours) && supportsDht(theirs),
    v2: supportsV2(ours) && supportsV2(theirs),
  };
}

function checkLength(what: string, bytes: Uint8Array, want: number): void {
  if (bytes.length !== want) throw new RangeError(`${what} must be ${want} bytes, got ${bytes.length}`);
}

/** The 68 handshake bytes. Throws RangeError for wrong field sizes (a programming error, not input). */
export function encodeHandshake(h: Handshake): Buffer {
  checkLength('reserved', h.reserved, RESERVED_LENGTH);
  checkLength('infohash', h.infoHash, INFOHASH_LENGTH);
  checkLength('peer id', h.peerId, PEER_ID_LENGTH);
  const out = Buffer.allocUnsafe(HANDSHAKE_LENGTH);
  out[0] = PROTOCOL_BYTES.length;
  PROTOCOL_BYTES.copy(out, 1);
  out.set(h.reserved, 20);
  out.set(h.infoHash, 28);
  out.set(h.peerId, 48);
  return out;
}

const badHandshake = (message: string, detail: Record<string, unknown>) =>
  new BtError('WIRE_BAD_HANDSHAKE', 'network', `bad handshake: ${message}`, { detail });

/**
 * Check a handshake prefix as it arrives, so a peer that is not speaking BEP 3 (an encrypted MSE
 * stream, HTTP, noise) is refused on its first byte rather than after 68. Throws WIRE_BAD_HANDSHAKE.
 */
export function checkHandshakePrefix(bytes: Uint8Array): void {
  const n = Math.min(bytes.length, 1 + PROTOCOL_BYTES.length);
  if (n > 0 && bytes[0] !== PROTOCOL_BYTES.length) {
    throw badHandshake(`protocol string length ${bytes[0]} (want 19)`, { offset: 0, byte: bytes[0] });
  }
  for (let i = 1; i < n; i++) {
    if (bytes[i] !== PROTOCOL_BYTES[i - 1]) throw badHandshake('protocol string is not "BitTorrent protocol"', { offset: i, byte: bytes[i] });
  }
}

/**
 * Decode exactly 68 handshake bytes. The fields are copies, so they outlive the socket buffer.
 * Throws WIRE_BAD_HANDSHAKE on a wrong length or protocol string.
 */
export function decodeHandshake(bytes: Uint8Array): Handshake {
  if (bytes.length !== HANDSHAKE_LENGTH) throw badHandshake(`${bytes.length} bytes (want 68)`, { length: bytes.length });
  checkHandshakePrefix(bytes);
  // Copies (`Uint8Array.from`, not `slice`: on a Buffer `slice` is a view of the socket's memory).
  return {
    reserved: Uint8Array.from(bytes.subarray(20, 28)),
    infoHash: Uint8Array.from(bytes.subarray(28, 48)),
    peerId: Uint8Array.from(bytes.subarray(48, 68)),
  };
}
