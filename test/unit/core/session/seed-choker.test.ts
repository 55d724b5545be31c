/**
 * The seed's choker (session/seed-choker.ts): regular slots to the fastest holders, a bounded turn
 * that rotates the slots to whoever waited longest, and one optimistic slot drawn by the injected
 * rng with new peers weighted three times. Rounds and rates are driven by the test.
 */
import { describe, expect, it } from 'vitest';
import { SeedChoker } from '../../../../src/core/session/seed-choker.js';
import { seeded } from '../pieces/rng.js';

const cand = (peer: string, rate: number, interested = true, isNew = false) => ({ peer, rate, interested, isNew });
const sorted = (s: Set<string>) => [...s].sort();
const first = () => 0;
const last = () => 0.999_999;

describe('SeedChoker', () => {
  it('gives the regular slots to the fastest interested peers and the optimistic one to another, never to an uninterested peer', () => {
    const peers = [cand('e', 100), cand('a', 500), cand('f', 9999, false), cand('b', 400), cand('c', 300), cand('d', 200)];
    // The rng picks the first (then the last) of the peers left over: e, then d.
    expect(sorted(new SeedChoker<string>({ slots: 4, rng: first }).round(peers))).toEqual(['a', 'b', 'c', 'e']);
    expect(sorted(new SeedChoker<string>({ slots: 4, rng: last }).round(peers))).toEqual(['a', 'b', 'c', 'd']);
  });

  it('unchokes every interested peer when there are fewer than the slots, and nobody when none is interested', () => {
    const c = new SeedChoker<string>({ slots: 4, rng: first });
    expect(sorted(c.round([cand('a', 1), cand('b', 0), cand('x', 5, false)]))).toEqual(['a', 'b']);
    expect(c.round([cand('a', 1, false), cand('b', 0, false)]).size).toBe(0);
    expect(c.round([]).size).toBe(0);
  });

  it('defaults to four slots and never goes below one', () => {
    const peers = ['a', 'b', 'c', 'd', 'e', 'f'].map((p, i) => cand(p, 100 - i));
    const def = new SeedChoker<string>({ rng: first });
    expect(def.slots).toBe(4);
    expect(def.round(peers).size).toBe(4);
    const zero = new SeedChoker<string>({ slots: 0, rng: first });
    expect(zero.slots).toBe(1);
    expect(zero.round(peers).size).toBe(1);
  });

  it('lets a holder keep its regular slot for turnRounds rounds, then yields it to a peer that waited, however slow', () => {
    // One regular slot and one optimistic; the rng always draws the first leftover, so the slow `c`
    // (listed last) is never drawn: only the end of a's turn lets it in.
    const c = new SeedChoker<string>({ slots: 2, turnRounds: 3, rng: first });
    const peers = [cand('a', 1000), cand('b', 10), cand('c', 1)];
    const rounds = Array.from({ length: 4 }, () => sorted(c.round(peers)));
    expect(rounds).toEqual([
      ['a', 'b'],
      ['a', 'b'],
      ['a', 'b'],
      ['a', 'c'],
    ]);
  });

  it('rotates so that nobody waits for ever: with turns of one round every peer is unchoked at least every other round', () => {
    const c = new SeedChoker<string>({ slots: 2, turnRounds: 1, rng: first });
    const peers = [cand('a', 100), cand('b', 50), cand('c', 10)];
    const lastIn = new Map<string, number>();
    for (let round = 0; round < 12; round++) {
      const set = c.round(peers);
      expect(set.size).toBe(2);
      for (const p of set) lastIn.set(p, round);
      if (round >= 1) for (const p of ['a', 'b', 'c']) expect(round - (lastIn.get(p) ?? -99)).toBeLessThanOrEqual(1);
    }
  });

  it('gives a freed slot to the peer that waited longest, before a faster one that waited less', () => {
    // One regular slot, turns of one round; the rng always draws the first leftover (a, the fastest,
    // ends up the optimistic peer each round). c and d wait from round 0; c is served in round 1,
    // b (tied with d since round 0, but faster) in round 2; in round 3 the slowest, d, has waited
    // longest and goes before c, which is faster.
    const c = new SeedChoker<string>({ slots: 2, turnRounds: 1, rng: first });
    const peers = [cand('a', 100), cand('b', 50), cand('c', 10), cand('d', 5)];
    const rounds = Array.from({ length: 4 }, () => sorted(c.round(peers)));
    expect(rounds).toEqual([
      ['a', 'b'],
      ['a', 'c'],
      ['a', 'b'],
      ['a', 'd'],
    ]);
  });

  it('lets an optimistic peer that proves faster take the regular slot of the slowest holder', () => {
    const c = new SeedChoker<string>({ slots: 3, turnRounds: 10, rng: last });
    // Round 0: regular a, b (fastest); d is drawn optimistically.
    expect(sorted(c.round([cand('a', 100), cand('b', 50), cand('c', 0), cand('d', 0)]))).toEqual(['a', 'b', 'd']);
    // d uploads fastest now: it keeps a regular slot, the slowest holder b loses its, and the
    // optimistic slot goes to a leftover (c, the last one).
    expect(sorted(c.round([cand('a', 100), cand('b', 50), cand('c', 0), cand('d', 1000)]))).toEqual(['a', 'c', 'd']);
  });

  it('draws the optimistic peer with new peers weighted three times', () => {
    // slots 1: no regular slot, the one slot is the draw over [n (new), o, p]: weights 3, 1, 1.
    const peers = [cand('n', 0, true, true), cand('o', 0), cand('p', 0)];
    const draw = (r: number) => [...new SeedChoker<string>({ slots: 1, rng: () => r }).round(peers)];
    expect(draw(0)).toEqual(['n']);
    expect(draw(0.5)).toEqual(['n']); // 2.5 of 5 still falls in n's three
    expect(draw(0.59)).toEqual(['n']);
    expect(draw(0.61)).toEqual(['o']);
    expect(draw(0.79)).toEqual(['o']);
    expect(draw(0.81)).toEqual(['p']);
    expect(draw(0.999_999)).toEqual(['p']);
  });

  it('forgets peers that left: one that comes back waits its turn like a newcomer instead of carrying its old turn', () => {
    const c = new SeedChoker<string>({ slots: 2, turnRounds: 2, rng: first });
    const a = cand('a', 100);
    const b = cand('b', 10);
    const cc = cand('c', 1);
    expect(sorted(c.round([a, b, cc]))).toEqual(['a', 'b']);
    expect(sorted(c.round([a, b, cc]))).toEqual(['a', 'b']);
    expect(sorted(c.round([b, cc]))).toEqual(['b', 'c']); // a left; b's turn is over, c gets the slot
    // a is back: c's turn goes on, a is drawn for the optimistic slot (first leftover), b waits.
    expect(sorted(c.round([a, b, cc]))).toEqual(['a', 'c']);
  });

  it('keeps within its slots over many rounds of changing peers and rates (seeded)', () => {
    const rng = seeded(42);
    const c = new SeedChoker<string>({ slots: 4, turnRounds: 2, rng });
    const served = new Set<string>();
    for (let round = 0; round < 200; round++) {
      const peers = Array.from({ length: 10 }, (_, i) => cand(`p${i}`, Math.floor(rng() * 1000), (i + round) % 7 !== 0, round - i < 3));
      const set = c.round(peers);
      expect(set.size).toBe(4);
      for (const p of set) {
        expect(peers.find((x) => x.peer === p)!.interested).toBe(true);
        served.add(p);
      }
    }
    expect(served.size).toBe(10);
  });
});
