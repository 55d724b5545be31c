/**
 * One file's BEP 52 merkle tree from its piece layer up, and the proofs of the hash messages
 * (`hash request` / `hashes` / `hash reject`, wire/messages.ts) over it.
 *
 * Layers are counted as BEP 52 counts them on the wire: from the leaves (0: the hashes of the
 * 16 KiB blocks) up. A file longer than one piece has a *piece layer* (layer log2(piece length /
 * 16 KiB)), whose hashes the torrent's `piece layers` lists, or which a peer that has only the
 * info dictionary (a `btmh` magnet) asks its peers for. A file of one piece or less has no piece
 * layer: its `pieces root` is the hash of its one piece.
 *
 * A `hashes` message carries `length` hashes of the base layer, then the *proof* (uncle) hashes:
 * the sibling of the range's ancestor at each layer from log2(length) up to `proofLayers` (counted
 * above the base), bottom first — as libtorrent sends and reads them (libtorrent's
 * merkle_tree::get_hashes; for a range of one hash it starts a layer higher, at its parent's
 * sibling, and so do we). With `proofLayers` = the tree's height above the base minus one, the
 * hashes fold all the way to the root, which is known (from the info dictionary), so they are
 * proven without trusting the sender.
 *
 * Serving: the piece layer and the layers above it are kept (`serve`); a request below them (the
 * block layer, 0, that libtorrent asks for to find the bad block of a failed piece) needs the
 * leaves of the pieces it touches, which the caller reads from disk (`piecesFor`, then
 * `serveFromLeaves`): each piece's subtree is rebuilt and must fold to the piece's known hash, so
 * a changed file on disk is refused, never served as a proof.
 *
 * Pure: hashes in, hashes out.
 */
import { createHash } from 'node:crypto';

/** The merkle leaf (BEP 52): 16 KiB. */
const LEAF = 16 * 1024;
const NODE = 32;
/** Hashes fetched per request (libtorrent asks for and expects piece-layer chunks of 512). */
export const LAYER_CHUNK = 512;
/** Most hashes one request may ask for (libtorrent's bound: the blocks of a 128 MiB piece). */
export const MAX_REQUEST_HASHES = 8192;

const sha256 = (a: Uint8Array, b: Uint8Array): Buffer => createHash('sha256').update(a).update(b).digest();

/** log2 of a power of two (-1 when `n` is not one). */
export function exactLog2(n: number): number {
  if (!Number.isSafeInteger(n) || n < 1) return -1;
  let d = 0;
  while (2 ** d < n) d++;
  return 2 ** d === n ? d : -1;
}

const nextPow2 = (n: number): number => {
  let p = 1;
  while (p < n) p *= 2;
  return p;
};

/** The root of a subtree of 2^depth zero leaves (BEP 52 pads the leaf layer with 32 zero bytes). */
export function padNode(depth: number): Buffer {
  let h: Buffer = Buffer.alloc(NODE);
  for (let d = 0; d < depth; d++) h = sha256(h, h);
  return h;
}

/** A range of one layer's hashes (the header of the three BEP 52 messages, without the root). */
export interface LayerRange {
  baseLayer: number;
  index: number;
  length: number;
  proofLayers: number;
}

const isCount = (n: number): boolean => Number.isSafeInteger(n) && n >= 0;

/**
 * Why `range` is not a request a tree `height` layers tall (leaves at 0, root at `height`) can
 * answer, or null when it is well formed — libtorrent's validate_hash_request, plus the
 * alignment and power-of-two length BEP 52's proofs need: a base layer inside the tree; a length
 * that is a power of two up to MAX_REQUEST_HASHES; an index that is a multiple of the length, the
 * range inside the base layer (padded to a power of two); proof layers that stop below the root.
 */
export function hashRequestProblem(range: LayerRange, height: number): string | null {
  const { baseLayer, index, length, proofLayers } = range;
  if (!isCount(baseLayer) || baseLayer > height) return `base layer ${baseLayer} is not one of the tree's layers 0–${height}`;
  if (exactLog2(length) < 0 || length > MAX_REQUEST_HASHES) return `length ${length} is not a power of two up to ${MAX_REQUEST_HASHES}`;
  if (!isCount(index) || index % length !== 0) return `index ${index} is not a multiple of the length ${length}`;
  const width = 2 ** (height - baseLayer);
  if (index + length > width) return `hashes ${index}–${index + length - 1} are past the ${width} of layer ${baseLayer}`;
  if (!isCount(proofLayers) || proofLayers >= height - baseLayer) return `${proofLayers} proof layers reach past the root (${height - baseLayer} layers above the base)`;
  return null;
}

/** The layers (above the base) whose sibling hashes prove a range of 2^log hashes: see the top comment. */
function uncleLayers(log: number, proofLayers: number): number[] {
  const out: number[] = [];
  for (let l = Math.max(log, 1); l <= proofLayers; l++) out.push(l);
  return out;
}

export class FileHashTree {
  readonly root: Buffer;
  readonly length: number;
  readonly pieceLength: number;
  /** Pieces of the file. */
  readonly pieceCount: number;
  /** The piece layer's number (from the leaves). */
  readonly pieceLayer: number;
  /** Layers from the leaves to the root (log2 of the padded leaf count). */
  readonly height: number;
  /** Layers from the piece layer up, each padded to a power of two; null until the piece layer is known. */
  private layers: Buffer[][] | null = null;
  /** Piece-layer hashes proven so far (a magnet fetches them in chunks). */
  private partial: (Buffer | undefined)[] | null = null;
  private missing = 0;

  constructor(root: Uint8Array, length: number, pieceLength: number) {
    const perPiece = pieceLength / LEAF;
    if (exactLog2(perPiece) < 0) throw new RangeError(`a v2 piece length must be a power of two of at least 16 KiB, not ${pieceLength}`);
    this.root = Buffer.from(root);
    this.length = length;
    this.pieceLength = pieceLength;
    this.pieceCount = Math.ceil(length / pieceLength);
    this.pieceLayer = exactLog2(perPiece);
    this.height = exactLog2(nextPow2(Math.ceil(length / LEAF)));
  }

  /** Whether the file has a piece layer at all (it is longer than one piece). */
  get layered(): boolean {
    return this.length > this.pieceLength;
  }

  /** Whether every piece's hash is known (always for a file of one piece). */
  get complete(): boolean {
    return !this.layered || this.layers !== null;
  }

  /** The hash piece `i` of the file must have: its piece-layer hash, or the root for a file of one piece. */
  pieceHash(i: number): Buffer | null {
    if (!this.layered) return i === 0 ? this.root : null;
    return this.layers?.[0]?.[i] ?? null;
  }

  /** The piece layer as the torrent's `piece layers` stores it (null until known). */
  pieceLayerBytes(): Buffer | null {
    return this.layers && this.layered ? Buffer.concat(this.layers[0]!.slice(0, this.pieceCount)) : null;
  }

  /** Adopt a whole piece layer (from a .torrent): true when it folds to the root. */
  setPieceLayer(hashes: readonly Uint8Array[]): boolean {
    if (!this.layered || hashes.length !== this.pieceCount) return false;
    const layers = this.build(hashes.map((h) => Buffer.from(h)));
    if (!layers.at(-1)![0]!.equals(this.root)) return false;
    this.layers = layers;
    this.partial = null;
    return true;
  }

  /** The requests that fetch the piece layer (chunks of LAYER_CHUNK, each proven to the root). */
  layerRequests(): LayerRange[] {
    if (this.complete) return [];
    const out: LayerRange[] = [];
    const above = this.height - this.pieceLayer;
    for (let i = 0; i < this.pieceCount; i += LAYER_CHUNK) {
      // Never a lone hash (601 pieces: a last chunk of 2, not 1): it is sent without its sibling (see the top comment).
      const length = Math.min(LAYER_CHUNK, Math.max(2, nextPow2(this.pieceCount - i)));
      if (this.partial && this.partial[i] !== undefined) continue;
      out.push({ baseLayer: this.pieceLayer, index: i, length, proofLayers: above - 1 });
    }
    return out;
  }

  /**
   * A `hashes` answer to one of `layerRequests`: true when its hashes and proof fold to the
   * root (they are kept; the piece layer is complete once every chunk is in), false otherwise.
   */
  addLayerHashes(range: LayerRange, hashes: Uint8Array): boolean {
    if (this.complete || range.baseLayer !== this.pieceLayer) return false;
    const nodes = split(hashes);
    if (!proves(this.root, this.height - this.pieceLayer, range, nodes)) return false;
    if (!this.partial) {
      this.partial = new Array(this.pieceCount).fill(undefined);
      this.missing = this.pieceCount;
    }
    const pad = padNode(this.pieceLayer);
    for (let k = 0; k < range.length; k++) {
      const at = range.index + k;
      if (at >= this.pieceCount) {
        // Past the file's last piece the layer is padding: a proof that folds with other nodes there lies.
        if (!nodes[k]!.equals(pad)) return false;
        continue;
      }
      if (this.partial[at] === undefined) this.missing--;
      this.partial[at] = nodes[k]!;
    }
    if (this.missing === 0) return this.setPieceLayer(this.partial as Buffer[]);
    return true;
  }

  /**
   * The `hashes` payload answering a request from the kept layers (the piece layer and above), or
   * null (answer with `hash reject`, or read the leaves: `piecesFor`).
   */
  serve(range: LayerRange): Buffer | null {
    const layers = this.layers;
    if (!layers || hashRequestProblem(range, this.height) !== null) return null;
    const { baseLayer, index, length, proofLayers } = range;
    const k = baseLayer - this.pieceLayer;
    if (k < 0) return null;
    const out: Buffer[] = layers[k]!.slice(index, index + length);
    for (const l of uncleLayers(exactLog2(length), proofLayers)) out.push(layers[k + l]![(index >> l) ^ 1]!);
    return Buffer.concat(out);
  }

  /** The layer whose nodes each cover one unit read from disk: the piece layer, or the root for a file of one piece. */
  private get unitLayer(): number {
    return this.layered ? this.pieceLayer : this.height;
  }

  /**
   * The pieces of the file (counted from its first) whose data a well-formed request below the kept
   * layers needs — its range's pieces, within the file — or null when the request is served from
   * the kept layers (or is not well formed: `hashRequestProblem`).
   */
  piecesFor(range: LayerRange): { first: number; count: number } | null {
    if (hashRequestProblem(range, this.height) !== null || range.baseLayer >= this.unitLayer) return null;
    const unit = this.unitLayer;
    // The range's leaves, then the units (pieces) they fall in: a range inside one piece needs that
    // piece (its uncles below the piece layer are in it too); a wider one, the pieces it spans.
    const firstLeaf = range.index * 2 ** range.baseLayer;
    const endLeaf = (range.index + range.length) * 2 ** range.baseLayer;
    const units = this.layered ? this.pieceCount : 1;
    const first = Math.floor(firstLeaf / 2 ** unit);
    const end = Math.min(units, Math.ceil(endLeaf / 2 ** unit));
    return { first, count: Math.max(0, end - first) };
  }

  /**
   * The answer to a request below the kept layers (`piecesFor` said which pieces), from the
   * leaves (SHA-256 of each 16 KiB block) of those pieces, in order. Null when a piece's leaves do
   * not fold to its known hash (the data changed under us), or a needed upper layer is not known.
   */
  serveFromLeaves(range: LayerRange, pieceLeaves: readonly (readonly Buffer[])[]): Buffer | null {
    const span = this.piecesFor(range);
    if (!span || pieceLeaves.length !== span.count) return null;
    const unit = this.unitLayer;
    const width = 2 ** unit;
    // Each piece's subtree, layer by layer from the leaves up to the unit layer, checked at its top.
    const subtrees: Buffer[][][] = [];
    for (let u = 0; u < span.count; u++) {
      const leaves = pieceLeaves[u]!;
      if (leaves.length === 0 || leaves.length > width) return null;
      const levels: Buffer[][] = [[...leaves]];
      while (levels[0]!.length < width) levels[0]!.push(Buffer.alloc(NODE));
      for (let l = 0; l < unit; l++) {
        const below = levels[l]!;
        const next: Buffer[] = [];
        for (let i = 0; i < below.length; i += 2) next.push(sha256(below[i]!, below[i + 1]!));
        levels.push(next);
      }
      const expected = this.layered ? this.pieceHash(span.first + u) : this.root;
      if (!expected || !levels[unit]![0]!.equals(expected)) return null;
      subtrees.push(levels);
    }
    /** Node `i` of layer `layer`: from a read piece below the unit layer, else from the kept layers (padding past the file). */
    const node = (layer: number, i: number): Buffer | null => {
      if (layer < unit) {
        const perUnit = 2 ** (unit - layer);
        const u = Math.floor(i / perUnit) - span.first;
        if (u >= 0 && u < subtrees.length) return subtrees[u]![layer]![i % perUnit]!;
        // Past the file's last piece: a subtree of padding.
        return Math.floor(i / perUnit) >= (this.layered ? this.pieceCount : 1) ? padNode(layer) : null;
      }
      if (!this.layered) return layer === this.height && i === 0 ? this.root : null;
      return this.layers?.[layer - this.pieceLayer]?.[i] ?? null;
    };
    const { baseLayer, index, length, proofLayers } = range;
    const out: Buffer[] = [];
    for (let k = 0; k < length; k++) {
      const n = node(baseLayer, index + k);
      if (!n) return null;
      out.push(n);
    }
    for (const l of uncleLayers(exactLog2(length), proofLayers)) {
      const n = node(baseLayer + l, (index >> l) ^ 1);
      if (!n) return null;
      out.push(n);
    }
    return Buffer.concat(out);
  }

  /** Every layer from the piece layer to the root, each padded to a power of two. */
  private build(pieceHashes: Buffer[]): Buffer[][] {
    const width = 2 ** (this.height - this.pieceLayer);
    let pad = padNode(this.pieceLayer);
    let layer = [...pieceHashes];
    while (layer.length < width) layer.push(pad);
    const out = [layer];
    // Bounded: one turn per layer up to the root.
    while (layer.length > 1) {
      const next: Buffer[] = [];
      for (let i = 0; i < layer.length; i += 2) next.push(sha256(layer[i]!, layer[i + 1]!));
      layer = next;
      pad = sha256(pad, pad);
      out.push(layer);
    }
    return out;
  }
}

/** Split concatenated 32-byte hashes. */
export function split(hashes: Uint8Array): Buffer[] {
  const b = Buffer.from(hashes.buffer, hashes.byteOffset, hashes.byteLength);
  const out: Buffer[] = [];
  for (let at = 0; at + NODE <= b.length; at += NODE) out.push(b.subarray(at, at + NODE));
  return out;
}

/**
 * Whether `nodes` (the range's hashes, then its proof hashes) fold to `root`, `above` layers over
 * the base layer. The proof must reach the root: `proofLayers` = above - 1.
 */
export function proves(root: Uint8Array, above: number, range: LayerRange, nodes: readonly Buffer[]): boolean {
  const log = exactLog2(range.length);
  // A lone hash is sent without its own sibling (libtorrent's rule, see the top comment): it cannot be proven alone.
  if (log < 1 || log > above || range.index % range.length !== 0 || range.index + range.length > 2 ** above) return false;
  const uncles = Math.max(0, range.proofLayers - log + 1);
  // The proof must end at the root's layer: then the folded node is compared with the root itself.
  if (nodes.length !== range.length + uncles || log + uncles !== above) return false;
  let layer = nodes.slice(0, range.length);
  while (layer.length > 1) {
    const next: Buffer[] = [];
    for (let i = 0; i < layer.length; i += 2) next.push(sha256(layer[i]!, layer[i + 1]!));
    layer = next;
  }
  let node = layer[0]!;
  for (let u = 0; u < uncles; u++) {
    const l = log + u;
    const uncle = nodes[range.length + u]!;
    node = ((range.index >> l) & 1) === 0 ? sha256(node, uncle) : sha256(uncle, node);
  }
  return node.equals(Buffer.from(root));
}
