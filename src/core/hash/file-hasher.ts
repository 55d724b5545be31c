/**
 * Hash the pieces of files on disk on every core at once (create, verify, seed's check).
 *
 * Each thread — the main thread and N-1 workers — takes the next chunk of the piece stream from a
 * shared atomic counter, reads it itself with positional reads into its own buffer, hashes its
 * pieces and reports the digests. Nothing but digests crosses threads: no buffer hand-offs, and
 * the copy out of the page cache runs on every core instead of on one reader. Chunks are taken in
 * stream order, so the disk still sees a (nearly) sequential scan. Memory is one read slice per
 * thread whatever the size of the data.
 *
 * The chunk hasher below is plain JavaScript kept as source text: the workers evaluate it
 * (`eval: true`, no file to locate at run time, the same from dist/ and from the TypeScript sources
 * under test) and the main thread builds the very same function from it, so there is one copy.
 */
import * as fs from 'node:fs';
import * as crypto from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { BtError, fromSystemError, throwIfAborted } from '../errors.js';
import type { LayoutFile } from '../storage/layout.js';
import { defaultThreads, type PieceHashAlgorithm } from './pool.js';

/** A byte range `[start, end)` relative to the start of a chunk. */
export type Hole = readonly [number, number];

export interface ChunkDigests {
  firstPiece: number;
  /** One digest per piece (20 bytes for SHA-1, 32 for SHA-256), in order; empty with `algorithm: null`. */
  digests: Buffer[];
  /**
   * With `merkle`: one BEP 52 hash per piece, in order — the piece's node in its file's piece layer,
   * or, for a file of one piece or less, the file's `pieces root` itself (src/core/metainfo/merkle.ts).
   */
  merkle: Buffer[];
  /** For each piece: false when part of it could not be read (its digest is meaningless). */
  readable: boolean[];
  bytes: number;
  /** Which thread hashed it: 0 the main thread, 1… the workers (for tests and diagnostics). */
  thread: number;
}

export interface HashFilesOptions {
  totalLength: number;
  pieceLength: number;
  /** The flat piece hash (v1: SHA-1 of the whole piece); null for none (a v2-only torrent). */
  algorithm?: PieceHashAlgorithm | null;
  /**
   * Also hash each piece as BEP 52 does, in the same read: SHA-256 of every 16 KiB block of the
   * file's own bytes (padding and the space after the file are not leaves), folded to one node per
   * piece. Needs a power-of-two piece length of at least 16 KiB and every file starting on a piece
   * boundary (as v2 and hybrid layouts put them); otherwise HASH_UNALIGNED.
   */
  merkle?: boolean;
  /** A missing file, a short file or a read error throws (create) instead of becoming a hole (verify). */
  strict?: boolean;
  /** Threads in all, the main thread included when it hashes. Default: one per core. */
  threads?: number;
  /**
   * Whether the main thread hashes too (default true: one worker start-up less and no idle core).
   * False keeps its event loop free, for a process that is serving peers at the same time.
   */
  useMainThread?: boolean;
  signal?: AbortSignal;
  /** Target bytes per chunk (rounded down to whole pieces, at least one). Default 4 MiB. */
  chunkBytes?: number;
  /** Workers already started (see PreparedWorkers): used before starting new ones. */
  workers?: PreparedWorkers;
}

interface Plan {
  files: { path: string | null; length: number; offset: number }[];
  totalLength: number;
  pieceLength: number;
  chunkLength: number;
  chunkCount: number;
  algorithm: PieceHashAlgorithm | null;
  merkle: boolean;
  strict: boolean;
  thread: number;
}

interface ChunkResult {
  chunk: number;
  digests: Uint8Array;
  merkle: Uint8Array;
  holes: [number, number][];
  bytes: number;
  thread: number;
}

interface ChunkHasher {
  hash(chunk: number): ChunkResult;
  close(): void;
}

type ChunkHasherFactory = (fs: typeof import('node:fs'), crypto: typeof import('node:crypto'), plan: Plan) => ChunkHasher;

/**
 * `(fs, crypto, plan) => { hash(chunk), close() }`. Strict mode throws `{ code, message, path }`:
 * ESHORT for a file shorter than the plan says, the errno of a failed open or read otherwise.
 */
const CHUNK_HASHER_SOURCE = String.raw`(function chunkHasher(fs, crypto, plan) {
  const files = plan.files;
  // Read in slices that stay in the core's cache until hashed: a chunk-sized read spills it, and
  // the hash then fetches the bytes from memory a second time (measured on 1 GiB, 2 threads:
  // 64 KiB 0.34 s, 256 KiB 0.33 s, 1 MiB 0.31 s, 4 MiB 0.33 s).
  const sliceLength = Math.min(plan.chunkLength, 1024 * 1024);
  const buffer = Buffer.allocUnsafe(sliceLength);
  const size = plan.algorithm === null ? 0 : plan.algorithm === 'sha1' ? 20 : 32;
  // BEP 52: 16 KiB leaves; pads[d] is the root of 2^d zero leaves (a leaf of padding is 32 zero bytes).
  const BLOCK = 16384;
  const blocksPerPiece = plan.merkle ? plan.pieceLength / BLOCK : 0;
  // One-shot SHA-256 where Node has it (20.12+): no Hash object per call, and a 1 GiB hybrid makes
  // ~130,000 calls (a leaf per 16 KiB, a node per pair); the object each costs about a microsecond
  // and garbage for the collector.
  const sha256 = typeof crypto.hash === 'function'
    ? (data) => crypto.hash('sha256', data, 'buffer')
    : (data) => crypto.createHash('sha256').update(data).digest();
  const pair = Buffer.allocUnsafe(64);
  function node(left, right) {
    left.copy(pair, 0);
    right.copy(pair, 32);
    return sha256(pair);
  }
  const pads = [Buffer.alloc(32)];
  for (let d = 1; d <= 40; d++) pads.push(node(pads[d - 1], pads[d - 1]));
  // The root over leaves widened to width (a power of two) with zero leaves; one pass per level.
  function fold(leaves, width) {
    let layer = leaves.length > 0 ? leaves : [pads[0]];
    let depth = 0;
    for (let w = width; w > 1; w /= 2) {
      const next = [];
      for (let i = 0; i < layer.length; i += 2) next.push(node(layer[i], i + 1 < layer.length ? layer[i + 1] : pads[depth]));
      layer = next;
      depth++;
    }
    return layer[0];
  }
  // The real (non-padding) file under stream offset at, or -1.
  function fileAt(at) {
    let lo = 0;
    let hi = files.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (files[mid].offset + files[mid].length <= at) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < files.length && files[i].offset <= at; i++) {
      if (files[i].path !== null && at < files[i].offset + files[i].length) return i;
    }
    return -1;
  }
  let openIndex = -1;
  let openFd = -1;
  function fail(err, path) {
    const e = new Error(err && err.message ? err.message : String(err));
    e.code = err && err.code ? err.code : 'EIO';
    e.path = path;
    throw e;
  }
  function fdFor(index) {
    if (index === openIndex) return openFd;
    if (openFd >= 0) fs.closeSync(openFd);
    openIndex = index;
    openFd = -1;
    try {
      openFd = fs.openSync(files[index].path, 'r');
    } catch (err) {
      if (plan.strict) fail(err, files[index].path);
    }
    return openFd;
  }
  // Fill buffer[0, length) with stream bytes from streamOffset; return the ranges (relative to it) that could not be read.
  function read(streamOffset, length) {
    const holes = [];
    const end = streamOffset + length;
    let lo = 0;
    let hi = files.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (files[mid].offset + files[mid].length <= streamOffset) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < files.length && files[i].offset < end; i++) {
      const f = files[i];
      const s = Math.max(streamOffset, f.offset);
      const e = Math.min(end, f.offset + f.length);
      if (e <= s) continue;
      const at = s - streamOffset;
      if (f.path === null) {
        // BEP 47 padding: zeros by definition. Only a flat hash reads them (merkle leaves stop at
        // the file's end), so a v2-only run skips filling them: 10,000 small files in 32 KiB
        // pieces are ~90 % padding.
        if (size > 0) buffer.fill(0, at, at + (e - s));
        continue;
      }
      const fd = fdFor(i);
      if (fd < 0) {
        holes.push([at, at + (e - s)]);
        continue;
      }
      let done = 0;
      while (done < e - s) {
        let n;
        try {
          n = fs.readSync(fd, buffer, at + done, e - s - done, s - f.offset + done);
        } catch (err) {
          if (plan.strict) fail(err, f.path);
          break;
        }
        if (n === 0) break;
        done += n;
      }
      if (done < e - s) {
        if (plan.strict) fail({ code: 'ESHORT', message: 'file is shorter than expected (changed while reading?)' }, f.path);
        holes.push([at + done, e - streamOffset]);
      }
    }
    return holes;
  }
  return {
    hash(chunk) {
      const start = chunk * plan.chunkLength;
      const length = Math.min(plan.chunkLength, plan.totalLength - start);
      const count = Math.ceil(length / plan.pieceLength);
      const digests = Buffer.allocUnsafe(count * size);
      const merkle = Buffer.alloc(plan.merkle ? count * 32 : 0);
      const holes = [];
      let piece = 0;
      let inPiece = 0;
      let hash = null;
      // Merkle state of the current piece: its file's bytes in it (real), whether the file fits in
      // one piece (then the tree is as wide as its blocks, else as a piece), and the leaves so far.
      let real = 0;
      let small = false;
      let leaves = [];
      for (let off = 0; off < length; off += sliceLength) {
        const n = Math.min(sliceLength, length - off);
        for (const [hs, he] of read(start + off, n)) holes.push([off + hs, off + he]);
        for (let at = 0; at < n; ) {
          if (inPiece === 0 && plan.merkle) {
            const pieceStart = start + off + at;
            const f = fileAt(pieceStart);
            real = f < 0 ? 0 : Math.min(plan.pieceLength, files[f].offset + files[f].length - pieceStart);
            small = f >= 0 && files[f].length <= plan.pieceLength;
            leaves = [];
          }
          if (hash === null && size > 0) hash = crypto.createHash(plan.algorithm);
          const take = Math.min(plan.pieceLength - inPiece, n - at);
          if (plan.merkle) {
            // Slices and pieces start on 16 KiB boundaries, so no block straddles two takes. A
            // hybrid feeds each block to SHA-1 right after its leaf, while it is in the core's
            // first-level cache, instead of a second pass over the piece.
            let b = 0;
            for (; b < take && inPiece + b < real; b += BLOCK) {
              const len = Math.min(BLOCK, real - inPiece - b, take - b);
              const block = buffer.subarray(at + b, at + b + len);
              leaves.push(sha256(block));
              if (hash !== null) hash.update(len === BLOCK ? block : buffer.subarray(at + b, at + Math.min(b + BLOCK, take)));
            }
            if (hash !== null && b < take) hash.update(buffer.subarray(at + b, at + take));
          } else if (hash !== null) hash.update(buffer.subarray(at, at + take));
          at += take;
          inPiece += take;
          if (inPiece === plan.pieceLength || off + at === length) {
            if (hash !== null) hash.digest().copy(digests, piece * size);
            if (plan.merkle) fold(leaves, small ? Math.max(1, 2 ** Math.ceil(Math.log2(Math.max(1, leaves.length)))) : blocksPerPiece).copy(merkle, piece * 32);
            piece++;
            inPiece = 0;
            hash = null;
          }
        }
      }
      return { chunk, digests, merkle, holes, bytes: length, thread: plan.thread };
    },
    close() {
      if (openFd >= 0) fs.closeSync(openFd);
      openFd = -1;
      openIndex = -1;
    },
  };
})`;

// The modules load at the worker's start, not at its first plan: a worker started ahead of its
// plan (prepareHashWorkers) has them ready when the walk ends.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const fs = require('node:fs');
const crypto = require('node:crypto');
const makeHasher = ${CHUNK_HASHER_SOURCE};
parentPort.once('message', ({ plan, control }) => {
  // control[0]: next chunk to take; control[1]: non-zero once the run is stopped.
  const ctrl = new Int32Array(control);
  let hasher;
  try {
    hasher = makeHasher(fs, crypto, plan);
    while (Atomics.load(ctrl, 1) === 0) {
      const chunk = Atomics.add(ctrl, 0, 1);
      if (chunk >= plan.chunkCount) break;
      const r = hasher.hash(chunk);
      parentPort.postMessage({ type: 'chunk', result: r });
    }
    parentPort.postMessage({ type: 'end' });
  } catch (err) {
    parentPort.postMessage({ type: 'error', code: err && err.code, message: err && err.message, path: err && err.path });
  } finally {
    if (hasher) hasher.close();
  }
});
`;

// eslint-disable-next-line @typescript-eslint/no-implied-eval -- the same source the workers run (see the module comment)
const makeChunkHasher = new Function(`return ${CHUNK_HASHER_SOURCE}`)() as ChunkHasherFactory;

/** Below this, hashing on the main thread alone beats starting a worker. */
export const INLINE_LIMIT = 8 * 1024 * 1024;

interface Spare {
  worker: Worker;
  /** What happened to it before a run took it (its run would never hear of it otherwise). */
  failed: Error | null;
}

/**
 * Hash workers started before their plan is known. A worker takes tens of milliseconds to start
 * (a Node environment, then node:crypto); `create` starts them before it walks the tree, so they
 * boot on the otherwise idle cores while the main thread lists the files, and `hashFiles` takes
 * them (`workers`) instead of starting its own. Close it when done: it ends the workers no run took.
 */
export class PreparedWorkers {
  private readonly spares: Spare[] = [];

  constructor(count: number) {
    for (let i = 0; i < count; i++) {
      const spare: Spare = { worker: new Worker(WORKER_SOURCE, { eval: true }), failed: null };
      spare.worker.once('error', (err) => (spare.failed ??= err));
      spare.worker.once('exit', (code) => (spare.failed ??= new Error(`hash worker exited with code ${code}`)));
      this.spares.push(spare);
    }
  }

  /** Up to `n` workers, no longer this object's to end. */
  take(n: number): Spare[] {
    return this.spares.splice(0, n);
  }

  async close(): Promise<void> {
    await Promise.all(this.take(this.spares.length).map((s) => s.worker.terminate()));
  }
}

/**
 * The digests of every piece of `files` (laid end to end), as chunks in the order they finish —
 * not necessarily stream order; each says which piece it starts at.
 */
export async function* hashFiles(files: readonly LayoutFile[], options: HashFilesOptions): AsyncGenerator<ChunkDigests> {
  const { totalLength, pieceLength, signal } = options;
  const algorithm = options.algorithm === undefined ? 'sha1' : options.algorithm;
  const merkle = options.merkle ?? false;
  if (!Number.isSafeInteger(pieceLength) || pieceLength < 1) throw new BtError('HASH_BAD_PIECE_LENGTH', 'internal', `piece length ${pieceLength} is not a positive integer`);
  if (merkle) assertAligned(files, pieceLength);
  if (totalLength <= 0) return;
  const piecesPerChunk = Math.max(1, Math.floor((options.chunkBytes ?? 4 * 1024 * 1024) / pieceLength));
  const chunkLength = Math.min(piecesPerChunk * pieceLength, totalLength);
  const plan: Plan = {
    files: files.map((f) => ({ path: f.diskPath, length: f.length, offset: f.offset })),
    totalLength,
    pieceLength,
    chunkLength,
    chunkCount: Math.ceil(totalLength / chunkLength),
    algorithm,
    merkle,
    strict: options.strict ?? false,
    thread: 0,
  };
  const threads = Math.max(1, options.threads ?? defaultThreads());
  const useMain = options.useMainThread ?? true;
  const workerCount = !useMain ? Math.min(threads, plan.chunkCount) : totalLength <= INLINE_LIMIT ? 0 : Math.min(threads - 1, plan.chunkCount - 1);
  const control = new Int32Array(new SharedArrayBuffer(8));
  const finished: ChunkResult[] = [];
  let running = workerCount;
  let failure: unknown = null;
  let wake: (() => void) | null = null;
  const notify = (): void => {
    const w = wake;
    wake = null;
    w?.();
  };
  const workers: Worker[] = [];
  const spares = options.workers?.take(workerCount) ?? [];
  for (let i = 0; i < workerCount; i++) {
    const spare = spares[i];
    const worker = spare?.worker ?? new Worker(WORKER_SOURCE, { eval: true });
    if (spare?.failed) {
      failure ??= new BtError('HASH_WORKER_FAILED', 'internal', `hash worker failed: ${spare.failed.message}`, { cause: spare.failed });
      Atomics.store(control, 1, 1);
    }
    let ended = false;
    const end = (): void => {
      if (ended) return;
      ended = true;
      running--;
      notify();
    };
    worker.on('message', (msg: { type: 'chunk'; result: ChunkResult } | { type: 'end' } | { type: 'error'; code?: string; message?: string; path?: string }) => {
      if (msg.type === 'chunk') finished.push(msg.result);
      else if (msg.type === 'end') end();
      else {
        failure ??= toError(msg);
        Atomics.store(control, 1, 1);
        end();
      }
      notify();
    });
    worker.on('error', (err) => {
      failure ??= new BtError('HASH_WORKER_FAILED', 'internal', `hash worker failed: ${err.message}`, { cause: err });
      Atomics.store(control, 1, 1);
      end();
    });
    // A worker that dies without an 'error' event (killed, out of memory) must not leave us waiting.
    worker.on('exit', (code) => {
      if (!ended) failure ??= new BtError('HASH_WORKER_FAILED', 'internal', `hash worker exited with code ${code}`);
      end();
    });
    worker.postMessage({ plan: { ...plan, thread: i + 1 }, control: control.buffer });
    workers.push(worker);
  }
  const hasher = makeChunkHasher(fs, crypto, plan);
  try {
    let mainHasWork = useMain;
    while (mainHasWork || running > 0 || finished.length > 0) {
      if (signal?.aborted) Atomics.store(control, 1, 1);
      throwIfAborted(signal);
      if (failure) throw failure;
      const ready = finished.shift();
      if (ready) {
        yield toChunk(ready, plan);
        continue;
      }
      if (mainHasWork) {
        const chunk = Atomics.add(control, 0, 1);
        if (chunk >= plan.chunkCount) {
          mainHasWork = false;
          continue;
        }
        let result: ChunkResult;
        try {
          result = hasher.hash(chunk);
        } catch (err) {
          Atomics.store(control, 1, 1);
          throw toError(err as { code?: string; message?: string; path?: string });
        }
        yield toChunk(result, plan);
        // Let worker messages, timers and signals in between two chunks of our own.
        if (workerCount > 0 || signal) await new Promise<void>((resolve) => setImmediate(resolve));
        continue;
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
        signal?.addEventListener('abort', notify, { once: true });
      });
      signal?.removeEventListener('abort', notify);
    }
    // The last workers may fail and end between two turns of the loop: their error still counts.
    if (failure) throw failure;
    throwIfAborted(signal);
  } finally {
    Atomics.store(control, 1, 1);
    hasher.close();
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

function toError(e: { code?: string; message?: string; path?: string }): BtError {
  return fromSystemError(Object.assign(new Error(e.message ?? 'read failed'), { code: e.code ?? 'EIO' }), e.path ?? 'hashing');
}

/** BEP 52 hashing needs 16 KiB-aligned pieces and every file of data starting on a piece boundary. */
function assertAligned(files: readonly LayoutFile[], pieceLength: number): void {
  if (pieceLength < 16 * 1024 || (pieceLength & (pieceLength - 1)) !== 0) {
    throw new BtError('HASH_UNALIGNED', 'internal', `merkle hashing needs a power-of-two piece length of at least 16 KiB, not ${pieceLength}`);
  }
  for (const f of files) {
    if (f.diskPath !== null && f.length > 0 && f.offset % pieceLength !== 0) {
      throw new BtError('HASH_UNALIGNED', 'internal', `merkle hashing needs every file on a piece boundary; \`${f.diskPath}\` starts at ${f.offset}`);
    }
  }
}

function toChunk(r: ChunkResult, plan: Plan): ChunkDigests {
  const size = plan.algorithm === null ? 0 : plan.algorithm === 'sha1' ? 20 : 32;
  const count = Math.ceil(r.bytes / plan.pieceLength);
  const all = Buffer.from(r.digests.buffer, r.digests.byteOffset, r.digests.byteLength);
  const digests: Buffer[] = [];
  if (size > 0) for (let i = 0; i < count; i++) digests.push(all.subarray(i * size, (i + 1) * size));
  const tree = Buffer.from(r.merkle.buffer, r.merkle.byteOffset, r.merkle.byteLength);
  const merkle: Buffer[] = [];
  if (plan.merkle) for (let i = 0; i < count; i++) merkle.push(tree.subarray(i * 32, (i + 1) * 32));
  const readable: boolean[] = new Array<boolean>(count).fill(true);
  for (const [hs, he] of r.holes) {
    if (he <= hs) continue;
    const from = Math.floor(hs / plan.pieceLength);
    const to = Math.min(count - 1, Math.floor((he - 1) / plan.pieceLength));
    for (let p = from; p <= to; p++) readable[p] = false;
  }
  return { firstPiece: (r.chunk * plan.chunkLength) / plan.pieceLength, digests, merkle, readable, bytes: r.bytes, thread: r.thread };
}
