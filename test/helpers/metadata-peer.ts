/**
 * A scripted BEP 9 (ut_metadata) peer: honest, or hostile in one chosen way, for tests of the
 * metadata fetcher and, later, of the session downloading from a magnet link.
 *
 * Two forms sharing one script:
 * - `scriptedMetadataPlugin({ info, mode })`: a BEP 10 plug-in factory, to wire in memory through
 *   `ExtensionRegistry` instances (unit tests);
 * - `startMetadataPeer({ infoHash, info, mode })`: a TCP server on 127.0.0.1, port 0, that answers
 *   the BEP 3 handshake for `infoHash` (reserved bits: fast, extended), sends its BEP 10 handshake
 *   (ut_metadata and a `metadata_size` chosen by the mode), says it has no piece (`have-none`) and
 *   answers metadata requests per the mode. It seeds nothing: a metadata-only peer.
 *
 * It uses btkit's own pure codecs (wire, extension), which have their own byte-fixture tests; the
 * behaviour around them is written here, independently of the fetcher it tests.
 */
import net from 'node:net';
import { ExtensionRegistry, type ExtensionFactory } from '../../src/core/extension/registry.js';
import {
  DEFAULT_MAX_METADATA_SIZE,
  METADATA_PIECE_LENGTH,
  decodeMetadataMessage,
  encodeMetadataMessage,
  metadataPieceCount,
  metadataPieceLength,
} from '../../src/core/extension/ut-metadata.js';
import { MessageDecoder, encodeHandshake, encodeMessage, reservedWith, supportsFast } from '../../src/core/wire/index.js';
import { listenLoopback } from './fake-peer.js';

export type MetadataPeerMode =
  /** Announces the true size, answers every request with the true piece. */
  | 'honest'
  /** Announces (and keeps to) a size 7 bytes too large: its pieces are the info padded with zeros. */
  | 'wrong-size'
  /** Announces the true size, but its data messages say another total_size. */
  | 'wrong-total-size'
  /** Answers each request with a piece index past the end. */
  | 'out-of-range'
  /** Right sizes, wrong bytes (one byte flipped in each piece, or in the pieces `badPieces` names). */
  | 'bad-hash'
  /** A piece one byte short. */
  | 'wrong-length'
  /** Announces a metadata_size over libtorrent's 30 MiB cap; rejects requests. */
  | 'over-cap'
  /** Announces the true size, rejects every request. */
  | 'reject'
  /** Announces the true size, never answers. */
  | 'silent';

export const METADATA_PEER_MODES: readonly MetadataPeerMode[] = [
  'honest',
  'wrong-size',
  'wrong-total-size',
  'out-of-range',
  'bad-hash',
  'wrong-length',
  'over-cap',
  'reject',
  'silent',
];

export interface ScriptOptions {
  /** The true info dictionary. */
  info: Uint8Array;
  mode: MetadataPeerMode;
  /** For 'bad-hash': which pieces are corrupted (default all). */
  badPieces?: (piece: number) => boolean;
}

export interface ScriptStats {
  requests: number[];
  answered: number;
}

/** The metadata_size a peer in this mode announces. */
export function announcedSize(o: ScriptOptions): number {
  if (o.mode === 'wrong-size') return o.info.length + 7;
  if (o.mode === 'over-cap') return DEFAULT_MAX_METADATA_SIZE + 1;
  return o.info.length;
}

/** The scripted peer's ut_metadata plug-in; `stats` records the requests it saw. */
export function scriptedMetadataPlugin(o: ScriptOptions, stats: ScriptStats = { requests: [], answered: 0 }): ExtensionFactory {
  const size = announcedSize(o);
  // What it believes the metadata is: for 'wrong-size', the info padded to the announced size.
  const content = o.mode === 'wrong-size' ? Buffer.concat([o.info, Buffer.alloc(7)]) : o.info;
  return (ctx) => ({
    name: 'ut_metadata',
    handshakeFields: () => ({ metadata_size: size }),
    onMessage(payload) {
      const m = decodeMetadataMessage(payload);
      if (m.type !== 'request') return;
      stats.requests.push(m.piece);
      const length = metadataPieceLength(content.length, m.piece);
      const reject = () => ctx.send(encodeMetadataMessage({ type: 'reject', piece: m.piece }));
      if (o.mode === 'silent') return;
      if (o.mode === 'reject' || o.mode === 'over-cap' || length === 0) return void reject();
      const start = m.piece * METADATA_PIECE_LENGTH;
      let data = Buffer.from(content.subarray(start, start + length));
      let piece = m.piece;
      let totalSize = size;
      if (o.mode === 'bad-hash' && (o.badPieces?.(m.piece) ?? true)) data[0] ^= 0xff;
      if (o.mode === 'wrong-length') data = data.subarray(0, data.length - 1);
      if (o.mode === 'wrong-total-size') totalSize = size + 1;
      if (o.mode === 'out-of-range') piece = metadataPieceCount(size) + 5;
      stats.answered++;
      ctx.send(encodeMetadataMessage({ type: 'data', piece, totalSize, data }));
    },
  });
}

export interface MetadataPeerOptions extends ScriptOptions {
  infoHash: Uint8Array;
}

export interface MetadataPeer {
  port: number;
  readonly stats: ScriptStats & { connections: number };
  close(): Promise<void>;
}

/** A scripted metadata peer listening on 127.0.0.1 (port 0). */
export async function startMetadataPeer(options: MetadataPeerOptions): Promise<MetadataPeer> {
  const stats = { requests: [] as number[], answered: 0, connections: 0 };
  const { port, close } = await listenLoopback((sock) => {
    stats.connections++;
    serve(sock, options, stats);
  });
  return { port, stats, close };
}

function serve(sock: net.Socket, o: MetadataPeerOptions, stats: ScriptStats): void {
  const decoder = new MessageDecoder();
  const peerId = Buffer.from(`-MD0001-${String(sock.localPort).padStart(12, '0')}`.slice(0, 20), 'latin1');
  const registry = new ExtensionRegistry([scriptedMetadataPlugin(o, stats)], {
    send: (id, payload) => sock.write(encodeMessage({ type: 'extended', id, payload })),
  });
  sock.on('data', (chunk: Buffer) => {
    decoder.push(chunk);
    try {
      for (const f of decoder.messages()) {
        if (f.type === 'handshake') {
          if (Buffer.compare(Buffer.from(f.handshake.infoHash), Buffer.from(o.infoHash)) !== 0) {
            sock.destroy();
            return;
          }
          sock.write(encodeHandshake({ reserved: reservedWith(['fast', 'extended']), infoHash: o.infoHash, peerId }));
          sock.write(encodeMessage({ type: 'extended', id: 0, payload: registry.ourHandshake({ v: 'metadata-peer' }) }));
          // BEP 6 have-none only to a peer that speaks BEP 6; to others, no bitfield says the same.
          if (supportsFast(f.handshake.reserved)) sock.write(encodeMessage({ type: 'have-none' }));
          continue;
        }
        if (f.type === 'extended') registry.receive(f.id, Uint8Array.from(f.payload));
      }
    } catch {
      sock.destroy();
    }
  });
}
