/**
 * BEP 52 `file tree` decoder, bounded.
 *
 * The tree is a dictionary per directory whose keys are path components; a file is a node whose
 * only key is the empty string, mapping to `{length, pieces root}` (no root for an empty file).
 * A hostile tree can be deep, wide, or name things that must never be written (`..`, ``), so the
 * walk is iterative with an explicit stack, stops past MAX_FILE_TREE_DEPTH components or
 * `maxFiles` files, and every defect is a typed input error:
 *
 *   METAINFO_BAD_FILE_TREE            not a dictionary, a node that is neither a file nor a
 *                                     directory, a file node with other keys, no files at all
 *   METAINFO_FILE_TREE_TOO_DEEP       a path of more than MAX_FILE_TREE_DEPTH components
 *   METAINFO_FILE_TREE_TOO_MANY_FILES more than `maxFiles` files
 *   METAINFO_BAD_LENGTH               a missing, negative or non-integer `length`
 *   METAINFO_BAD_PIECES_ROOT          a non-empty file without a 32-byte `pieces root`
 *   METAINFO_PATH_NOT_UTF8            a component that is not UTF-8
 *   METAINFO_DUPLICATE_PATH           a key repeated in one directory (only lenient decoding
 *                                     lets that through; strict refuses the bencode itself)
 *   METAINFO_PATH_EMPTY / _TRAVERSAL / _ABSOLUTE / _RESERVED   unsafe components, through the
 *                                     caller's `checkPath` (paths.ts), so `inspect` can report them
 */
import { type BDict, type BValue, isBytes, isDict, isInt, keyBytes, utf8OrNull } from '../bencode/index.js';
import { type CodeOf, inputError } from '../errors.js';

/** Path components a file may have below the name; the bencode depth limit (64) stops far deeper trees first. */
export const MAX_FILE_TREE_DEPTH = 48;
/** Files in one tree; the same bound as `create`'s walk. */
export const MAX_FILE_TREE_FILES = 1_000_000;

export interface TreeEntry {
  /** Components below the torrent name. */
  path: string[];
  length: number;
  /** 32 bytes, or null for an empty file. */
  root: Buffer | null;
  attr: string;
}

export interface FileTreeOptions {
  maxFiles?: number;
  /** Called with each file's path: throws for an unsafe one, or records it (inspect). */
  checkPath: (components: string[], where: string) => void;
}

const bad = (code: CodeOf<'input'>, message: string, detail?: Record<string, unknown>) => inputError(code, message, detail ? { detail } : undefined);

/**
 * Whether `node` is a file (`{'': {length, pieces root}}`) rather than a directory. The '' key is
 * both the file marker and a possible (unsafe) empty name: `{'': {'': {…}}}` is a directory
 * holding a file named ''. A file's dictionary holds integers and strings only, so a '' entry
 * whose value holds a dictionary is a child named '', walked into so that its files' paths reach
 * the path check as METAINFO_PATH_EMPTY (not a misleading METAINFO_BAD_LENGTH).
 */
function isFileNode(node: BDict): boolean {
  const leaf = node.get('');
  if (leaf === undefined) return false;
  if (!isDict(leaf)) return true;
  for (const v of leaf.values()) if (isDict(v)) return false;
  return true;
}

/** The files of a file tree, in tree order (keys by their bytes at each level). */
export function decodeFileTree(tree: BValue | undefined, options: FileTreeOptions): TreeEntry[] {
  if (!isDict(tree)) throw bad('METAINFO_BAD_FILE_TREE', 'info: `file tree` is not a dictionary');
  const maxFiles = options.maxFiles ?? MAX_FILE_TREE_FILES;
  const out: TreeEntry[] = [];
  // Depth-first, children in reverse so they pop in key order; each node is visited once.
  const stack: { node: BDict; path: string[] }[] = [{ node: tree, path: [] }];
  while (stack.length > 0) {
    const { node, path } = stack.pop()!;
    const where = path.length === 0 ? 'info.file tree' : `info.file tree/${path.join('/')}`;
    if (isFileNode(node)) {
      // A file node at the top is a file with an empty name: unsafe like any other (kept for inspect).
      if (path.length === 0) path.push('');
      if (node.size !== 1) throw bad('METAINFO_BAD_FILE_TREE', `${where}: a file node with other keys beside ''`, { path });
      const leaf = node.get('');
      if (!isDict(leaf)) throw bad('METAINFO_BAD_FILE_TREE', `${where}: the '' entry is not a dictionary`, { path });
      const length = leaf.get('length');
      if (!isInt(length) || typeof length === 'bigint' || length < 0) throw bad('METAINFO_BAD_LENGTH', `${where}: missing or invalid \`length\``, { path });
      const rootRaw = leaf.get('pieces root');
      let root: Buffer | null = null;
      if (length > 0) {
        if (!isBytes(rootRaw) || rootRaw.length !== 32) throw bad('METAINFO_BAD_PIECES_ROOT', `${where}: a non-empty file needs a 32-byte \`pieces root\``, { path });
        root = Buffer.from(rootRaw.buffer, rootRaw.byteOffset, rootRaw.byteLength);
      }
      const attrRaw = leaf.get('attr');
      options.checkPath(path, where);
      if (out.length >= maxFiles) throw bad('METAINFO_FILE_TREE_TOO_MANY_FILES', `info.file tree: more than ${maxFiles} files`, { maxFiles });
      out.push({ path, length, root, attr: isBytes(attrRaw) ? (utf8OrNull(attrRaw) ?? '') : '' });
      continue;
    }
    if (path.length >= MAX_FILE_TREE_DEPTH) {
      throw bad('METAINFO_FILE_TREE_TOO_DEEP', `${where}: deeper than ${MAX_FILE_TREE_DEPTH} components`, { depth: path.length });
    }
    const keys = [...node.keys()].sort((a, b) => (a < b ? 1 : a > b ? -1 : 0));
    for (const key of keys) {
      const child = node.get(key);
      const name = utf8OrNull(keyBytes(key));
      if (name === null) throw bad('METAINFO_PATH_NOT_UTF8', `${where}: a name that is not valid UTF-8`, { path });
      if (!isDict(child)) throw bad('METAINFO_BAD_FILE_TREE', `${where}/${name}: neither a file nor a directory`, { path: [...path, name] });
      stack.push({ node: child, path: [...path, name] });
    }
  }
  if (out.length === 0) throw bad('METAINFO_BAD_FILE_TREE', 'info: `file tree` has no files');
  return out;
}
