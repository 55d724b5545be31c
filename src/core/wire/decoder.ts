/**
 * Incremental decoder of the peer wire stream (BEP 3 handshake and messages, BEP 5 `port`, BEP 6
 * fast messages, BEP 10 extended messages, BEP 52 hash messages): bytes go in as they arrive from the socket with
 * `push`, complete frames come out of the `messages()` generator (the shape of libp2p yamux's
 * decoder over a growing buffer).
 *
 * Why each choice:
 * - Chunks are kept as a list, not concatenated on every push: a 16 KiB block arriving a byte at
 *   a time would otherwise be copied 16K times. A frame that lies inside one chunk is returned as
 *   a view of it (no copy); a frame that spans chunks is copied exactly once.
 * - Every limit is checked as early as the bytes allow: the length prefix against the largest
 *   frame any message may have as soon as its 4 bytes are in, and against the limit of its own
 *   message id as soon as the id byte is in. A hostile peer can make us buffer at most one
 *   maximal frame, never an arbitrary amount.
 * - Every violation is a BtError with category `network` and a stable `WIRE_…` code, so the
 *   session drops that one peer and reports why. After an error the decoder stays failed: the
 *   stream has lost its framing and nothing after the bad frame can be trusted.
 */
import { BtError, type CodeOf } from '../errors.js';
import { checkBitfieldBytes } from '../pieces/bitfield.js';
import { HANDSHAKE_LENGTH, type Handshake, checkHandshakePrefix, decodeHandshake } from './handshake.js';
import {
  DEFAULT_BLOCK_LENGTH,
  FIXED_PAYLOAD,
  HASH_RANGE_PAYLOAD,
  type HashRange,
  MAX_HASH_LAYERS,
  MAX_HASH_REQUEST_LENGTH,
  MESSAGE_ID,
  type Message,
  PIECE_HEADER_PAYLOAD,
  TYPE_OF_ID,
} from './messages.js';

/** Largest `hashes` payload: the most hashes a request may ask for and a proof hash per layer. */
const MAX_HASHES_PAYLOAD = HASH_RANGE_PAYLOAD + 32 * (MAX_HASH_REQUEST_LENGTH + MAX_HASH_LAYERS);

export interface DecoderOptions {
  /** Expect the 68-byte handshake before any message (default true). */
  handshake?: boolean;
  /**
   * Pieces in the torrent, when known (not yet for a magnet link before BEP 9 metadata). When set,
   * a bitfield must be exactly ceil(n/8) bytes with its spare bits zero and every piece index must
   * be below n. Can be set later with `setPieceCount`.
   */
  pieceCount?: number;
  /** Largest block a `piece` may carry and a `request`/`cancel`/`reject` may name. Default 16 KiB. */
  maxBlockLength?: number;
  /** Largest `bitfield` payload while the piece count is unknown. Default 1 MiB (8M pieces). */
  maxBitfieldLength?: number;
  /**
   * Largest extended-message payload (after the extended id). Default 128 KiB: a BEP 9 data
   * message is a 16 KiB piece plus a small dictionary, and a BEP 10 handshake or BEP 11 message
   * is far smaller.
   */
  maxExtendedLength?: number;
}

export const DEFAULT_MAX_BITFIELD_LENGTH = 1024 * 1024;
export const DEFAULT_MAX_EXTENDED_LENGTH = 128 * 1024;

/** What `messages()` yields: the handshake once (when expected), then messages. */
export type WireFrame = { type: 'handshake'; handshake: Handshake } | Message;

/**
 * Received bytes as a list of chunks with a read position, so appending is O(1) and each byte is
 * copied at most once, when a frame spans chunks.
 */
class ChunkQueue {
  private chunks: (Uint8Array | undefined)[] = [];
  private head = 0;
  /** Read offset within `chunks[head]`. */
  private offset = 0;
  length = 0;

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  /** The byte at `at` (relative to the read position); caller ensures `at < length`. */
  byteAt(at: number): number {
    let i = this.head;
    let pos = at + this.offset;
    for (;;) {
      const c = this.chunks[i]!;
      if (pos < c.length) return c[pos]!;
      pos -= c.length;
      i++;
    }
  }

  /** Up to `n` bytes from the read position, without consuming them (a copy; for short peeks only). */
  peek(n: number): Uint8Array {
    const out = new Uint8Array(Math.min(n, this.length));
    for (let k = 0; k < out.length; k++) out[k] = this.byteAt(k);
    return out;
  }

  uint32At(at: number): number {
    return ((this.byteAt(at) << 24) | (this.byteAt(at + 1) << 16) | (this.byteAt(at + 2) << 8) | this.byteAt(at + 3)) >>> 0;
  }

  /** Consume `n` bytes (caller ensures `n <= length`): a view when they lie in one chunk, else one copy. */
  take(n: number): Uint8Array {
    const first = this.chunks[this.head]!;
    if (first.length - this.offset >= n) {
      const view = first.subarray(this.offset, this.offset + n);
      this.advance(n);
      return view;
    }
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[this.head]!;
      const part = Math.min(c.length - this.offset, n - filled);
      out.set(c.subarray(this.offset, this.offset + part), filled);
      filled += part;
      this.advance(part);
    }
    return out;
  }

  private advance(n: number): void {
    this.length -= n;
    this.offset += n;
    while (this.head < this.chunks.length && this.offset >= this.chunks[this.head]!.length) {
      this.offset -= this.chunks[this.head]!.length;
      this.chunks[this.head] = undefined;
      this.head++;
    }
    // Drop consumed slots now and then, so the list does not grow with the connection's life.
    if (this.head === this.chunks.length) {
      this.chunks = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
  }
}

const readU32 = (b: Uint8Array, at: number): number => ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;

const wireError = (code: Extract<CodeOf<'network'>, `WIRE_${string}`>, message: string, detail: Record<string, unknown>) => new BtError(code, 'network', message, { detail });

export class MessageDecoder {
  private readonly queue = new ChunkQueue();
  private awaitingHandshake: boolean;
  private pieceCount: number | undefined;
  private readonly maxBlock: number;
  private readonly maxBitfield: number;
  private readonly maxExtended: number;
  private failed: BtError | undefined;

  constructor(options: DecoderOptions = {}) {
    this.awaitingHandshake = options.handshake ?? true;
    this.maxBlock = options.maxBlockLength ?? DEFAULT_BLOCK_LENGTH;
    this.maxBitfield = options.maxBitfieldLength ?? DEFAULT_MAX_BITFIELD_LENGTH;
    this.maxExtended = options.maxExtendedLength ?? DEFAULT_MAX_EXTENDED_LENGTH;
    if (options.pieceCount !== undefined) this.setPieceCount(options.pieceCount);
  }

  /** Learn the piece count (e.g. once BEP 9 metadata arrived); from now on bitfields and indices are checked. */
  setPieceCount(n: number): void {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`bad piece count ${n}`);
    this.pieceCount = n;
  }

  /** Bytes received but not yet returned as a frame. */
  get buffered(): number {
    return this.queue.length;
  }

  /** Whether the handshake has been decoded (or was not expected). */
  get handshakeDone(): boolean {
    return !this.awaitingHandshake;
  }

  /** Append received bytes. The decoder keeps a reference: do not reuse `chunk`'s memory. */
  push(chunk: Uint8Array): void {
    this.queue.push(chunk);
  }

  /** The largest payload (id included) a message with this id may have, or a fixed size. */
  private limitOf(id: number): { exact?: number; max: number } {
    const fixed = FIXED_PAYLOAD[id];
    if (fixed !== undefined) return { exact: 1 + fixed, max: 1 + fixed };
    if (id === MESSAGE_ID.piece) return { max: 1 + 8 + this.maxBlock };
    if (id === MESSAGE_ID.extended) return { max: 1 + 1 + this.maxExtended };
    if (id === MESSAGE_ID.hashes) return { max: 1 + MAX_HASHES_PAYLOAD };
    if (this.pieceCount !== undefined) return { max: 1 + ((this.pieceCount + 7) >>> 3) };
    return { max: 1 + this.maxBitfield };
  }

  /** The largest length prefix any message may carry, checked before the id byte is in. */
  private maxFrame(): number {
    return Math.max(this.limitOf(MESSAGE_ID.piece).max, this.limitOf(MESSAGE_ID.extended).max, this.limitOf(MESSAGE_ID.bitfield).max, 1 + MAX_HASHES_PAYLOAD);
  }

  /**
   * Every complete frame buffered so far, in order. Throws a BtError (category network) at the
   * first violation, after yielding the frames before it; later calls throw the same error.
   */
  *messages(): Generator<WireFrame, void, undefined> {
    if (this.failed) throw this.failed;
    try {
      for (;;) {
        const frame = this.next();
        if (frame === undefined) return;
        yield frame;
      }
    } catch (e) {
      if (e instanceof BtError) this.failed = e;
      throw e;
    }
  }

  /** One complete frame, or undefined when more bytes are needed. */
  private next(): WireFrame | undefined {
    const q = this.queue;
    if (this.awaitingHandshake) {
      checkHandshakePrefix(q.peek(20));
      if (q.length < HANDSHAKE_LENGTH) return undefined;
      const handshake = decodeHandshake(q.take(HANDSHAKE_LENGTH));
      this.awaitingHandshake = false;
      return { type: 'handshake', handshake };
    }
    if (q.length < 4) return undefined;
    const length = q.uint32At(0);
    if (length === 0) {
      q.take(4);
      return { type: 'keep-alive' };
    }
    const maxFrame = this.maxFrame();
    if (length > maxFrame) {
      throw wireError('WIRE_MESSAGE_TOO_LARGE', `message length ${length} exceeds ${maxFrame}`, { length, max: maxFrame });
    }
    if (q.length < 5) return undefined;
    const id = q.byteAt(4);
    const type = TYPE_OF_ID.get(id);
    if (type === undefined) throw wireError('WIRE_UNKNOWN_MESSAGE', `unknown message id ${id}`, { id, length });
    const limit = this.limitOf(id);
    if (limit.exact !== undefined && length !== limit.exact) {
      throw wireError('WIRE_BAD_LENGTH', `${type} message of length ${length} (want ${limit.exact})`, { type, length, expected: limit.exact });
    }
    if (id === MESSAGE_ID.bitfield && this.pieceCount !== undefined && length !== 1 + ((this.pieceCount + 7) >>> 3)) {
      const expected = (this.pieceCount + 7) >>> 3;
      throw wireError('WIRE_BAD_BITFIELD', `bitfield of ${length - 1} bytes for ${this.pieceCount} pieces (want ${expected})`, {
        type,
        bytes: length - 1,
        expected,
        pieceCount: this.pieceCount,
      });
    }
    if (length > limit.max) {
      throw wireError('WIRE_MESSAGE_TOO_LARGE', `${type} message of length ${length} exceeds ${limit.max}`, { type, length, max: limit.max });
    }
    if (id === MESSAGE_ID.piece && length <= PIECE_HEADER_PAYLOAD) {
      throw wireError('WIRE_BAD_LENGTH', `piece message of length ${length} has no block`, { type, length });
    }
    if (id === MESSAGE_ID.hashes && (length < 1 + HASH_RANGE_PAYLOAD || (length - 1 - HASH_RANGE_PAYLOAD) % 32 !== 0)) {
      throw wireError('WIRE_BAD_LENGTH', `hashes message of length ${length} (want 49 + a multiple of 32)`, { type, length });
    }
    if (id === MESSAGE_ID.extended && length < 2) {
      throw wireError('WIRE_BAD_LENGTH', 'extended message without an extended id', { type, length });
    }
    if (q.length < 4 + length) return undefined;
    q.take(4);
    const body = q.take(length);
    return this.parse(type, body);
  }

  private checkIndex(type: string, index: number): void {
    if (this.pieceCount !== undefined && index >= this.pieceCount) {
      throw wireError('WIRE_BAD_INDEX', `${type} for piece ${index} of ${this.pieceCount}`, { type, index, pieceCount: this.pieceCount });
    }
  }

  private checkBlockLength(type: string, length: number): void {
    if (length === 0 || length > this.maxBlock) {
      throw wireError('WIRE_BAD_REQUEST', `${type} of ${length} bytes (allowed 1..${this.maxBlock})`, { type, length, max: this.maxBlock });
    }
  }

  /** `body` is the id byte and payload, its size already checked against the id's limits. */
  private parse(type: keyof typeof MESSAGE_ID, body: Uint8Array): Message {
    switch (type) {
      case 'choke':
      case 'unchoke':
      case 'interested':
      case 'not-interested':
      case 'have-all':
      case 'have-none':
        return { type };
      case 'have':
      case 'suggest':
      case 'allowed-fast': {
        const index = readU32(body, 1);
        this.checkIndex(type, index);
        return { type, index };
      }
      case 'request':
      case 'cancel':
      case 'reject': {
        const index = readU32(body, 1);
        const length = readU32(body, 9);
        this.checkIndex(type, index);
        this.checkBlockLength(type, length);
        return { type, index, begin: readU32(body, 5), length };
      }
      case 'bitfield': {
        const bits = body.subarray(1);
        if (this.pieceCount !== undefined) checkBitfieldBytes(bits, this.pieceCount);
        return { type, bits };
      }
      case 'piece': {
        const index = readU32(body, 1);
        this.checkIndex(type, index);
        return { type, index, begin: readU32(body, 5), block: body.subarray(9) };
      }
      case 'port':
        return { type, port: (body[1]! << 8) | body[2]! };
      case 'extended':
        return { type, id: body[1]!, payload: body.subarray(2) };
      case 'hash-request':
      case 'hash-reject':
        return { type, ...this.hashRange(type, body) };
      case 'hashes': {
        const range = this.hashRange(type, body);
        const hashes = body.subarray(1 + HASH_RANGE_PAYLOAD);
        // The hashes asked for, then at most one proof hash per layer proven (BEP 52).
        const n = hashes.length / 32;
        if (n < range.length || n > range.length + range.proofLayers + 1) {
          throw wireError('WIRE_BAD_HASH_MESSAGE', `hashes message with ${n} hashes for ${range.length} asked and ${range.proofLayers} proof layers`, { type, hashes: n, length: range.length, proofLayers: range.proofLayers });
        }
        return { type, ...range, hashes };
      }
    }
  }

  /** The BEP 52 header (root, base layer, index, length, proof layers), bounded. */
  private hashRange(type: string, body: Uint8Array): HashRange {
    const range: HashRange = {
      root: body.subarray(1, 33),
      baseLayer: readU32(body, 33),
      index: readU32(body, 37),
      length: readU32(body, 41),
      proofLayers: readU32(body, 45),
    };
    if (range.length === 0 || range.length > MAX_HASH_REQUEST_LENGTH || range.baseLayer >= MAX_HASH_LAYERS || range.proofLayers >= MAX_HASH_LAYERS) {
      throw wireError('WIRE_BAD_HASH_MESSAGE', `${type} for ${range.length} hashes at layer ${range.baseLayer} with ${range.proofLayers} proof layers (allowed 1..${MAX_HASH_REQUEST_LENGTH} hashes, layers below ${MAX_HASH_LAYERS})`, {
        type,
        length: range.length,
        baseLayer: range.baseLayer,
        proofLayers: range.proofLayers,
      });
    }
    return range;
  }
}
