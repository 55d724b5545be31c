/**
 * The session's side of BEP 9 (`ut_metadata`, extension/ut-metadata.ts): one `ut_metadata`
 * plug-in per connection that serves our info dictionary when we have it, and, for a session
 * started from a magnet link, one `MetadataFetcher` across every connection until the info
 * dictionary is known and checked against the infohash.
 *
 * Connections are keyed here by a connection number, not an address: two connections from one
 * address can overlap (a reconnection), and the fetcher must not mistake one for the other. A peer
 * the fetcher proves a liar is banned by the coordinator (the `drop` hook).
 */
import type { BtError } from '../errors.js';
import type { ExtensionFactory } from '../extension/registry.js';
import { type MetadataEvent, MetadataFetcher, metadataServer } from '../extension/ut-metadata.js';
import type { SessionEvent } from './types.js';

/** What the exchange needs of a connected peer. */
export interface MetadataPeer {
  readonly key: string;
  readonly dropped: boolean;
}

/** Ties a connection's plug-in (made before the handshake) to its peer (known after it). */
export interface MetadataSlot<P> {
  readonly id: string;
  peer: P | undefined;
}

export interface MetadataExchangeOptions<P> {
  infoHash: Uint8Array;
  /** A v2-only magnet's full v2 infohash: the fetched info dictionary must SHA-256 to it (BEP 52). */
  infoHashV2?: Uint8Array;
  /** Our info dictionary's original bytes when we start with them (a .torrent); null for a magnet. */
  info: Uint8Array | null;
  maxSize?: number | undefined;
  now: () => number;
  /** `peer` lied about the metadata (proven by the hash): drop and ban it. */
  drop(peer: P, err: BtError): void;
  emit(ev: SessionEvent): void;
}

export class MetadataExchange<P extends MetadataPeer> {
  /** Resolves with the checked info dictionary (at once when we started with it). */
  readonly fetched: Promise<Uint8Array>;
  private bytes: Uint8Array | null;
  private readonly fetcher: MetadataFetcher | null;
  private readonly opts: MetadataExchangeOptions<P>;
  private readonly slots = new Map<P, MetadataSlot<P>>();
  /**
   * Connection id → its peer's key. Kept after the connection ends while fetching: the `metadata`
   * event names every contributor, and a liar may be condemned after it left.
   */
  private readonly keys = new Map<string, string>();
  private nextId = 1;

  constructor(options: MetadataExchangeOptions<P>) {
    this.opts = options;
    this.bytes = options.info;
    if (options.info) {
      this.fetcher = null;
      this.fetched = Promise.resolve(options.info);
      return;
    }
    this.fetcher = new MetadataFetcher({
      infoHash: options.infoHash,
      ...(options.infoHashV2 ? { infoHashV2: options.infoHashV2 } : {}),
      now: options.now,
      ...(options.maxSize !== undefined ? { maxSize: options.maxSize } : {}),
      onEvent: (e: MetadataEvent) => {
        if (e.type === 'metadata-hash-mismatch') options.emit({ type: 'metadata-hash-mismatch', peers: e.peers.map((id) => this.keyOf(id)) });
        else options.emit({ ...e, peer: this.keyOf(e.peer) } as SessionEvent);
      },
    });
    this.fetched = this.fetcher.metadata.then((info) => {
      this.bytes = info;
      const r = this.fetcher!.result();
      const peers = (r?.peers ?? []).map((id) => this.keyOf(id));
      options.emit({ type: 'metadata', infoHash: Buffer.from(options.infoHash).toString('hex'), size: info.length, peers, elapsedMs: Math.round(r?.elapsedMs ?? 0) });
      const live = new Set([...this.slots.values()].map((s) => s.id));
      for (const id of this.keys.keys()) if (!live.has(id)) this.keys.delete(id);
      return info;
    });
  }

  /** A connection's peer key (its address) from the fetcher's connection id; the id before `bind`. */
  private keyOf(id: string): string {
    return this.keys.get(id) ?? id;
  }

  /** The info dictionary's bytes, once known. */
  get info(): Uint8Array | null {
    return this.bytes;
  }

  /** A new slot and the `ut_metadata` plug-in of one connection. */
  plugin(): { slot: MetadataSlot<P>; factory: ExtensionFactory } {
    const slot: MetadataSlot<P> = { id: `c${this.nextId++}`, peer: undefined };
    if (!this.fetcher || this.bytes) return { slot, factory: metadataServer(() => this.bytes) };
    const factory = this.fetcher.plugin(slot.id, {
      drop: (err) => {
        if (slot.peer && !slot.peer.dropped) this.opts.drop(slot.peer, err);
      },
    });
    return { slot, factory };
  }

  /** The connection of `slot` became `peer` (handshake done). */
  bind(slot: MetadataSlot<P>, peer: P): void {
    slot.peer = peer;
    this.slots.set(peer, slot);
    this.keys.set(slot.id, peer.key);
  }

  peerGone(peer: P): void {
    const slot = this.slots.get(peer);
    if (!slot) return;
    this.slots.delete(peer);
    if (this.bytes) this.keys.delete(slot.id);
    this.fetcher?.peerClosed(slot.id);
  }

  /** On the session's timer while fetching: re-ask timed-out pieces elsewhere. */
  tick(): void {
    if (!this.bytes) this.fetcher?.tick();
  }

  stop(): void {
    this.slots.clear();
    this.keys.clear();
  }
}
