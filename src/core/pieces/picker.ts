/**
 * Which piece to download next (BEP 3, "Piece downloading strategy").
 *
 * The order, from strongest rule to weakest:
 * 1. Strict priority: a piece of a higher priority is always preferred to one of a lower
 *    priority, whatever its rarity; priority 0 ("skip", a file the user did not select) is never
 *    picked. Per piece, because file selection maps onto pieces (storage/layout.ts).
 * 2. Sequential mode (streaming): the lowest index first.
 * 3. Otherwise, random first pieces until `randomFirst` pieces are complete, so a new peer soon
 *    has something to trade (BEP 3: "it's important to get a complete piece as quickly as
 *    possible"); a rare piece would be slow to get from its few holders.
 * 4. Then rarest first by availability (how many connected peers have the piece), so the pieces
 *    most at risk of disappearing from the swarm are copied first; ties are broken at random so
 *    peers that see the same swarm do not all fetch the same piece.
 *
 * Pure and deterministic: randomness comes from the injected `rng`, so a test can replay a pick.
 * A pick scans the missing pieces once (O(n) in a typed array); it happens once per piece started,
 * not per block.
 */
import { Bitfield } from './bitfield.js';

export interface PickerOptions {
  pieceCount: number;
  /** Uniform in [0, 1), e.g. Math.random, or a seeded generator in tests. */
  rng: () => number;
  /** Complete pieces before rarest-first takes over. Default 4. */
  randomFirst?: number;
  /** Pick in index order (streaming). Default false. */
  sequential?: boolean;
  /** Per-piece priority, 0 = skip; default 1 for every piece. Values are clamped to 0..255. */
  priorities?: ArrayLike<number>;
  /** Pieces we already have (resumed or verified on disk). */
  have?: Bitfield;
}

/** A peer's pieces: its bitfield, or 'all' for a seed (BEP 6 have all). */
export type PeerPieces = Bitfield | 'all';

export const DEFAULT_RANDOM_FIRST = 4;

export class PiecePicker {
  readonly pieceCount: number;
  /** Pick in index order (may be switched while downloading). */
  sequential: boolean;
  private readonly rng: () => number;
  private readonly randomFirst: number;
  /** Peers that have each piece, not counting seeds. */
  private readonly availability: Uint32Array;
  /** Peers that have every piece: counted once here instead of once per piece. */
  private seeds = 0;
  private readonly priority: Uint8Array;
  private readonly have: Bitfield;
  private wanted = 0;

  constructor(options: PickerOptions) {
    this.pieceCount = options.pieceCount;
    this.rng = options.rng;
    this.randomFirst = options.randomFirst ?? DEFAULT_RANDOM_FIRST;
    this.sequential = options.sequential ?? false;
    this.availability = new Uint32Array(this.pieceCount);
    this.priority = new Uint8Array(this.pieceCount).fill(1);
    if (options.have && options.have.length !== this.pieceCount) throw new RangeError('have bitfield length differs from pieceCount');
    this.have = options.have ? options.have.clone() : new Bitfield(this.pieceCount);
    if (options.priorities) this.setPriorities(options.priorities);
    else this.recountWanted();
  }

  private recountWanted(): void {
    let n = 0;
    for (let i = 0; i < this.pieceCount; i++) if (this.priority[i]! > 0 && !this.have.get(i)) n++;
    this.wanted = n;
  }

  // --- availability -----------------------------------------------------------------------

  /** A peer's bitfield arrived (or a new peer with it connected). */
  addPeer(pieces: PeerPieces): void {
    if (pieces === 'all') {
      this.seeds++;
      return;
    }
    for (const i of pieces.setIndices()) this.availability[i]!++;
  }

  /** A peer left; pass the pieces it had when it left. */
  removePeer(pieces: PeerPieces): void {
    if (pieces === 'all') {
      this.seeds = Math.max(0, this.seeds - 1);
      return;
    }
    for (const i of pieces.setIndices()) if (this.availability[i]! > 0) this.availability[i]!--;
  }

  /** A peer announced a piece (`have`); call once per newly set bit. */
  addHave(index: number): void {
    this.checkIndex(index);
    this.availability[index]!++;
  }

  /** Peers known to have `index`. */
  availabilityOf(index: number): number {
    return (this.availability[index] ?? 0) + this.seeds;
  }

  // --- priorities and our pieces -----------------------------------------------------------

  setPriority(index: number, priority: number): void {
    this.checkIndex(index);
    const was = this.priority[index]! > 0 && !this.have.get(index);
    this.priority[index] = clampPriority(priority);
    const is = this.priority[index]! > 0 && !this.have.get(index);
    this.wanted += Number(is) - Number(was);
  }

  setPriorities(priorities: ArrayLike<number>): void {
    if (priorities.length !== this.pieceCount) throw new RangeError(`${priorities.length} priorities for ${this.pieceCount} pieces`);
    for (let i = 0; i < this.pieceCount; i++) this.priority[i] = clampPriority(priorities[i]!);
    this.recountWanted();
  }

  priorityOf(index: number): number {
    return this.priority[index] ?? 0;
  }

  /** A piece passed its hash check. */
  markHave(index: number): void {
    this.checkIndex(index);
    if (this.have.set(index) && this.priority[index]! > 0) this.wanted--;
  }

  /** A piece we had is gone (failed a recheck, or the file was truncated). */
  markMissing(index: number): void {
    this.checkIndex(index);
    if (this.have.clear(index) && this.priority[index]! > 0) this.wanted++;
  }

  hasPiece(index: number): boolean {
    return this.have.get(index);
  }

  /** Pieces we have, whatever their priority. */
  get completed(): number {
    return this.have.count;
  }

  /** Pieces we still want: priority above 0 and not had. Zero means the selection is complete. */
  get wantedMissing(): number {
    return this.wanted;
  }

  /** Whether we still want `index` (priority > 0, not had). */
  isWanted(index: number): boolean {
    return this.priority[index]! > 0 && !this.have.get(index);
  }

  /** A copy of our pieces, e.g. to send as our bitfield. */
  haveBitfield(): Bitfield {
    return this.have.clone();
  }

  /** Whether the peer has a piece we want: decides our `interested` (BEP 3). */
  interesting(pieces: PeerPieces): boolean {
    if (pieces === 'all') return this.wanted > 0;
    for (const i of pieces.setIndices()) if (this.isWanted(i)) return true;
    return false;
  }

  // --- picking -----------------------------------------------------------------------------

  /**
   * The next piece to start from a peer with `pieces`, or null when it has nothing we want.
   * `skip` excludes pieces for other reasons (already in progress; not requestable while the
   * peer chokes us and the piece is not allowed-fast).
   */
  pick(pieces: PeerPieces, skip?: (index: number) => boolean): number | null {
    const mode = this.sequential ? 'sequential' : this.have.count < this.randomFirst ? 'random' : 'rarest';
    let best = -1;
    let bestPriority = 0;
    let bestAvailability = Infinity;
    let ties = 0;
    for (let i = 0; i < this.pieceCount; i++) {
      const p = this.priority[i]!;
      if (p === 0 || p < bestPriority || this.have.get(i)) continue;
      if (pieces !== 'all' && !pieces.get(i)) continue;
      if (skip?.(i)) continue;
      if (mode === 'sequential') {
        // Ascending scan: the first piece of a strictly higher priority wins.
        if (p > bestPriority) {
          best = i;
          bestPriority = p;
        }
        continue;
      }
      const a = mode === 'rarest' ? this.availability[i]! : 0;
      if (p > bestPriority || a < bestAvailability) {
        best = i;
        bestPriority = p;
        bestAvailability = a;
        ties = 1;
      } else if (a === bestAvailability) {
        // Reservoir sampling: each of the k tied pieces ends up chosen with probability 1/k.
        ties++;
        if (this.rng() * ties < 1) best = i;
      }
    }
    return best === -1 ? null : best;
  }

  private checkIndex(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.pieceCount) throw new RangeError(`piece ${index} outside 0..${this.pieceCount - 1}`);
  }
}

const clampPriority = (p: number): number => (Number.isFinite(p) ? Math.max(0, Math.min(255, Math.trunc(p))) : 0);
