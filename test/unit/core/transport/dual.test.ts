/**
 * `dialFirst` (transport/dual.ts): uTP first, TCP after a head start or at once when uTP fails,
 * the first connection wins and the other attempt is aborted or closed. Scripted transports whose
 * dials resolve when the test says so: no clock is read, and the head start is set either very
 * long (it must not matter) or zero.
 */
import { describe, expect, it } from 'vitest';
import { BtError } from '../../../../src/core/errors.js';
import { dialFirst } from '../../../../src/core/transport/dual.js';
import type { Connection, DialOptions, Endpoint, Transport, TransportKind } from '../../../../src/core/transport/types.js';

interface Attempt {
  signal: AbortSignal;
  connect(): FakeConn;
  fail(err: Error): void;
}

class FakeConn {
  closedCalls = 0;
  constructor(readonly kind: TransportKind) {}
  close(): void {
    this.closedCalls++;
  }
  closed = new Promise<void>(() => undefined);
}

/** A transport whose dials wait for the test: `attempts` lists them in the order they were made. */
function scripted(kind: TransportKind): Transport & { attempts: Attempt[]; next(): Promise<Attempt> } {
  const attempts: Attempt[] = [];
  let waiting: ((a: Attempt) => void) | undefined;
  return {
    kind,
    attempts,
    next() {
      const ready = attempts[attempts.length - 1];
      if (ready) return Promise.resolve(ready);
      return new Promise((resolve) => (waiting = resolve));
    },
    listen: () => Promise.reject(new Error('not used')),
    dial(_remote: Endpoint, options: DialOptions = {}): Promise<Connection> {
      return new Promise((resolve, reject) => {
        const signal = options.signal ?? new AbortController().signal;
        signal.addEventListener('abort', () => reject(signal.reason), { once: true });
        const attempt: Attempt = {
          signal,
          connect() {
            const c = new FakeConn(kind);
            resolve(c as unknown as Connection);
            return c;
          },
          fail: reject,
        };
        attempts.push(attempt);
        waiting?.(attempt);
        waiting = undefined;
      });
    },
  };
}

const peer = { host: '127.0.0.1', port: 6881 };
const LONG = 3_600_000;

describe('dialFirst', () => {
  it('uTP connecting within its head start wins; TCP is never dialed', async () => {
    const utp = scripted('utp');
    const tcp = scripted('tcp');
    const dialing = dialFirst(utp, tcp, peer, { headStartMs: LONG });
    (await utp.next()).connect();
    const conn = (await dialing) as unknown as FakeConn;
    expect(conn.kind).toBe('utp');
    expect(tcp.attempts).toHaveLength(0);
  });

  it('uTP silent: TCP is dialed after the head start and wins; the uTP attempt is aborted', async () => {
    const utp = scripted('utp');
    const tcp = scripted('tcp');
    const dialing = dialFirst(utp, tcp, peer, { headStartMs: 0 });
    const u = await utp.next();
    (await tcp.next()).connect();
    expect(((await dialing) as unknown as FakeConn).kind).toBe('tcp');
    expect(u.signal.aborted).toBe(true);
  });

  it('uTP failing starts TCP at once, whatever the head start', async () => {
    const utp = scripted('utp');
    const tcp = scripted('tcp');
    const dialing = dialFirst(utp, tcp, peer, { headStartMs: LONG });
    (await utp.next()).fail(new BtError('UTP_IPV6_UNSUPPORTED', 'network', 'no'));
    (await tcp.next()).connect();
    expect(((await dialing) as unknown as FakeConn).kind).toBe('tcp');
  });

  it('both connect at once: the first one is kept, the second closed (not leaked)', async () => {
    const utp = scripted('utp');
    const tcp = scripted('tcp');
    const dialing = dialFirst(utp, tcp, peer, { headStartMs: 0 });
    const u = await utp.next();
    const t = await tcp.next();
    // Both dials complete in the same turn, before either result is seen.
    t.connect();
    const late = u.connect();
    const kept = (await dialing) as unknown as FakeConn;
    await new Promise((r) => setImmediate(r));
    // TCP's result came first: it is kept; the uTP connection is closed.
    expect(kept.kind).toBe('tcp');
    expect(kept.closedCalls).toBe(0);
    expect(late.closedCalls).toBe(1);
  });

  it('both fail: rejects with the TCP error', async () => {
    const utp = scripted('utp');
    const tcp = scripted('tcp');
    const dialing = dialFirst(utp, tcp, peer, { headStartMs: 0 });
    const u = await utp.next();
    const t = await tcp.next();
    t.fail(new BtError('NET_ECONNREFUSED', 'network', 'refused'));
    u.fail(new BtError('NET_ETIMEDOUT', 'network', 'timed out'));
    await expect(dialing).rejects.toMatchObject({ code: 'NET_ECONNREFUSED' });
  });

  it("the caller's signal aborts both attempts and rejects with its reason", async () => {
    const utp = scripted('utp');
    const tcp = scripted('tcp');
    const ctl = new AbortController();
    const dialing = dialFirst(utp, tcp, peer, { headStartMs: 0, signal: ctl.signal });
    const u = await utp.next();
    const t = await tcp.next();
    ctl.abort(new BtError('NET_CONNECT_TIMEOUT', 'network', 'connect timed out'));
    await expect(dialing).rejects.toMatchObject({ code: 'NET_CONNECT_TIMEOUT' });
    expect(u.signal.aborted && t.signal.aborted).toBe(true);
  });

  it('a caller abort during the head start rejects at once, without dialing TCP', async () => {
    const utp = scripted('utp');
    const tcp = scripted('tcp');
    const ctl = new AbortController();
    const dialing = dialFirst(utp, tcp, peer, { headStartMs: LONG, signal: ctl.signal });
    await utp.next();
    ctl.abort(new BtError('SESSION_STOPPED', 'interrupted', 'stopped'));
    await expect(dialing).rejects.toMatchObject({ code: 'SESSION_STOPPED' });
    expect(tcp.attempts).toHaveLength(0);
  });
});
