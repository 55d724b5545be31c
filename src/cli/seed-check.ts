/**
 * `btkit seed`'s check of the data before serving it: hashed on every core (a progress bar on a
 * terminal), or, with --skip-verify or right after creating the torrent from it, only the file
 * sizes. Data that does not match is refused (exit 5) before a port is opened.
 */
import { BtError } from '../core/errors.js';
import type { Metainfo } from '../core/metainfo/types.js';
import type { ContentStore } from '../core/storage/content-store.js';
import { verifyData } from '../core/storage/verify.js';
import { byteProgress } from './progress.js';
import { formatBytes, formatDuration, formatRanges } from './render/format.js';

export type SeedCheck = 'checked' | 'skipped' | 'created';


export async function checkSeedData(
  meta: Metainfo,
  content: ContentStore,
  options: { check: SeedCheck; contentPath: string; threads?: number | undefined; chatty: boolean; signal: AbortSignal },
  /** The `verified` NDJSON event (also when the check fails), then the human line when there is one. */
  report: { event(ev: Record<string, unknown>): void; note(line: string): void },
): Promise<void> {
  const { contentPath } = options;
  if (options.check !== 'checked') {
    const present = await content.present();
    report.event({ type: 'verified', skipped: true, ok: present.hasAll(), pieces: meta.pieceCount, reason: options.check === 'created' ? 'created from this data' : '--skip-verify' });
    if (!present.hasAll()) {
      throw new BtError('SEED_DATA_MISSING', 'verification', `files at \`${contentPath}\` are missing or shorter than the torrent says (${meta.pieceCount - present.count} of ${meta.pieceCount} pieces cannot be read)`);
    }
    return;
  }
  const progress = await byteProgress('verifying', options.chatty);
  const t0 = performance.now();
  let result;
  try {
    result = await verifyData(meta, { contentPath, signal: options.signal, ...(options.threads ? { threads: options.threads } : {}), onProgress: (d, t) => progress.update(d, t) });
  } finally {
    progress.stop();
  }
  const ms = Math.round(performance.now() - t0);
  report.event({ type: 'verified', skipped: false, ok: result.ok, pieces: result.pieceCount, badPieces: result.badPieces.length, ms });
  if (!result.ok) {
    const files = result.files.filter((f) => f.status === 'missing' || f.status === 'wrong-size' || f.status === 'bad-pieces');
    throw new BtError(
      'SEED_DATA_BAD',
      'verification',
      `the data at \`${contentPath}\` does not match the torrent: ${result.badPieces.length} of ${result.pieceCount} pieces fail (${formatRanges(result.badPieces.slice(0, 20))}${result.badPieces.length > 20 ? ', …' : ''}); ${files
        .slice(0, 3)
        .map((f) => `${f.path}: ${f.status}`)
        .join(', ')}`,
      { detail: { badPieces: result.badPieces, files: files.map((f) => ({ path: f.path, status: f.status })) } },
    );
  }
  report.note(`verified ${formatBytes(meta.totalLength)} in ${formatDuration(ms)}`);
}
