/** Reading the piece stream across the files of a torrent, shared by the piece stores. */
import { type FileHandle, stat } from 'node:fs/promises';
import { fromSystemError } from '../errors.js';
import { Bitfield } from '../pieces/bitfield.js';
import { pieceSize } from '../pieces/geometry.js';
import { type LayoutFile, spansOf } from './layout.js';
import type { FileStat } from './store.js';

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

/**
 * The read side every file-backed piece store shares (the writable FileStore, the read-only
 * ContentStore): piece geometry, bounds checks, block and piece reads, and what is on disk.
 * A subclass only says how to open a file for reading.
 */
export abstract class LayoutReadStore {
  readonly pieceCount: number;

  constructor(
    readonly files: readonly LayoutFile[],
    readonly pieceLength: number,
    readonly totalLength: number,
  ) {
    this.pieceCount = Math.ceil(totalLength / pieceLength);
  }

  /** An open handle on file `fileIndex` for reading (throws a BtError naming the path). */
  protected abstract readHandle(fileIndex: number): Promise<FileHandle>;

  protected pieceSize(index: number): number {
    return pieceSize(this, index);
  }

  protected checkPiece(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.pieceCount) throw new RangeError(`piece ${index} outside 0..${this.pieceCount - 1}`);
  }

  /** Read stream bytes [start, start + into.length) into `into`; throws on a missing or short file. */
  protected async readInto(into: Uint8Array, start: number): Promise<void> {
    await readSpans(this.files, start, into, (i) => this.readHandle(i));
  }

  async readPiece(index: number): Promise<Uint8Array> {
    this.checkPiece(index);
    const out = new Uint8Array(this.pieceSize(index));
    await this.readInto(out, index * this.pieceLength);
    return out;
  }

  async read(index: number, begin: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
    this.checkPiece(index);
    if (!(Number.isInteger(begin) && Number.isInteger(length) && begin >= 0 && length > 0 && begin + length <= this.pieceSize(index))) {
      throw new RangeError(`block ${begin}+${length} outside piece ${index}`);
    }
    if (into && into.length !== length) throw new RangeError(`a buffer of ${into.length} bytes for a block of ${length}`);
    const out = into ?? Buffer.allocUnsafe(length);
    await this.readInto(out, index * this.pieceLength + begin);
    return out;
  }

  filesOfPiece(index: number): number[] {
    this.checkPiece(index);
    return spansOf(this.files, index * this.pieceLength, this.pieceSize(index)).map((s) => s.fileIndex);
  }

  async stat(): Promise<FileStat[]> {
    return Promise.all(
      this.files.map(async (f) => {
        if (f.diskPath === null) return { size: null, mtimeMs: null };
        try {
          const s = await stat(f.diskPath);
          return s.isFile() ? { size: s.size, mtimeMs: s.mtimeMs } : { size: null, mtimeMs: null };
        } catch {
          return { size: null, mtimeMs: null };
        }
      }),
    );
  }

  /** Pieces whose bytes all lie inside files that are long enough (not yet hashed). */
  async present(): Promise<Bitfield> {
    const stats = await this.stat();
    const out = new Bitfield(this.pieceCount);
    for (let i = 0; i < this.pieceCount; i++) {
      const ok = spansOf(this.files, i * this.pieceLength, this.pieceSize(i)).every((s) => {
        const f = this.files[s.fileIndex]!;
        if (f.diskPath === null) return true;
        const size = stats[s.fileIndex]!.size;
        return size !== null && size >= s.fileOffset + s.length;
      });
      if (ok) out.set(i);
    }
    return out;
  }
}
