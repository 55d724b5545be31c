/**
 * The tracker data model shared by the HTTP (BEP 3, 7, 23, 24, 48) and UDP (BEP 15, 41) codecs,
 * clients and the in-memory server.
 *
 * One model for both protocols, so a caller (the `announce` command, the download engine) never
 * cares which transport answered: every field a tracker may send is here, optional when only one
 * protocol can carry it (UDP has no warning, min interval, tracker id or external ip).
 */

/** BEP 3 `event`; BEP 15 numbers them none=0, completed=1, started=2, stopped=3. */
export type AnnounceEvent = 'none' | 'completed' | 'started' | 'stopped';

export const ANNOUNCE_EVENTS: readonly AnnounceEvent[] = ['none', 'completed', 'started', 'stopped'];

export interface AnnounceParams {
  /** 20-byte v1 infohash (or a v2 hash truncated to 20 bytes, as BEP 52 says for trackers). */
  infoHash: Uint8Array;
  /** 20-byte peer id. */
  peerId: Uint8Array;
  /** The TCP/uTP port we listen on (0 is allowed: "do not connect to me"). */
  port: number;
  uploaded: bigint | number;
  downloaded: bigint | number;
  left: bigint | number;
  event: AnnounceEvent;
  /** Peers wanted; -1 lets the tracker choose (the UDP default). */
  numWant: number;
  /** BEP 15 `key` / HTTP `key`: lets a tracker recognise us when our IP changes. 32-bit. */
  key?: number;
  /** An IP address to report instead of the one the tracker sees (trackers may ignore it). */
  ip?: string;
  /**
   * BEP 7 (HTTP only): our IPv4 and IPv6 addresses, each `addr` or `addr:port` / `[addr]:port`,
   * so a tracker reached over one family can also list us to peers of the other.
   */
  ipv4?: string;
  ipv6?: string;
  /** The `tracker id` a previous HTTP answer gave, sent back as `trackerid` (BEP 3 errata). */
  trackerId?: Uint8Array;
  /** HTTP: ask for the compact form (BEP 23). Default true. */
  compact?: boolean;
  /** HTTP: `no_peer_id=1`, for trackers that answer the dictionary model. Default true. */
  noPeerId?: boolean;
}

/** One peer as a tracker gave it. `id` only in the dictionary model (BEP 3), when sent. */
export interface TrackerPeer {
  /** Textual address: dotted quad or IPv6 (no brackets); a hostname in the dictionary model. */
  ip: string;
  port: number;
  family: 4 | 6;
  id?: Uint8Array;
}

export type TrackerProtocol = 'http' | 'udp';

/** Everything a tracker said in answer to an announce, plus how long it took. */
export interface AnnounceResult {
  url: string;
  protocol: TrackerProtocol;
  /** Wall time from the first byte sent to the answer, DNS, connect and retransmissions included. */
  rttMs: number;
  /** Seconds the tracker asks us to wait before the next regular announce. */
  interval: number;
  /** HTTP `min interval`: the tracker refuses announces more frequent than this. */
  minInterval?: number;
  /** Seeders (`complete`); undefined when the tracker did not say. */
  complete?: number;
  /** Leechers (`incomplete`). */
  incomplete?: number;
  /** Completed downloads (`downloaded`, sent by some HTTP trackers in announces). */
  downloaded?: number;
  /** HTTP `warning message` (the announce still succeeded). */
  warning?: string;
  /** BEP 24 `external ip`: the address the tracker saw us come from. */
  externalIp?: string;
  /** HTTP `tracker id`, to be sent back on the next announce. Raw bytes (often text). */
  trackerId?: Uint8Array;
  /** IPv4 peers (BEP 23 compact `peers` or the dictionary model) and IPv6 peers (BEP 7 `peers6`). */
  peers: TrackerPeer[];
  /** UDP only: how many packets were sent (connect + announce, retransmissions included). */
  packets?: number;
  /** HTTP only: redirects followed before the answer. */
  redirects?: number;
}

/** Counts for one torrent, as a scrape (BEP 48, BEP 15) or a server reports them. */
export interface ScrapeStats {
  /** Seeders. */
  complete: number;
  /** Leechers. */
  incomplete: number;
  /** Completed downloads ever reported. */
  downloaded: number;
  /** BEP 48 optional `name`. */
  name?: string;
}

export interface ScrapeResult {
  url: string;
  protocol: TrackerProtocol;
  rttMs: number;
  /** Keyed by lowercase 40-hex infohash; a hash the tracker did not mention is absent. */
  files: Map<string, ScrapeStats>;
  /** BEP 48 `flags.min_request_interval`, when sent. */
  minRequestInterval?: number;
  packets?: number;
  redirects?: number;
}

/** Options every network operation of the tracker module takes. */
export interface RequestOptions {
  signal?: AbortSignal;
  /** Overall deadline for the operation (DNS, connect, retransmissions, body). Default 15 s. */
  timeoutMs?: number;
}

export const DEFAULT_TIMEOUT_MS = 15_000;

export const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
