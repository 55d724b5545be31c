/**
 * The session's side of BEP 11 peer exchange (extension/ut-pex.ts): a peer source that learns
 * addresses from what connected peers tell us, and tells each of them, at most once a minute,
 * which peers we are connected to now (the difference from what it last heard from us).
 *
 * What we tell is what a peer could dial: an outgoing connection's address, or an incoming peer's
 * address with the port it listens on (its BEP 10 `p`); an incoming peer that gave no port is not
 * passed on, its ephemeral port would be useless. BEP 11 flags: 0x02 for a seed, 0x10 for a peer
 * we reached by dialing (so others can too).
 *
 * Off for private torrents (BEP 27): the coordinator does not create it, or `disable`s it once the
 * metadata says the torrent is private.
 */
import type { ExtensionFactory } from '../extension/registry.js';
import { type PexPeer, type UtPexPlugin, UT_PEX, utPex } from '../extension/ut-pex.js';
import type { PeerPieces } from '../pieces/picker.js';
import type { Endpoint } from '../transport/types.js';
import type { PeerWire } from '../wire/peer-wire.js';

/** BEP 11 flag bits. */
const FLAG_SEED = 0x02;
const FLAG_REACHABLE = 0x10;

/** What the exchange needs of a connected peer. */
export interface PexPeerView {
  readonly wire: PeerWire;
  readonly direction: 'outgoing' | 'incoming';
  readonly listenPort: number | null;
  readonly pieces: PeerPieces;
  readonly dropped: boolean;
}

export interface PeerExchangeOptions {
  /** Milliseconds between two messages to one peer. Default 60 s (BEP 11). */
  intervalMs?: number | undefined;
  /** Addresses a peer told us about. */
  learned(peers: readonly Endpoint[]): void;
}

export class PeerExchange<P extends PexPeerView> {
  private disabled = false;

  constructor(private readonly opts: PeerExchangeOptions) {}

  /** The `ut_pex` plug-in of one connection. */
  factory(): ExtensionFactory {
    return utPex(
      {
        onPeers: (added) => {
          if (this.disabled || added.length === 0) return;
          this.opts.learned(added.map((a) => ({ host: a.host, port: a.port })));
        },
      },
      this.opts.intervalMs !== undefined ? { intervalMs: this.opts.intervalMs } : {},
    );
  }

  /** Stop exchanging (the torrent turned out to be private). */
  disable(): void {
    this.disabled = true;
  }

  /** On the session's timer: each peer's plug-in sends when its interval has passed. */
  tick(peers: Iterable<P>, now: number): void {
    if (this.disabled) return;
    const views: { peer: P; entry: PexPeer }[] = [];
    for (const p of peers) {
      if (p.dropped || p.listenPort === null) continue;
      const all = p.pieces === 'all' || (p.pieces.length > 0 && p.pieces.hasAll());
      const flags = (all ? FLAG_SEED : 0) | (p.direction === 'outgoing' ? FLAG_REACHABLE : 0);
      views.push({ peer: p, entry: { host: p.wire.conn.remote.host, port: p.listenPort, flags } });
    }
    for (const p of peers) {
      if (p.dropped) continue;
      const plugin = p.wire.registry?.get(UT_PEX) as UtPexPlugin | undefined;
      if (!plugin) continue;
      plugin.tick(
        views.filter((v) => v.peer !== p).map((v) => v.entry),
        now,
      );
    }
  }

  peerGone(_peer: P): void {
    // The next tick's lists no longer hold it: each peer hears of it as dropped.
  }
}
