/**
 * IP address text and bytes, shared by every module that puts addresses on the wire (trackers'
 * compact peer lists, DHT contact info, the peer wire's `yourip`). Pure.
 */

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
  // A zone (fe80::1%eth0) names a local interface: it cannot be put on the wire, and dropping it
  // silently would name a different address.
  if (t.includes('%') || !t.includes(':')) return null;
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
export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The raw bytes of an IP literal (4 or 16), or null for a hostname. */
export function ipBytes(text: string): Buffer | null {
  return parseIPv4(text) ?? parseIPv6(text);
}
