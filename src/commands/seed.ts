import { Args, Flags } from '../cli/oclif.js';
import { stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { BaseCommand, ndjsonFlag } from '../cli/base-command.js';
import { byteSizeFlag, parseByteSize, parseDuration } from '../cli/flags.js';
import { type CreateFlagValues, SHARE_ONLY_FLAGS, createFlags, createOptionsFrom, outputExists, outputExistsError, plannedOutput, trackerTiers } from '../cli/create-options.js';
import { byteProgress } from '../cli/progress.js';
import { eventJson } from '../cli/render/download.js';
import { formatBytes } from '../cli/render/format.js';
import { type SeedResult, type SeedStopReason, renderSeedSummary, seedStatusLine } from '../cli/render/seed.js';
import { magnetOf } from '../cli/render/torrent.js';
import { readTorrentArg } from '../cli/target.js';
import { BtError } from '../core/errors.js';
import { writeFileAtomic } from '../core/fs/atomic.js';
import { createTorrent, sameTorrent } from '../core/metainfo/create.js';
import { formatMagnet } from '../core/metainfo/magnet.js';
import type { Metainfo } from '../core/metainfo/types.js';
import { diskLayout } from '../core/storage/verify.js';
import { type SeedOutcome, type StopCondition, describeCondition, runSeed } from '../core/session/index.js';
import { ContentStore } from '../core/storage/content-store.js';
import { locateContent } from '../core/storage/locate.js';
import { azureusPrefix, makePeerId } from '../core/tracker/index.js';
import { drainJob } from '../cli/job.js';
import { checkSeedData } from '../cli/seed-check.js';
import { TransportSplit, dhtSettings, swarmFlags } from '../cli/swarm.js';

export type { SeedResult };

export default class Seed extends BaseCommand<SeedResult> {
  static override summary = 'Serve a torrent\'s data to its swarm; stop when the work is done.';
  static override description = `\`btkit seed TORRENT PATH\` serves the data at PATH (the file of a single-file torrent, the top directory of a multi-file one; a directory holding either works too). It first hashes the data on every core (a progress bar on a terminal) and refuses data that does not match (exit 5); --skip-verify trusts it (only the file sizes are checked). Then it accepts peers on TCP and uTP (BEP 29), both on one port number (--host, --port; a busy port falls back to any; --transport tcp or utp for one only), announces to every tracker of the torrent, one tier after another being tried per BEP 12 but every tier announced to, and to each extra --tracker URL (started, again at each tracker's interval and never sooner than its min interval, stopped on exit), and uploads. Unless the torrent is private (BEP 27) it also runs the DHT (BEP 5: announce_peer for our port; --no-dht, --bootstrap) and peer exchange (BEP 11; --no-pex). Peers that come from a magnet link get the torrent's metadata from the seed (BEP 9).

\`btkit seed PATH\` (one argument) is "share this": it creates the torrent first with \`btkit create\`'s flags (-t, --piece-length, --name, --private, --comment, --source, --exclude, …), writes it (-o, default NAME.torrent; --force to overwrite), prints the infohash and the magnet link on stdout, then seeds.

Uploading: a seeding choker with --upload-slots slots (default 4): the fastest interested peers, each for at most three 10-second rounds in a row while others wait, plus one optimistic slot; requests are queued up to 500 per peer (advertised as \`reqq\`, BEP 10) and those it will not serve are rejected (BEP 6); blocks are read from disk in 1 MiB chunks kept in a small cache (--cache), so peers asking for the same piece do not read it again. --upload-limit caps the rate, --max-peers the connections.

Stop conditions (--until, repeatable; the first one met stops the seed, exit 0): ratio=N (uploaded N times the size), time=DURATION (e.g. 90s, 10m; counted from when seeding starts), uploaded=BYTES (e.g. 4GiB), peers-complete=N (N distinct peers finished while connected: they lacked pieces, then held every piece; another seed that connects complete does not count). Without --until it runs until SIGINT/SIGTERM, which then exits 0; with --until, an interruption before the condition exits 130. Either way the trackers are told \`stopped\`.

On a terminal a status line shows peers, upload rate, uploaded and ratio. --json prints NDJSON events: created (share), verified ({"skipped":bool}), started (with the listening port), tracker, peer-connected (with its transport: tcp or utp), peer-complete, peer-dropped, progress (every second), until (the condition met), done; then the summary envelope.`;
  static override examples = [
    { command: '<%= config.bin %> <%= command.id %> dist.torrent ./dist --until peers-complete=20 --until time=30m', description: 'CI: serve a build until 20 runners have it, at most half an hour.' },
    { command: '<%= config.bin %> <%= command.id %> ./dist -t http://tracker.ci:6969/announce -o dist.torrent', description: 'Share a directory: create dist.torrent, print its magnet, seed until Ctrl-C.' },
    { command: '<%= config.bin %> <%= command.id %> big.torrent big.iso --skip-verify --upload-limit 20MiB --until ratio=3', description: 'Trust the data, cap the upload, stop after three copies.' },
    { command: "<%= config.bin %> <%= command.id %> x.torrent x --json | jq -c 'select(.type==\"progress\") | .uploaded'", description: 'Progress as NDJSON.' },
  ];
  static override args = {
    target: Args.string({ required: true, description: 'The .torrent file; or, alone, the file or directory to create a torrent of and share.' }),
    path: Args.string({ required: false, description: 'The data: the torrent\'s file or top directory (or a directory holding it).' }),
  };
  static override baseFlags = { ...BaseCommand.baseFlags, ...ndjsonFlag };
  static override flags = {
    port: Flags.integer({ char: 'p', min: 0, max: 65535, default: 6881, description: "Port to accept peers on: TCP, and UDP for uTP; the DHT's UDP port with --transport tcp, another one otherwise (0: any free port; a busy port falls back to any)." }),
    host: Flags.string({ aliases: ['bind'], default: '0.0.0.0', description: "Address to accept peers on (and the DHT's). --bind is an alias." }),
    ...swarmFlags,
    tracker: Flags.string({ char: 't', multiple: true, description: 'With a torrent: another tracker URL to announce to. Alone (share): the torrent\'s trackers, as in `create` (one tier per flag, commas inside one tier).' }),
    until: Flags.string({ multiple: true, description: 'Stop (exit 0) when this is met: ratio=N, time=DURATION, uploaded=BYTES, peers-complete=N. Repeatable: the first met wins.' }),
    'skip-verify': Flags.boolean({ description: 'Trust the data on disk instead of hashing it first (file sizes are still checked).' }),
    'upload-limit': byteSizeFlag({ description: 'Most bytes per second to upload (e.g. 10MiB); default unlimited.' }),
    'max-peers': Flags.integer({ min: 1, max: 1000, default: 100, description: 'Most peers connected at once.' }),
    'upload-slots': Flags.integer({ min: 1, max: 100, default: 4, description: 'Peers uploaded to at once (the optimistic slot included).' }),
    cache: byteSizeFlag({ default: 32 * 1024 * 1024, defaultHelp: async () => '32MiB', description: 'Read cache size; 0 reads every block from disk.' }),
    threads: Flags.integer({ min: 1, max: 256, description: 'Hashing threads for the check and for share (default: one per core).' }),
    ...createFlags({ share: true }),
  };

  async run(): Promise<SeedResult> {
    const { args, flags } = await this.parse(Seed);
    const share = args.path === undefined;
    const conditions = (flags.until ?? []).map(parseUntil);
    const json = this.jsonEnabled();
    if (!share) {
      const shareOnly = SHARE_ONLY_FLAGS.filter(
        (f) => flags[f] !== undefined && flags[f] !== false,
      );
      if (shareOnly.length > 0) throw new BtError('USAGE', 'usage', `--${shareOnly[0]} is for sharing a path (\`btkit seed PATH\`); with a torrent it has no effect`);
    } else if (/\.torrent$/i.test(args.target) && (await stat(args.target).then((s) => s.isFile(), () => false))) {
      throw new BtError('USAGE', 'usage', `\`${args.target}\` is a torrent: give the data too (\`btkit seed ${args.target} PATH\`), or a file or directory alone to share it`);
    }

    // --- the torrent and its data -----------------------------------------------------------------
    const { meta, torrentPath, contentPath, verified, extraTrackers } = await this.torrentAndData(args, flags, share);
    const infoHash = (meta.infoHash.v1 ?? meta.infoHash.v2!).toString('hex');
    const magnet = formatMagnet(magnetOf(meta));
    const content = new ContentStore(diskLayout(meta, contentPath), meta.pieceLength, meta.totalLength);

    await checkSeedData(meta, content, { check: verified, contentPath, threads: flags.threads, chatty: this.chatty, signal: this.signal }, {
      event: (ev) => json && this.emitEvent(ev),
      note: (line) => this.note(line),
    });

    // --- serve until a condition is met or we are interrupted ---------------------------------------
    const tty = this.chatty && process.stderr.isTTY === true && process.env.TERM !== 'dumb';
    let drawn = false;
    let complete = 0;
    const warned = new Set<string>();
    const job = runSeed(
      {
        meta,
        content,
        cacheBytes: flags.cache,
        extraTrackers,
        dht: dhtSettings(flags, flags.host),
        pex: flags.pex,
        ...(flags['pex-interval'] !== undefined ? { pexIntervalMs: flags['pex-interval'] } : {}),
        conditions,
        peerId: makePeerId(azureusPrefix('BK', this.config.version)),
        clientName: `btkit ${this.config.version}`,
        listen: { host: flags.host, port: flags.port },
        transport: flags.transport,
        maxPeers: flags['max-peers'],
        uploadLimit: flags['upload-limit'] ?? 0,
        uploadSlots: flags['upload-slots'],
      },
      this.signal,
    );
    const split = new TransportSplit();
    let outcome: SeedOutcome;
    try {
      outcome = await drainJob(job, (ev) => {
        if (ev.type === 'peer-complete' && ev.finished) complete++;
        split.see(ev);
        if (json) {
          if (ev.type !== 'piece-verified') {
            const out = ev.type === 'until' ? { ...ev } : eventJson(ev);
            if (out) this.emitEvent(out);
          }
          return;
        }
        if (ev.type === 'started') {
          const l = ev.listen;
          const tiers = meta.trackers.length + extraTrackers.length;
          this.note(
            `seeding ${meta.name} (${formatBytes(meta.totalLength)}, ${meta.pieceCount} pieces) on ${l ? `${l.host}:${l.port}` : '(not listening)'}; ${tiers} tracker tier(s)${flags.dht && !meta.private && dhtSettings(flags, flags.host) ? ', DHT' : ''}; ${conditions.length ? `until ${conditions.map(describeCondition).join(' or ')}` : 'until interrupted (Ctrl-C)'}`,
          );
        } else if (ev.type === 'tracker' && ev.error) {
          if (!warned.has(ev.url)) this.warnLine(`tracker ${ev.url}: ${ev.error.message}`);
          warned.add(ev.url);
        } else if (ev.type === 'warning') this.warnLine(ev.message);
        else if (ev.type === 'progress' && tty) {
          process.stderr.write(`\r\x1b[2K${seedStatusLine(ev, complete, process.stderr.columns || 100, split.utp)}`);
          drawn = true;
        }
      });
    } finally {
      if (drawn) process.stderr.write('\r\x1b[2K');
    }
    const { met, final } = outcome;
    if (!met && this.signal.aborted && conditions.length > 0) {
      throw new BtError('INTERRUPTED', 'interrupted', `interrupted before ${conditions.map(describeCondition).join(' or ')} (uploaded ${formatBytes(final.uploaded)})`);
    }
    const reason: SeedStopReason = met ? met.kind : 'interrupted';
    const result: SeedResult = {
      infoHash,
      name: meta.name,
      torrent: torrentPath,
      magnet,
      contentPath,
      verified,
      listen: outcome.listen,
      trackers: outcome.trackers,
      reason,
      condition: met ? describeCondition(met) : null,
      totalBytes: meta.totalLength,
      uploaded: final.uploaded,
      ratio: meta.totalLength > 0 ? Number((final.uploaded / meta.totalLength).toFixed(4)) : 0,
      elapsedMs: outcome.elapsedMs,
      averageUploadRate: outcome.elapsedMs > 0 ? Math.round((final.uploaded * 1000) / outcome.elapsedMs) : 0,
      peersSeen: outcome.peersSeen,
      peersComplete: outcome.peersComplete,
      cache: outcome.cache,
    };
    if (!json && this.chatty) for (const line of renderSeedSummary(result)) process.stderr.write(`${line}\n`);
    return result;
  }

  /** The torrent (read, or created from PATH when sharing), where its data is, and how the data is to be checked. */
  private async torrentAndData(
    args: { target: string; path?: string | undefined },
    flags: CreateFlagValues & { tracker?: string[] | undefined; 'skip-verify': boolean },
    share: boolean,
  ): Promise<{ meta: Metainfo; torrentPath: string | null; contentPath: string; verified: SeedResult['verified']; extraTrackers: string[] }> {
    if (share) {
      const created = await this.share(args.target, flags);
      return { meta: created.meta, torrentPath: created.torrentPath, contentPath: resolve(args.target), verified: 'created', extraTrackers: [] };
    }
    const meta = await readTorrentArg(args.target, { parse: { allowV2Only: true } });
    const extraTrackers = flags.tracker ?? [];
    for (const url of extraTrackers) if (!/^(https?|udp):\/\/[^/\s]+/i.test(url)) throw new BtError('USAGE', 'usage', `\`${url}\` is not an http(s) or udp tracker URL`);
    return {
      meta,
      torrentPath: args.target === '-' ? null : resolve(args.target),
      contentPath: await locateContent(meta, resolve(args.path!), 'SEED'),
      verified: flags['skip-verify'] ? 'skipped' : 'checked',
      extraTrackers,
    };
  }

  /**
   * `btkit seed PATH`: create the torrent (as `btkit create` would), write it, print infohash and
   * magnet. An existing output that is the very torrent this would write (same info dictionary,
   * trackers and web seeds) is reused as it is; a different one still needs --force.
   */
  private async share(path: string, flags: CreateFlagValues): Promise<{ meta: Metainfo; torrentPath: string }> {
    trackerTiers(flags);
    const output = resolve(plannedOutput(flags, path));
    // Refuse what cannot be the same torrent before hashing: no torrent at all, or another name.
    const existing = !flags.force && (await outputExists(output)) ? await readTorrentArg(output, { parse: { allowV2Only: true } }).catch(() => null) : undefined;
    if (existing === null) throw outputExistsError(`${output}`, ' and is not a torrent');
    if (existing && existing.name !== (flags.name ?? basename(resolve(path)))) throw outputExistsError(output, ` and is the torrent of \`${existing.name}\``);
    const progress = await byteProgress('hashing', this.chatty);
    let created;
    try {
      created = await createTorrent(createOptionsFrom(path, flags, { version: this.config.version, signal: this.signal, onProgress: (done, total) => progress.update(done, total) }));
    } finally {
      progress.stop();
    }
    for (const w of created.warnings) this.warnLine(w);
    if (existing && !sameTorrent(existing, created.metainfo)) throw outputExistsError(output, ' and is a different torrent (other data, piece length, trackers or web seeds)');
    if (!existing) await writeFileAtomic(output, created.torrent, { overwrite: flags.force ?? false });
    const meta = existing ?? created.metainfo;
    const magnet = formatMagnet(magnetOf(meta));
    if (this.jsonEnabled()) this.emitEvent({ type: 'created', torrent: output, reused: existing !== undefined, infoHash: (meta.infoHash.v1 ?? meta.infoHash.v2!).toString('hex'), magnet, pieces: meta.pieceCount, pieceLength: meta.pieceLength, totalBytes: meta.totalLength });
    else {
      this.out((meta.infoHash.v1 ?? meta.infoHash.v2!).toString('hex'));
      this.out(magnet);
      this.note(existing ? `${output} already holds this torrent: reused` : `wrote ${output}`);
    }
    return { meta, torrentPath: output };
  }

  /** NDJSON: the closing envelope is one line too, like every event before it. */
  override logJson(json: unknown): void {
    this.emitEvent(json as Record<string, unknown>);
  }
}

/** `ratio=1.5`, `time=10m`, `uploaded=4GiB`, `peers-complete=3` → a stop condition. */
export function parseUntil(text: string): StopCondition {
  const m = /^\s*([a-z-]+)\s*=\s*(\S+)\s*$/.exec(text);
  const bad = (why: string) => new BtError('USAGE', 'usage', `--until \`${text}\`: ${why} (ratio=N, time=DURATION, uploaded=BYTES or peers-complete=N)`);
  if (!m) throw bad('expected KIND=VALUE');
  const [, kind, value] = m as unknown as [string, string, string];
  const positive = (parse: (text: string) => number, notOne: string, zero: string): number => {
    let n: number;
    try {
      n = parse(value);
    } catch {
      throw bad(notOne);
    }
    if (n <= 0) throw bad(zero);
    return n;
  };
  switch (kind) {
    case 'ratio': {
      const ratio = Number(value);
      if (!Number.isFinite(ratio) || ratio <= 0) throw bad('not a positive ratio');
      return { kind, ratio };
    }
    // A zero limit would stop before serving anything: almost surely a typo, so refuse it.
    case 'time':
      return { kind, ms: positive(parseDuration, 'not a duration such as 90s or 10m', 'the time must be more than zero') };
    case 'uploaded':
      return { kind, bytes: positive(parseByteSize, 'not a size such as 4GiB', 'the size must be more than zero') };
    case 'peers-complete': {
      const count = Number(value);
      if (!Number.isInteger(count) || count < 1) throw bad('not a positive whole number');
      return { kind, count };
    }
    default:
      throw bad(`unknown condition \`${kind}\``);
  }
}
