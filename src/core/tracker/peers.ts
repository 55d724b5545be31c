/**
 * Compact peer lists: BEP 23 (IPv4, 6 bytes each: address then port, big-endian) and BEP 7 /
 * BEP 15 (IPv6, 18 bytes each). Shared by the HTTP and UDP codecs and the server; pure.
 *
 * A list whose length is not a multiple of the entry size is refused rather than truncated: a
 * tracker that cut its answer short would otherwise hand out a half-read address.
 */
import { BtError } from '../errors.js';
import type { TrackerPeer } from './types.js';

export const COMPACT_V4 = 6;
export const COMPACT_V6 = 18;

/** Decode a compact peer list of the given family. Throws TRACKER_BAD_PEERS on a ragged length. */
export function decodeCompactPeers(bytes: Uint8Array, family: 4 | 6): TrackerPeer[] {
  const size = family === 4 ? COMPACT_V4 : COMPACT_V6;
  if (bytes.length % size !== 0) {
    throw new BtError(
      'TRACKER_BAD_PEERS',
      'network',
      `truncated compact peer list: ${bytes.length} bytes is not a multiple of ${size} (IPv${family})`,
      { detail: { length: bytes.length, entrySize: size } },
    );
  }
  const peers: TrackerPeer[] = [];
  for (let off = 0; off < bytes.length; off += size) {
    const ip = family === 4 ? formatIPv4(bytes, off) : formatIPv6(bytes, off);
    const port = (bytes[off + size - 2]! << 8) | bytes[off + size - 1]!;
    peers.push({ ip, port, family });
  }
  return peers;
}

/**
 * Encode peers of one family into a compact list; peers of the other family are skipped. A peer
 * may carry its entry already encoded (`compact`, 6 or 18 bytes): a tracker answering thousands of
 * announces a second encodes each peer once, not once per answer.
 */
export function encodeCompactPeers(peers: readonly { ip: string; port: number; compact?: Uint8Array }[], family: 4 | 6): Buffer {
  const size = family === 4 ? COMPACT_V4 : COMPACT_V6;
  const out = Buffer.allocUnsafe(peers.length * size);
  let off = 0;
  for (const p of peers) {
    if (p.compact !== undefined) {
      if (p.compact.length !== size) continue;
      out.set(p.compact, off);
      off += size;
      continue;
    }
    const addr = family === 4 ? parseIPv4(p.ip) : parseIPv6(p.ip);
    if (!addr) continue;
    out.set(addr, off);
    out.writeUInt16BE(p.port, off + size - 2);
    off += size;
  }
  return off === out.length ? out : out.subarray(0, off);
}

export function formatIPv4(b: Uint8Array, off = 0): string {
  return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
}

/** RFC 5952 text of a 16-byte IPv6 address (longest zero run compressed, lowercase). */
export function formatIPv6(b: Uint8Array, off = 0): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push((b[off + 2 * i]! << 8) | b[off + 2 * i + 1]!);
  // An IPv4-mapped address is shown as such (::ffff:1.2.3.4), as every tool does.
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${formatIPv4(b, off + 12)}`;
  }
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hexes = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hexes.join(':');
  return `${hexes.slice(0, bestStart).join(':')}::${hexes.slice(bestStart + bestLen).join(':')}`;
}

/** Dotted quad → 4 bytes, or null. */
export function parseIPv4(text: string): Buffer | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return null;
  const parts = m.slice(1).map(Number);
  if (parts.some((n) => n > 255)) return null;
  return Buffer.from(parts);
}

/** IPv6 text (optionally in brackets, optionally with an embedded dotted quad) → 16 bytes, or null. */
export function parseIPv6(text: string): Buffer | null {
  let t = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  const zone = t.indexOf('%');
  if (zone >= 0) t = t.slice(0, zone);
  if (!t.includes(':')) return null;
  // An embedded dotted quad (::ffff:1.2.3.4) becomes two hex groups, so one parser handles both.
  const lastColon = t.lastIndexOf(':');
  const last = t.slice(lastColon + 1);
  if (last.includes('.')) {
    const v4 = parseIPv4(last);
    if (!v4) return null;
    t = `${t.slice(0, lastColon + 1)}${v4.readUInt16BE(0).toString(16)}:${v4.readUInt16BE(2).toString(16)}`;
  }
  const halves = t.split('::');
  if (halves.length > 2) return null;
  const parse = (s: string): number[] | null => {
    if (s === '') return [];
    const out: number[] = [];
    for (const g of s.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = parse(halves[0]!);
  const rest = halves.length === 2 ? parse(halves[1]!) : [];
  if (!head || !rest) return null;
  const known = head.length + rest.length;
  let groups: number[];
  if (halves.length === 2) {
    if (known > 7) return null;
    groups = [...head, ...new Array<number>(8 - known).fill(0), ...rest];
  } else {
    if (known !== 8) return null;
    groups = head;
  }
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(g, 2 * i));
  return out;
}

/** The family of a textual address, or null for a hostname. */
export function ipFamily(text: string): 4 | 6 | null {
  if (parseIPv4(text)) return 4;
  if (parseIPv6(text)) return 6;
  return null;
}

/**
 * An address as a peer would dial it: an IPv4-mapped IPv6 address (how a dual-stack socket reports
 * an IPv4 client) becomes the plain dotted quad.
 */
export function normalizeAddress(text: string): string {
  const m = /^::ffff:(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/i.exec(text);
  return m ? m[1]! : text;
}

/** `host:port` with IPv6 in brackets, the form every tool accepts. */
export function formatPeer(p: { ip: string; port: number }): string {
  return p.ip.includes(':') ? `[${p.ip}]:${p.port}` : `${p.ip}:${p.port}`;
}

/** The compact entry of one peer (BEP 23 / BEP 7), or null for a hostname. */
export function compactPeer(ip: string, port: number): Buffer | null {
  const v4 = parseIPv4(ip);
  const addr = v4 ?? parseIPv6(ip);
  if (!addr) return null;
  const out = Buffer.allocUnsafe(addr.length + 2);
  out.set(addr, 0);
  out.writeUInt16BE(port, addr.length);
  return out;
}
