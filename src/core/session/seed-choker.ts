/**
 * The choker of a seed (BEP 3 "Choking and Optimistic Unchoking", once we have everything).
 *
 * A seed gets nothing back, so tit-for-tat has nothing to rank by. What matters is spreading its
 * pieces over as many peers as can pass them on, at the speed its upload allows:
 *
 * - the regular slots (`slots - 1`) go to the interested peers we upload to fastest (a slow peer
 *   holding a slot wastes it), but a peer keeps a slot for at most `turnRounds` rounds in a row
 *   while others wait: then it yields to whoever has waited longest (the "rotate" of libtorrent's
 *   round-robin seeding choker). Leechers that got a turn go on trading among themselves;
 * - one optimistic slot, random among the waiting (new peers weighted three times, as in the
 *   download choker), so a fast newcomer can show its rate.
 *
 * Pure, like choker.ts: candidates, rates and randomness come from the caller; the state is who
 * holds a slot since when.
 */
import { type ChokeCandidate, fillFreeSlots, pickOptimistic } from './choker.js';

export interface SeedChokerOptions {
  /** Peers unchoked at once, the optimistic one included. Default 4. */
  slots?: number;
  /** Rounds in a row a peer may keep a regular slot while others wait. Default 3. */
  turnRounds?: number;
  rng: () => number;
}

export class SeedChoker<P> {
  readonly slots: number;
  private readonly turnRounds: number;
  private readonly rng: () => number;
  private roundNo = 0;
  /** Consecutive rounds each peer has been unchoked. */
  private readonly held = new Map<P, number>();
  /** The round each peer was last unchoked in (or first seen waiting). */
  private readonly lastServed = new Map<P, number>();

  constructor(options: SeedChokerOptions) {
    this.slots = Math.max(1, options.slots ?? 4);
    this.turnRounds = Math.max(1, options.turnRounds ?? 3);
    this.rng = options.rng;
  }

  round(candidates: readonly ChokeCandidate<P>[]): Set<P> {
    const round = this.roundNo++;
    const present = new Set(candidates.map((c) => c.peer));
    for (const p of [...this.held.keys()]) if (!present.has(p)) this.held.delete(p);
    for (const p of [...this.lastServed.keys()]) if (!present.has(p)) this.lastServed.delete(p);
    const interested = candidates.filter((c) => c.interested);
    for (const c of interested) if (!this.lastServed.has(c.peer)) this.lastServed.set(c.peer, round);
    const waitedSince = (c: ChokeCandidate<P>) => this.lastServed.get(c.peer) ?? round;
    const waiting = interested.filter((c) => !this.held.has(c.peer));
    // Peers whose turn is over yield when someone waits; the rest are ranked by rate.
    const turnOver = (c: ChokeCandidate<P>) => (this.held.get(c.peer) ?? 0) >= this.turnRounds && waiting.length > 0;
    const byRate = (a: ChokeCandidate<P>, b: ChokeCandidate<P>) => b.rate - a.rate;
    const keep = interested.filter((c) => this.held.has(c.peer) && !turnOver(c)).sort(byRate);
    const fresh = [...waiting].sort((a, b) => waitedSince(a) - waitedSince(b) || byRate(a, b));
    const yielded = interested.filter((c) => this.held.has(c.peer) && turnOver(c)).sort(byRate);
    const regularSlots = Math.max(0, this.slots - 1);
    const unchoked = new Set<P>();
    for (const c of [...keep, ...fresh, ...yielded]) {
      if (unchoked.size >= regularSlots) break;
      unchoked.add(c.peer);
    }
    const others = interested.filter((c) => !unchoked.has(c.peer));
    const optimistic = pickOptimistic(others, this.rng);
    if (optimistic !== undefined) unchoked.add(optimistic);
    fillFreeSlots(unchoked, others, this.slots);
    for (const c of candidates) {
      if (unchoked.has(c.peer)) {
        this.held.set(c.peer, (this.held.get(c.peer) ?? 0) + 1);
        this.lastServed.set(c.peer, round);
      } else {
        this.held.delete(c.peer);
      }
    }
    return unchoked;
  }
}
