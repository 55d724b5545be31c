import { describe, expect, it } from 'vitest';
import { BtError } from '../../../../src/core/errors.js';
import { TrackerTiers } from '../../../../src/core/tracker/tiers.js';

/** A fixed sequence of "random" numbers. */
const seq = (...xs: number[]) => {
  let i = 0;
  return () => xs[i++ % xs.length]!;
};
const fail = (code = 'TRACKER_TIMEOUT') => Promise.reject(new BtError(code, 'network', 'no'));

describe('BEP 12 tiers', () => {
  it('shuffles within each tier once, never across tiers', () => {
    const t = new TrackerTiers([['a', 'b', 'c'], ['d', 'e']], seq(0));
    // random() = 0 always: Fisher–Yates swaps each element with index 0.
    expect(t.tiers).toEqual([['b', 'c', 'a'], ['e', 'd']]);
    expect(t.urls).toEqual(['b', 'c', 'a', 'e', 'd']);
    const identity = new TrackerTiers([['a', 'b', 'c']], seq(0.99));
    expect(identity.tiers).toEqual([['a', 'b', 'c']]);
  });
  it('drops duplicates and empty tiers', () => {
    const t = new TrackerTiers([['a', 'a'], [], ['a', 'b']], seq(0.99));
    expect(t.tiers).toEqual([['a'], ['b']]);
    expect(t.size).toBe(2);
  });
  it('tries in order, a whole tier before the next, and moves the one that answered to the front', async () => {
    const t = new TrackerTiers([['a', 'b', 'c'], ['d']], seq(0.99));
    const tried: string[] = [];
    const r = await t.first(async (u) => {
      tried.push(u);
      if (u !== 'c') return fail();
      return 42;
    });
    expect(tried).toEqual(['a', 'b', 'c']);
    expect(r).toMatchObject({ url: 'c', tier: 0, value: 42 });
    expect(r.failures.map((f) => f.url)).toEqual(['a', 'b']);
    expect(t.tiers).toEqual([['c', 'a', 'b'], ['d']]);
    // Next time the promoted tracker is asked first.
    const again: string[] = [];
    await t.first(async (u) => {
      again.push(u);
      return 1;
    });
    expect(again).toEqual(['c']);
  });
  it('falls to the next tier and promotes within that tier only', async () => {
    const t = new TrackerTiers([['a'], ['b', 'c']], seq(0.99));
    const r = await t.first(async (u) => (u === 'c' ? 'ok' : fail()));
    expect(r).toMatchObject({ url: 'c', tier: 1 });
    expect(t.tiers).toEqual([['a'], ['c', 'b']]);
  });
  it('rejects TRACKER_ALL_FAILED listing every failure', async () => {
    const t = new TrackerTiers([['a'], ['b']], seq(0.99));
    await expect(t.first(() => fail('TRACKER_FAILURE'))).rejects.toMatchObject({
      code: 'TRACKER_ALL_FAILED',
      category: 'network',
      detail: { failures: [{ url: 'a', code: 'TRACKER_FAILURE', message: 'no' }, { url: 'b', code: 'TRACKER_FAILURE', message: 'no' }] },
    });
  });
  it('stops at once on an interruption or a programming error', async () => {
    const t = new TrackerTiers([['a', 'b']], seq(0.99));
    const tried: string[] = [];
    await expect(
      t.first((u) => {
        tried.push(u);
        return Promise.reject(new BtError('ABORTED', 'interrupted', 'stop'));
      }),
    ).rejects.toMatchObject({ code: 'ABORTED' });
    expect(tried).toEqual(['a']);
    await expect(t.first(() => Promise.reject(new TypeError('bug')))).rejects.toThrow(TypeError);
    const ac = new AbortController();
    ac.abort();
    await expect(t.first(async () => 1, { signal: ac.signal })).rejects.toMatchObject({ category: 'interrupted' });
  });
  it('an empty list says there is no tracker', async () => {
    await expect(new TrackerTiers([]).first(async () => 1)).rejects.toMatchObject({ code: 'TRACKER_NONE' });
  });
});
