/**
 * The session's address book: one entry per address whatever the sources, back-off after a
 * failure or an ended connection (2, 5, 15, 30, 60 s), forgotten after the last step unless the
 * user gave the address, never dialed again once it turned out to be us or got banned.
 */
import { describe, expect, it } from 'vitest';
import { BACKOFF_MS, type Candidate, keyOf, PeerBook } from '../../../../src/core/session/peer-book.js';

const A = { host: '127.0.0.1', port: 6881 };
const B = { host: '::1', port: 6882 };
const keys = (book: PeerBook, now: number) => [...book.due(now)].map((c) => c.key);

function dialAndFail(book: PeerBook, c: Candidate, now: number): void {
  c.state = 'connecting';
  book.dialFailed(c, now);
}

describe('PeerBook', () => {
  it('keys addresses as host:port, IPv6 in brackets, and keeps one entry per address', () => {
    expect(keyOf(A)).toBe('127.0.0.1:6881');
    expect(keyOf(B)).toBe('[::1]:6882');
    const book = new PeerBook();
    book.add(A, 'tracker', 0);
    book.add(B, 'tracker', 0);
    book.add(A, 'incoming', 0);
    expect(book.size).toBe(2);
    expect(keys(book, 0)).toEqual(['127.0.0.1:6881', '[::1]:6882']);
  });

  it('backs off 2, 5, 15, 30, 60 s after each failed dial, then forgets the address', () => {
    const book = new PeerBook();
    book.add(A, 'tracker', 0);
    let now = 0;
    for (const wait of BACKOFF_MS) {
      const c = [...book.due(now)][0]!;
      dialAndFail(book, c, now);
      expect(keys(book, now + wait - 1)).toEqual([]);
      expect(keys(book, now + wait)).toEqual([keyOf(A)]);
      now += wait;
    }
    dialAndFail(book, [...book.due(now)][0]!, now);
    expect(book.size).toBe(0);
  });

  it('an address the user gave (manual) is retried forever, every 60 s at most', () => {
    const book = new PeerBook();
    book.add(A, 'tracker', 0);
    book.add(A, 'manual', 0); // the user naming it too makes it sticky
    let now = 0;
    for (let i = 0; i < 20; i++) {
      dialAndFail(book, [...book.due(now)][0]!, now);
      now += 60_000;
    }
    expect(book.size).toBe(1);
    expect([...book.due(now)][0]!.failures).toBe(20);
  });

  it('a source listing an address again makes an idle one due now', () => {
    const book = new PeerBook();
    book.add(A, 'tracker', 0);
    dialAndFail(book, [...book.due(0)][0]!, 0);
    expect(keys(book, 1000)).toEqual([]);
    book.add(A, 'tracker', 1000);
    expect(keys(book, 1000)).toEqual([keyOf(A)]);
  });

  it('a connection resets the failures; its end backs off like a failure; only a connected one', () => {
    const book = new PeerBook();
    book.add(A, 'tracker', 0);
    const c = [...book.due(0)][0]!;
    dialAndFail(book, c, 0);
    c.state = 'connecting';
    book.connected(c);
    expect(c).toMatchObject({ state: 'connected', failures: 0 });
    expect(keys(book, 10_000)).toEqual([]);
    book.disconnected(c, 10_000);
    expect(c).toMatchObject({ state: 'idle', failures: 1, retryAt: 12_000 });
    book.disconnected(c, 20_000); // not connected any more: nothing happens
    expect(c.failures).toBe(1);
    book.dialFailed(c, 20_000); // idle, not dialing: nothing happens either
    expect(c.failures).toBe(1);
  });

  it('ourselves and banned peers are never due again', () => {
    const book = new PeerBook();
    book.add(A, 'tracker', 0);
    book.add(B, 'tracker', 0);
    const [a, b] = [...book.due(0)];
    book.exclude(a!, 'self');
    book.exclude(b!, 'banned');
    expect(keys(book, 1e9)).toEqual([]);
    book.add(A, 'tracker', 5);
    expect(keys(book, 1e9)).toEqual([]);
    expect(book.size).toBe(2);
  });
});
