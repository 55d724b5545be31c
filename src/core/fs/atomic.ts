/** Write a file atomically: a temporary file beside it, fsync, then rename over the target. */
import { randomBytes } from 'node:crypto';
import { open, rename, unlink, access } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { BtError, fromSystemError } from '../errors.js';

export async function writeFileAtomic(path: string, data: Uint8Array, options: { overwrite?: boolean } = {}): Promise<void> {
  if (!options.overwrite) {
    const exists = await access(path).then(() => true, () => false);
    if (exists) throw new BtError('OUTPUT_EXISTS', 'io', `\`${path}\` already exists (use --force to overwrite)`);
  }
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const fh = await open(tmp, 'wx');
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
