/**
 * BEP 6 allowed fast set: the pieces a peer may download from us while we choke it, so a new
 * peer with nothing to trade can get its first pieces (BEP 6 "Allowed Fast"). Pure.
 *
 * The set is a function of the peer's address and the torrent, not a random draw, for the reason
 * BEP 6 gives: a peer reconnecting, or opening several connections from one network, gets the
 * same pieces each time, so it cannot collect more free pieces by reconnecting. BEP 6's
 * canonical algorithm, implemented here:
 *
 *   x = (IPv4 address & 0xFFFFFF00) as 4 bytes, big-endian  ‖  infohash (20 bytes)
 *   until k distinct indices: x = SHA-1(x); each of x's five 4-byte big-endian words w gives
 *   the piece w mod pieceCount, skipped when already in the set.
 *
 * Masking to the /24 makes every address of one network block share one set.
 *
 * Choices where BEP 6 says nothing:
 * - IPv6: BEP 6 defines the set for IPv4 only. We hash the address masked to its /48 (the last
 *   ten bytes zeroed) in place of the four masked IPv4 bytes, then the same loop. /48 is the usual
 *   smallest routed IPv6 site, as the /24 is for IPv4: one host controls a whole /64 (billions of
 *   addresses), so hashing the full address, as libtorrent does, would let a peer hop addresses
 *   for a fresh set each time. Only the sender ever computes the set (the receiver just honours
 *   allowed fast messages), so no other client has to agree with this.
 * - An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, as a dual-stack socket reports an IPv4 peer)
 *   is the IPv4 address: the peer gets the same set either way.
 * - `k >= pieceCount`: every piece, in order (what the loop would converge to, and what
 *   libtorrent sends), without hashing. This is what keeps the loop finite: fewer distinct
 *   indices than requested would never be found.
 * - The loop is also bounded in SHA-1 rounds (far above what any real k needs: collecting k of
 *   n indices takes about n·ln(n/(n−k))/5 rounds); past the bound the set found so far is
 *   returned, smaller than k.
 */
import { createHash } from 'node:crypto';
import { parseIPv4, parseIPv6 } from '../net/address.js';

/** BEP 6: "implementations are suggested to" allow about 10 pieces. */
export const DEFAULT_ALLOWED_FAST_COUNT = 10;

/** The prefix of an IPv6 address the set depends on (a /48), in bytes. */
const IPV6_PREFIX_BYTES = 6;

/**
 * The first `k` pieces of the allowed fast set of the peer at `ip` (IPv4 or IPv6 text) for the
 * torrent `infoHash` (20 bytes: the v1 infohash, or the truncated v2 one of the handshake), in
 * the order BEP 6 generates them. Throws RangeError on arguments no caller can mean.
 */
export function allowedFastSet(infoHash: Uint8Array, ip: string, pieceCount: number, k: number): number[] {
  if (infoHash.length !== 20) throw new RangeError(`infohash is ${infoHash.length} bytes, not 20`);
  if (!Number.isSafeInteger(pieceCount) || pieceCount < 0 || pieceCount > 0xffffffff) throw new RangeError(`piece count ${pieceCount} is not 0..2^32-1`);
  if (!Number.isSafeInteger(k) || k < 0) throw new RangeError(`allowed fast count ${k} is not a non-negative integer`);
  const address = networkBytes(ip);
  if (k === 0 || pieceCount === 0) return [];
  if (k >= pieceCount) return Array.from({ length: pieceCount }, (_, i) => i);

  const chosen = new Set<number>();
  const out: number[] = [];
  let x: Buffer = Buffer.concat([address, infoHash]);
  // Generous: the expected rounds for k of n are about n·ln(n/(n−k))/5 (≈ k/5 for small k).
  const maxRounds = 1000 + 4 * Math.ceil((pieceCount * Math.log(pieceCount / (pieceCount - k))) / 5 + k);
  for (let round = 0; out.length < k && round < maxRounds; round++) {
    x = createHash('sha1').update(x).digest();
    for (let off = 0; off < 20 && out.length < k; off += 4) {
      const index = x.readUInt32BE(off) % pieceCount;
      if (chosen.has(index)) continue;
      chosen.add(index);
      out.push(index);
    }
  }
  return out;
}

/** The masked address bytes BEP 6 hashes (4 for IPv4; 16 for IPv6, our choice, see above). */
function networkBytes(ip: string): Buffer {
  const v6 = parseIPv6(ip);
  // ::ffff:a.b.c.d in any spelling (dotted or hex groups) is the IPv4 peer a.b.c.d.
  const mapped = v6 !== null && v6.subarray(0, 10).every((b) => b === 0) && v6[10] === 0xff && v6[11] === 0xff;
  const v4 = mapped ? Buffer.from(v6.subarray(12)) : parseIPv4(ip);
  if (v4) {
    v4[3] = 0; // & 0xFFFFFF00
    return v4;
  }
  if (v6) {
    v6.fill(0, IPV6_PREFIX_BYTES);
    return v6;
  }
  throw new RangeError(`${JSON.stringify(ip)} is not an IP address`);
}
