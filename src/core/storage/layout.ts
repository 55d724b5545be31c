/**
 * Where the bytes of the piece stream live on disk: the torrent's files laid end to end (BEP 3),
 * so one piece may span several files and a file may start mid-piece.
 */
export interface LayoutFile {
  /** Absolute path on disk, or null for a BEP 47 padding file (zeros, never stored). */
  diskPath: string | null;
  length: number;
  /** Offset of the file's first byte in the piece stream. */
  offset: number;
  /** BEP 47 attribute `x`: created with the execute bits (0o755 before the umask, not 0o644). */
  executable?: boolean;
}

export interface FileSpan {
  fileIndex: number;
  /** Offset inside the file. */
  fileOffset: number;
  /** Offset inside the requested range. */
  rangeOffset: number;
  length: number;
}

/** The parts of files that hold stream bytes `[start, start + length)`, in order. */
export function spansOf(files: readonly LayoutFile[], start: number, length: number): FileSpan[] {
  const end = start + length;
  const out: FileSpan[] = [];
  // Binary search for the first file whose end is past `start` (files are sorted by offset).
  let lo = 0;
  let hi = files.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const f = files[mid]!;
    if (f.offset + f.length <= start) lo = mid + 1;
    else hi = mid;
  }
  for (let i = lo; i < files.length; i++) {
    const f = files[i]!;
    if (f.offset >= end) break;
    if (f.length === 0) continue;
    const s = Math.max(start, f.offset);
    const e = Math.min(end, f.offset + f.length);
    if (e > s) out.push({ fileIndex: i, fileOffset: s - f.offset, rangeOffset: s - start, length: e - s });
  }
  return out;
}

/** The pieces that hold any byte of file `index` (empty for an empty file). */
export function piecesOfFile(file: Pick<LayoutFile, 'offset' | 'length'>, pieceLength: number): [number, number] | null {
  if (file.length === 0) return null;
  return [Math.floor(file.offset / pieceLength), Math.floor((file.offset + file.length - 1) / pieceLength)];
}
