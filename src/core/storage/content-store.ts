/**
 * A read-only `PieceStore` over a torrent's content where the user keeps it (BEP 3 file layout:
 * the files laid end to end, padding files read as zeros): what `btkit seed TORRENT PATH` serves.
 *
 * Unlike the download store (file-store.ts) it never creates or writes a file, and it takes the
 * disk paths as given (`diskLayout(meta, contentPath)`), so the content may live under any name:
 * a directory `out/` seeded as the torrent `myapp-1.2` works.
 */
import { type FileHandle, open, stat } from 'node:fs/promises';
import { BtError, fromSystemError } from '../errors.js';
import { Bitfield } from '../pieces/bitfield.js';
import { type LayoutFile, spansOf } from './layout.js';
import { readSpans } from './span-io.js';
import type { FileStat, PieceStore } from './store.js';

export class ContentStore implements PieceStore {
  readonly pieceCount: number;
  private readonly handles = new Map<number, Promise<FileHandle>>();

  constructor(
    readonly files: readonly LayoutFile[],
    readonly pieceLength: number,
    readonly totalLength: number,
  ) {
    this.pieceCount = Math.ceil(totalLength / pieceLength);
  }

  private pieceSize(index: number): number {
    return index === this.pieceCount - 1 ? this.totalLength - index * this.pieceLength : this.pieceLength;
  }

  private checkPiece(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.pieceCount) throw new RangeError(`piece ${index} outside 0..${this.pieceCount - 1}`);
  }

  private handle(fileIndex: number): Promise<FileHandle> {
    let h = this.handles.get(fileIndex);
    if (!h) {
      const path = this.files[fileIndex]!.diskPath!;
      h = open(path, 'r').catch((err: unknown) => {
        this.handles.delete(fileIndex);
        throw fromSystemError(err, path);
      });
      this.handles.set(fileIndex, h);
    }
    return h;
  }

  private async readInto(into: Uint8Array, start: number): Promise<void> {
    await readSpans(this.files, start, into, (i) => this.handle(i));
  }

  async readPiece(index: number): Promise<Uint8Array> {
    this.checkPiece(index);
    const out = new Uint8Array(this.pieceSize(index));
    await this.readInto(out, index * this.pieceLength);
    return out;
  }

  async read(index: number, begin: number, length: number): Promise<Uint8Array> {
    this.checkPiece(index);
    if (!(Number.isInteger(begin) && Number.isInteger(length) && begin >= 0 && length > 0 && begin + length <= this.pieceSize(index))) {
      throw new RangeError(`block ${begin}+${length} outside piece ${index}`);
    }
    const out = Buffer.allocUnsafe(length);
    await this.readInto(out, index * this.pieceLength + begin);
    return out;
  }

  async writePiece(index: number): Promise<void> {
    throw new BtError('STORAGE_READ_ONLY', 'internal', `the seeded content is read-only (piece ${index})`);
  }

  async prepare(): Promise<void> {
    // Nothing to create: a seed only reads.
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

  async close(): Promise<void> {
    const all = [...this.handles.values()];
    this.handles.clear();
    await Promise.all(all.map((p) => p.then((h) => h.close()).catch(() => undefined)));
  }
}
