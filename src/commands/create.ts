import { Args, Flags } from '../cli/oclif.js';
import { basename, resolve } from 'node:path';
import { BaseCommand } from '../cli/base-command.js';
import { createFlags, createOptionsFrom, outputExists, outputExistsError, plannedOutput, trackerTiers } from '../cli/create-options.js';
import { writeStdout } from '../cli/io.js';
import { byteProgress } from '../cli/progress.js';
import { formatBytes, formatDuration, formatRate } from '../cli/render/format.js';
import { magnetOf } from '../cli/render/torrent.js';
import { BtError } from '../core/errors.js';
import { checkWritablePlace, writeFileAtomic } from '../core/fs/atomic.js';
import { createTorrent } from '../core/metainfo/create.js';
import { formatMagnet } from '../core/metainfo/magnet.js';
import { checkWebSeeds, readLocalFiles, type WebSeedCheckReport } from '../core/webseed/index.js';

export interface CreateCommandResult {
  output: string;
  name: string;
  /** v1 infohash (SHA-1 of the info dict), or null for a v2-only torrent. */
  infoHash: string | null;
  /** v2 infohash (SHA-256 of the info dict, 64 hex), or null for a v1 torrent. */
  infoHashV2: string | null;
  /** v1, v2 or hybrid. */
  version: string;
  totalLength: number;
  pieceLength: number;
  pieceCount: number;
  fileCount: number;
  private: boolean;
  trackers: string[][];
  webSeeds: string[];
  magnet: string;
  skipped: { path: string; reason: string }[];
  hashSeconds: number;
  bytesPerSecond: number;
  /** With --check-web-seeds: per web seed, the files it does not serve (or serves differently). */
  webSeedCheck?: WebSeedCheckReport[];
}

export default class Create extends BaseCommand<CreateCommandResult> {
  static override summary = 'Create a .torrent from a file or a directory.';
  static override description = `Hashes the data on all cores and writes the torrent atomically.

Versions: v1 (the default: SHA-1 pieces, BEP 3), --v2 (BEP 52: a SHA-256 merkle tree per file, \`file tree\`, \`piece layers\`) or --hybrid (both in one info dictionary, with BEP 47 padding files so each file starts on a piece boundary; v1 and v2 clients join the same swarm). v1 stays the default because most clients and trackers still speak only v1 (Transmission, aria2, rqbit, webtorrent read only a hybrid's v1 side; a v2-only torrent is libtorrent's and anacrolix's alone). A hybrid has the same info dictionary as libtorrent's create_torrent on the same files; --v2 and --hybrid need a power-of-two piece length of at least 16 KiB, and list files in file-tree order (component by component).

Files of a directory are added in the byte order of their relative paths (the order mktorrent uses, so both give the same infohash). Hidden files (names starting with '.') and symbolic links are left out unless --include-hidden / --follow-symlinks say otherwise; --include and --exclude take globs ('*', '**', '?', '[…]', '{a,b}'; a pattern without '/' matches the base name at any depth).

Piece length: by default the smallest power of two that gives at most 2000 pieces, between 16 KiB and 16 MiB (so ~1000–2000 pieces for anything from 16 MiB to 32 GiB). Trackers: each --tracker is one tier (BEP 12); commas inside one flag put several trackers in the same tier.

For byte-reproducible output use --no-date and --no-created-by: the same files and flags then give the same bytes on any machine.

Lints (warnings on stderr, or in "warnings" under --json): private without trackers, an unusual piece length for the size, empty files.

--check-web-seeds asks each --web-seed for the first and last 16 bytes of every file (HTTP Range requests, BEP 19 paths: a URL ending in '/' is a directory holding the torrent's name and paths; a multi-file torrent's URL gets a '/' added) and compares them with the local files; a file that is missing, shorter or longer, different, or served without Range support (when larger than 64 KiB) is a warning. The torrent is written either way.`;
  static override examples = [
    { command: '<%= config.bin %> <%= command.id %> ./dist -t http://tracker.example/announce', description: 'Create dist.torrent with one tracker.' },
    { command: '<%= config.bin %> <%= command.id %> big.iso -t udp://a/announce,udp://b/announce -t http://c/announce -o big.torrent', description: 'Two tiers: a and b (tried in random order), then c.' },
    { command: '<%= config.bin %> <%= command.id %> ./site --exclude "*.log" --piece-length 1MiB --no-date --no-created-by -o -', description: 'Reproducible bytes to stdout.' },
    { command: '<%= config.bin %> <%= command.id %> ./build --json | jq -r .result.magnet', description: 'Create and print the magnet link.' },
    { command: '<%= config.bin %> <%= command.id %> ./release -w https://releases.example/files/ --check-web-seeds', description: 'Add a web seed and check that it serves every file.' },
  ];
  static override args = {
    path: Args.string({ required: true, description: 'The file or directory to make a torrent of.' }),
  };
  static override flags = {
    ...createFlags(),
    tracker: Flags.string({ char: 't', multiple: true, description: 'Tracker announce URL; repeat for more tiers, comma-separate trackers of one tier.' }),
    'check-web-seeds': Flags.boolean({ dependsOn: ['web-seed'], description: 'Ask each web seed for the first and last bytes of every file and warn about what it does not serve.' }),
    'no-date': Flags.boolean({ description: 'Leave out the creation date.' }),
    'no-created-by': Flags.boolean({ description: 'Leave out the "created by" field.' }),
    threads: Flags.integer({ min: 1, max: 256, description: 'Hashing threads (default: one per core).' }),
    v2: Flags.boolean({ description: 'A v2-only torrent (BEP 52): merkle trees, no v1 pieces; only v2 clients (libtorrent 2, anacrolix) read it.', exclusive: ['hybrid'] }),
    hybrid: Flags.boolean({ description: 'A hybrid v1+v2 torrent (BEP 52 with BEP 47 padding): SHA-1 and SHA-256 hashed in one read.', exclusive: ['v2'] }),
  };

  async run(): Promise<CreateCommandResult> {
    const { args, flags } = await this.parse(Create);
    // The URLs are checked and an existing output refused before hashing, not after minutes of work.
    trackerTiers(flags);
    const planned = plannedOutput(flags, args.path);
    if (!flags.force && (await outputExists(planned))) throw outputExistsError(planned);
    if (planned !== '-') await checkWritablePlace(planned);
    const progress = await byteProgress('hashing', this.chatty);
    let result;
    try {
      result = await createTorrent({
        ...createOptionsFrom(args.path, flags, {
          version: this.config.version,
          signal: this.signal,
          onProgress: (done, total) => progress.update(done, total),
          onPlan: ({ files, totalLength, pieceLength }) =>
            this.note(`${files} file${files === 1 ? '' : 's'}, ${formatBytes(totalLength)}, piece length ${formatBytes(pieceLength)}${flags['piece-length'] === undefined ? ' (auto)' : ''}`),
        }),
        version: flags.v2 ? 'v2' : flags.hybrid ? 'hybrid' : 'v1',
      });
    } finally {
      progress.stop();
    }
    for (const w of result.warnings) this.warnLine(w);
    // The summary, not result.metainfo: parsing back what was just built is work only
    // --check-web-seeds needs.
    const meta = result.summary;
    const output = flags.output ?? `${meta.name}.torrent`;
    if (output === '-') {
      if (process.stdout.isTTY) throw new BtError('CREATE_STDOUT_IS_TTY', 'usage', 'refusing to write a binary torrent to a terminal; redirect stdout or use -o FILE');
      if (this.jsonEnabled()) throw new BtError('USAGE', 'usage', '--json and -o - both want stdout; choose one');
      await writeStdout(result.torrent);
    } else {
      await writeFileAtomic(output, result.torrent, { overwrite: flags.force });
    }
    const magnet = formatMagnet(magnetOf(meta));
    const seconds = result.hashMs / 1000;
    const summary: CreateCommandResult = {
      output: output === '-' ? '-' : resolve(output),
      name: meta.name,
      infoHash: meta.infoHash.v1?.toString('hex') ?? null,
      infoHashV2: meta.infoHash.v2?.toString('hex') ?? null,
      version: meta.version,
      totalLength: meta.totalLength,
      pieceLength: meta.pieceLength,
      pieceCount: meta.pieceCount,
      fileCount: meta.fileCount,
      private: meta.private,
      trackers: meta.trackers,
      webSeeds: meta.webSeeds,
      magnet,
      skipped: result.walk.skipped,
      hashSeconds: Number(seconds.toFixed(3)),
      bytesPerSecond: seconds > 0 ? Math.round(meta.totalLength / seconds) : 0,
    };
    if (flags['check-web-seeds']) {
      summary.webSeedCheck = await checkWebSeeds({
        urls: meta.webSeeds,
        layout: result.metainfo,
        read: readLocalFiles(result.walk.files.map((f) => f.diskPath)),
        signal: this.signal,
      });
      for (const r of summary.webSeedCheck) {
        for (const p of r.problems) this.warnLine(`web seed \`${r.url}\`: ${p.path.join('/')}: ${p.message} (${p.code})`);
        if (r.gaveUp) this.warnLine(`web seed \`${r.url}\`: stopped after ${r.problems.length} problems; ${meta.fileCount - r.filesChecked} files not checked`);
        if (r.problems.length === 0) this.note(`web seed ${r.url}: serves all ${r.filesChecked} file${r.filesChecked === 1 ? '' : 's'}`);
      }
    }
    if (result.walk.skipped.length > 0) {
      const by = new Map<string, number>();
      for (const s of result.walk.skipped) by.set(s.reason, (by.get(s.reason) ?? 0) + 1);
      this.note(`skipped: ${[...by].map(([r, n]) => `${n} ${r}`).join(', ')}`);
    }
    if (!this.jsonEnabled()) {
      const line = `${summary.infoHash ?? `v2 ${summary.infoHashV2}`}  ${output === '-' ? '(stdout)' : basename(output)}  ${formatBytes(summary.totalLength)} in ${summary.pieceCount} pieces of ${formatBytes(summary.pieceLength)}, hashed in ${formatDuration(result.hashMs)} (${formatRate(summary.bytesPerSecond)})`;
      if (output === '-') this.note(line);
      else {
        this.out(line);
        this.out(magnet);
      }
    }
    return summary;
  }
}

