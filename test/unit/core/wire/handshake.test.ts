/**
 * BEP 3 handshake against bytes written out by hand from the BEP (not produced by the encoder),
 * and the reserved bits of BEP 5, 6 and 10.
 */
import { describe, expect, it } from 'vitest';
import {
  HANDSHAKE_LENGTH,
  checkHandshakePrefix,
  decodeHandshake,
  encodeHandshake,
  negotiated,
  reservedWith,
  supportsDht,
  supportsExtended,
  supportsFast,
} from '../../../../src/core/wire/handshake.js';
import { thrownSync } from '../../../helpers/errors.js';

const hx = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const IH = hx('9924e7603a28353e40ea29b8660c8a582ebdc99c');
const PID = Buffer.from('-BK0100-abcdefghijkl', 'latin1');

// 19, "BitTorrent protocol", reserved (byte 5 = 0x10: BEP 10; byte 7 = 0x04 | 0x01: BEP 6, BEP 5),
// infohash, peer id.
const FIXTURE = hx(
  [
    '13',
    '426974546f7272656e742070726f746f636f6c',
    '0000000000100005',
    '9924e7603a28353e40ea29b8660c8a582ebdc99c',
    '2d424b303130302d6162636465666768696a6b6c',
  ].join(''),
);

describe('handshake', () => {
  it('encodes the BEP 3 layout', () => {
    expect(FIXTURE.length).toBe(HANDSHAKE_LENGTH);
    expect(encodeHandshake({ reserved: reservedWith(['extended', 'fast', 'dht']), infoHash: IH, peerId: PID })).toEqual(FIXTURE);
  });

  it('decodes the fixture into copies of each field', () => {
    const h = decodeHandshake(FIXTURE);
    expect(Buffer.from(h.reserved).toString('hex')).toBe('0000000000100005');
    expect(Buffer.from(h.infoHash)).toEqual(IH);
    expect(Buffer.from(h.peerId)).toEqual(PID);
    const copy = Buffer.from(FIXTURE);
    const h2 = decodeHandshake(copy);
    copy.fill(0);
    expect(Buffer.from(h2.infoHash)).toEqual(IH);
  });

  it('reads each reserved bit from its own byte and mask', () => {
    expect(supportsExtended(hx('0000000000100000'))).toBe(true);
    expect(supportsExtended(hx('0000000000000010'))).toBe(false);
    expect(supportsFast(hx('0000000000000004'))).toBe(true);
    expect(supportsFast(hx('0000000000000001'))).toBe(false);
    expect(supportsDht(hx('0000000000000001'))).toBe(true);
    expect(supportsDht(hx('0000000000000004'))).toBe(false);
    expect(Buffer.from(reservedWith(['fast'])).toString('hex')).toBe('0000000000000004');
  });

  it('negotiates a feature only when both sides set it', () => {
    expect(negotiated(reservedWith(['fast', 'extended']), reservedWith(['fast', 'dht']))).toEqual({ fast: true, extended: false, dht: false, v2: false });
    expect(negotiated(reservedWith(['v2', 'fast']), reservedWith(['v2']))).toEqual({ fast: false, extended: false, dht: false, v2: true });
    // BEP 52: the upgrade bit is byte 7, 0x10.
    expect(reservedWith(['v2'])[7]).toBe(0x10);
  });

  it('keeps unknown reserved bits as received', () => {
    const bytes = Buffer.from(FIXTURE);
    bytes[27] = 0x10 | 0x05; // BEP 52's v2 upgrade bit next to ours
    expect(decodeHandshake(bytes).reserved[7]).toBe(0x15);
  });

  it('refuses a wrong protocol string or length', () => {
    const bad = Buffer.from(FIXTURE);
    bad[1] = 0x62; // 'b'
    expect(thrownSync(() => decodeHandshake(bad))).toMatchObject({ code: 'WIRE_BAD_HANDSHAKE', category: 'network', detail: { offset: 1 } });
    expect(thrownSync(() => decodeHandshake(FIXTURE.subarray(0, 67))).code).toBe('WIRE_BAD_HANDSHAKE');
    expect(thrownSync(() => checkHandshakePrefix(hx('16'))).code).toBe('WIRE_BAD_HANDSHAKE');
    expect(() => checkHandshakePrefix(FIXTURE.subarray(0, 5))).not.toThrow();
  });

  it('refuses to encode fields of the wrong size', () => {
    expect(() => encodeHandshake({ reserved: new Uint8Array(8), infoHash: new Uint8Array(32), peerId: PID })).toThrow(RangeError);
  });
});
