/**
 * Every BEP 3, BEP 5, BEP 6 and BEP 10 message against bytes written out by hand from the BEPs
 * (length prefix, id, big-endian fields), encoded and decoded.
 */
import { describe, expect, it } from 'vitest';
import { MessageDecoder } from '../../../../src/core/wire/decoder.js';
import { encodeMessage, encodePieceHeader } from '../../../../src/core/wire/messages.js';
import { FIXTURES, hx, norm } from './fixtures.js';

function decodeAll(bytes: Uint8Array): Record<string, unknown>[] {
  const d = new MessageDecoder({ handshake: false });
  d.push(bytes);
  return [...d.messages()].map(norm);
}

describe('message fixtures', () => {
  it.each(FIXTURES)('%s encodes to the BEP bytes', (_name, bytes, message) => {
    expect(encodeMessage(message).toString('hex')).toBe(hx(bytes).toString('hex'));
  });

  it.each(FIXTURES)('%s decodes from the BEP bytes', (_name, bytes, message) => {
    expect(decodeAll(hx(bytes))).toEqual([norm(message)]);
  });

  it('writes the piece header apart from the block', () => {
    expect(encodePieceHeader(1, 0x4000, 3).toString('hex')).toBe('0000000c070000000100004000');
    expect(Buffer.concat([encodePieceHeader(1, 0x4000, 3), Buffer.from('abc')])).toEqual(encodeMessage(FIXTURES[8]![2]));
  });

  it('refuses values that do not fit their field', () => {
    expect(() => encodeMessage({ type: 'have', index: 2 ** 32 })).toThrow(RangeError);
    expect(() => encodeMessage({ type: 'have', index: -1 })).toThrow(RangeError);
    expect(() => encodeMessage({ type: 'port', port: 65536 })).toThrow(RangeError);
    expect(() => encodeMessage({ type: 'extended', id: 256, payload: new Uint8Array() })).toThrow(RangeError);
  });
});
