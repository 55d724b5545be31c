/**
 * BEP 19: a piece (or any range of the piece stream) is served by the files it covers, so one
 * piece that spans files becomes one HTTP range request per file, in stream order. BEP 47 padding
 * files are zeros that exist only in the piece stream: they are filled in here and never
 * requested (a server has no such file). Pure: no I/O.
 */
import { spansOf, type LayoutFile } from '../storage/layout.js';

export interface PlanFile {
  length: number;
  /** Offset of the file's first byte in the piece stream. */
  offset: number;
  /** BEP 47 padding file. */
  padding: boolean;
}

/** One part of a range: bytes from one file over HTTP, or zeros for a padding file. */
export type RangePart =
  | { kind: 'http'; fileIndex: number; fileOffset: number; rangeOffset: number; length: number }
  | { kind: 'zeros'; fileIndex: number; rangeOffset: number; length: number };

/** The stream as `spansOf` takes it; built once per torrent (files are sorted by offset). */
export function planLayout(files: readonly PlanFile[]): LayoutFile[] {
  return files.map((f) => ({ diskPath: null, length: f.length, offset: f.offset }));
}

/**
 * The parts of stream bytes `[start, start + length)`. Adjacent parts are never merged across
 * files: each file is its own URL.
 */
export function planRange(files: readonly PlanFile[], layout: readonly LayoutFile[], start: number, length: number): RangePart[] {
  return spansOf(layout, start, length).map((s): RangePart =>
    files[s.fileIndex]!.padding
      ? { kind: 'zeros', fileIndex: s.fileIndex, rangeOffset: s.rangeOffset, length: s.length }
      : { kind: 'http', fileIndex: s.fileIndex, fileOffset: s.fileOffset, rangeOffset: s.rangeOffset, length: s.length },
  );
}

/** The piece stream range of piece `index`: the last piece is shorter. */
export function pieceRange(index: number, pieceLength: number, totalLength: number): { start: number; length: number } {
  const start = index * pieceLength;
  if (!Number.isInteger(index) || index < 0 || start >= totalLength) throw new RangeError(`piece ${index} is outside the torrent`);
  return { start, length: Math.min(pieceLength, totalLength - start) };
}
