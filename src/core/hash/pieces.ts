/**
 * Hash a stream of pieces read from a `PieceReader`, keeping the disk and every hasher busy:
 * a fixed set of chunk buffers (each a whole number of pieces) cycles between reading on the
 * main thread and hashing in the pool, so memory is bounded by the buffer set whatever the
 * size of the data (create and verify of a 1 TiB torrent use the same memory as of 1 GiB).
 */
import { createHash } from 'node:crypto';
import { throwIfAborted } from '../errors.js';
import { defaultThreads, HashPool, type PieceHashAlgorithm } from './pool.js';

/** A byte range `[start, end)` relative to the start of a read. */
export type Hole = readonly [number, number];

export interface PieceReader {
  /**
   * Fill `into` with the piece-stream bytes starting at `streamOffset`. Returns the ranges that
   * could not be read (missing file, file too short); those bytes are unspecified.
   */
  read(into: Uint8Array, streamOffset: number): Promise<Hole[]>;
}

export interface ChunkDigests {
  firstPiece: number;
  /** One digest per piece (20 bytes for SHA-1), in order. */
  digests: Buffer[];
  /** For each piece: false when part of it could not be read (its digest is meaningless). */
  readable: boolean[];
  bytes: number;
}

export interface HashPiecesOptions {
  totalLength: number;
  pieceLength: number;
  algorithm?: PieceHashAlgorithm;
  /** A pool to use; when absent one is made (and closed) for this call when the data is large. */
  pool?: HashPool;
  threads?: number;
  signal?: AbortSignal;
  /** Target bytes per chunk (rounded to whole pieces). Default 4 MiB. */
  chunkBytes?: number;
  /** Upper bound on all chunk buffers together. Default 64 MiB. */
  maxBufferedBytes?: number;
}

/** Below this, hashing on the main thread beats starting worker threads. */
const INLINE_LIMIT = 8 * 1024 * 1024;

export async function* hashPieces(reader: PieceReader, options: HashPiecesOptions): AsyncGenerator<ChunkDigests> {
  const { totalLength, pieceLength, signal } = options;
  const algorithm = options.algorithm ?? 'sha1';
  const piecesPerChunk = Math.max(1, Math.floor((options.chunkBytes ?? 4 * 1024 * 1024) / pieceLength));
  const chunkLength = Math.min(piecesPerChunk * pieceLength, Math.max(totalLength, 1));
  const inline = !options.pool && (totalLength <= INLINE_LIMIT || options.threads === 0);
  if (inline) {
    yield* hashInline(reader, options, algorithm, chunkLength);
    return;
  }
  // The main thread mostly waits on reads, so it hashes too: with N cores, N-1 workers plus the
  // main thread taking a chunk whenever every worker is busy (one worker start-up less, and no
  // core left idle while the main thread waits).
  const threads = options.threads ?? defaultThreads();
  const mainHashes = !options.pool && threads > 1;
  const pool = options.pool ?? new HashPool(mainHashes ? threads - 1 : threads);
  const maxBuffered = options.maxBufferedBytes ?? 64 * 1024 * 1024;
  // Enough buffers for every hasher to have one while the next is being read; never past the cap.
  const bufferCount = Math.max(2, Math.min(pool.threads * 2 + 1, Math.floor(maxBuffered / chunkLength)));
  const free: ArrayBuffer[] = Array.from({ length: bufferCount }, () => new ArrayBuffer(chunkLength));
  const inflight: Promise<ChunkDigests>[] = [];
  let offset = 0;
  try {
    while (offset < totalLength || inflight.length > 0) {
      throwIfAborted(signal);
      while (offset < totalLength && free.length > 0) {
        const ab = free.pop()!;
        const length = Math.min(chunkLength, totalLength - offset);
        const holes = await reader.read(new Uint8Array(ab, 0, length), offset);
        throwIfAborted(signal);
        const firstPiece = offset / pieceLength;
        // Each worker keeps one job queued so it never waits on the main thread; past that, hash here.
        if (mainHashes && pool.idleCount <= -pool.threads) {
          const digests = hashSync(new Uint8Array(ab, 0, length), pieceLength, algorithm);
          free.push(ab);
          inflight.push(Promise.resolve(toChunk(firstPiece, length, pieceLength, digests, holes, algorithm)));
          offset += length;
          // Hand results (and the chance to abort) to the consumer before reading on.
          break;
        }
        const result = pool.hash(ab, length, pieceLength, algorithm).then(({ buffer, digests }) => {
          free.push(buffer);
          return toChunk(firstPiece, length, pieceLength, digests, holes, algorithm);
        });
        // Avoid an unhandled rejection if we stop early; the error is re-raised when awaited.
        result.catch(() => undefined);
        inflight.push(result);
        offset += length;
      }
      yield await inflight.shift()!;
    }
  } finally {
    if (!options.pool) await pool.close();
  }
}

async function* hashInline(reader: PieceReader, options: HashPiecesOptions, algorithm: PieceHashAlgorithm, chunkLength: number): AsyncGenerator<ChunkDigests> {
  const { totalLength, pieceLength, signal } = options;
  const buf = Buffer.allocUnsafe(chunkLength);
  const size = algorithm === 'sha1' ? 20 : 32;
  for (let offset = 0; offset < totalLength; ) {
    throwIfAborted(signal);
    const length = Math.min(chunkLength, totalLength - offset);
    const view = buf.subarray(0, length);
    const holes = await reader.read(view, offset);
    const count = Math.ceil(length / pieceLength);
    const digests = Buffer.allocUnsafe(count * size);
    for (let i = 0; i < count; i++) {
      const s = i * pieceLength;
      createHash(algorithm).update(view.subarray(s, Math.min(s + pieceLength, length))).digest().copy(digests, i * size);
    }
    yield toChunk(offset / pieceLength, length, pieceLength, digests, holes, algorithm);
    offset += length;
  }
}

function hashSync(view: Uint8Array, pieceLength: number, algorithm: PieceHashAlgorithm): Buffer {
  const size = algorithm === 'sha1' ? 20 : 32;
  const count = Math.ceil(view.length / pieceLength);
  const digests = Buffer.allocUnsafe(count * size);
  for (let i = 0; i < count; i++) {
    const s = i * pieceLength;
    createHash(algorithm).update(view.subarray(s, Math.min(s + pieceLength, view.length))).digest().copy(digests, i * size);
  }
  return digests;
}

function toChunk(firstPiece: number, length: number, pieceLength: number, digests: Buffer, holes: Hole[], algorithm: PieceHashAlgorithm): ChunkDigests {
  const size = algorithm === 'sha1' ? 20 : 32;
  const count = Math.ceil(length / pieceLength);
  const list: Buffer[] = [];
  const readable: boolean[] = new Array<boolean>(count).fill(true);
  for (let i = 0; i < count; i++) list.push(digests.subarray(i * size, (i + 1) * size));
  for (const [hs, he] of holes) {
    if (he <= hs) continue;
    const from = Math.floor(hs / pieceLength);
    const to = Math.min(count - 1, Math.floor((he - 1) / pieceLength));
    for (let p = from; p <= to; p++) readable[p] = false;
  }
  return { firstPiece, digests: list, readable, bytes: length };
}
