/** Text for `btkit dht-lookup`: the stderr summary lines. Pure: result in, lines out. */
import type { AnnounceResult, LookupEndReason, ScrapeEstimate } from '../../core/dht/index.js';
import { formatDuration } from './format.js';

export interface DhtLookupResult {
  infoHash: string;
  /** Peers found, `host:port` (IPv6 in brackets), in the order found. */
  peers: string[];
  reason: LookupEndReason;
  queried: number;
  answered: number;
  failed: number;
  elapsedMs: number;
  firstPeerMs: number | null;
  scrape: ScrapeEstimate | null;
  announce: AnnounceResult | null;
  node: { id: string; addresses: string[] };
  state: { path: string; loadedNodes: number; savedNodes: number | null };
}

const REASONS: Record<LookupEndReason, string> = {
  complete: 'the closest nodes all answered',
  timeout: 'time budget used up',
  'max-peers': '--max-peers reached',
  'max-queried': 'query limit reached',
  'no-nodes': 'no node answered',
};

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

export function renderLookupSummary(r: DhtLookupResult): string[] {
  const lines = [
    `${plural(r.peers.length, 'peer')}; ${r.answered} of ${plural(r.queried, 'query', 'queries')} answered` +
      `${r.failed ? ` (${r.failed} failed)` : ''}; ${formatDuration(r.elapsedMs)}` +
      `${r.firstPeerMs !== null ? `; first peer after ${formatDuration(r.firstPeerMs)}` : ''} (${REASONS[r.reason]})`,
  ];
  if (r.scrape) {
    lines.push(
      r.scrape.nodes
        ? `scrape (BEP 33): about ${plural(r.scrape.seeds, 'seed')} and ${plural(r.scrape.peers, 'other peer')}, from ${plural(r.scrape.nodes, 'node')}`
        : 'scrape (BEP 33): no node returned seed/peer filters or peers',
    );
  }
  if (r.announce) {
    const port = r.announce.impliedPort ? 'our DHT port (implied_port)' : `port ${r.announce.port}`;
    lines.push(`announced ${port} to ${r.announce.accepted} of ${plural(r.announce.attempted, 'node')}`);
  }
  return lines;
}
