/**
 * Issue 13 item 1: a torrent read from any source stops at one cap with one error, and an abort
 * ends it, a FIFO without a writer included (stat().size is 0 for devices and pipes).
 */
import { execFileSync, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { inputError } from '../../../../src/core/errors.js';
import { readFileBounded, readStreamBounded } from '../../../../src/core/fs/bounded-read.js';
import { thrown } from '../../../helpers/errors.js';
import { tempDirs } from '../../../helpers/tmp.js';

const tmp = tempDirs();
const LIMIT = 1024 * 1024;
const tooLarge = (seen: number) => inputError('TOO_BIG', `too big (${seen})`, { detail: { seen } });

async function fifo(): Promise<string> {
  const path = join(await tmp.make('fifo'), 'pipe');
  execFileSync('mkfifo', [path]);
  return path;
}

describe('readFileBounded', () => {
  it('reads a regular file whole', async () => {
    const path = join(await tmp.make('file'), 'x');
    await writeFile(path, 'hello');
    expect((await readFileBounded(path, { limit: LIMIT, tooLarge })).toString()).toBe('hello');
  });

  it('refuses a regular file over the limit from its size, and accepts one exactly at it', async () => {
    const dir = await tmp.make('file');
    await writeFile(join(dir, 'big'), Buffer.alloc(LIMIT + 1));
    await writeFile(join(dir, 'edge'), Buffer.alloc(LIMIT));
    expect((await thrown(readFileBounded(join(dir, 'big'), { limit: LIMIT, tooLarge }))).code).toBe('TOO_BIG');
    expect((await readFileBounded(join(dir, 'edge'), { limit: LIMIT, tooLarge })).length).toBe(LIMIT);
  });

  it('/dev/zero (size 0 by stat) stops one chunk past the limit', async () => {
    const e = await thrown(readFileBounded('/dev/zero', { limit: LIMIT, tooLarge }));
    expect(e.code).toBe('TOO_BIG');
    expect(e.detail!.seen).toBe(LIMIT + 1);
  });

  it('a FIFO fed more than the limit is refused after limit+1 bytes, not read to its end', async () => {
    const path = await fifo();
    // `yes` writes forever: only a reader that stops can finish.
    const writer = spawn('sh', ['-c', `exec yes > '${path}'`], { stdio: 'ignore' });
    try {
      const e = await thrown(readFileBounded(path, { limit: LIMIT, tooLarge }));
      expect(e.code).toBe('TOO_BIG');
      expect(e.detail!.seen).toBeGreaterThan(LIMIT);
      expect(e.detail!.seen).toBeLessThan(LIMIT + 1024 * 1024);
    } finally {
      writer.kill();
    }
  });

  it('a FIFO whose writer sends a small file: read whole', async () => {
    const path = await fifo();
    const writer = spawn('sh', ['-c', `printf abc > '${path}'`], { stdio: 'ignore' });
    expect((await readFileBounded(path, { limit: LIMIT, tooLarge })).toString()).toBe('abc');
    writer.kill();
  });

  it('a FIFO with no writer waits, and an abort ends the wait at once', async () => {
    const path = await fifo();
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(), 200);
    const e = await thrown(readFileBounded(path, { limit: LIMIT, tooLarge, signal: controller.signal }));
    expect(e.category).toBe('interrupted');
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('a FIFO whose writer is open but silent: an abort ends the read', async () => {
    const path = await fifo();
    const writer = spawn('sh', ['-c', `exec sleep 30 > '${path}'`], { stdio: 'ignore' });
    try {
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 300);
      const started = Date.now();
      const e = await thrown(readFileBounded(path, { limit: LIMIT, tooLarge, signal: controller.signal }));
      expect(e.category).toBe('interrupted');
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      writer.kill();
    }
  });

  it('a missing file is an io error (IO_ENOENT), a directory IO_EISDIR', async () => {
    const dir = await tmp.make('missing');
    expect((await thrown(readFileBounded(join(dir, 'nope'), { limit: LIMIT, tooLarge }))).code).toBe('IO_ENOENT');
    expect((await thrown(readFileBounded(dir, { limit: LIMIT, tooLarge }))).code).toBe('IO_EISDIR');
  });
});

describe('readStreamBounded', () => {
  it('stops at the limit without waiting for the end', async () => {
    const s = new PassThrough();
    s.write(Buffer.alloc(LIMIT + 10));
    const e = await thrown(readStreamBounded(s, { limit: LIMIT, tooLarge }));
    expect(e.code).toBe('TOO_BIG');
  });

  it('a silent stream: an abort ends the read', async () => {
    const s = new PassThrough();
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    expect((await thrown(readStreamBounded(s, { limit: LIMIT, tooLarge, signal: controller.signal }))).category).toBe('interrupted');
  });

  it('reads a stream to its end', async () => {
    const s = new PassThrough();
    s.end('abc');
    expect((await readStreamBounded(s, { limit: LIMIT, tooLarge })).toString()).toBe('abc');
  });
});
