/** Write a file atomically: a temporary file beside it, fsync, then rename over the target. */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, mkdir, open, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { BtError, fromSystemError } from '../errors.js';

export interface AtomicWriteOptions {
  overwrite?: boolean;
  /** File mode of the new file (default 0o666 less the umask). */
  mode?: number;
  /** Create the parent directory (with this mode) when it is missing. */
  mkdirMode?: number;
}

export async function writeFileAtomic(path: string, data: Uint8Array | string, options: AtomicWriteOptions = {}): Promise<void> {
  if (!options.overwrite) {
    const exists = await access(path).then(() => true, () => false);
    if (exists) throw new BtError('OUTPUT_EXISTS', 'io', `\`${path}\` already exists (use --force to overwrite)`);
  }
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    if (options.mkdirMode !== undefined) await mkdir(dirname(path), { recursive: true, mode: options.mkdirMode });
    const fh = await open(tmp, 'wx', options.mode);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw fromSystemError(err, path);
  }
}

/**
 * Check, before long work, that a file can be written at `path`: its directory exists, is a
 * directory, and is writable. The error names the directory and the real cause (ENOENT, ENOTDIR,
 * EACCES, EROFS), as writing would, but before minutes of hashing rather than after.
 */
export async function checkWritablePlace(path: string): Promise<void> {
  const dir = dirname(resolve(path));
  await assertWritableDirectory(dir, `cannot write \`${path}\`: directory \`${dir}\``);
}

/**
 * Check before any work that directory `dir` can be written, or created: the deepest part of it
 * that exists must be a directory we may write to. Names the real cause (a read-only file system,
 * permission, a file in the way), where creating it later would report a bare ENOENT.
 */
export async function checkWritableDir(dir: string): Promise<void> {
  let at = resolve(dir);
  // Bounded by the path's depth: each step goes one directory up, and the root exists.
  for (;;) {
    // ENOTDIR: a file stands in the path; the walk up finds it and says so below.
    const st = await stat(at).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' || err.code === 'ENOTDIR' ? null : Promise.reject(fromSystemError(err, dir))));
    if (st) break;
    const up = dirname(at);
    if (up === at) break;
    at = up;
  }
  await assertWritableDirectory(at, at === resolve(dir) ? `cannot write in \`${dir}\`` : `cannot create \`${dir}\`: \`${at}\``);
}

/** `dir` exists, is a directory and may be written; else an io error that starts with `what`. */
async function assertWritableDirectory(dir: string, what: string): Promise<void> {
  try {
    const st = await stat(dir);
    if (!st.isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    await access(dir, constants.W_OK);
  } catch (err) {
    // errors.ts has no words for EROFS; Node's own message would repeat the path.
    if ((err as NodeJS.ErrnoException).code === 'EROFS') throw new BtError('IO_EROFS', 'io', `${what}: read-only file system`, { cause: err, detail: { errno: 'EROFS' } });
    throw fromSystemError(err, what);
  }
}
