/**
 * Piece picker: rarest first with random ties, strict priority (0 never picked), random first
 * pieces, sequential mode, availability bookkeeping, and a property check against a naive
 * reference of the same rules.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Bitfield } from '../../../../src/core/pieces/bitfield.js';
import { PiecePicker } from '../../../../src/core/pieces/picker.js';
import { seeded } from './rng.js';

function bits(n: number, set: number[]): Bitfield {
  const b = new Bitfield(n);
  for (const i of set) b.set(i);
  return b;
}

/** A picker past its random-first phase unless told otherwise. */
const rarest = (n: number, seed = 1, extra: Partial<ConstructorParameters<typeof PiecePicker>[0]> = {}) =>
  new PiecePicker({ pieceCount: n, rng: seeded(seed), randomFirst: 0, ...extra });

describe('rarest first', () => {
  it('picks the rarest piece, then the next rarest', () => {
    const p = rarest(5);
    p.addPeer(bits(5, [0, 1, 2, 3, 4]));
    p.addPeer(bits(5, [0, 1, 2, 3]));
    p.addPeer(bits(5, [0, 1, 3]));
    expect([0, 1, 2, 3, 4].map((i) => p.availabilityOf(i))).toEqual([3, 3, 2, 3, 1]);
    expect(p.pick('all')).toBe(4);
    p.markHave(4);
    expect(p.pick('all')).toBe(2);
    p.markHave(2);
    expect([0, 1, 3]).toContain(p.pick('all'));
  });

  it('only picks pieces the peer has', () => {
    const p = rarest(5);
    p.addPeer(bits(5, [4]));
    expect(p.pick(bits(5, [0, 1]))).not.toBe(4);
    expect(p.pick(bits(5, []))).toBeNull();
  });

  it('counts seeds once for every piece, and forgets peers that leave', () => {
    const p = rarest(3);
    p.addPeer('all');
    p.addPeer(bits(3, [1]));
    p.addHave(2);
    p.addHave(2);
    expect([0, 1, 2].map((i) => p.availabilityOf(i))).toEqual([1, 2, 3]);
    p.removePeer('all');
    p.removePeer(bits(3, [1]));
    expect([0, 1, 2].map((i) => p.availabilityOf(i))).toEqual([0, 0, 2]);
  });

  it('breaks ties at random (every tied piece comes up, nothing else does)', () => {
    const seen = new Set<number>();
    for (let seed = 1; seed <= 200; seed++) {
      const p = rarest(6, seed);
      p.addPeer(bits(6, [0, 2, 4, 5]));
      p.addPeer(bits(6, [0, 5]));
      seen.add(p.pick('all')!); // availability: 0:2 1:0 2:1 3:0 4:1 5:2 → ties at 0 among 1 and 3
    }
    expect([...seen].sort()).toEqual([1, 3]);
  });

  it('is deterministic for a given RNG', () => {
    const run = (seed: number) => {
      const p = rarest(50, seed);
      const out: number[] = [];
      for (let k = 0; k < 50; k++) {
        const i = p.pick('all')!;
        out.push(i);
        p.markHave(i);
      }
      return out;
    };
    expect(run(7)).toEqual(run(7));
    expect(run(7)).not.toEqual(run(8));
    expect([...run(7)].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('honours skip (pieces in progress or not requestable)', () => {
    const p = rarest(3);
    p.addPeer(bits(3, [1, 2]));
    p.addPeer(bits(3, [2]));
    expect(p.pick('all', (i) => i === 0)).toBe(1);
    expect(p.pick('all', (i) => i !== 2)).toBe(2);
  });
});

describe('priorities', () => {
  it('never picks a priority 0 piece, even the only one the peer has', () => {
    const p = rarest(4, 1, { priorities: [1, 0, 1, 0] });
    expect(p.pick(bits(4, [1, 3]))).toBeNull();
    const seen = new Set<number>();
    for (let k = 0; k < 4; k++) {
      const i = p.pick('all');
      if (i === null) break;
      seen.add(i);
      p.markHave(i);
    }
    expect([...seen].sort()).toEqual([0, 2]);
    expect(p.wantedMissing).toBe(0);
    expect(p.interesting('all')).toBe(false);
  });

  it('prefers a higher priority to a rarer piece', () => {
    const p = rarest(3, 1, { priorities: [1, 2, 1] });
    p.addPeer(bits(3, [1]));
    p.addPeer(bits(3, [1]));
    expect(p.pick('all')).toBe(1);
    p.setPriority(1, 1);
    expect(p.pick('all')).not.toBe(1);
  });

  it('keeps the wanted count through priority changes, haves and losses', () => {
    const p = rarest(4);
    expect(p.wantedMissing).toBe(4);
    p.setPriority(0, 0);
    p.markHave(1);
    expect(p.wantedMissing).toBe(2);
    p.setPriority(1, 0);
    expect(p.wantedMissing).toBe(2);
    p.markMissing(1);
    expect(p.wantedMissing).toBe(2);
    p.setPriority(1, 3);
    expect(p.wantedMissing).toBe(3);
    expect([p.isWanted(0), p.isWanted(1)]).toEqual([false, true]);
  });

  it('starts from pieces already had (resume)', () => {
    const p = rarest(3, 1, { have: bits(3, [0, 2]) });
    expect([p.completed, p.wantedMissing, p.pick('all')]).toEqual([2, 1, 1]);
  });
});

describe('random first pieces', () => {
  it('picks at random (not the rarest) until randomFirst pieces are complete, then rarest first', () => {
    const picks = new Set<number>();
    for (let seed = 1; seed <= 50; seed++) {
      const p = new PiecePicker({ pieceCount: 10, rng: seeded(seed), randomFirst: 2 });
      p.addPeer(bits(10, [0, 1, 2, 3, 4, 5, 6, 7, 8]));
      p.addPeer(bits(10, [0, 1, 2, 3, 4, 5, 6, 7, 8])); // piece 9 is the rarest: no connected peer has it
      picks.add(p.pick('all')!);
      p.markHave(0);
      p.markHave(1);
      expect(p.pick('all')).toBe(9);
    }
    expect(picks.size).toBeGreaterThan(3);
  });
});

describe('sequential mode', () => {
  it('picks in index order, higher priority first, skipping what is had or skipped', () => {
    const p = new PiecePicker({ pieceCount: 6, rng: seeded(1), sequential: true, priorities: [1, 1, 0, 1, 1, 1] });
    p.addPeer(bits(6, [5])); // rarity does not matter here
    const order: number[] = [];
    p.markHave(1);
    for (let i = p.pick('all'); i !== null; i = p.pick('all')) {
      order.push(i);
      p.markHave(i);
    }
    expect(order).toEqual([0, 3, 4, 5]);

    const q = new PiecePicker({ pieceCount: 4, rng: seeded(1), sequential: true, priorities: [1, 1, 1, 2] });
    expect(q.pick('all')).toBe(3);
    expect(q.pick(bits(4, [1, 2]))).toBe(1);
  });
});

describe('against a naive reference', () => {
  it('the pick has the highest priority among candidates and, among those, the lowest availability', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }).chain((n) =>
          fc.record({
            n: fc.constant(n),
            priorities: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: n, maxLength: n }),
            peers: fc.array(fc.array(fc.boolean(), { minLength: n, maxLength: n }), { maxLength: 6 }),
            have: fc.array(fc.boolean(), { minLength: n, maxLength: n }),
            asker: fc.array(fc.boolean(), { minLength: n, maxLength: n }),
            seed: fc.nat(),
          }),
        ),
        ({ n, priorities, peers, have, asker, seed }) => {
          const toBits = (xs: boolean[]) => bits(n, xs.flatMap((x, i) => (x ? [i] : [])));
          const p = rarest(n, seed, { priorities, have: toBits(have) });
          for (const peer of peers) p.addPeer(toBits(peer));
          const avail = (i: number) => peers.filter((peer) => peer[i]).length;
          const candidates = Array.from({ length: n }, (_, i) => i).filter((i) => priorities[i]! > 0 && !have[i] && asker[i]);
          const got = p.pick(toBits(asker));
          if (candidates.length === 0) {
            expect(got).toBeNull();
            return;
          }
          const top = Math.max(...candidates.map((i) => priorities[i]!));
          const rarestAvail = Math.min(...candidates.filter((i) => priorities[i] === top).map(avail));
          expect(got).not.toBeNull();
          expect(candidates).toContain(got);
          expect(priorities[got!]).toBe(top);
          expect(avail(got!)).toBe(rarestAvail);
        },
      ),
      { numRuns: 400 },
    );
  });
});
