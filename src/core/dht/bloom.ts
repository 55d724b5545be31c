/**
 * BEP 33 (DHT scrapes) bloom filters: 256 bytes, k = 2 bit positions per IP taken from the
 * SHA-1 of the raw address bytes. A node answering `get_peers` with `scrape=1` returns one filter
 * of its stored seeds (`BFsd`) and one of its other peers (`BFpe`); the union (bitwise OR) of the
 * filters from the nodes around the infohash estimates the swarm without listing it.
 *
 * Pure functions: bytes in, numbers out. The BEP's test vector is in the unit tests.
 */
import { createHash } from 'node:crypto';

export const BLOOM_BYTES = 256;
const M = BLOOM_BYTES * 8;
const K = 2;

export function emptyBloom(): Uint8Array {
  return new Uint8Array(BLOOM_BYTES);
}

/** Set the two bits for one IP address (4 or 16 raw bytes; BEP 33: never a port or a name). */
export function bloomInsert(bloom: Uint8Array, ip: Uint8Array): void {
  const h = createHash('sha1').update(ip).digest();
  const index1 = (h[0]! | (h[1]! << 8)) % M;
  const index2 = (h[2]! | (h[3]! << 8)) % M;
  bloom[index1 >> 3]! |= 1 << (index1 & 7);
  bloom[index2 >> 3]! |= 1 << (index2 & 7);
}

/** Whether the filter may contain this IP (false positives possible, no false negatives). */
export function bloomHas(bloom: Uint8Array, ip: Uint8Array): boolean {
  const probe = emptyBloom();
  bloomInsert(probe, ip);
  return probe.every((byte, i) => (bloom[i]! & byte) === byte);
}

/** The union of filters: the filter of the union of the sets. */
export function bloomUnion(filters: readonly Uint8Array[]): Uint8Array {
  const out = emptyBloom();
  for (const f of filters) for (let i = 0; i < BLOOM_BYTES; i++) out[i]! |= f[i] ?? 0;
  return out;
}

/**
 * The estimated number of distinct IPs in a filter (BEP 33 "Calculating the estimate"):
 * log(c / m) / (k · log(1 − 1/m)) with c = min(m − 1, zero bits). Two edges the formula leaves
 * open are pinned: an empty filter is 0 (the formula gives 0.5), and a full one is computed with
 * c = 1 (≈ 7800, where the BEP says the estimate breaks down) instead of log(0) = −∞.
 */
export function bloomEstimate(bloom: Uint8Array): number {
  let zeros = 0;
  for (let i = 0; i < BLOOM_BYTES; i++) {
    let byte = bloom[i] ?? 0;
    for (let bit = 0; bit < 8; bit++, byte >>= 1) if ((byte & 1) === 0) zeros++;
  }
  if (zeros === M) return 0;
  const c = Math.max(1, Math.min(M - 1, zeros));
  return Math.log(c / M) / (K * Math.log(1 - 1 / M));
}

/** True when a filter is the right size to be a BEP 33 filter at all. */
export function isBloom(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array && value.length === BLOOM_BYTES;
}
