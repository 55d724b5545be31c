/**
 * Magnet links (BEP 9; BEP 53 for `so` and `x.pe`).
 *
 * `xt=urn:btih:` carries a v1 infohash as 40 hex or 32 base32 characters; `xt=urn:btmh:` a v2
 * multihash (`1220` + 64 hex: SHA-256, 32 bytes) — recognised now, used by the v2 work later.
 * Parameters btkit does not model are kept in `extra` so formatting a parsed link loses nothing
 * that matters to another client.
 */
import { inputError } from '../errors.js';
import { parseIPv4, parseIPv6 } from '../net/address.js';
import type { InfoHashes } from './types.js';

export interface Magnet {
  infoHash: InfoHashes;
  /** `dn`: display name. */
  name?: string;
  /** `tr`: trackers, in order. */
  trackers: string[];
  /** `ws`: web seeds (BEP 19). */
  webSeeds: string[];
  /** `x.pe`: peer addresses `host:port` (BEP 9), each one checked by `peerAddressDefect`. */
  peers: string[];
  /**
   * `x.pe` values that are no peer address (a port outside 1-65535, a host that is neither an IP
   * address nor a host name), with the reason. Flagged, not refused: x.pe is a hint beside the
   * infohash, so the link still names its torrent; callers show these as warnings.
   */
  badPeers?: { value: string; reason: string }[];
  /** `xl`: exact length in bytes. */
  exactLength?: number;
  /** `so`: selected file indices (BEP 53), as inclusive ranges. */
  select?: [number, number][];
  /** Other parameters, as given (name → values). */
  extra: [string, string][];
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export function base32Decode(text: string): Buffer | null {
  const s = text.toUpperCase().replace(/=+$/, '');
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const ch of s) {
    const idx = BASE32.indexOf(ch);
    if (idx < 0) return null;
    value = (value << 5) | idx;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

export function base32Encode(bytes: Uint8Array): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

/**
 * Parse a v1 infohash given as 40 hex or 32 base32 characters. Returns null when it is neither.
 */
export function parseInfoHashText(text: string): Buffer | null {
  if (/^[0-9a-fA-F]{40}$/.test(text)) return Buffer.from(text, 'hex');
  if (/^[A-Za-z2-7]{32}$/.test(text)) return base32Decode(text);
  return null;
}

/**
 * Why `text` is no `host:port` peer address (BEP 9's x.pe), or null when it is one: the port must be
 * 1-65535; the host an IPv4 address, an IPv6 address in brackets, or a host name (RFC 1123 labels,
 * not all digits at the end, so `999.1.1.1` is neither an address nor a name).
 */
export function peerAddressDefect(text: string): string | null {
  const m = /^\[([^\]]*)\]:(\d{1,5})$/.exec(text) ?? /^([^:[\]]*):(\d{1,5})$/.exec(text);
  if (!m) return 'not host:port (IPv6 in brackets)';
  const host = m[1]!;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return `port ${m[2]} is outside 1-65535`;
  if (text.startsWith('[')) return parseIPv6(host) ? null : `\`${host}\` is not an IPv6 address`;
  if (/^[\d.]+$/.test(host)) return parseIPv4(host) ? null : `\`${host}\` is not an IPv4 address`;
  const labels = host.replace(/\.$/, '').split('.');
  const nameOk =
    host.length <= 253 &&
    labels.every((l) => /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i.test(l)) &&
    !/^\d+$/.test(labels.at(-1)!);
  return nameOk ? null : `\`${host}\` is neither an IP address nor a host name`;
}

/** Ranges as `so=` writes them: [[0,0],[2,3]] → "0,2-3". */
export function formatSelect(ranges: readonly (readonly [number, number])[]): string {
  return ranges.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(',');
}

function parseSelect(value: string): [number, number][] {
  const ranges: [number, number][] = [];
  for (const part of value.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw inputError('MAGNET_BAD_SELECT', `magnet: bad file selection \`${part}\` in so=`);
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    // Past 2^53 a Number is rounded: the link would name other files than it says.
    if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to)) throw inputError('MAGNET_BAD_SELECT', `magnet: file index too large in \`${part}\` in so=`);
    if (to < from) throw inputError('MAGNET_BAD_SELECT', `magnet: reversed range \`${part}\` in so=`);
    ranges.push([from, to]);
  }
  return ranges;
}

export function parseMagnet(uri: string): Magnet {
  if (!/^magnet:\?/i.test(uri)) throw inputError('MAGNET_NOT_MAGNET', 'not a magnet link (expected `magnet:?…`)');
  const query = uri.slice(uri.indexOf('?') + 1);
  const magnet: Magnet = { infoHash: { v1: null, v2: null }, trackers: [], webSeeds: [], peers: [], extra: [] };
  for (const pair of query.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const rawKey = eq < 0 ? pair : pair.slice(0, eq);
    const rawValue = eq < 0 ? '' : pair.slice(eq + 1);
    let value: string;
    try {
      value = decodeURIComponent(rawValue.replace(/\+/g, ' '));
    } catch {
      throw inputError('MAGNET_BAD_ENCODING', `magnet: bad percent-encoding in \`${rawKey}\``);
    }
    // Numbered forms (xt.1, tr.2) are equivalent to the plain key (BEP 9).
    const key = rawKey.replace(/\.\d+$/, '');
    switch (key) {
      case 'xt': {
        const btih = /^urn:btih:(.+)$/i.exec(value);
        const btmh = /^urn:btmh:(.+)$/i.exec(value);
        if (btih) {
          const h = parseInfoHashText(btih[1]!);
          if (!h) throw inputError('MAGNET_BAD_INFOHASH', `magnet: \`${btih[1]}\` is not a 40-hex or 32-base32 infohash`);
          magnet.infoHash.v1 = h;
        } else if (btmh) {
          const mh = btmh[1]!;
          // multihash: 0x12 = sha2-256, 0x20 = 32 bytes (BEP 52)
          if (!/^1220[0-9a-fA-F]{64}$/.test(mh)) throw inputError('MAGNET_BAD_INFOHASH', `magnet: \`${mh}\` is not a sha2-256 multihash`);
          magnet.infoHash.v2 = Buffer.from(mh.slice(4), 'hex');
        } else {
          magnet.extra.push([rawKey, value]);
        }
        break;
      }
      case 'dn':
        magnet.name = value;
        break;
      case 'tr':
        magnet.trackers.push(value);
        break;
      case 'ws':
        magnet.webSeeds.push(value);
        break;
      case 'x.pe': {
        const defect = peerAddressDefect(value);
        if (defect === null) magnet.peers.push(value);
        else (magnet.badPeers ??= []).push({ value, reason: defect });
        break;
      }
      case 'xl': {
        // A length past 2^53 would be rounded (and no torrent is that large): refuse it.
        if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) throw inputError('MAGNET_BAD_LENGTH', `magnet: xl=\`${value}\` is not a length`);
        magnet.exactLength = Number(value);
        break;
      }
      case 'so':
        magnet.select = parseSelect(value);
        break;
      default:
        magnet.extra.push([rawKey, value]);
    }
  }
  if (!magnet.infoHash.v1 && !magnet.infoHash.v2) {
    throw inputError('MAGNET_NO_INFOHASH', 'magnet: no `xt=urn:btih:` or `xt=urn:btmh:` parameter');
  }
  return magnet;
}

/** Percent-encode a value, keeping the characters that magnet links conventionally leave bare. */
function enc(value: string): string {
  return encodeURIComponent(value).replace(/%3A/gi, ':').replace(/%2F/gi, '/');
}

export function formatMagnet(m: Magnet): string {
  const parts: string[] = [];
  if (m.infoHash.v1) parts.push(`xt=urn:btih:${m.infoHash.v1.toString('hex')}`);
  if (m.infoHash.v2) parts.push(`xt=urn:btmh:1220${m.infoHash.v2.toString('hex')}`);
  if (m.name !== undefined) parts.push(`dn=${enc(m.name)}`);
  if (m.exactLength !== undefined) parts.push(`xl=${m.exactLength}`);
  for (const t of m.trackers) parts.push(`tr=${enc(t)}`);
  for (const w of m.webSeeds) parts.push(`ws=${enc(w)}`);
  for (const p of m.peers) parts.push(`x.pe=${enc(p)}`);
  if (m.select && m.select.length > 0) parts.push(`so=${formatSelect(m.select)}`);
  for (const [k, v] of m.extra) parts.push(`${k}=${enc(v)}`);
  return `magnet:?${parts.join('&')}`;
}
