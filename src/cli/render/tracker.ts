/**
 * The JSON views of tracker answers (what `announce --json` and `scrape --json` print) and their
 * human rendering. Pure: results in, lines out.
 *
 * The JSON schema is stable: a field the tracker did not send is null, never missing, so a script
 * can tell "the tracker said 0" from "the tracker did not say".
 */
import { BtError, type ErrorCode, isBtError } from '../../core/errors.js';
import { formatPeer, hex, type AnnounceResult, type ScrapeResult } from '../../core/tracker/index.js';
import { utf8OrNull } from '../../core/bencode/index.js';
import { escapeControl } from './escape.js';
import { formatDuration, keyValues } from './format.js';

export interface TrackerErrorView {
  code: ErrorCode;
  category: string;
  message: string;
  detail?: Record<string, unknown>;
}

export interface PeerView {
  ip: string;
  port: number;
  family: 4 | 6;
  /** Hex peer id (dictionary model only), else null. */
  peerId: string | null;
}

export type AnnounceOutcome =
  | {
      url: string;
      tier: number | null;
      ok: true;
      protocol: 'http' | 'udp';
      rttMs: number;
      interval: number;
      minInterval: number | null;
      complete: number | null;
      incomplete: number | null;
      downloaded: number | null;
      warning: string | null;
      externalIp: string | null;
      /** UTF-8 text, or `hex:…` when the id is not text. */
      trackerId: string | null;
      peers: PeerView[];
      packets: number | null;
      redirects: number | null;
    }
  | { url: string; tier: number | null; ok: false; rttMs: number; error: TrackerErrorView };

export interface ScrapeFileView {
  infoHash: string;
  complete: number;
  incomplete: number;
  downloaded: number;
  name: string | null;
}

export type ScrapeOutcome =
  | { url: string; ok: true; protocol: 'http' | 'udp'; rttMs: number; files: ScrapeFileView[]; missing: string[]; minRequestInterval: number | null }
  | { url: string; ok: false; rttMs: number; infoHashes: string[]; error: TrackerErrorView };

export function errorView(err: BtError): TrackerErrorView {
  return { code: err.code, category: err.category, message: withoutQueries(err.message), ...(err.detail ? { detail: err.detail } : {}) };
}

export function toErrorView(err: unknown): TrackerErrorView {
  if (isBtError(err)) return errorView(err);
  return { code: 'INTERNAL', category: 'internal', message: withoutQueries(err instanceof Error ? err.message : String(err)) };
}

/**
 * The end of a run where every tracker failed: with one tracker its own error (its code, its
 * message naming it), with several TRACKER_ALL_FAILED; `result` goes into the error's detail.
 */
export function allTrackersFailed(outcomes: readonly ({ url: string; ok: true } | { url: string; ok: false; error: TrackerErrorView })[], result: unknown): BtError {
  const only = outcomes[0];
  if (outcomes.length === 1 && only && !only.ok) {
    return new BtError(only.error.code, only.error.category as BtError['category'], trackerErrorMessage(only.url, only.error), { detail: { ...only.error.detail, url: only.url, result } });
  }
  return new BtError('TRACKER_ALL_FAILED', 'network', `all ${outcomes.length} trackers failed`, { detail: { result } });
}

/** Each tracker's lines, a blank line between two trackers. */
export function renderOutcomes<O>(outcomes: readonly O[], render: (o: O) => string[]): string[] {
  return outcomes.flatMap((o, i) => [...(i > 0 ? [''] : []), ...render(o)]);
}

/** The warnings of a run where some trackers answered: one line per tracker that failed, with its code. */
export function trackerWarnings(outcomes: readonly ({ url: string; ok: true } | { url: string; ok: false; error: TrackerErrorView })[]): string[] {
  return outcomes.flatMap((o) => (o.ok ? [] : [`${trackerErrorMessage(o.url, o.error)} [${o.error.code}]`]));
}

/** A tracker's error as one message that names the tracker once (without the URL's query). */
export function trackerErrorMessage(url: string, error: TrackerErrorView): string {
  const short = withoutQueries(url);
  return error.message.includes(short) ? error.message : `${short}: ${error.message}`;
}

/**
 * Every http(s) URL in `text` without its query: an announce request's query (info_hash, peer_id,
 * port, key …; a private tracker's passkey too) buries the error it comes with, and the caller
 * knows it already.
 */
export function withoutQueries(text: string): string {
  // The query ends at a space, a quote, or the ": " that follows the URL in an error message.
  return text.replace(/\b(https?:\/\/[^\s?#`'"]+)\?(?:[^\s#`'":]|:(?!\s|$))*/gi, '$1');
}

export function trackerIdText(id: Uint8Array | undefined): string | null {
  if (id === undefined) return null;
  const t = utf8OrNull(id);
  return t !== null && /^[\x20-\x7e]*$/.test(t) ? t : `hex:${hex(id)}`;
}

export function announceView(r: AnnounceResult, tier: number | null): AnnounceOutcome {
  return {
    url: r.url,
    tier,
    ok: true,
    protocol: r.protocol,
    rttMs: r.rttMs,
    interval: r.interval,
    minInterval: r.minInterval ?? null,
    complete: r.complete ?? null,
    incomplete: r.incomplete ?? null,
    downloaded: r.downloaded ?? null,
    warning: r.warning ?? null,
    externalIp: r.externalIp ?? null,
    trackerId: trackerIdText(r.trackerId),
    peers: r.peers.map((p) => ({ ip: p.ip, port: p.port, family: p.family, peerId: p.id ? hex(p.id) : null })),
    packets: r.packets ?? null,
    redirects: r.redirects ?? null,
  };
}

export function scrapeView(r: ScrapeResult, asked: readonly string[]): ScrapeOutcome {
  const files: ScrapeFileView[] = [];
  const missing: string[] = [];
  for (const h of asked) {
    const s = r.files.get(h);
    if (s) files.push({ infoHash: h, complete: s.complete, incomplete: s.incomplete, downloaded: s.downloaded, name: s.name ?? null });
    else missing.push(h);
  }
  // Answers for hashes we did not ask about (a tracker that ignores info_hash) are shown too.
  for (const [h, s] of r.files) {
    if (!asked.includes(h)) files.push({ infoHash: h, complete: s.complete, incomplete: s.incomplete, downloaded: s.downloaded, name: s.name ?? null });
  }
  return { url: r.url, ok: true, protocol: r.protocol, rttMs: r.rttMs, files, missing, minRequestInterval: r.minRequestInterval ?? null };
}

const seconds = (s: number) => `${s} s`;

/** Human lines for one tracker's announce outcome. */
export function renderAnnounce(o: AnnounceOutcome): string[] {
  // A tracker's failure reason, warning and URLs are network text: escaped (see escape.ts).
  if (!o.ok) return [`${o.url}  FAILED after ${formatDuration(o.rttMs)}`, `  error         ${o.error.message} [${o.error.code}]`].map(escapeControl);
  const rows: [string, string][] = [];
  rows.push(['interval', seconds(o.interval) + (o.minInterval !== null ? ` (min ${seconds(o.minInterval)})` : '')]);
  rows.push(['seeders', o.complete === null ? '-' : String(o.complete)]);
  rows.push(['leechers', o.incomplete === null ? '-' : String(o.incomplete)]);
  if (o.downloaded !== null) rows.push(['completed', String(o.downloaded)]);
  if (o.externalIp !== null) rows.push(['external ip', o.externalIp]);
  if (o.trackerId !== null) rows.push(['tracker id', o.trackerId]);
  if (o.warning !== null) rows.push(['warning', o.warning]);
  rows.push(['peers', String(o.peers.length)]);
  const how = o.protocol === 'udp' ? `${o.packets ?? '?'} packets` : o.redirects ? `${o.redirects} redirect(s)` : 'http';
  return [
    `${o.url}  ok in ${formatDuration(o.rttMs)} (${how})`,
    ...keyValues(rows).map((l) => `  ${l}`),
    ...o.peers.map((p) => `    ${formatPeer(p)}${p.peerId ? `  ${peerIdText(p.peerId)}` : ''}`),
  ].map(escapeControl);
}

/** Human lines for one tracker's scrape outcome: a table of infohashes. */
export function renderScrape(o: ScrapeOutcome): string[] {
  if (!o.ok) return [`${o.url}  FAILED after ${formatDuration(o.rttMs)}`, `  error  ${o.error.message} [${o.error.code}]`].map(escapeControl);
  const lines = [`${o.url}  ok in ${formatDuration(o.rttMs)}`];
  const header = ['infohash'.padEnd(40), 'seeders'.padStart(8), 'leechers'.padStart(9), 'completed'.padStart(10)].join('  ');
  lines.push(`  ${header}`);
  for (const f of o.files) {
    lines.push(`  ${[f.infoHash.padEnd(40), String(f.complete).padStart(8), String(f.incomplete).padStart(9), String(f.downloaded).padStart(10)].join('  ')}${f.name ? `  ${f.name}` : ''}`);
  }
  for (const h of o.missing) lines.push(`  ${h.padEnd(40)}  (not in the answer)`);
  if (o.minRequestInterval !== null) lines.push(`  min request interval ${seconds(o.minRequestInterval)}`);
  return lines.map(escapeControl);
}

/** A peer id for people: its text when printable (most are, e.g. -qB4630-…), else hex. */
function peerIdText(hexId: string): string {
  const t = Buffer.from(hexId, 'hex').toString('latin1');
  return /^[\x20-\x7e]+$/.test(t) ? t : hexId;
}
