/**
 * What a session is given: the torrent (or, for a magnet link, the infohash and what to do when
 * the metadata arrives), the peer id, where to listen, the limits and the timings.
 */
import type { HashPool } from '../hash/pool.js';
import type { Metainfo } from '../metainfo/types.js';
import type { PieceStore } from '../storage/store.js';
import type { Transport } from '../transport/types.js';
import type { ChokeCandidate } from './choker.js';
import type { WebSeedSourceOptions } from './webseed-source.js';

/** What the session needs of a torrent's metainfo. */
export type SessionMetainfo = Pick<Metainfo, 'infoHash' | 'name' | 'pieceLength' | 'pieces' | 'pieceCount' | 'totalLength' | 'files'> &
  Partial<Pick<Metainfo, 'infoBytes' | 'private' | 'multiFile'>>;

/** A torrent ready to download: its metainfo and where its data lives. */
export interface TorrentSetup {
  metainfo: SessionMetainfo;
  store: PieceStore;
  /** The resume state file; none when absent. */
  resumePath?: string;
  /** Per file (torrent order): download it. Default every file. */
  selection?: readonly boolean[];
}

export interface SessionOptions extends Partial<TorrentSetup> {
  /**
   * The v1 infohash, for a session started from a magnet link or a bare infohash (no
   * `metainfo`): the info dictionary is then fetched from peers (BEP 9) and `onMetadata` turns
   * it into a `TorrentSetup`. Absent for a v2-only (`btmh`) magnet: see `infoHashV2`.
   */
  infoHash?: Uint8Array;
  /**
   * The 32-byte v2 infohash (BEP 52) of a magnet link. Without a v1 infohash the session dials
   * with its first 20 bytes, checks the fetched info dictionary's SHA-256 against it, and then
   * fetches the piece layers from peers (hash requests) before it downloads.
   */
  infoHashV2?: Uint8Array;
  /**
   * The info dictionary's bytes arrived and hash to the infohash: parse and check them, open the
   * storage. Throwing (a BtError) ends the session with that error.
   */
  onMetadata?: (info: Uint8Array) => Promise<TorrentSetup>;
  /**
   * Stop once the metadata is known (`--metadata-only`): `done` with reason `metadata`. For a v2
   * or hybrid torrent whose files have piece layers, the session first asks its v2 peers for them
   * (BEP 52 hash requests), for at most `metadataLayersWaitMs` (0 or absent: until they come or the
   * session is stopped); `pieceLayers()` then says what came. Not having them is no failure: the
   * info dictionary is whole without them.
   */
  metadataOnly?: boolean;
  metadataLayersWaitMs?: number;
  /** Largest info dictionary accepted from peers. Default 30 MiB (as libtorrent). */
  maxMetadataSize?: number;
  peerId: Uint8Array;
  /** Hash everything on disk instead of trusting the state file. */
  recheck?: boolean;
  /**
   * The caller knows every piece is on disk and good (it just checked them, as `seed` does): no
   * state file is read or hashed at start.
   */
  trustedComplete?: boolean;
  /** Fetch pieces in order (streaming). */
  sequential?: boolean;
  /** Accept incoming connections here; none when absent. */
  listen?: { host: string; port: number; fallbackToAnyPort?: boolean };
  /** Transports; the first one dials. Default TCP. */
  transports?: readonly Transport[];
  maxPeers?: number;
  /** Connections being dialed at once. Default 16. */
  maxHalfOpen?: number;
  /** Bytes per second, 0 = unlimited. */
  downloadLimit?: number;
  uploadLimit?: number;
  /** Keep seeding after completion until the ratio (uploaded / selected bytes) or the time is reached; with neither, until aborted. */
  seed?: { ratio?: number; timeMs?: number } | false;
  /** Give up (NO_PEERS / DOWNLOAD_STALLED / NO_METADATA) when no data arrived for this long while incomplete. Default 60 s; 0 never. */
  stallTimeoutMs?: number;
  uploadSlots?: number;
  /** Who is unchoked once we are a seed (seed-choker.ts); default the download choker ranking by upload rate. */
  seedChoker?: { round(candidates: readonly ChokeCandidate<unknown>[]): Set<unknown> };
  /** Hashes large pieces off the main thread; the caller owns (and closes) it. */
  hashPool?: HashPool | null;
  /** BEP 11 peer exchange with peers that speak it. Default on; always off for a private torrent (BEP 27). */
  pex?: boolean;
  /** How often PEX messages go out to one peer (BEP 11: at most once a minute). */
  pexIntervalMs?: number;
  /** BEP 6 allowed-fast pieces given to each peer (0: none). Default 10. */
  allowedFast?: number;
  /** BEP 10 `v` (and the web seeds' User-Agent). */
  clientName?: string;
  /** Web seeds (BEP 19): HTTP servers used as block sources beside peers, once the torrent is known. */
  webSeeds?: readonly string[];
  /** HTTP seeds (BEP 17 `httpseeds`): scripts asked by info hash and piece, beside the web seeds. A v2-only torrent has no v1 info hash to ask with: none used. */
  httpSeeds?: readonly string[];
  /** Web seed tuning (runs in flight per server, longest range request, timeouts); tests set strikes and backoff. */
  webSeedTuning?: Pick<WebSeedSourceOptions, 'maxPiecesInFlight' | 'maxRunBytes' | 'idleTimeoutMs' | 'seedOptions'>;
  connectTimeoutMs?: number;
  handshakeTimeoutMs?: number;
  /** Re-ask another peer for a block after this long. Default 30 s. */
  requestTimeoutMs?: number;
  /** Drop a peer silent for this long (BEP 3: about two minutes). */
  idleTimeoutMs?: number;
  keepAliveMs?: number;
  /** Session timer period. Default 1 s. */
  tickMs?: number;
  /** How often the resume state is saved while pieces arrive. Default 5 s. */
  saveEveryMs?: number;
  now?: () => number;
  rng?: () => number;
}
