/** KRPC (BEP 5) datagram vetting and reply reading: typed verdicts, never a throw. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encode } from '../../../../src/core/bencode/index.js';
import { checkDatagram, readReply } from '../../../../src/core/dht/krpc.js';
import { encodeCompactNodes, encodeCompactPeer } from '../../../../src/core/dht/compact.js';

const ID = Buffer.alloc(20, 0xab);
const HASH = Buffer.alloc(20, 0x11);
const q = (method: string, a: Record<string, unknown>) => encode({ t: Buffer.from('aa'), y: 'q', q: method, a: { id: ID, ...a } as never });
const r = (fields: Record<string, unknown>) => encode({ t: Buffer.from('aa'), y: 'r', r: { id: ID, ...fields } as never });

describe('checkDatagram', () => {
  it('accepts well-formed queries, responses and errors', () => {
    expect(checkDatagram(q('ping', {}))).toEqual({ ok: true, kind: 'q', method: 'ping' });
    expect(checkDatagram(q('get_peers', { info_hash: HASH, want: [Buffer.from('n4'), Buffer.from('n6')], scrape: 1 })).ok).toBe(true);
    expect(checkDatagram(q('announce_peer', { info_hash: HASH, token: Buffer.from('tok'), port: 6881, implied_port: 1, seed: 1 })).ok).toBe(true);
    expect(checkDatagram(r({ nodes: Buffer.alloc(26), values: [Buffer.alloc(6)], token: Buffer.from('x') })).ok).toBe(true);
    expect(checkDatagram(encode({ t: Buffer.from('aa'), y: 'e', e: [201, 'A Generic Error Ocurred'] })).ok).toBe(true);
  });

  it('drops what would crash or confuse bittorrent-dht', () => {
    const cases: [string, Uint8Array][] = [
      ['not bencoded', Buffer.from('hello, world')],
      ['empty', Buffer.alloc(0)],
      ['a list', encode([1, 2, 3])],
      ['an integer', encode(5)],
      ['no t', encode({ y: 'q', q: 'ping', a: { id: ID } })],
      ['integer y', encode({ t: 'aa', y: 5, q: 'ping', a: { id: ID } })],
      ['integer a', encode({ t: 'aa', y: 'q', q: 'ping', a: 5 })],
      ['short id', q('ping', { id: Buffer.alloc(19) })],
      ['integer info_hash', q('get_peers', { info_hash: 5 })],
      ['missing info_hash', q('get_peers', {})],
      ['integer target', q('find_node', { target: 7 })],
      ['integer token', q('announce_peer', { info_hash: HASH, token: 5, port: 1 })],
      ['string port', q('announce_peer', { info_hash: HASH, token: Buffer.from('t'), port: 'x' })],
      ['want of ints', q('get_peers', { info_hash: HASH, want: [1] })],
      ['r not a dict', encode({ t: 'aa', y: 'r', r: Buffer.from('zz') })],
      ['r.id integer', encode({ t: 'aa', y: 'r', r: { id: 5 } })],
      ['nodes list', r({ nodes: [Buffer.alloc(26)] })],
      ['values of ints', r({ values: [1, 2] })],
      ['unknown y', encode({ t: 'aa', y: 'z' })],
      ['trailing bytes', Buffer.concat([q('ping', {}), Buffer.from('xx')])],
      ['duplicate key', Buffer.from('d1:ad2:id20:' + 'a'.repeat(20) + 'e1:q4:ping1:t2:aa1:y1:q1:y1:re')],
    ];
    for (const [name, bytes] of cases) expect(checkDatagram(bytes).ok, name).toBe(false);
  });

  it('drops a `__proto__` key anywhere: k-rpc-socket\'s decoder would make it the prototype, with fields no check saw (issue 15)', () => {
    // Written by hand: in an object literal `__proto__` sets the prototype instead of a key.
    const id = `2:id20:${'a'.repeat(20)}`;
    const cases: [string, string][] = [
      ['in r, inheriting a bad token', `d1:rd9:__proto__d5:tokeni5ee${id}e1:t2:aa1:y1:re`],
      ['in r, inheriting nodes', `d1:rd9:__proto__d5:nodesli1eee${id}e1:t2:aa1:y1:re`],
      ['in a, inheriting implied_port', `d1:ad9:__proto__d12:implied_porti1ee${id}9:info_hash20:${'h'.repeat(20)}4:porti1e5:token1:xe1:q13:announce_peer1:t2:aa1:y1:qe`],
      ['at the top', `d9:__proto__d1:y1:re1:rd${id}e1:t2:aa1:y1:re`],
      ['deep in a list', `d1:rd${id}6:valuesld9:__proto__i1eeee1:t2:aa1:y1:re`],
      ['with nothing inside', `d1:ad9:__proto__de${id}e1:q4:ping1:t2:aa1:y1:qe`],
    ];
    for (const [name, text] of cases) {
      const bytes = Buffer.from(text, 'latin1');
      expect(checkDatagram(bytes), name).toEqual({ ok: false, reason: 'a `__proto__` key' });
    }
    // The same messages without the key pass, so it is the key that is refused.
    expect(checkDatagram(Buffer.from(`d1:ad${id}e1:q4:ping1:t2:aa1:y1:qe`, 'latin1')).ok).toBe(true);
    expect(checkDatagram(Buffer.from(`d1:rd${id}9:__proto_x1:ze1:t2:aa1:y1:re`, 'latin1')).ok).toBe(true);
  });

  it('never throws on arbitrary bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
      expect(typeof checkDatagram(bytes).ok).toBe('boolean');
    }), { numRuns: 2000 });
  });
});

describe('readReply', () => {
  it('reads ids, tokens, both node lists, peers and BEP 33 filters', () => {
    const reply = readReply({
      id: ID,
      token: Buffer.from('tok'),
      nodes: encodeCompactNodes([{ id: Buffer.alloc(20, 1), host: '127.0.0.1', port: 7001 }], 4),
      nodes6: encodeCompactNodes([{ id: Buffer.alloc(20, 2), host: '::1', port: 7002 }], 6),
      values: [encodeCompactPeer('127.0.0.1', 6881), encodeCompactPeer('::1', 6882)],
      BFsd: Buffer.alloc(256, 1),
      BFpe: Buffer.alloc(256, 2),
    });
    expect(reply.id).toEqual(ID);
    expect(reply.token?.toString()).toBe('tok');
    expect(reply.nodes.map((n) => `${n.host}:${n.port}`)).toEqual(['127.0.0.1:7001', '::1:7002']);
    expect(reply.peers).toEqual([{ host: '127.0.0.1', port: 6881, family: 4 }, { host: '::1', port: 6882, family: 6 }]);
    expect(reply.bfsd?.length).toBe(256);
    expect(reply.bfpe?.length).toBe(256);
    expect(reply.problems).toEqual([]);
  });

  it('reports malformed fields instead of throwing, and bounds huge lists', () => {
    const reply = readReply({
      id: Buffer.alloc(3),
      nodes: Buffer.alloc(27),
      nodes6: 'not bytes',
      values: [Buffer.alloc(5), 7, Buffer.alloc(6, 1)],
      BFsd: Buffer.alloc(10),
    });
    expect(reply.id).toBeNull();
    expect(reply.nodes).toEqual([]);
    expect(reply.peers).toEqual([{ host: '1.1.1.1', port: 257, family: 4 }]);
    expect(reply.bfsd).toBeNull();
    expect(reply.problems.length).toBe(4);
    const huge = readReply({ id: ID, nodes: Buffer.alloc(26 * 2500, 9), values: Array.from({ length: 5000 }, () => Buffer.alloc(6, 3)) });
    expect(huge.nodes.length).toBe(16);
    expect(huge.peers.length).toBe(1000);
  });

  it('never throws on arbitrary shapes', () => {
    fc.assert(fc.property(fc.anything({ withTypedArray: true, maxDepth: 3 }), (value) => {
      expect(Array.isArray(readReply(value).problems)).toBe(true);
    }), { numRuns: 1000 });
  });
});
