/**
 * Trackers: announce and scrape over HTTP(S) (BEP 3, 7, 23, 24, 48) and UDP (BEP 15, 41), the
 * BEP 12 tier logic, and an in-memory tracker server.
 *
 * For the download and seed engines:
 *
 *   const client = new TrackerClient();                 // one per session: owns the UDP socket
 *   const tiers = new TrackerTiers(meta.trackers);      // one per torrent: BEP 12 order
 *   const { url, value } = await tiers.first((u) => client.announce(u, params, { signal, timeoutMs }));
 *   // value: AnnounceResult — interval, minInterval, peers (v4 and v6), complete/incomplete, …
 *   // keep value.trackerId and pass it back as params.trackerId on the next announce to `url`.
 *   await client.close();
 *
 * Every failure is a BtError with a stable code (TRACKER_TIMEOUT, TRACKER_FAILURE,
 * TRACKER_BAD_RESPONSE, TRACKER_BAD_PACKET, TRACKER_BAD_PEERS, TRACKER_BAD_TRANSACTION,
 * TRACKER_RESPONSE_TOO_LARGE, TRACKER_PACKET_TOO_LARGE, TRACKER_REDIRECT_LOOP,
 * TRACKER_TOO_MANY_REDIRECTS, TRACKER_BAD_REDIRECT, TRACKER_HTTP_STATUS, TRACKER_UNREACHABLE,
 * TRACKER_SCRAPE_UNSUPPORTED, TRACKER_ALL_FAILED: category `network`; TRACKER_BAD_URL and
 * TRACKER_UNSUPPORTED_SCHEME: category `input`); an aborted signal rejects with the abort error.
 */
import { inputError } from '../errors.js';
import { httpAnnounce, httpScrape, type HttpGetOptions } from './http-client.js';
import { UdpTrackerClient, type UdpTrackerClientOptions } from './udp-client.js';
import type { AnnounceParams, AnnounceResult, RequestOptions, ScrapeResult, TrackerProtocol } from './types.js';

export * from './types.js';
export * from './peers.js';
export { TrackerTiers, allFailed, type TierAttempt, type TierSuccess } from './tiers.js';
export { UdpTrackerClient, type UdpTrackerClientOptions, parseUdpUrl, BEP15_RETRANSMIT_BASE_MS } from './udp-client.js';
export { httpGet, httpAnnounce, httpScrape, type HttpGetOptions } from './http-client.js';
export { scrapeUrlFor, buildAnnounceUrl, buildScrapeUrl } from './http-codec.js';
export { MAX_SCRAPE_HASHES } from './udp-codec.js';
export { azureusPrefix, makePeerId, parsePeerIdText } from './peer-id.js';
export { SwarmStore, type SwarmStoreOptions } from './swarm.js';
export { askTrackers, type TrackerOutcome } from './fan-out.js';
export { startTrackerServer, type TrackerServer, type TrackerServerOptions, type TrackerServerEvent, type TrackerServerStats } from './server.js';

export interface TrackerClientOptions extends UdpTrackerClientOptions {
  /** HTTP limits: body size, redirects, user agent. */
  http?: Pick<HttpGetOptions, 'maxBytes' | 'maxRedirects' | 'userAgent'>;
}

/** The protocol of a tracker URL, or null for one btkit cannot talk to (wss://, a typo). */
export function trackerProtocol(url: string): TrackerProtocol | null {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  if (scheme === 'http' || scheme === 'https') return 'http';
  if (scheme === 'udp') return 'udp';
  return null;
}

/**
 * A tracker client for one session: dispatches by URL scheme, and keeps one UDP socket and the
 * UDP connection ids across calls. Close it when the session ends.
 */
export class TrackerClient {
  private readonly udp: UdpTrackerClient;
  private readonly http: TrackerClientOptions['http'];

  constructor(options: TrackerClientOptions = {}) {
    this.udp = new UdpTrackerClient(options);
    this.http = options.http;
  }

  async announce(url: string, params: AnnounceParams, options: RequestOptions = {}): Promise<AnnounceResult> {
    switch (protocolOrThrow(url)) {
      case 'http':
        return httpAnnounce(url, params, { ...this.http, ...options });
      case 'udp':
        return this.udp.announce(url, params, options);
    }
  }

  /** Scrape several infohashes at once (one HTTP request; UDP packets of up to 74). */
  async scrape(url: string, infoHashes: readonly Uint8Array[], options: RequestOptions = {}): Promise<ScrapeResult> {
    switch (protocolOrThrow(url)) {
      case 'http':
        return httpScrape(url, infoHashes, { ...this.http, ...options });
      case 'udp':
        return this.udp.scrape(url, infoHashes, options);
    }
  }

  close(): Promise<void> {
    return this.udp.close();
  }
}

/** One announce with a client made for it and closed after. */
export async function announce(url: string, params: AnnounceParams, options: RequestOptions & TrackerClientOptions = {}): Promise<AnnounceResult> {
  const client = new TrackerClient(options);
  try {
    return await client.announce(url, params, options);
  } finally {
    await client.close();
  }
}

/** One scrape with a client made for it and closed after. */
export async function scrape(url: string, infoHashes: readonly Uint8Array[], options: RequestOptions & TrackerClientOptions = {}): Promise<ScrapeResult> {
  const client = new TrackerClient(options);
  try {
    return await client.scrape(url, infoHashes, options);
  } finally {
    await client.close();
  }
}

function protocolOrThrow(url: string): TrackerProtocol {
  const p = trackerProtocol(url);
  if (p === null) throw inputError('TRACKER_UNSUPPORTED_SCHEME', `\`${url}\`: btkit speaks to http://, https:// and udp:// trackers only`, { detail: { url } });
  return p;
}
