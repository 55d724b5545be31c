/** Per-connection state: BEP 3 choke/interest, BEP 6 request rules, message order, liveness. */
import { describe, expect, it } from 'vitest';
import { ConnectionState, type Features } from '../../../../src/core/wire/state.js';

const PLAIN: Features = { fast: false, extended: false, dht: false };
const FAST: Features = { fast: true, extended: true, dht: false };

describe('choke and interest', () => {
  it('starts choked and not interested on both sides', () => {
    const s = new ConnectionState(PLAIN);
    expect([s.amChoking, s.amInterested, s.peerChoking, s.peerInterested]).toEqual([true, false, true, false]);
  });

  it('tracks what the peer says and what we say separately', () => {
    const s = new ConnectionState(PLAIN);
    s.receive({ type: 'unchoke' });
    s.receive({ type: 'interested' });
    expect([s.peerChoking, s.peerInterested, s.amChoking, s.amInterested]).toEqual([false, true, true, false]);
    s.sent({ type: 'interested' });
    s.sent({ type: 'unchoke' });
    expect([s.amChoking, s.amInterested]).toEqual([false, true]);
    s.receive({ type: 'not-interested' });
    s.sent({ type: 'not-interested' });
    expect([s.peerInterested, s.amInterested]).toEqual([false, false]);
  });

  it('without BEP 6 a choke voids our requests; with BEP 6 it does not', () => {
    expect(new ConnectionState(PLAIN).receive({ type: 'choke' })).toBe('drop-our-requests');
    expect(new ConnectionState(FAST).receive({ type: 'choke' })).toBe('none');
  });

  it('choking the peer discards (BEP 3) or rejects (BEP 6) its queued requests, once', () => {
    const plain = new ConnectionState(PLAIN);
    plain.sent({ type: 'unchoke' });
    expect(plain.sent({ type: 'choke' })).toBe('discard-their-requests');
    expect(plain.sent({ type: 'choke' })).toBe('none');
    const fast = new ConnectionState(FAST);
    fast.sent({ type: 'unchoke' });
    expect(fast.sent({ type: 'choke' })).toBe('reject-their-requests');
  });
});

describe('requests', () => {
  it('serves requests only while unchoking the peer, else ignores (BEP 3) or rejects (BEP 6)', () => {
    const req = { type: 'request', index: 4, begin: 0, length: 16384 } as const;
    expect(new ConnectionState(PLAIN).receive(req)).toBe('ignore');
    expect(new ConnectionState(FAST).receive(req)).toBe('reject');
    const s = new ConnectionState(FAST);
    s.sent({ type: 'unchoke' });
    expect(s.receive(req)).toBe('serve');
  });

  it('serves allowed-fast pieces while choking a BEP 6 peer', () => {
    const s = new ConnectionState(FAST);
    s.sent({ type: 'allowed-fast', index: 4 });
    expect(s.receive({ type: 'request', index: 4, begin: 0, length: 16384 })).toBe('serve');
    expect(s.receive({ type: 'request', index: 5, begin: 0, length: 16384 })).toBe('reject');
  });

  it('lets us request allowed-fast pieces while the peer chokes us', () => {
    const s = new ConnectionState(FAST);
    expect(s.canRequest(2)).toBe(false);
    s.receive({ type: 'allowed-fast', index: 2 });
    expect([s.canRequest(2), s.canRequest(3)]).toEqual([true, false]);
    s.receive({ type: 'unchoke' });
    expect(s.canRequest(3)).toBe(true);
  });

  it('remembers a bounded number of allowed-fast pieces', () => {
    const s = new ConnectionState(FAST);
    for (let i = 0; i < 1000; i++) s.receive({ type: 'allowed-fast', index: i });
    expect(s.allowedFastIn.size).toBe(256);
  });
});

describe('protocol violations', () => {
  it.each(['suggest', 'have-all', 'have-none', 'reject', 'allowed-fast'] as const)('refuses BEP 6 %s without BEP 6', (type) => {
    const s = new ConnectionState(PLAIN);
    const m = type === 'reject' ? { type, index: 0, begin: 0, length: 1 } : type === 'suggest' || type === 'allowed-fast' ? { type, index: 0 } : { type };
    expect(() => s.receive(m)).toThrow(expect.objectContaining({ code: 'WIRE_FAST_NOT_NEGOTIATED', category: 'network' }));
  });

  it('refuses extended messages without BEP 10', () => {
    expect(() => new ConnectionState(PLAIN).receive({ type: 'extended', id: 0, payload: new Uint8Array() })).toThrow(
      expect.objectContaining({ code: 'WIRE_EXTENDED_NOT_NEGOTIATED' }),
    );
  });

  it('accepts a piece set after the extended handshake, and none after have all', () => {
    const s = new ConnectionState(FAST);
    s.receive({ type: 'keep-alive' });
    s.receive({ type: 'extended', id: 0, payload: new Uint8Array() });
    expect(s.receive({ type: 'have-all' })).toBe('none');
    // A seed does not lose pieces: a later piece set would rewrite what the picker counted.
    expect(() => s.receive({ type: 'bitfield', bits: new Uint8Array(1) })).toThrow(expect.objectContaining({ code: 'WIRE_UNEXPECTED_BITFIELD', category: 'network' }));
    expect(() => s.receive({ type: 'have-all' })).toThrow(expect.objectContaining({ code: 'WIRE_UNEXPECTED_BITFIELD' }));
    expect(() => s.receive({ type: 'have-none' })).toThrow(expect.objectContaining({ code: 'WIRE_UNEXPECTED_BITFIELD' }));
  });

  it('refuses have none after the opening (it would take back pieces)', () => {
    const afterBitfield = new ConnectionState(FAST);
    afterBitfield.receive({ type: 'bitfield', bits: new Uint8Array(1) });
    expect(() => afterBitfield.receive({ type: 'have-none' })).toThrow(expect.objectContaining({ code: 'WIRE_UNEXPECTED_BITFIELD' }));
    const afterHave = new ConnectionState(FAST);
    afterHave.receive({ type: 'have', index: 0 });
    expect(() => afterHave.receive({ type: 'have-none' })).toThrow(expect.objectContaining({ code: 'WIRE_UNEXPECTED_BITFIELD' }));
    const twice = new ConnectionState(FAST);
    twice.receive({ type: 'have-none' });
    expect(() => twice.receive({ type: 'have-none' })).toThrow(expect.objectContaining({ code: 'WIRE_UNEXPECTED_BITFIELD' }));
  });
});

// Issue 13: aria2c 1.36 leeching from `btkit seed` was dropped dozens of times with
// WIRE_UNEXPECTED_BITFIELD. Each time aria2c tells a peer about finished pieces it sends a
// bitfield instead of the haves when that is no longer (5 + bitfield bytes <= 9 per have), and
// have all once complete. These are the message orders of its connections, from its debug log.
describe('issue 13: aria2c 1.36 sends bitfields and have all at any time', () => {
  const bits = (b: number) => ({ type: 'bitfield', bits: Uint8Array.of(b) }) as const;

  it('bitfield, allowed fast, interested, then a second bitfield', () => {
    const s = new ConnectionState(FAST);
    s.receive({ type: 'extended', id: 0, payload: new Uint8Array() });
    expect(s.receive(bits(0x10))).toBe('none');
    for (const index of [658, 629, 432]) s.receive({ type: 'allowed-fast', index });
    s.receive({ type: 'interested' });
    expect(s.receive(bits(0x18))).toBe('none');
    expect(s.peerInterested).toBe(true);
  });

  it('have none, haves, a bitfield, more haves, another bitfield, then have all', () => {
    const s = new ConnectionState(FAST);
    s.receive({ type: 'have-none' });
    s.receive({ type: 'interested' });
    s.receive({ type: 'have', index: 2 });
    expect(s.receive(bits(0x30))).toBe('none');
    s.receive({ type: 'have', index: 1 });
    s.receive({ type: 'request', index: 0, begin: 0, length: 16384 });
    expect(s.receive(bits(0x78))).toBe('none');
    expect(s.receive({ type: 'have-all' })).toBe('none');
  });

  it('haves, not interested, then have all (its download finished)', () => {
    const s = new ConnectionState(FAST);
    s.receive(bits(0xf7));
    s.receive({ type: 'interested' });
    s.receive({ type: 'have', index: 4 });
    s.receive({ type: 'not-interested' });
    expect(s.receive({ type: 'have-all' })).toBe('none');
  });

  it('without BEP 6 too: a plain peer may send its bitfield again after haves', () => {
    const s = new ConnectionState(PLAIN);
    s.receive({ type: 'have', index: 1 });
    expect(s.receive(bits(0xc0))).toBe('none');
  });
});

describe('liveness', () => {
  it('notices a silent peer and when a keep-alive is due, on the caller clock', () => {
    const s = new ConnectionState(PLAIN, 1000);
    expect(s.isSilent(1000 + 119_999)).toBe(false);
    expect(s.isSilent(1000 + 120_000)).toBe(true);
    s.receive({ type: 'keep-alive' }, 100_000);
    expect(s.isSilent(1000 + 120_000)).toBe(false);
    s.touchReceived(200_000);
    expect(s.isSilent(300_000)).toBe(false);
    expect(s.keepAliveDue(1000 + 89_999)).toBe(false);
    expect(s.keepAliveDue(1000 + 90_000)).toBe(true);
    s.sent({ type: 'keep-alive' }, 91_000);
    expect(s.keepAliveDue(100_000)).toBe(false);
  });
});
