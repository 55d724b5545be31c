/**
 * The connection manager's memory of which transport reached a peer (connections.ts,
 * `TransportMemory` in transport/dual.ts), with scripted transports whose dials resolve when the
 * test says so and a clock the test moves: with TCP and uTP both on, a peer TCP reached is redialed
 * over TCP alone (no uTP head start paid again), one uTP reached is dialed over uTP first, and a
 * failed dial makes the next one try both again. And a peer connected to us over TCP whose BEP 10
 * handshake gives its listening port is not dialed (over uTP or TCP) while that connection lasts.
 */
import { describe, expect, it } from 'vitest';
import { BtError } from '../../../../src/core/errors.js';
import { ConnectionManager } from '../../../../src/core/session/connections.js';
import { type Candidate, PeerBook } from '../../../../src/core/session/peer-book.js';
import { TransportMemory } from '../../../../src/core/transport/dual.js';
import type { Connection, DialOptions, Endpoint, RemoteEndpoint, Transport, TransportKind } from '../../../../src/core/transport/types.js';

/** A connection that ends at once: its handshake fails, so the manager backs the address off. */
class DeadConn implements Connection {
  readonly local = { host: '127.0.0.1', port: 1 };
  readonly bufferedAmount = 0;
  readonly closed: Promise<void>;
  private resolveClosed!: () => void;
  constructor(
    readonly remote: RemoteEndpoint,
    readonly direction: 'outgoing' | 'incoming',
  ) {
    this.closed = new Promise((r) => (this.resolveClosed = r));
  }
  write(_data: Uint8Array, onWritten?: () => void): boolean {
    onWritten?.();
    return true;
  }
  drained(): Promise<void> {
    return Promise.resolve();
  }
  end(): Promise<void> {
    return Promise.resolve();
  }
  close(): void {
    this.resolveClosed();
  }
  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {}
}

interface Attempt {
  remote: Endpoint;
  connect(): void;
  fail(): void;
}

/** A transport whose dials wait for the test; `next()` gives the next attempt made. */
function scripted(kind: TransportKind): Transport & { attempts: Attempt[]; next(): Promise<Attempt> } {
  const attempts: Attempt[] = [];
  let taken = 0;
  let waiting: (() => void) | undefined;
  return {
    kind,
    attempts,
    async next() {
      for (let i = 0; i < 10_000 && attempts.length <= taken; i++) await new Promise<void>((r) => (waiting = r));
      return attempts[taken++]!;
    },
    listen: () => Promise.reject(new Error('not used')),
    dial(remote: Endpoint, options: DialOptions = {}): Promise<Connection> {
      return new Promise((resolve, reject) => {
        options.signal?.addEventListener('abort', () => reject(options.signal!.reason), { once: true });
        attempts.push({
          remote,
          connect: () => resolve(new DeadConn({ ...remote, transport: kind }, 'outgoing')),
          fail: () => reject(new BtError('NET_ECONNREFUSED', 'network', 'refused')),
        });
        const w = waiting;
        waiting = undefined;
        w?.();
      });
    },
  };
}

const peer = { host: '127.0.0.1', port: 6881 };

function manager(clock: { t: number }, signal: AbortSignal) {
  const utp = scripted('utp');
  const tcp = scripted('tcp');
  const book = new PeerBook();
  const mgr = new ConnectionManager({
    infoHash: new Uint8Array(20),
    peerId: new Uint8Array(20).fill(1),
    transports: [tcp, utp],
    utpHeadStartMs: 3_600_000,
    book,
    now: () => clock.t,
    signal,
    handshakeTimeoutMs: 60_000,
    wireOptions: () => ({ wire: {} }),
    connected: () => 0,
    connectedAs: () => null,
    replace: () => undefined,
    wantsPeers: () => true,
    onPeer: () => undefined,
    onWarning: () => undefined,
  });
  book.add(peer, 'manual', clock.t);
  const candidate = [...book.due(clock.t)][0]!;
  return { utp, tcp, book, mgr, candidate };
}

/** Until the candidate is idle again (its dial or handshake failed), bounded. */
async function idle(c: Candidate): Promise<void> {
  for (let i = 0; i < 10_000 && c.state !== 'idle'; i++) await new Promise((r) => setImmediate(r));
  expect(c.state).toBe('idle');
}

describe('which transport a redial uses (TCP and uTP both on)', () => {
  it('a peer TCP reached after uTP failed is redialed over TCP alone; a failed TCP redial makes the next one try uTP first again', async () => {
    const clock = { t: 0 };
    const ctl = new AbortController();
    const { utp, tcp, mgr, candidate } = manager(clock, ctl.signal);
    mgr.connectMore();
    (await utp.next()).fail(); // uTP refused: TCP at once
    (await tcp.next()).connect();
    await idle(candidate); // the dead connection's handshake failed
    expect(mgr.transportMemory.get(candidate.key)).toBe('tcp');

    clock.t += 60_000;
    mgr.connectMore();
    (await tcp.next()).fail();
    expect(utp.attempts.length).toBe(1); // no uTP attempt, no head start
    await idle(candidate);
    expect(mgr.transportMemory.get(candidate.key)).toBeUndefined();

    clock.t += 60_000;
    mgr.connectMore();
    const third = await utp.next(); // both again, uTP first
    expect(utp.attempts.length).toBe(2);
    expect(tcp.attempts.length).toBe(2); // TCP waits for the (long) head start
    third.fail();
    (await tcp.next()).fail();
    await idle(candidate);
    ctl.abort();
  });

  it('a peer uTP reached is dialed over uTP first again', async () => {
    const clock = { t: 0 };
    const ctl = new AbortController();
    const { utp, tcp, mgr, candidate } = manager(clock, ctl.signal);
    mgr.connectMore();
    (await utp.next()).connect();
    await idle(candidate);
    expect(mgr.transportMemory.get(candidate.key)).toBe('utp');
    clock.t += 60_000;
    mgr.connectMore();
    (await utp.next()).connect();
    await idle(candidate);
    expect([utp.attempts.length, tcp.attempts.length]).toEqual([2, 0]);
    ctl.abort();
  });

  it('a peer connected to us over TCP that gave its listening port is not dialed while connected, and is once it is gone', async () => {
    const clock = { t: 0 };
    const ctl = new AbortController();
    const { utp, tcp, mgr } = manager(clock, ctl.signal);
    // Its TCP connection comes from an ephemeral port; its BEP 10 handshake says it listens on 6881.
    const incoming = new DeadConn({ host: peer.host, port: 50_000, transport: 'tcp' }, 'incoming');
    mgr.listensAt(incoming, peer.port);
    mgr.connectMore();
    for (let i = 0; i < 100; i++) await new Promise((r) => setImmediate(r));
    expect([utp.attempts.length, tcp.attempts.length]).toEqual([0, 0]);
    incoming.close();
    await incoming.closed;
    await new Promise((r) => setImmediate(r));
    mgr.connectMore();
    (await utp.next()).fail();
    (await tcp.next()).fail();
    ctl.abort();
  });
});

describe('TransportMemory', () => {
  it('remembers the last transport per address, forgets on failure, and drops the oldest past its limit', () => {
    const m = new TransportMemory(2);
    m.reached('a:1', 'tcp');
    m.reached('b:1', 'utp');
    expect([m.get('a:1'), m.get('b:1')]).toEqual(['tcp', 'utp']);
    m.reached('a:1', 'utp'); // heard again: now the newest
    m.reached('c:1', 'tcp'); // past the limit: b, the oldest, goes
    expect([m.get('a:1'), m.get('b:1'), m.get('c:1')]).toEqual(['utp', undefined, 'tcp']);
    expect(m.size).toBe(2);
    m.failed('a:1');
    expect(m.get('a:1')).toBeUndefined();
  });
});
