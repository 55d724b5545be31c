/**
 * Compact peer lists: BEP 23 (IPv4, 6 bytes each: address then port, big-endian) and BEP 7 /
 * BEP 15 (IPv6, 18 bytes each). Shared by the HTTP and UDP codecs and the server; pure.
 *
 * A list whose length is not a multiple of the entry size is refused rather than truncated: a
 * tracker that cut its answer short would otherwise hand out a half-read address.
 */
import { BtError } from '../errors.js';
import { formatIPv4, formatIPv6, formatHostPort, parseIPv4, parseIPv6 } from '../net/address.js';
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

export { formatIPv4, formatIPv6, parseIPv4, parseIPv6, ipFamily, normalizeAddress } from '../net/address.js';

/** `host:port` with IPv6 in brackets, the form every tool accepts. */
export function formatPeer(p: { ip: string; port: number }): string {
  return formatHostPort(p.ip, p.port);
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
