/** The small formatters behind human output. */
import { describe, expect, it } from 'vitest';
import { formatBytes, formatDuration, formatDurationFlag, formatRanges, formatRate, keyValues } from '../../../../src/cli/render/format.js';
import { parseDuration } from '../../../../src/cli/flags.js';

describe('formatBytes', () => {
  it('exact bytes below 1 KiB, two decimals in binary units above', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1024)).toBe('1.00 KiB');
    expect(formatBytes(1536)).toBe('1.50 KiB');
    expect(formatBytes(16 * 1024 * 1024)).toBe('16.00 MiB');
    expect(formatBytes(1024 ** 3 * 1.25)).toBe('1.25 GiB');
    expect(formatBytes(1024 ** 5 * 3)).toBe('3.00 PiB');
    expect(formatBytes(1024 ** 6)).toBe('1024.00 PiB');
  });

  it('formatRate is bytes per second', () => {
    expect(formatRate(2048)).toBe('2.00 KiB/s');
    expect(formatRate(10.4)).toBe('10 B/s');
  });
});

describe('formatDuration', () => {
  it('milliseconds, seconds, then minutes and seconds', () => {
    expect(formatDuration(0)).toBe('0 ms');
    expect(formatDuration(999.4)).toBe('999 ms');
    expect(formatDuration(1500)).toBe('1.50 s');
    expect(formatDuration(59_990)).toBe('59.99 s');
    expect(formatDuration(60_000)).toBe('1m0s');
    expect(formatDuration(90_000)).toBe('1m30s');
    expect(formatDuration(3_725_000)).toBe('62m5s');
  });

  it('rounding never shows 1000 ms, 60.00 s or 60 seconds: it carries into the next unit', () => {
    expect(formatDuration(999.7)).toBe('1.00 s');
    expect(formatDuration(59_996)).toBe('1m0s');
    expect(formatDuration(119_600)).toBe('2m0s');
    expect(formatDuration(60_000 + 59_499)).toBe('1m59s');
  });
});

describe('formatRanges', () => {
  it('compacts runs of consecutive indices', () => {
    expect(formatRanges([])).toBe('');
    expect(formatRanges([5])).toBe('5');
    expect(formatRanges([1, 2, 3, 7])).toBe('1-3, 7');
    expect(formatRanges([0, 2, 4, 5])).toBe('0, 2, 4-5');
    expect(formatRanges([10, 11, 12, 13])).toBe('10-13');
  });
});

describe('keyValues', () => {
  it('aligns values after the longest key', () => {
    expect(keyValues([['Name', 'x'], ['Info hash', 'y'], ['', 'z']])).toEqual(['Name       x', 'Info hash  y', '           z']);
    expect(keyValues([])).toEqual([]);
  });
});

describe('formatDurationFlag (durations echoed as typed: 60s, not 60000ms)', () => {
  it.each([
    [5000, '5s'],
    [60_000, '1m'],
    [120_000, '2m'],
    [90_000, '90s'],
    [3_600_000, '1h'],
    [86_400_000, '1d'],
    [500, '500ms'],
    [1500, '1.5s'],
    [0, '0ms'],
  ])('%d → %s, which parseDuration reads back', (ms, text) => {
    expect(formatDurationFlag(ms)).toBe(text);
    expect(parseDuration(text)).toBe(ms);
  });
});
