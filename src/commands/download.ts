import { Args, Flags } from '../cli/oclif.js';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { BaseCommand } from '../cli/base-command.js';
import { byteSizeFlag, durationFlag, hostPortFlag } from '../cli/flags.js';
import { type DownloadResult, eventJson, parseIndexList, pieceSampler, progressLine, renderSummary } from '../cli/render/download.js';
import { formatBytes } from '../cli/render/format.js';
import { readTorrentArg } from '../cli/target.js';
import { BtError, abortError, fromSystemError, isBtError } from '../core/errors.js';
import { GlobSet } from '../core/fs/glob.js';
import { HashPool } from '../core/hash/pool.js';
import type { Metainfo } from '../core/metainfo/types.js';
import { POOL_MIN_PIECE, Session, type SessionEvent, type SessionStats, TrackerSource, streamFile } from '../core/session/index.js';
import { FileStore } from '../core/storage/file-store.js';
import { TrackerClient, TrackerTiers, azureusPrefix, makePeerId } from '../core/tracker/index.js';

export type { DownloadResult };

export default class Download extends BaseCommand<DownloadResult> {
  static override summary = 'Download a torrent from its swarm (and share it while doing so).';
  static override description = `Joins the torrent's swarm and downloads it into DIR (-o, default the current directory): the file of a single-file torrent, or the torrent's top directory, is created inside DIR. Peers come from the torrent's trackers (BEP 12 tiers, HTTP and UDP, announced again at their interval) and from --peer (repeatable; with --peer and no --tracker the trackers are not used). btkit speaks the peer wire protocol over TCP with the fast extension (BEP 6) and the extension protocol (BEP 10), verifies every piece's SHA-1 before it is written, and bans peers that send bad data. While downloading it also uploads to other peers (BEP 3 choking: the best four by rate, plus one optimistic unchoke).

--select FILES downloads only some files: indices as in \`btkit inspect --json\` (0-based; \`0,2-4\`) or globs on the path inside the torrent (\`*.iso\`, \`docs/**\`); repeatable. Only their pieces are fetched; a file not selected is written only where it shares a piece with a selected one.

Resume: the verified pieces are recorded in DIR/.btkit/<infohash>.resume (written atomically every few seconds and on exit). A second run on the same DIR checks the file sizes and that state and fetches only what is missing; when the last run was killed, the pieces written after its last save are hashed rather than fetched again. --recheck hashes everything on disk instead.

--stdout streams the one selected file, in order, to standard output while it downloads (pieces are fetched in order; progress goes to stderr), for pipelines such as \`| tar t\`. Without -o the data is kept in a temporary directory removed at the end.

By default btkit exits when the selection is complete. --seed keeps uploading afterwards, until --seed-ratio (uploaded / size) or --seed-time is reached, or until interrupted.

--json prints NDJSON events on stdout: started, peer-connected, peer-dropped, peer-banned, piece-verified (about one per percent), piece-failed, tracker, progress (every second), complete, done; then the summary envelope.

Exit status: 0 when complete; 3 for a torrent that cannot be used (its paths leave DIR, it is not a v1 torrent); 6 (no peers) when no data arrived for --timeout; 7 for a disk error; 130 when interrupted (the state is saved: run again to resume).`;
  static override examples = [
    { command: '<%= config.bin %> <%= command.id %> debian.torrent -o ~/Downloads', description: 'Download through the torrent\'s trackers.' },
    { command: '<%= config.bin %> <%= command.id %> x.torrent --peer 192.0.2.7:51413 --peer [2001:db8::1]:6881', description: 'Only from these peers.' },
    { command: "<%= config.bin %> <%= command.id %> dist.torrent --select '*.tar' --stdout | tar t", description: 'Stream one file of the torrent into a pipeline.' },
    { command: '<%= config.bin %> <%= command.id %> x.torrent --seed --seed-ratio 2 --upload-limit 1MiB', description: 'Download, then seed until twice the size was uploaded, at most 1 MiB/s.' },
    { command: "<%= config.bin %> <%= command.id %> x.torrent --json | jq -c 'select(.type==\"progress\") | .doneBytes'", description: 'Progress as NDJSON.' },
  ];
  static override args = {
    torrent: Args.string({ required: true, description: 'The .torrent file, or `-` for standard input.' }),
  };
  static override flags = {
    output: Flags.string({ char: 'o', description: 'Directory to download into (created if missing). Default: the current directory (with --stdout: a temporary one).' }),
    select: Flags.string({ multiple: true, description: 'Download only these files: 0-based indices (`0,2-4`) or globs on their paths in the torrent (`*.iso`). Repeatable.' }),
    peer: hostPortFlag({ multiple: true, description: 'Connect to this peer, host:port ([::1]:6881 for IPv6). Repeatable; trackers are then skipped unless --tracker is given.' }),
    tracker: Flags.boolean({ description: "With --peer: use the torrent's trackers as well." }),
    'max-peers': Flags.integer({ min: 1, max: 1000, default: 50, description: 'Most peers connected at once.' }),
    'download-limit': byteSizeFlag({ description: 'Most bytes per second to download (e.g. 500KiB, 10MiB); default unlimited.' }),
    'upload-limit': byteSizeFlag({ description: 'Most bytes per second to upload; default unlimited.' }),
    seed: Flags.boolean({ description: 'Keep seeding after the download completes.' }),
    'seed-ratio': Flags.string({ description: 'With --seed: stop once uploaded / size reaches this ratio (e.g. 1.5).' }),
    'seed-time': durationFlag({ description: 'With --seed: stop after seeding this long (e.g. 30m).' }),
    stdout: Flags.boolean({ description: 'Stream the one selected file to standard output, in order, while downloading.' }),
    port: Flags.integer({ char: 'p', min: 0, max: 65535, default: 6881, description: 'TCP port to accept peers on (0: any free port; a busy port falls back to any).' }),
    bind: Flags.string({ default: '0.0.0.0', description: 'Address to accept peers on.' }),
    timeout: durationFlag({ default: 60_000, defaultHelp: async () => '60s', description: 'Give up (exit 6, no peers) when no data arrived for this long; 0 waits forever.' }),
    recheck: Flags.boolean({ description: 'Hash all data already on disk instead of trusting the resume state.' }),
  };

  async run(): Promise<DownloadResult | undefined> {
    const { args, flags } = await this.parse(Download);
    if (flags.stdout && this.jsonEnabled()) throw new BtError('USAGE', 'usage', '--stdout and --json both want standard output; use one');
    if ((flags['seed-ratio'] !== undefined || flags['seed-time'] !== undefined) && !flags.seed) throw new BtError('USAGE', 'usage', '--seed-ratio and --seed-time need --seed');
    let seedRatio: number | undefined;
    if (flags['seed-ratio'] !== undefined) {
      seedRatio = Number(flags['seed-ratio']);
      if (!Number.isFinite(seedRatio) || seedRatio <= 0) throw new BtError('USAGE', 'usage', `\`${flags['seed-ratio']}\` is not a positive ratio (e.g. 1.5)`);
    }

    const meta = await readTorrentArg(args.torrent);
    if (!meta.infoHash.v1) throw new BtError('DOWNLOAD_V2_ONLY', 'input', 'this is a v2-only torrent; btkit downloads v1 and hybrid torrents');
    const selection = selectFiles(meta, flags.select ?? []);
    let streamIndex: number | null = null;
    if (flags.stdout) {
      const chosen = selection.map((s, i) => (s && !meta.files[i]!.padding ? i : -1)).filter((i) => i >= 0);
      if (chosen.length !== 1) {
        throw new BtError('USAGE', 'usage', `--stdout streams one file; ${chosen.length} are selected (use --select to pick one)`);
      }
      streamIndex = chosen[0]!;
    }

    // Paths are checked (again) here, before anything is created.
    const tempDir = flags.stdout && flags.output === undefined;
    const outDir = resolve(tempDir ? await mkdtemp(join(tmpdir(), 'btkit-stream-')) : (flags.output ?? '.'));
    const store = FileStore.open(meta, { outDir });
    const infoHash = meta.infoHash.v1.toString('hex');
    const resumePath = join(outDir, '.btkit', `${infoHash}.resume`);
    if (!tempDir) {
      try {
        await mkdir(join(outDir, '.btkit'), { recursive: true });
      } catch (err) {
        throw fromSystemError(err, outDir);
      }
    }

    const peerId = makePeerId(azureusPrefix('BK', this.config.version));
    const pool = meta.pieceLength >= POOL_MIN_PIECE ? new HashPool(1) : null;
    const session = new Session({
      metainfo: meta,
      store,
      peerId,
      ...(tempDir ? {} : { resumePath }),
      recheck: flags.recheck,
      selection,
      sequential: flags.stdout,
      listen: { host: flags.bind, port: flags.port, fallbackToAnyPort: true },
      maxPeers: flags['max-peers'],
      downloadLimit: flags['download-limit'] ?? 0,
      uploadLimit: flags['upload-limit'] ?? 0,
      seed: flags.seed ? { ...(seedRatio !== undefined ? { ratio: seedRatio } : {}), ...(flags['seed-time'] !== undefined ? { timeMs: flags['seed-time'] } : {}) } : false,
      stallTimeoutMs: flags.timeout,
      hashPool: pool,
      clientName: `btkit ${this.config.version}`,
    });
    const peers = flags.peer ?? [];
    const useTrackers = peers.length === 0 || flags.tracker;
    let client: TrackerClient | null = null;
    if (useTrackers && meta.trackers.length > 0) {
      client = new TrackerClient();
      session.addSource(new TrackerSource({ client, tiers: new TrackerTiers(meta.trackers), infoHash: meta.infoHash.v1, peerId, key: (Math.random() * 0x1_0000_0000) >>> 0 }));
    } else if (peers.length === 0) {
      throw new BtError('DOWNLOAD_NO_SOURCES', 'usage', 'the torrent lists no trackers: give peers with --peer host:port');
    }
    session.addPeers('manual', peers);

    const json = this.jsonEnabled();
    const tty = this.chatty && process.stderr.isTTY === true && process.env.TERM !== 'dumb';
    const sample = pieceSampler(meta.pieceCount);
    const seen = new Set<string>();
    const banned: string[] = [];
    let started: Extract<SessionEvent, { type: 'started' }> | undefined;
    let final: SessionStats & { reason?: string } = session.stats();
    let lastLine = 0;
    const drawLine = (s: SessionStats, force = false) => {
      if (!tty) return;
      const now = performance.now();
      if (!force && now - lastLine < 100) return;
      lastLine = now;
      process.stderr.write(`\r\x1b[2K${progressLine(s, process.stderr.columns || 100)}`);
    };
    const clearLine = () => {
      if (tty && lastLine > 0) process.stderr.write('\r\x1b[2K');
    };

    // --stdout: a second loop writes the file in order while the session runs. A failed stream
    // (a closed pipe) stops the session; a failed session ends the stream.
    const streamAbort = new AbortController();
    let streamed: number | null = null;
    let streamError: unknown;
    const streaming =
      streamIndex === null
        ? Promise.resolve()
        : (async () => {
            streamed = 0;
            for await (const chunk of streamFile(session, store, meta, streamIndex, { signal: AbortSignal.any([this.signal, streamAbort.signal]) })) {
              await writeOut(chunk);
              streamed += chunk.length;
            }
          })().catch((err: unknown) => {
            streamError = err;
            if (!this.signal.aborted && !streamAbort.signal.aborted) this.abort.abort(isBtError(err) ? err : fromSystemError(err, 'standard output'));
          });

    try {
      for await (const ev of session.run(this.signal)) {
        if (ev.type === 'started') {
          started = ev;
          if (!json) {
            const resume = ev.resume.mode === 'fast' ? ', resumed' : ev.resume.checked > 0 ? `, ${ev.resume.recovered} of ${ev.resume.checked} pieces on disk verified` : '';
            this.note(`downloading ${meta.name} (${formatBytes(ev.totalBytes)}, ${formatBytes(ev.doneBytes)} already on disk${resume}) into ${outDir}${ev.listen ? `; listening on port ${ev.listen.port}` : ''}`);
            if (ev.resume.note) this.note(ev.resume.note);
          }
        } else if (ev.type === 'peer-connected') {
          seen.add(ev.peer);
        } else if (ev.type === 'peer-banned') {
          banned.push(ev.peer);
          if (!json) {
            clearLine();
            this.warnLine(`banned ${ev.peer}: ${ev.reason}`);
          }
        } else if (ev.type === 'warning') {
          if (!json) clearLine();
          this.warnLine(ev.message);
        } else if (ev.type === 'progress') {
          drawLine(ev, true);
        } else if (ev.type === 'piece-verified') {
          drawLine({ ...session.stats() });
        } else if (ev.type === 'done') {
          final = ev;
        }
        if (json) {
          if (ev.type === 'piece-verified' && !sample(ev.havePieces)) continue;
          const out = eventJson(ev);
          if (out) this.emitEvent(out);
        }
      }
      await streaming;
      if (streamError) throw streamError;
    } catch (err) {
      streamAbort.abort();
      await streaming;
      throw err;
    } finally {
      clearLine();
      if (client) await client.close().catch(() => undefined);
      await pool?.close();
      if (tempDir) await rm(outDir, { recursive: true, force: true }).catch(() => undefined);
    }
    if (this.signal.aborted) throw abortError(this.signal);

    const result: DownloadResult = {
      infoHash,
      name: meta.name,
      contentPath: tempDir ? null : FileStore.contentPath(meta, outDir),
      outDir: tempDir ? null : outDir,
      reason: (final.reason === 'seed-ratio' || final.reason === 'seed-time' ? final.reason : 'complete') as DownloadResult['reason'],
      files: meta.files
        .map((f, index) => ({ index, path: meta.multiFile ? [meta.name, ...f.path].join('/') : meta.name, length: f.length, selected: selection[index]!, padding: f.padding }))
        .filter((f) => !f.padding)
        .map(({ padding: _padding, ...f }) => f),
      pieces: final.pieces,
      havePieces: final.havePieces,
      totalBytes: final.totalBytes,
      doneBytes: final.doneBytes,
      downloaded: final.downloaded,
      uploaded: final.uploaded,
      wasted: final.wasted,
      elapsedMs: Math.round(final.elapsedMs),
      averageRate: final.elapsedMs > 0 ? Math.round((final.downloaded * 1000) / final.elapsedMs) : 0,
      peersSeen: seen.size,
      banned,
      resume: started ? { mode: started.resume.mode, checked: started.resume.checked, recovered: started.resume.recovered } : { mode: 'none', checked: 0, recovered: 0 },
      streamed,
    };
    if (!json && this.chatty) for (const line of renderSummary(result)) process.stderr.write(`${line}\n`);
    return result;
  }

  /** NDJSON: the closing envelope is one line too, like every event before it. */
  override logJson(json: unknown): void {
    this.emitEvent(json as Record<string, unknown>);
  }
}

/** Which files to download: every file, or those matching an index list or a glob. */
export function selectFiles(meta: Pick<Metainfo, 'files' | 'name' | 'multiFile'>, specs: readonly string[]): boolean[] {
  if (specs.length === 0) return meta.files.map(() => true);
  const selected = meta.files.map(() => false);
  for (const spec of specs) {
    const indices = parseIndexList(spec);
    if (indices) {
      for (const i of indices) {
        if (i >= meta.files.length) throw new BtError('USAGE', 'usage', `--select ${spec}: the torrent has ${meta.files.length} file(s), indices 0..${meta.files.length - 1}`);
        selected[i] = true;
      }
      continue;
    }
    const glob = new GlobSet([spec]);
    let any = false;
    meta.files.forEach((f, i) => {
      if (f.padding) return;
      const path = meta.multiFile ? f.path.join('/') : meta.name;
      if (glob.matches(path) || glob.matches(meta.multiFile ? `${meta.name}/${path}` : path)) {
        selected[i] = true;
        any = true;
      }
    });
    if (!any) throw new BtError('USAGE', 'usage', `--select ${spec}: no file of the torrent matches`);
  }
  return selected;
}

/** Write to stdout, waiting for the pipe to take it (backpressure); rejects on EPIPE. */
function writeOut(chunk: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    process.stdout.write(chunk, (err) => (err ? reject(fromSystemError(err, 'standard output')) : resolve()));
  });
}
