/**
 * The JSON view of a torrent (what `inspect --json` prints) and its human rendering. Pure.
 */
import { formatMagnet, formatSelect, type Magnet, type Metainfo } from '../../core/metainfo/index.js';
import { escapeControl } from './escape.js';
import { formatBytes, keyValues } from './format.js';

export interface TorrentSummary {
  name: string;
  /** v1, v2 or hybrid (BEP 52 `meta version` 2 for the last two). */
  version: string;
  /** `meta version` from the info dictionary: 2 for v2 and hybrid, null for v1. */
  metaVersion: number | null;
  /** v1 infohash (SHA-1), or '' for a v2-only torrent. */
  infoHash: string;
  /** v2 infohash, the full SHA-256 (64 hex), or null for v1. */
  infoHashV2: string | null;
  /** The v2 infohash cut to 20 bytes, as v2 peers send it in handshakes; null for v1. */
  infoHashV2Truncated: string | null;
  /** v2 and hybrid: each file longer than a piece and how its piece layer checks against its root. */
  pieceLayers: { index: number; path: string; status: string; code: string | null }[];
  /** The piece stream's length, padding files (BEP 47) included. */
  totalLength: number;
  /** The files' bytes without padding: what the torrent's Size is to a person. */
  contentLength: number;
  pieceLength: number;
  pieceCount: number;
  multiFile: boolean;
  fileCount: number;
  files: { index: number; path: string; length: number; offset: number; padding: boolean; attr: string; piecesRoot: string | null }[];
  trackers: string[][];
  webSeeds: string[];
  dhtNodes: string[];
  private: boolean;
  source: string | null;
  comment: string | null;
  createdBy: string | null;
  creationDate: string | null;
  creationDateUnix: number | null;
  encoding: string | null;
  magnet: string;
  canonical: boolean;
  nonCanonical: { kind: string; offset: number }[];
  /** Paths download/seed/verify refuse (`..`, absolute, reserved); [] for a safe torrent. */
  unsafePaths: { where: string; path: string[]; code: string; message: string }[];
}

export function magnetOf(meta: Pick<Metainfo, 'infoHash' | 'name' | 'trackers' | 'webSeeds'>, parts: { trackers?: boolean; webSeeds?: boolean } = {}): Magnet {
  return {
    infoHash: { v1: meta.infoHash.v1, v2: meta.infoHash.v2 },
    name: meta.name,
    trackers: parts.trackers === false ? [] : meta.trackers.flat(),
    webSeeds: parts.webSeeds ? meta.webSeeds : [],
    peers: [],
    extra: [],
  };
}

export function summarize(meta: Metainfo): TorrentSummary {
  return {
    name: meta.name,
    version: meta.version,
    infoHash: meta.infoHash.v1?.toString('hex') ?? '',
    infoHashV2: meta.infoHash.v2?.toString('hex') ?? null,
    metaVersion: meta.version === 'v1' ? null : 2,
    infoHashV2Truncated: meta.infoHash.v2?.subarray(0, 20).toString('hex') ?? null,
    pieceLayers: (meta.pieceLayers ?? []).map((l) => ({ index: l.index, path: l.path, status: l.status, code: l.code ?? null })),
    totalLength: meta.totalLength,
    contentLength: meta.files.reduce((sum, f) => (f.padding ? sum : sum + f.length), 0),
    pieceLength: meta.pieceLength,
    pieceCount: meta.pieceCount,
    multiFile: meta.multiFile,
    fileCount: meta.files.filter((f) => !f.padding).length,
    files: meta.files.map((f, index) => ({
      index,
      path: meta.multiFile ? [meta.name, ...f.path].join('/') : meta.name,
      length: f.length,
      offset: f.offset,
      padding: f.padding,
      attr: f.attr,
      piecesRoot: f.piecesRoot?.toString('hex') ?? null,
    })),
    trackers: meta.trackers,
    webSeeds: meta.webSeeds,
    dhtNodes: meta.dhtNodes,
    private: meta.private,
    source: meta.source ?? null,
    comment: meta.comment ?? null,
    createdBy: meta.createdBy ?? null,
    creationDate: meta.creationDate !== undefined ? safeIso(meta.creationDate) : null,
    creationDateUnix: meta.creationDate ?? null,
    encoding: meta.encoding ?? null,
    magnet: formatMagnet(magnetOf(meta)),
    canonical: meta.nonCanonical.length === 0,
    nonCanonical: meta.nonCanonical.map((n) => ({ kind: n.kind, offset: n.offset })),
    unsafePaths: meta.unsafePaths ?? [],
  };
}

function safeIso(seconds: number): string | null {
  const d = new Date(seconds * 1000);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/** A file list as an indented tree (directories first level by level, in torrent order). */
export function fileTree(s: TorrentSummary): string[] {
  if (!s.multiFile) return [escapeControl(`${s.name} (${formatBytes(s.contentLength)})`)];
  interface Node { children: Map<string, Node>; length?: number; }
  const root: Node = { children: new Map() };
  for (const f of s.files) {
    if (f.padding) continue;
    const parts = f.path.split('/').slice(1);
    let node = root;
    parts.forEach((p, i) => {
      let child = node.children.get(p);
      if (!child) {
        child = { children: new Map() };
        node.children.set(p, child);
      }
      if (i === parts.length - 1) child.length = f.length;
      node = child;
    });
  }
  const lines = [`${s.name}/`];
  const walk = (node: Node, prefix: string) => {
    const entries = [...node.children.entries()];
    entries.forEach(([name, child], i) => {
      const last = i === entries.length - 1;
      const isDir = child.length === undefined;
      lines.push(`${prefix}${last ? '└── ' : '├── '}${name}${isDir ? '/' : ` (${formatBytes(child.length!)})`}`);
      if (isDir) walk(child, prefix + (last ? '    ' : '│   '));
    });
  };
  walk(root, '');
  return lines.map(escapeControl);
}

/** The file list (`list`: size and path a line) or tree, alone. */
export function renderFiles(s: TorrentSummary, options: { list?: boolean } = {}): string[] {
  if (!options.list) return fileTree(s);
  // v2 and hybrid: each file's pieces root after its path (empty files have none).
  return s.files.filter((f) => !f.padding).map((f) => escapeControl(`${String(f.length).padStart(14)}  ${f.path}${s.metaVersion ? `  ${f.piecesRoot ?? '-'}` : ''}`));
}

export function renderSummary(s: TorrentSummary, options: { list?: boolean } = {}): string[] {
  const rows: [string, string][] = [
    ['Name', s.name],
    ['Info hash', s.infoHash || '(none: v2 only)'],
  ];
  if (s.infoHashV2) rows.push(['Info hash v2', s.infoHashV2]);
  rows.push(
    ['Version', s.version + (s.metaVersion ? ` (meta version ${s.metaVersion})` : '')],
    ['Size', `${formatBytes(s.contentLength)} (${s.contentLength} bytes)${s.totalLength > s.contentLength ? `; ${formatBytes(s.totalLength - s.contentLength)} of padding not counted` : ''}`],
    ['Pieces', `${s.pieceCount} × ${formatBytes(s.pieceLength)}`],
    ['Files', `${s.fileCount}`],
    ['Private', s.private ? 'yes' : 'no'],
  );
  if (s.pieceLayers.length > 0) {
    const by = new Map<string, number>();
    for (const l of s.pieceLayers) by.set(l.status, (by.get(l.status) ?? 0) + 1);
    rows.push(['Piece layers', [...by].map(([k, n]) => `${n} ${k}`).join(', ')]);
  }
  if (s.source !== null) rows.push(['Source', s.source]);
  if (s.comment !== null) rows.push(['Comment', s.comment]);
  if (s.createdBy !== null) rows.push(['Created by', s.createdBy]);
  if (s.creationDate !== null) rows.push(['Created', s.creationDate]);
  s.trackers.forEach((tier, i) => rows.push([i === 0 ? 'Trackers' : '', `tier ${i + 1}: ${tier.join(' ')}`]));
  if (s.webSeeds.length > 0) rows.push(['Web seeds', s.webSeeds.join(' ')]);
  if (s.dhtNodes.length > 0) rows.push(['DHT nodes', s.dhtNodes.join(' ')]);
  rows.push(['Magnet', s.magnet]);
  if (!s.canonical) rows.push(['Canonical', `no: ${s.nonCanonical.map((n) => `${n.kind} at byte ${n.offset}`).join(', ')}`]);
  // Names, comments and URLs come from the torrent: shown, never obeyed by the terminal.
  const lines = keyValues(rows).map(escapeControl);
  lines.push('', ...renderFiles(s, options));
  return lines;
}

/** What `inspect` shows of a magnet link (`--json`: these fields). */
export interface MagnetView {
  infoHash: string | null;
  infoHashV2: string | null;
  name: string | null;
  trackers: string[];
  webSeeds: string[];
  peers: string[];
  /** x.pe values that are no host:port, with the reason (not used by download). */
  badPeers: { value: string; reason: string }[];
  exactLength: number | null;
  /** so= (BEP 53) as inclusive ranges. */
  select: [number, number][] | null;
  extra: Record<string, string>;
  magnet: string;
}

export function magnetView(m: Magnet): MagnetView {
  return {
    infoHash: m.infoHash.v1?.toString('hex') ?? null,
    infoHashV2: m.infoHash.v2?.toString('hex') ?? null,
    name: m.name ?? null,
    trackers: m.trackers,
    webSeeds: m.webSeeds,
    peers: m.peers,
    badPeers: m.badPeers ?? [],
    exactLength: m.exactLength ?? null,
    select: m.select ?? null,
    extra: Object.fromEntries(m.extra),
    magnet: formatMagnet(m),
  };
}

/** "key  value" lines of the fields a link has; the selection as so= writes it (`0,2-3`). */
export function renderMagnetView(v: MagnetView): string[] {
  const shown: [string, string | null][] = [
    ['infoHash', v.infoHash],
    ['infoHashV2', v.infoHashV2],
    ['name', v.name],
    ['trackers', v.trackers.join(' ') || null],
    ['webSeeds', v.webSeeds.join(' ') || null],
    ['peers', v.peers.join(' ') || null],
    ['exactLength', v.exactLength === null ? null : `${v.exactLength}`],
    ['select', v.select === null ? null : formatSelect(v.select)],
    ['extra', Object.keys(v.extra).length === 0 ? null : JSON.stringify(v.extra)],
    ['magnet', v.magnet],
  ];
  return shown.filter((row): row is [string, string] => row[1] !== null).map(([k, value]) => escapeControl(`${k.padEnd(12)}  ${value}`));
}
