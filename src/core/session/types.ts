/**
 * The session's public shapes: options, events, statistics and the peer-source plug-in
 * interface (trackers now; DHT, PEX and web seeds later all feed peers through `addPeers`).
 */
import type { Endpoint, TransportKind } from '../transport/types.js';
import type { WebSeedEvent } from '../webseed/webseed.js';

/** Where a peer address came from: 'tracker', 'manual' (--peer), later 'dht', 'pex', 'incoming'. */
export type PeerSourceName = string;

export interface SessionStats {
  /** Pieces in the torrent / pieces we have. */
  pieces: number;
  havePieces: number;
  /** Bytes of the selected pieces / of those we have. */
  totalBytes: number;
  doneBytes: number;
  /** Payload bytes received and accepted, sent, and received but thrown away (duplicates, failed pieces), in this run. */
  downloaded: number;
  uploaded: number;
  wasted: number;
  /** Of `downloaded`, the bytes that came from web seeds (BEP 19); the rest came from peers. */
  downloadedWebSeed: number;
  /** Bytes/s over the last seconds. */
  downRate: number;
  upRate: number;
  /** Connected peers, of which seeds. */
  peers: number;
  seeds: number;
  /** Peer addresses known (connected or not). */
  known: number;
  /** Web seeds in use (not dropped). */
  webSeeds: number;
  elapsedMs: number;
  /** Estimated milliseconds to completion at the current rate; null when unknown or done. */
  etaMs: number | null;
}

/**
 * Why a session ended: the selection is `complete`; seeding reached its `seed-ratio` or
 * `seed-time`; `metadata`: a metadata-only run got the info dictionary; `aborted` by the caller;
 * `failed`: an error ended it (the error follows, e.g. NO_PEERS after `--timeout`).
 */
export type DoneReason = 'complete' | 'seed-ratio' | 'seed-time' | 'metadata' | 'aborted' | 'failed';

export type SessionEvent =
  | {
      type: 'started';
      infoHash: string;
      name: string;
      pieces: number;
      pieceLength: number;
      totalBytes: number;
      doneBytes: number;
      resume: { mode: 'fast' | 'partial' | 'full' | 'none'; checked: number; recovered: number; note: string | null };
      listen: Endpoint | null;
    }
  /** `peerId`: the 20-byte peer id in hex; `client`: its BEP 20 client tag when it has one; `transport`: tcp or utp (BEP 29). */
  | { type: 'peer-connected'; peer: string; peerId: string; source: PeerSourceName; direction: 'outgoing' | 'incoming'; transport: TransportKind; client: string | null }
  | { type: 'peer-dropped'; peer: string; peerId: string; reason: string; code: string | null; downloaded: number; uploaded: number }
  | { type: 'peer-banned'; peer: string; reason: string }
  /**
   * The peer holds every piece: its bitfield or have-all said so, or its `have`s completed the
   * set. `finished`: it lacked pieces earlier on this connection (it completed while we watched),
   * as opposed to a peer that came complete (another seed).
   */
  | { type: 'peer-complete'; peer: string; peerId: string; finished: boolean }
  /** `from`: who sent its blocks — peer addresses, and web seed URLs. */
  | { type: 'piece-verified'; index: number; havePieces: number; doneBytes: number; totalBytes: number; from: string[] }
  | { type: 'piece-failed'; index: number; peers: string[] }
  | { type: 'tracker'; url: string; event: string; peers: number; interval: number | null; error: { code: string; message: string } | null }
  /** One DHT round (BEP 5): peers found by get_peers, nodes that accepted our announce_peer (null: not announced). */
  | { type: 'dht'; peers: number; announced: number | null; error: { code: string; message: string } | null }
  | ({ type: 'progress' } & SessionStats)
  | ({ type: 'complete' } & SessionStats)
  | { type: 'warning'; message: string; code: string | null }
  /** Started from a magnet link or infohash: the info dictionary is being asked of peers (BEP 9). */
  | { type: 'metadata-wanted'; infoHash: string; listen: Endpoint | null }
  /** A peer offers the metadata, in this size. */
  | { type: 'metadata-peer'; peer: string; size: number }
  | { type: 'metadata-piece'; peer: string; piece: number; pieces: number }
  /** A peer we stopped asking for the metadata, or dropped; `code` says why. */
  | { type: 'metadata-rejected'; peer: string; reason: string; code: string }
  /** The assembled metadata did not hash to the infohash; these peers had sent it. */
  | { type: 'metadata-hash-mismatch'; peers: string[] }
  /** The info dictionary arrived and hashes to the infohash: from these peers, after this long. */
  | { type: 'metadata'; infoHash: string; size: number; peers: string[]; elapsedMs: number }
  /**
   * BEP 52: a v2 torrent from a magnet link had its piece layers fetched from peers (hash
   * requests, each answer proven against its file's root): `files` layers of `hashes` hashes.
   */
  /**
   * A BEP 52 hash request below the piece layer (libtorrent asks for a failed piece's block hashes
   * to find the bad block) answered from the data on disk: with the hashes, or (`answered` false)
   * a reject — a piece we lack, data that no longer matches, or past the per-peer bounds.
   */
  | { type: 'block-hashes-served'; peer: string; baseLayer: number; index: number; length: number; proofLayers: number; answered: boolean }
  /** A v2 torrent's piece layers are all known: fetched from peers (BEP 52 hash requests), or hashed from the data on disk. */
  | { type: 'piece-layers'; files: number; hashes: number; elapsedMs: number; from: 'peers' | 'data' }
  /** A web seed is used from now on: BEP 19 (the torrent's url-list, --web-seed, a magnet's ws=) or BEP 17 (the torrent's httpseeds). */
  | { type: 'webseed-added'; url: string; protocol: 'bep19' | 'bep17' }
  /** What a web seed reported: errors, backoff, a file it lacks, Range ignored, strikes, dropped. */
  | WebSeedEvent
  | ({ type: 'done'; reason: DoneReason } & SessionStats);

/** What a peer source may do: give peers, read our totals for announces, report what happened. */
export interface PeerSourceContext {
  addPeers(peers: readonly Endpoint[]): void;
  /** For announces: bytes this run, and bytes of the selection still missing. */
  totals(): { uploaded: number; downloaded: number; left: number };
  /** Our listening port (0 when we do not listen). */
  readonly port: number;
  /** Connected peers now (a source may ask for more sooner when there are few). */
  connectedPeers(): number;
  emit(event: SessionEvent): void;
  readonly signal: AbortSignal;
}

export interface PeerSource {
  readonly name: PeerSourceName;
  start(ctx: PeerSourceContext): void;
  /** The selection became complete in this run (trackers send `completed`). */
  completed?(): void;
  /** A DHT source's UDP port: sent to peers in the BEP 5 `port` message. */
  readonly dhtPort?: number;
  /** A peer sent its DHT port (BEP 5 `port` message). */
  nodeSeen?(host: string, port: number): void;
  /** Stop, telling the source's servers we leave (trackers send `stopped`); must settle within `deadlineMs`. */
  stop(deadlineMs: number): Promise<void>;
}
