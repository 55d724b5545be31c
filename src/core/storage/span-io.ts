/** Reading the piece stream across the files of a torrent, shared by the piece stores. */
import type { FileHandle } from 'node:fs/promises';
import { fromSystemError } from '../errors.js';
import { type LayoutFile, spansOf } from './layout.js';

/**
 * Read piece-stream bytes `[start, start + into.length)` from the files that hold them, all spans
 * at once; padding files read as zeros. A missing or short file throws (with its path): stores
 * that serve peers must never hand out bytes they do not have.
 */
export async function readSpans(
  files: readonly LayoutFile[],
  start: number,
  into: Uint8Array,
  handleFor: (fileIndex: number) => Promise<FileHandle>,
): Promise<void> {
  await Promise.all(
    spansOf(files, start, into.length).map(async (span) => {
      const file = files[span.fileIndex]!;
      const target = into.subarray(span.rangeOffset, span.rangeOffset + span.length);
      if (file.diskPath === null) {
        target.fill(0);
        return;
      }
      const h = await handleFor(span.fileIndex);
      let done = 0;
      try {
        while (done < span.length) {
          const { bytesRead } = await h.read(target, done, span.length - done, span.fileOffset + done);
          if (bytesRead === 0) throw Object.assign(new Error('file is shorter than the torrent says'), { code: 'ESHORT' });
          done += bytesRead;
        }
      } catch (err) {
        throw fromSystemError(err, file.diskPath);
      }
    }),
  );
}
