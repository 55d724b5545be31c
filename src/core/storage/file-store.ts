/**
 * A `PieceStore` over the files of a torrent under an output directory (BEP 3 file layout: the
 * files laid end to end, a piece may span several of them; BEP 47 padding files are zeros and
 * never written).
 *
 * Path safety is checked here again, independently of the metainfo parser, because this is the
 * code that opens files: every path must resolve inside the output directory, each component
 * must pass the same rules as in parsing, the directories actually created must resolve (through
 * any symbolic link) inside the output directory, and files are opened with O_NOFOLLOW so a
 * symbolic link planted where a file should be is refused rather than written through. All
 * lexical checks run in `FileStore.open`, before any byte is written.
 *
 * Files are created lazily, by the first piece written into them, so files the user did not
 * select are created only as far as the pieces they share with selected ones. Handles are kept
 * open (up to `maxOpenFiles`, least recently used closed first).
 */
import { constants } from 'node:fs';
import { type FileHandle, lstat, mkdir, open, realpath } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { BtError, fromSystemError } from '../errors.js';
import { assertSafePath } from '../metainfo/paths.js';
import type { Metainfo } from '../metainfo/types.js';
import { type LayoutFile, spansOf } from './layout.js';
import { LayoutReadStore } from './span-io.js';
import type { PieceStore } from './store.js';

export interface FileStoreOptions {
  /** The output directory (`-o`): a single-file torrent's file, or a multi-file torrent's top directory, goes inside it. */
  outDir: string;
  maxOpenFiles?: number;
  /** Largest single write system call, in bytes. Default `WRITE_SLICE`. */
  writeSlice?: number;
}

/**
 * A piece is written in slices of at most this many bytes, one pwrite each. Measured on gVisor
 * (2026-11-22): a pwrite above about 32 KiB cost two to three times more system time per byte
 * than smaller ones (3 s instead of 1 s of CPU per GiB downloaded). Measured on a Firecracker VM
 * (2026-12-02): one pwritev of the same 32 KiB slices per piece saved ~0.5 s of CPU per GiB at
 * first (fewer thread-pool jobs), then, later the same day with the same builds, cost 4.2 s of
 * system time per GiB against 0.5 s for the 32 KiB pwrites (a write of 1 MiB in one call is what
 * the kernel charges for, whatever its gather list): the small writes are the robust choice.
 */
export const WRITE_SLICE = 32 * 1024;

/** The torrent's files with their absolute paths under `outDir` (null for padding). Throws an input error for an unsafe path. */
export function storeLayout(meta: Pick<Metainfo, 'name' | 'files' | 'multiFile'>, outDir: string): LayoutFile[] {
  const root = resolve(outDir);
  assertSafePath([meta.name], 'info.name');
  return meta.files.map((f, i) => {
    if (f.padding) return { diskPath: null, length: f.length, offset: f.offset };
    const components = meta.multiFile ? [meta.name, ...f.path] : [meta.name];
    assertSafePath(components, `info.files[${i}]`);
    // One joined argument, not a spread: a hostile torrent's path may hold more components
    // than a call takes arguments. assertSafePath refused separators inside a component.
    const diskPath = resolve(root, components.join(sep));
    if (!isInside(root, diskPath)) {
      throw new BtError('STORAGE_PATH_ESCAPES', 'input', `path \`${components.join('/')}\` resolves outside the output directory \`${root}\``, {
        detail: { path: components, outDir: root },
      });
    }
    return { diskPath, length: f.length, offset: f.offset, ...(f.attr.includes('x') ? { executable: true } : {}) };
  });
}

function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) && !rel.split(sep).includes('..');
}

const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0;

function assertLeadsInside(rootReal: string, dir: string, real: string): void {
  if (real !== rootReal && !isInside(rootReal, real)) {
    throw new BtError('STORAGE_PATH_ESCAPES', 'input', `\`${dir}\` leads outside the output directory through a symbolic link`, { detail: { dir, real } });
  }
}

/**
 * `dir` or its nearest ancestor that exists (a link counts, even one that leads nowhere: its
 * `realpath` then fails, and nothing is created through it). Bounded by the depth of `dir`;
 * `root` exists (it was created first), so the walk stops there at the latest.
 */
async function deepestExisting(dir: string, root: string): Promise<string> {
  let at = dir;
  for (;;) {
    try {
      await lstat(at);
      return at;
    } catch (err) {
      const up = dirname(at);
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || at === root || up === at) throw err;
      at = up;
    }
  }
}

export class FileStore extends LayoutReadStore implements PieceStore {
  private readonly handles = new Map<number, Promise<FileHandle>>();
  /** Directories already created and checked. */
  private readonly checkedDirs = new Set<string>();
  private rootReal: string | undefined;
  private readonly maxOpenFiles: number;

  private constructor(
    files: readonly LayoutFile[],
    readonly root: string,
    pieceLength: number,
    totalLength: number,
    maxOpenFiles: number,
    private readonly writeSlice: number,
  ) {
    super(files, pieceLength, totalLength);
    this.maxOpenFiles = Math.max(1, maxOpenFiles);
  }

  /** Check every path (lexically) and return a store; nothing is created yet. */
  static open(meta: Pick<Metainfo, 'name' | 'files' | 'multiFile' | 'pieceLength' | 'totalLength'>, options: FileStoreOptions): FileStore {
    const layout = storeLayout(meta, options.outDir);
    return new FileStore(layout, resolve(options.outDir), meta.pieceLength, meta.totalLength, options.maxOpenFiles ?? 128, Math.max(4096, options.writeSlice ?? WRITE_SLICE));
  }

  /** The output directory itself is created if missing; its real path anchors the symlink check. */
  private async realRoot(): Promise<string> {
    if (this.rootReal) return this.rootReal;
    try {
      await mkdir(this.root, { recursive: true });
      this.rootReal = await realpath(this.root);
    } catch (err) {
      throw fromSystemError(err, this.root);
    }
    return this.rootReal;
  }

  /**
   * Check that `dir` (inside the root) leads nowhere outside it through a symbolic link, then
   * create it when `create`. The check comes first: `mkdir -p` through `DIR/<name>` or
   * `DIR/<name>/sub` linked elsewhere created directories out there before a later `realpath`
   * noticed (issue 15). The deepest part of `dir` that exists is resolved and must be inside the
   * root; what is missing below it is then created by us, under a directory already checked.
   */
  private async ensureDir(dir: string, create = true): Promise<void> {
    if (this.checkedDirs.has(dir)) return;
    const rootReal = await this.realRoot();
    try {
      const existing = await deepestExisting(dir, this.root);
      assertLeadsInside(rootReal, existing, await realpath(existing));
      if (existing === dir) {
        this.checkedDirs.add(dir);
        return;
      }
      if (!create) return;
      await mkdir(dir, { recursive: true });
      // Again once created: a link planted meanwhile is caught here.
      assertLeadsInside(rootReal, dir, await realpath(dir));
    } catch (err) {
      throw fromSystemError(err, dir);
    }
    this.checkedDirs.add(dir);
  }

  /**
   * A read-write handle on file `fileIndex`, created (with its directories) when `create`. A
   * file that exists but may not be written (a seed's read-only data) is opened read-only for
   * reading; writing to it fails with the system's error.
   */
  private handle(fileIndex: number, create: boolean): Promise<FileHandle> {
    const cached = this.handles.get(fileIndex);
    if (cached) {
      // Move to the most recently used end.
      this.handles.delete(fileIndex);
      this.handles.set(fileIndex, cached);
      return cached;
    }
    const file = this.files[fileIndex]!;
    const path = file.diskPath!;
    // BEP 47 `x`: the mode applies when the file is created (an existing file keeps its own).
    const mode = file.executable ? 0o755 : 0o644;
    const opening = (async () => {
      // Reads are checked too: the handle is opened read-write and cached, and the writes that
      // come later (a download after its resume check) reuse it.
      await this.ensureDir(dirname(path), create);
      try {
        return await open(path, constants.O_RDWR | (create ? constants.O_CREAT : 0) | O_NOFOLLOW, mode);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ELOOP') {
          throw new BtError('STORAGE_SYMLINK', 'input', `\`${path}\` is a symbolic link; btkit does not write through links`, { detail: { path } });
        }
        if (!create && (code === 'EACCES' || code === 'EPERM' || code === 'EROFS')) {
          try {
            return await open(path, constants.O_RDONLY | O_NOFOLLOW);
          } catch (err2) {
            throw fromSystemError(err2, path);
          }
        }
        throw fromSystemError(err, path);
      }
    })();
    this.handles.set(fileIndex, opening);
    opening.catch(() => {
      if (this.handles.get(fileIndex) === opening) this.handles.delete(fileIndex);
    });
    void this.evict();
    return opening;
  }

  private async evict(): Promise<void> {
    while (this.handles.size > this.maxOpenFiles) {
      const [index, oldest] = this.handles.entries().next().value as [number, Promise<FileHandle>];
      this.handles.delete(index);
      // FileHandle.close waits for the handle's pending reads and writes.
      await oldest.then((h) => h.close()).catch(() => undefined);
    }
  }

  async writePiece(index: number, data: Uint8Array): Promise<void> {
    this.checkPiece(index);
    const size = this.pieceSize(index);
    if (data.length !== size) throw new RangeError(`piece ${index} is ${size} bytes, got ${data.length}`);
    const start = index * this.pieceLength;
    await Promise.all(
      spansOf(this.files, start, size).map(async (span) => {
        const file = this.files[span.fileIndex]!;
        if (file.diskPath === null) return;
        const h = await this.handle(span.fileIndex, true);
        let done = 0;
        try {
          while (done < span.length) {
            const { bytesWritten } = await h.write(data, span.rangeOffset + done, Math.min(this.writeSlice, span.length - done), span.fileOffset + done);
            // A write that writes nothing would repeat forever.
            if (bytesWritten === 0) throw new BtError('IO_EIO', 'io', `${file.diskPath}: the system wrote nothing at offset ${span.fileOffset + done}`);
            done += bytesWritten;
          }
        } catch (err) {
          throw fromSystemError(err, file.diskPath);
        }
      }),
    );
  }

  protected readHandle(fileIndex: number): Promise<FileHandle> {
    return this.handle(fileIndex, false);
  }

  async prepare(selectedFiles: readonly boolean[]): Promise<void> {
    await this.realRoot();
    for (let i = 0; i < this.files.length; i++) {
      const f = this.files[i]!;
      if (f.diskPath === null || f.length !== 0 || !selectedFiles[i]) continue;
      await this.handle(i, true);
    }
  }

  async close(): Promise<void> {
    const all = [...this.handles.values()];
    this.handles.clear();
    await Promise.all(all.map((p) => p.then((h) => h.close()).catch(() => undefined)));
  }

  /** The disk path of file `index` (null for padding). */
  pathOf(index: number): string | null {
    return this.files[index]?.diskPath ?? null;
  }

  /** Where the torrent's content lives: the single file, or the top directory. */
  static contentPath(meta: Pick<Metainfo, 'name'>, outDir: string): string {
    return join(resolve(outDir), meta.name);
  }
}
