/**
 * Check data on disk against a torrent, piece by piece on every core, and say per file what is
 * wrong: missing, wrong size, or which pieces fail their hash.
 *
 * v1 pieces are checked against their SHA-1. v2 and hybrid torrents (BEP 52) are also checked
 * file by file against their merkle trees, in the same read: a piece against its file's piece
 * layer, a file of one piece against its `pieces root`; a file whose layer the torrent lacks is
 * judged by folding its piece hashes to the root (then all its pieces fail together, since
 * nothing says which one differs). A hybrid piece fails when either hash says so.
 */
import { stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { hashFiles } from '../hash/file-hasher.js';
import { rootFromLayer } from '../metainfo/merkle.js';
import { pieceHash } from '../metainfo/parse.js';
import type { Metainfo } from '../metainfo/types.js';
import { type LayoutFile, piecesOfFile } from './layout.js';

export type FileStatus = 'complete' | 'missing' | 'wrong-size' | 'bad-pieces' | 'padding';

export interface FileReport {
  index: number;
  /** Path as in the torrent, with `/`. */
  path: string;
  diskPath: string | null;
  length: number;
  /** Size on disk, null when missing. */
  actualLength: number | null;
  status: FileStatus;
  /** Pieces touching this file that failed (or could not be read), as sorted indices. */
  badPieces: number[];
  /**
   * v2 and hybrid: the same pieces counted from the file's first piece (each file starts on a
   * piece boundary there, so "piece 3 of this file" is what a v2 peer would request); null for v1.
   */
  filePieces: number[] | null;
}

export interface VerifyReport {
  ok: boolean;
  pieceCount: number;
  goodPieces: number;
  /** Every failed piece index, sorted: pieces that did not match, and pieces with bytes missing on disk. */
  badPieces: number[];
  files: FileReport[];
  /** Bytes read and hashed: those of the pieces whose bytes are all on disk (missing ones are not read). */
  bytesChecked: number;
}

export interface VerifyOptions {
  /** Directory or file holding the content: the file itself for a single-file torrent, the top directory for a multi-file one. */
  contentPath: string;
  threads?: number;
  signal?: AbortSignal;
  /** Bytes hashed so far, of those present on disk (`totalBytes`: missing pieces are not read). */
  onProgress?: (doneBytes: number, totalBytes: number) => void;
  /** The piece hasher (default `hashFiles`); tests count what it is asked to read. */
  hasher?: typeof hashFiles;
}

/**
 * Disk path of each file of `meta` under `contentPath` (null for padding files). The components
 * are joined first rather than spread into `join`: a path may be longer than a call's arguments.
 */
export function diskLayout(meta: Metainfo, contentPath: string): LayoutFile[] {
  return meta.files.map((f) => ({
    diskPath: f.padding ? null : meta.multiFile ? join(contentPath, f.path.join(sep)) : contentPath,
    length: f.length,
    offset: f.offset,
  }));
}

export async function verifyData(meta: Metainfo, options: VerifyOptions): Promise<VerifyReport> {
  const layout = diskLayout(meta, options.contentPath);
  const actual = await Promise.all(
    layout.map(async (f) => {
      if (f.diskPath === null) return null;
      try {
        const s = await stat(f.diskPath);
        return s.isFile() ? s.size : null;
      } catch {
        return null;
      }
    }),
  );
  const absent = absentPieces(meta, layout, actual);
  const bad: number[] = [];
  for (let p = 0; p < absent.length; p++) if (absent[p]) bad.push(p);
  const runs = presentRuns(absent);
  const runBytes = (r: Run) => Math.min(r.end * meta.pieceLength, meta.totalLength) - r.first * meta.pieceLength;
  const toHash = runs.reduce((n, r) => n + runBytes(r), 0);
  const hash = options.hasher ?? hashFiles;
  const merkle = meta.version === 'v2' || meta.version === 'hybrid' ? new MerkleJudge(meta) : null;
  let done = 0;
  for (const run of runs) {
    const start = run.first * meta.pieceLength;
    for await (const chunk of hash(runLayout(layout, start, start + runBytes(run)), {
      totalLength: runBytes(run),
      pieceLength: meta.pieceLength,
      ...(merkle ? { merkle: true, algorithm: meta.version === 'hybrid' ? ('sha1' as const) : null } : {}),
      ...(options.threads !== undefined ? { threads: options.threads } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    })) {
      chunk.readable.forEach((readable, i) => {
        const index = run.first + chunk.firstPiece + i;
        let ok = readable;
        if (ok && meta.version !== 'v2') ok = chunk.digests[i]!.equals(pieceHash(meta, index));
        if (ok && merkle) ok = merkle.piece(index, chunk.merkle[i]!);
        if (!ok) bad.push(index);
      });
      done += chunk.bytes;
      options.onProgress?.(done, toHash);
    }
  }
  if (merkle) bad.push(...merkle.unprovenPieces());
  // Chunks finish in any order across threads; report pieces in order.
  bad.sort((a, b) => a - b);
  const badSet = new Set(bad);
  const files: FileReport[] = meta.files.map((f, index) => {
    const l = layout[index]!;
    const range = piecesOfFile(f, meta.pieceLength);
    const fileBad: number[] = [];
    if (range) for (let p = range[0]; p <= range[1]; p++) if (badSet.has(p)) fileBad.push(p);
    const actualLength = actual[index] ?? null;
    let status: FileStatus;
    if (f.padding) status = 'padding';
    else if (actualLength === null) status = 'missing';
    else if (actualLength !== f.length) status = 'wrong-size';
    else if (fileBad.length > 0) status = 'bad-pieces';
    else status = 'complete';
    return {
      index,
      path: meta.multiFile ? [meta.name, ...f.path].join('/') : meta.name,
      diskPath: l.diskPath,
      length: f.length,
      actualLength,
      status,
      badPieces: fileBad,
      filePieces: merkle && range ? fileBad.map((p) => p - range[0]) : null,
    };
  });
  const ok = bad.length === 0 && files.every((f) => f.status === 'complete' || f.status === 'padding');
  return { ok, pieceCount: meta.pieceCount, goodPieces: meta.pieceCount - bad.length, badPieces: bad, files, bytesChecked: done };
}

/**
 * Pieces with bytes missing on disk (a file absent, or shorter than the torrent says), judged from
 * the sizes alone: such a piece cannot match, and reading it was the whole cost of a verify run
 * against a large torrent with little or no data (64 GiB declared against an empty directory
 * took 29 s, issue 15). Work is bounded by the pieces and files, not by the bytes.
 */
function absentPieces(meta: Metainfo, layout: readonly LayoutFile[], actual: readonly (number | null)[]): Uint8Array {
  const absent = new Uint8Array(meta.pieceCount);
  layout.forEach((f, i) => {
    if (f.diskPath === null || f.length === 0) return;
    const have = Math.min(actual[i] ?? 0, f.length);
    if (have === f.length) return;
    absent.fill(1, Math.floor((f.offset + have) / meta.pieceLength), Math.floor((f.offset + f.length - 1) / meta.pieceLength) + 1);
  });
  return absent;
}

/** A run of pieces `[first, end)` whose bytes are all on disk. */
interface Run {
  first: number;
  end: number;
}

function presentRuns(absent: Uint8Array): Run[] {
  const runs: Run[] = [];
  for (let p = 0; p < absent.length; ) {
    if (absent[p]) {
      p++;
      continue;
    }
    const first = p;
    while (p < absent.length && !absent[p]) p++;
    runs.push({ first, end: p });
  }
  return runs;
}

/**
 * The files under stream bytes `[start, end)`, as a layout of their own whose stream starts at
 * `start`. Offsets stay what they mean (where the file's first byte falls in this stream), so a
 * file that began before the run has a negative one and is still read at the right positions.
 */
function runLayout(layout: readonly LayoutFile[], start: number, end: number): LayoutFile[] {
  // The first file that ends after `start` (files are laid end to end, in order).
  let lo = 0;
  let hi = layout.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (layout[mid]!.offset + layout[mid]!.length <= start) lo = mid + 1;
    else hi = mid;
  }
  const out: LayoutFile[] = [];
  for (let i = lo; i < layout.length && layout[i]!.offset < end; i++) out.push({ ...layout[i]!, offset: layout[i]!.offset - start });
  return out;
}

/**
 * Judges pieces of a v2 or hybrid torrent against the merkle trees, as they are hashed (in any
 * order). Every file of data starts on a piece boundary, so each piece belongs to one file.
 */
class MerkleJudge {
  private readonly owner: Int32Array;
  /** Files without a piece layer: their piece hashes so far, folded to the root at the end. */
  private readonly pending = new Map<number, Buffer[]>();

  constructor(private readonly meta: Metainfo) {
    this.owner = new Int32Array(meta.pieceCount).fill(-1);
    meta.files.forEach((f, i) => {
      if (f.padding || f.length === 0) return;
      const first = Math.floor(f.offset / meta.pieceLength);
      this.owner.fill(i, first, first + Math.ceil(f.length / meta.pieceLength));
    });
  }

  /** Whether piece `index` matches (true, for now, when only the whole file's root can say). */
  piece(index: number, hash: Buffer): boolean {
    const fi = this.owner[index]!;
    if (fi < 0) return true;
    const f = this.meta.files[fi]!;
    if (!f.piecesRoot) return false;
    const first = Math.floor(f.offset / this.meta.pieceLength);
    const count = Math.ceil(f.length / this.meta.pieceLength);
    if (count === 1) return hash.equals(f.piecesRoot);
    if (f.pieceLayer) return hash.equals(f.pieceLayer.subarray((index - first) * 32, (index - first + 1) * 32));
    let hashes = this.pending.get(fi);
    if (!hashes) this.pending.set(fi, (hashes = new Array<Buffer>(count)));
    hashes[index - first] = Buffer.from(hash);
    return true;
  }

  /** Pieces of layer-less files whose hashes, all present, do not fold to the file's root. */
  unprovenPieces(): number[] {
    const out: number[] = [];
    for (const [fi, hashes] of this.pending) {
      const f = this.meta.files[fi]!;
      // A piece missing here was unreadable or absent, and is already reported bad on its own.
      let whole = true;
      for (let i = 0; i < hashes.length; i++) if (!hashes[i]) whole = false; // `some` would skip the holes
      if (!whole) continue;
      if (rootFromLayer(hashes, this.meta.pieceLength).equals(f.piecesRoot!)) continue;
      const first = Math.floor(f.offset / this.meta.pieceLength);
      for (let i = 0; i < hashes.length; i++) out.push(first + i);
    }
    return out;
  }
}
