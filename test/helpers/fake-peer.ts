/**
 * Peers written in the test: a TCP server on 127.0.0.1 that speaks just enough of the peer wire
 * protocol (BEP 3, with the BEP 6 and BEP 10 bits when asked) to seed a torrent, and misbehaves
 * in the ways the download engine must survive: corrupt blocks, a disconnect midway, oversized or
 * malformed messages, never unchoking, going silent.
 *
 * It uses btkit's own pure codecs for framing (they have their own tests against BEP byte
 * fixtures); the behaviour around them is written here, independently of the session.
 *
 *   const seeder = await startFakePeer({ meta, data, corrupt: (i) => i % 2 === 0 });
 *   … session.addPeers('manual', [{ host: '127.0.0.1', port: seeder.port }]) …
 *   await seeder.close();
 */
import net from 'node:net';
import type { Metainfo } from '../../src/core/metainfo/types.js';
import { Bitfield } from '../../src/core/pieces/bitfield.js';
import { MessageDecoder, encodeHandshake, encodeMessage, encodePieceHeader, reservedWith } from '../../src/core/wire/index.js';

export interface FakePeerOptions {
  meta: Pick<Metainfo, 'infoHash' | 'pieceCount' | 'pieceLength' | 'totalLength'>;
  /** The whole piece stream (every file's bytes end to end). */
  data: Uint8Array;
  /** Pieces it has; default all. */
  have?: readonly number[];
  /** 20-byte peer id; default `-FK0001-` and the port-dependent rest. */
  peerId?: Uint8Array;
  /** Set the BEP 6 and BEP 10 reserved bits. Default true. */
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
}

export interface FakePeer {
  port: number;
  /** Blocks sent (all connections), connections accepted, requests received. */
  readonly stats: { blocks: number; connections: number; requests: number; corrupted: number };
  /** Close the server and every connection (a seeder that dies). */
  close(): Promise<void>;
}

export async function startFakePeer(options: FakePeerOptions): Promise<FakePeer> {
  const { meta, data } = options;
  const stats = { blocks: 0, connections: 0, requests: 0, corrupted: 0 };
  const have = new Bitfield(meta.pieceCount);
  for (const i of options.have ?? Array.from({ length: meta.pieceCount }, (_, i) => i)) have.set(i);
  const { port, close } = await listenLoopback((sock) => {
    stats.connections++;
    serve(sock, options, have, stats, data);
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

function serve(sock: net.Socket, o: FakePeerOptions, have: Bitfield, stats: FakePeer['stats'], data: Uint8Array): void {
  const decoder = new MessageDecoder({ pieceCount: o.meta.pieceCount });
  const fast = o.fast ?? true;
  const peerId = o.peerId ?? Buffer.from(`-FK0001-${String(sock.localPort).padStart(12, '0')}`.slice(0, 20), 'latin1');
  let sentBlocks = 0;
  let queue = Promise.resolve();
  sock.on('data', (chunk: Buffer) => {
    decoder.push(chunk);
    try {
      for (const f of decoder.messages()) {
        if (f.type === 'handshake') {
          sock.write(encodeHandshake({ reserved: reservedWith(fast ? ['fast', 'extended'] : []), infoHash: o.meta.infoHash.v1!, peerId }));
          if (fast && have.hasAll()) sock.write(encodeMessage({ type: 'have-all' }));
          else sock.write(encodeMessage({ type: 'bitfield', bits: have.toWire() }));
          if (o.garbage) sock.write(o.garbage);
          continue;
        }
        if (f.type === 'interested' && !o.neverUnchoke) sock.write(encodeMessage({ type: 'unchoke' }));
        if (f.type === 'request') {
          stats.requests++;
          const { index, begin, length } = f;
          queue = queue.then(async () => {
            if (sock.destroyed) return;
            if (o.silentAfterBlocks !== undefined && sentBlocks >= o.silentAfterBlocks) return;
            if (!have.get(index)) {
              if (fast) sock.write(encodeMessage({ type: 'reject', index, begin, length }));
              return;
            }
            if (o.blockDelayMs) await new Promise((r) => setTimeout(r, o.blockDelayMs));
            if (sock.destroyed) return;
            const start = index * o.meta.pieceLength + begin;
            let block = Buffer.from(data.subarray(start, start + length));
            if (o.corrupt?.(index, begin)) {
              block = Buffer.from(block.map((b) => b ^ 0x5a));
              stats.corrupted++;
            }
            sock.write(encodePieceHeader(index, begin, block.length));
            sock.write(block);
            sentBlocks++;
            stats.blocks++;
            if (o.disconnectAfterBlocks !== undefined && sentBlocks >= o.disconnectAfterBlocks) sock.destroy();
          });
        }
      }
    } catch {
      sock.destroy();
    }
  });
}

/** The piece stream of files given in torrent order. */
export function pieceStream(parts: readonly Uint8Array[]): Buffer {
  return Buffer.concat(parts.map((p) => Buffer.from(p)));
}
