/**
 * The in-memory swarm store behind `btkit tracker` (the tracker side of BEP 3 and BEP 15): who is
 * in which torrent, seeders and leechers, completed downloads, peer expiry.
 *
 * A peer is identified by its address and port, as opentracker does, not by its peer id: that is
 * what others dial, and a client that restarts with a new peer id on the same port is still one
 * peer. Each swarm keeps its peers in an array plus an index so that adding, removing (swap with
 * the last) and picking a random run of peers are all O(1) per peer returned; the answer never
 * includes the asking peer itself.
 *
 * Memory is bounded by a global cap on peers (`maxPeers`), not only per torrent: with torrents
 * and peers per torrent each capped at 100,000, a flood of announces still grew the tracker
 * without end (RSS 52 → 293 MB, issue 15). At the cap, a new peer takes the place of the one that
 * announced least recently, which is the one closest to expiring anyway.
 *
 * Time and randomness are parameters (tests drive expiry with a fake clock).
 */
import { BtError } from '../errors.js';
import { compactPeer } from './peers.js';
import type { AnnounceEvent, ScrapeStats } from './types.js';

export interface StoredPeer {
  ip: string;
  port: number;
  family: 4 | 6;
  id: Uint8Array;
  left: bigint;
  expiresAt: number;
  /** The peer's compact entry (6 or 18 bytes), encoded once when it joins. */
  compact?: Uint8Array;
}

interface Swarm {
  key: string;
  peers: StoredPeer[];
  index: Map<string, number>;
  seeders: number;
  downloaded: number;
}

export interface SwarmStoreOptions {
  /** Milliseconds since some epoch; default Date.now. */
  now?: () => number;
  /** [0, 1), default Math.random; picks where in the swarm an answer starts. */
  random?: () => number;
  /** How long a peer stays without announcing again. The server sets a few intervals. */
  peerTtlMs: number;
  /** Peers returned when the client does not say (`numwant` absent or -1). Default 50. */
  defaultNumWant?: number;
  /** Most peers ever returned in one answer. Default 200. */
  maxNumWant?: number;
  /** Most torrents tracked at once (bounds memory in open mode). Default 100,000. */
  maxTorrents?: number;
  /** Most peers per torrent. Default 100,000. */
  maxPeersPerTorrent?: number;
  /**
   * Most peers across every torrent; past it the least recently announced peer is evicted.
   * Default DEFAULT_MAX_PEERS.
   */
  maxPeers?: number;
}

/**
 * The default global cap on peers. Measured (Node 20, x64, the store alone): 500,000 peers take
 * 510–600 bytes of heap each (more when spread over 100,000 torrents than over 1,000), and the
 * process's RSS was 416–472 MB; 200,000 peers, 228–277 MB.
 */
export const DEFAULT_MAX_PEERS = 500_000;

export interface SwarmAnnounce {
  infoHash: Uint8Array;
  peerId: Uint8Array;
  ip: string;
  port: number;
  left: bigint;
  event: AnnounceEvent;
  /** Undefined or negative: the default. */
  numWant?: number | undefined;
  /** Which peers the transport can carry: UDP over IPv4 only IPv4 peers, and so on. */
  families: 4 | 6 | 'both';
}

export interface SwarmReply {
  complete: number;
  incomplete: number;
  downloaded: number;
  peers: StoredPeer[];
}

const keyOfHash = (h: Uint8Array) => Buffer.from(h.buffer, h.byteOffset, h.byteLength).toString('latin1');

export class SwarmStore {
  private readonly swarms = new Map<string, Swarm>();
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly ttl: number;
  private readonly defaultNumWant: number;
  private readonly maxNumWant: number;
  private readonly maxTorrents: number;
  private readonly maxPeersPerTorrent: number;
  private readonly maxPeers: number;
  private peerCount = 0;
  /**
   * Every peer, least recently announced first (a Map keeps insertion order; a re-announce
   * deletes and re-inserts): the eviction order at the cap, in O(1) per announce.
   */
  private readonly byAge = new Map<StoredPeer, Swarm>();
  /** Peers evicted at the cap so far. */
  evicted = 0;

  constructor(options: SwarmStoreOptions) {
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.ttl = options.peerTtlMs;
    this.defaultNumWant = options.defaultNumWant ?? 50;
    this.maxNumWant = options.maxNumWant ?? 200;
    this.maxTorrents = options.maxTorrents ?? 100_000;
    this.maxPeersPerTorrent = options.maxPeersPerTorrent ?? 100_000;
    this.maxPeers = Math.max(1, options.maxPeers ?? DEFAULT_MAX_PEERS);
  }

  get torrentCount(): number {
    return this.swarms.size;
  }

  get totalPeers(): number {
    return this.peerCount;
  }

  /** Record an announce and answer it. Throws TRACKER_SERVER_FULL (input) past the limits. */
  announce(a: SwarmAnnounce): SwarmReply {
    const hashKey = keyOfHash(a.infoHash);
    let swarm = this.swarms.get(hashKey);
    const peerKey = `${a.ip}|${a.port}`;
    if (a.event === 'stopped') {
      if (swarm) this.remove(swarm, peerKey);
      return { ...this.counts(swarm), peers: [] };
    }
    if (!swarm) {
      if (this.swarms.size >= this.maxTorrents) throw new BtError('TRACKER_SERVER_FULL', 'input', `this tracker already tracks ${this.maxTorrents} torrents`);
      swarm = { key: hashKey, peers: [], index: new Map(), seeders: 0, downloaded: 0 };
      this.swarms.set(hashKey, swarm);
    }
    const expiresAt = this.now() + this.ttl;
    let self = swarm.index.get(peerKey);
    if (self === undefined) {
      if (swarm.peers.length >= this.maxPeersPerTorrent) throw new BtError('TRACKER_SERVER_FULL', 'input', `this torrent already has ${this.maxPeersPerTorrent} peers`);
      if (this.peerCount >= this.maxPeers) this.evictOldest(swarm);
      self = swarm.peers.length;
      const compact = compactPeer(a.ip, a.port);
      const peer: StoredPeer = { ip: a.ip, port: a.port, family: compact?.length === 18 ? 6 : 4, id: Buffer.from(a.peerId), left: a.left, expiresAt };
      if (compact) peer.compact = compact;
      swarm.peers.push(peer);
      swarm.index.set(peerKey, self);
      this.byAge.set(peer, swarm);
      this.peerCount++;
      if (a.left === 0n) swarm.seeders++;
    } else {
      const p = swarm.peers[self]!;
      if ((p.left === 0n) !== (a.left === 0n)) swarm.seeders += a.left === 0n ? 1 : -1;
      p.left = a.left;
      p.expiresAt = expiresAt;
      if (!bytesEqual(p.id, a.peerId)) p.id = Buffer.from(a.peerId);
      this.byAge.delete(p);
      this.byAge.set(p, swarm);
    }
    // BEP 3: `completed` is sent once, when the download finishes; it is what scrape's
    // `downloaded` counts.
    if (a.event === 'completed') swarm.downloaded++;
    const want = Math.min(a.numWant === undefined || a.numWant < 0 ? this.defaultNumWant : a.numWant, this.maxNumWant);
    return { ...this.counts(swarm), peers: this.pick(swarm, self, want, a.families) };
  }

  /** Counts for one torrent; zeros for one never seen. */
  scrape(infoHash: Uint8Array): ScrapeStats {
    return this.counts(this.swarms.get(keyOfHash(infoHash)));
  }

  /** Every torrent with its counts, for a full scrape (BEP 48 without `info_hash`). */
  *entries(limit = Infinity): Generator<[Buffer, ScrapeStats]> {
    let n = 0;
    for (const [k, swarm] of this.swarms) {
      if (n++ >= limit) return;
      yield [Buffer.from(k, 'latin1'), this.counts(swarm)];
    }
  }

  /** Drop peers whose time is up; returns how many. Empty swarms without history go too. */
  expire(): number {
    const now = this.now();
    let removed = 0;
    for (const [k, swarm] of this.swarms) {
      for (let i = swarm.peers.length - 1; i >= 0; i--) {
        const p = swarm.peers[i]!;
        if (p.expiresAt <= now) {
          this.remove(swarm, `${p.ip}|${p.port}`);
          removed++;
        }
      }
      if (swarm.peers.length === 0 && swarm.downloaded === 0) this.swarms.delete(k);
    }
    return removed;
  }

  private counts(swarm: Swarm | undefined): ScrapeStats {
    if (!swarm) return { complete: 0, incomplete: 0, downloaded: 0 };
    return { complete: swarm.seeders, incomplete: swarm.peers.length - swarm.seeders, downloaded: swarm.downloaded };
  }

  private remove(swarm: Swarm, peerKey: string): void {
    const i = swarm.index.get(peerKey);
    if (i === undefined) return;
    const p = swarm.peers[i]!;
    if (p.left === 0n) swarm.seeders--;
    this.byAge.delete(p);
    const last = swarm.peers.pop()!;
    swarm.index.delete(peerKey);
    if (i < swarm.peers.length) {
      swarm.peers[i] = last;
      swarm.index.set(`${last.ip}|${last.port}`, i);
    }
    this.peerCount--;
  }

  /**
   * Make room for one peer joining `joining`: the least recently announced peer goes, and its
   * swarm too when that leaves it empty and without history (as `expire` does), unless it is the
   * swarm being joined.
   */
  private evictOldest(joining: Swarm): void {
    const oldest = this.byAge.entries().next();
    if (oldest.done) return;
    const [peer, swarm] = oldest.value;
    this.remove(swarm, `${peer.ip}|${peer.port}`);
    this.evicted++;
    if (swarm !== joining && swarm.peers.length === 0 && swarm.downloaded === 0) this.swarms.delete(swarm.key);
  }

  /** Up to `want` peers other than `self`, a contiguous run from a random start (wrapping). */
  private pick(swarm: Swarm, self: number, want: number, families: 4 | 6 | 'both'): StoredPeer[] {
    const n = swarm.peers.length;
    const out: StoredPeer[] = [];
    if (want <= 0 || n <= 1) return out;
    const now = this.now();
    const start = Math.floor(this.random() * n);
    for (let k = 0; k < n && out.length < want; k++) {
      const i = (start + k) % n;
      if (i === self) continue;
      const p = swarm.peers[i]!;
      if (p.expiresAt <= now) continue;
      if (families !== 'both' && p.family !== families) continue;
      out.push(p);
    }
    return out;
  }
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
