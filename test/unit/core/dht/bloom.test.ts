/** BEP 33 bloom filters, checked against the BEP's own test vector. */
import { describe, expect, it } from 'vitest';
import { bloomEstimate, bloomHas, bloomInsert, bloomUnion, emptyBloom } from '../../../../src/core/dht/bloom.js';
import { parseIpv6 } from '../../../../src/core/dht/compact.js';

// BEP 33 "Test Vectors": 192.0.2.0–192.0.2.255 and 2001:DB8::–2001:DB8::3E7 (inclusive).
const VECTOR_HEX = `
F6C3F5EA A07FFD91 BDE89F77 7F26FB2B FF37BDB8 FB2BBAA2 FD3DDDE7 BACFFF75 EE7CCBAE
FE5EEDB1 FBFAFF67 F6ABFF5E 43DDBCA3 FD9B9FFD F4FFD3E9 DFF12D1B DF59DB53 DBE9FA5B
7FF3B8FD FCDE1AFB 8BEDD7BE 2F3EE71E BBBFE93B CDEEFE14 8246C2BC 5DBFF7E7 EFDCF24F
D8DC7ADF FD8FFFDF DDFFF7A4 BBEEDF5C B95CE81F C7FCFF1F F4FFFFDF E5F7FDCB B7FD79B3
FA1FC77B FE07FFF9 05B7B7FF C7FEFEFF E0B8370B B0CD3F5B 7F2BD93F EB4386CF DD6F7FD5
BFAF2E9E BFFFFEEC D67ADBF7 C67F17EF D5D75EBA 6FFEBA7F FF47A91E B1BFBB53 E8ABFB57
62ABE8FF 237279BF EFBFEEF5 FFC5FEBF DFE5ADFF ADFEE1FB 737FFFFB FD9F6AEF FEEE76B6
FD8F72EF`.replace(/\s+/g, '').toLowerCase();

function vectorIps(): Buffer[] {
  const ips: Buffer[] = [];
  for (let i = 0; i <= 255; i++) ips.push(Buffer.from([192, 0, 2, i]));
  const base = parseIpv6('2001:db8::')!;
  for (let i = 0; i <= 0x3e7; i++) {
    const ip = Buffer.from(base);
    ip.writeUInt16BE(i, 14);
    ips.push(ip);
  }
  return ips;
}

describe('BEP 33 bloom filter', () => {
  it('matches the BEP test vector, bit for bit', () => {
    const bloom = emptyBloom();
    const ips = vectorIps();
    expect(ips.length).toBe(1256);
    for (const ip of ips) bloomInsert(bloom, ip);
    expect(Buffer.from(bloom).toString('hex')).toBe(VECTOR_HEX);
  });

  it('estimates the test vector as 1224.9308', () => {
    // The BEP prints the value truncated to four decimals (1224.93089…).
    expect(Math.trunc(bloomEstimate(Buffer.from(VECTOR_HEX, 'hex')) * 1e4) / 1e4).toBe(1224.9308);
  });

  it('estimates an empty filter as 0 and a full one as a finite large number', () => {
    expect(bloomEstimate(emptyBloom())).toBe(0);
    const full = bloomEstimate(new Uint8Array(256).fill(0xff));
    expect(Number.isFinite(full)).toBe(true);
    expect(full).toBeGreaterThan(7000);
  });

  it('estimates small sets close to their size', () => {
    const bloom = emptyBloom();
    for (let i = 0; i < 50; i++) bloomInsert(bloom, Buffer.from([10, 0, 0, i]));
    expect(Math.round(bloomEstimate(bloom))).toBeGreaterThanOrEqual(48);
    expect(Math.round(bloomEstimate(bloom))).toBeLessThanOrEqual(52);
  });

  it('unions filters so overlapping sets are not double counted', () => {
    const a = emptyBloom();
    const b = emptyBloom();
    for (let i = 0; i < 40; i++) bloomInsert(a, Buffer.from([10, 0, 0, i]));
    for (let i = 20; i < 60; i++) bloomInsert(b, Buffer.from([10, 0, 0, i]));
    const u = bloomEstimate(bloomUnion([a, b]));
    expect(u).toBeGreaterThan(55);
    expect(u).toBeLessThan(65);
  });

  it('answers membership without false negatives', () => {
    const bloom = emptyBloom();
    bloomInsert(bloom, Buffer.from([192, 168, 1, 1]));
    expect(bloomHas(bloom, Buffer.from([192, 168, 1, 1]))).toBe(true);
    expect(bloomHas(emptyBloom(), Buffer.from([192, 168, 1, 1]))).toBe(false);
  });
});
