/**
 * Addresses as the session meets them: our own (to skip ourselves in a tracker's or PEX's peer
 * list: BEP 3 trackers return the asker too) and a peer's as we tell it back (BEP 10 `yourip`).
 */
import { networkInterfaces } from 'node:os';
import { normalizeAddress, parseIPv4, parseIPv6 } from '../tracker/peers.js';
import type { Endpoint } from '../transport/types.js';

/** Addresses of this machine. */
export function localAddresses(): Set<string> {
  const out = new Set(['127.0.0.1', '::1', '0.0.0.0', '::']);
  try {
    for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) out.add(normalizeAddress(a.address));
  } catch {
    // no interfaces visible (sandbox): loopback is enough
  }
  return out;
}

/**
 * The endpoints worth adding to the address book: a valid port, the host in its normal form,
 * and not ourselves (one of `local` on the port we listen on, when we listen).
 */
export function usableEndpoints(peers: readonly Endpoint[], local: ReadonlySet<string>, ourPort: number): Endpoint[] {
  const out: Endpoint[] = [];
  for (const e of peers) {
    if (!Number.isInteger(e.port) || e.port <= 0 || e.port > 0xffff) continue;
    const host = normalizeAddress(e.host);
    if (ourPort !== 0 && e.port === ourPort && local.has(host)) continue;
    out.push({ host, port: e.port });
  }
  return out;
}

/** A peer's address bytes for BEP 10 `yourip` (how we see it), or null for a host name. */
export function yourIp(host: string): Uint8Array | null {
  return parseIPv4(host) ?? parseIPv6(host);
}
