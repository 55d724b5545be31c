/**
 * Progress bars: only on a TTY stderr (not TERM=dumb), never under --json or --quiet (scripts get
 * clean output).
 * cli-progress is imported lazily so commands that never show a bar do not pay for loading it.
 */
import { formatBytes } from './render/format.js';

export interface Progress {
  update(done: number, total?: number): void;
  stop(): void;
}

const NOOP: Progress = { update: () => undefined, stop: () => undefined };

export async function byteProgress(label: string, enabled: boolean): Promise<Progress> {
  // A dumb terminal cannot move the cursor: the bar's redraws would pile up as escape codes.
  if (!enabled || !process.stderr.isTTY || process.env.TERM === 'dumb') return NOOP;
  const { default: cliProgress } = await import('cli-progress');
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `${label} [{bar}] {percentage}% | {doneH} / {totalH} | {rateH} | ETA {eta_formatted}`,
      hideCursor: true,
      clearOnComplete: true,
      etaBuffer: 20,
      fps: 10,
    },
    cliProgress.Presets.shades_classic,
  );
  const started = performance.now();
  let started_ = false;
  return {
    update(done: number, total?: number) {
      const elapsed = (performance.now() - started) / 1000;
      const payload = { doneH: formatBytes(done), totalH: formatBytes(total ?? 0), rateH: `${formatBytes(elapsed > 0 ? Math.round(done / elapsed) : 0)}/s` };
      if (!started_) {
        bar.start(total ?? 0, done, payload);
        started_ = true;
      } else {
        if (total !== undefined) bar.setTotal(total);
        bar.update(done, payload);
      }
    },
    stop() {
      if (started_) bar.stop();
    },
  };
}
