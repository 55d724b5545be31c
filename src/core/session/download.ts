/**
 * A whole download, as `btkit download` runs it: from a torrent, a magnet link or a bare
 * infohash to the data on disk (or streamed), with every peer source the torrent allows —
 * trackers (BEP 3/12/15), given peers (`--peer`, a magnet's `x.pe`), the DHT (BEP 5) and peer
 * exchange (BEP 11) — and web seeds (BEP 19: the torrent's `url-list`, a magnet's `ws`, `--web-seed`;
 * BEP 17: the torrent's `httpseeds`) as block sources beside the peers; for a magnet, the metadata fetched from peers (BEP 9) and
 * optionally saved as a `.torrent`.
 *
 *   for await (const ev of runDownload(options, signal)) render(ev);   // returns a DownloadOutcome
 *
 * Why here and not in the command: the command is glue (flags → options, events → text or
 * NDJSON); the order of set-up and tear-down (the DHT node and its state file, the tracker
 * client's sockets, the hash pool, the temporary directory, the stream of one file to a pipe) is
 * engine logic, and tests drive it without a process.
 */
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { DhtNode, HostPort } from '../dht/index.js';
import { BtError, fromSystemError, isBtError } from '../errors.js';
import { checkWritableDir, writeFileAtomic } from '../fs/atomic.js';
import { HashPool } from '../hash/pool.js';
import { parseTorrent } from '../metainfo/parse.js';
import { buildTorrentFile } from '../metainfo/torrent-file.js';
import type { Metainfo } from '../metainfo/types.js';
import { FileStore } from '../storage/file-store.js';
import { ReadCache } from '../storage/read-cache.js';
import { TrackerClient, TrackerTiers } from '../tracker/index.js';
import { type TransportMode, closeTransports, createTransports } from '../transport/dual.js';
import type { Endpoint } from '../transport/types.js';
import { DhtSource, closeDht, startDht } from './dht-source.js';
import { POOL_MIN_PIECE } from './hasher.js';
import { layersFromData } from './piece-layers.js';
import { selectFiles } from './select.js';
import { Session, type TorrentSetup } from './session.js';
import { streamFile } from './stream.js';
import { TrackerSource } from './tracker-source.js';
import type { SessionEvent, SessionStats } from './types.js';
import { V2Trees } from './v2-verifier.js';

export interface DownloadTarget {
  /**
   * The infohash announced, dialed with and naming the resume state (20 bytes): v1, or for a
   * v2-only torrent or magnet its v2 infohash truncated (BEP 52).
   */
  infoHash: Buffer;
  /** The full v2 infohash (32 bytes) of a v2 or hybrid torrent or magnet. */
  infoHashV2?: Buffer;
  /** Present for a .torrent; absent for a magnet link or an infohash (fetched from peers). */
  metainfo?: Metainfo;
  /** BEP 12 tiers: the torrent's, or a magnet's `tr` (one tier each). */
  trackers: string[][];
  /** A magnet's `x.pe` peers. */
  peers: Endpoint[];
  /** A magnet's `dn`. */
  name?: string;
  /** A magnet's BEP 53 `so` file ranges. */
  select?: [number, number][];
  /** A magnet's `ws` web seeds (a .torrent's `url-list` is read from `metainfo`). */
  webSeeds?: string[];
}

export interface DownloadOptions {
  target: DownloadTarget;
  /** Where the content goes (created if missing). Null: a temporary directory, removed at the end (streaming only). */
  outDir: string | null;
  /** `--select` specs (indices or globs). */
  select: readonly string[];
  /**
   * Stream the one selected file, in order, to this writer (`--stdout`). A writer that rejects
   * with code OUTPUT_CLOSED (the reader went away, as `| head -c 1000` does) ends the download
   * quietly, as a finished job: `streamClosed` in the outcome.
   */
  stream?: (chunk: Uint8Array) => Promise<void>;
  /** `--peer` addresses. */
  peers: readonly Endpoint[];
  /** Use the trackers (of the torrent or the magnet). */
  useTrackers: boolean;
  /** The DHT (BEP 5): nodes to start from and the state file; null: no DHT. Never for a private torrent. */
  dht: { bootstrap: readonly HostPort[]; statePath: string | null; host: string } | null;
  /** BEP 11 peer exchange (never for a private torrent). */
  pex: boolean;
  /** Web seeds (BEP 19): use the torrent's and the magnet's (`useWebSeeds`), plus these (`--web-seed`). */
  useWebSeeds: boolean;
  webSeeds: readonly string[];
  /** Time between two PEX messages to one peer; default 60 s (BEP 11). */
  pexIntervalMs?: number;
  /** Stop once the metadata is known; write the .torrent. */
  metadataOnly: boolean;
  /** Where to write the .torrent of a magnet download: a path, `default` (NAME.torrent in the output directory), or null. */
  saveTorrent: string | 'default' | null;
  peerId: Uint8Array;
  clientName: string;
  listen: { host: string; port: number };
  /** Which transports to listen on and dial over: TCP, uTP (BEP 29) or both (uTP first, TCP close behind). */
  transport: TransportMode;
  maxPeers: number;
  downloadLimit: number;
  uploadLimit: number;
  seed: { ratio?: number; timeMs?: number } | false;
  stallTimeoutMs: number;
  recheck: boolean;
}

/**
 * The read cache in front of a download's files, for what it uploads: about the pieces of the
 * last second or two of a fast swarm (its memory is used only once a peer asks for a block).
 */
const DOWNLOAD_CACHE_BYTES = 16 * 1024 * 1024;

/**
 * What the job says beyond the session's events. `torrent-saved`'s `pieceLayers` (a v2 or hybrid
 * torrent only): whether the file holds every piece layer (BEP 52), which a magnet's info
 * dictionary lacks and peers send by hash requests; a download that learns them later writes the
 * file again, with them.
 */
export type DownloadEvent = SessionEvent | { type: 'torrent-saved'; path: string; infoHash: string; pieceLayers?: boolean };

export interface DownloadOutcome {
  meta: Metainfo | null;
  /** The output directory, or null when it was a temporary one. */
  outDir: string | null;
  selection: boolean[];
  /** Bytes written to the stream (`stream`), or null without one. */
  streamed: number | null;
  /** The stream's reader closed it before the end (not an error: the reader had what it wanted). */
  streamClosed: boolean;
  savedTorrent: string | null;
  /** For a saved v2 or hybrid .torrent: whether it holds every piece layer (null: v1, or none saved). */
  savedTorrentLayers: boolean | null;
  final: SessionStats & { reason: string };
  started: Extract<SessionEvent, { type: 'started' }> | undefined;
}

export async function* runDownload(options: DownloadOptions, signal: AbortSignal): AsyncGenerator<DownloadEvent, DownloadOutcome, undefined> {
  const { target } = options;
  const infoHash = target.infoHash.toString('hex');
  const temporary = options.outDir === null;
  // The output place is checked before anything else (a read-only mount, a file in the way).
  if (!temporary) await checkWritableDir(options.outDir!);
  const outDir = resolve(temporary ? await mkdtemp(join(tmpdir(), 'btkit-stream-')) : options.outDir!);
  const resumePath = temporary ? undefined : join(outDir, '.btkit', `${infoHash}.resume`);
  let meta: Metainfo | null = target.metainfo ?? null;
  let selection: boolean[] = [];
  let streamIndex: number | null = null;
  let savedTorrent: string | null = null;
  let savedTorrentLayers: boolean | null = null;
  let store: FileStore | null = null;
  const extra: DownloadEvent[] = [];
  /** The session, for its piece layers once it runs. */
  let live: Session | null = null;
  /** The .torrent to write: the received info dictionary, the magnet's trackers, and (v2) the piece layers known. */
  let toSave: { path: string; info: Uint8Array; meta: Metainfo } | null = null;
  const save = async (fromData?: V2Trees): Promise<void> => {
    if (!toSave) return;
    const known = toSave.meta.infoHash.v2 ? (fromData ? { layers: fromData.pieceLayers(), complete: fromData.complete } : (live?.pieceLayers() ?? null)) : null;
    const complete = toSave.meta.infoHash.v2 ? (known?.complete ?? !hasLayeredFile(toSave.meta)) : null;
    const file = buildTorrentFile({ info: toSave.info, announce: target.trackers, urlList: target.webSeeds ?? [], ...(toSave.meta.infoHash.v2 ? { pieceLayers: known?.layers ?? [] } : {}) });
    // Our own earlier write (without the layers) is replaced; anything else there is not.
    await writeTorrent(toSave.path, file, savedTorrent === toSave.path);
    savedTorrent = toSave.path;
    savedTorrentLayers = complete;
    extra.push({ type: 'torrent-saved', path: toSave.path, infoHash, ...(complete !== null ? { pieceLayers: complete } : {}) });
  };

  /** Selection, the one streamed file, the store: the same for a .torrent and for fetched metadata. */
  const setUp = async (m: Metainfo): Promise<TorrentSetup> => {
    selection = selectFiles(m, options.select, target.select);
    if (options.stream) {
      const chosen = selection.map((s, i) => (s && !m.files[i]!.padding ? i : -1)).filter((i) => i >= 0);
      if (chosen.length !== 1) throw new BtError('USAGE', 'usage', `--stdout streams one file; ${chosen.length} are selected (use --select to pick one)`);
      streamIndex = chosen[0]!;
    }
    // Paths are checked (again) here, before anything is created.
    store = FileStore.open(m, { outDir });
    if (!temporary && !options.metadataOnly) {
      try {
        await mkdir(join(outDir, '.btkit'), { recursive: true });
      } catch (err) {
        throw fromSystemError(err, outDir);
      }
    }
    // Uploads go through a read cache that keeps the pieces written last: in a swarm they are what
    // the other leechers ask for (see ReadCache's keepWritten), and a block read from disk per
    // request, awaited one at a time, held a leecher's upload to a trickle (bench/seed (b)).
    const cached = new ReadCache(store, m, { maxBytes: DOWNLOAD_CACHE_BYTES, keepWritten: true });
    return { metainfo: m, store: cached, selection, ...(resumePath ? { resumePath } : {}) };
  };

  const initial = meta ? await setUp(meta) : null;
  const isPrivate = meta?.private ?? false;
  // Pieces from 256 KiB up are hashed off the main thread. From a .torrent the thread boots now,
  // beside the first connections (booting it at the first piece held the first pieces back while
  // reading paused on them); for a magnet (piece length unknown) it starts at the first large piece.
  const pool = !meta || meta.pieceLength >= POOL_MIN_PIECE ? new HashPool(1, { lazy: !meta }) : null;
  const stopper = new AbortController();
  const jobSignal = AbortSignal.any([signal, stopper.signal]);
  let dht: DhtNode | null = null;
  let client: TrackerClient | null = null;
  const transports = createTransports(options.transport);
  try {
    // With uTP on, the peer port's UDP side is uTP's: the DHT takes another port (BEP 5's `port` message tells peers which).
    if (options.dht && !isPrivate) dht = await startDht(options.dht, options.transport === 'tcp' ? options.listen.port : 0, jobSignal);
    const session = new Session({
      ...(initial ?? {
        // A v2-only (btmh) magnet dials with its truncated v2 infohash and checks the metadata by SHA-256.
        ...(target.infoHashV2 && target.infoHash.equals(target.infoHashV2.subarray(0, 20)) ? { infoHashV2: target.infoHashV2 } : { infoHash: target.infoHash, ...(target.infoHashV2 ? { infoHashV2: target.infoHashV2 } : {}) }),
        onMetadata: async (info: Uint8Array) => {
          // The .torrent around the received info dictionary: its bytes verbatim, the magnet's trackers.
          const file = buildTorrentFile({ info, announce: target.trackers, urlList: target.webSeeds ?? [] });
          const m = parseTorrent(file, { allowV2Only: true });
          meta = m;
          const setup = await setUp(m);
          if (options.saveTorrent !== null || options.metadataOnly) {
            const path = options.saveTorrent === null || options.saveTorrent === 'default' ? join(outDir, `${m.name}.torrent`) : resolve(options.saveTorrent);
            toSave = { path, info, meta: m };
            // Written now, and again once a v2 torrent's piece layers are in (a download), or once
            // they came or the wait ended (--metadata-only: one write, after the wait).
            if (!options.metadataOnly || !m.infoHash.v2 || !hasLayeredFile(m)) await save();
          }
          return setup;
        },
        metadataOnly: options.metadataOnly,
        // --metadata-only waits for a v2 torrent's piece layers as long as for data (--timeout).
        metadataLayersWaitMs: options.stallTimeoutMs,
      }),
      peerId: options.peerId,
      recheck: options.recheck,
      sequential: options.stream !== undefined,
      listen: { ...options.listen, fallbackToAnyPort: true },
      transports,
      maxPeers: options.maxPeers,
      downloadLimit: options.downloadLimit,
      uploadLimit: options.uploadLimit,
      seed: options.seed,
      stallTimeoutMs: options.stallTimeoutMs,
      hashPool: pool,
      pex: options.pex && !isPrivate,
      ...(options.pexIntervalMs !== undefined ? { pexIntervalMs: options.pexIntervalMs } : {}),
      clientName: options.clientName,
      webSeeds: webSeedUrls(options, meta),
      httpSeeds: httpSeedUrls(options, meta),
    });
    live = session;
    if (options.useTrackers && target.trackers.length > 0) {
      client = new TrackerClient();
      session.addSource(new TrackerSource({ client, tiers: new TrackerTiers(target.trackers), infoHash: target.infoHash, peerId: options.peerId, key: (Math.random() * 0x1_0000_0000) >>> 0 }));
    }
    if (dht) session.addSource(new DhtSource({ node: dht, infoHash: target.infoHash }));
    session.addPeers('manual', [...options.peers, ...target.peers]);

    // --stdout: a second loop writes the file in order while the session runs. A failed stream
    // (a closed pipe) stops the session; a failed session ends the stream.
    let streamed: number | null = null;
    let streamError: unknown;
    let streamClosed = false;
    let streaming: Promise<void> = Promise.resolve();
    const startStream = () => {
      if (!options.stream || streamIndex === null || !store || !meta) return;
      streamed = 0;
      const write = options.stream;
      const [s, m, i] = [store, meta, streamIndex];
      streaming = (async () => {
        for await (const chunk of streamFile(session, s, m, i, { signal: jobSignal })) {
          await write(chunk);
          streamed! += chunk.length;
        }
      })().catch((err: unknown) => {
        if (isBtError(err) && err.code === 'OUTPUT_CLOSED') streamClosed = true;
        else streamError = err;
        if (!jobSignal.aborted) stopper.abort(isBtError(err) ? err : fromSystemError(err, 'standard output'));
      });
    };

    let started: Extract<SessionEvent, { type: 'started' }> | undefined;
    let final: SessionStats & { reason: string } = { ...session.stats(), reason: 'aborted' };
    try {
      for await (const ev of session.run(jobSignal)) {
        // The piece layers of a v2 torrent saved without them: write it again, whole.
        if (ev.type === 'piece-layers' && toSave && savedTorrentLayers === false) await save();
        for (const e of extra.splice(0)) yield e;
        if (ev.type === 'started') {
          started = ev;
          startStream();
        } else if (ev.type === 'done') final = ev;
        yield ev;
      }
      await streaming;
      if (streamError) throw streamError;
      // --metadata-only of a v2 torrent: written once the wait for its piece layers is over.
      if (toSave && savedTorrent === null) await save();
      // A whole download whose layers no peer sent (a hybrid over v1 peers): hashed from the data.
      const pending = toSave as { meta: Metainfo } | null;
      if (pending && savedTorrentLayers === false && final.reason !== 'metadata' && selection.every((on, i) => on || pending.meta.files[i]!.padding || pending.meta.files[i]!.length === 0)) {
        const trees = await layersOnDisk(pending.meta, outDir, jobSignal).catch(() => null);
        if (trees?.complete) await save(trees);
      }
      if (toSave && savedTorrentLayers === false) {
        extra.push({ type: 'warning', code: 'PIECE_LAYERS_MISSING', message: `${savedTorrent} has no piece layers: no peer sent them (BEP 52 hash requests) in time; clients that open it fetch them from peers` });
      }
      for (const e of extra.splice(0)) yield e;
    } catch (err) {
      stopper.abort();
      await streaming;
      // A closed pipe downstream is what ended it, not the session's abort.
      if (streamError && !signal.aborted) throw streamError;
      if (!streamClosed || signal.aborted) throw err;
    }
    return { meta, outDir: temporary ? null : outDir, selection, streamed, streamClosed, savedTorrent, savedTorrentLayers, final, started };
  } finally {
    if (client) await client.close().catch(() => undefined);
    if (dht) await closeDht(dht, options.dht!.statePath);
    await closeTransports(transports);
    await pool?.close();
    if (temporary) await rm(outDir, { recursive: true, force: true }).catch(() => undefined);
  }
}

/**
 * The web seeds to use: the torrent's `url-list` and a magnet's `ws` (unless turned off), then
 * `--web-seed`, once each. Only http and https URLs: BEP 19 allows FTP, which btkit does not speak.
 */
export function webSeedUrls(options: Pick<DownloadOptions, 'useWebSeeds' | 'webSeeds'> & { target: Pick<DownloadTarget, 'webSeeds'> }, meta: Pick<Metainfo, 'webSeeds'> | null): string[] {
  const given = options.useWebSeeds ? [...(meta?.webSeeds ?? []), ...(options.target.webSeeds ?? [])] : [];
  return [...new Set([...given, ...options.webSeeds])].filter((u) => /^https?:\/\//i.test(u));
}

/**
 * The piece layers of `meta` hashed from its files under `outDir` (piece-layers.ts), each adopted
 * only when it folds to its file's root; for a download that ended complete without them.
 */
async function layersOnDisk(meta: Metainfo, outDir: string, signal: AbortSignal): Promise<V2Trees> {
  const trees = new V2Trees(meta.files, meta.pieceLength, meta.pieceCount);
  const store = FileStore.open(meta, { outDir });
  try {
    await layersFromData(trees, { have: () => true, readPiece: (i) => store.readPiece(i) }, signal);
  } finally {
    await store.close().catch(() => undefined);
  }
  return trees;
}

/** Whether a v2 torrent has a file longer than a piece (one with a `piece layers` entry). */
function hasLayeredFile(m: Metainfo): boolean {
  return m.files.some((f) => !f.padding && f.length > m.pieceLength);
}

/**
 * The HTTP seeds (BEP 17) to use: the torrent's `httpseeds` unless web seeds are turned off
 * (`--no-web-seeds` turns off both kinds). Only http and https URLs. A magnet has none: the key
 * lives outside the info dictionary.
 */
export function httpSeedUrls(options: Pick<DownloadOptions, 'useWebSeeds'>, meta: Pick<Metainfo, 'httpSeeds'> | null): string[] {
  return options.useWebSeeds ? [...new Set(meta?.httpSeeds ?? [])].filter((u) => /^https?:\/\//i.test(u)) : [];
}

/** Write a .torrent atomically; an identical file already there is fine, a different one is not overwritten (unless `overwrite`: ours). */
async function writeTorrent(path: string, bytes: Buffer, overwrite = false): Promise<void> {
  const existing = await readFile(path).catch(() => null);
  if (existing?.equals(bytes)) return;
  await writeFileAtomic(path, bytes, { mkdirMode: 0o777, overwrite });
}
