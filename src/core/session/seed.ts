/**
 * A whole seed, as `btkit seed` runs it once the data is checked: the data served through a read
 * cache, every tracker tier announced to (a seed announces to all of them, not one per BEP 12),
 * the DHT (BEP 5) and peer exchange (BEP 11) unless the torrent is private (BEP 27), the info
 * dictionary served to magnet-link downloaders (BEP 9), and the `--until` stop conditions.
 *
 *   for await (const ev of runSeed(options, signal)) render(ev);   // returns a SeedOutcome
 *
 * `peers-complete` counts peers that finished while connected to us (they lacked pieces, then had
 * them all), by peer id: another seed that connects complete served nothing and does not count.
 */
import type { DhtNode, HostPort } from '../dht/index.js';
import type { Metainfo } from '../metainfo/types.js';
import { ReadCache } from '../storage/read-cache.js';
import type { PieceStore } from '../storage/store.js';
import { TrackerClient, TrackerTiers } from '../tracker/index.js';
import { DhtSource, closeDht, startDht } from './dht-source.js';
import { SeedChoker } from './seed-choker.js';
import { type TransportMode, closeTransports, createTransports } from '../transport/dual.js';
import { Session } from './session.js';
import { TrackerSource } from './tracker-source.js';
import { type StopCondition, StopConditions, describeCondition } from './stop-conditions.js';
import type { SessionEvent, SessionStats } from './types.js';

export interface SeedOptions {
  meta: Metainfo;
  /** The checked data (e.g. a ContentStore); read through a cache of `cacheBytes`. */
  content: PieceStore;
  cacheBytes: number;
  /** Tracker URLs beyond the torrent's, each a tier of its own. */
  extraTrackers: readonly string[];
  dht: { bootstrap: readonly HostPort[]; statePath: string | null; host: string } | null;
  pex: boolean;
  /** Time between two PEX messages to one peer; default 60 s (BEP 11). */
  pexIntervalMs?: number;
  conditions: readonly StopCondition[];
  peerId: Uint8Array;
  clientName: string;
  listen: { host: string; port: number };
  /** Which transports to listen on and dial over: TCP, uTP (BEP 29) or both. */
  transport: TransportMode;
  maxPeers: number;
  uploadLimit: number;
  uploadSlots: number;
}

export type SeedEvent = SessionEvent | { type: 'until'; condition: string; uploaded: number; peersComplete: number };

export interface SeedOutcome {
  met: StopCondition | null;
  final: SessionStats;
  /** From the start of serving. */
  elapsedMs: number;
  listen: { host: string; port: number } | null;
  /** The tracker URLs announced to, deduplicated, in order. */
  trackers: string[];
  peersSeen: number;
  peersComplete: number;
  cache: ReadCache['stats'];
}

export async function* runSeed(options: SeedOptions, signal: AbortSignal): AsyncGenerator<SeedEvent, SeedOutcome, undefined> {
  const { meta } = options;
  const isPrivate = meta.private;
  const cache = new ReadCache(options.content, meta, { maxBytes: options.cacheBytes });
  // Every tier of the torrent, and each extra URL, is its own source: a seed announces to all of them.
  const seenUrls = new Set<string>();
  const tiers = [...meta.trackers.map((t) => [...t]), ...options.extraTrackers.map((u) => [u])]
    .map((t) => t.filter((u) => !seenUrls.has(u) && seenUrls.add(u)))
    .filter((t) => t.length > 0);
  const client = tiers.length > 0 ? new TrackerClient() : null;
  const stopper = new StopConditions(options.conditions, meta.totalLength);
  const until = new AbortController();
  const runSignal = AbortSignal.any([signal, until.signal]);
  let dht: DhtNode | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const transports = createTransports(options.transport);
  try {
    // With uTP on, the peer port's UDP side is uTP's: the DHT takes another port.
    if (options.dht && !isPrivate) dht = await startDht(options.dht, options.transport === 'tcp' ? options.listen.port : 0, runSignal);
    const session = new Session({
      metainfo: meta,
      store: cache,
      peerId: options.peerId,
      trustedComplete: true,
      listen: { ...options.listen, fallbackToAnyPort: true },
      transports,
      maxPeers: options.maxPeers,
      uploadLimit: options.uploadLimit,
      uploadSlots: options.uploadSlots,
      seedChoker: new SeedChoker({ slots: options.uploadSlots, rng: Math.random }),
      seed: {},
      stallTimeoutMs: 0,
      hashPool: null,
      pex: options.pex && !isPrivate,
      ...(options.pexIntervalMs !== undefined ? { pexIntervalMs: options.pexIntervalMs } : {}),
      clientName: options.clientName,
    });
    const key = (Math.random() * 0x1_0000_0000) >>> 0;
    // BEP 52: a v2-only torrent is announced with its v2 infohash cut to 20 bytes.
    const announced = meta.infoHash.v1 ?? meta.infoHash.v2!.subarray(0, 20);
    for (const tier of tiers) session.addSource(new TrackerSource({ client: client!, tiers: new TrackerTiers([tier]), infoHash: announced, peerId: options.peerId, key }));
    if (dht) session.addSource(new DhtSource({ node: dht, infoHash: announced }));

    const seen = new Set<string>();
    const complete = new Set<string>();
    let met: StopCondition | null = null;
    let since: number | null = null;
    let listen: SeedOutcome['listen'] = null;
    let final: SessionStats = session.stats();
    let pending: SeedEvent | null = null;
    const check = () => {
      if (met || since === null) return;
      const s = session.stats();
      met = stopper.met({ uploaded: s.uploaded, elapsedMs: performance.now() - since, peersComplete: complete.size });
      if (met) {
        pending = { type: 'until', condition: describeCondition(met), uploaded: s.uploaded, peersComplete: complete.size };
        until.abort();
      }
    };
    try {
      for await (const ev of session.run(runSignal)) {
        if (ev.type === 'started') {
          since = performance.now();
          listen = ev.listen ? { host: ev.listen.host, port: ev.listen.port } : null;
          const left = stopper.timeLeft(0);
          if (left !== null) timer = setTimeout(check, left + 1);
        } else if (ev.type === 'peer-connected') seen.add(ev.peerId);
        else if (ev.type === 'peer-complete' && ev.finished) complete.add(ev.peerId);
        else if (ev.type === 'done') final = ev;
        if (ev.type === 'progress' || ev.type === 'peer-complete' || ev.type === 'peer-dropped') check();
        if (pending) {
          yield pending;
          pending = null;
        }
        yield ev;
      }
    } catch (err) {
      // Our own stop (a condition met) or the caller's signal ends the run by its signal.
      if (!runSignal.aborted) throw err;
      final = session.stats();
    }
    if (pending) yield pending;
    return {
      met,
      final,
      elapsedMs: since === null ? 0 : Math.round(performance.now() - since),
      listen,
      trackers: tiers.flat(),
      peersSeen: seen.size,
      peersComplete: complete.size,
      cache: { ...cache.stats },
    };
  } finally {
    clearTimeout(timer);
    if (client) await client.close().catch(() => undefined);
    if (dht) await closeDht(dht, options.dht!.statePath);
    await closeTransports(transports);
  }
}
