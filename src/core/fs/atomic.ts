/** Write a file atomically: a temporary file beside it, fsync, then rename over the target. */
import { randomBytes } from 'node:crypto';
import { access, mkdir, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
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
