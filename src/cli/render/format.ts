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
 * Milliseconds as a duration flag takes them, in the largest unit that is exact: 5000 → "5s",
 * 120000 → "2m", 500 → "500ms", 1500 → "1.5s". `parseDuration` reads every result back.
 */
export function formatDurationFlag(ms: number): string {
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return ms < 1000 ? `${ms}ms` : `${ms / 1000}s`;
}

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
