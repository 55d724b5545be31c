/**
 * Peers written in the test, honest or hostile: a TCP server on 127.0.0.1 (port 0) that speaks
 * just enough of the peer wire protocol (BEP 3 handshake and bitfield, BEP 6 have all / reject,
 * BEP 10 extended handshake) to seed a torrent, and can be told to misbehave in one of the ways a
 * download must survive (issue 15's hostile-peer kit):
 *
 * - by option: corrupt blocks, a disconnect after N blocks, never unchoking, raw garbage after the
 *   greeting, slow blocks, going silent after N blocks (the fault suite's knobs);
 * - by name (`misbehave`, the `MISBEHAVIOURS` table): unrequested pieces, a liar, oversize frames
 *   and length prefixes, out-of-range indexes, `have` past the piece count, a bitfield with spare
 *   bits, a flood of 3000 pipelined requests, never answering, never handshaking, closing in the
 *   middle of a message, a one-byte-a-second drip, reject storms, a second handshake, malformed
 *   extended messages.
 *
 * Every flood it sends is bounded (`FLOOD_CAP_BYTES`), so a session that failed to cut it off
 * shows as an assertion, not as a test that never ends. It records what it received from the
 * session per message type (`stats.received`) and what it pushed (`stats.bytesOut`).
 *
 * It uses btkit's own pure codecs for framing (they have their own tests against BEP byte
 * fixtures); the behaviour around them is written here, independently of the session. The BEP 9
 * metadata peer (metadata-peer.ts) shares `listenLoopback`.
 *
 *   const seeder = await startFakePeer({ meta, data, corrupt: (i) => i % 2 === 0 });
 *   const hostile = await startFakePeer({ meta, data, misbehave: 'request-flood' });
 *   … session.addPeers('manual', [{ host: '127.0.0.1', port: seeder.port }]) …
 *   await seeder.close();
 */
import net from 'node:net';
import { decodeExtendedHandshake, encodeExtendedHandshake } from '../../src/core/extension/handshake.js';
import type { Metainfo } from '../../src/core/metainfo/types.js';
import { Bitfield } from '../../src/core/pieces/bitfield.js';
import { type Message, MessageDecoder, encodeHandshake, encodeMessage, encodePieceHeader, reservedWith } from '../../src/core/wire/index.js';

/** The ways a scripted peer can misbehave; what each does is in `MISBEHAVIOURS`. */
export type Misbehaviour =
  | 'unrequested'
  | 'duplicates'
  | 'liar'
  | 'oversize-prefix'
  | 'oversize-piece'
  | 'oversize-extended'
  | 'piece-out-of-range'
  | 'request-out-of-range'
  | 'have-beyond'
  | 'spare-bits'
  | 'request-flood'
  | 'never-answer'
  | 'mute'
  | 'close-mid-message'
  | 'drip'
  | 'drip-handshake'
  | 'reject-storm'
  | 'duplicate-handshake'
  | 'bad-ext-handshake'
  | 'bad-ut-metadata'
  | 'bad-ut-pex';

/** One line per misbehaviour: what the peer does (the tests say what the session must do about it). */
export const MISBEHAVIOURS: Readonly<Record<Misbehaviour, string>> = {
  unrequested: 'says it has nothing, then pushes blocks (right ones) that nobody asked for, one after another, without end',
  duplicates: 'serves one piece honestly and nothing more; at our `have` of it, sends its blocks again and again, unasked',
  liar: 'answers every request with the block\'s bytes flipped',
  'oversize-prefix': 'sends a length prefix of 4 GiB - 1, then keeps streaming bytes',
  'oversize-piece': 'sends a `piece` carrying a 64 KiB block',
  'oversize-extended': 'sends an extended message of 1 MiB',
  'piece-out-of-range': 'sends a `piece` for index pieceCount + 3',
  'request-out-of-range': 'sends a `request` for index pieceCount + 3',
  'have-beyond': 'sends `have` for index pieceCount (one past the last piece)',
  'spare-bits': 'sends a bitfield of the right length with its spare bits set',
  'request-flood': 'has nothing, is interested, and pipelines 3000 requests at once when it is unchoked and the other side has a piece',
  'never-answer': 'has everything, unchokes, and never answers a request (keep-alives only)',
  mute: 'accepts the connection and never sends a byte',
  'close-mid-message': 'answers the first request with half a `piece` message, then closes',
  drip: 'answers the first request one byte a second, and nothing else',
  'drip-handshake': 'answers the handshake one byte a second',
  'reject-storm': 'rejects every request, pours unsolicited rejects and unchokes again after each',
  'duplicate-handshake': 'sends its handshake a second time after its bitfield',
  'bad-ext-handshake': 'sends an extended handshake that is not a bencoded dictionary',
  'bad-ut-metadata': 'sends a ut_metadata message (to the id we announced) that is not bencode',
  'bad-ut-pex': 'sends a ut_pex message (to the id we announced) whose `added` is not a multiple of 6 bytes',
};

/** The most bytes a flood sends on one connection (a session that never cuts it off fails a test, it does not hang it). */
export const FLOOD_CAP_BYTES = 256 * 1024 * 1024;
/** Requests the `request-flood` peer pipelines (issue 15: a peer pipelining 3000 requests). */
export const FLOOD_REQUESTS = 3000;

export interface FakePeerOptions {
  meta: Pick<Metainfo, 'infoHash' | 'pieceCount' | 'pieceLength' | 'totalLength'>;
  /** The whole piece stream (every file's bytes end to end). */
  data: Uint8Array;
  /** Pieces it has; default all. */
  have?: readonly number[];
  /** 20-byte peer id; default `-FK0001-` and the port-dependent rest. */
  peerId?: Uint8Array;
  /** Set the BEP 6 and BEP 10 reserved bits (and send a BEP 10 handshake). Default true. */
  fast?: boolean;
  /** Send this block with its bytes flipped. */
  corrupt?: (index: number, begin: number) => boolean;
  /** Close the connection after sending this many blocks (on each connection). */
  disconnectAfterBlocks?: number;
  /** Never unchoke (but answer interest, keep-alives…). */
  neverUnchoke?: boolean;
  /** Right after the handshake and bitfield, send these raw bytes (a malformed or oversized message). */
  garbage?: Uint8Array;
  /** Wait this long before each block (a slow seeder). */
  blockDelayMs?: number;
  /** Stop answering requests after this many blocks, keeping the connection open (a silent peer). */
  silentAfterBlocks?: number;
  /** Serve `blocks` blocks, then hold every further one until `until` resolves (a seed that waits for the test). */
  holdAfter?: { blocks: number; until: Promise<unknown> };
  /** Misbehave in this named way (see `MISBEHAVIOURS`). */
  misbehave?: Misbehaviour;
}

export interface FakePeerStats {
  /** Blocks sent (all connections), connections accepted, requests received, blocks sent corrupted. */
  blocks: number;
  connections: number;
  requests: number;
  corrupted: number;
  /** Messages received from the other side, by type (all connections). */
  received: Partial<Record<Message['type'], number>>;
  /** Bytes written to the sockets (all connections). */
  bytesOut: number;
  /** Connections that ended (closed by either side). */
  closed: number;
}

export interface FakePeer {
  port: number;
  readonly stats: FakePeerStats;
  /** Close the server and every connection (a seeder that dies). */
  close(): Promise<void>;
}

export async function startFakePeer(options: FakePeerOptions): Promise<FakePeer> {
  const { meta } = options;
  const stats: FakePeerStats = { blocks: 0, connections: 0, requests: 0, corrupted: 0, received: {}, bytesOut: 0, closed: 0 };
  const have = new Bitfield(meta.pieceCount);
  const hasNothing = options.misbehave === 'request-flood' || options.misbehave === 'unrequested';
  const haveList = options.have ?? (hasNothing ? [] : Array.from({ length: meta.pieceCount }, (_, i) => i));
  for (const i of haveList) have.set(i);
  const { port, close } = await listenLoopback((sock) => {
    stats.connections++;
    sock.on('close', () => stats.closed++);
    // Mute: reads (and throws away) what comes, says nothing; reading lets it see the close.
    if (options.misbehave === 'mute') return void sock.resume();
    serve(sock, options, have, stats);
  });
  return { port, stats, close };
}

/**
 * A TCP server on 127.0.0.1 (port 0) handing each connection to `onConnection`; `close` destroys
 * every connection still open, then the server. Shared by the scripted peers of the tests.
 */
export async function listenLoopback(onConnection: (sock: net.Socket) => void): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => undefined);
    onConnection(sock);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The socket drained, or closed (listeners removed either way). */
const drainOrClose = (sock: net.Socket) =>
  new Promise<void>((resolve) => {
    const done = () => {
      sock.off('drain', done);
      sock.off('close', done);
      resolve();
    };
    sock.on('drain', done);
    sock.on('close', done);
  });

/** One connection's script. */
function serve(sock: net.Socket, o: FakePeerOptions, have: Bitfield, stats: FakePeerStats): void {
  const { meta, data } = o;
  const mode = o.misbehave;
  const decoder = new MessageDecoder({ pieceCount: meta.pieceCount });
  const fast = o.fast ?? true;
  const peerId = o.peerId ?? Buffer.from(`-FK0001-${String(sock.localPort).padStart(12, '0')}`.slice(0, 20), 'latin1');
  const pieceSize = (i: number) => Math.min(meta.pieceLength, meta.totalLength - i * meta.pieceLength);
  let sentBlocks = 0;
  let queue = Promise.resolve();
  /** The other side's BEP 10 ids (from its extended handshake). */
  let theirIds = new Map<string, number>();
  let flooding = false;
  let servedIndex: number | undefined;
  /** The other side unchoked us / has a piece (have, have all, a bitfield that is not empty). */
  let unchoked = false;
  let theyHave = false;
  let keepAlive: ReturnType<typeof setInterval> | undefined;
  sock.on('close', () => clearInterval(keepAlive));

  const write = (bytes: Uint8Array): boolean => {
    if (sock.destroyed) return false;
    stats.bytesOut += bytes.length;
    return sock.write(bytes);
  };
  const send = (m: Message) => write(encodeMessage(m));
  /** Write `next()` until it returns null, the socket closes or the cap is reached, waiting for drains. */
  const flood = async (next: () => Uint8Array | null): Promise<void> => {
    if (flooding) return;
    flooding = true;
    let sent = 0;
    while (!sock.destroyed && sent < FLOOD_CAP_BYTES) {
      const bytes = next();
      if (!bytes) return;
      sent += bytes.length;
      if (!write(bytes)) await drainOrClose(sock);
    }
  };
  const blockBytes = (index: number, begin: number, length: number) => data.subarray(index * meta.pieceLength + begin, index * meta.pieceLength + begin + length);
  /** Every block of piece `index` as `piece` messages. */
  const pieceMessages = (index: number): Buffer[] => {
    const out: Buffer[] = [];
    for (let begin = 0; begin < pieceSize(index); begin += 16384) {
      const len = Math.min(16384, pieceSize(index) - begin);
      out.push(Buffer.concat([encodePieceHeader(index, begin, len), blockBytes(index, begin, len)]));
    }
    return out;
  };

  const greet = () => {
    if (mode === 'drip-handshake') {
      const bytes = encodeHandshake({ reserved: reservedWith(['fast', 'extended']), infoHash: meta.infoHash.v1!, peerId });
      void (async () => {
        for (let k = 0; k < bytes.length && !sock.destroyed; k++) {
          write(bytes.subarray(k, k + 1));
          await sleep(1000);
        }
      })();
      return;
    }
    write(encodeHandshake({ reserved: reservedWith(fast ? ['fast', 'extended'] : []), infoHash: meta.infoHash.v1!, peerId }));
    if (fast) {
      const ext = mode === 'bad-ext-handshake' ? Buffer.from('not a dictionary') : encodeExtendedHandshake({ m: { ut_metadata: 3, ut_pex: 4 }, v: 'btkit-test-peer' });
      send({ type: 'extended', id: 0, payload: ext });
    }
    if (mode === 'spare-bits') {
      const bits = have.toWire();
      const spare = bits.length * 8 - meta.pieceCount;
      if (spare === 0) throw new Error('spare-bits needs a piece count that is not a multiple of 8');
      bits[bits.length - 1]! |= (1 << spare) - 1;
      send({ type: 'bitfield', bits });
    } else if (fast && have.hasAll()) send({ type: 'have-all' });
    else if (fast && have.count === 0) send({ type: 'have-none' });
    else send({ type: 'bitfield', bits: have.toWire() });
    if (o.garbage) write(o.garbage);
    afterGreeting();
  };

  const afterGreeting = () => {
    const n = meta.pieceCount;
    switch (mode) {
      case 'oversize-prefix': {
        const prefix = Buffer.from([0xff, 0xff, 0xff, 0xff, 7]);
        let first = true;
        void flood(() => (first ? ((first = false), prefix) : Buffer.alloc(64 * 1024, 0xab)));
        return;
      }
      case 'oversize-piece':
        write(Buffer.concat([encodePieceHeader(0, 0, 64 * 1024), Buffer.alloc(64 * 1024)]));
        return;
      case 'oversize-extended':
        send({ type: 'extended', id: 3, payload: Buffer.alloc(1024 * 1024, 0x65) });
        return;
      case 'piece-out-of-range':
        write(Buffer.concat([encodePieceHeader(n + 3, 0, 16384), Buffer.alloc(16384)]));
        return;
      case 'request-out-of-range':
        send({ type: 'request', index: n + 3, begin: 0, length: 16384 });
        return;
      case 'have-beyond':
        send({ type: 'have', index: n });
        return;
      case 'duplicate-handshake':
        write(encodeHandshake({ reserved: reservedWith(['fast', 'extended']), infoHash: meta.infoHash.v1!, peerId }));
        return;
      case 'request-flood':
        send({ type: 'interested' });
        return;
      case 'never-answer':
        // Alive and polite: keep-alives twice a second, so only its unanswered requests can tell.
        keepAlive = setInterval(() => send({ type: 'keep-alive' }), 500);
        return;
      case 'unrequested': {
        let i = 0;
        let blocks: Buffer[] = [];
        void flood(() => {
          if (blocks.length === 0) blocks = pieceMessages(i++ % n);
          return blocks.shift()!;
        });
        return;
      }
      case 'reject-storm': {
        // Rejects of blocks never asked for, in bulk, each batch followed by an unchoke.
        let rounds = 0;
        void flood(() => {
          if (rounds++ >= 2000) return null;
          const batch: Buffer[] = [];
          for (let k = 0; k < 64; k++) batch.push(encodeMessage({ type: 'reject', index: (rounds * 64 + k) % n, begin: 0, length: 16384 }));
          batch.push(encodeMessage({ type: 'unchoke' }));
          return Buffer.concat(batch);
        });
        return;
      }
      default:
        return;
    }
  };

  /** Once the other side's extended handshake is in: messages to the ids it announced. */
  const afterTheirExtendedHandshake = () => {
    if (mode === 'bad-ut-metadata') {
      const id = theirIds.get('ut_metadata');
      if (id) send({ type: 'extended', id, payload: Buffer.from('d8:msg_typei0e5:piece') });
    }
    if (mode === 'bad-ut-pex') {
      const id = theirIds.get('ut_pex');
      if (id) send({ type: 'extended', id, payload: Buffer.from('d5:added7:\x7f\x00\x00\x01\x1a\xe1\x00e') });
    }
  };

  const onRequest = (index: number, begin: number, length: number) => {
    stats.requests++;
    if (mode === 'never-answer') return;
    if (mode === 'reject-storm') {
      send({ type: 'reject', index, begin, length });
      send({ type: 'unchoke' });
      return;
    }
    if (mode === 'close-mid-message') {
      const header = encodePieceHeader(index, begin, length);
      write(Buffer.concat([header, blockBytes(index, begin, length >> 1)]));
      sock.end();
      return;
    }
    if (mode === 'drip') {
      if (stats.requests > 1) return;
      const bytes = Buffer.concat([encodePieceHeader(index, begin, length), blockBytes(index, begin, length)]);
      void (async () => {
        for (let k = 0; k < bytes.length && !sock.destroyed; k++) {
          write(bytes.subarray(k, k + 1));
          await sleep(1000);
        }
      })();
      return;
    }
    queue = queue.then(async () => {
      if (sock.destroyed) return;
      // Duplicates: one piece served honestly (so that we `have` it), nothing more.
      if (mode === 'duplicates' && (flooding || (servedIndex ??= index) !== index)) return;
      if (o.silentAfterBlocks !== undefined && sentBlocks >= o.silentAfterBlocks) return;
      if (!have.get(index)) {
        if (fast) send({ type: 'reject', index, begin, length });
        return;
      }
      if (o.holdAfter && sentBlocks >= o.holdAfter.blocks) await o.holdAfter.until;
      if (o.blockDelayMs) await sleep(o.blockDelayMs);
      if (sock.destroyed) return;
      let block = Buffer.from(blockBytes(index, begin, length));
      if (mode === 'liar' || o.corrupt?.(index, begin)) {
        block = Buffer.from(block.map((b) => b ^ 0x5a));
        stats.corrupted++;
      }
      write(encodePieceHeader(index, begin, block.length));
      write(block);
      sentBlocks++;
      stats.blocks++;
      if (o.disconnectAfterBlocks !== undefined && sentBlocks >= o.disconnectAfterBlocks) sock.destroy();
    });
  };

  sock.on('data', (chunk: Buffer) => {
    decoder.push(chunk);
    try {
      for (const f of decoder.messages()) {
        if (f.type === 'handshake') {
          greet();
          continue;
        }
        stats.received[f.type] = (stats.received[f.type] ?? 0) + 1;
        switch (f.type) {
          case 'extended':
            if (f.id === 0) {
              theirIds = decodeExtendedHandshake(Uint8Array.from(f.payload)).m;
              afterTheirExtendedHandshake();
            }
            break;
          case 'interested':
            if (!o.neverUnchoke) send({ type: 'unchoke' });
            break;
          case 'unchoke':
            unchoked = true;
            if (mode === 'request-flood' && theyHave) floodRequests();
            break;
          case 'have-all':
          case 'bitfield':
            theyHave = f.type === 'have-all' || f.bits.some((b) => b !== 0);
            if (mode === 'request-flood' && unchoked && theyHave) floodRequests();
            break;
          case 'have':
            theyHave = true;
            if (mode === 'request-flood' && unchoked) floodRequests();
            if (mode === 'duplicates') {
              const messages = pieceMessages(f.index);
              let k = 0;
              void flood(() => messages[k++ % messages.length]!);
            }
            break;
          case 'request':
            onRequest(f.index, f.begin, f.length);
            break;
          default:
            break;
        }
      }
    } catch {
      sock.destroy();
    }
  });

  /** FLOOD_REQUESTS requests at once, over every piece, blocks of 16 KiB. */
  const floodRequests = () => {
    if (flooding) return;
    flooding = true;
    const out: Buffer[] = [];
    for (let k = 0; out.length < FLOOD_REQUESTS; k++) {
      const index = k % meta.pieceCount;
      const blocks = Math.ceil(pieceSize(index) / 16384);
      const b = Math.floor(k / meta.pieceCount) % blocks;
      out.push(encodeMessage({ type: 'request', index, begin: b * 16384, length: Math.min(16384, pieceSize(index) - b * 16384) }));
    }
    write(Buffer.concat(out));
  };
}

/** The piece stream of files given in torrent order. */
export function pieceStream(parts: readonly Uint8Array[]): Buffer {
  return Buffer.concat(parts.map((p) => Buffer.from(p)));
}
