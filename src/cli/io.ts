/** Standard input and output helpers for commands (the core never touches `process`). */
import { inputError } from '../core/errors.js';
import { MAX_TORRENT_BYTES } from '../core/metainfo/parse.js';

/** Read all of standard input (bounded: a torrent is never larger than MAX_TORRENT_BYTES). */
export async function readStdin(limit = MAX_TORRENT_BYTES): Promise<Buffer> {
  if (process.stdin.isTTY) throw inputError('STDIN_IS_TTY', 'expected data on standard input (`-`), but it is a terminal');
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of process.stdin) {
    const b = chunk as Buffer;
    total += b.length;
    if (total > limit) throw inputError('STDIN_TOO_LARGE', `standard input exceeds ${limit} bytes`);
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

/** Write bytes to stdout and wait until they are flushed (so a following exit loses nothing). */
export function writeStdout(data: Uint8Array | string): Promise<void> {
  return new Promise((resolve, reject) => {
    process.stdout.write(data, (err) => (err ? reject(err) : resolve()));
  });
}
