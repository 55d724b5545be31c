/**
 * Build a `.torrent` from a file list and its hashes: v1 (BEP 3 with BEP 12 tiers, BEP 19
 * url-list, BEP 27 private), v2 (BEP 52: `file tree`, `meta version` 2, `piece layers`) or a
 * hybrid of both (BEP 52 "upgrade path": the v1 `pieces` and `files`, with BEP 47 padding files,
 * beside the v2 fields in one info dictionary). Pure: the bytes depend only on the input, so with
 * `creationDate` and `createdBy` omitted the output is byte-reproducible.
 */
import { Encoded, encodeWithSpan, keyOf, type BEncodable } from '../bencode/index.js';
import { assertSafePath } from './paths.js';
import type { MetaVersion } from './types.js';

/** A file of a v2 `file tree`: path below the name (`[name]` for a single file), its root (null when empty). */
export interface TreeFile {
  path: string[];
  length: number;
  root: Buffer | null;
  /** BEP 47 attributes (`x` executable), in the file's '' dictionary. */
  attr?: string;
}

export interface BuildInput {
  name: string;
  pieceLength: number;
  /** Concatenated 20-byte SHA-1 piece hashes. */
  pieces: Uint8Array;
  /** v1 `files` below the name (multi-file; padding files with `attr: 'p'`) — or null for a single-file torrent of `length` bytes. */
  files: { path: string[]; length: number; attr?: string }[] | null;
  /** 'v1' (default), 'v2' (no `pieces`/`files`/`length`) or 'hybrid'. */
  version?: MetaVersion;
  /** v2 and hybrid: the file tree's files, in tree order. */
  tree?: TreeFile[];
  /** v2 and hybrid: `piece layers`, for every file longer than one piece. */
  pieceLayers?: { root: Buffer; layer: Buffer }[];
  length?: number;
  /** A single-file torrent's BEP 47 attributes (v1 and hybrid: in the info dictionary). */
  attr?: string;
  trackers?: string[][];
  webSeeds?: string[];
  private?: boolean;
  source?: string;
  comment?: string;
  createdBy?: string;
  /** Seconds since the epoch. */
  creationDate?: number;
}

export function buildTorrent(input: BuildInput): Buffer {
  return buildTorrentParts(input).torrent;
}

/** The torrent and, within it, its info dictionary's bytes (what the infohashes are over). */
export function buildTorrentParts(input: BuildInput): { torrent: Buffer; infoBytes: Buffer } {
  assertSafePath([input.name], 'name');
  const version = input.version ?? 'v1';
  const info: Record<string, BEncodable | undefined> = {
    name: input.name,
    'piece length': input.pieceLength,
    private: input.private ? 1 : undefined,
    source: input.source,
  };
  if (version !== 'v2') {
    info.pieces = input.pieces;
    if (input.files) {
      info.files = input.files.map((f) => {
        // A padding file's `.pad` is a name no client writes to disk (BEP 47).
        if (!f.attr?.includes('p')) assertSafePath(f.path, 'file');
        return { attr: f.attr || undefined, length: f.length, path: f.path };
      });
    } else {
      info.length = input.length ?? 0;
      info.attr = input.attr || undefined;
    }
  }
  let layers: Map<string, BEncodable> | undefined;
  if (version !== 'v1') {
    info['meta version'] = 2;
    info['file tree'] = encodeSortedTree(input.tree ?? []) ?? fileTree(input.tree ?? []);
    layers = new Map((input.pieceLayers ?? []).map(({ root, layer }) => [root.toString('latin1'), layer]));
  }
  const tiers = (input.trackers ?? []).filter((t) => t.length > 0);
  const root: Record<string, BEncodable | undefined> = {
    announce: tiers[0]?.[0],
    // BEP 12: write announce-list only when it says more than announce does.
    'announce-list': tiers.length > 1 || (tiers[0]?.length ?? 0) > 1 ? tiers : undefined,
    comment: input.comment,
    'created by': input.createdBy,
    'creation date': input.creationDate,
    info,
    // BEP 52: outside the info dictionary (peers fetch layers with hash requests), always present in a v2 file.
    'piece layers': layers,
    'url-list': input.webSeeds && input.webSeeds.length > 0 ? input.webSeeds : undefined,
  };
  const { bytes, span } = encodeWithSpan(root, info);
  return { torrent: bytes, infoBytes: bytes.subarray(span!.start, span!.end) };
}

/** BEP 52 `file tree`: a dictionary per directory; a file is a node whose only key is '' (empty files have no root). */
function fileTree(files: readonly TreeFile[]): Map<string, BEncodable> {
  const root = new Map<string, BEncodable>();
  for (const f of files) {
    assertSafePath(f.path, 'file');
    let dir = root;
    f.path.forEach((component, i) => {
      const key = keyOf(component);
      if (i === f.path.length - 1) {
        dir.set(key, new Map([['', { attr: f.attr || undefined, length: f.length, 'pieces root': f.root ?? undefined }]]));
        return;
      }
      let next = dir.get(key);
      if (!(next instanceof Map)) {
        next = new Map<string, BEncodable>();
        dir.set(key, next);
      }
      dir = next as Map<string, BEncodable>;
    });
  }
  return root;
}

/**
 * The `file tree` written straight from files already in strict tree order (as `create` lists
 * them), as one string of latin-1 chars (one per byte) with no dictionary per directory or per
 * file: on 10,000 files the generic path (a Map per directory, an object per file, then sorting
 * each) was a fifth of a cold `create --v2`. Null when the files are not in strict tree order (a
 * repeat, a file that is also a directory, or unsorted): the generic path then sorts or refuses.
 */
function encodeSortedTree(files: readonly TreeFile[]): Encoded | null {
  let out = 'd';
  let prev: string[] = [];
  for (const f of files) {
    assertSafePath(f.path, 'file');
    if (f.path.length === 0 || !Number.isSafeInteger(f.length) || f.length < 0) return null;
    // Binary-string keys: comparing them compares their UTF-8 bytes (bencode/types.ts).
    const keys = f.path.map(keyOf);
    let i = 0;
    while (i < prev.length && i < keys.length && prev[i] === keys[i]) i++;
    // Strictly after the previous file, at a component where both go on (not a prefix of it).
    if (prev.length > 0 && (i === prev.length || i === keys.length || prev[i]! > keys[i]!)) return null;
    // Close the previous file's directories below the shared ones, open this one's.
    for (let d = prev.length - 1; d > i; d--) out += 'e';
    for (let d = i; d < keys.length; d++) out += `${keys[d]!.length}:${keys[d]!}` + (d < keys.length - 1 ? 'd' : '');
    // {'': {attr, length, pieces root}}, keys in byte order.
    out += 'd0:d';
    if (f.attr) {
      const attr = keyOf(f.attr);
      out += `4:attr${attr.length}:${attr}`;
    }
    out += `6:lengthi${f.length}e`;
    if (f.root) out += `11:pieces root${f.root.length}:${f.root.toString('latin1')}`;
    out += 'ee';
    prev = keys;
  }
  for (let d = prev.length - 1; d > 0; d--) out += 'e';
  return new Encoded(Buffer.from(out + 'e', 'latin1'));
}
