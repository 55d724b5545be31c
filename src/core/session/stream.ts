/**
 * One file of a torrent as an in-order byte stream while it downloads (for `--stdout`): waits
 * for each piece holding the file's bytes to be verified, then reads that part back from the
 * store. With the session in sequential mode the wait is short and the stream keeps pace with
 * the download.
 */
import type { Metainfo } from '../metainfo/types.js';
import type { PieceStore } from '../storage/store.js';
import type { Session } from './session.js';

export interface FileStreamOptions {
  signal?: AbortSignal;
}

export async function* streamFile(
  session: Pick<Session, 'waitForPiece'>,
  store: Pick<PieceStore, 'read'>,
  meta: Pick<Metainfo, 'files' | 'pieceLength'>,
  fileIndex: number,
  options: FileStreamOptions = {},
): AsyncGenerator<Uint8Array, void, undefined> {
  const file = meta.files[fileIndex];
  if (!file) throw new RangeError(`no file ${fileIndex}`);
  if (file.length === 0) return;
  const end = file.offset + file.length;
  const pl = meta.pieceLength;
  for (let piece = Math.floor(file.offset / pl); piece * pl < end; piece++) {
    await session.waitForPiece(piece, options.signal);
    const from = Math.max(file.offset, piece * pl);
    const to = Math.min(end, (piece + 1) * pl);
    yield await store.read(piece, from - piece * pl, to - from);
  }
}
