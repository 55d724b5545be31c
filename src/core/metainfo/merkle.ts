/**
 * BEP 52 merkle trees: one SHA-256 tree per file, over 16 KiB blocks.
 *
 * - A leaf is the SHA-256 of one 16 KiB block of the file; the last block may be shorter and is
 *   hashed as it is (never padded with zero bytes).
 * - The leaf layer is padded to a power of two with leaves of 32 zero bytes (not the hash of
 *   zeros), so an inner node whose whole subtree is padding is the hash of two such pads: the
 *   "pad hash" of its depth (`padHash`).
 * - `pieces root` is the root of that tree. For a file longer than one piece, the layer whose nodes
 *   each cover one piece is the file's entry in `piece layers`; for a file of one piece or less
 *   there is no layer, and the root covers only the blocks the file has (padded to a power of two
 *   of *blocks*, not of a piece).
 *
 * Pure functions over hashes and bytes; the multi-threaded file hasher computes the same per-piece
 * hashes from disk (src/core/hash/file-hasher.ts) and the tests hold both to this reference.
 */
import { createHash } from 'node:crypto';

/** The merkle leaf size (BEP 52): 16 KiB, also the request block size. */
export const MERKLE_BLOCK = 16 * 1024;
/** Bytes of one SHA-256 node. */
export const NODE = 32;

const sha256 = (...parts: Uint8Array[]): Buffer => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};

/** The smallest power of two ≥ n (1 for n ≤ 1). */
export function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** log2 of a power of two. */
export function log2(p: number): number {
  let d = 0;
  while (2 ** d < p) d++;
  return d;
}

/** The root of a subtree of 2^depth zero leaves (depth 0: the 32 zero bytes themselves). */
export function padHash(depth: number): Buffer {
  let h: Buffer = Buffer.alloc(NODE);
  for (let d = 0; d < depth; d++) h = sha256(h, h);
  return h;
}

/**
 * The root over `nodes` (each 32 bytes) widened to `width` (a power of two ≥ nodes.length) with
 * subtrees of padding whose nodes at this level are `padHash(padDepth)`.
 */
export function merkleRoot(nodes: readonly Uint8Array[], width: number, padDepth = 0): Buffer {
  if (width < nodes.length || nextPow2(width) !== width) throw new RangeError(`merkle width ${width} for ${nodes.length} nodes`);
  let layer: Uint8Array[] = nodes.length > 0 ? [...nodes] : [padHash(padDepth)];
  let pad = padHash(padDepth);
  // Bounded: one turn per level, log2(width) levels.
  for (let w = width; w > 1; w /= 2) {
    const next: Uint8Array[] = [];
    for (let i = 0; i < layer.length; i += 2) next.push(sha256(layer[i]!, layer[i + 1] ?? pad));
    layer = next;
    pad = sha256(pad, pad);
  }
  return Buffer.from(layer[0]!);
}

/** The leaves of `data`: SHA-256 of each 16 KiB block (the last one short). */
export function blockLeaves(data: Uint8Array): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < data.length; at += MERKLE_BLOCK) out.push(sha256(data.subarray(at, Math.min(at + MERKLE_BLOCK, data.length))));
  return out;
}

export interface FileTree {
  /** `pieces root`, or null for an empty file (BEP 52: no root). */
  root: Buffer | null;
  /** The piece layer (concatenated 32-byte hashes), or null for a file of one piece or less. */
  layer: Buffer | null;
}

/** Root and piece layer of a whole file held in memory: the reference the hashers are held to. */
export function fileMerkle(data: Uint8Array, pieceLength: number): FileTree {
  if (data.length === 0) return { root: null, layer: null };
  const leaves = blockLeaves(data);
  if (data.length <= pieceLength) return { root: merkleRoot(leaves, nextPow2(leaves.length)), layer: null };
  const perPiece = pieceLength / MERKLE_BLOCK;
  const pieces: Buffer[] = [];
  for (let i = 0; i < leaves.length; i += perPiece) pieces.push(merkleRoot(leaves.slice(i, i + perPiece), perPiece));
  return { root: rootFromLayer(pieces, pieceLength), layer: Buffer.concat(pieces) };
}

/** The file's root from its piece-layer hashes (a file longer than one piece). */
export function rootFromLayer(pieceHashes: readonly Uint8Array[], pieceLength: number): Buffer {
  return merkleRoot(pieceHashes, nextPow2(pieceHashes.length), log2(pieceLength / MERKLE_BLOCK));
}

/** Split a `piece layers` entry into its 32-byte hashes. */
export function layerHashes(layer: Uint8Array): Buffer[] {
  const out: Buffer[] = [];
  const b = Buffer.from(layer.buffer, layer.byteOffset, layer.byteLength);
  for (let at = 0; at + NODE <= b.length; at += NODE) out.push(b.subarray(at, at + NODE));
  return out;
}

/** Pieces a file of `length` bytes spans in a v2 torrent (each file starts on a piece boundary). */
export const piecesInFile = (length: number, pieceLength: number): number => Math.ceil(length / pieceLength);
