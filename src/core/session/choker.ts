/**
 * The choking algorithm of BEP 3 ("Choking and Optimistic Unchoking"): who we upload to.
 *
 * - Tit-for-tat: every round (10 s, so peers do not flap between choked and unchoked), the
 *   interested peers that give us the most (their download rate to us; once we are a seed, our
 *   upload rate to them, since they give nothing) are unchoked, `slots - 1` of them.
 * - Optimistic unchoke: one more interested peer, chosen at random whatever its rate and kept for
 *   three rounds (30 s), so a new peer gets a chance to show what it gives and we find better
 *   partners than the current ones. BEP 3 weights new peers three times; so do we.
 *
 * Pure: the caller passes the candidates with their rates, the clock and the randomness.
 */

export interface ChokeCandidate<P> {
  peer: P;
  /** The peer wants pieces we have. */
  interested: boolean;
  /** The rate it is ranked by (bytes/s). */
  rate: number;
  /** Connected within the last minute: three times the chance of the optimistic unchoke. */
  isNew?: boolean;
}

export interface ChokerOptions {
  /** Peers unchoked at once, the optimistic one included. Default 4. */
  slots?: number;
  /** Rounds an optimistic unchoke lasts. Default 3. */
  optimisticRounds?: number;
  rng: () => number;
}

export class Choker<P> {
  readonly slots: number;
  private readonly optimisticRounds: number;
  private readonly rng: () => number;
  private round_ = 0;
  /** The current optimistic unchoke. */
  optimistic: P | undefined;

  constructor(options: ChokerOptions) {
    this.slots = Math.max(1, options.slots ?? 4);
    this.optimisticRounds = Math.max(1, options.optimisticRounds ?? 3);
    this.rng = options.rng;
  }

  /** One round: the set of peers to have unchoked from now on (everyone else choked). */
  round(candidates: readonly ChokeCandidate<P>[]): Set<P> {
    const interested = candidates.filter((c) => c.interested);
    const regular = [...interested].sort((a, b) => b.rate - a.rate).slice(0, Math.max(0, this.slots - 1));
    const unchoked = new Set<P>(regular.map((c) => c.peer));
    const others = interested.filter((c) => !unchoked.has(c.peer));
    const keep = this.optimistic !== undefined && others.some((c) => c.peer === this.optimistic) && this.round_ % this.optimisticRounds !== 0;
    if (!keep) this.optimistic = pickOptimistic(others, this.rng);
    this.round_++;
    if (this.optimistic !== undefined) unchoked.add(this.optimistic);
    fillFreeSlots(unchoked, others, this.slots);
    return unchoked;
  }
}

/** Free slots (fewer interested peers than slots) go to the next candidates anyway, in order. */
export function fillFreeSlots<P>(unchoked: Set<P>, others: readonly ChokeCandidate<P>[], slots: number): void {
  for (const c of others) {
    if (unchoked.size >= slots) break;
    unchoked.add(c.peer);
  }
}

/** The optimistic unchoke: random, a peer connected within the last minute three times as likely. */
export function pickOptimistic<P>(candidates: readonly ChokeCandidate<P>[], rng: () => number): P | undefined {
  if (candidates.length === 0) return undefined;
  const weights = candidates.map((c) => (c.isNew ? 3 : 1));
  let x = rng() * weights.reduce((a, b) => a + b, 0);
  for (let i = 0; i < candidates.length; i++) {
    x -= weights[i]!;
    if (x < 0) return candidates[i]!.peer;
  }
  return candidates[candidates.length - 1]!.peer;
}
