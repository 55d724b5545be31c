/**
 * Read a whole small file (a torrent) from anything a path can name, with a size cap and an abort
 * signal that both hold for every kind of file:
 *
 * - `stat().size` is the truth only for regular files; a device (/dev/zero) or a pipe says 0. So
 *   the bytes are read in chunks and counted, and the read stops one chunk past the cap.
 * - Opening a FIFO blocks until a writer opens it, inside a libuv worker that no signal reaches.
 *   An abort releases it the way a writer would: we open the write end ourselves (non-blocking,
 *   which succeeds because our own open is a waiting reader) and close it at once.
 * - A FIFO's reads go through a non-blocking pipe handle (not the thread pool), so a writer that
 *   holds the pipe open and sends nothing cannot keep an aborted read waiting either.
 */
import { close, constants, open as openFd } from 'node:fs';
import { type FileHandle, open, stat } from 'node:fs/promises';
import { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { type BtError, abortError, fromSystemError, throwIfAborted } from '../errors.js';

export interface BoundedReadOptions {
  /** Most bytes accepted; one byte more is refused with `tooLarge`. */
  limit: number;
  /** The error for input over the limit (`seen` is how many bytes were read before stopping). */
  tooLarge: (seen: number) => BtError;
  signal?: AbortSignal;
}

const CHUNK = 64 * 1024;

/** The whole file at `path`, at most `limit` bytes, from a regular file, device or FIFO. */
export async function readFileBounded(path: string, options: BoundedReadOptions): Promise<Buffer> {
  throwIfAborted(options.signal);
  let st;
  try {
    st = await stat(path);
  } catch (err) {
    throw fromSystemError(err, path);
  }
  // A regular file says its size: refuse a big one without reading a byte.
  if (st.isFile() && st.size > options.limit) throw options.tooLarge(st.size);
  if (st.isDirectory()) throw fromSystemError(Object.assign(new Error('is a directory'), { code: 'EISDIR' }), path);
  if (st.isFIFO()) return readFifo(path, options);
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    throw fromSystemError(err, path);
  }
  try {
    return await readChunks(fh, path, options);
  } finally {
    await fh.close();
  }
}

/** Regular files and devices: reads that always return (data, zeros, or the end). */
async function readChunks(fh: FileHandle, path: string, options: BoundedReadOptions): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    throwIfAborted(options.signal);
    // Ask for one byte past the limit at most: that byte is enough to know it is too large.
    const buf = Buffer.allocUnsafe(Math.min(CHUNK, options.limit + 1 - total));
    let bytesRead: number;
    try {
      ({ bytesRead } = await fh.read(buf, 0, buf.length, null));
    } catch (err) {
      throw fromSystemError(err, path);
    }
    if (bytesRead === 0) return Buffer.concat(chunks, total);
    total += bytesRead;
    if (total > options.limit) throw options.tooLarge(total);
    chunks.push(buf.subarray(0, bytesRead));
  }
}

async function readFifo(path: string, options: BoundedReadOptions): Promise<Buffer> {
  const fd = await openAbortable(path, options.signal);
  // The pipe handle owns the descriptor from here on and closes it when destroyed.
  const socket = new Socket({ fd, readable: true, writable: false });
  try {
    return await readStreamBounded(socket, options);
  } finally {
    socket.destroy();
  }
}

/** A raw descriptor (a pipe handle takes it over), closed with the callback API. */
const openRaw = (path: string, flags: number) =>
  new Promise<number>((resolve, reject) => openFd(path, flags, (err, fd) => (err ? reject(err) : resolve(fd))));
const closeRaw = (fd: number) => close(fd, () => undefined);

/** open(path) for reading, which for a FIFO waits for a writer; an abort ends the wait. */
async function openAbortable(path: string, signal: AbortSignal | undefined): Promise<number> {
  const opening = openRaw(path, constants.O_RDONLY);
  if (!signal) return opening.catch((err: unknown) => Promise.reject(fromSystemError(err, path)));
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => {
      reject(abortError(signal));
      // Play the writer that never came, so the pending open returns and its descriptor is closed.
      void openRaw(path, constants.O_WRONLY | constants.O_NONBLOCK).then(closeRaw, () => undefined);
      void opening.then(closeRaw, () => undefined);
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([opening, aborted]);
  } catch (err) {
    throw fromSystemError(err, path);
  } finally {
    signal.removeEventListener('abort', onAbort!);
  }
}

/**
 * All of a stream (standard input, a pipe), at most `limit` bytes; stops reading as soon as the
 * limit is passed or the signal fires (the stream is then paused, not consumed to its end).
 */
export function readStreamBounded(stream: Readable, options: BoundedReadOptions): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const finish = (err: unknown, value?: Buffer) => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
      options.signal?.removeEventListener('abort', onAbort);
      stream.pause();
      if (err) reject(err);
      else resolve(value!);
    };
    const onData = (chunk: Buffer | string) => {
      const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      total += b.length;
      if (total > options.limit) return finish(options.tooLarge(total));
      chunks.push(b);
    };
    const onEnd = () => finish(null, Buffer.concat(chunks, total));
    const onError = (err: unknown) => finish(fromSystemError(err, 'input'));
    const onAbort = () => finish(abortError(options.signal));
    if (options.signal?.aborted) return onAbort();
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('error', onError);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    stream.resume();
  });
}
