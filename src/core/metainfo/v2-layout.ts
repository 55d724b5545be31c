/**
 * The piece stream of a v2 or hybrid torrent (BEP 52, with BEP 47 padding files): files in file-tree
 * order, each starting on a piece boundary.
 *
 * - Order: a BEP 52 `file tree` is a dictionary per directory, and dictionary keys are sorted by
 *   their bytes, so the files come component by component in byte order (`a` and everything under
 *   it before `a.txt`) — not in the order of whole path strings that v1 creators use (`a.txt`
 *   before `a/b`, since `.` < `/`).
 * - Padding: a hybrid's v1 `files` list must describe the same aligned stream, so a padding file
 *   (`attr` `p`, path `.pad/<length>`, zeros never stored) follows every file that does not end on
 *   a piece boundary. libtorrent 2.0.8's create_torrent also pads the tail of the *last* file when
 *   the torrent has more than one file (checked in test/interop/v2-files.test.ts), and never pads a
 *   torrent of one file; we write the same, so the info dictionary is the same bytes.
 */

import { sortByUtf8 } from '../fs/utf8-order.js';

export interface StreamFile {
  /** Components below the torrent name; `['.pad', '<n>']` for padding. */
  path: string[];
  length: number;
  offset: number;
  padding: boolean;
}

/** Compare two paths component by component, each by its UTF-8 bytes (file-tree order). */
export function compareTreePaths(a: readonly string[], b: readonly string[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const c = Buffer.compare(Buffer.from(a[i]!, 'utf8'), Buffer.from(b[i]!, 'utf8'));
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

/**
 * `files` sorted into file-tree order: joining the components with NUL (a byte no name holds, and
 * below every byte a name holds) makes the byte order of whole keys the order of
 * `compareTreePaths`, with one key per file rather than a Buffer per component per comparison.
 */
export function treeOrder<T extends { path: readonly string[] }>(files: readonly T[]): T[] {
  return sortByUtf8(files, (f) => f.path.join('\0'));
}

/**
 * Lay `files` (already in tree order) end to end with padding after each that does not end on a
 * piece boundary; `tailPad` also pads the last one (libtorrent's hybrid rule for several files).
 */
export function alignedStream(files: readonly { path: string[]; length: number }[], pieceLength: number, options: { tailPad: boolean }): StreamFile[] {
  const out: StreamFile[] = [];
  let offset = 0;
  files.forEach((f, i) => {
    out.push({ path: f.path, length: f.length, offset, padding: false });
    offset += f.length;
    const pad = (pieceLength - (offset % pieceLength)) % pieceLength;
    if (pad > 0 && (i < files.length - 1 || options.tailPad)) {
      out.push({ path: ['.pad', String(pad)], length: pad, offset, padding: true });
      offset += pad;
    }
  });
  return out;
}

/** The first piece of each file in an aligned stream (files of data only, padding skipped). */
export const firstPieceOf = (f: Pick<StreamFile, 'offset'>, pieceLength: number): number => Math.floor(f.offset / pieceLength);
