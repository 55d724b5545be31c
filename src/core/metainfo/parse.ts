/**
 * Parse and validate a `.torrent` (BEP 3, with BEP 12 tiers, BEP 19 web seeds, BEP 27 private,
 * BEP 47 padding files, and BEP 52 v2 and hybrid torrents). Every defect ends in a `BtError` of
 * category `input` whose code names it (see the fixture table in test/unit/core/metainfo).
 *
 * The infohashes are over the info dictionary's original bytes (found through the decoder's
 * spans), so a non-canonical torrent keeps the identity every other client computes for it: v1 is
 * their SHA-1, v2 their SHA-256 (BEP 52; its first 20 bytes stand for it in handshakes).
 *
 * BEP 52 parts: the `file tree` (file-tree.ts, bounded); a hybrid's v1 `files` must describe the
 * same files in the same order, each on a piece boundary (METAINFO_HYBRID_MISMATCH); every
 * `piece layers` entry present for a file longer than one piece must be 32 bytes per piece
 * (METAINFO_BAD_PIECE_LAYERS) and fold to the file's root (METAINFO_PIECE_LAYER_MISMATCH). A
 * missing layer is not an error (a client fetches layers from peers; `verify` then judges the file
 * by its root alone) but is listed in `pieceLayers`.
 */
import { createHash } from 'node:crypto';
import { type BDict, type BValue, decode, isBytes, isDict, isInt, isList, utf8OrNull } from '../bencode/index.js';
import { type CodeOf, inputError } from '../errors.js';
import { decodeFileTree, type TreeEntry } from './file-tree.js';
import { layerHashes, MERKLE_BLOCK, NODE, rootFromLayer } from './merkle.js';
import { unsafePathError } from './paths.js';
import { isPowerOfTwo } from './piece-length.js';
import type { FileEntry, Metainfo, MetaVersion, PieceLayerCheck, UnsafePath } from './types.js';
import { alignedStream } from './v2-layout.js';

export interface ParseOptions {
  /** `lenient` (default) accepts non-canonical bencode and reports it; `strict` refuses it. */
  mode?: 'strict' | 'lenient';
  /**
   * `refuse` (default): an unsafe path (`..`, absolute, reserved…) is an error, as it must be
   * wherever data is written. `report`: it is kept and listed in `unsafePaths`, for a reader that
   * only shows the torrent (`inspect`).
   */
  unsafePaths?: 'refuse' | 'report';
  /**
   * Accept v2-only torrents (BEP 52, no v1 `pieces`). Off by default, so a reader that only knows
   * v1 pieces (download, seed today) gets METAINFO_V2_ONLY_UNSUPPORTED instead of a torrent it
   * cannot verify; `inspect`, `magnet` and `verify` turn it on.
   */
  allowV2Only?: boolean;
  /**
   * `refuse` (default): a piece layer of the wrong length or one that does not fold to its root is
   * an error. `report`: it is kept in `pieceLayers` with its code (for `inspect`).
   */
  pieceLayers?: 'refuse' | 'report';
  /** Bound on the files of a `file tree` (default MAX_FILE_TREE_FILES). */
  maxFiles?: number;
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

/** BEP 19 `url-list` or BEP 17 `httpseeds`: a list of URLs (a single string is taken as a list of one). */
function webSeedsOf(root: BDict, key = 'url-list'): string[] {
  const v = root.get(key);
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
  const infoDict: BDict = info;
  const rootDict: BDict = root;
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
  if (version === 'v2' && !options.allowV2Only) {
    throw bad('METAINFO_V2_ONLY_UNSUPPORTED', 'torrent is v2-only (BEP 52); this command reads v1 and hybrid torrents for now (inspect, magnet and verify read v2)');
  }

  if (!info.has('name')) throw bad('METAINFO_MISSING_NAME', 'info: missing `name`');
  const name = textField(info, 'name');
  if (name === undefined) throw bad('METAINFO_BAD_NAME', 'info: `name` is not a UTF-8 string');
  checkPath([name], 'info.name');
  const nameText = name;

  const pl = info.get('piece length');
  if (!isInt(pl)) throw bad('METAINFO_BAD_PIECE_LENGTH', 'info: missing or non-integer `piece length`');
  if (typeof pl === 'bigint' || pl < MIN_PIECE_LENGTH || pl > MAX_PIECE_LENGTH) {
    throw bad('METAINFO_BAD_PIECE_LENGTH', `info: piece length \`${pl}\` is out of range (1 B to 1 GiB)`);
  }
  const pieceLength = pl;
  if (hasV2 && (!isPowerOfTwo(pieceLength) || pieceLength < MERKLE_BLOCK)) {
    throw bad('METAINFO_BAD_PIECE_LENGTH', `info: piece length \`${pieceLength}\` is not a power of two of at least 16 KiB, as BEP 52 requires`);
  }
  let tree: TreeEntry[] | null = null;
  if (hasV2) {
    const treeRaw = info.get('file tree');
    tree = decodeFileTree(treeRaw, { checkPath, ...(options.maxFiles !== undefined ? { maxFiles: options.maxFiles } : {}) });
    // Lenient decoding keeps the first of two equal keys; in a file tree that is two files at one path.
    const span = isDict(treeRaw) ? decoded.spanOf(treeRaw) : undefined;
    const dup = span && decoded.nonCanonical.find((n) => n.kind === 'duplicate-key' && n.offset >= span.start && n.offset < span.end);
    if (dup) throw bad('METAINFO_DUPLICATE_PATH', `info.file tree: a name repeated in one directory (byte ${dup.offset})`, { offset: dup.offset });
  }
  if (version === 'v2') return finish(parseV2Only(tree!, name, pieceLength));

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

  if (tree) matchHybrid(files, tree, pieceLength);
  return finish({ pieces, pieceCount, files, multiFile, totalLength });

  function finish(layout: Pick<Metainfo, 'pieces' | 'pieceCount' | 'files' | 'multiFile' | 'totalLength'>): Metainfo {
    const priv = infoDict.get('private');
    const creation = rootDict.get('creation date');
    const meta: Metainfo = {
      version,
      infoHash: {
        v1: version === 'v2' ? null : createHash('sha1').update(infoBytes).digest(),
        v2: version === 'v1' ? null : createHash('sha256').update(infoBytes).digest(),
      },
      infoBytes,
      name: nameText,
      pieceLength,
      ...layout,
      private: isInt(priv) && Number(priv) === 1,
      trackers: trackersOf(rootDict),
      webSeeds: webSeedsOf(rootDict),
      httpSeeds: webSeedsOf(rootDict, 'httpseeds'),
      dhtNodes: nodesOf(rootDict),
      raw: rootDict,
      nonCanonical: decoded.nonCanonical,
    };
    if (unsafePaths.length > 0) meta.unsafePaths = unsafePaths;
    if (version !== 'v1') meta.pieceLayers = checkLayers(rootDict, meta, options.pieceLayers ?? 'refuse');
    const source = textField(infoDict, 'source');
    if (source !== undefined) meta.source = source;
    const comment = textField(rootDict, 'comment');
    if (comment !== undefined) meta.comment = comment;
    const createdBy = textField(rootDict, 'created by');
    if (createdBy !== undefined) meta.createdBy = createdBy;
    if (isInt(creation)) meta.creationDate = Number(creation);
    const encoding = text(rootDict.get('encoding'));
    if (encoding !== undefined) meta.encoding = encoding;
    return meta;
  }
}

  /**
   * A v2-only torrent's files as the aligned stream BEP 52 implies (each file on a piece boundary):
   * the gaps (and the last file's tail) become padding entries, as libtorrent lists them, so piece arithmetic is the same for
   * v2, hybrid and v1. A torrent is single-file when its tree is one file named as the torrent.
   */
function parseV2Only(tree: TreeEntry[], name: string, pieceLength: number): Pick<Metainfo, 'pieces' | 'pieceCount' | 'files' | 'multiFile' | 'totalLength'> {
  const multiFile = !(tree.length === 1 && tree[0]!.path.length === 1 && tree[0]!.path[0] === name);
  // libtorrent 2.0.8 lists a tail pad after the last file of a v2-only torrent, a single file's
  // too (its total size is whole pieces, and it requests the last piece's blocks as whole 16 KiB
  // blocks of that padded stream); so do we: the same piece arithmetic on the wire.
  const stream = alignedStream(tree, pieceLength, { tailPad: true });
  let next = 0;
  const files: FileEntry[] = stream.map((s) => {
    if (s.padding) return { path: s.path, length: s.length, offset: s.offset, attr: 'p', padding: true };
    const t = tree[next++]!;
    const f: FileEntry = { path: t.path, length: t.length, offset: s.offset, attr: t.attr, padding: false };
    if (t.root) f.piecesRoot = t.root;
    return f;
  });
  const last = stream.at(-1)!;
  const totalLength = last.offset + last.length;
  if (!Number.isSafeInteger(totalLength)) throw bad('METAINFO_BAD_LENGTH', 'info: total length overflows');
  return { pieces: Buffer.alloc(0), pieceCount: Math.ceil(totalLength / pieceLength), files, multiFile, totalLength };
}

/**
 * A hybrid's v1 file list must be the file tree's files, in tree order, each starting on a piece
 * boundary (BEP 52 "upgrade path"); otherwise the two infohashes name different data. Fills in
 * each v1 file's `piecesRoot`.
 */
function matchHybrid(files: FileEntry[], tree: TreeEntry[], pieceLength: number): void {
  const real = files.filter((f) => !f.padding);
  const mismatch = (message: string, detail: Record<string, unknown>) => bad('METAINFO_HYBRID_MISMATCH', `hybrid torrent: ${message}`, detail);
  if (real.length !== tree.length) throw mismatch(`${real.length} v1 files but ${tree.length} in the file tree`, { v1: real.length, v2: tree.length });
  real.forEach((f, i) => {
    const t = tree[i]!;
    if (f.path.join('/') !== t.path.join('/') || f.length !== t.length) {
      throw mismatch(`v1 file ${i} \`${f.path.join('/')}\` (${f.length} bytes) is not the file tree's \`${t.path.join('/')}\` (${t.length} bytes)`, { index: i });
    }
    if (f.length > 0 && f.offset % pieceLength !== 0) throw mismatch(`v1 file \`${f.path.join('/')}\` does not start on a piece boundary (no BEP 47 padding before it)`, { index: i });
    if (t.root) f.piecesRoot = t.root;
  });
}

/** Check each file's `piece layers` entry against its root (see the module comment). */
function checkLayers(root: BDict, meta: Metainfo, mode: 'refuse' | 'report'): PieceLayerCheck[] {
  const raw = root.get('piece layers');
  if (raw !== undefined && !isDict(raw)) throw bad('METAINFO_BAD_PIECE_LAYERS', '`piece layers` is not a dictionary');
  const checks: PieceLayerCheck[] = [];
  meta.files.forEach((f, index) => {
    if (f.padding || !f.piecesRoot || f.length <= meta.pieceLength) return;
    const path = meta.multiFile ? [meta.name, ...f.path].join('/') : meta.name;
    const layer = raw?.get(f.piecesRoot.toString('latin1'));
    const pieces = Math.ceil(f.length / meta.pieceLength);
    if (layer === undefined) {
      checks.push({ index, path, status: 'missing' });
      return;
    }
    let problem: { code: CodeOf<'input'>; message: string; status: PieceLayerCheck['status'] } | null = null;
    if (!isBytes(layer) || layer.length !== pieces * NODE) {
      problem = { status: 'bad-length', code: 'METAINFO_BAD_PIECE_LAYERS', message: `piece layer of \`${path}\` is ${isBytes(layer) ? layer.length : 'not a string of'} bytes; ${pieces} pieces need ${pieces * NODE}` };
    } else if (!rootFromLayer(layerHashes(layer), meta.pieceLength).equals(f.piecesRoot)) {
      problem = { status: 'mismatch', code: 'METAINFO_PIECE_LAYER_MISMATCH', message: `piece layer of \`${path}\` does not hash to its pieces root` };
    }
    if (problem && mode === 'refuse') throw bad(problem.code, problem.message, { index, path });
    if (!problem) f.pieceLayer = Buffer.from(layer as Uint8Array);
    checks.push(problem ? { index, path, ...problem } : { index, path, status: 'ok' });
  });
  return checks;
}

/** The length of piece `index` (the last piece is usually shorter): the pieces' own, re-exported. */
export { pieceSize } from '../pieces/geometry.js';

/** The expected SHA-1 of piece `index`. */
export function pieceHash(meta: Pick<Metainfo, 'pieces'>, index: number): Buffer {
  return meta.pieces.subarray(index * 20, index * 20 + 20);
}
