/**
 * `btkit demo` output: the lines for each thing the swarm demo and the offline tour tell (see
 * cli/demo/swarm.ts and cli/demo/offline.ts). Pure: events in, text out.
 */
import type { OfflineEvent } from '../demo/offline.js';
import type { MagnetSummary, SwarmEvent } from '../demo/swarm.js';
import type { Style } from '../style.js';
import { formatBytes, formatDuration, formatRanges } from './format.js';


/** The swarm demo's lines for `ev` (a progress event gives its one line: see `swarmProgressLine`). */
export function swarmLines(ev: SwarmEvent, s: Style): string[] {
  switch (ev.type) {
    case 'payload':
      return [s.bold(`1. sample payload: ${ev.files} files, ${formatBytes(ev.bytes)} in ${ev.directory}`)];
    case 'tracker':
      return [s.bold('2. btkit tracker --http-port 0 --interval 3s'), `   ${ev.url}`];
    case 'created':
      return [s.bold(`3. btkit create payload -t ${ev.url} -o payload.torrent`), `   ${ev.infoHash}  ${ev.pieces} pieces`, `   ${ev.magnet}`];
    case 'seed':
      return [s.bold(`4. btkit seed payload.torrent payload --until peers-complete=${ev.leechers}${ev.limit.length ? ` ${ev.limit.join(' ')}` : ''} --pex-interval 1s --no-dht`), `   listening on 127.0.0.1:${ev.port}`];
    case 'downloads':
      return [
        ...(ev.fromTorrent > 0 ? [s.bold(`5. ${ev.fromTorrent} x btkit download payload.torrent -o copy-N --no-pex --no-dht`)] : []),
        s.bold(`${ev.fromTorrent > 0 ? '  ' : '5.'} 1 x btkit download '${ev.magnet}' -o ${ev.magnetCopy} --pex-interval 1s --no-dht`),
        `   (#${ev.fromTorrent + 1}m: no .torrent, no tracker, only the seed's address: the metadata comes from the seed, the other downloaders through PEX)`,
      ];
    case 'progress':
      return [swarmProgressLine(ev)];
    case 'progress-end':
      return [];
    case 'verified':
      return verifiedLines(ev, s);
  }
}

/** "   1.13 s  #1  39%  #2  39%  #3m  12%" */
export function swarmProgressLine(ev: Extract<SwarmEvent, { type: 'progress' }>): string {
  return `   ${formatDuration(ev.elapsedMs).padStart(8)}  ${ev.copies.map((c) => `${c.label} ${String(c.percent).padStart(3)}%`).join('  ')}`;
}

function verifiedLines(ev: Extract<SwarmEvent, { type: 'verified' }>, s: Style): string[] {
  const { summary } = ev;
  const lines = [s.bold('6. verify every copy')];
  for (const c of summary.copies) {
    const state = c.ok ? s.green('ok') : s.red(`BAD (${ev.failures[c.name] ?? 'failed'})`);
    lines.push(`   ${c.name}  ${state}  in ${formatDuration(c.elapsedMs)}, uploaded ${formatBytes(c.uploaded)} to the others${c.from === 'magnet' ? ' (from the magnet link)' : ''}`);
  }
  const share = (b: number) => (summary.payloadBytes > 0 ? (b / summary.payloadBytes).toFixed(2) : '0');
  lines.push(
    '',
    `${summary.leechers} copies of ${formatBytes(summary.payloadBytes)} in ${formatDuration(summary.elapsedMs)} (${formatBytes(summary.throughput)}/s delivered in all)`,
    `served by the seed: ${formatBytes(summary.servedBySeed)} (${share(summary.servedBySeed)} copies); by the downloaders to each other: ${formatBytes(summary.servedByLeechers)} (${share(summary.servedByLeechers)} copies)`,
    ...magnetLines(summary.magnet),
  );
  if (!summary.seedOk) lines.push(s.red(`the seed did not stop by itself after ${summary.leechers} complete peers (${ev.seedExit === 'timeout' ? 'still running' : `exit ${ev.seedExit}`})`));
  const ok = summary.copies.every((c) => c.ok) && summary.seedOk;
  lines.push(ok ? 'demo: every copy is correct.' : 'demo: something went wrong (see above).');
  return lines;
}

const SOURCE_NAMES: Record<string, string> = { manual: 'from x.pe', pex: 'through PEX', tracker: 'from a tracker', dht: 'from the DHT', incoming: 'dialed in' };

/** Where the magnet downloader's metadata came from, and how it found its peers. */
export function magnetLines(m: MagnetSummary): string[] {
  const meta = m.metadata
    ? `metadata (${formatBytes(m.metadata.size)}) from ${m.metadata.from.map((name, i) => `${name === 'seed' ? 'the seed' : name} (${m.metadata!.peers[i]})`).join(', ')} in ${formatDuration(m.metadata.elapsedMs)} (BEP 9)`
    : 'no metadata arrived';
  const total = Object.values(m.peersBySource).reduce((a, b) => a + b, 0);
  const bySource = Object.entries(m.peersBySource)
    .sort(([, a], [, b]) => b - a)
    .map(([source, n]) => `${n} ${SOURCE_NAMES[source] ?? source}`);
  return [
    `the magnet download (${m.copy}): ${meta}`,
    `   ${plural(m.pexPeers, 'peer')} learned through PEX (BEP 11)${m.pexPeers > 0 ? `: ${m.pexPeerNames.join(', ')}` : ''}; ${plural(total, 'peer')} in all: ${bySource.length ? bySource.join(', ') : 'none'}`,
  ];
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The offline tour's lines for `ev`. */
export function offlineLines(ev: OfflineEvent, s: Style): string[] {
  switch (ev.type) {
    case 'payload':
      return [s.bold(`1. sample payload: ${ev.files} files in ${ev.directory}`)];
    case 'created':
      return [
        s.bold('2. btkit create payload -p 256KiB -t http://127.0.0.1:6969/announce'),
        `   ${ev.infoHash}  ${formatBytes(ev.totalBytes)} in ${ev.pieces} pieces, hashed in ${formatDuration(ev.hashMs)}`,
        ...ev.warnings.map((w) => `   lint: ${w}`),
      ];
    case 'inspected':
      return [s.bold('3. btkit inspect payload.torrent'), ...ev.files.map((f) => `   ${String(f.length).padStart(10)}  ${f.path}`)];
    case 'magnet':
      return [s.bold('4. btkit magnet payload.torrent'), `   ${ev.magnet}`];
    case 'verified':
      return [s.bold('5. btkit verify payload.torrent payload'), `   ${ev.ok ? s.green('all good') : s.red('FAILED')}: ${ev.goodPieces}/${ev.pieceCount} pieces`];
    case 'corrupted':
      return [s.bold('6. flip one byte of data/part-2.bin, verify again'), `   ${ev.caught ? s.green('caught it') : s.red('missed it!')}: bad piece ${formatRanges(ev.badPieces)} in ${ev.files.join(', ')}`];
  }
}
