/**
 * Reads the piece stream from files on disk (a `PieceReader` for hashing): sequential reads with
 * one file handle open at a time, missing or short files reported as holes instead of errors, so
 * `verify` can say which pieces are missing and `create` can fail with a clear message.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { fromSystemError } from '../errors.js';
import type { Hole, PieceReader } from '../hash/pieces.js';
import { type LayoutFile, spansOf } from './layout.js';

export class FileStreamReader implements PieceReader {
  private current: { index: number; handle: FileHandle | null } | null = null;

  constructor(
    private readonly files: readonly LayoutFile[],
    /** When true, a missing file or a read error throws instead of becoming a hole. */
    private readonly strict = false,
  ) {}

  async read(into: Uint8Array, streamOffset: number): Promise<Hole[]> {
    const holes: Hole[] = [];
    for (const span of spansOf(this.files, streamOffset, into.length)) {
      const file = this.files[span.fileIndex]!;
      const target = into.subarray(span.rangeOffset, span.rangeOffset + span.length);
      if (file.diskPath === null) {
        target.fill(0); // BEP 47 padding: zeros by definition
        continue;
      }
      const handle = await this.handleFor(span.fileIndex);
      if (!handle) {
        holes.push([span.rangeOffset, span.rangeOffset + span.length]);
        continue;
      }
      let done = 0;
      while (done < span.length) {
        let bytesRead: number;
        try {
          ({ bytesRead } = await handle.read(target, done, span.length - done, span.fileOffset + done));
        } catch (err) {
          // Unreadable (EISDIR for a directory in the file's place, EIO…): a hole unless strict.
          if (this.strict) throw fromSystemError(err, file.diskPath);
          break;
        }
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      if (done < span.length) {
        if (this.strict) throw fromSystemError(Object.assign(new Error('file is shorter than expected (changed while reading?)'), { code: 'ESHORT' }), file.diskPath);
        holes.push([span.rangeOffset + done, span.rangeOffset + span.length]);
      }
    }
    return holes;
  }

  private async handleFor(index: number): Promise<FileHandle | null> {
    if (this.current?.index === index) return this.current.handle;
    await this.current?.handle?.close();
    const path = this.files[index]!.diskPath!;
    let handle: FileHandle | null = null;
    try {
      handle = await open(path, 'r');
    } catch (err) {
      if (this.strict) throw fromSystemError(err, path);
      handle = null;
    }
    this.current = { index, handle };
    return handle;
  }

  async close(): Promise<void> {
    await this.current?.handle?.close();
    this.current = null;
  }
}
