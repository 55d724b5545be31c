/**
 * `btkit download` output: the progress line for a terminal, the summary, and the JSON shapes of
 * the result and of the NDJSON events. Pure: statistics in, text or plain objects out.
 */
import type { DoneReason, DownloadEvent, DownloadOutcome, SessionStats } from '../../core/session/index.js';
import { join } from 'node:path';
import { formatBytes, formatDuration, formatRate, keyValues } from './format.js';

export interface DownloadFileView {
  index: number;
  path: string;
  length: number;
  selected: boolean;
}

/** The session's final counters, as the session defines them, plus what the command adds. */
export interface DownloadResult extends Pick<SessionStats, 'pieces' | 'havePieces' | 'totalBytes' | 'doneBytes' | 'downloaded' | 'downloadedWebSeed' | 'uploaded' | 'wasted' | 'elapsedMs'> {
  infoHash: string;
  name: string;
  /** Where the content is: the file (single-file torrent) or the top directory. */
  contentPath: string | null;
  outDir: string | null;
  /** Why the download ended: a run that was aborted or failed has no result. */
  reason: Exclude<DoneReason, 'aborted' | 'failed'>;
  /** The .torrent written for a magnet download (--save-torrent, --metadata-only). */
  torrentFile: string | null;
  /** A saved v2 or hybrid .torrent: whether it holds every piece layer (BEP 52); null for v1 or none saved. */
  torrentPieceLayers: boolean | null;
  files: DownloadFileView[];
  /** From the start to the moment the selection was complete (null when it never was). */
  downloadMs: number | null;
  /** With --seed: how long it seeded after completing; null without seeding. */
  seedMs: number | null;
  /** Bytes downloaded / downloadMs (the whole run when it never completed), bytes per second. */
  averageRate: number;
  peersSeen: number;
  banned: string[];
  resume: { mode: string; checked: number; recovered: number };
  streamed: number | null;
}

/** The bar's characters: the same as create's and verify's bars (cli-progress's shades_classic). */
const BAR_FULL = '\u2588';
const BAR_EMPTY = '\u2591';

/**
 * One terminal line: "[████░░░░]   42.0%  430.00 MiB/1.00 GiB  down 120.00 MiB/s  up 0 B/s  3 peers  ETA 5s".
 * It fits in `width - 1` columns (a line that fills the last column wraps on many terminals): the
 * bar takes what the text leaves; when even the text is too long, the least useful parts go
 * first (upload rate, peers, sizes), never a piece of one.
 */
export function progressLine(s: SessionStats, width = 100, utpPeers = 0): string {
  const room = Math.max(1, width - 1);
  const pct = s.totalBytes > 0 ? (100 * s.doneBytes) / s.totalBytes : 100;
  const parts: { text: string; drop: number }[] = [
    { text: `${pct.toFixed(1).padStart(5)}%`, drop: 9 },
    { text: `${formatBytes(s.doneBytes)}/${formatBytes(s.totalBytes)}`, drop: 3 },
    { text: `down ${formatRate(s.downRate)}`, drop: 4 },
    { text: `up ${formatRate(s.upRate)}`, drop: 1 },
    { text: `${peersText(s, utpPeers)}${webSeedPart(s)}`, drop: 2 },
    { text: `ETA ${s.etaMs === null ? '--' : formatDuration(s.etaMs)}`, drop: 5 },
  ];
  const join = () => parts.map((p) => p.text).join('  ');
  while (join().length > room && parts.length > 1) {
    const least = parts.reduce((m, p) => (p.drop < m.drop ? p : m));
    parts.splice(parts.indexOf(least), 1);
  }
  const text = join();
  const barWidth = room - text.length - 4;
  if (barWidth < 10) return text.slice(0, room);
  const done = Math.round((barWidth * pct) / 100);
  return `[${BAR_FULL.repeat(done)}${BAR_EMPTY.repeat(barWidth - done)}]  ${text}`;
}

/** "3 peers (1 seed, 2 uTP)": the seeds and the uTP (BEP 29) peers among those connected; the rest are TCP. */
export function peersText(s: Pick<SessionStats, 'peers' | 'seeds'>, utpPeers = 0): string {
  const notes = [...(s.seeds > 0 ? [`${s.seeds} seed${s.seeds === 1 ? '' : 's'}`] : []), ...(utpPeers > 0 ? [`${utpPeers} uTP`] : [])];
  return `${s.peers} peer${s.peers === 1 ? '' : 's'}${notes.length > 0 ? ` (${notes.join(', ')})` : ''}`;
}

/** " + 1 web seed (12.00 MiB)": the web seeds in use and what came from them, apart from the peers. */
function webSeedPart(s: SessionStats): string {
  if (s.webSeeds === 0 && s.downloadedWebSeed === 0) return '';
  return ` + ${s.webSeeds} web seed${s.webSeeds === 1 ? '' : 's'} (${formatBytes(s.downloadedWebSeed)})`;
}

export function renderSummary(r: DownloadResult): string[] {
  const rows: [string, string][] = [
    ['name', r.name],
    ['infohash', r.infoHash],
    ['saved to', r.contentPath ?? '(standard output)'],
    ['size', `${formatBytes(r.doneBytes)} of ${formatBytes(r.totalBytes)} selected (${r.havePieces}/${r.pieces} pieces)`],
    ['downloaded', `${formatBytes(r.downloaded)} in ${formatDuration(r.downloadMs ?? r.elapsedMs)} (${formatRate(r.averageRate)})${r.downloadedWebSeed > 0 ? `, ${formatBytes(r.downloadedWebSeed)} of it from web seeds` : ''}`],
  ];
  if (r.seedMs !== null) rows.push(['seeded', `for ${formatDuration(r.seedMs)}`]);
  rows.push(['uploaded', formatBytes(r.uploaded)]);
  if (r.wasted > 0) rows.push(['wasted', formatBytes(r.wasted)]);
  if (r.resume.mode !== 'none' && r.resume.checked + r.resume.recovered > 0) rows.push(['resume', `${r.resume.mode}: ${r.resume.recovered} of ${r.resume.checked} pieces checked were good`]);
  rows.push(['peers', `${r.peersSeen}`]);
  if (r.banned.length > 0) rows.push(['banned', r.banned.join(', ')]);
  return keyValues(rows);
}

/**
 * The NDJSON form of a session event (stable field names; numbers rounded). Returns null for
 * events not printed.
 */
export function eventJson(ev: DownloadEvent): Record<string, unknown> | null {
  switch (ev.type) {
    case 'progress':
    case 'complete':
    case 'done':
      return roundStats(ev);
    default:
      return { ...ev };
  }
}

function roundStats<T extends SessionStats & { type: string }>(s: T): Record<string, unknown> {
  return { ...s, downRate: Math.round(s.downRate), upRate: Math.round(s.upRate), elapsedMs: Math.round(s.elapsedMs) } as unknown as Record<string, unknown>;
}

/**
 * Which piece-verified events to print: at most about 100 per download (each 1% of the pieces),
 * plus the last, so a 100 000-piece torrent does not flood the stream.
 */
export function pieceSampler(pieceCount: number): (havePieces: number) => boolean {
  const every = Math.max(1, Math.floor(pieceCount / 100));
  return (have) => have % every === 0 || have === pieceCount;
}

/** `0`, `2-4`, `0,3` → indices (the core's; kept here for the renderers that import it). */
export { parseIndexList } from '../../core/session/select.js';

/**
 * The result envelope of a finished download. `seen.completed` is the session's `complete` event,
 * when there was one: the download time ends there, and what follows under --seed is seeding time.
 */
export function downloadResult(o: DownloadOutcome, infoHash: string, seen: { peersSeen: number; banned: string[]; completed?: SessionStats | null }): DownloadResult {
  const meta = o.meta;
  const f = o.final;
  const done = seen.completed ?? null;
  const downloadMs = done === null ? null : Math.round(done.elapsedMs);
  const rateOver = done ?? f;
  return {
    infoHash,
    name: meta?.name ?? '',
    contentPath: o.outDir && meta && o.final.reason !== 'metadata' ? join(o.outDir, meta.name) : null,
    outDir: o.outDir,
    reason: (f.reason === 'seed-ratio' || f.reason === 'seed-time' || f.reason === 'metadata' ? f.reason : 'complete') as DownloadResult['reason'],
    torrentFile: o.savedTorrent,
    torrentPieceLayers: o.savedTorrentLayers,
    files: (meta?.files ?? [])
      .map((file, index) => ({ index, path: meta!.multiFile ? [meta!.name, ...file.path].join('/') : meta!.name, length: file.length, selected: o.selection[index] ?? false, padding: file.padding }))
      .filter((file) => !file.padding)
      .map(({ padding: _padding, ...file }) => file),
    pieces: f.pieces,
    havePieces: f.havePieces,
    totalBytes: f.totalBytes,
    doneBytes: f.doneBytes,
    downloaded: f.downloaded,
    downloadedWebSeed: f.downloadedWebSeed,
    uploaded: f.uploaded,
    wasted: f.wasted,
    elapsedMs: Math.round(f.elapsedMs),
    downloadMs,
    seedMs: downloadMs !== null && (f.reason === 'seed-ratio' || f.reason === 'seed-time') ? Math.max(0, Math.round(f.elapsedMs) - downloadMs) : null,
    averageRate: rateOver.elapsedMs > 0 ? Math.round((rateOver.downloaded * 1000) / rateOver.elapsedMs) : 0,
    peersSeen: seen.peersSeen,
    banned: seen.banned,
    resume: o.started ? { mode: o.started.resume.mode, checked: o.started.resume.checked, recovered: o.started.resume.recovered } : { mode: 'none', checked: 0, recovered: 0 },
    streamed: o.streamed,
  };
}

/** The human line (to stderr) for an event, when it gets one. */
export function downloadNote(ev: DownloadEvent): { text: string; warning?: boolean } | null {
  switch (ev.type) {
    case 'metadata-wanted':
      return { text: `fetching the metadata of ${ev.infoHash} from peers${ev.listen ? `; listening on port ${ev.listen.port}` : ''}` };
    case 'metadata':
      return { text: `metadata: ${formatBytes(ev.size)} from ${ev.peers.length} peer${ev.peers.length === 1 ? '' : 's'} in ${formatDuration(ev.elapsedMs)}` };
    case 'piece-layers':
      return { text: `piece layers: ${ev.hashes} hashes of ${ev.files} file${ev.files === 1 ? '' : 's'} ${ev.from === 'data' ? 'hashed from the data' : 'from peers'}, proven against their roots, in ${formatDuration(ev.elapsedMs)}` };
    case 'metadata-hash-mismatch':
      return { text: `the metadata from ${ev.peers.join(', ')} does not match the infohash; asking again`, warning: true };
    case 'torrent-saved':
      return { text: `saved ${ev.path}${ev.pieceLayers === true ? ' (with its piece layers)' : ''}` };
    case 'started': {
      const resume = ev.resume.mode === 'fast' ? ', resumed' : ev.resume.checked > 0 ? `, ${ev.resume.recovered} of ${ev.resume.checked} pieces on disk verified` : '';
      const lines = [`downloading ${ev.name} (${formatBytes(ev.totalBytes)}, ${formatBytes(ev.doneBytes)} already on disk${resume})${ev.listen ? `; listening on port ${ev.listen.port}` : ''}`];
      if (ev.resume.note) lines.push(ev.resume.note);
      return { text: lines.join('\n') };
    }
    case 'peer-banned':
      return { text: `banned ${ev.peer}: ${ev.reason}`, warning: true };
    case 'warning':
      return { text: ev.message, warning: true };
    case 'webseed-added':
      return { text: ev.protocol === 'bep17' ? `http seed ${ev.url} (BEP 17)` : `web seed ${ev.url}` };
    case 'webseed-file-unavailable':
      return { text: `web seed ${ev.url} does not serve ${ev.path.join('/')} (${ev.status ?? ev.code}); its pieces come from elsewhere`, warning: true };
    case 'webseed-range-ignored':
      return { text: `web seed ${ev.url} ignores Range for ${ev.fileUrl}; reading the whole (small) file instead`, warning: true };
    case 'webseed-strike':
      return { text: `web seed ${ev.url}: ${ev.piece === null ? 'broke the protocol' : `piece ${ev.piece} failed its hash check`} (${ev.strikes} of ${ev.maxStrikes})`, warning: true };
    case 'webseed-backoff':
      return ev.reason === 'retry-later' ? { text: `web seed ${ev.url} asks to retry later; waiting ${formatDuration(ev.delayMs)}`, warning: true } : null;
    case 'webseed-dropped':
      return { text: `web seed ${ev.url} dropped (${ev.reason}): ${ev.message}`, warning: true };
    default:
      return null;
  }
}
