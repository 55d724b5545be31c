import { Args, Flags } from '../cli/oclif.js';
import { BaseCommand } from '../cli/base-command.js';
import { byteProgress } from '../cli/progress.js';
import { escapeControl } from '../cli/render/escape.js';
import { formatBytes, formatRanges } from '../cli/render/format.js';
import { readTorrentArg } from '../cli/target.js';
import { locateContent } from '../core/storage/locate.js';
import { BtError } from '../core/errors.js';
import { verifyData, type VerifyReport } from '../core/storage/verify.js';

export interface VerifyCommandResult extends VerifyReport {
  name: string;
  /** v1 infohash, or null for a v2-only torrent. */
  infoHash: string | null;
  /** v2 infohash (64 hex), or null for a v1 torrent. */
  infoHashV2: string | null;
  contentPath: string;
}

export default class Verify extends BaseCommand<VerifyCommandResult> {
  static override summary = 'Check data on disk against a torrent, piece by piece.';
  static override description = `Hashes every piece on all cores and reports per file: complete, missing, wrong size, or which pieces fail (as ranges). Exits 0 when everything matches and 5 (verification failed) when anything does not.

v2 and hybrid torrents (BEP 52) are checked against each file's merkle tree as well, in the same read: a file stands alone (its pieces against its piece layer, or the whole file against its pieces root when the torrent has no layer for it), and a failed piece is also given counted from the file's first piece.

PATH is the content itself (the file of a single-file torrent, the top directory of a multi-file one) or the directory that contains it (as a client's download directory does): when PATH/<name> exists, that is used.`;
  static override examples = [
    { command: '<%= config.bin %> <%= command.id %> dist.torrent ./dist', description: 'Check a directory against its torrent.' },
    { command: '<%= config.bin %> <%= command.id %> big.torrent ~/Downloads', description: 'The download directory that holds big.iso.' },
    { command: '<%= config.bin %> <%= command.id %> x.torrent ./x --json | jq ".result.files[] | select(.status != \\"complete\\")"', description: 'Only the files with problems.' },
  ];
  static override args = {
    torrent: Args.string({ required: true, description: 'The .torrent file, or `-` for standard input.' }),
    path: Args.string({ required: true, description: 'The content, or the directory containing it.' }),
  };
  static override flags = {
    threads: Flags.integer({ min: 1, max: 256, description: 'Hashing threads (default: one per core).' }),
  };

  async run(): Promise<VerifyCommandResult> {
    const { args, flags } = await this.parse(Verify);
    const meta = await readTorrentArg(args.torrent, { signal: this.signal, parse: { allowV2Only: true } });
    const contentPath = await locateContent(meta, args.path, 'VERIFY');
    const progress = await byteProgress('verifying', this.chatty);
    let report: VerifyReport;
    try {
      report = await verifyData(meta, {
        contentPath,
        signal: this.signal,
        ...(flags.threads !== undefined ? { threads: flags.threads } : {}),
        onProgress: (done, total) => progress.update(done, total),
      });
    } finally {
      progress.stop();
    }
    const result: VerifyCommandResult = { name: meta.name, infoHash: meta.infoHash.v1?.toString('hex') ?? null, infoHashV2: meta.infoHash.v2?.toString('hex') ?? null, contentPath, ...report };
    if (!this.jsonEnabled()) {
      for (const f of report.files) {
        // --quiet: only what failed (and the error line); nothing at all when everything matches.
        if (f.status === 'padding' || (this.quiet && f.status === 'complete')) continue;
        const mark = f.status === 'complete' ? this.outStyle.green('ok     ') : this.outStyle.red('FAIL   ');
        let why = '';
        if (f.status === 'missing') why = 'missing';
        else if (f.status === 'wrong-size') why = `wrong size: ${f.actualLength} bytes, expected ${f.length}`;
        else if (f.status === 'bad-pieces') why = `bad pieces ${formatRanges(f.badPieces)}${f.filePieces ? `; of this file: ${formatRanges(f.filePieces)}` : ''}`;
        this.out(`${mark}${escapeControl(f.path)}${why ? `  (${why})` : ''}`);
      }
      if (!this.quiet) this.out(`${report.goodPieces}/${report.pieceCount} pieces good, ${formatBytes(report.bytesChecked)} checked${report.ok ? '' : `; bad pieces: ${formatRanges(report.badPieces) || 'none (but files differ in size)'}`}`);
    }
    if (!report.ok) {
      const bad = report.files.filter((f) => f.status !== 'complete' && f.status !== 'padding').length;
      // Under --json the full report goes in the error detail, so scripts still see every file.
      throw new BtError('VERIFY_FAILED', 'verification', `${bad} of ${report.files.filter((f) => f.status !== 'padding').length} files do not match (${report.badPieces.length} bad pieces)`, {
        detail: this.jsonEnabled() ? (result as unknown as Record<string, unknown>) : undefined,
      });
    }
    return result;
  }
}
