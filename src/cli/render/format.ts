/** Small pure formatters shared by the human renderers. */

/** 1536 → "1.50 KiB"; exact bytes for small values. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n;
  let i = -1;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(2)} ${units[i]}`;
}

export function formatRate(bytesPerSecond: number): string {
  return `${formatBytes(Math.round(bytesPerSecond))}/s`;
}

export function formatDuration(ms: number): string {
  // Thresholds sit where rounding would reach the next unit ("1000 ms", "60.00 s", "1m60s").
  if (ms < 999.5) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 59.995) return `${s.toFixed(2)} s`;
  const total = Math.round(s);
  return `${Math.floor(total / 60)}m${total % 60}s`;
}

/**
 * Milliseconds as a duration flag takes them (5000 → "5s"): the core's formatter, which the stop
 * conditions echo too, so help, flags and `--until` speak one form.
 */
export { formatDurationText as formatDurationFlag } from '../../core/session/stop-conditions.js';

/** Indices → compact ranges: [1,2,3,7] → "1-3, 7". */
export function formatRanges(indices: readonly number[]): string {
  const out: string[] = [];
  for (let i = 0; i < indices.length; ) {
    let j = i;
    while (j + 1 < indices.length && indices[j + 1] === indices[j]! + 1) j++;
    out.push(i === j ? `${indices[i]}` : `${indices[i]}-${indices[j]}`);
    i = j + 1;
  }
  return out.join(', ');
}

/** Aligned "key  value" lines. */
export function keyValues(rows: [string, string][]): string[] {
  const width = Math.max(0, ...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`);
}
