/**
 * Check data on disk against a torrent, piece by piece on every core, and say per file what is
 * wrong: missing, wrong size, or which pieces fail their hash.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { hashFiles } from '../hash/file-hasher.js';
import { type LayoutFile, piecesOfFile } from '../storage/layout.js';
import { pieceHash } from './parse.js';
import type { Metainfo } from './types.js';

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
}

export interface VerifyReport {
  ok: boolean;
  pieceCount: number;
  goodPieces: number;
  /** Every failed piece index, sorted. */
  badPieces: number[];
  files: FileReport[];
  bytesChecked: number;
}

export interface VerifyOptions {
  /** Directory or file holding the content: the file itself for a single-file torrent, the top directory for a multi-file one. */
  contentPath: string;
  threads?: number;
  signal?: AbortSignal;
  onProgress?: (doneBytes: number, totalBytes: number) => void;
}

/** Disk path of each file of `meta` under `contentPath` (null for padding files). */
export function diskLayout(meta: Metainfo, contentPath: string): LayoutFile[] {
  return meta.files.map((f) => ({
    diskPath: f.padding ? null : meta.multiFile ? join(contentPath, ...f.path) : contentPath,
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
  const bad: number[] = [];
  let done = 0;
  for await (const chunk of hashFiles(layout, {
    totalLength: meta.totalLength,
    pieceLength: meta.pieceLength,
    ...(options.threads !== undefined ? { threads: options.threads } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  })) {
    chunk.digests.forEach((digest, i) => {
      const index = chunk.firstPiece + i;
      if (!chunk.readable[i] || !digest.equals(pieceHash(meta, index))) bad.push(index);
    });
    done += chunk.bytes;
    options.onProgress?.(done, meta.totalLength);
  }
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
    };
  });
  const ok = bad.length === 0 && files.every((f) => f.status === 'complete' || f.status === 'padding');
  return { ok, pieceCount: meta.pieceCount, goodPieces: meta.pieceCount - bad.length, badPieces: bad, files, bytesChecked: done };
}
