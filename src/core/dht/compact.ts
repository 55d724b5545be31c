/**
 * Compact peer and node info (BEP 5 "Contact Encoding", BEP 32 for IPv6). Pure codecs.
 *
 * - compact peer: IPv4 address + port (6 bytes), IPv6 address + port (18 bytes, BEP 32);
 * - compact node: 20-byte id + compact peer, so 26 bytes (`nodes`) or 38 bytes (`nodes6`).
 *
 * Addresses travel as text ("1.2.3.4", "2001:db8::1"), the form node:dgram sends to.
 */

import { formatIPv6, ipBytes, parseIPv4 as parseIpv4, parseIPv6 as parseIpv6 } from '../net/address.js';

export type IpFamily = 4 | 6;

export interface PeerAddress {
  host: string;
  port: number;
  family: IpFamily;
}

export interface CompactNode extends PeerAddress {
  id: Buffer;
}

export const NODE_ID_BYTES = 20;
export const COMPACT_PEER_BYTES: Record<IpFamily, number> = { 4: 6, 6: 18 };
export const COMPACT_NODE_BYTES: Record<IpFamily, number> = { 4: 26, 6: 38 };

// Address text ↔ bytes lives in one place for every protocol module.
export { parseIPv4 as parseIpv4, parseIPv6 as parseIpv6, ipBytes, formatHostPort } from '../net/address.js';

/** 16 bytes → RFC 5952 text (lower case, longest run of two or more zero groups as `::`). */
export const formatIpv6 = (bytes: Uint8Array): string => formatIPv6(bytes, 0);

export function familyOf(host: string): IpFamily | null {
  if (parseIpv4(host)) return 4;
  if (parseIpv6(host)) return 6;
  return null;
}

/**
 * Whether an address taken from the network can be a peer or a node at all: a port, and not an
 * unspecified, multicast, broadcast or reserved address. A garbage `nodes` string decodes into
 * exactly such addresses, and sending to a broadcast address would even fail with EACCES.
 * (Policy filters such as "loopback only" are the node's `addressFilter`, not this.)
 */
export function isUsableAddress(host: string, port: number): boolean {
  if (!Number.isInteger(port) || port < 1 || port > 65535) return false;
  const v4 = parseIpv4(host);
  if (v4) {
    const a = v4[0]!;
    if (a === 0) return false; // 0.0.0.0/8 "this network"
    if (a >= 224) return false; // 224/4 multicast, 240/4 reserved, 255.255.255.255
    return true;
  }
  const v6 = parseIpv6(host);
  if (!v6) return false;
  if (v6.every((x) => x === 0)) return false; // ::
  if (v6[0] === 0xff) return false; // ff00::/8 multicast
  return true;
}

/** Decode one compact peer (6 or 18 bytes); null for any other length. */
export function decodeCompactPeer(bytes: Uint8Array): PeerAddress | null {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length === 6) return { host: `${b[0]}.${b[1]}.${b[2]}.${b[3]}`, port: b.readUInt16BE(4), family: 4 };
  if (b.length === 18) return { host: formatIpv6(b.subarray(0, 16)), port: b.readUInt16BE(16), family: 6 };
  return null;
}

/** Encode one compact peer; throws on a host that is not an IP literal (a programming error). */
export function encodeCompactPeer(host: string, port: number): Buffer {
  const ip = ipBytes(host);
  if (!ip) throw new TypeError(`not an IP address: ${host}`);
  const out = Buffer.alloc(ip.length + 2);
  ip.copy(out, 0);
  out.writeUInt16BE(port, ip.length);
  return out;
}

export interface DecodedNodes {
  nodes: CompactNode[];
  /** The string's length is not a multiple of the entry size: a broken or hostile encoder. */
  malformed: boolean;
  /** Entries beyond `max`, not decoded. */
  skipped: number;
}

/**
 * Decode a `nodes` (IPv4, 26-byte entries) or `nodes6` (IPv6, 38-byte entries) string. A string
 * whose length is not a multiple of the entry size is reported malformed and yields no nodes:
 * its entries cannot be trusted to be aligned. At most `max` entries are decoded (BEP 5 replies
 * carry 8; a longer list only costs us queries).
 */
export function decodeCompactNodes(bytes: Uint8Array, family: IpFamily, max = Infinity): DecodedNodes {
  const size = COMPACT_NODE_BYTES[family];
  if (bytes.length % size !== 0) return { nodes: [], malformed: true, skipped: 0 };
  const total = bytes.length / size;
  const count = Math.min(total, max);
  const nodes: CompactNode[] = [];
  for (let i = 0; i < count; i++) {
    const entry = bytes.subarray(i * size, (i + 1) * size);
    const peer = decodeCompactPeer(entry.subarray(NODE_ID_BYTES))!;
    nodes.push({ id: Buffer.from(entry.subarray(0, NODE_ID_BYTES)), ...peer });
  }
  return { nodes, malformed: false, skipped: total - count };
}

/** Encode nodes of one family (others are skipped) as a `nodes`/`nodes6` string. */
export function encodeCompactNodes(nodes: readonly { id: Uint8Array; host: string; port: number }[], family: IpFamily): Buffer {
  const parts: Buffer[] = [];
  for (const n of nodes) {
    if (n.id.length !== NODE_ID_BYTES || familyOf(n.host) !== family) continue;
    parts.push(Buffer.from(n.id), encodeCompactPeer(n.host, n.port));
  }
  return Buffer.concat(parts);
}
