/**
 * BEP 11 peer exchange: the codec against a message built by hand, its bounds, the sender's
 * rate limit and caps, and two registries wired together in memory.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encode } from '../../../../src/core/bencode/index.js';
import { BtError } from '../../../../src/core/errors.js';
import { ExtensionRegistry } from '../../../../src/core/extension/registry.js';
import {
  MAX_PEX_RECEIVED,
  PEX_FLAGS,
  type PexAddress,
  type PexMessage,
  type PexPeer,
  PexSender,
  type UtPexPlugin,
  decodePex,
  encodePex,
  utPex,
} from '../../../../src/core/extension/ut-pex.js';
import { formatIPv4, formatIPv6 } from '../../../../src/core/net/address.js';

const ascii = (s: string) => Buffer.from(s, 'latin1');
const hex = (h: string) => Buffer.from(h.replace(/\s+/g, ''), 'hex');

/**
 * By hand from BEP 11: two IPv4 peers added (127.0.0.1:6881 reachable + seed, 127.0.0.2:51413
 * prefers encryption), one IPv6 (::1 port 6882, uTP), one IPv4 dropped (127.1.1.9:80), keys in
 * bencode order (`added` < `added.f` < `added6` < `added6.f` < `dropped` < `dropped6`).
 */
const FIXTURE = Buffer.concat([
  ascii('d5:added12:'),
  hex('7f000001 1ae1  7f000002 c8d5'),
  ascii('7:added.f2:'),
  hex('12 01'),
  ascii('6:added618:'),
  hex('00000000000000000000000000000001 1ae2'),
  ascii('8:added6.f1:'),
  hex('04'),
  ascii('7:dropped6:'),
  hex('7f010109 0050'),
  ascii('8:dropped60:e'),
]);
const FIXTURE_MESSAGE: PexMessage = {
  added: [
    { host: '127.0.0.1', port: 6881, flags: PEX_FLAGS.reachable | PEX_FLAGS.seed },
    { host: '127.0.0.2', port: 51413, flags: PEX_FLAGS.encryption },
    { host: '::1', port: 6882, flags: PEX_FLAGS.utp },
  ],
  dropped: [{ host: '127.1.1.9', port: 80 }],
};

const code = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return e instanceof BtError ? `${e.category}:${e.code}` : `not a BtError: ${String(e)}`;
  }
  return 'no error';
};

describe('codec', () => {
  it('decodes the hand-built message', () => {
    expect(decodePex(FIXTURE)).toEqual(FIXTURE_MESSAGE);
  });

  it('encodes to exactly those bytes (every key written, empty ones too)', () => {
    expect(Buffer.from(encodePex(FIXTURE_MESSAGE)).toString('hex')).toBe(FIXTURE.toString('hex'));
  });

  it('writes all six keys for an empty message', () => {
    expect(Buffer.from(encodePex({ added: [], dropped: [] })).toString('latin1')).toBe('d5:added0:7:added.f0:6:added60:8:added6.f0:7:dropped0:8:dropped60:e');
  });

  it('tolerates missing keys, flags shorter or longer than the list, unknown keys', () => {
    const noFlags = encode(new Map([['added', hex('7f000001 1ae1  7f000002 1ae2')]]));
    expect(decodePex(noFlags)).toEqual({
      added: [
        { host: '127.0.0.1', port: 6881, flags: 0 },
        { host: '127.0.0.2', port: 6882, flags: 0 },
      ],
      dropped: [],
    });
    const shortFlags = encode(new Map<string, Uint8Array | number>([['added', hex('7f000001 1ae1  7f000002 1ae2')], ['added.f', hex('10')], ['e', 1]]));
    expect(decodePex(shortFlags).added.map((p) => p.flags)).toEqual([0x10, 0]);
    const longFlags = encode(new Map([['added', hex('7f000001 1ae1')], ['added.f', hex('10 11 12')]]));
    expect(decodePex(longFlags).added).toEqual([{ host: '127.0.0.1', port: 6881, flags: 0x10 }]);
    expect(decodePex(ascii('de'))).toEqual({ added: [], dropped: [] });
  });

  it('accepts non-canonical bencode (unsorted keys): nothing is hashed here', () => {
    const unsorted = Buffer.concat([ascii('d7:dropped6:'), hex('7f010109 0050'), ascii('5:added0:e')]);
    expect(decodePex(unsorted)).toEqual({ added: [], dropped: [{ host: '127.1.1.9', port: 80 }] });
  });

  it.each([
    ['a ragged IPv4 added list', encode(new Map([['added', hex('7f000001 1ae1 7f')]]))],
    ['a ragged IPv6 added list', encode(new Map([['added6', new Uint8Array(17)]]))],
    ['a ragged dropped list', encode(new Map([['dropped', new Uint8Array(7)]]))],
    ['a ragged dropped6 list', encode(new Map([['dropped6', new Uint8Array(19)]]))],
    ['an added list that is an integer', encode(new Map([['added', 5]]))],
    ['flags that are a list', encode(new Map<string, unknown>([['added', new Uint8Array(0)], ['added.f', [1]]]) as Map<string, never>)],
    ['a list, not a dictionary', ascii('le')],
    ['not bencode', ascii('hello')],
    ['an empty payload', new Uint8Array(0)],
    ['a truncated dictionary', FIXTURE.subarray(0, 20)],
  ])('refuses %s with EXT_BAD_PEX (network)', (_what, payload) => {
    expect(code(() => decodePex(payload))).toBe('network:EXT_BAD_PEX');
  });

  it(`reads at most ${MAX_PEX_RECEIVED} entries of each merged list`, () => {
    const many = Buffer.alloc(6 * (MAX_PEX_RECEIVED + 100), 1);
    const m = decodePex(encode(new Map([['added', many], ['added6', new Uint8Array(18 * 10)], ['dropped', many]])));
    expect(m.added).toHaveLength(MAX_PEX_RECEIVED);
    expect(m.dropped).toHaveLength(MAX_PEX_RECEIVED);
  });

  it('leaves out hostnames (no compact form) and refuses impossible ports', () => {
    const m = decodePex(encodePex({ added: [{ host: 'example.org', port: 1, flags: 0 }, { host: '127.2.3.4', port: 5, flags: 0x1ff }], dropped: [{ host: 'peer.local', port: 2 }] }));
    expect(m).toEqual({ added: [{ host: '127.2.3.4', port: 5, flags: 0xff }], dropped: [] });
    expect(() => encodePex({ added: [{ host: '127.2.3.4', port: 65536, flags: 0 }], dropped: [] })).toThrow(RangeError);
  });

  const v4 = fc.uint8Array({ minLength: 4, maxLength: 4 }).map((b) => formatIPv4(b));
  const v6 = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => formatIPv6(b));
  const port = fc.integer({ min: 0, max: 0xffff });
  const flags = fc.integer({ min: 0, max: 0xff });
  const peers = (host: fc.Arbitrary<string>) => fc.array(fc.record({ host, port, flags }), { maxLength: 40 });
  const addrs = (host: fc.Arbitrary<string>) => fc.array(fc.record({ host, port }), { maxLength: 40 });

  it('property: decode(encode(m)) is m (IPv4 entries first, then IPv6)', () => {
    fc.assert(
      fc.property(peers(v4), peers(v6), addrs(v4), addrs(v6), (a4, a6, d4, d6) => {
        const m: PexMessage = { added: [...a4, ...a6], dropped: [...d4, ...d6] };
        expect(decodePex(encodePex(m))).toEqual(m);
      }),
      { numRuns: 300 },
    );
  });

  it('property: decode throws nothing but BtError EXT_BAD_PEX, on bytes and on near-valid dictionaries', () => {
    const check = (payload: Uint8Array) => {
      try {
        decodePex(payload);
      } catch (e) {
        expect(e).toBeInstanceOf(BtError);
        expect((e as BtError).code).toBe('EXT_BAD_PEX');
        expect((e as BtError).category).toBe('network');
      }
    };
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), check), { numRuns: 1000 });
    const key = fc.constantFrom('added', 'added.f', 'added6', 'added6.f', 'dropped', 'dropped6', 'x');
    const value = fc.oneof(fc.uint8Array({ maxLength: 60 }), fc.integer(), fc.constant([] as never[]));
    fc.assert(
      fc.property(fc.dictionary(key, value), fc.nat(), (d, cut) => {
        const bytes = encode(new Map(Object.entries(d)) as Map<string, never>);
        check(bytes);
        check(bytes.subarray(0, cut % (bytes.length + 1)));
      }),
      { numRuns: 1000 },
    );
  });
});

const peer = (i: number, flags = 0): PexPeer => ({ host: `10.0.${Math.floor(i / 250)}.${(i % 250) + 1}`, port: 6881, flags });
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => peer(from + k));

describe('PexSender', () => {
  it('first message lists the current peers; then at most one message per interval, with the difference', () => {
    const s = new PexSender();
    expect(s.next([peer(1), peer(2)], 0)).toEqual({ added: [peer(1), peer(2)], dropped: [] });
    expect(s.next([peer(2), peer(3)], 59_999)).toBeNull();
    expect(s.next([peer(2), peer(3)], 60_000)).toEqual({ added: [peer(3)], dropped: [{ host: peer(1).host, port: 6881 }] });
  });

  it('says nothing when nothing changed, and that silence does not hold back the next change', () => {
    const s = new PexSender({ intervalMs: 1000 });
    expect(s.next([], 0)).toBeNull();
    expect(s.next([peer(1)], 1)).toEqual({ added: [peer(1)], dropped: [] });
    expect(s.next([peer(1)], 5000)).toBeNull();
    expect(s.next([peer(1), peer(2)], 5001)).toEqual({ added: [peer(2)], dropped: [] });
  });

  it('caps added and dropped at 50 each; the rest go in later messages', () => {
    const s = new PexSender();
    const all = range(0, 120);
    const sizes: number[] = [];
    for (let t = 0; t < 3 * 60_000 + 1; t += 60_000) sizes.push(s.next(all, t)?.added.length ?? 0);
    expect(sizes).toEqual([50, 50, 20, 0]);
    expect(s.toldCount).toBe(120);
    const dropped: number[] = [];
    for (let t = 4 * 60_000; t < 8 * 60_000; t += 60_000) dropped.push(s.next([], t)?.dropped.length ?? 0);
    expect(dropped).toEqual([50, 50, 20, 0]);
    expect(s.toldCount).toBe(0);
  });

  it('honours other caps and intervals', () => {
    const s = new PexSender({ intervalMs: 10, maxAdded: 2, maxDropped: 1 });
    expect(s.next(range(0, 5), 0)!.added).toHaveLength(2);
    expect(s.next(range(0, 5), 5)).toBeNull();
    expect(s.next([], 10)).toEqual({ added: [], dropped: [{ host: peer(0).host, port: 6881 }] });
  });

  it('adds a peer once until it is dropped, whatever its flags; spellings of one address are one peer', () => {
    const s = new PexSender({ intervalMs: 0 });
    expect(s.next([{ host: '127.2.3.4', port: 1, flags: 0 }, { host: '::ffff:127.2.3.4', port: 1, flags: 2 }], 0)!.added).toHaveLength(1);
    expect(s.next([{ host: '127.2.3.4', port: 1, flags: PEX_FLAGS.seed }], 1)).toBeNull();
    expect(s.next([{ host: '2001:db8::1', port: 1, flags: 0 }], 2)).toEqual({ added: [{ host: '2001:db8::1', port: 1, flags: 0 }], dropped: [{ host: '127.2.3.4', port: 1 }] });
    expect(s.next([{ host: '2001:0db8:0:0::1', port: 1, flags: 0 }], 3)).toBeNull();
  });

  it('never advertises what nobody can dial or write: hostnames, port 0', () => {
    const s = new PexSender();
    expect(s.next([{ host: 'example.org', port: 1, flags: 0 }, { host: '127.2.3.4', port: 0, flags: 0 }], 0)).toBeNull();
  });
});

/** Two connections' registries, each sending straight into the other's `receive`. */
function wire(opts: { aPex?: boolean; bPex?: boolean } = {}) {
  const heard: { a: [PexPeer[], PexAddress[]][]; b: [PexPeer[], PexAddress[]][] } = { a: [], b: [] };
  const box: { a?: ExtensionRegistry; b?: ExtensionRegistry } = {};
  let bytesAtoB = 0;
  const noop = () => ({ name: 'ut_other' });
  box.a = new ExtensionRegistry(opts.aPex === false ? [noop] : [noop, utPex({ onPeers: (x, y) => heard.a.push([[...x], [...y]]) })], {
    send: (id, payload) => {
      bytesAtoB += payload.length;
      box.b!.receive(id, payload);
    },
  });
  box.b = new ExtensionRegistry(opts.bPex === false ? [] : [utPex({ onPeers: (x, y) => heard.b.push([[...x], [...y]]) })], { send: (id, payload) => box.a!.receive(id, payload) });
  const shake = () => {
    box.b!.receive(0, box.a!.ourHandshake());
    box.a!.receive(0, box.b!.ourHandshake());
  };
  const pexOf = (r: ExtensionRegistry) => r.get('ut_pex') as UtPexPlugin;
  return { a: box.a, b: box.b, heard, shake, pexOf, sent: () => bytesAtoB };
}

describe('utPex plug-in, two registries in memory', () => {
  it('exchanges peers both ways once both announced ut_pex (ids differ on each side)', () => {
    const w = wire();
    w.shake();
    expect(w.a.localIds.get('ut_pex')).toBe(2);
    expect(w.b.localIds.get('ut_pex')).toBe(1);
    expect(w.pexOf(w.a).tick([peer(1, PEX_FLAGS.reachable), { host: '2001:db8::7', port: 7000, flags: PEX_FLAGS.utp }], 0)).toBe(true);
    expect(w.heard.b).toEqual([[[peer(1, PEX_FLAGS.reachable), { host: '2001:db8::7', port: 7000, flags: PEX_FLAGS.utp }], []]]);
    expect(w.pexOf(w.b).tick([peer(9)], 0)).toBe(true);
    expect(w.heard.a).toEqual([[[peer(9)], []]]);
    // Within the minute: nothing; after it, the difference.
    expect(w.pexOf(w.a).tick([peer(2)], 30_000)).toBe(false);
    expect(w.pexOf(w.a).tick([peer(2)], 60_000)).toBe(true);
    expect(w.heard.b[1]).toEqual([[peer(2)], [{ host: peer(1).host, port: 6881 }, { host: '2001:db8::7', port: 7000 }]]);
  });

  it('sends nothing to a peer without ut_pex, and keeps everything for when it announces it', () => {
    const w = wire();
    expect(w.pexOf(w.a).tick([peer(1), peer(2)], 0)).toBe(false);
    expect(w.sent()).toBe(0);
    w.shake();
    expect(w.pexOf(w.a).tick([peer(1), peer(2)], 1)).toBe(true);
    expect(w.heard.b).toEqual([[[peer(1), peer(2)], []]]);
  });

  it('a peer that turns ut_pex off in a later handshake gets nothing more', () => {
    const w = wire();
    w.shake();
    w.a.receive(0, encode(new Map([['m', new Map([['ut_pex', 0]])]])));
    expect(w.pexOf(w.a).tick([peer(1)], 0)).toBe(false);
    expect(w.sent()).toBe(0);
  });

  it('ignores a flood beyond the burst, without dropping the peer; the allowance comes back with time', () => {
    const w = wire();
    w.shake();
    const b = w.pexOf(w.b);
    const bId = w.a.remoteIds.get('ut_pex')!;
    const msg = (i: number) => encodePex({ added: [peer(i)], dropped: [] });
    b.tick([], 0);
    for (let i = 0; i < 100; i++) w.b.receive(bId, msg(i));
    expect(w.heard.b).toHaveLength(3);
    b.tick([], 29_999);
    w.b.receive(bId, msg(100));
    expect(w.heard.b).toHaveLength(3);
    b.tick([], 30_000);
    w.b.receive(bId, msg(101));
    w.b.receive(bId, msg(102));
    expect(w.heard.b.map(([added]) => added[0]!.host)).toEqual([peer(0).host, peer(1).host, peer(2).host, peer(101).host]);
    // A long quiet spell refills the burst, no more.
    b.tick([], 10 * 60_000);
    for (let i = 200; i < 210; i++) w.b.receive(bId, msg(i));
    expect(w.heard.b).toHaveLength(7);
  });

  it('a malformed message throws EXT_BAD_PEX out of the registry (the session drops the peer); port 0 entries are left out', () => {
    const w = wire();
    w.shake();
    const bId = w.a.remoteIds.get('ut_pex')!;
    expect(code(() => w.b.receive(bId, ascii('d5:added5:abcdee')))).toBe('network:EXT_BAD_PEX');
    w.b.receive(bId, encodePex({ added: [{ host: '127.2.3.4', port: 0, flags: 0 }], dropped: [{ host: '127.2.3.5', port: 0 }] }));
    expect(w.heard.b).toEqual([]);
    w.b.receive(bId, encodePex({ added: [{ host: '127.2.3.4', port: 0, flags: 0 }, peer(3)], dropped: [] }));
    expect(w.heard.b).toEqual([[[peer(3)], []]]);
  });
});
