/** Wire message fixtures shared by the wire tests: bytes written out by hand from the BEPs. */
import type { WireFrame } from '../../../../src/core/wire/decoder.js';
import type { Message } from '../../../../src/core/wire/messages.js';

export const hx = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** [bytes as the BEP lays them out, the message]. */
export const FIXTURES: [string, string, Message][] = [
  ['keep-alive', '00000000', { type: 'keep-alive' }],
  ['choke', '00000001 00', { type: 'choke' }],
  ['unchoke', '00000001 01', { type: 'unchoke' }],
  ['interested', '00000001 02', { type: 'interested' }],
  ['not interested', '00000001 03', { type: 'not-interested' }],
  ['have 7', '00000005 04 00000007', { type: 'have', index: 7 }],
  // 10 pieces, 0, 1 and 9 set: 11000000 01000000
  ['bitfield', '00000003 05 c040', { type: 'bitfield', bits: hx('c040') }],
  ['request', '0000000d 06 00000001 00004000 00004000', { type: 'request', index: 1, begin: 0x4000, length: 0x4000 }],
  ['piece', '0000000c 07 00000001 00004000 616263', { type: 'piece', index: 1, begin: 0x4000, block: Buffer.from('abc') }],
  ['cancel', '0000000d 08 00000002 00000000 00002000', { type: 'cancel', index: 2, begin: 0, length: 0x2000 }],
  ['port 6881 (BEP 5)', '00000003 09 1ae1', { type: 'port', port: 6881 }],
  ['suggest (BEP 6)', '00000005 0d 00000005', { type: 'suggest', index: 5 }],
  ['have all (BEP 6)', '00000001 0e', { type: 'have-all' }],
  ['have none (BEP 6)', '00000001 0f', { type: 'have-none' }],
  ['reject (BEP 6)', '0000000d 10 ffffffff 00008000 00004000', { type: 'reject', index: 0xffffffff, begin: 0x8000, length: 0x4000 }],
  ['allowed fast (BEP 6)', '00000005 11 00000003', { type: 'allowed-fast', index: 3 }],
  ['extended (BEP 10)', '00000004 14 03 6869', { type: 'extended', id: 3, payload: Buffer.from('hi') }],
  ['extended handshake, empty dict', '00000004 14 00 6465', { type: 'extended', id: 0, payload: Buffer.from('de') }],
];

const hexOf = (v: unknown): unknown => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v);

/** Byte fields as hex (the handshake's too), so Buffers and Uint8Arrays compare by content. */
export function norm(m: WireFrame): Record<string, unknown> {
  if (m.type === 'handshake') return { type: m.type, handshake: Object.fromEntries(Object.entries(m.handshake).map(([k, v]) => [k, hexOf(v)])) };
  return Object.fromEntries(Object.entries(m).map(([k, v]) => [k, hexOf(v)]));
}
