/**
 * Create a v1 torrent from a file or directory: walk (deterministic order), hash on every core,
 * build, and parse the result back (so what we return is exactly what any reader will see).
 */
import { inputError } from '../errors.js';
import { walk, type WalkOptions, type WalkResult } from '../fs/walk.js';
import { hashFiles } from '../hash/file-hasher.js';
import { basename } from 'node:path';
import { buildTorrent, type BuildInput } from './build.js';
import { MAX_PIECE_LENGTH, MIN_PIECE_LENGTH, parseTorrent } from './parse.js';
import { autoPieceLength, pieceLengthLint } from './piece-length.js';
import type { Metainfo } from './types.js';

/** The torrent's optional fields, as `buildTorrent` takes them. */
type TorrentFields = Pick<BuildInput, 'trackers' | 'webSeeds' | 'private' | 'source' | 'comment' | 'createdBy' | 'creationDate'>;

export interface CreateOptions extends WalkOptions, TorrentFields {
  path: string;
  /** Torrent name; default the base name of `path`. */
  name?: string;
  /** Bytes; default `autoPieceLength(total)`. */
  pieceLength?: number;
  threads?: number;
  signal?: AbortSignal;
  /** Called after each hashed chunk with bytes done so far. */
  onProgress?: (doneBytes: number, totalBytes: number) => void;
  /** Called once the file list is known, before hashing. */
  onPlan?: (plan: { files: number; totalLength: number; pieceLength: number }) => void;
}

export interface CreateResult {
  torrent: Buffer;
  metainfo: Metainfo;
  warnings: string[];
  walk: WalkResult;
  hashMs: number;
}

export async function createTorrent(options: CreateOptions): Promise<CreateResult> {
  const walked = await walk(options.path, options);
  const name = options.name ?? basename(walked.root);
  if (walked.directory && walked.files.length === 0) {
    throw inputError('CREATE_NO_FILES', `no files to add under \`${options.path}\`${walked.skipped.length ? ` (${walked.skipped.length} skipped: hidden, symlinks or excluded)` : ''}`);
  }
  const totalLength = walked.files.reduce((n, f) => n + f.length, 0);
  if (totalLength === 0) {
    throw inputError('CREATE_EMPTY', `\`${options.path}\` holds only empty files: a torrent needs at least one byte of data`);
  }
  const pieceLength = options.pieceLength ?? autoPieceLength(totalLength);
  if (!Number.isSafeInteger(pieceLength) || pieceLength < MIN_PIECE_LENGTH || pieceLength > MAX_PIECE_LENGTH) {
    throw inputError('CREATE_BAD_PIECE_LENGTH', `piece length ${pieceLength} is outside 1 B to 1 GiB`);
  }
  const warnings: string[] = [];
  const lint = pieceLengthLint(pieceLength, totalLength);
  if (lint) warnings.push(lint);
  if (options.private && (options.trackers ?? []).flat().length === 0) {
    warnings.push('private torrent without trackers: clients find peers only through trackers when private (BEP 27)');
  }
  const empty = walked.files.filter((f) => f.length === 0).length;
  if (empty > 0) warnings.push(`${empty} empty file${empty > 1 ? 's' : ''} included: some clients do not create empty files`);
  options.onPlan?.({ files: walked.files.length, totalLength, pieceLength });

  let offset = 0;
  const layout = walked.files.map((f) => {
    const entry = { diskPath: f.diskPath, length: f.length, offset };
    offset += f.length;
    return entry;
  });
  const pieceCount = Math.ceil(totalLength / pieceLength);
  const pieces = Buffer.alloc(pieceCount * 20);
  const started = performance.now();
  let done = 0;
  for await (const chunk of hashFiles(layout, {
    totalLength,
    pieceLength,
    strict: true,
    ...(options.threads !== undefined ? { threads: options.threads } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  })) {
    chunk.digests.forEach((d, i) => d.copy(pieces, (chunk.firstPiece + i) * 20));
    done += chunk.bytes;
    options.onProgress?.(done, totalLength);
  }
  const hashMs = performance.now() - started;
  const torrent = buildTorrent({
    name,
    pieceLength,
    pieces,
    files: walked.directory ? walked.files.map((f) => ({ path: f.path, length: f.length })) : null,
    length: totalLength,
    ...(options.trackers ? { trackers: options.trackers } : {}),
    ...(options.webSeeds ? { webSeeds: options.webSeeds } : {}),
    ...(options.private ? { private: true } : {}),
    ...(options.source !== undefined ? { source: options.source } : {}),
    ...(options.comment !== undefined ? { comment: options.comment } : {}),
    ...(options.createdBy !== undefined ? { createdBy: options.createdBy } : {}),
    ...(options.creationDate !== undefined ? { creationDate: options.creationDate } : {}),
  });
  return { torrent, metainfo: parseTorrent(torrent, { mode: 'strict' }), warnings, walk: walked, hashMs };
}

/**
 * Whether an existing torrent is the one `created` would write: the same info dictionary byte for
 * byte (so the same infohash and data) and the same trackers and web seeds (so the same swarm).
 * The comment, creation date and `created by` may differ: they change nothing a peer sees.
 */
export function sameTorrent(existing: Metainfo, created: Metainfo): boolean {
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  return existing.infoBytes.equals(created.infoBytes) && same(existing.trackers, created.trackers) && same(existing.webSeeds, created.webSeeds);
}
