import { Args, Flags } from '../cli/oclif.js';
import { BaseCommand, ndjsonFlag } from '../cli/base-command.js';
import { byteSizeFlag, durationFlag, hostPortFlag, parseHostPort, trackerUrlFlag } from '../cli/flags.js';
import { type DownloadResult, downloadNote, downloadResult, eventJson, pieceSampler, progressLine, renderSummary } from '../cli/render/download.js';
import { drainJob } from '../cli/job.js';
import { TransportSplit, dhtSettings, swarmFlags, webSeedFlags } from '../cli/swarm.js';
import { resolveTarget } from '../cli/target.js';
import { BtError, abortError, fromSystemError } from '../core/errors.js';
import { httpSeedUrls, runDownload, webSeedUrls, type DownloadOutcome, type SessionStats } from '../core/session/index.js';
import { azureusPrefix, makePeerId } from '../core/tracker/index.js';

export type { DownloadResult };

export default class Download extends BaseCommand<DownloadResult> {
  static override summary = 'Download a torrent, a magnet link or an infohash from its swarm (and share it while doing so).';
  static override description = `Joins the swarm and downloads into DIR (-o, default the current directory): the file of a single-file torrent, or the torrent's top directory, is created inside DIR. TORRENT is a .torrent file (\`-\` for standard input), a magnet link, or a bare infohash (40 hex or 32 base32 characters).

Peers come from the trackers (the torrent's BEP 12 tiers, or a magnet's tr=, plus any --tracker), from --peer and a magnet's x.pe=, from the DHT (BEP 5: get_peers, and announce_peer for our port) and from peer exchange (BEP 11) with connected peers. With --peer the torrent's own trackers are skipped unless --torrent-trackers. Private torrents (BEP 27) use their trackers only: no DHT, no PEX.

Web seeds (BEP 19): HTTP servers that hold the files — the torrent's url-list, a magnet's ws= (used once the metadata is known) and --web-seed URL — serve pieces over Range requests beside the peers: they fill in what peers do not provide (the pieces no connected peer has come first), and a download from web seeds alone, with no tracker and no peer, works. Every piece is checked as a peer's is; a server that sends bad data is dropped after a few bad pieces, one that lacks a file (404) is not asked for that file again, one that answers 503 (Retry-After honoured) or times out is backed off, one that ignores Range is dropped for files over 4 MiB. --no-web-seeds ignores the torrent's and the magnet's.

HTTP seeds (BEP 17): a torrent's httpseeds are scripts that know the torrent and serve it piece by piece (URL?info_hash=…&piece=N, with &ranges=a-b for part of a piece); they are used beside the web seeds under the same rules, and a 503 whose body is a number of seconds waits that long. --no-web-seeds turns them off too; --web-seed adds BEP 19 web seeds only.

A magnet link or infohash: the info dictionary (the metadata) is fetched from peers that offer it (BEP 9), in 16 KiB pieces from several peers at once, and checked against the infohash before anything is written; the download then goes on over the same connections. --metadata-only stops there and writes the .torrent (the info dictionary byte for byte as received, the magnet's trackers) to --save-torrent FILE or DIR/NAME.torrent; --save-torrent with an ordinary magnet download keeps the .torrent too. A v2 or hybrid torrent (a btmh magnet) also needs its piece layers (BEP 52), which the info dictionary lacks: they are asked of v2 peers by hash requests and written into the .torrent as \`piece layers\` — a download writes the file at once and again when they arrive; --metadata-only waits for them up to --timeout and writes once. Without them (no peer sent them in time) the .torrent is still whole and usable (clients fetch the layers from peers): a warning PIECE_LAYERS_MISSING on stderr, torrentPieceLayers false in the --json result, exit 0. A magnet's so= (BEP 53) selects files as --select does.

btkit speaks the peer wire protocol over TCP and uTP (BEP 29; --transport picks tcp, utp or both, the default: uTP dialed first, TCP 0.3 s later, one connection per peer) with the fast extension (BEP 6, allowed-fast sets included) and the extension protocol (BEP 10), verifies every piece's SHA-1 before it is written, and bans peers that send bad data. It serves the metadata to others once it has it, and uploads while downloading (BEP 3 choking: the best four by rate, plus one optimistic unchoke).

--select FILES downloads only some files: indices as in \`btkit inspect --json\` (0-based; \`0,2-4\`) or globs on the path inside the torrent (\`*.iso\`, \`docs/**\`); repeatable. Only their pieces are fetched; a file not selected is written only where it shares a piece with a selected one.

Resume: the verified pieces are recorded in DIR/.btkit/<infohash>.resume (written atomically right after the first verified piece, then every few seconds and on exit). A second run on the same DIR checks the file sizes and that state and fetches only what is missing; when the last run was killed, the pieces written after its last save are hashed rather than fetched again. --recheck hashes everything on disk instead.

--stdout streams the one selected file, in order, to standard output while it downloads (pieces are fetched in order; progress goes to stderr), for pipelines such as \`| tar t\`. Without -o the data is kept in a temporary directory removed at the end.

By default btkit exits when the selection is complete. --seed keeps uploading afterwards, until --seed-ratio (uploaded / size) or --seed-time is reached, or until interrupted.

The DHT: without --bootstrap the node starts from its saved routing table (the state file dht-lookup uses) and the public routers. Under BTKIT_NO_PUBLIC_DHT (tests, sandboxes) the DHT runs only with an explicit --bootstrap.

--json prints NDJSON events on stdout: metadata-wanted, metadata-peer, metadata-piece, metadata-rejected, metadata (the info dictionary arrived: its size, the peers it came from, how long it took), torrent-saved, started, peer-connected (with its source: tracker, manual, dht, pex, incoming; and its transport: tcp or utp), peer-dropped, peer-banned, piece-verified (about one per percent; its from lists the peers and web seed URLs that sent its blocks), piece-failed, tracker, dht, webseed-added (its protocol: bep19 or bep17), webseed-error, webseed-backoff, webseed-file-unavailable, webseed-range-ignored, webseed-strike, webseed-dropped, progress (every second; downloadedWebSeed is the part of downloaded that came from web seeds), complete, done (its reason: complete, seed-ratio, seed-time, metadata, failed); then the summary envelope.

Exit status: 0 when complete (or, with --metadata-only, when the .torrent is written); 3 for a torrent that cannot be used (its paths leave DIR); 6 (no peers) when no data arrived for --timeout; 8 (no metadata) when no peer sent a magnet's metadata within --timeout; 7 for a disk error; 130 when interrupted (the state is saved: run again to resume).`;
  static override examples = [
    { command: '<%= config.bin %> <%= command.id %> debian.torrent -o ~/Downloads', description: "Download through the torrent's trackers and the DHT." },
    { command: "<%= config.bin %> <%= command.id %> 'magnet:?xt=urn:btih:9924e7603a28353e40ea29b8660c8a582ebdc99c&tr=http://127.0.0.1:6969/announce'", description: 'Download a magnet link: metadata from peers, then the data.' },
    { command: "<%= config.bin %> <%= command.id %> 'magnet:?xt=urn:btih:…' --metadata-only --save-torrent x.torrent --timeout 30s", description: 'Turn a magnet link into a .torrent, and stop.' },
    { command: '<%= config.bin %> <%= command.id %> x.torrent --peer 192.0.2.7:51413 --peer [2001:db8::1]:6881', description: 'Only from these peers.' },
    { command: '<%= config.bin %> <%= command.id %> release.torrent --no-dht --web-seed https://releases.example.com/v1.2/', description: 'From the release server alone (no tracker, no peer), or beside whatever peers the torrent finds.' },
    { command: "<%= config.bin %> <%= command.id %> dist.torrent --select '*.tar' --stdout | tar t", description: 'Stream one file of the torrent into a pipeline.' },
    { command: '<%= config.bin %> <%= command.id %> x.torrent --seed --seed-ratio 2 --upload-limit 1MiB', description: 'Download, then seed until twice the size was uploaded, at most 1 MiB/s.' },
    { command: "<%= config.bin %> <%= command.id %> x.torrent --json | jq -c 'select(.type==\"progress\") | .doneBytes'", description: 'Progress as NDJSON.' },
  ];
  static override args = {
    torrent: Args.string({ required: true, description: 'A .torrent file (`-` for standard input), a magnet link, or an infohash.' }),
  };
  static override baseFlags = { ...BaseCommand.baseFlags, ...ndjsonFlag };
  static override flags = {
    output: Flags.string({ char: 'o', description: 'Directory to download into (created if missing). Default: the current directory (with --stdout: a temporary one).' }),
    select: Flags.string({ multiple: true, description: 'Download only these files: 0-based indices (`0,2-4`) or globs on their paths in the torrent (`*.iso`). Repeatable.' }),
    peer: hostPortFlag({ multiple: true, description: "Connect to this peer, host:port ([::1]:6881 for IPv6). Repeatable; the torrent's own trackers are then skipped unless --torrent-trackers." }),
    tracker: trackerUrlFlag({ char: 't', multiple: true, description: 'Announce to this tracker too (http, https or udp URL). Repeatable.' }),
    'torrent-trackers': Flags.boolean({ description: "With --peer: use the torrent's (or magnet's) trackers as well." }),
    ...swarmFlags,
    ...webSeedFlags,
    'metadata-only': Flags.boolean({ description: 'For a magnet link or infohash: fetch the metadata, write the .torrent and stop.' }),
    'save-torrent': Flags.string({ description: 'Write the .torrent of a magnet download here (with --metadata-only the default is DIR/NAME.torrent).' }),
    'max-peers': Flags.integer({ min: 1, max: 1000, default: 50, description: 'Most peers connected at once.' }),
    'download-limit': byteSizeFlag({ description: 'Most bytes per second to download (e.g. 500KiB, 10MiB); default unlimited.' }),
    'upload-limit': byteSizeFlag({ description: 'Most bytes per second to upload; default unlimited.' }),
    seed: Flags.boolean({ description: 'Keep seeding after the download completes.' }),
    'seed-ratio': Flags.string({ description: 'With --seed: stop once uploaded / size reaches this ratio (e.g. 1.5).' }),
    'seed-time': durationFlag({ description: 'With --seed: stop after seeding this long (e.g. 30m).' }),
    stdout: Flags.boolean({ description: 'Stream the one selected file to standard output, in order, while downloading.' }),
    port: Flags.integer({ char: 'p', min: 0, max: 65535, default: 6881, description: 'Port to accept peers on: TCP, and UDP for uTP; the DHT\'s UDP port with --transport tcp, another one otherwise (0: any free port; a busy port falls back to any).' }),
    host: Flags.string({ aliases: ['bind'], default: '0.0.0.0', description: 'Address to accept peers on (and the DHT\'s). --bind is an alias.' }),
    timeout: durationFlag({ default: 60_000, description: 'Give up when no data arrived for this long (exit 6), or no metadata (exit 8); 0 waits forever.' }),
    recheck: Flags.boolean({ description: 'Hash all data already on disk instead of trusting the resume state.' }),
  };

  async run(): Promise<DownloadResult | undefined> {
    const { args, flags } = await this.parse(Download);
    if (flags.stdout && this.jsonEnabled()) throw new BtError('USAGE', 'usage', '--stdout and --json both want standard output; use one');
    if ((flags['seed-ratio'] !== undefined || flags['seed-time'] !== undefined) && !flags.seed) throw new BtError('USAGE', 'usage', '--seed-ratio and --seed-time need --seed');
    if (flags['metadata-only'] && (flags.stdout || flags.seed)) throw new BtError('USAGE', 'usage', '--metadata-only downloads no data: it does not go with --stdout or --seed');
    const seedRatio = flags['seed-ratio'] === undefined ? undefined : Number(flags['seed-ratio']);
    if (seedRatio !== undefined && (!Number.isFinite(seedRatio) || seedRatio <= 0)) throw new BtError('USAGE', 'usage', `\`${flags['seed-ratio']}\` is not a positive ratio (e.g. 1.5)`);

    const target = await resolveTarget(args.torrent, { signal: this.signal, parse: { allowV2Only: true } });
    // BEP 52: a v2-only torrent or magnet is announced and dialed with its v2 infohash cut to 20 bytes.
    const infoHash = target.infoHash ?? target.infoHashV2!.subarray(0, 20);
    if (target.kind === 'torrent' && (flags['metadata-only'] || flags['save-torrent'])) throw new BtError('USAGE', 'usage', '--metadata-only and --save-torrent are for magnet links and infohashes; this is a .torrent already');
    for (const bad of target.magnet?.badPeers ?? []) this.warnLine(`magnet x.pe=${bad.value} is no peer address (${bad.reason}); skipped`);
    const magnetPeers = (target.magnet?.peers ?? []).flatMap((text) => {
      try {
        return [parseHostPort(text)];
      } catch {
        this.warnLine(`magnet x.pe=${text} is not host:port; skipped`);
        return [];
      }
    });
    const peers = flags.peer ?? [];
    const trackers = [...(peers.length === 0 || flags['torrent-trackers'] ? target.trackers : []), ...(flags.tracker ?? []).map((t) => [t])];
    const webSeeds = { useWebSeeds: flags['web-seeds'], webSeeds: flags['web-seed'] ?? [], target: { webSeeds: target.magnet?.webSeeds ?? [] } };
    const anyWebSeed = webSeedUrls(webSeeds, target.metainfo ?? null).length > 0 || httpSeedUrls(webSeeds, target.metainfo ?? null).length > 0;
    if (trackers.length === 0 && peers.length === 0 && magnetPeers.length === 0 && !flags.dht && !anyWebSeed) {
      throw new BtError('DOWNLOAD_NO_SOURCES', 'usage', 'no way to find peers: the torrent lists no trackers or web seeds, and neither --peer, --tracker, --web-seed nor the DHT is given');
    }

    const json = this.jsonEnabled();
    const tty = this.chatty && process.stderr.isTTY === true && process.env.TERM !== 'dumb';
    const job = runDownload(
      {
        target: {
          infoHash,
          ...(target.infoHashV2 ? { infoHashV2: target.infoHashV2 } : {}),
          ...(target.metainfo ? { metainfo: target.metainfo } : {}),
          trackers,
          peers: magnetPeers,
          ...(target.magnet?.select ? { select: target.magnet.select } : {}),
          webSeeds: webSeeds.target.webSeeds,
        },
        useWebSeeds: webSeeds.useWebSeeds,
        webSeeds: webSeeds.webSeeds,
        outDir: flags.stdout && flags.output === undefined ? null : (flags.output ?? '.'),
        select: flags.select ?? [],
        ...(flags.stdout ? { stream: writeOut } : {}),
        peers,
        useTrackers: true,
        dht: dhtSettings(flags, flags.host),
        pex: flags.pex,
        ...(flags['pex-interval'] !== undefined ? { pexIntervalMs: flags['pex-interval'] } : {}),
        metadataOnly: flags['metadata-only'],
        saveTorrent: flags['save-torrent'] ?? null,
        peerId: makePeerId(azureusPrefix('BK', this.config.version)),
        clientName: `btkit ${this.config.version}`,
        listen: { host: flags.host, port: flags.port },
        transport: flags.transport,
        maxPeers: flags['max-peers'],
        downloadLimit: flags['download-limit'] ?? 0,
        uploadLimit: flags['upload-limit'] ?? 0,
        seed: flags.seed ? { ...(seedRatio !== undefined ? { ratio: seedRatio } : {}), ...(flags['seed-time'] !== undefined ? { timeMs: flags['seed-time'] } : {}) } : false,
        stallTimeoutMs: flags.timeout,
        recheck: flags.recheck,
      },
      this.signal,
    );

    let sample = pieceSampler(1);
    // The terminal line between two progress events (one a second) follows the pieces as they come.
    let stats: SessionStats | null = null;
    let completed: SessionStats | null = null;
    let connected = 0;
    const seen = new Set<string>();
    const banned: string[] = [];
    const split = new TransportSplit();
    let lastLine = 0;
    const drawLine = (s: SessionStats, force = false) => {
      if (!tty || (!force && performance.now() - lastLine < 100)) return;
      lastLine = performance.now();
      process.stderr.write(`\r\x1b[2K${progressLine(s, process.stderr.columns || 100, split.utp)}`);
    };
    const clearLine = () => {
      if (tty && lastLine > 0) process.stderr.write('\r\x1b[2K');
    };
    let outcome: DownloadOutcome;
    try {
      outcome = await drainJob(job, (ev) => {
        split.see(ev);
        if (ev.type === 'started') {
          sample = pieceSampler(ev.pieces);
          stats = { pieces: ev.pieces, havePieces: 0, totalBytes: ev.totalBytes, doneBytes: ev.doneBytes, downloaded: 0, uploaded: 0, wasted: 0, downloadedWebSeed: 0, downRate: 0, upRate: 0, peers: connected, seeds: 0, known: 0, webSeeds: 0, elapsedMs: 0, etaMs: null };
        } else if (ev.type === 'peer-connected') {
          seen.add(ev.peer);
          connected++;
        } else if (ev.type === 'peer-dropped') connected--;
        else if (ev.type === 'peer-banned') banned.push(ev.peer);
        else if (ev.type === 'progress') drawLine((stats = ev), true);
        else if (ev.type === 'complete') completed = ev;
        else if (ev.type === 'piece-verified' && stats) drawLine({ ...stats, doneBytes: ev.doneBytes, havePieces: ev.havePieces, totalBytes: ev.totalBytes, peers: connected });
        if (json) {
          const out = ev.type === 'piece-verified' && !sample(ev.havePieces) ? null : eventJson(ev);
          if (out) this.emitEvent(out);
          return;
        }
        const note = downloadNote(ev);
        if (!note) return;
        clearLine();
        if (note.warning) this.warnLine(note.text);
        else this.note(note.text);
      });
    } finally {
      clearLine();
    }
    if (this.signal.aborted) throw abortError(this.signal);
    const result = downloadResult(outcome, infoHash.toString('hex'), { peersSeen: seen.size, banned, completed });
    if (!json && this.chatty) for (const line of renderSummary(result)) process.stderr.write(`${line}\n`);
    return result;
  }

  /** NDJSON: the closing envelope is one line too, like every event before it. */
  override logJson(json: unknown): void {
    this.emitEvent(json as Record<string, unknown>);
  }
}

/**
 * Write to stdout, waiting for the pipe to take it (backpressure). A reader that went away
 * (EPIPE: `| head -c 1000`) is OUTPUT_CLOSED, which ends the download quietly, as every other
 * command treats a closed stdout.
 */
function writeOut(chunk: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    process.stdout.write(chunk, (err) => {
      if (!err) resolve();
      else if ((err as NodeJS.ErrnoException).code === 'EPIPE') reject(new BtError('OUTPUT_CLOSED', 'io', 'standard output was closed by its reader'));
      else reject(fromSystemError(err, 'standard output'));
    });
  });
}
