/**
 * The in-memory swarm store behind `btkit tracker` (the tracker side of BEP 3 and BEP 15): who is
 * in which torrent, seeders and leechers, completed downloads, peer expiry.
 *
 * A peer is identified by its address and port, as opentracker does, not by its peer id: that is
 * what others dial, and a client that restarts with a new peer id on the same port is still one
 * peer. The answer never includes the asking peer itself.
 *
 * Layout (issue 14: the UDP path made an object, a string key and a Map entry per peer, ~550 bytes
 * of heap each, and a few objects per announce). Peers live in slots of parallel typed arrays
 * (address as four 32-bit words, port, family, seeder flag, expiry, swarm, place in the swarm,
 * age-list links, peer id): ~80 bytes a peer and nothing for the garbage collector to trace. A
 * keyed open-addressing table finds a peer's slot from (torrent, address, port); torrents are
 * numbered by an `InfoHashSet`; each swarm is an array of slots, so adding, removing (swap with
 * the last) and picking a run of peers are O(1) per peer. `announceCompact` answers BEP 15 straight
 * into the caller's reply buffer; `announce` returns objects for the HTTP front end and tests.
 *
 * Memory is bounded by a global cap on peers (`maxPeers`), not only per torrent: with torrents
 * and peers per torrent each capped at 100,000, a flood of announces still grew the tracker
 * without end (RSS 52 → 293 MB, issue 15). Peers sit in a list by last announce (a doubly linked
 * list through the slots); at the cap the head, the peer heard from least recently, gives its slot
 * to the newcomer, and expiry walks the same list from the head.
 *
 * Time and randomness are parameters (tests drive expiry with a fake clock).
 */
import { BtError } from '../errors.js';
import { formatIPv6, parseIPv6 } from '../net/address.js';
import { InfoHashSet, finish, mixWord, pow2AtLeast } from './infohash-set.js';
import type { AnnounceEvent, ScrapeStats } from './types.js';

/** A peer as `announce` returns it. */
export interface SwarmPeer {
  ip: string;
  port: number;
  family: 4 | 6;
  id: Uint8Array;
  /** The compact entry (BEP 23 / BEP 7: 6 or 18 bytes); absent for a host name. */
  compact?: Uint8Array;
}
/** The name this type had before the typed-array layout. */
export type StoredPeer = SwarmPeer;

interface Swarm {
  /** Peer slots; the first `n` are in use. */
  members: Int32Array;
  n: number;
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
 * The default global cap on peers. At ~80 bytes a peer in typed arrays, 1,000,000 peers are
 * ~80 MB; the measured bound of the whole `btkit tracker` process is in bench/README.md
 * (bench/tracker/scale.mjs) and the command's help.
 */
export const DEFAULT_MAX_PEERS = 1_000_000;

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
  peers: SwarmPeer[];
}

/** BEP 15's event numbers, which `announceCompact` takes. */
export const EVENT_NUMBER: Readonly<Record<AnnounceEvent, number>> = { none: 0, completed: 1, started: 2, stopped: 3 };
const COMPLETED = 1;
const STOPPED = 3;

/** Slot families: 0 marks a free slot; a host name (HTTP `ip=` with --trust-ip) has no compact form. */
const FREE = 0;
const NAME = 1;
const NONE = -1;

/** The dotted quad `text` as an unsigned 32-bit number, or -1. Allocates nothing. */
export function ipv4Number(text: string): number {
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      part = part * 10 + (c - 48);
      if (++digits > 3 || part > 255) return -1;
    } else if (c === 46) {
      if (digits === 0 || ++dots > 3) return -1;
      value = value * 256 + part;
      part = 0;
      digits = 0;
    } else return -1;
  }
  if (dots !== 3 || digits === 0) return -1;
  return value * 256 + part;
}

export class SwarmStore {
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly ttl: number;
  private readonly defaultNumWant: number;
  private readonly maxNumWant: number;
  private readonly maxTorrents: number;
  private readonly maxPeersPerTorrent: number;
  private readonly maxPeers: number;
  private readonly seed: number;

  private readonly hashes: InfoHashSet;
  private readonly swarms: (Swarm | null)[] = [];

  // --- peer slots (parallel arrays; `cap` slots, grown by doubling up to maxPeers) ---------------
  private cap = 0;
  private used = 0;
  private readonly freeSlots: number[] = [];
  private addr = new Uint32Array(0);
  private port = new Uint16Array(0);
  private fam = new Uint8Array(0);
  private seeder = new Uint8Array(0);
  private expires = new Float64Array(0);
  private swarmOf = new Int32Array(0);
  private pos = new Int32Array(0);
  private prev = new Int32Array(0);
  private next = new Int32Array(0);
  private hashOf = new Int32Array(0);
  private ids = new Uint8Array(0);
  /** Host names of NAME slots (rare: only a trusted HTTP `ip=` that is not an address). */
  private readonly names = new Map<number, string>();
  /** Oldest and newest slot by last announce. */
  private head = NONE;
  private tail = NONE;
  /** (swarm, address, port) → slot + 1; 0 is empty. */
  private table = new Int32Array(0);
  private mask = 0;

  private peerCount = 0;
  /** Peers evicted at the cap so far. */
  evicted = 0;
  /** The counts of the torrent in the last `announceCompact` answer. */
  readonly counts: ScrapeStats = { complete: 0, incomplete: 0, downloaded: 0 };

  constructor(options: SwarmStoreOptions) {
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.ttl = options.peerTtlMs;
    this.defaultNumWant = options.defaultNumWant ?? 50;
    this.maxNumWant = options.maxNumWant ?? 200;
    this.maxTorrents = options.maxTorrents ?? 100_000;
    this.maxPeersPerTorrent = options.maxPeersPerTorrent ?? 100_000;
    this.maxPeers = Math.max(1, options.maxPeers ?? DEFAULT_MAX_PEERS);
    // The hash seeds only spread entries; they need not be secret-grade, only unknown to clients.
    this.seed = (this.random() * 2 ** 32) | 0;
    this.hashes = new InfoHashSet((Math.random() * 2 ** 32) | 0);
    this.grow(Math.min(this.maxPeers, 1024));
  }

  get torrentCount(): number {
    return this.hashes.size;
  }

  get totalPeers(): number {
    return this.peerCount;
  }

  /** The most peers one answer may carry (what a reply buffer must have room for). */
  get maxAnswerPeers(): number {
    return this.maxNumWant;
  }

  /** Record an announce and answer it. Throws TRACKER_SERVER_FULL (input) past the limits. */
  announce(a: SwarmAnnounce): SwarmReply {
    const v4 = ipv4Number(a.ip);
    let fam: number;
    let w0 = 0;
    let w1 = 0;
    let w2 = 0;
    let w3 = 0;
    let name: string | null = null;
    if (v4 >= 0) {
      fam = 4;
      w2 = 0xffff;
      w3 = v4;
    } else {
      const b = parseIPv6(a.ip);
      if (b) {
        fam = 6;
        w0 = b.readUInt32BE(0);
        w1 = b.readUInt32BE(4);
        w2 = b.readUInt32BE(8);
        w3 = b.readUInt32BE(12);
        // An IPv4-mapped address is that IPv4 peer.
        if (w0 === 0 && w1 === 0 && w2 === 0xffff) fam = 4;
      } else {
        fam = NAME;
        name = a.ip;
        let h = 0x9747b28c;
        for (let i = 0; i < name.length; i++) h = mixWord(h, name.charCodeAt(i));
        w3 = finish(h) >>> 0;
      }
    }
    const self = this.record(a.infoHash, 0, fam, w0, w1, w2, w3, a.port, name, a.peerId, 0, a.left === 0n, EVENT_NUMBER[a.event]);
    const swarm = this.lastSwarm;
    const counts = this.countsOf(swarm);
    if (self < 0 || swarm === null) return { ...counts, peers: [] };
    const want = this.wanted(a.numWant ?? -1);
    const got = this.pick(swarm, self, want, a.families === 'both' ? 0 : a.families);
    const peers: SwarmPeer[] = [];
    for (let k = 0; k < got; k++) peers.push(this.peerAt(this.picked[k]!));
    return { ...counts, peers };
  }

  /**
   * BEP 15's announce without objects: the infohash at `hash[hashOff..]`, the peer id at
   * `id[idOff..]`, the address as four big-endian 32-bit words (an IPv4 address a is 0, 0,
   * 0xffff, a), `event` in BEP 15's numbering. Writes the answer's compact peers of `family`
   * (6 or 18 bytes each) into `out` from `outOff` and returns how many; the torrent's counts are
   * then in `counts`. Throws TRACKER_SERVER_FULL (input) past the limits.
   */
  announceCompact(
    hash: Uint8Array, hashOff: number, family: 4 | 6, w0: number, w1: number, w2: number, w3: number, port: number,
    id: Uint8Array, idOff: number, seeder: boolean, event: number, numWant: number, out: Uint8Array, outOff: number,
  ): number {
    const fam = family === 4 || (w0 === 0 && w1 === 0 && w2 === 0xffff) ? 4 : 6;
    const self = this.record(hash, hashOff, fam, w0, w1, w2, w3, port, null, id, idOff, seeder, event);
    const swarm = this.lastSwarm;
    const c = this.counts;
    c.complete = swarm ? swarm.seeders : 0;
    c.incomplete = swarm ? swarm.n - swarm.seeders : 0;
    c.downloaded = swarm ? swarm.downloaded : 0;
    if (self < 0 || swarm === null) return 0;
    const got = this.pick(swarm, self, this.wanted(numWant), family);
    const addr = this.addr;
    const picked = this.picked;
    let off = outOff;
    for (let k = 0; k < got; k++) {
      const slot = picked[k]!;
      for (let w = family === 4 ? 3 : 0; w < 4; w++) {
        const a = addr[slot * 4 + w]!;
        out[off] = a >>> 24;
        out[off + 1] = (a >>> 16) & 255;
        out[off + 2] = (a >>> 8) & 255;
        out[off + 3] = a & 255;
        off += 4;
      }
      const p = this.port[slot]!;
      out[off] = p >>> 8;
      out[off + 1] = p & 255;
      off += 2;
    }
    return got;
  }

  /** Counts for one torrent; zeros for one never seen. */
  scrape(infoHash: Uint8Array, off = 0): ScrapeStats {
    const i = this.hashes.find(infoHash, off);
    return this.countsOf(i < 0 ? null : this.swarms[i]!);
  }

  /** BEP 15's 12-byte scrape entry (seeders, completed, leechers) for the infohash at `hash[hashOff..]`. */
  scrapeInto(hash: Uint8Array, hashOff: number, out: Buffer, outOff: number): void {
    const i = this.hashes.find(hash, hashOff);
    const s = i < 0 ? null : this.swarms[i]!;
    out.writeUInt32BE(s ? s.seeders : 0, outOff);
    out.writeUInt32BE(s ? s.downloaded >>> 0 : 0, outOff + 4);
    out.writeUInt32BE(s ? s.n - s.seeders : 0, outOff + 8);
  }

  /** Every torrent with its counts, for a full scrape (BEP 48 without `info_hash`). */
  *entries(limit = Infinity): Generator<[Buffer, ScrapeStats]> {
    let n = 0;
    for (let i = 0; i < this.swarms.length; i++) {
      const s = this.swarms[i];
      if (!s) continue;
      if (n++ >= limit) return;
      yield [this.hashes.keyAt(i), this.countsOf(s)];
    }
  }

  /** Drop peers whose time is up; returns how many. Empty swarms without history go too. */
  expire(): number {
    const now = this.now();
    let removed = 0;
    // The list is in announce order and every announce sets now + ttl: the expired are its head.
    while (this.head !== NONE && this.expires[this.head]! <= now) {
      this.removeSlot(this.head);
      removed++;
    }
    for (let i = 0; i < this.swarms.length; i++) {
      const s = this.swarms[i];
      if (s && s.n === 0 && s.downloaded === 0) this.dropSwarm(i);
    }
    return removed;
  }

  // --- internals ---------------------------------------------------------------------------------

  /** The swarm the last `record` call touched (null when a `stopped` named an unknown torrent). */
  private lastSwarm: Swarm | null = null;

  /** Add or update the peer; returns its slot, or -1 when it left (`stopped`). */
  private record(
    hash: Uint8Array, hashOff: number, fam: number, w0: number, w1: number, w2: number, w3: number, port: number, name: string | null,
    id: Uint8Array, idOff: number, seeder: boolean, event: number,
  ): number {
    let si = this.hashes.find(hash, hashOff);
    if (event === STOPPED) {
      this.lastSwarm = si < 0 ? null : this.swarms[si]!;
      if (si >= 0) {
        const slot = this.findSlot(si, w0, w1, w2, w3, port, fam, name);
        if (slot >= 0) this.removeSlot(slot);
      }
      return -1;
    }
    if (si < 0) {
      if (this.hashes.size >= this.maxTorrents) throw new BtError('TRACKER_SERVER_FULL', 'input', `this tracker already tracks ${this.maxTorrents} torrents`);
      si = this.hashes.add(hash, hashOff);
      this.swarms[si] = { members: new Int32Array(4), n: 0, seeders: 0, downloaded: 0 };
    }
    const swarm = this.swarms[si]!;
    this.lastSwarm = swarm;
    const expiresAt = this.now() + this.ttl;
    let slot = this.findSlot(si, w0, w1, w2, w3, port, fam, name);
    if (slot < 0) {
      if (swarm.n >= this.maxPeersPerTorrent) throw new BtError('TRACKER_SERVER_FULL', 'input', `this torrent already has ${this.maxPeersPerTorrent} peers`);
      if (this.peerCount >= this.maxPeers) this.evictOldest(swarm);
      slot = this.newSlot();
      const a = slot * 4;
      this.addr[a] = w0;
      this.addr[a + 1] = w1;
      this.addr[a + 2] = w2;
      this.addr[a + 3] = w3;
      this.port[slot] = port;
      this.fam[slot] = fam;
      if (name !== null) this.names.set(slot, name);
      this.seeder[slot] = seeder ? 1 : 0;
      this.swarmOf[slot] = si;
      if (swarm.n === swarm.members.length) {
        const grown = new Int32Array(swarm.members.length * 2);
        grown.set(swarm.members);
        swarm.members = grown;
      }
      this.pos[slot] = swarm.n;
      swarm.members[swarm.n++] = slot;
      if (seeder) swarm.seeders++;
      this.hashOf[slot] = this.peerHash(si, w0, w1, w2, w3, port);
      this.tableInsert(slot);
      this.peerCount++;
    } else {
      if ((this.seeder[slot] === 1) !== seeder) {
        swarm.seeders += seeder ? 1 : -1;
        this.seeder[slot] = seeder ? 1 : 0;
      }
      this.unlink(slot);
    }
    // A byte loop, not set(subarray): a subarray of a Buffer is a new object per announce.
    const ids = this.ids;
    for (let k = 0, at = slot * 20; k < 20; k++) ids[at + k] = id[idOff + k]!;
    this.expires[slot] = expiresAt;
    this.append(slot);
    // BEP 3: `completed` is sent once, when the download finishes; it is what scrape's
    // `downloaded` counts.
    if (event === COMPLETED) swarm.downloaded++;
    return slot;
  }

  private wanted(numWant: number): number {
    return Math.min(numWant < 0 ? this.defaultNumWant : numWant, this.maxNumWant);
  }

  /**
   * Up to `want` live peers other than `self` of the given family (0: any), a contiguous run from
   * a random start (wrapping), into `this.picked`; returns how many. A host-name peer has no
   * compact entry: only an answer of any family (HTTP's dictionary model) carries it.
   */
  private pick(swarm: Swarm, self: number, want: number, family: number): number {
    const n = swarm.n;
    if (want <= 0 || n <= 1) return 0;
    if (this.picked.length < want) this.picked = new Int32Array(want);
    const now = this.now();
    const members = swarm.members;
    let i = Math.floor(this.random() * n);
    let got = 0;
    for (let k = 0; k < n && got < want; k++) {
      const slot = members[i]!;
      if (++i === n) i = 0;
      if (slot === self || this.expires[slot]! <= now) continue;
      if (family !== 0 && this.fam[slot] !== family) continue;
      this.picked[got++] = slot;
    }
    return got;
  }

  /** Scratch for `pick`: the slots of the answer being built. */
  private picked = new Int32Array(64);

  private peerAt(slot: number): SwarmPeer {
    const f = this.fam[slot]!;
    const port = this.port[slot]!;
    const id = Buffer.from(this.ids.subarray(slot * 20, slot * 20 + 20));
    if (f === NAME) return { ip: this.names.get(slot)!, port, family: 4, id };
    const a = slot * 4;
    if (f === 4) {
      const v = this.addr[a + 3]!;
      const compact = Buffer.allocUnsafe(6);
      compact.writeUInt32BE(v, 0);
      compact.writeUInt16BE(port, 4);
      return { ip: `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`, port, family: 4, id, compact };
    }
    const compact = Buffer.allocUnsafe(18);
    for (let k = 0; k < 4; k++) compact.writeUInt32BE(this.addr[a + k]!, 4 * k);
    compact.writeUInt16BE(port, 16);
    return { ip: formatIPv6(compact), port, family: 6, id, compact };
  }

  private countsOf(swarm: Swarm | null): ScrapeStats {
    if (!swarm) return { complete: 0, incomplete: 0, downloaded: 0 };
    return { complete: swarm.seeders, incomplete: swarm.n - swarm.seeders, downloaded: swarm.downloaded };
  }

  /**
   * Make room for one peer joining `joining`: the least recently announced peer goes, and its
   * swarm too when that leaves it empty and without history (as `expire` does), unless it is the
   * swarm being joined.
   */
  private evictOldest(joining: Swarm): void {
    const slot = this.head;
    if (slot === NONE) return;
    const si = this.swarmOf[slot]!;
    const swarm = this.swarms[si]!;
    this.removeSlot(slot);
    this.evicted++;
    if (swarm !== joining && swarm.n === 0 && swarm.downloaded === 0) this.dropSwarm(si);
  }

  private dropSwarm(si: number): void {
    this.swarms[si] = null;
    this.hashes.delete(si);
  }

  private removeSlot(slot: number): void {
    const swarm = this.swarms[this.swarmOf[slot]!]!;
    if (this.seeder[slot] === 1) swarm.seeders--;
    const i = this.pos[slot]!;
    const last = swarm.members[--swarm.n]!;
    swarm.members[i] = last;
    this.pos[last] = i;
    this.tableDelete(slot);
    this.unlink(slot);
    if (this.fam[slot] === NAME) this.names.delete(slot);
    this.fam[slot] = FREE;
    this.freeSlots.push(slot);
    this.peerCount--;
  }

  // --- the age list --------------------------------------------------------------------------------

  private append(slot: number): void {
    this.prev[slot] = this.tail;
    this.next[slot] = NONE;
    if (this.tail === NONE) this.head = slot;
    else this.next[this.tail] = slot;
    this.tail = slot;
  }

  private unlink(slot: number): void {
    const p = this.prev[slot]!;
    const n = this.next[slot]!;
    if (p === NONE) this.head = n;
    else this.next[p] = n;
    if (n === NONE) this.tail = p;
    else this.prev[n] = p;
  }

  // --- slots and the peer table --------------------------------------------------------------------

  private newSlot(): number {
    const free = this.freeSlots.pop();
    if (free !== undefined) return free;
    if (this.used === this.cap) this.grow(Math.min(this.maxPeers, this.cap * 2));
    return this.used++;
  }

  private grow(cap: number): void {
    const copy = <T extends Uint8Array | Uint16Array | Uint32Array | Int32Array | Float64Array>(old: T, make: (n: number) => T, per = 1): T => {
      const a = make(cap * per);
      a.set(old as never);
      return a;
    };
    this.addr = copy(this.addr, (n) => new Uint32Array(n), 4);
    this.port = copy(this.port, (n) => new Uint16Array(n));
    this.fam = copy(this.fam, (n) => new Uint8Array(n));
    this.seeder = copy(this.seeder, (n) => new Uint8Array(n));
    this.expires = copy(this.expires, (n) => new Float64Array(n));
    this.swarmOf = copy(this.swarmOf, (n) => new Int32Array(n));
    this.pos = copy(this.pos, (n) => new Int32Array(n));
    this.prev = copy(this.prev, (n) => new Int32Array(n));
    this.next = copy(this.next, (n) => new Int32Array(n));
    this.hashOf = copy(this.hashOf, (n) => new Int32Array(n));
    this.ids = copy(this.ids, (n) => new Uint8Array(n), 20);
    this.cap = cap;
    // The table stays at most half full.
    const size = pow2AtLeast(cap * 2);
    if (size !== this.table.length) {
      this.table = new Int32Array(size);
      this.mask = size - 1;
      for (let slot = 0; slot < this.used; slot++) if (this.fam[slot] !== FREE) this.tableInsert(slot);
    }
  }

  private peerHash(si: number, w0: number, w1: number, w2: number, w3: number, port: number): number {
    let h = mixWord(this.seed, si);
    h = mixWord(h, w0);
    h = mixWord(h, w1);
    h = mixWord(h, w2);
    h = mixWord(h, w3);
    return finish(mixWord(h, port));
  }

  private findSlot(si: number, w0: number, w1: number, w2: number, w3: number, port: number, fam: number, name: string | null): number {
    const h = this.peerHash(si, w0, w1, w2, w3, port);
    const table = this.table;
    const mask = this.mask;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const e = table[i]!;
      if (e === 0) return -1;
      const slot = e - 1;
      if (this.hashOf[slot] !== h || this.swarmOf[slot] !== si || this.port[slot] !== port) continue;
      const a = slot * 4;
      if (this.addr[a + 3] !== w3 || this.addr[a + 2] !== w2 || this.addr[a + 1] !== w1 || this.addr[a] !== w0) continue;
      if ((this.fam[slot] === NAME) !== (fam === NAME)) continue;
      if (fam === NAME && this.names.get(slot) !== name) continue;
      return slot;
    }
  }

  private tableInsert(slot: number): void {
    const mask = this.mask;
    let i = this.hashOf[slot]! & mask;
    while (this.table[i] !== 0) i = (i + 1) & mask;
    this.table[i] = slot + 1;
  }

  private tableDelete(slot: number): void {
    const table = this.table;
    const mask = this.mask;
    let i = this.hashOf[slot]! & mask;
    while (table[i] !== slot + 1) {
      if (table[i] === 0) return;
      i = (i + 1) & mask;
    }
    // Backward-shift deletion (see InfoHashSet.delete).
    for (let j = (i + 1) & mask; table[j] !== 0; j = (j + 1) & mask) {
      const home = this.hashOf[table[j]! - 1]! & mask;
      if (((j - home) & mask) >= ((j - i) & mask)) {
        table[i] = table[j]!;
        i = j;
      }
    }
    table[i] = 0;
  }
}
