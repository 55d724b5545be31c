/** BEP 10 extended handshake against a hand-written bencoded fixture, and its tolerance rules. */
import { describe, expect, it } from 'vitest';
import { decodeExtendedHandshake, encodeExtendedHandshake } from '../../../../src/core/extension/handshake.js';
import { thrownSync } from '../../../helpers/errors.js';

const b = (s: string) => Buffer.from(s, 'latin1');

// Keys in byte order, as BEP 3 bencoding requires.
const FIXTURE = b(
  'd' +
    '1:md11:ut_metadatai2e6:ut_pexi1ee' +
    '13:metadata_sizei31235e' +
    '1:pi6881e' +
    '4:reqqi500e' +
    '1:v14:uTorrent 3.5.5' +
    '6:yourip4:\x7f\x00\x00\x01' +
    'e',
);

describe('extended handshake', () => {
  it('encodes the fixture', () => {
    const bytes = encodeExtendedHandshake({
      m: { ut_pex: 1, ut_metadata: 2 },
      metadataSize: 31235,
      p: 6881,
      reqq: 500,
      v: 'uTorrent 3.5.5',
      yourip: Uint8Array.of(127, 0, 0, 1),
    });
    expect(bytes.toString('latin1')).toBe(FIXTURE.toString('latin1'));
  });

  it('decodes the fixture', () => {
    const h = decodeExtendedHandshake(FIXTURE);
    expect([...h.m]).toEqual([
      ['ut_metadata', 2],
      ['ut_pex', 1],
    ]);
    expect(h).toMatchObject({ metadataSize: 31235, p: 6881, reqq: 500, v: 'uTorrent 3.5.5', ignored: [] });
    expect([...h.yourip!]).toEqual([127, 0, 0, 1]);
  });

  it('keeps unknown keys in raw and an id of 0 in m', () => {
    const h = decodeExtendedHandshake(b('d12:complete_agoi-1e1:md6:ut_pexi0ee11:upload_onlyi1ee'));
    expect(h.raw.get('upload_only')).toBe(1);
    expect(h.raw.get('complete_ago')).toBe(-1);
    expect(h.m.get('ut_pex')).toBe(0);
  });

  it('reads an IPv6 yourip and the ipv4/ipv6 keys', () => {
    const v6 = '\x20\x01\x0d\xb8' + '\x00'.repeat(11) + '\x01';
    const h = decodeExtendedHandshake(b(`d4:ipv44:\x0a\x00\x00\x014:ipv616:${v6}1:mde6:yourip16:${v6}e`));
    expect(h.yourip).toHaveLength(16);
    expect([...h.ipv4!]).toEqual([10, 0, 0, 1]);
    expect(h.ipv6).toHaveLength(16);
  });

  it('drops known keys of the wrong type or range and names them', () => {
    const h = decodeExtendedHandshake(b('d1:md1:ai300e1:bi-1e1:c3:xyz1:di7ee13:metadata_sizei0e1:pi70000e4:reqq3:abc1:vi5e6:yourip5:abcdee'));
    expect([...h.m]).toEqual([['d', 7]]);
    expect(h.ignored.sort()).toEqual(['m.a', 'm.b', 'm.c', 'metadata_size', 'p', 'reqq', 'v', 'yourip'].sort());
    expect(h.p).toBeUndefined();
    expect(h.yourip).toBeUndefined();
  });

  it('tolerates a missing or malformed m', () => {
    expect(decodeExtendedHandshake(b('d1:pi1ee')).m.size).toBe(0);
    const h = decodeExtendedHandshake(b('d1:mi1ee'));
    expect(h.ignored).toEqual(['m']);
  });

  it.each([
    ['not a dictionary', 'li1ee'],
    ['truncated', 'd1:md'],
    ['trailing bytes', 'd1:mdeex'],
    ['unsorted keys (strict)', 'd1:pi1e1:mdee'],
    ['nested too deep', `d1:x${'l'.repeat(20)}${'e'.repeat(20)}e`],
    ['empty', ''],
  ])('refuses %s (EXT_BAD_HANDSHAKE, network)', (_name, text) => {
    expect(thrownSync(() => decodeExtendedHandshake(b(text)))).toMatchObject({ code: 'EXT_BAD_HANDSHAKE', category: 'network' });
  });

  it('accepts unsorted keys in lenient mode', () => {
    expect(decodeExtendedHandshake(b('d1:pi1e1:mdee'), { mode: 'lenient' }).p).toBe(1);
  });

  it('bounds the number of extensions in m', () => {
    const entries = Array.from({ length: 257 }, (_, i) => `e${String(i).padStart(3, '0')}`)
      .map((k) => `4:${k}i1e`)
      .join('');
    expect(thrownSync(() => decodeExtendedHandshake(b(`d1:md${entries}ee`))).code).toBe('EXT_BAD_HANDSHAKE');
  });

  it('refuses to encode an id outside 0..255', () => {
    expect(() => encodeExtendedHandshake({ m: { x: 256 } })).toThrow(RangeError);
  });
});
