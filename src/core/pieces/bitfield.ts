/**
 * A compact set of piece indices in the wire layout of BEP 3's `bitfield` message: one bit per
 * piece, the high bit of the first byte is piece 0 ("MSB-first"), spare bits at the end zero.
 *
 * Keeping exactly the wire layout means sending our bitfield and reading a peer's cost one copy
 * and one check, and the spare-bit rule (BEP 3: "Clients should drop the connection if the spare
 * bits are set") lives in one place, `Bitfield.fromWire`, which the wire decoder uses too.
 *
 * The number of set bits is kept up to date on every change, so `count`, `hasAll` and `hasNone`
 * are O(1): the picker and the session ask them on every message.
 */
import { BtError } from '../errors.js';

/** Bytes a bitfield of `length` pieces takes on the wire: ceil(length / 8). */
export const bitfieldBytes = (length: number): number => (length + 7) >>> 3;

/** Set bits in each byte value, for counting a received bitfield in one pass. */
const POPCOUNT = (() => {
  const t = new Uint8Array(256);
  for (let i = 1; i < 256; i++) t[i] = (i & 1) + t[i >>> 1]!;
  return t;
})();

/**
 * Check a received bitfield payload against the torrent's piece count: exactly ceil(n/8) bytes,
 * spare bits zero. Throws WIRE_BAD_BITFIELD (category network: the peer is broken or hostile and
 * the session drops it).
 */
export function checkBitfieldBytes(bytes: Uint8Array, pieceCount: number): void {
  const want = bitfieldBytes(pieceCount);
  if (bytes.length !== want) {
    throw new BtError('WIRE_BAD_BITFIELD', 'network', `bitfield of ${bytes.length} bytes for ${pieceCount} pieces (want ${want})`, {
      detail: { bytes: bytes.length, expected: want, pieceCount },
    });
  }
  const spare = want * 8 - pieceCount;
  if (spare > 0) {
    const last = bytes[want - 1]!;
    if ((last & ((1 << spare) - 1)) !== 0) {
      throw new BtError('WIRE_BAD_BITFIELD', 'network', `bitfield has spare bits set after piece ${pieceCount - 1}`, {
        detail: { lastByte: last, spareBits: spare, pieceCount },
      });
    }
  }
}

export class Bitfield {
  /** The wire bytes; spare bits are always zero. */
  private readonly bits: Uint8Array;
  private setCount = 0;

  /** An empty bitfield of `length` pieces. */
  constructor(readonly length: number) {
    if (!Number.isSafeInteger(length) || length < 0) throw new RangeError(`bad bitfield length ${length}`);
    this.bits = new Uint8Array(bitfieldBytes(length));
  }

  /** A bitfield with every piece set (a seed's, or "have all" of BEP 6). */
  static full(length: number): Bitfield {
    const b = new Bitfield(length);
    b.bits.fill(0xff);
    const spare = b.bits.length * 8 - length;
    if (spare > 0) b.bits[b.bits.length - 1] = (0xff << spare) & 0xff;
    b.setCount = length;
    return b;
  }

  /** Read a peer's `bitfield` payload (copied: the input may share memory with a socket buffer). Throws WIRE_BAD_BITFIELD. */
  static fromWire(bytes: Uint8Array, length: number): Bitfield {
    checkBitfieldBytes(bytes, length);
    const b = new Bitfield(length);
    b.bits.set(bytes);
    let n = 0;
    for (let i = 0; i < bytes.length; i++) n += POPCOUNT[bytes[i]!]!;
    b.setCount = n;
    return b;
  }

  /** The wire payload of a `bitfield` message (a copy). */
  toWire(): Uint8Array {
    return this.bits.slice();
  }

  clone(): Bitfield {
    const b = new Bitfield(this.length);
    b.bits.set(this.bits);
    b.setCount = this.setCount;
    return b;
  }

  get(index: number): boolean {
    if (!(index >= 0 && index < this.length)) return false;
    return (this.bits[index >>> 3]! & (0x80 >>> (index & 7))) !== 0;
  }

  /** Set (or with `value` false, clear) one piece; returns whether anything changed. Throws RangeError outside 0..length-1. */
  set(index: number, value = true): boolean {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) throw new RangeError(`piece ${index} outside 0..${this.length - 1}`);
    const byte = index >>> 3;
    const mask = 0x80 >>> (index & 7);
    const was = (this.bits[byte]! & mask) !== 0;
    if (was === value) return false;
    this.bits[byte] = value ? this.bits[byte]! | mask : this.bits[byte]! & ~mask;
    this.setCount += value ? 1 : -1;
    return true;
  }

  clear(index: number): boolean {
    return this.set(index, false);
  }

  /** Number of set pieces. */
  get count(): number {
    return this.setCount;
  }

  hasAll(): boolean {
    return this.setCount === this.length;
  }

  hasNone(): boolean {
    return this.setCount === 0;
  }

  /** Set indices in ascending order; whole zero bytes are skipped. */
  *setIndices(): Generator<number> {
    for (let byte = 0; byte < this.bits.length; byte++) {
      const v = this.bits[byte]!;
      if (v === 0) continue;
      for (let bit = 0; bit < 8; bit++) if (v & (0x80 >>> bit)) yield byte * 8 + bit;
    }
  }

  /** Clear (missing) indices in ascending order; whole 0xff bytes are skipped. */
  *missingIndices(): Generator<number> {
    for (let byte = 0; byte < this.bits.length; byte++) {
      const v = this.bits[byte]!;
      if (v === 0xff) continue;
      for (let bit = 0; bit < 8; bit++) {
        const i = byte * 8 + bit;
        if (i >= this.length) return;
        if (!(v & (0x80 >>> bit))) yield i;
      }
    }
  }
}
