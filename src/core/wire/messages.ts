/**
 * Peer wire messages after the handshake: BEP 3 (keep-alive, choke … cancel), BEP 5 (`port`),
 * BEP 6 fast extension (suggest, have all, have none, reject, allowed fast), BEP 10 (extended) and
 * BEP 52 (hash request, hashes, hash reject: the merkle hashes of v2 torrents).
 *
 * Every message is `<length: u32 BE><id: u8><payload>`, the length counting the id and payload;
 * a length of 0 is a keep-alive (no id). All integers are big-endian u32, the `port` a u16.
 *
 * `Message` is a discriminated union on `type`; `encodeMessage` writes any of them and the
 * incremental `MessageDecoder` (decoder.ts) reads them. Payload sizes live in `FIXED_PAYLOAD` so
 * the encoder and the decoder's length checks share one table.
 */

/** Message ids on the wire. */
export const MESSAGE_ID = {
  choke: 0,
  unchoke: 1,
  interested: 2,
  'not-interested': 3,
  have: 4,
  bitfield: 5,
  request: 6,
  piece: 7,
  cancel: 8,
  /** BEP 5: the sender's DHT port. */
  port: 9,
  /** BEP 6. */
  suggest: 0x0d,
  'have-all': 0x0e,
  'have-none': 0x0f,
  reject: 0x10,
  'allowed-fast': 0x11,
  /** BEP 10. */
  extended: 20,
  /** BEP 52: ask for hashes of one layer of a file's merkle tree, with proof hashes. */
  'hash-request': 21,
  /** BEP 52: the hashes asked for, then the proof (uncle) hashes. */
  hashes: 22,
  /** BEP 52: the sender will not send the hashes asked for. */
  'hash-reject': 23,
} as const;

export type MessageType = keyof typeof MESSAGE_ID | 'keep-alive';

/** A block reference: piece index, byte offset in the piece, length in bytes. */
export interface BlockRef {
  index: number;
  begin: number;
  length: number;
}

/**
 * BEP 52's hash request header, also the head of `hashes` and all of `hash reject`: the file (by
 * its `pieces root`), a layer of its merkle tree counted from the leaves (0: the 16 KiB blocks),
 * the first hash in that layer, how many, and how many layers above them to prove.
 */
export interface HashRange {
  /** 32 bytes: the file's `pieces root`. */
  root: Uint8Array;
  baseLayer: number;
  index: number;
  length: number;
  proofLayers: number;
}

/** Bytes of a hash request (and of a hash reject, and of the head of `hashes`) after the id. */
export const HASH_RANGE_PAYLOAD = 32 + 4 * 4;
/** Most hashes one request may ask for (libtorrent's bound: a piece of 128 MiB at the block layer). */
export const MAX_HASH_REQUEST_LENGTH = 8192;
/** Most layers a tree may have above a base layer: 2^64 leaves is beyond any file. */
export const MAX_HASH_LAYERS = 64;

/**
 * One peer wire message. Byte fields (`bits`, `block`, `payload`) coming from the decoder may be
 * views of the buffer it was given: copy one that must outlive that buffer.
 */
export type Message =
  | { type: 'keep-alive' }
  | { type: 'choke' }
  | { type: 'unchoke' }
  | { type: 'interested' }
  | { type: 'not-interested' }
  | { type: 'have'; index: number }
  /** Raw wire bytes (MSB-first); validated by the decoder when the piece count is known. */
  | { type: 'bitfield'; bits: Uint8Array }
  | ({ type: 'request' } & BlockRef)
  | { type: 'piece'; index: number; begin: number; block: Uint8Array }
  | ({ type: 'cancel' } & BlockRef)
  | { type: 'port'; port: number }
  | { type: 'suggest'; index: number }
  | { type: 'have-all' }
  | { type: 'have-none' }
  | ({ type: 'reject' } & BlockRef)
  | { type: 'allowed-fast'; index: number }
  /** `id` is the extended message id (0 = the BEP 10 handshake); `payload` what follows it. */
  | { type: 'extended'; id: number; payload: Uint8Array }
  | ({ type: 'hash-request' } & HashRange)
  /** `hashes`: the `length` hashes asked for, then the proof hashes, 32 bytes each, concatenated. */
  | ({ type: 'hashes'; hashes: Uint8Array } & HashRange)
  | ({ type: 'hash-reject' } & HashRange);

/** The message with a given `type`, e.g. `MessageOf<'request'>`. */
export type MessageOf<T extends MessageType> = Extract<Message, { type: T }>;

/** Payload size (after the id byte) of every message whose size is fixed. */
export const FIXED_PAYLOAD: Readonly<Partial<Record<number, number>>> = {
  [MESSAGE_ID.choke]: 0,
  [MESSAGE_ID.unchoke]: 0,
  [MESSAGE_ID.interested]: 0,
  [MESSAGE_ID['not-interested']]: 0,
  [MESSAGE_ID.have]: 4,
  [MESSAGE_ID.request]: 12,
  [MESSAGE_ID.cancel]: 12,
  [MESSAGE_ID.port]: 2,
  [MESSAGE_ID.suggest]: 4,
  [MESSAGE_ID['have-all']]: 0,
  [MESSAGE_ID['have-none']]: 0,
  [MESSAGE_ID.reject]: 12,
  [MESSAGE_ID['allowed-fast']]: 4,
  [MESSAGE_ID['hash-request']]: HASH_RANGE_PAYLOAD,
  [MESSAGE_ID['hash-reject']]: HASH_RANGE_PAYLOAD,
};

/** The type of each known id, for the decoder. */
export const TYPE_OF_ID: ReadonlyMap<number, keyof typeof MESSAGE_ID> = new Map(
  Object.entries(MESSAGE_ID).map(([type, id]) => [id, type as keyof typeof MESSAGE_ID]),
);

/** `piece` header after the length prefix: id, index, begin. */
export const PIECE_HEADER_PAYLOAD = 9;
/** BEP 3: "All current implementations use 2^14 (16 kiB)" and drop peers that ask for more. */
export const DEFAULT_BLOCK_LENGTH = 16 * 1024;

const U32_MAX = 0xffff_ffff;

function u32(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 0 || v > U32_MAX) throw new RangeError(`${name} ${v} is not a u32`);
  return v;
}

function frame(id: number, payloadLength: number): Buffer {
  const out = Buffer.allocUnsafe(5 + payloadLength);
  out.writeUInt32BE(1 + payloadLength, 0);
  out[4] = id;
  return out;
}

/**
 * The 13-byte prefix of a `piece` message carrying `blockLength` bytes: length, id, index, begin.
 * A sender writes this and then the block itself, so a block read from disk is never copied into
 * a message buffer.
 */
export function encodePieceHeader(index: number, begin: number, blockLength: number): Buffer {
  const out = Buffer.allocUnsafe(4 + 1 + 8);
  out.writeUInt32BE(u32('piece message length', 1 + 8 + blockLength), 0);
  out[4] = MESSAGE_ID.piece;
  out.writeUInt32BE(u32('index', index), 5);
  out.writeUInt32BE(u32('begin', begin), 9);
  return out;
}

/**
 * One message's wire bytes. Throws RangeError on values that do not fit their field (a
 * programming error: values from the decoder always fit).
 */
export function encodeMessage(m: Message): Buffer {
  switch (m.type) {
    case 'keep-alive':
      return Buffer.alloc(4);
    case 'choke':
    case 'unchoke':
    case 'interested':
    case 'not-interested':
    case 'have-all':
    case 'have-none':
      return frame(MESSAGE_ID[m.type], 0);
    case 'have':
    case 'suggest':
    case 'allowed-fast': {
      const out = frame(MESSAGE_ID[m.type], 4);
      out.writeUInt32BE(u32('index', m.index), 5);
      return out;
    }
    case 'request':
    case 'cancel':
    case 'reject': {
      const out = frame(MESSAGE_ID[m.type], 12);
      out.writeUInt32BE(u32('index', m.index), 5);
      out.writeUInt32BE(u32('begin', m.begin), 9);
      out.writeUInt32BE(u32('length', m.length), 13);
      return out;
    }
    case 'bitfield': {
      const out = frame(MESSAGE_ID.bitfield, m.bits.length);
      out.set(m.bits, 5);
      return out;
    }
    case 'piece':
      return Buffer.concat([encodePieceHeader(m.index, m.begin, m.block.length), m.block]);
    case 'port': {
      if (!Number.isInteger(m.port) || m.port < 0 || m.port > 0xffff) throw new RangeError(`port ${m.port} is not a u16`);
      const out = frame(MESSAGE_ID.port, 2);
      out.writeUInt16BE(m.port, 5);
      return out;
    }
    case 'hash-request':
    case 'hash-reject':
    case 'hashes': {
      const extra = m.type === 'hashes' ? m.hashes.length : 0;
      if (m.root.length !== 32) throw new RangeError(`pieces root of ${m.root.length} bytes`);
      if (extra % 32 !== 0) throw new RangeError(`hashes of ${extra} bytes (not a multiple of 32)`);
      const out = frame(MESSAGE_ID[m.type], HASH_RANGE_PAYLOAD + extra);
      out.set(m.root, 5);
      out.writeUInt32BE(u32('base layer', m.baseLayer), 37);
      out.writeUInt32BE(u32('index', m.index), 41);
      out.writeUInt32BE(u32('length', m.length), 45);
      out.writeUInt32BE(u32('proof layers', m.proofLayers), 49);
      if (m.type === 'hashes') out.set(m.hashes, 53);
      return out;
    }
    case 'extended': {
      if (!Number.isInteger(m.id) || m.id < 0 || m.id > 255) throw new RangeError(`extended id ${m.id} is not a byte`);
      const out = frame(MESSAGE_ID.extended, 1 + m.payload.length);
      out[5] = m.id;
      out.set(m.payload, 6);
      return out;
    }
  }
}
