/**
 * The incremental wire decoder: the same frames whatever the chunking (one byte at a time, all at
 * once, split at random points), the handshake phase, zero-copy views, and every limit on hostile
 * input ending in a BtError with its code (never another exception, never unbounded buffering).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BtError } from '../../../../src/core/errors.js';
import { type DecoderOptions, MessageDecoder, type WireFrame } from '../../../../src/core/wire/decoder.js';
import { encodeHandshake, reservedWith } from '../../../../src/core/wire/handshake.js';
import { type Message, encodeMessage } from '../../../../src/core/wire/messages.js';
import { FIXTURES, hx, norm } from './fixtures.js';

const HANDSHAKE = encodeHandshake({ reserved: reservedWith(['fast', 'extended']), infoHash: Buffer.alloc(20, 0xab), peerId: Buffer.alloc(20, 0x2d) });
const ALL = Buffer.concat(FIXTURES.map(([, bytes]) => hx(bytes)));
const EXPECTED = FIXTURES.map(([, , m]) => norm(m));

function decodeChunks(chunks: Uint8Array[], options: DecoderOptions = { handshake: false }): Record<string, unknown>[] {
  const d = new MessageDecoder(options);
  const out: WireFrame[] = [];
  for (const c of chunks) {
    d.push(c);
    out.push(...d.messages());
  }
  expect(d.buffered).toBe(0);
  return out.map(norm);
}

const bytewise = (b: Uint8Array): Uint8Array[] => Array.from(b, (x) => Uint8Array.of(x));

/** The BtError the decoder throws for `bytes` (fed in one chunk, or byte by byte). */
function failure(bytes: Uint8Array, options: DecoderOptions = { handshake: false }, oneByteAtATime = false): BtError {
  const d = new MessageDecoder(options);
  try {
    for (const c of oneByteAtATime ? bytewise(bytes) : [bytes]) {
      d.push(c);
      for (const _ of d.messages());
    }
  } catch (e) {
    if (!(e instanceof BtError)) throw new Error(`expected a BtError, got ${String(e)}`, { cause: e });
    expect(e.category).toBe('network');
    return e;
  }
  throw new Error('expected a BtError, but the decoder accepted the input');
}

describe('chunking', () => {
  it('decodes every fixture message fed all at once', () => {
    expect(decodeChunks([ALL])).toEqual(EXPECTED);
  });

  it('decodes the same messages fed one byte at a time', () => {
    expect(decodeChunks(bytewise(ALL))).toEqual(EXPECTED);
  });

  it('decodes the handshake first, then messages', () => {
    const stream = Buffer.concat([HANDSHAKE, ALL]);
    const whole = decodeChunks([stream], {});
    expect(whole[0]).toEqual({
      type: 'handshake',
      handshake: { reserved: '0000000000100004', infoHash: 'ab'.repeat(20), peerId: '2d'.repeat(20) },
    });
    expect(whole.slice(1)).toEqual(EXPECTED);
    expect(decodeChunks(bytewise(stream), {})).toEqual(whole);
  });

  it('yields nothing for an incomplete frame and keeps its bytes', () => {
    const d = new MessageDecoder({ handshake: false });
    d.push(hx('0000000d 06 00000001'));
    expect([...d.messages()]).toEqual([]);
    expect(d.buffered).toBe(9);
    d.push(hx('00004000 00004000'));
    expect([...d.messages()].map(norm)).toEqual([{ type: 'request', index: 1, begin: 0x4000, length: 0x4000 }]);
  });

  it('returns a block inside one chunk as a view of it, and a block across chunks as one copy', () => {
    const msg = encodeMessage({ type: 'piece', index: 0, begin: 0, block: Buffer.alloc(16 * 1024, 7) });
    const d = new MessageDecoder({ handshake: false });
    d.push(msg);
    const [m] = [...d.messages()];
    expect(m?.type === 'piece' && m.block.buffer === msg.buffer).toBe(true);

    const split = new MessageDecoder({ handshake: false });
    split.push(msg.subarray(0, 100));
    split.push(msg.subarray(100));
    const [m2] = [...split.messages()];
    expect(m2?.type === 'piece' && m2.block.length === 16 * 1024 && m2.block.buffer !== msg.buffer).toBe(true);
  });

  it('decodes a full 16 KiB piece fed one byte at a time', () => {
    const block = Buffer.from(Array.from({ length: 16 * 1024 }, (_, i) => i & 0xff));
    const msg = encodeMessage({ type: 'piece', index: 3, begin: 0x4000, block });
    expect(decodeChunks(bytewise(msg))).toEqual([norm({ type: 'piece', index: 3, begin: 0x4000, block })]);
  });

  it('stops where the consumer stops and continues on the next call', () => {
    const d = new MessageDecoder({ handshake: false });
    d.push(ALL);
    const first: WireFrame[] = [];
    for (const m of d.messages()) {
      first.push(m);
      if (first.length === 3) break;
    }
    const rest = [...d.messages()];
    expect([...first, ...rest].map(norm)).toEqual(EXPECTED);
  });
});

// --- property: any valid sequence, split anywhere --------------------------------------------

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const blockRef = { index: u32, begin: u32, length: fc.integer({ min: 1, max: 16 * 1024 }) };
const bytes = (max: number) => fc.uint8Array({ minLength: 0, maxLength: max });
/** BEP 52 hash ranges within the decoder's bounds (lengths kept small: the hashes are generated). */
const hashRange = {
  root: fc.uint8Array({ minLength: 32, maxLength: 32 }),
  baseLayer: fc.integer({ min: 0, max: 63 }),
  index: u32,
  length: fc.integer({ min: 1, max: 24 }),
  proofLayers: fc.integer({ min: 0, max: 63 }),
};
const hashRangeRecord = fc.record(hashRange);

const message: fc.Arbitrary<Message> = fc.oneof(
  fc.constantFrom<Message>(
    { type: 'keep-alive' },
    { type: 'choke' },
    { type: 'unchoke' },
    { type: 'interested' },
    { type: 'not-interested' },
    { type: 'have-all' },
    { type: 'have-none' },
  ),
  fc.record({ type: fc.constantFrom('have', 'suggest', 'allowed-fast'), index: u32 }) as fc.Arbitrary<Message>,
  fc.record({ type: fc.constantFrom('request', 'cancel', 'reject'), ...blockRef }) as fc.Arbitrary<Message>,
  fc.record({ type: fc.constant('bitfield'), bits: bytes(40) }) as fc.Arbitrary<Message>,
  fc.record({
    type: fc.constant('piece'),
    index: u32,
    begin: u32,
    block: fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 64 }), fc.constant(new Uint8Array(16 * 1024).fill(9))),
  }) as fc.Arbitrary<Message>,
  fc.record({ type: fc.constant('port'), port: fc.integer({ min: 0, max: 0xffff }) }) as fc.Arbitrary<Message>,
  fc.record({ type: fc.constant('extended'), id: fc.integer({ min: 0, max: 255 }), payload: bytes(64) }) as fc.Arbitrary<Message>,
  fc.record({ type: fc.constantFrom('hash-request', 'hash-reject'), ...hashRange }) as fc.Arbitrary<Message>,
  hashRangeRecord.chain((r) =>
    fc.integer({ min: 0, max: Math.min(r.proofLayers + 1, 4) }).chain((proofs) =>
      fc.uint8Array({ minLength: 32 * (r.length + proofs), maxLength: 32 * (r.length + proofs) }).map((hashes) => ({ type: 'hashes' as const, ...r, hashes })),
    ),
  ) as fc.Arbitrary<Message>,
);

/** Cut `b` at the given offsets (taken modulo its length, sorted). */
function cut(b: Uint8Array, at: number[]): Uint8Array[] {
  const points = [...new Set(at.map((x) => (b.length === 0 ? 0 : x % (b.length + 1))))].sort((x, y) => x - y);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of [...points, b.length]) {
    out.push(b.subarray(prev, p));
    prev = p;
  }
  return out;
}

describe('property', () => {
  it('any sequence of valid messages split at random points decodes to the same sequence', () => {
    fc.assert(
      fc.property(fc.array(message, { maxLength: 30 }), fc.array(fc.nat(), { maxLength: 40 }), fc.boolean(), (messages, at, withHandshake) => {
        const stream = Buffer.concat([...(withHandshake ? [HANDSHAKE] : []), ...messages.map(encodeMessage)]);
        const frames = decodeChunks(cut(stream, at), { handshake: withHandshake });
        const body = withHandshake ? frames.slice(1) : frames;
        expect(body).toEqual(messages.map(norm));
      }),
      { numRuns: 300 },
    );
  });

  it('arbitrary bytes end in frames or a network BtError, never another exception', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.array(fc.nat(), { maxLength: 10 }), fc.boolean(), (input, at, withHandshake) => {
        const d = new MessageDecoder({ handshake: withHandshake, pieceCount: 20 });
        try {
          for (const c of cut(input, at)) {
            d.push(c);
            for (const _ of d.messages());
          }
        } catch (e) {
          expect(e).toBeInstanceOf(BtError);
          expect((e as BtError).category).toBe('network');
          expect((e as BtError).code).toMatch(/^WIRE_[A-Z_]+$/);
        }
      }),
      { numRuns: 500 },
    );
  });
});

// --- hostile input ------------------------------------------------------------------------------

describe('limits and hostile input', () => {
  it('refuses a huge length prefix as soon as its four bytes are in', () => {
    const e = failure(hx('ffffffff'));
    expect(e.code).toBe('WIRE_MESSAGE_TOO_LARGE');
    expect(e.detail).toMatchObject({ length: 0xffffffff });
  });

  it('refuses a piece larger than 16 KiB + header from its id byte, before buffering it', () => {
    const e = failure(hx(`${(9 + 16 * 1024 + 1).toString(16).padStart(8, '0')} 07`));
    expect(e.code).toBe('WIRE_MESSAGE_TOO_LARGE');
    // Exactly 16 KiB is fine.
    const ok = encodeMessage({ type: 'piece', index: 0, begin: 0, block: new Uint8Array(16 * 1024) });
    expect(decodeChunks([ok])).toHaveLength(1);
  });

  it('takes a configurable block limit', () => {
    const msg = encodeMessage({ type: 'piece', index: 0, begin: 0, block: new Uint8Array(32 * 1024) });
    expect(failure(msg).code).toBe('WIRE_MESSAGE_TOO_LARGE');
    expect(decodeChunks([msg], { handshake: false, maxBlockLength: 32 * 1024 })).toHaveLength(1);
  });

  it.each([
    ['choke with a payload', '00000002 00 00'],
    ['have-none with a payload', '00000002 0f 00'],
    ['have of 3 bytes', '00000004 04 000000'],
    ['have of 5 bytes', '00000006 04 0000000000'],
    ['request of 8 bytes', '00000009 06 00000000 00000000'],
    ['cancel of 13 bytes', '0000000e 08 00000000 00000000 00004000 00'],
    ['reject of 11 bytes', '0000000c 10 00000000 00000000 004000'],
    ['port of 4 bytes', '00000005 09 00001ae1'],
    ['allowed fast of 2 bytes', '00000003 11 0000'],
    ['piece without a block', '00000009 07 00000000 00000000'],
    ['extended without an extended id', '00000001 14'],
  ])('refuses %s (WIRE_BAD_LENGTH)', (_name, bytes) => {
    expect(failure(hx(bytes)).code).toBe('WIRE_BAD_LENGTH');
    expect(failure(hx(bytes), { handshake: false }, true).code).toBe('WIRE_BAD_LENGTH');
  });

  it.each([
    ['too short for 10 pieces', '00000002 05 c0'],
    ['too long for 10 pieces', '00000004 05 c04000'],
    ['spare bit set', '00000003 05 c041'],
    ['last spare bit set', '00000003 05 c060'],
  ])('refuses a bitfield %s (WIRE_BAD_BITFIELD)', (_name, bytes) => {
    expect(failure(hx(bytes), { handshake: false, pieceCount: 10 }).code).toBe('WIRE_BAD_BITFIELD');
  });

  it('accepts a bitfield with every piece and zero spare bits', () => {
    expect(decodeChunks([hx('00000003 05 ffc0')], { handshake: false, pieceCount: 10 })).toEqual([{ type: 'bitfield', bits: 'ffc0' }]);
    expect(decodeChunks([hx('00000002 05 ff')], { handshake: false, pieceCount: 8 })).toEqual([{ type: 'bitfield', bits: 'ff' }]);
  });

  it('checks bitfields once the piece count is learnt', () => {
    const d = new MessageDecoder({ handshake: false });
    d.push(hx('00000003 05 ffff'));
    expect([...d.messages()]).toHaveLength(1);
    d.setPieceCount(10);
    d.push(hx('00000003 05 ffff'));
    expect(() => [...d.messages()]).toThrow(expect.objectContaining({ code: 'WIRE_BAD_BITFIELD' }));
  });

  it('bounds a bitfield while the piece count is unknown', () => {
    expect(failure(hx('00000011 05'), { handshake: false, maxBitfieldLength: 15 }).code).toBe('WIRE_MESSAGE_TOO_LARGE');
  });

  it('bounds extended messages', () => {
    expect(failure(hx('00000012 14 01'), { handshake: false, maxExtendedLength: 15 }).code).toBe('WIRE_MESSAGE_TOO_LARGE');
  });

  it.each([
    ['id 24 (past BEP 52 hash reject)', '00000001 18'],
    ['id 10', '00000001 0a'],
    ['id 255', '00000005 ff 00000000'],
  ])('refuses an unknown message id: %s (WIRE_UNKNOWN_MESSAGE)', (_name, bytes) => {
    const e = failure(hx(bytes));
    expect(e.code).toBe('WIRE_UNKNOWN_MESSAGE');
    expect(e.detail).toMatchObject({ id: hx(bytes)[4] });
  });

  it('refuses piece indices beyond the piece count (WIRE_BAD_INDEX)', () => {
    expect(failure(hx('00000005 04 0000000a'), { handshake: false, pieceCount: 10 }).code).toBe('WIRE_BAD_INDEX');
    expect(failure(hx('0000000d 06 0000000a 00000000 00004000'), { handshake: false, pieceCount: 10 }).code).toBe('WIRE_BAD_INDEX');
    expect(decodeChunks([hx('00000005 04 00000009')], { handshake: false, pieceCount: 10 })).toEqual([{ type: 'have', index: 9 }]);
  });

  it('refuses requests of 0 bytes or more than the block limit (WIRE_BAD_REQUEST)', () => {
    expect(failure(hx('0000000d 06 00000000 00000000 00000000')).code).toBe('WIRE_BAD_REQUEST');
    expect(failure(hx('0000000d 06 00000000 00000000 00004001')).code).toBe('WIRE_BAD_REQUEST');
    expect(failure(hx('0000000d 08 00000000 00000000 00020000')).code).toBe('WIRE_BAD_REQUEST');
  });

  it('refuses a stream that is not a BitTorrent handshake on its first wrong byte', () => {
    expect(failure(hx('16'), {}).code).toBe('WIRE_BAD_HANDSHAKE');
    expect(failure(Buffer.concat([hx('13'), Buffer.from('BitTorrent Protocol')]), {}, true)).toMatchObject({
      code: 'WIRE_BAD_HANDSHAKE',
      detail: { offset: 12 },
    });
    expect(failure(Buffer.from('GET / HTTP/1.1\r\n'), {}).code).toBe('WIRE_BAD_HANDSHAKE');
  });

  it('yields the frames before a bad one, then stays failed', () => {
    const d = new MessageDecoder({ handshake: false });
    d.push(hx('00000001 01 00000001 02 00000001 18 00000001 00'));
    const seen: string[] = [];
    expect(() => {
      for (const m of d.messages()) seen.push(m.type);
    }).toThrow(expect.objectContaining({ code: 'WIRE_UNKNOWN_MESSAGE' }));
    expect(seen).toEqual(['unchoke', 'interested']);
    d.push(hx('00000001 01'));
    expect(() => [...d.messages()]).toThrow(expect.objectContaining({ code: 'WIRE_UNKNOWN_MESSAGE' }));
  });
});

describe('BEP 52 hash messages: bounds', () => {
  const range = { root: Buffer.alloc(32, 7), baseLayer: 2, index: 512, length: 4, proofLayers: 3 };
  const decodeOne = (b: Uint8Array) => {
    const d = new MessageDecoder({ handshake: false });
    d.push(b);
    return [...d.messages()];
  };
  const codeOf = (b: Uint8Array): string | undefined => {
    try {
      decodeOne(b);
      return undefined;
    } catch (e) {
      return (e as BtError).code;
    }
  };

  it('round-trips each of the three, with the fields where BEP 52 puts them', () => {
    const req = encodeMessage({ type: 'hash-request', ...range });
    expect(req.length).toBe(4 + 1 + 48);
    expect(req.readUInt32BE(0)).toBe(49);
    expect(req[4]).toBe(21);
    expect(req.subarray(5, 37).equals(range.root)).toBe(true);
    expect([req.readUInt32BE(37), req.readUInt32BE(41), req.readUInt32BE(45), req.readUInt32BE(49)]).toEqual([2, 512, 4, 3]);
    const hashes = Buffer.alloc(32 * 6, 9);
    for (const m of [{ type: 'hash-request', ...range }, { type: 'hash-reject', ...range }, { type: 'hashes', ...range, hashes }] as Message[]) {
      expect(decodeOne(encodeMessage(m)).map(norm)).toEqual([norm(m)]);
    }
    expect(encodeMessage({ type: 'hash-reject', ...range })[4]).toBe(23);
    expect(encodeMessage({ type: 'hashes', ...range, hashes })[4]).toBe(22);
  });

  it('refuses lengths, layers and hash counts out of bounds with WIRE_ codes', () => {
    const withLength = (length: number) => encodeMessage({ type: 'hash-request', ...range, length });
    expect(codeOf(withLength(0))).toBe('WIRE_BAD_HASH_MESSAGE');
    expect(codeOf(withLength(8193))).toBe('WIRE_BAD_HASH_MESSAGE');
    expect(codeOf(withLength(8192))).toBeUndefined();
    expect(codeOf(encodeMessage({ type: 'hash-reject', ...range, baseLayer: 64 }))).toBe('WIRE_BAD_HASH_MESSAGE');
    expect(codeOf(encodeMessage({ type: 'hash-request', ...range, proofLayers: 0xffffffff }))).toBe('WIRE_BAD_HASH_MESSAGE');
    // Fewer hashes than asked, or more than asked plus one per proof layer.
    expect(codeOf(encodeMessage({ type: 'hashes', ...range, hashes: Buffer.alloc(32 * 3) }))).toBe('WIRE_BAD_HASH_MESSAGE');
    expect(codeOf(encodeMessage({ type: 'hashes', ...range, hashes: Buffer.alloc(32 * 9) }))).toBe('WIRE_BAD_HASH_MESSAGE');
    // A request of the wrong size, and hashes that are not whole 32-byte nodes.
    const short = encodeMessage({ type: 'hash-request', ...range }).subarray(0, 50);
    short.writeUInt32BE(46, 0);
    expect(codeOf(short)).toBe('WIRE_BAD_LENGTH');
    const ragged = Buffer.concat([encodeMessage({ type: 'hashes', ...range, hashes: Buffer.alloc(32 * 4) }), Buffer.alloc(5)]);
    ragged.writeUInt32BE(ragged.length - 4, 0);
    expect(codeOf(ragged)).toBe('WIRE_BAD_LENGTH');
  });

  it('refuses a hashes frame longer than the most a request may be answered with, from its length prefix alone', () => {
    const head = Buffer.alloc(5);
    head.writeUInt32BE(1 + 48 + 32 * (8192 + 64) + 32, 0);
    head[4] = 22;
    expect(codeOf(head)).toBe('WIRE_MESSAGE_TOO_LARGE');
  });
});
