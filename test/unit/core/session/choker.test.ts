/**
 * The BEP 3 choking algorithm (session/choker.ts) and the rate meter and token bucket
 * (session/rate.ts), with the clock and the randomness driven by the test.
 */
import { describe, expect, it } from 'vitest';
import { Choker } from '../../../../src/core/session/choker.js';
import { RateMeter, TokenBucket } from '../../../../src/core/session/rate.js';
import { seeded as seededRng } from '../pieces/rng.js';

const cand = (peer: string, rate: number, interested = true, isNew = false) => ({ peer, rate, interested, isNew });

describe('Choker', () => {
  it('unchokes the best interested peers by rate, plus one optimistic, never an uninterested one', () => {
    const c = new Choker<string>({ slots: 4, rng: seededRng(1) });
    const set = c.round([cand('a', 100), cand('b', 900), cand('c', 50), cand('d', 500), cand('e', 10), cand('f', 1000, false), cand('g', 5)]);
    expect(set.size).toBe(4);
    expect(set.has('b') && set.has('d') && set.has('a')).toBe(true);
    expect(set.has('f')).toBe(false);
    expect(['c', 'e', 'g']).toContain(c.optimistic);
    expect(set.has(c.optimistic!)).toBe(true);
  });

  it('keeps the optimistic unchoke for three rounds, then rotates it', () => {
    const c = new Choker<string>({ slots: 2, rng: seededRng(7) });
    const peers = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].map((p, i) => cand(p, i === 0 ? 1000 : 1));
    const seen: (string | undefined)[] = [];
    for (let round = 0; round < 12; round++) {
      c.round(peers);
      seen.push(c.optimistic);
    }
    for (let r = 0; r < 12; r += 3) expect(new Set(seen.slice(r, r + 3)).size).toBe(1);
    expect(new Set(seen).size).toBeGreaterThan(1);
    expect(seen).not.toContain('a'); // the best peer has a regular slot
  });

  it('gives new peers three times the chance of the optimistic unchoke', () => {
    const rng = seededRng(3);
    let newWins = 0;
    const rounds = 3000;
    for (let i = 0; i < rounds; i++) {
      const c = new Choker<string>({ slots: 1, rng });
      c.round([cand('old', 0), cand('new', 0, true, true)]);
      if (c.optimistic === 'new') newWins++;
    }
    expect(newWins / rounds).toBeGreaterThan(0.7);
    expect(newWins / rounds).toBeLessThan(0.8);
  });

  it('fills free slots when few peers are interested; unchokes nobody when none is', () => {
    const c = new Choker<string>({ slots: 4, rng: seededRng(2) });
    expect([...c.round([cand('a', 0), cand('b', 0)])].sort()).toEqual(['a', 'b']);
    expect(c.round([cand('a', 0, false)]).size).toBe(0);
  });
});

describe('RateMeter', () => {
  it('measures bytes per second over its window, and forgets older traffic', () => {
    const m = new RateMeter(0, 4000, 16);
    for (let t = 0; t < 4000; t += 100) m.add(10_000, t);
    expect(m.rate(3999)).toBeGreaterThan(95_000);
    expect(m.rate(3999)).toBeLessThan(105_000);
    expect(m.rate(20_000)).toBe(0);
    expect(m.total).toBe(400_000);
  });

  it('is not inflated for a young meter (divides by its age, at least one slot)', () => {
    const m = new RateMeter(1000, 4000, 16);
    m.add(50_000, 1400);
    expect(m.rate(1500)).toBe(100_000);
  });
});

describe('TokenBucket', () => {
  it('lets a burst through, then makes the caller wait in proportion to what it took', () => {
    let now = 0;
    const b = new TokenBucket(1000, () => now, 500);
    expect(b.waitMs()).toBe(0);
    b.consume(1500); // 1000 into debt
    expect(b.waitMs()).toBeGreaterThanOrEqual(1000);
    now = 600;
    expect(b.waitMs()).toBeGreaterThanOrEqual(400);
    expect(b.waitMs()).toBeLessThan(450);
    now = 1001;
    expect(b.waitMs()).toBe(0);
    // Unused time saves up to the burst only.
    now = 100_000;
    b.consume(600);
    expect(b.waitMs()).toBeGreaterThan(0);
  });

  it('a rate of 0 is unlimited', async () => {
    const b = new TokenBucket(0, () => 0);
    b.consume(1e12);
    expect(b.unlimited).toBe(true);
    expect(b.waitMs()).toBe(0);
    await b.ready();
  });

  it('ready() rejects when its signal fires', async () => {
    const b = new TokenBucket(1, () => 0, 1);
    b.consume(1000);
    const ctl = new AbortController();
    const waiting = b.ready(ctl.signal);
    ctl.abort(new Error('stop'));
    await expect(waiting).rejects.toThrow('stop');
  });
});
