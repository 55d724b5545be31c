/**
 * Create a torrent from a file or directory: walk (deterministic order), hash on every core,
 * build. What a caller needs to report (infohashes, sizes, counts) comes from what was built, in
 * `summary`; the parsed `metainfo` is made on first use (parsing back 10,000 files cost as much as
 * hashing their 39 MiB), from the very bytes written, so it is exactly what any reader will see.
 *
 * v1 (the default) hashes SHA-1 pieces over the files laid end to end. v2 and hybrid (BEP 52)
 * put the files in file-tree order, each on a piece boundary (BEP 47 padding between them in a
 * hybrid's v1 list, see v2-layout.ts), and hash SHA-256 merkle trees — and, for a hybrid, the SHA-1
 * pieces — in one read of the data.
 */
import { inputError } from '../errors.js';
import { peekPath, walk, type WalkOptions, type WalkResult } from '../fs/walk.js';
import { hashFiles, INLINE_LIMIT, PreparedWorkers } from '../hash/file-hasher.js';
import { defaultThreads } from '../hash/pool.js';
import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import { buildTorrentParts, type BuildInput } from './build.js';
import { MAX_PIECE_LENGTH, MIN_PIECE_LENGTH, parseTorrent, type ParseOptions } from './parse.js';
import { autoPieceLength, isPowerOfTwo, pieceLengthLint } from './piece-length.js';
import { MERKLE_BLOCK, rootFromLayer } from './merkle.js';
import { alignedStream, treeOrder } from './v2-layout.js';
import type { InfoHashes, Metainfo, MetaVersion } from './types.js';
import type { LayoutFile } from '../storage/layout.js';
import type { TreeFile } from './build.js';

/** The torrent's optional fields, as `buildTorrent` takes them. */
type TorrentFields = Pick<BuildInput, 'trackers' | 'webSeeds' | 'private' | 'source' | 'comment' | 'createdBy' | 'creationDate'>;

export interface CreateOptions extends WalkOptions, TorrentFields {
  path: string;
  /** Torrent name; default the base name of `path`. */
  name?: string;
  /** Bytes; default `autoPieceLength(total)`. */
  pieceLength?: number;
  threads?: number;
  /** 'v1' (default), 'v2' (BEP 52 only) or 'hybrid' (both, BEP 47 padding). */
  version?: MetaVersion;
  /**
   * BEP 47 file attributes (default true): `x` on files whose owner may execute them, in `files`,
   * the single-file info dictionary and the file tree alike, as libtorrent's create_torrent writes
   * them. False leaves every `attr` out (mktorrent writes none: the same infohash as it).
   */
  attributes?: boolean;
  signal?: AbortSignal;
  /** Called after each hashed chunk with bytes done so far. */
  onProgress?: (doneBytes: number, totalBytes: number) => void;
  /** Called once the file list is known, before hashing. */
  onPlan?: (plan: { files: number; totalLength: number; pieceLength: number }) => void;
}

/**
 * The figures of the torrent just built, equal to the same fields of `parseTorrent(torrent)`
 * (test/unit/core/metainfo/create.test.ts holds them to it) without decoding it.
 */
export interface CreatedSummary {
  name: string;
  version: MetaVersion;
  infoHash: InfoHashes;
  /** The piece stream's length, padding included (`Metainfo.totalLength`). */
  totalLength: number;
  pieceLength: number;
  pieceCount: number;
  /** Entries of `Metainfo.files`: padding files included, as a reader lists them. */
  fileCount: number;
  private: boolean;
  trackers: string[][];
  webSeeds: string[];
}

export interface CreateResult {
  torrent: Buffer;
  summary: CreatedSummary;
  /** `torrent` parsed, on first use. */
  readonly metainfo: Metainfo;
  warnings: string[];
  walk: WalkResult;
  hashMs: number;
}

export async function createTorrent(options: CreateOptions): Promise<CreateResult> {
  const workers = prepareWorkers(options);
  try {
    return await create(options, workers);
  } finally {
    await workers?.close();
  }
}

/**
 * Start the hash workers before the walk when they will be needed (a directory, or a file above
 * the size the main thread hashes alone): they boot on the idle cores while the main thread lists
 * the files, instead of after it. A path that cannot be read is left to the walk to report.
 */
function prepareWorkers(options: CreateOptions): PreparedWorkers | null {
  const threads = Math.max(1, options.threads ?? defaultThreads());
  if (threads < 2) return null;
  const st = peekPath(options.path);
  return st && (st.directory || st.size > INLINE_LIMIT) ? new PreparedWorkers(threads - 1) : null;
}

async function create(options: CreateOptions, workers: PreparedWorkers | null): Promise<CreateResult> {
  const walked = await walk(options.path, options);
  const attrs = options.attributes ?? true;
  const attrOf = (f: { executable?: boolean }): string | undefined => (attrs && f.executable ? 'x' : undefined);
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
  const version = options.version ?? 'v1';
  if (version !== 'v1' && (!isPowerOfTwo(pieceLength) || pieceLength < MERKLE_BLOCK)) {
    throw inputError('CREATE_BAD_PIECE_LENGTH', `a ${version} torrent needs a power-of-two piece length of at least 16 KiB (BEP 52), not ${pieceLength}`);
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
  const fields = {
    ...(options.trackers ? { trackers: options.trackers } : {}),
    ...(options.webSeeds ? { webSeeds: options.webSeeds } : {}),
    ...(options.private ? { private: true } : {}),
    ...(options.source !== undefined ? { source: options.source } : {}),
    ...(options.comment !== undefined ? { comment: options.comment } : {}),
    ...(options.createdBy !== undefined ? { createdBy: options.createdBy } : {}),
    ...(options.creationDate !== undefined ? { creationDate: options.creationDate } : {}),
  };
  if (version !== 'v1') {
    const started = performance.now();
    const { readerFiles, readerLength, ...built } = await hashV2(walked, name, pieceLength, version, options, workers, attrOf);
    const hashMs = performance.now() - started;
    const parts = buildTorrentParts({ name, pieceLength, version, ...built, ...fields });
    const summary = summarize(parts.infoBytes, options, { name, version, pieceLength, totalLength: readerLength, fileCount: readerFiles });
    return created(parts.torrent, summary, { mode: 'strict', allowV2Only: true }, { warnings, walk: walked, hashMs });
  }

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
    ...(workers ? { workers } : {}),
  })) {
    chunk.digests.forEach((d, i) => d.copy(pieces, (chunk.firstPiece + i) * 20));
    done += chunk.bytes;
    options.onProgress?.(done, totalLength);
  }
  const hashMs = performance.now() - started;
  const parts = buildTorrentParts({
    name,
    pieceLength,
    pieces,
    files: walked.directory ? walked.files.map((f) => ({ path: f.path, length: f.length, ...optional('attr', attrOf(f)) })) : null,
    length: totalLength,
    ...(walked.directory ? {} : optional('attr', attrOf(walked.files[0]!))),
    ...fields,
  });
  const summary = summarize(parts.infoBytes, options, { name, version, pieceLength, totalLength, fileCount: walked.files.length });
  return created(parts.torrent, summary, { mode: 'strict' }, { warnings, walk: walked, hashMs });
}

/** The result, its `metainfo` parsed from the bytes on first use. */
function created(torrent: Buffer, summary: CreatedSummary, parseOptions: ParseOptions, rest: Pick<CreateResult, 'warnings' | 'walk' | 'hashMs'>): CreateResult {
  let metainfo: Metainfo | undefined;
  return {
    torrent,
    summary,
    get metainfo() {
      return (metainfo ??= parseTorrent(torrent, parseOptions));
    },
    ...rest,
  };
}

/** What `parseTorrent` would say of the built torrent, from its parts (see CreatedSummary). */
function summarize(
  infoBytes: Buffer,
  options: CreateOptions,
  layout: Pick<CreatedSummary, 'name' | 'version' | 'pieceLength' | 'totalLength' | 'fileCount'>,
): CreatedSummary {
  // As the reader takes them back (BEP 12): empty URLs and empty tiers fall away.
  const trackers = (options.trackers ?? []).map((tier) => tier.filter((u) => u.length > 0)).filter((tier) => tier.length > 0);
  return {
    ...layout,
    infoHash: {
      v1: layout.version === 'v2' ? null : createHash('sha1').update(infoBytes).digest(),
      v2: layout.version === 'v1' ? null : createHash('sha256').update(infoBytes).digest(),
    },
    pieceCount: Math.ceil(layout.totalLength / layout.pieceLength),
    private: options.private === true,
    trackers,
    webSeeds: (options.webSeeds ?? []).filter((u) => u.length > 0),
  };
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

/**
 * Hash a v2 or hybrid torrent: lay the files out aligned, hash merkle trees (and SHA-1 pieces for
 * a hybrid) in one pass on every core, and fold each file's piece hashes into its root.
 */
async function hashV2(
  walked: WalkResult,
  name: string,
  pieceLength: number,
  version: 'v2' | 'hybrid',
  options: CreateOptions,
  workers: PreparedWorkers | null,
  attrOf: (f: { executable?: boolean }) => string | undefined,
) {
  const files = walked.directory ? treeOrder(walked.files) : walked.files;
  const stream = alignedStream(
    files.map((f) => ({ path: walked.directory ? f.path : [name], length: f.length })),
    pieceLength,
    { tailPad: version === 'hybrid' && walked.directory && files.length > 1 },
  );
  let next = 0;
  const layout: LayoutFile[] = stream.map((s) => ({ diskPath: s.padding ? null : files[next++]!.diskPath, length: s.length, offset: s.offset }));
  const totalLength = stream.length > 0 ? stream.at(-1)!.offset + stream.at(-1)!.length : 0;
  const pieceCount = Math.ceil(totalLength / pieceLength);
  const pieces = Buffer.alloc(version === 'hybrid' ? pieceCount * 20 : 0);
  const merkle: Buffer[] = new Array<Buffer>(pieceCount);
  let done = 0;
  for await (const chunk of hashFiles(layout, {
    totalLength,
    pieceLength,
    strict: true,
    merkle: true,
    algorithm: version === 'hybrid' ? 'sha1' : null,
    ...(options.threads !== undefined ? { threads: options.threads } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    ...(workers ? { workers } : {}),
  })) {
    chunk.digests.forEach((d, i) => d.copy(pieces, (chunk.firstPiece + i) * 20));
    chunk.merkle.forEach((m, i) => (merkle[chunk.firstPiece + i] = Buffer.from(m)));
    done += chunk.bytes;
    options.onProgress?.(done, totalLength);
  }
  const tree: TreeFile[] = [];
  const pieceLayers: { root: Buffer; layer: Buffer }[] = [];
  const attrOfStream: (string | undefined)[] = [];
  next = 0;
  for (const s of stream) {
    const attr = s.padding ? 'p' : attrOf(files[next++]!);
    attrOfStream.push(attr);
    if (s.padding) continue;
    const first = s.offset / pieceLength;
    const count = Math.ceil(s.length / pieceLength);
    let root: Buffer | null = null;
    if (count === 1) root = merkle[first]!;
    else if (count > 1) {
      const hashes = merkle.slice(first, first + count);
      root = rootFromLayer(hashes, pieceLength);
      pieceLayers.push({ root, layer: Buffer.concat(hashes) });
    }
    tree.push({ path: s.path, length: s.length, root, ...optional('attr', attr) });
  }
  // A reader lists a v2-only torrent's files as its aligned stream with the last file's tail
  // padded too (parse.ts, parseV2Only); a hybrid's as its v1 list, which is `stream`.
  const reader = version === 'v2' ? alignedStream(tree, pieceLength, { tailPad: true }) : stream;
  const readerEnd = reader.at(-1)!;
  return {
    readerFiles: reader.length,
    readerLength: readerEnd.offset + readerEnd.length,
    tree,
    pieceLayers,
    pieces,
    // The v1 list (with its padding files) only for a hybrid: a v2-only torrent has none.
    files: walked.directory && version === 'hybrid' ? stream.map((s, i) => ({ path: s.path, length: s.length, ...optional('attr', attrOfStream[i]) })) : null,
    length: totalLength,
    // A single file's attributes sit in the info dictionary beside `length` (v1 side of a hybrid only).
    ...(walked.directory || version === 'v2' ? {} : optional('attr', attrOfStream[0])),
  };
}

/** `{ [key]: value }`, or `{}` for undefined (exactOptionalPropertyTypes). */
function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}
