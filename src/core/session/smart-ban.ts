/**
 * Who sent bad data. BEP 3 only says a piece that fails its hash is fetched again; a client that
 * wants to stop a peer poisoning the swarm has to find out who lied (libtorrent's "smart ban").
 *
 * When a piece fails, each block's SHA-1 and sender are kept. When the piece later passes, the
 * good bytes are known: every peer whose block differs from them lied. A piece that failed with
 * several senders is then fetched from one peer at a time (on parole) until it passes, so that a
 * second failure has a single culprit even when the liar sends its blocks alone.
 *
 * Pure but for the hashing; the session bans whom `verified` names.
 */
import { createHash } from 'node:crypto';

const sha1 = (b: Uint8Array): Buffer => createHash('sha1').update(b).digest();

export class SmartBan<P> {
  /** Per failed piece: for each block, the hashes and senders seen, until the piece passes. */
  private readonly suspects = new Map<number, { hash: Buffer; peer: P }[][]>();
  /** Pieces fetched from one peer at a time: the peer holding it, or null while free. */
  private readonly parole = new Map<number, P | null>();

  constructor(private readonly blockLength: number) {}

  /** Piece `index` failed its hash; `senders[b]` sent block b; `contributors` is how many peers sent any. */
  failed(index: number, data: Uint8Array, senders: readonly (P | undefined)[], contributors: number): void {
    const list = this.suspects.get(index) ?? [];
    senders.forEach((peer, b) => {
      if (peer === undefined) return;
      (list[b] ??= []).push({ hash: sha1(this.block(data, b)), peer });
    });
    this.suspects.set(index, list);
    if (contributors > 1) this.parole.set(index, null);
  }

  /** Piece `index` passed with these bytes: the peers that sent a different block for it earlier. */
  verified(index: number, data: Uint8Array): Set<P> {
    this.parole.delete(index);
    const liars = new Set<P>();
    const suspects = this.suspects.get(index);
    if (!suspects) return liars;
    this.suspects.delete(index);
    suspects.forEach((list, b) => {
      const good = sha1(this.block(data, b));
      for (const s of list) if (!s.hash.equals(good)) liars.add(s.peer);
    });
    return liars;
  }

  /** Whether `peer` may be asked for blocks of piece `index` now (not while another holds its parole). */
  mayRequest(index: number, peer: P): boolean {
    const owner = this.parole.get(index);
    return owner === undefined || owner === null || owner === peer;
  }

  /** `peer` was asked for blocks of piece `index`: a free parole piece is now its alone. */
  requested(index: number, peer: P): void {
    if (this.parole.get(index) === null) this.parole.set(index, peer);
  }

  /** `peer` left: the parole pieces it held go to the next peer asked. */
  peerGone(peer: P): void {
    for (const [index, owner] of this.parole) if (owner === peer) this.parole.set(index, null);
  }

  private block(data: Uint8Array, b: number): Uint8Array {
    return data.subarray(b * this.blockLength, Math.min(data.length, (b + 1) * this.blockLength));
  }
}
