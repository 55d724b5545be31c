/**
 * The `--until` conditions of `btkit seed`: the text form (`parseUntil`, in the command, since it
 * is flag parsing) with a usage error for every bad value, and their evaluation
 * (session/stop-conditions.ts), fed observations by the test.
 */
import { describe, expect, it } from 'vitest';
import { parseUntil } from '../../../../src/commands/seed.js';
import { BtError } from '../../../../src/core/errors.js';
import { type StopCondition, StopConditions, describeCondition, seedOnDone } from '../../../../src/core/session/stop-conditions.js';

const MiB = 1024 * 1024;

describe('parseUntil', () => {
  it.each<[string, StopCondition]>([
    ['ratio=2', { kind: 'ratio', ratio: 2 }],
    ['ratio=0.5', { kind: 'ratio', ratio: 0.5 }],
    ['time=90s', { kind: 'time', ms: 90_000 }],
    ['time=10m', { kind: 'time', ms: 600_000 }],
    ['time=1h', { kind: 'time', ms: 3_600_000 }],
    ['time=30', { kind: 'time', ms: 30_000 }],
    ['uploaded=4GiB', { kind: 'uploaded', bytes: 4 * 1024 * MiB }],
    ['uploaded=65536', { kind: 'uploaded', bytes: 65536 }],
    ['peers-complete=20', { kind: 'peers-complete', count: 20 }],
    [' ratio = 3 ', { kind: 'ratio', ratio: 3 }],
  ])('%s', (text, expected) => {
    expect(parseUntil(text)).toEqual(expected);
  });

  it.each([
    ['ratio', 'expected KIND=VALUE'],
    ['=3', 'expected KIND=VALUE'],
    ['ratio=', 'expected KIND=VALUE'],
    ['ratio=0', 'not a positive ratio'],
    ['ratio=-1', 'not a positive ratio'],
    ['ratio=abc', 'not a positive ratio'],
    ['ratio=Infinity', 'not a positive ratio'],
    ['ratio=NaN', 'not a positive ratio'],
    ['time=soon', 'not a duration'],
    ['time=-5s', 'not a duration'],
    ['time=5y', 'not a duration'],
    ['time=0', 'more than zero'],
    ['time=0ms', 'more than zero'],
    ['uploaded=lots', 'not a size'],
    ['uploaded=4XB', 'not a size'],
    ['uploaded=0', 'more than zero'],
    ['peers-complete=0', 'not a positive whole number'],
    ['peers-complete=-2', 'not a positive whole number'],
    ['peers-complete=1.5', 'not a positive whole number'],
    ['peers-complete=many', 'not a positive whole number'],
    ['seeds=3', 'unknown condition `seeds`'],
  ])('%s is a usage error (%s)', (text, why) => {
    let err: unknown;
    try {
      parseUntil(text);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BtError);
    const bt = err as BtError;
    expect(bt.category).toBe('usage');
    expect(bt.code).toBe('USAGE');
    // The message names the bad text, says what is wrong, and lists the accepted forms.
    expect(bt.message).toContain(`\`${text}\``);
    expect(bt.message).toContain(why);
    expect(bt.message).toContain('peers-complete=N');
  });

  it('round-trips through describeCondition in the units a user reads', () => {
    expect(['ratio=1.5', 'time=2m', 'uploaded=1MiB', 'peers-complete=3'].map((t) => describeCondition(parseUntil(t)))).toEqual([
      'ratio=1.5',
      'time=2m',
      `uploaded=${MiB}`,
      'peers-complete=3',
    ]);
    // Echoed as typed, not as milliseconds (issue 13 item 16).
    expect(describeCondition({ kind: 'time', ms: 90_000 })).toBe('time=90s');
    expect(describeCondition({ kind: 'time', ms: 60_000 })).toBe('time=1m');
    expect(describeCondition({ kind: 'time', ms: 1_500 })).toBe('time=1.5s');
  });
});

describe('StopConditions', () => {
  const at = (uploaded: number, elapsedMs = 0, peersComplete = 0) => ({ uploaded, elapsedMs, peersComplete });

  it('meets a ratio when uploaded / size reaches it, not before', () => {
    const s = new StopConditions([{ kind: 'ratio', ratio: 1.5 }], 1000);
    expect(s.met(at(0))).toBeNull();
    expect(s.met(at(1499))).toBeNull();
    expect(s.met(at(1500))).toEqual({ kind: 'ratio', ratio: 1.5 });
    expect(s.met(at(9000))).toEqual({ kind: 'ratio', ratio: 1.5 });
  });

  it('never meets a ratio of an empty torrent (no division by zero)', () => {
    const s = new StopConditions([{ kind: 'ratio', ratio: 1 }], 0);
    expect(s.met(at(0))).toBeNull();
    expect(s.met(at(1_000_000, 1e9, 99))).toBeNull();
  });

  it('meets time, uploaded and peers-complete at their thresholds, each by its own measure', () => {
    const time = new StopConditions([{ kind: 'time', ms: 60_000 }], 1000);
    expect(time.met(at(1e9, 59_999, 1e3))).toBeNull();
    expect(time.met(at(0, 60_000))).toEqual({ kind: 'time', ms: 60_000 });

    const up = new StopConditions([{ kind: 'uploaded', bytes: 4096 }], 1000);
    expect(up.met(at(4095, 1e9, 1e3))).toBeNull();
    expect(up.met(at(4096))).toEqual({ kind: 'uploaded', bytes: 4096 });

    const peers = new StopConditions([{ kind: 'peers-complete', count: 3 }], 1000);
    expect(peers.met(at(1e9, 1e9, 2))).toBeNull();
    expect(peers.met(at(0, 0, 3))).toEqual({ kind: 'peers-complete', count: 3 });
  });

  it('answers with the first condition met, in the order given; none given means never', () => {
    const ratio: StopCondition = { kind: 'ratio', ratio: 2 };
    const time: StopCondition = { kind: 'time', ms: 1000 };
    const peers: StopCondition = { kind: 'peers-complete', count: 1 };
    const s = new StopConditions([ratio, time, peers], 100);
    expect(s.met(at(0, 999, 0))).toBeNull();
    expect(s.met(at(0, 999, 1))).toBe(peers);
    expect(s.met(at(0, 1000, 1))).toBe(time);
    expect(s.met(at(200, 1000, 1))).toBe(ratio);
    expect(new StopConditions([], 100).met(at(1e9, 1e9, 1e9))).toBeNull();
  });

  it('tells the time left to the nearest time condition, never negative, null without one', () => {
    expect(new StopConditions([{ kind: 'ratio', ratio: 1 }], 10).timeLeft(0)).toBeNull();
    const s = new StopConditions(
      [
        { kind: 'time', ms: 90_000 },
        { kind: 'uploaded', bytes: 1 },
        { kind: 'time', ms: 30_000 },
      ],
      10,
    );
    expect(s.timeLeft(0)).toBe(30_000);
    expect(s.timeLeft(10_000)).toBe(20_000);
    expect(s.timeLeft(45_000)).toBe(0);
  });
});

describe('seedOnDone (download --seed)', () => {
  const at = { uploaded: 0, wanted: 1000, now: 10_000, completedAt: 4_000 };
  it('stops at the ratio, at the time since completion, or not at all', () => {
    expect(seedOnDone({ ratio: 1.5 }, { ...at, uploaded: 1499 })).toBeNull();
    expect(seedOnDone({ ratio: 1.5 }, { ...at, uploaded: 1500 })).toBe('seed-ratio');
    expect(seedOnDone({ timeMs: 6_001 }, at)).toBeNull();
    expect(seedOnDone({ timeMs: 6_000 }, at)).toBe('seed-time');
    expect(seedOnDone({}, { ...at, uploaded: 1e9 })).toBeNull();
    // A ratio of an empty selection is never reached (no division by zero); the time still counts.
    expect(seedOnDone({ ratio: 0.5, timeMs: 1 }, { ...at, wanted: 0, uploaded: 10 })).toBe('seed-time');
    expect(seedOnDone({ ratio: 0.5 }, { ...at, wanted: 0, uploaded: 10 })).toBeNull();
  });
});
