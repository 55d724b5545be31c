/**
 * The `--check-web-seeds` lint (BEP 19): does each web seed serve the torrent's files? For every
 * file, the first and the last few bytes are asked for with Range requests (two small GETs: a
 * HEAD would not show that Range works, nor what the bytes are), and when the caller can read
 * the local data the bytes are compared too, so a stale upload is found as well as a missing one.
 *
 * The report lists, per URL, the files that fail and why (the error codes of ./http-range.ts, plus
 * `WEBSEED_CHECK_MISMATCH` and `WEBSEED_CHECK_SIZE`). Bounded: `maxInFlight` requests at once per
 * URL, and a URL is given up after `maxProblems` problems (an unreachable server fails every
 * file; listing 10 000 refusals helps nobody).
 */
import { open } from 'node:fs/promises';
import { BtError, fromSystemError, networkError, throwIfAborted } from '../errors.js';
import { RangeClient } from './http-range.js';
import { fileUrl, webSeedBase } from './url.js';
import type { WebSeedLayout } from './webseed.js';

export interface WebSeedCheckOptions {
  urls: readonly string[];
  layout: WebSeedLayout;
  /** Bytes asked for at each end of each file (default 16). */
  probeBytes?: number;
  /** The expected bytes of a file, for comparison; without it only presence and Range are checked. */
  read?: (fileIndex: number, fileOffset: number, length: number) => Promise<Uint8Array>;
  maxInFlight?: number;
  maxProblems?: number;
  idleTimeoutMs?: number;
  deadlineMs?: number;
  signal?: AbortSignal;
}

export interface WebSeedFileProblem {
  fileIndex: number;
  path: string[];
  fileUrl: string;
  code: string;
  message: string;
}

export interface WebSeedCheckReport {
  url: string;
  /** Files asked about (padding and empty files are not). */
  filesChecked: number;
  problems: WebSeedFileProblem[];
  /** True when the URL was given up after `maxProblems` problems. */
  gaveUp: boolean;
}

export async function checkWebSeeds(options: WebSeedCheckOptions): Promise<WebSeedCheckReport[]> {
  const reports: WebSeedCheckReport[] = [];
  for (const url of options.urls) reports.push(await checkOne(url, options));
  return reports;
}

async function checkOne(url: string, options: WebSeedCheckOptions): Promise<WebSeedCheckReport> {
  const { layout, signal } = options;
  const probe = Math.max(1, options.probeBytes ?? 16);
  const maxProblems = options.maxProblems ?? 20;
  const client = new RangeClient({
    maxSockets: options.maxInFlight ?? 4,
    idleTimeoutMs: options.idleTimeoutMs ?? 15_000,
    deadlineMs: options.deadlineMs ?? 30_000,
    maxRedirects: 5,
    // A server that ignores Range is fine for a file this small (read whole, windows cut out).
    wholeBodyLimit: 64 * 1024,
  });
  const report: WebSeedCheckReport = { url: webSeedBase(url, layout.multiFile), filesChecked: 0, problems: [], gaveUp: false };
  const todo = layout.files.map((f, i) => i).filter((i) => !layout.files[i]!.padding && layout.files[i]!.length > 0);
  let next = 0;
  const worker = async () => {
    while (next < todo.length && !report.gaveUp) {
      throwIfAborted(signal);
      const index = todo[next++]!;
      report.filesChecked++;
      const problem = await checkFile(client, url, index, probe, options).catch((e: unknown) => {
        if (e instanceof BtError && e.category === 'interrupted') throw e;
        return e instanceof BtError ? e : networkError('WEBSEED_CHECK_FAILED', String(e));
      });
      if (problem) {
        const file = layout.files[index]!;
        report.problems.push({ fileIndex: index, path: [...file.path], fileUrl: fileUrl(url, layout, index), code: problem.code, message: problem.message });
        if (report.problems.length >= maxProblems) report.gaveUp = true;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, options.maxInFlight ?? 4) }, worker));
  } finally {
    client.close();
  }
  report.problems.sort((a, b) => a.fileIndex - b.fileIndex);
  return report;
}

/** null when the file's first and last bytes are served (and match, when `read` is given). */
async function checkFile(client: RangeClient, url: string, index: number, probe: number, options: WebSeedCheckOptions): Promise<BtError | null> {
  const file = options.layout.files[index]!;
  const target = fileUrl(url, options.layout, index);
  const n = Math.min(probe, file.length);
  const ends = file.length > n ? [0, file.length - n] : [0];
  for (const at of ends) {
    const res = await client.get(target, at, n, options.signal ? { signal: options.signal } : {});
    if (res.total !== null && res.total !== file.length) {
      return networkError('WEBSEED_CHECK_SIZE', `\`${target}\` is ${res.total} bytes on the server, ${file.length} in the torrent`, { detail: { server: res.total, torrent: file.length } });
    }
    if (options.read) {
      const want = await options.read(index, at, n);
      if (!Buffer.from(want).equals(res.body)) {
        return networkError('WEBSEED_CHECK_MISMATCH', `\`${target}\`: bytes ${at}-${at + n - 1} differ from the local file`, { detail: { offset: at } });
      }
    }
  }
  return null;
}

/** A `read` for `checkWebSeeds` over the local files the torrent was made from (`diskPaths[i]` for file i). */
export function readLocalFiles(diskPaths: readonly (string | null)[]): NonNullable<WebSeedCheckOptions['read']> {
  return async (fileIndex, fileOffset, length) => {
    const path = diskPaths[fileIndex];
    if (!path) return new Uint8Array(length);
    const handle = await open(path, 'r').catch((e: unknown) => {
      throw fromSystemError(e, path);
    });
    try {
      const out = Buffer.alloc(length);
      const { bytesRead } = await handle.read(out, 0, length, fileOffset);
      return out.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  };
}
