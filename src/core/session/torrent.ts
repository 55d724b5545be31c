/**
 * The parts of a session that exist once a torrent's metainfo is known: the piece geometry, the
 * picker, the assembler and its verifier (the v1 SHA-1 list, the v2 merkle trees of BEP 52, or both
 * for a hybrid: v2-verifier.ts), the uploader, the persistence of the resume state, and the byte counts of
 * the selection. A session from a .torrent builds them at once; a session from a magnet link
 * when the metadata arrives (BEP 9).
 */
import type { BtError } from '../errors.js';
import type { HashPool } from '../hash/pool.js';
import type { Metainfo } from '../metainfo/types.js';
import { PieceGeometry } from '../pieces/blocks.js';
import { PiecePicker } from '../pieces/picker.js';
import type { PieceStore } from '../storage/store.js';
import { type AssemblerHooks, PieceAssembler, type PieceVerifier } from './assembler.js';
import { PieceHasher } from './hasher.js';
import type { SessionMetainfo, TorrentSetup } from './options.js';
import { Persistence } from './persistence.js';
import type { TokenBucket } from './rate.js';
import type { SessionEvent } from './types.js';
import { type UploadPeer, Uploader } from './uploader.js';
import { HybridVerifier, V2PieceVerifier, type V2Trees } from './v2-verifier.js';
import type { WebSeedSender } from './webseed-source.js';

export interface TorrentDeps<P> {
  infoHashHex: string;
  rng: () => number;
  now: () => number;
  sequential: boolean;
  hashPool: HashPool | null;
  upBucket: TokenBucket;
  saveEveryMs: number | undefined;
  /** The session stopping: uploads end. */
  signal: AbortSignal;
  /** Blocks come from peers (`P`) and web seeds. */
  assembler: AssemblerHooks<P | WebSeedSender>;
  /** The merkle trees of a v2 or hybrid torrent (v2-verifier.ts), null for v1. */
  v2: V2Trees | null;
  onSent(peer: P, bytes: number): void;
  onReadError(err: BtError): void;
}

/** How the disk was found at start (the `started` event's `resume`). */
export type StartedResume = Extract<SessionEvent, { type: 'started' }>['resume'];

export class Torrent<P extends UploadPeer> {
  readonly meta: SessionMetainfo;
  readonly store: PieceStore;
  readonly geometry: PieceGeometry;
  readonly picker: PiecePicker;
  /** Checks a whole piece: SHA-1 (v1), merkle (v2), or both (hybrid). */
  readonly verifier: PieceVerifier;
  /** The merkle trees of a v2 or hybrid torrent; null for v1. */
  readonly v2: V2Trees | null;
  readonly assembler: PieceAssembler<P | WebSeedSender>;
  readonly uploader: Uploader<P>;
  readonly persistence: Persistence;
  readonly selection: readonly boolean[] | undefined;
  /** Bytes of the selected pieces, and of those we have. */
  readonly wantedBytes: number;
  haveWantedBytes = 0;

  constructor(setup: TorrentSetup, deps: TorrentDeps<P>) {
    const meta = (this.meta = setup.metainfo);
    this.store = setup.store;
    this.selection = setup.selection;
    const geometry = (this.geometry = new PieceGeometry(meta.totalLength, meta.pieceLength));
    const priorities = piecePriorities(meta, setup.selection);
    const picker = (this.picker = new PiecePicker({ pieceCount: meta.pieceCount, rng: deps.rng, sequential: deps.sequential, priorities }));
    this.v2 = deps.v2;
    this.verifier = pieceVerifier(meta, deps.v2, deps.hashPool);
    let wanted = 0;
    for (let i = 0; i < meta.pieceCount; i++) if (priorities[i]! > 0) wanted += geometry.pieceSize(i);
    this.wantedBytes = wanted;
    this.assembler = new PieceAssembler<P | WebSeedSender>({
      geometry,
      pieceLength: meta.pieceLength,
      picker,
      verifier: this.verifier,
      store: setup.store,
      padding: meta.files.filter((f) => f.padding && f.length > 0).map((f) => ({ offset: f.offset, length: f.length })),
      hooks: deps.assembler,
    });
    this.uploader = new Uploader<P>({
      store: setup.store,
      bucket: deps.upBucket,
      hasPiece: (i) => picker.hasPiece(i),
      pieceSize: (i) => geometry.pieceSize(i),
      onSent: deps.onSent,
      onReadError: deps.onReadError,
      signal: deps.signal,
    });
    this.persistence = new Persistence({
      path: setup.resumePath,
      id: { infoHash: deps.infoHashHex, pieceLength: meta.pieceLength, totalLength: meta.totalLength, pieceCount: meta.pieceCount },
      store: setup.store,
      have: () => picker.haveBitfield(),
      now: deps.now,
      everyMs: deps.saveEveryMs,
    });
  }

  /** Every selected piece is had. */
  get complete(): boolean {
    return this.picker.wantedMissing === 0;
  }

  /**
   * Look at the disk — the resume state, or a hash of what is there — and prepare the files.
   * `trusted`: the caller just checked every piece (seed): nothing is read.
   */
  async prepare(options: { trusted: boolean; recheck: boolean; signal?: AbortSignal }): Promise<StartedResume> {
    if (options.trusted) {
      for (let i = 0; i < this.meta.pieceCount; i++) this.markHave(i);
      return { mode: 'fast', checked: 0, recovered: 0, note: null };
    }
    const restored = await this.persistence.restore({
      recheck: options.recheck,
      check: async (index, data) => (await this.verifier.check(index, data)).ok,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    for (const i of restored.have.setIndices()) this.markHave(i);
    await this.store.prepare(this.selection ?? this.meta.files.map(() => true));
    return { mode: restored.mode, checked: restored.checked, recovered: restored.recovered, note: restored.note };
  }

  /** A piece found on disk at start. */
  private markHave(index: number): void {
    if (this.picker.hasPiece(index)) return;
    this.assembler.markHave(index);
    this.counted(index);
  }

  /** Piece `index` is had now (found, or verified): count its bytes when selected. */
  counted(index: number): void {
    if (this.picker.priorityOf(index) > 0) this.haveWantedBytes += this.geometry.pieceSize(index);
  }
}

/**
 * The check of a torrent's pieces: SHA-1 for v1; the merkle trees for v2; for a hybrid both where
 * the file's piece hashes are known (a hybrid from a magnet fetched over v1 has no piece layers:
 * its SHA-1 list alone is the truth there, as for any v1 torrent).
 */
function pieceVerifier(meta: SessionMetainfo, v2: V2Trees | null, pool: HashPool | null): PieceVerifier {
  const v1 = meta.infoHash.v1 ? new PieceHasher(meta.pieces, meta.pieceLength, pool) : null;
  if (!v2) return v1!;
  const merkle = new V2PieceVerifier(v2, pool);
  if (!v1) return merkle;
  return new HybridVerifier(v1, { check: (i, data) => (v2.checkable(i) ? merkle.check(i, data) : Promise.resolve({ ok: true, data })) });
}

/** Piece priorities from a file selection: a piece is wanted when any selected, non-empty file has a byte in it. */
export function piecePriorities(meta: Pick<Metainfo, 'pieceLength' | 'pieceCount' | 'files'>, selection?: readonly boolean[]): Uint8Array {
  const out = new Uint8Array(meta.pieceCount);
  if (!selection) return out.fill(1);
  meta.files.forEach((f, i) => {
    if (!selection[i] || f.length === 0 || f.padding) return;
    const first = Math.floor(f.offset / meta.pieceLength);
    const last = Math.floor((f.offset + f.length - 1) / meta.pieceLength);
    for (let p = first; p <= last; p++) out[p] = 1;
  });
  return out;
}
