/**
 * Who we upload to, applied to the connections (BEP 3 choking, with the choker's rounds in
 * choker.ts and the seed's in seed-choker.ts): a round every ten seconds, and between rounds a
 * free slot goes at once to a peer that asks (an `interested`, or a slot freed by a peer leaving),
 * so a seed whose leechers finish and leave does not leave the last ones waiting a round.
 */
import type { ChokeCandidate, Choker } from './choker.js';
import type { Peer } from './peer.js';
import type { Uploader } from './uploader.js';

/** Upload slots are reconsidered this often (BEP 3: every ten seconds). */
export const CHOKE_ROUND_MS = 10_000;
/** What decides a round: the choker, or the seed's (seed-choker.ts). */
export interface ChokeRounds {
  round(candidates: readonly ChokeCandidate<Peer>[]): Set<unknown>;
}

/** A peer connected this recently gets three times the chance of the optimistic unchoke (BEP 3). */
const NEW_PEER_MS = 60_000;

export class UploadSlots {
  private lastRound = -Infinity;

  constructor(
    private readonly choker: Choker<Peer>,
    /** The choker once we are a seed (ranks by our upload rate to them), if another one. */
    private readonly seedChoker: ChokeRounds | null,
  ) {}

  get slots(): number {
    return this.choker.slots;
  }

  /** A round when one is due (called from the session's tick). */
  tick(peers: Iterable<Peer>, uploader: Uploader<Peer>, seeding: boolean, now: number): void {
    if (now - this.lastRound < CHOKE_ROUND_MS) return;
    this.lastRound = now;
    const choker: ChokeRounds = seeding && this.seedChoker ? this.seedChoker : this.choker;
    const list = [...peers];
    const unchoke = choker.round(
      list.map((p) => ({
        peer: p,
        interested: p.wire.state!.peerInterested,
        rate: seeding ? p.up.rate(now) : p.down.rate(now),
        isNew: now - p.connectedAt < NEW_PEER_MS,
      })),
    );
    for (const p of list) this.setChoked(p, !unchoke.has(p), uploader);
  }

  /** `p` said it is interested: unchoke it now if a slot is free. */
  interested(p: Peer, peers: Iterable<Peer>, uploader: Uploader<Peer>): void {
    if (p.wire.state!.amChoking && unchokedCount(peers) < this.choker.slots) this.setChoked(p, false, uploader);
  }

  /** `gone` left: if it held a slot, give it to an interested peer that waits. */
  refill(gone: Peer, peers: Iterable<Peer>, uploader: Uploader<Peer>): void {
    if (gone.wire.state!.amChoking) return;
    let open = this.choker.slots - unchokedCount(peers);
    for (const q of peers) {
      if (open <= 0) break;
      if (q.wire.state!.amChoking && q.wire.state!.peerInterested) {
        this.setChoked(q, false, uploader);
        open--;
      }
    }
  }

  private setChoked(p: Peer, choked: boolean, uploader: Uploader<Peer>): void {
    if (p.wire.state!.amChoking === choked) return;
    const action = p.wire.send({ type: choked ? 'choke' : 'unchoke' });
    if (choked) uploader.choked(p, action);
  }
}

function unchokedCount(peers: Iterable<Peer>): number {
  let n = 0;
  for (const p of peers) if (!p.wire.state!.amChoking) n++;
  return n;
}
