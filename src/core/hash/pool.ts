/**
 * A pool of worker threads that hash pieces with node:crypto (SHA-1 for v1 pieces; SHA-256 for
 * v2 later), so hashing uses every core while the main thread keeps the disk busy.
 *
 * Buffers are *transferred* to a worker and back (zero-copy), so the caller can recycle a fixed
 * set of buffers and memory stays bounded whatever the size of the data.
 *
 * The worker is an inline CommonJS script (`eval: true`): no separate file to locate at run time,
 * which works the same from dist/ and from the TypeScript sources under test.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { BtError } from '../errors.js';

export type PieceHashAlgorithm = 'sha1' | 'sha256';

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
parentPort.on('message', (job) => {
  const view = Buffer.from(job.buffer, 0, job.length);
  const size = job.algorithm === 'sha1' ? 20 : 32;
  const count = Math.ceil(job.length / job.pieceLength);
  const digests = Buffer.allocUnsafe(count * size);
  for (let i = 0; i < count; i++) {
    const start = i * job.pieceLength;
    createHash(job.algorithm).update(view.subarray(start, Math.min(start + job.pieceLength, job.length))).digest().copy(digests, i * size);
  }
  parentPort.postMessage({ id: job.id, buffer: job.buffer, digests }, [job.buffer]);
});
`;

interface Pending {
  resolve: (r: HashResult) => void;
  reject: (e: unknown) => void;
}

export interface HashResult {
  /** The buffer handed in, returned to the caller for reuse. */
  buffer: ArrayBuffer;
  /** Concatenated digests, one per piece in the buffer. */
  digests: Buffer;
}

interface Job {
  id: number;
  buffer: ArrayBuffer;
  length: number;
  pieceLength: number;
  algorithm: PieceHashAlgorithm;
}

export class HashPool {
  private readonly workers: Worker[] = [];
  private readonly idle: Worker[] = [];
  private readonly queue: Job[] = [];
  private readonly pending = new Map<number, Pending>();
  private readonly busy = new Map<Worker, number>();
  private nextId = 0;
  private closed = false;
  private failure: unknown;

  /**
   * `lazy`: the threads start at the first `hash` (a download from a magnet link may never need
   * them, and a thread's start costs tens of milliseconds before the first connection).
   */
  constructor(
    readonly threads: number = defaultThreads(),
    options: { lazy?: boolean } = {},
  ) {
    if (!options.lazy) this.start();
  }

  private start(): void {
    for (let i = 0; i < this.threads; i++) {
      const w = new Worker(WORKER_SOURCE, { eval: true });
      w.on('message', (msg: { id: number; buffer: ArrayBuffer; digests: Uint8Array }) => this.onDone(w, msg));
      w.on('error', (err) => this.onFail(w, err));
      // A worker that dies without an 'error' event (killed, out of memory) must not leave its job waiting forever.
      w.on('exit', (code) => {
        if (!this.closed) this.onFail(w, new Error(`hash worker exited with code ${code}`));
      });
      w.unref();
      this.workers.push(w);
      this.idle.push(w);
    }
  }

  /** Workers with nothing to do right now. */
  get idleCount(): number {
    return this.idle.length - this.queue.length;
  }

  /** Hash `length` bytes of `buffer` as consecutive pieces of `pieceLength` (the last may be short). */
  hash(buffer: ArrayBuffer, length: number, pieceLength: number, algorithm: PieceHashAlgorithm = 'sha1'): Promise<HashResult> {
    if (this.closed) return Promise.reject(new BtError('HASH_POOL_CLOSED', 'internal', 'hash pool is closed'));
    if (this.failure) return Promise.reject(this.failure);
    if (this.workers.length === 0) this.start();
    const id = this.nextId++;
    return new Promise<HashResult>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.queue.push({ id, buffer, length, pieceLength, algorithm });
      this.pump();
    });
  }

  private pump(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const w = this.idle.pop()!;
      const job = this.queue.shift()!;
      this.busy.set(w, job.id);
      w.ref();
      w.postMessage(job, [job.buffer]);
    }
  }

  private onDone(w: Worker, msg: { id: number; buffer: ArrayBuffer; digests: Uint8Array }): void {
    this.busy.delete(w);
    w.unref();
    this.idle.push(w);
    const p = this.pending.get(msg.id);
    this.pending.delete(msg.id);
    p?.resolve({ buffer: msg.buffer, digests: Buffer.from(msg.digests.buffer, msg.digests.byteOffset, msg.digests.byteLength) });
    this.pump();
  }

  private onFail(w: Worker, err: unknown): void {
    this.failure = new BtError('HASH_WORKER_FAILED', 'internal', `hash worker failed: ${(err as Error)?.message ?? err}`, { cause: err });
    const id = this.busy.get(w);
    if (id !== undefined) {
      this.pending.get(id)?.reject(this.failure);
      this.pending.delete(id);
    }
    for (const [, p] of this.pending) p.reject(this.failure);
    this.pending.clear();
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

export function defaultThreads(): number {
  return Math.max(1, availableParallelism());
}
