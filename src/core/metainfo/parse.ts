/**
 * Parse and validate a `.torrent` (BEP 3, with BEP 12 tiers, BEP 19 web seeds, BEP 27 private,
 * BEP 47 padding files, and BEP 52 detection). Every defect ends in a `BtError` of category
 * `input` whose code names it (see the fixture table in test/unit/core/metainfo).
 *
 * The infohash is the SHA-1 of the info dictionary's original bytes (found through the decoder's
 * spans), so a non-canonical torrent keeps the identity every other client computes for it.
 */
import { createHash } from 'node:crypto';
import { type BDict, type BValue, decode, isBytes, isDict, isInt, isList, utf8OrNull } from '../bencode/index.js';
import { type CodeOf, inputError } from '../errors.js';
import { unsafePathError } from './paths.js';
import type { FileEntry, Metainfo, MetaVersion, UnsafePath } from './types.js';

export interface ParseOptions {
  /** `lenient` (default) accepts non-canonical bencode and reports it; `strict` refuses it. */
  mode?: 'strict' | 'lenient';
  /**
   * `refuse` (default): an unsafe path (`..`, absolute, reserved…) is an error, as it must be
   * wherever data is written. `report`: it is kept and listed in `unsafePaths`, for a reader that
   * only shows the torrent (`inspect`).
   */
  unsafePaths?: 'refuse' | 'report';
}

/** Largest torrent file we read: a 16 MiB piece list covers ~800k pieces. */
export const MAX_TORRENT_BYTES = 64 * 1024 * 1024;
/** Piece lengths outside this range are refused: no client accepts them. */
export const MIN_PIECE_LENGTH = 1;
export const MAX_PIECE_LENGTH = 1024 * 1024 * 1024;

const bad = (code: CodeOf<'input'>, message: string, detail?: Record<string, unknown>) =>
  inputError(code, message, detail ? { detail } : undefined);

function text(v: BValue | undefined): string | undefined {
  return isBytes(v) ? (utf8OrNull(v) ?? undefined) : undefined;
}

/** A UTF-8 field, preferring its `.utf-8` twin (older clients wrote both). */
function textField(d: BDict, key: string): string | undefined {
  return text(d.get(`${key}.utf-8`)) ?? text(d.get(key));
}

function pathComponents(entry: BDict, index: number): string[] {
  // The `.utf-8` twin wins only when it is a usable list (libtorrent's rule): a broken optional
  // twin must not make a torrent with a good `path` unreadable, as for `name.utf-8`.
  const twin = entry.get('path.utf-8');
  const raw = isList(twin) && twin.length > 0 ? twin : entry.get('path');
  if (!isList(raw)) throw bad('METAINFO_BAD_PATH', `info.files[${index}]: missing or invalid \`path\` list`, { index });
  return raw.map((c, i) => {
    if (!isBytes(c)) throw bad('METAINFO_BAD_PATH', `info.files[${index}].path[${i}] is not a string`, { index });
    const s = utf8OrNull(c);
    if (s === null) throw bad('METAINFO_PATH_NOT_UTF8', `info.files[${index}].path[${i}] is not valid UTF-8`, { index });
    return s;
  });
}

function lengthOf(v: BValue | undefined, where: string): number {
  if (!isInt(v)) throw bad('METAINFO_BAD_LENGTH', `${where}: missing or non-integer \`length\``);
  if (typeof v === 'bigint' || v < 0) throw bad('METAINFO_BAD_LENGTH', `${where}: length \`${v}\` is out of range`);
  return v;
}

function trackersOf(root: BDict): string[][] {
  const list = root.get('announce-list');
  const tiers: string[][] = [];
  if (isList(list)) {
    for (const tier of list) {
      if (!isList(tier)) continue;
      const urls = tier.map(text).filter((u): u is string => !!u && u.length > 0);
      if (urls.length > 0) tiers.push(urls);
    }
  }
  // BEP 12: when announce-list is present, announce is ignored.
  if (tiers.length === 0) {
    const a = text(root.get('announce'));
    if (a) tiers.push([a]);
  }
  return tiers;
}

function webSeedsOf(root: BDict): string[] {
  const v = root.get('url-list');
  if (isBytes(v)) {
    const s = text(v);
    return s ? [s] : [];
  }
  if (isList(v)) return v.map(text).filter((u): u is string => !!u);
  return [];
}

function nodesOf(root: BDict): string[] {
  const v = root.get('nodes');
  if (!isList(v)) return [];
  const out: string[] = [];
  for (const n of v) {
    if (isList(n) && n.length === 2 && isBytes(n[0]) && isInt(n[1])) {
      const host = text(n[0]);
      if (host) out.push(host.includes(':') ? `[${host}]:${n[1]}` : `${host}:${n[1]}`);
    }
  }
  return out;
}

/** Parse a torrent from its bytes. */
export function parseTorrent(bytes: Uint8Array, options: ParseOptions = {}): Metainfo {
  if (bytes.length > MAX_TORRENT_BYTES) {
    throw bad('METAINFO_TOO_LARGE', `torrent is ${bytes.length} bytes; the limit is ${MAX_TORRENT_BYTES}`);
  }
  const decoded = decode(bytes, { mode: options.mode ?? 'lenient' });
  const unsafePaths: UnsafePath[] = [];
  const checkPath = (components: string[], where: string) => {
    const err = unsafePathError(components, where);
    if (!err) return;
    if (options.unsafePaths !== 'report') throw err;
    unsafePaths.push({ where, path: components, code: err.code, message: err.message });
  };
  const root = decoded.value;
  if (!isDict(root)) throw bad('METAINFO_NOT_DICT', 'torrent: the top level is not a dictionary');
  const info = root.get('info');
  if (!isDict(info)) throw bad('METAINFO_MISSING_INFO', 'torrent: missing `info` dictionary');
  const span = decoded.spanOf(info)!;
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const infoBytes = buf.subarray(span.start, span.end);

  const metaVersion = info.get('meta version');
  const hasV1 = info.has('pieces');
  const hasV2 = isInt(metaVersion) && metaVersion === 2;
  if (isInt(metaVersion) && metaVersion !== 2) {
    throw bad('METAINFO_BAD_META_VERSION', `info: unsupported \`meta version\` ${metaVersion}`);
  }
  const version: MetaVersion = hasV2 ? (hasV1 ? 'hybrid' : 'v2') : 'v1';
  if (version === 'v2') {
    throw bad('METAINFO_V2_ONLY_UNSUPPORTED', 'torrent is v2-only (BEP 52); btkit reads v1 and hybrid torrents for now');
  }

  if (!info.has('name')) throw bad('METAINFO_MISSING_NAME', 'info: missing `name`');
  const name = textField(info, 'name');
  if (name === undefined) throw bad('METAINFO_BAD_NAME', 'info: `name` is not a UTF-8 string');
  checkPath([name], 'info.name');

  const pl = info.get('piece length');
  if (!isInt(pl)) throw bad('METAINFO_BAD_PIECE_LENGTH', 'info: missing or non-integer `piece length`');
  if (typeof pl === 'bigint' || pl < MIN_PIECE_LENGTH || pl > MAX_PIECE_LENGTH) {
    throw bad('METAINFO_BAD_PIECE_LENGTH', `info: piece length \`${pl}\` is out of range (1 B to 1 GiB)`);
  }
  const pieceLength = pl;

  const piecesRaw = info.get('pieces');
  if (!isBytes(piecesRaw)) throw bad('METAINFO_BAD_PIECES', 'info: missing or non-string `pieces`');
  if (piecesRaw.length % 20 !== 0) {
    throw bad('METAINFO_BAD_PIECES', `info: \`pieces\` is ${piecesRaw.length} bytes, not a multiple of 20`);
  }
  const pieces = Buffer.from(piecesRaw.buffer, piecesRaw.byteOffset, piecesRaw.byteLength);

  const files: FileEntry[] = [];
  const filesRaw = info.get('files');
  const multiFile = filesRaw !== undefined;
  if (multiFile && info.has('length')) throw bad('METAINFO_BAD_FILES', 'info: has both `length` and `files`');
  let offset = 0;
  if (multiFile) {
    if (!isList(filesRaw) || filesRaw.length === 0) throw bad('METAINFO_BAD_FILES', 'info: `files` is not a non-empty list');
    const seen = new Set<string>();
    const dirs = new Set<string>();
    filesRaw.forEach((entry, index) => {
      if (!isDict(entry)) throw bad('METAINFO_BAD_FILES', `info.files[${index}] is not a dictionary`, { index });
      const length = lengthOf(entry.get('length'), `info.files[${index}]`);
      const path = pathComponents(entry, index);
      checkPath(path, `info.files[${index}]`);
      const attr = text(entry.get('attr')) ?? '';
      const key = path.join('/');
      const padding = attr.includes('p');
      // Padding files are never written, so a repeated `.pad/N` path is harmless (BEP 47).
      if (!padding) {
        if (seen.has(key)) throw bad('METAINFO_DUPLICATE_PATH', `info.files[${index}]: path \`${key}\` appears twice`, { index });
        if (dirs.has(key)) throw bad('METAINFO_DUPLICATE_PATH', `info.files[${index}]: \`${key}\` is both a file and a directory`, { index });
        for (let i = 1; i < path.length; i++) {
          const prefix = path.slice(0, i).join('/');
          if (seen.has(prefix)) throw bad('METAINFO_DUPLICATE_PATH', `info.files[${index}]: \`${prefix}\` is both a file and a directory`, { index });
          dirs.add(prefix);
        }
        seen.add(key);
      }
      const file: FileEntry = { path, length, offset, attr, padding };
      const symlink = entry.get('symlink path');
      if (attr.includes('l') && isList(symlink)) file.symlinkPath = symlink.map((c) => text(c) ?? '');
      files.push(file);
      offset += length;
      if (!Number.isSafeInteger(offset)) throw bad('METAINFO_BAD_LENGTH', 'info: total length overflows');
    });
  } else {
    const length = lengthOf(info.get('length'), 'info');
    files.push({ path: [name], length, offset: 0, attr: text(info.get('attr')) ?? '', padding: false });
    offset = length;
  }
  const totalLength = offset;
  const expectedPieces = Math.ceil(totalLength / pieceLength);
  const pieceCount = pieces.length / 20;
  if (pieceCount !== expectedPieces) {
    throw bad(
      'METAINFO_PIECE_COUNT_MISMATCH',
      `info: ${pieceCount} piece hashes for ${totalLength} bytes at piece length ${pieceLength} (expected ${expectedPieces})`,
      { pieceCount, expectedPieces },
    );
  }

  const priv = info.get('private');
  const creation = root.get('creation date');
  const meta: Metainfo = {
    version,
    infoHash: {
      v1: createHash('sha1').update(infoBytes).digest(),
      v2: version === 'hybrid' ? createHash('sha256').update(infoBytes).digest() : null,
    },
    infoBytes,
    name,
    pieceLength,
    pieces,
    pieceCount,
    files,
    multiFile,
    totalLength,
    private: isInt(priv) && Number(priv) === 1,
    trackers: trackersOf(root),
    webSeeds: webSeedsOf(root),
    dhtNodes: nodesOf(root),
    raw: root,
    nonCanonical: decoded.nonCanonical,
  };
  if (unsafePaths.length > 0) meta.unsafePaths = unsafePaths;
  const source = textField(info, 'source');
  if (source !== undefined) meta.source = source;
  const comment = textField(root, 'comment');
  if (comment !== undefined) meta.comment = comment;
  const createdBy = textField(root, 'created by');
  if (createdBy !== undefined) meta.createdBy = createdBy;
  if (isInt(creation)) meta.creationDate = Number(creation);
  const encoding = text(root.get('encoding'));
  if (encoding !== undefined) meta.encoding = encoding;
  return meta;
}

/** The length of piece `index` (the last piece is usually shorter): the pieces' own, re-exported. */
export { pieceSize } from '../pieces/geometry.js';

/** The expected SHA-1 of piece `index`. */
export function pieceHash(meta: Pick<Metainfo, 'pieces'>, index: number): Buffer {
  return meta.pieces.subarray(index * 20, index * 20 + 20);
}
