/**
 * The decoders under fuzz, each with the contract it must keep on any input, and seeds: valid
 * inputs that mutations start from, so that the fuzzer reaches past the first byte check.
 *
 * The contract: a decoder returns, or refuses with a BtError (its typed error, a stable code).
 * Anything else — a TypeError, a RangeError from a stack overflow, an exception from a verdict
 * function that must never throw — is a finding. Time is recorded by the runner, not here.
 */
import fc from 'fast-check';
import { decode, encode } from '../../src/core/bencode/index.js';
import { checkDatagram, readReply } from '../../src/core/dht/krpc.js';
import { BtError } from '../../src/core/errors.js';
import { decodeExtendedHandshake } from '../../src/core/extension/handshake.js';
import { decodeMetadataMessage } from '../../src/core/extension/ut-metadata.js';
import { decodePex } from '../../src/core/extension/ut-pex.js';
import { parseMagnet } from '../../src/core/metainfo/magnet.js';
import { parseTorrent } from '../../src/core/metainfo/parse.js';
import { parseAnnounceBody, parseAnnounceQuery, parseScrapeBody, parseScrapeQuery } from '../../src/core/tracker/http-codec.js';
import { decodeRequest, decodeResponse, encodeAnnounceRequest, encodeAnnounceResponse, encodeConnectRequest, encodeConnectResponse, encodeErrorResponse, encodeScrapeRequest, encodeScrapeResponse } from '../../src/core/tracker/udp-codec.js';
import { parseHead } from '../../src/core/webseed/http-raw.js';
import { MessageDecoder } from '../../src/core/wire/decoder.js';
import { encodeHandshake } from '../../src/core/wire/handshake.js';
import { encodeMessage } from '../../src/core/wire/messages.js';

export interface FuzzTarget {
  name: string;
  /** Runs the decoder on `input`; throws only on a finding (the BtError refusals are caught here). */
  run(input: Uint8Array): void;
  seeds: Uint8Array[];
}

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const latin1 = (u: Uint8Array): string => Buffer.from(u.buffer, u.byteOffset, u.byteLength).toString('latin1');

/** Calls `f`; a BtError is an accepted refusal, anything else propagates as a finding. */
function refusesTyped(f: () => unknown): void {
  try {
    f();
  } catch (e) {
    if (e instanceof BtError) return;
    throw e;
  }
}

const IH = Buffer.alloc(20, 0xab);
const PID = b('-BK0100-abcdefghijkl');

const torrentSeeds = [
  encode({ announce: 'http://127.0.0.1:1/announce', info: { length: 40_000, name: 'a.bin', 'piece length': 16384, pieces: Buffer.alloc(60, 1) } }),
  encode({
    'announce-list': [['udp://127.0.0.1:1/announce'], ['http://127.0.0.1:2/announce']],
    'creation date': 1_700_000_000,
    info: {
      files: [
        { length: 5, path: ['d', 'x'] },
        { length: 16379, path: ['.pad', '16379'], attr: 'p' },
        { length: 7, path: ['y'] },
      ],
      name: 'top',
      'piece length': 16384,
      pieces: Buffer.alloc(40, 2),
      private: 1,
    },
    'url-list': ['http://127.0.0.1:3/'],
  }),
];

const wireSeeds = [
  Buffer.concat([
    encodeHandshake({ reserved: Buffer.from([0, 0, 0, 0, 0, 0x10, 0, 0x05]), infoHash: IH, peerId: PID }),
    encodeMessage({ type: 'bitfield', bits: Buffer.from([0xff, 0x80]) }),
    encodeMessage({ type: 'unchoke' }),
    encodeMessage({ type: 'request', index: 1, begin: 0, length: 16384 }),
    encodeMessage({ type: 'have', index: 3 }),
  ]),
  Buffer.concat([
    encodeMessage({ type: 'keep-alive' }),
    encodeMessage({ type: 'have-all' }),
    encodeMessage({ type: 'piece', index: 0, begin: 16, block: Buffer.alloc(32, 7) }),
    encodeMessage({ type: 'reject', index: 2, begin: 0, length: 100 }),
    encodeMessage({ type: 'extended', id: 0, payload: encode({ m: { ut_metadata: 1, ut_pex: 2 }, v: 'x', reqq: 250 }) }),
  ]),
  // BEP 52: hash request, hashes (asked for and one proof hash), hash reject.
  Buffer.concat([
    encodeMessage({ type: 'hash-request', root: Buffer.alloc(32, 3), baseLayer: 2, index: 0, length: 2, proofLayers: 1 }),
    encodeMessage({ type: 'hashes', root: Buffer.alloc(32, 3), baseLayer: 2, index: 0, length: 2, proofLayers: 1, hashes: Buffer.alloc(96, 5) }),
    encodeMessage({ type: 'hash-reject', root: Buffer.alloc(32, 3), baseLayer: 0, index: 4, length: 4, proofLayers: 0 }),
  ]),
];

const krpcSeeds = [
  encode({ t: b('aa'), y: 'q', q: 'get_peers', a: { id: IH, info_hash: IH, want: [b('n4')] } }),
  encode({ t: b('aa'), y: 'q', q: 'announce_peer', a: { id: IH, info_hash: IH, port: 6881, token: b('tok'), implied_port: 1 } }),
  encode({ t: b('aa'), y: 'r', r: { id: IH, nodes: Buffer.alloc(52, 3), token: b('x'), values: [Buffer.alloc(6, 9)] } }),
  encode({ t: b('aa'), y: 'e', e: [201, 'A Generic Error'] }),
];

const udpRequestSeeds = [
  encodeConnectRequest(7),
  encodeAnnounceRequest({ connectionId: 5n, transactionId: 9, infoHash: IH, peerId: PID, downloaded: 0n, left: 10n, uploaded: 0n, event: 'started', ip: 0, key: 1, numWant: 50, port: 6881, urlData: '/announce?x=1' } as never),
  encodeScrapeRequest({ connectionId: 5n, transactionId: 9, infoHashes: [IH, IH] } as never),
];

const udpResponseSeeds = [
  encodeConnectResponse(7, 123n),
  encodeAnnounceResponse({ transactionId: 7, interval: 60, leechers: 1, seeders: 2, peers: [{ ip: '127.0.0.1', port: 6881 }] } as never, 4),
  encodeScrapeResponse(7, [{ complete: 1, incomplete: 2, downloaded: 3 }]),
  encodeErrorResponse(7, 'nope'),
];

export const TARGETS: FuzzTarget[] = [
  {
    name: 'bencode',
    run: (input) => {
      refusesTyped(() => decode(input));
      refusesTyped(() => decode(input, { mode: 'lenient', allowTrailing: true }));
    },
    seeds: [b('d1:ai1e1:bl3:xyzi-5eee'), b('li9223372036854775807ed0:0:ee'), ...torrentSeeds],
  },
  {
    name: 'metainfo',
    run: (input) => {
      refusesTyped(() => parseTorrent(input));
      refusesTyped(() => parseTorrent(input, { mode: 'strict', unsafePaths: 'report' }));
    },
    seeds: torrentSeeds,
  },
  {
    name: 'magnet',
    run: (input) => {
      refusesTyped(() => parseMagnet(latin1(input)));
      refusesTyped(() => parseMagnet(Buffer.from(input).toString('utf8')));
    },
    seeds: [
      b(`magnet:?xt=urn:btih:${IH.toString('hex')}&dn=a%20b&tr=udp%3A%2F%2F127.0.0.1%3A1&x.pe=127.0.0.1:6881&xl=100&so=0,2-4`),
      b('magnet:?xt=urn:btih:VMVCFZ6P3MNOUDNOEK3YMQ2PJSE3IYVA&ws=http://127.0.0.1/'),
    ],
  },
  {
    name: 'wire',
    run: (input) => {
      // Whole, then split at a point the input chooses, with and without a piece count.
      for (const [handshake, pieceCount] of [[true, undefined], [false, 9], [false, undefined]] as const) {
        const d = new MessageDecoder({ handshake, ...(pieceCount !== undefined ? { pieceCount } : {}) });
        const cut = input.length > 0 ? input[0]! % (input.length + 1) : 0;
        refusesTyped(() => {
          d.push(input.subarray(0, cut));
          for (const _ of d.messages());
          d.push(input.subarray(cut));
          for (const _ of d.messages());
        });
      }
    },
    seeds: wireSeeds,
  },
  {
    name: 'extension',
    run: (input) => {
      refusesTyped(() => decodeExtendedHandshake(input));
      refusesTyped(() => decodeExtendedHandshake(input, { mode: 'lenient' }));
      refusesTyped(() => decodeMetadataMessage(input));
      refusesTyped(() => decodePex(input));
    },
    seeds: [
      encode({ m: { ut_metadata: 3, ut_pex: 1 }, metadata_size: 31_000, p: 6881, reqq: 500, v: 'btkit', yourip: Buffer.from([127, 0, 0, 1]) }),
      Buffer.concat([encode({ msg_type: 1, piece: 0, total_size: 20 }), Buffer.alloc(20, 5)]),
      encode({ msg_type: 0, piece: 2 }),
      encode({ added: Buffer.alloc(12, 1), 'added.f': Buffer.from([2, 0]), dropped: Buffer.alloc(6, 3), added6: Buffer.alloc(18, 4) }),
    ],
  },
  {
    name: 'http-tracker',
    run: (input) => {
      refusesTyped(() => parseAnnounceBody(input));
      refusesTyped(() => parseScrapeBody(input));
      refusesTyped(() => parseAnnounceQuery(latin1(input)));
      refusesTyped(() => parseScrapeQuery(latin1(input)));
    },
    seeds: [
      b('d8:completei3e10:incompletei4e8:intervali1800e12:min intervali60e5:peers12:\x7f\x00\x00\x01\x1a\xe1\xc0\x00\x02\x02\xc8\xd5e'),
      b('d8:intervali900e5:peersld2:ip9:127.0.0.17:peer id20:-XX0001-aaaaaaaaaaaa4:porti6881eee'),
      b('d14:failure reason6:go awaye'),
      Buffer.concat([b('d5:filesd20:'), IH, b('d8:completei1e10:downloadedi2e10:incompletei3eeee')]),
      b(`info_hash=${'%ab'.repeat(20)}&peer_id=-BK0100-abcdefghijkl&port=6881&uploaded=0&downloaded=0&left=10&compact=1&event=started&numwant=50`),
    ],
  },
  {
    name: 'udp-tracker',
    run: (input) => {
      refusesTyped(() => decodeRequest(input));
      refusesTyped(() => decodeResponse(input, 4));
      refusesTyped(() => decodeResponse(input, 6));
    },
    seeds: [...udpRequestSeeds, ...udpResponseSeeds],
  },
  {
    // The web seed's raw HTTP/1.1 client (webseed/http-raw.ts): a response head from a server.
    name: 'http-head',
    run: (input) => {
      const r = parseHead(latin1(input));
      if (r === null) return;
      if (!Number.isInteger(r.status) || r.status < 100 || r.status > 999) throw new Error(`status ${r.status} out of range`);
      for (const [k, v] of Object.entries(r.headers)) {
        if (typeof v !== 'string' || k !== k.toLowerCase()) throw new Error(`header ${k} not a lower-case name with a string value`);
      }
      if (Object.getPrototypeOf(r.headers) !== null) throw new Error('headers carry a prototype');
    },
    seeds: [
      'HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-15/100\r\nContent-Length: 16\r\nConnection: keep-alive',
      'HTTP/1.1 200 OK\r\nContent-Length: 100',
      'HTTP/1.0 503 Service Unavailable\r\nRetry-After: 2\r\n__proto__: x\r\nconstructor: y',
      'HTTP/1.1 301 Moved\r\nLocation: http://127.0.0.1:1/a',
    ].map((t) => Buffer.from(t, 'latin1')),
  },
  {
    name: 'krpc',
    run: (input) => {
      // A verdict function: it never throws, whatever it is given.
      const v = checkDatagram(input);
      if (typeof v.ok !== 'boolean') throw new Error('checkDatagram returned no verdict');
      // readReply reads what k-rpc decoded: give it our decoding of the `r` found, as plain objects.
      let r: unknown = null;
      try {
        r = toPlain(decode(input, { mode: 'lenient', allowTrailing: true }).value);
      } catch {
        // not bencode: readReply still gets something odd below
      }
      const reply = r !== null && typeof r === 'object' && 'r' in (r as object) ? (r as { r: unknown }).r : r;
      readReply(reply);
    },
    seeds: krpcSeeds,
  },
];

/** A decoded value as k-rpc-socket's decoder gives it: objects with own keys, arrays, Buffers. */
function toPlain(v: unknown, depth = 0): unknown {
  if (depth > 32) return null;
  if (v instanceof Map) {
    const o: Record<string, unknown> = {};
    for (const [k, x] of v) Object.defineProperty(o, k as string, { value: toPlain(x, depth + 1), enumerable: true, configurable: true, writable: true });
    return o;
  }
  if (Array.isArray(v)) return v.map((x) => toPlain(x, depth + 1));
  return v;
}

// ---------------------------------------------------------------------------------------------
// Inputs: random bytes, and mutations of the seeds.

/** Bytes that matter to the decoders: bencode tokens, digits, boundaries of lengths and ids. */
const INTERESTING = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x30, 0x31, 0x39, 0x2d, 0x3a, 0x64, 0x65, 0x69, 0x6c, 0x13, 0x14, 0x25, 0x26, 0x3d];

type Mutation =
  | { op: 'flip'; at: number; bit: number }
  | { op: 'set'; at: number; value: number }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'delete'; at: number; n: number }
  | { op: 'duplicate'; at: number; n: number }
  | { op: 'truncate'; at: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ op: fc.constant('set' as const), at: fc.nat(), value: fc.oneof(fc.constantFrom(...INTERESTING), fc.integer({ min: 0, max: 255 })) }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), bytes: fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 16 }), fc.constantFrom(b('i99999999999999999999999e'), b('le'), b('de'), b('0:'), b('4294967295:'))) }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 16 }) }),
  fc.record({ op: fc.constant('duplicate' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
);

export function applyMutations(seed: Uint8Array, ms: readonly Mutation[]): Uint8Array {
  let x = Buffer.from(seed);
  for (const m of ms) {
    const at = x.length === 0 ? 0 : m.at % (x.length + 1);
    switch (m.op) {
      case 'flip':
        if (at < x.length) x[at] = x[at]! ^ (1 << m.bit);
        break;
      case 'set':
        if (at < x.length) x[at] = m.value;
        break;
      case 'insert':
        x = Buffer.concat([x.subarray(0, at), m.bytes, x.subarray(at)]);
        break;
      case 'delete':
        x = Buffer.concat([x.subarray(0, at), x.subarray(at + m.n)]);
        break;
      case 'duplicate':
        x = Buffer.concat([x.subarray(0, at + m.n), x.subarray(at)]);
        break;
      case 'truncate':
        x = x.subarray(0, at);
        break;
    }
  }
  return x;
}

/** Inputs for a target: a third random bytes, the rest its seeds mutated 1 to 8 times. */
export function inputsFor(target: FuzzTarget): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 600 }) },
    { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...target.seeds), fc.array(mutation, { minLength: 1, maxLength: 8 })).map(([s, ms]) => applyMutations(s, ms)) },
  );
}
