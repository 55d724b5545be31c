/**
 * Where a torrent's content is on disk, from the PATH a user gives `verify` and `seed`: the content
 * itself (the file of a single-file torrent, the top directory of a multi-file one), or the
 * directory holding `<name>` (a client's download directory, as `download -o DIR` leaves it).
 * One answer for both commands, so the same PATH means the same data and fails the same way.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { BtError, fromSystemError } from '../errors.js';
import type { Metainfo } from '../metainfo/types.js';

/**
 * The content path; error codes start with `codePrefix` (stable per command). Throws IO_ENOENT-style io errors (exit 7) when PATH does not exist, an io
 * error when a single-file torrent's PATH is a directory without `<name>` in it, and an input
 * error when a multi-file torrent's PATH is a file.
 */
export async function locateContent(meta: Pick<Metainfo, 'name' | 'multiFile'>, path: string, codePrefix: 'VERIFY' | 'SEED'): Promise<string> {
  const inside = join(path, meta.name);
  const insideStat = await stat(inside).catch(() => null);
  if (insideStat && (meta.multiFile ? insideStat.isDirectory() : insideStat.isFile())) return inside;
  const st = await stat(path).catch((err: unknown) => {
    throw fromSystemError(err, path);
  });
  if (meta.multiFile && !st.isDirectory()) throw new BtError(`${codePrefix}_NOT_DIRECTORY`, 'input', `\`${path}\` is a file, but the torrent is a directory (${meta.name}/)`);
  if (!meta.multiFile && st.isDirectory()) throw new BtError(`${codePrefix}_NOT_FOUND`, 'io', `\`${path}\` is a directory without \`${meta.name}\` in it`);
  return path;
}
