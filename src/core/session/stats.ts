/**
 * The session's figures at one moment (the `progress`, `complete` and `done` events, and
 * `Session.stats()`), read from its parts: pieces and bytes from the torrent, totals and rates
 * from the traffic, peers from the peer set, web seeds from their sources. Reads only.
 */
import type { Peer } from './peer.js';
import type { PeerSet } from './peer-set.js';
import type { Torrent } from './torrent.js';
import type { Traffic } from './traffic.js';
import type { SessionStats } from './types.js';

export interface StatsParts {
  now: number;
  startedAt: number;
  /** Null before a magnet's metadata is known. */
  torrent: Torrent<Peer> | null;
  peers: Pick<PeerSet, 'size' | 'seeds'>;
  traffic: Traffic;
  webSeeds: { downloaded: number; active: number } | null;
  /** Addresses in the peer book. */
  known: number;
}

export function sessionStats(s: StatsParts): SessionStats {
  const t = s.torrent;
  const downRate = s.traffic.downRate.rate(s.now);
  const left = t ? t.wantedBytes - t.haveWantedBytes : 0;
  return {
    pieces: t?.meta.pieceCount ?? 0,
    havePieces: t?.picker.completed ?? 0,
    totalBytes: t?.wantedBytes ?? 0,
    doneBytes: t?.haveWantedBytes ?? 0,
    downloaded: s.traffic.downloaded,
    uploaded: s.traffic.uploaded,
    wasted: t?.assembler.wasted ?? 0,
    downloadedWebSeed: s.webSeeds?.downloaded ?? 0,
    downRate,
    upRate: s.traffic.upRate.rate(s.now),
    peers: s.peers.size,
    seeds: s.peers.seeds(),
    known: s.known,
    webSeeds: s.webSeeds?.active ?? 0,
    elapsedMs: s.now - s.startedAt,
    etaMs: !t ? null : left === 0 ? 0 : downRate > 0 ? Math.round((left / downRate) * 1000) : null,
  };
}
