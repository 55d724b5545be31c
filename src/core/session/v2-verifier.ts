/**
 * The BEP 52 piece check: a piece of a v2 (or hybrid) torrent is right when the merkle root of its
 * 16 KiB blocks equals the hash its file's tree has for it — the piece-layer hash for a file longer
 * than a piece, the file's `pieces root` for a file of one piece.
 *
 * Why it is built this way:
 * - v2 pieces never span files: every file starts on a piece boundary, and the piece stream the
 *   session works on (Metainfo.files) lists the gap after a file as BEP 47 padding, as libtorrent
 *   does. So piece i belongs to exactly one file, and only that file's bytes in the piece are
 *   hashed (the padding after it is no leaf of any tree; the assembler zeroes it anyway).
 * - A piece's leaves fill a piece-wide subtree padded with zero leaves; a file of one piece has a
 *   tree only as wide as its own blocks (rounded up to a power of two). Same rules as
 *   metainfo/merkle.ts, which this reuses.
 * - Large pieces are hashed in the worker pool (one SHA-256 per 16 KiB block), as hasher.ts does
 *   for SHA-1, so the session's thread stays free.
 * - A hybrid torrent is checked both ways (`HybridVerifier`): the SHA-1 of its v1 side and the
 *   merkle root of its v2 side must both hold, as libtorrent checks them; a seed whose two sides
 *   disagree cannot make us keep either.
 */
import type { HashPool } from '../hash/pool.js';
import { blockLeaves, merkleRoot, nextPow2, MERKLE_BLOCK } from '../metainfo/merkle.js';
import type { FileEntry } from '../metainfo/types.js';
import { FileHashTree } from '../pieces/hash-tree.js';
import type { PieceVerifier } from './assembler.js';
import { POOL_MIN_PIECE } from './hasher.js';

/** Where a piece lies: its file (index in Metainfo.files), the file's tree, the piece within the file. */
export interface PieceSpot {
  file: number;
  tree: FileHashTree;
  /** Piece index counted from the file's first piece. */
  inFile: number;
  /** Bytes of the file in the piece (the rest, if any, is padding). */
  bytes: number;
}

/**
 * The trees of a v2 or hybrid torrent, one per non-empty file, with the piece layers the
 * .torrent carries (a magnet's arrive later: `FileHashTree.addLayerHashes`).
 */
export class V2Trees {
  /** Per entry of Metainfo.files: its tree, or null (padding, an empty file). */
  readonly trees: (FileHashTree | null)[];
  private readonly spots: Int32Array;
  private readonly files: readonly Pick<FileEntry, 'offset' | 'length' | 'padding' | 'piecesRoot' | 'pieceLayer'>[];
  readonly pieceLength: number;

  constructor(files: readonly Pick<FileEntry, 'offset' | 'length' | 'padding' | 'piecesRoot' | 'pieceLayer'>[], pieceLength: number, pieceCount: number) {
    this.files = files;
    this.pieceLength = pieceLength;
    this.spots = new Int32Array(pieceCount).fill(-1);
    this.trees = files.map((f, i) => {
      if (f.padding || f.length === 0 || !f.piecesRoot) return null;
      const tree = new FileHashTree(f.piecesRoot, f.length, pieceLength);
      if (f.pieceLayer) tree.setPieceLayer(splitLayer(f.pieceLayer));
      const first = f.offset / pieceLength;
      for (let p = 0; p < tree.pieceCount && first + p < pieceCount; p++) this.spots[first + p] = i;
      return tree;
    });
  }

  /** The file of piece `index`, or null (a piece of no file: cannot happen in a valid torrent). */
  spot(index: number): PieceSpot | null {
    const file = this.spots[index] ?? -1;
    if (file < 0) return null;
    const f = this.files[file]!;
    const tree = this.trees[file]!;
    const inFile = index - f.offset / this.pieceLength;
    return { file, tree, inFile, bytes: Math.min(this.pieceLength, f.length - inFile * this.pieceLength) };
  }

  /** The tree whose `pieces root` is `root`, with its file index. */
  byRoot(root: Uint8Array): FileHashTree | null {
    const r = Buffer.from(root.buffer, root.byteOffset, root.byteLength);
    for (const t of this.trees) if (t && t.root.equals(r)) return t;
    return null;
  }

  /** The torrent-wide index of the first piece of `tree`'s file, or null for a tree not ours. */
  firstPiece(tree: FileHashTree): number | null {
    const i = this.trees.indexOf(tree);
    return i < 0 ? null : this.files[i]!.offset / this.pieceLength;
  }

  /** Each layered file's root and piece layer, as a .torrent's `piece layers` holds them, once known. */
  pieceLayers(): { root: Buffer; layer: Buffer }[] {
    const out: { root: Buffer; layer: Buffer }[] = [];
    for (const t of this.trees) {
      const layer = t?.pieceLayerBytes();
      if (t && layer) out.push({ root: t.root, layer });
    }
    return out;
  }

  /** Whether every file's piece hashes are known (a magnet's piece layers all arrived). */
  get complete(): boolean {
    return this.trees.every((t) => !t || t.complete);
  }

  /** Whether piece `index` can be checked now (its file's piece hashes are known). */
  checkable(index: number): boolean {
    const s = this.spot(index);
    return s !== null && s.tree.pieceHash(s.inFile) !== null;
  }
}

function splitLayer(layer: Uint8Array): Buffer[] {
  const out: Buffer[] = [];
  const b = Buffer.from(layer.buffer, layer.byteOffset, layer.byteLength);
  for (let at = 0; at + 32 <= b.length; at += 32) out.push(b.subarray(at, at + 32));
  return out;
}

export class V2PieceVerifier implements PieceVerifier {
  constructor(
    private readonly v2: V2Trees,
    private readonly pool: HashPool | null,
  ) {}

  async check(index: number, data: Uint8Array): Promise<{ ok: boolean; data: Uint8Array }> {
    const spot = this.v2.spot(index);
    const expected = spot?.tree.pieceHash(spot.inFile) ?? null;
    if (!spot || !expected || spot.bytes > data.length) return { ok: false, data };
    const { leaves, data: back } = await this.leaves(data, spot.bytes);
    const perPiece = this.v2.pieceLength / MERKLE_BLOCK;
    const width = spot.tree.layered ? perPiece : nextPow2(leaves.length);
    return { ok: merkleRoot(leaves, width).equals(expected), data: back };
  }

  /** SHA-256 of each 16 KiB block of the first `bytes` of `data`: in the pool for large pieces. */
  private async leaves(data: Uint8Array, bytes: number): Promise<{ leaves: Buffer[]; data: Uint8Array }> {
    const own = data.byteOffset === 0 && data.buffer instanceof ArrayBuffer;
    if (this.pool && own && this.v2.pieceLength >= POOL_MIN_PIECE) {
      const length = data.length;
      const r = await this.pool.hash(data.buffer as ArrayBuffer, bytes, MERKLE_BLOCK, 'sha256');
      const leaves: Buffer[] = [];
      for (let at = 0; at < r.digests.length; at += 32) leaves.push(Buffer.from(r.digests.subarray(at, at + 32)));
      return { leaves, data: new Uint8Array(r.buffer, 0, length) };
    }
    return { leaves: blockLeaves(data.subarray(0, bytes)), data };
  }
}

/** A hybrid's pieces: the v1 SHA-1 and the v2 merkle check must both hold. */
export class HybridVerifier implements PieceVerifier {
  constructor(
    private readonly v1: PieceVerifier,
    private readonly v2: PieceVerifier,
  ) {}

  async check(index: number, data: Uint8Array): Promise<{ ok: boolean; data: Uint8Array }> {
    const first = await this.v1.check(index, data);
    if (!first.ok) return first;
    return this.v2.check(index, first.data);
  }
}
