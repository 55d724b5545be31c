/**
 * A read-only `PieceStore` over a torrent's content where the user keeps it (BEP 3 file layout:
 * the files laid end to end, padding files read as zeros): what `btkit seed TORRENT PATH` serves.
 *
 * Unlike the download store (file-store.ts) it never creates or writes a file, and it takes the
 * disk paths as given (`diskLayout(meta, contentPath)`), so the content may live under any name:
 * a directory `out/` seeded as the torrent `myapp-1.2` works.
 */
import { type FileHandle, open } from 'node:fs/promises';
import { BtError, fromSystemError } from '../errors.js';
import { LayoutReadStore } from './span-io.js';
import type { PieceStore } from './store.js';

export class ContentStore extends LayoutReadStore implements PieceStore {
  private readonly handles = new Map<number, Promise<FileHandle>>();

  protected readHandle(fileIndex: number): Promise<FileHandle> {
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

  async writePiece(index: number): Promise<void> {
    throw new BtError('STORAGE_READ_ONLY', 'internal', `the seeded content is read-only (piece ${index})`);
  }

  async prepare(): Promise<void> {
    // Nothing to create: a seed only reads.
  }

  async close(): Promise<void> {
    const all = [...this.handles.values()];
    this.handles.clear();
    await Promise.all(all.map((p) => p.then((h) => h.close()).catch(() => undefined)));
  }
}
