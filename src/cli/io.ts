/** Standard input and output helpers for commands (the core never touches `process`). */
import { inputError } from '../core/errors.js';
import { readStreamBounded } from '../core/fs/bounded-read.js';
import { MAX_TORRENT_BYTES } from '../core/metainfo/parse.js';

/** The one error for a torrent over the cap, whatever it came from (file, device, FIFO, stdin). */
export function torrentTooLarge(source: string, seen: number): ReturnType<typeof inputError> {
  return inputError('METAINFO_TOO_LARGE', `${source} is larger than a torrent can be (${seen} bytes read; the limit is ${MAX_TORRENT_BYTES} bytes, 64 MiB)`, {
    detail: { limit: MAX_TORRENT_BYTES, bytesRead: seen },
  });
}

/**
 * Read all of standard input, at most MAX_TORRENT_BYTES (a torrent is never larger); stops at
 * the cap or when `signal` fires, without draining the rest.
 */
export async function readStdin(options: { signal?: AbortSignal } = {}): Promise<Buffer> {
  if (process.stdin.isTTY) throw inputError('STDIN_IS_TTY', 'expected data on standard input (`-`), but it is a terminal');
  return readStreamBounded(process.stdin, {
    limit: MAX_TORRENT_BYTES,
    tooLarge: (seen) => torrentTooLarge('standard input', seen),
    ...(options.signal ? { signal: options.signal } : {}),
  });
}

/**
 * An AbortSignal that fires on SIGINT/SIGTERM while `work` runs, for callers that have no signal
 * of their own to pass (the base command's handler still sees the same signal).
 */
export async function untilInterrupted<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await work(controller.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** Write bytes to stdout and wait until they are flushed (so a following exit loses nothing). */
export function writeStdout(data: Uint8Array | string): Promise<void> {
  return new Promise((resolve, reject) => {
    process.stdout.write(data, (err) => (err ? reject(err) : resolve()));
  });
}
