/**
 * The DHT as a peer source (session/dht-source.ts, DhtSource) alone, over a fake DhtNode that
 * records lookups, announces and pings and answers as each test scripts, and a fake
 * PeerSourceContext. No socket.
 *
 * Rounds are spaced by timers: those tests run on vitest's fake clock and count rounds in fake
 * time (nothing is measured). `stop` is bounded by a real timer, so its tests run on real timers
 * and wait for the promise.
 *
 * What it must do: each round, `get_peers` (a lookup) whose peers go to `ctx.addPeers`, then
 * `announce_peer` with the port we accept peers on (not when we do not listen, nor for a
 * lookup-only run), and one `dht` event; rounds again after 20 s while we have no peer, 5 minutes
 * when we have some, a failing node included (no busy loop); the BEP 5 `port` message's node
 * pinged once, at most 256 of them, none after stop; stop ends a round in flight and settles by
 * its deadline even when the node does not.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BtError } from '../../../../src/core/errors.js';
import type { AnnounceOptions, DhtNode, LookupOptions } from '../../../../src/core/dht/node.js';
import type { AnnounceResult, LookupEvent } from '../../../../src/core/dht/types.js';
import { DhtSource, type DhtSourceOptions } from '../../../../src/core/session/dht-source.js';
import type { PeerSourceContext, SessionEvent } from '../../../../src/core/session/types.js';
import type { Endpoint } from '../../../../src/core/transport/types.js';

const infoHash = Buffer.alloc(20, 7);

const peerEvent = (host: string, port: number): LookupEvent =>
  ({ type: 'peer', peer: { host, port, family: 4 }, from: { host: '127.0.0.9', port: 6881, family: 4, id: null }, atMs: 1 }) as LookupEvent;
const doneEvent = { type: 'done', reason: 'complete' } as unknown as LookupEvent;

const announced = (accepted: number, port: number): AnnounceResult => ({
  infoHash: infoHash.toString('hex'),
  port,
  impliedPort: false,
  attempted: accepted,
  accepted,
  failures: [],
});

interface Lookup {
  infoHash: Uint8Array;
  options: LookupOptions;
  at: number;
}

interface Script {
  lookup?: (options: LookupOptions) => AsyncIterable<LookupEvent>;
  announce?: (options: AnnounceOptions) => Promise<AnnounceResult>;
  ping?: () => Promise<string | null>;
}

async function* events(list: LookupEvent[]): AsyncIterable<LookupEvent> {
  for (const e of list) yield e;
}

/** A lookup that never ends, and ignores its signal (a stuck node). */
async function* stuck(): AsyncIterable<LookupEvent> {
  await new Promise(() => undefined);
}

/** A lookup that ends when its signal fires (as the real node does). */
async function* untilAborted(options: LookupOptions): AsyncIterable<LookupEvent> {
  await new Promise<void>((resolve) => options.signal!.addEventListener('abort', () => resolve(), { once: true }));
  throw options.signal!.reason as Error;
}

function harness(script: Script = {}, extra: Partial<DhtSourceOptions> = {}, port = 6881) {
  const lookups: Lookup[] = [];
  const announces: { infoHash: Uint8Array; options: AnnounceOptions }[] = [];
  const pings: { host: string; port: number; signal: AbortSignal | undefined }[] = [];
  const node = {
    port: 7777,
    lookup: (ih: Uint8Array, options: LookupOptions) => {
      lookups.push({ infoHash: ih, options, at: Date.now() });
      return (script.lookup ?? (() => events([peerEvent('127.0.1.1', 6881), peerEvent('127.0.1.2', 6882), doneEvent])))(options);
    },
    announce: (ih: Uint8Array, options: AnnounceOptions) => {
      announces.push({ infoHash: ih, options });
      return (script.announce ?? (async (o) => announced(3, o.port ?? 0)))(options);
    },
    ping: (host: string, p: number, o: { signal?: AbortSignal } = {}) => {
      pings.push({ host, port: p, signal: o.signal });
      return (script.ping ?? (async () => 'id'))();
    },
  } as unknown as DhtNode;
  const added: Endpoint[] = [];
  const emitted: SessionEvent[] = [];
  const abort = new AbortController();
  const state = { connected: 0 };
  const ctx: PeerSourceContext = {
    addPeers: (peers) => added.push(...peers),
    totals: () => ({ uploaded: 0, downloaded: 0, left: 0 }),
    port,
    connectedPeers: () => state.connected,
    emit: (e) => emitted.push(e),
    signal: abort.signal,
  };
  const source = new DhtSource({ node, infoHash, ...extra });
  const dhtEvents = () => emitted.filter((e) => e.type === 'dht');
  return { source, ctx, lookups, announces, pings, added, dhtEvents, abort, state };
}

describe('DhtSource on a fake clock', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('a round: get_peers to addPeers, announce_peer with our port, one dht event', async () => {
    vi.useFakeTimers({ now: 0 });
    const h = harness({}, { lookupTimeoutMs: 4_000 });
    expect(h.source.dhtPort).toBe(7777);
    h.source.start(h.ctx);
    await vi.advanceTimersByTimeAsync(0);
    expect(h.lookups).toHaveLength(1);
    expect(Buffer.from(h.lookups[0]!.infoHash).equals(infoHash)).toBe(true);
    expect(h.lookups[0]!.options.timeoutMs).toBe(4_000);
    expect(h.added).toEqual([
      { host: '127.0.1.1', port: 6881 },
      { host: '127.0.1.2', port: 6882 },
    ]);
    expect(h.announces).toHaveLength(1);
    expect(Buffer.from(h.announces[0]!.infoHash).equals(infoHash)).toBe(true);
    expect(h.announces[0]!.options).toMatchObject({ port: 6881, timeoutMs: 4_000 });
    expect(h.announces[0]!.options.signal).toBeDefined();
    expect(h.dhtEvents()).toEqual([{ type: 'dht', peers: 2, announced: 3, error: null }]);
    h.abort.abort();
  });

  it('does not announce when we do not listen, nor in a lookup-only run', async () => {
    vi.useFakeTimers({ now: 0 });
    const noPort = harness({}, {}, 0);
    noPort.source.start(noPort.ctx);
    const lookupOnly = harness({}, { announce: false });
    lookupOnly.source.start(lookupOnly.ctx);
    await vi.advanceTimersByTimeAsync(0);
    for (const h of [noPort, lookupOnly]) {
      expect(h.lookups).toHaveLength(1);
      expect(h.added).toHaveLength(2);
      expect(h.announces).toEqual([]);
      expect(h.dhtEvents()).toEqual([{ type: 'dht', peers: 2, announced: null, error: null }]);
      h.abort.abort();
    }
  });

  it('looks again every 20 s while we have no peer, every 5 minutes when we have some', async () => {
    vi.useFakeTimers({ now: 0 });
    const h = harness();
    h.source.start(h.ctx);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(h.lookups.map((l) => l.at)).toEqual([0, 20_000, 40_000, 60_000]);
    h.state.connected = 2;
    await vi.advanceTimersByTimeAsync(80_000 + 5 * 60_000 - 1 - 60_000);
    expect(h.lookups.map((l) => l.at)).toEqual([0, 20_000, 40_000, 60_000, 80_000]);
    await vi.advanceTimersByTimeAsync(1);
    expect(h.lookups.map((l) => l.at)).toEqual([0, 20_000, 40_000, 60_000, 80_000, 380_000]);
    expect(h.dhtEvents()).toHaveLength(6);
    h.abort.abort();
  });

  it('a failing node costs one error event per round, at the same pace: no busy loop', async () => {
    vi.useFakeTimers({ now: 0 });
    let round = 0;
    const h = harness(
      {
        lookup: () => {
          round++;
          if (round === 1) throw new BtError('DHT_FAILED', 'network', 'the node is closed');
          return events([peerEvent('127.0.1.3', 1000)]);
        },
        announce: async () => {
          throw new Error('no tokens');
        },
      },
      { eagerIntervalMs: 1_000, intervalMs: 10_000 },
    );
    h.source.start(h.ctx);
    await vi.advanceTimersByTimeAsync(10_000);
    // Both rounds failed (the first lookup, then the second round's announce after its peer): a round a second.
    expect(h.lookups).toHaveLength(11);
    expect(h.dhtEvents()[0]).toEqual({ type: 'dht', peers: 0, announced: null, error: { code: 'DHT_FAILED', message: 'the node is closed' } });
    expect(h.dhtEvents()[1]).toEqual({ type: 'dht', peers: 1, announced: null, error: { code: 'DHT_FAILED', message: 'no tokens' } });
    expect(h.added).toHaveLength(10);
    h.abort.abort();
  });

  it("the context's abort ends the rounds", async () => {
    vi.useFakeTimers({ now: 0 });
    const h = harness();
    h.source.start(h.ctx);
    await vi.advanceTimersByTimeAsync(1_000);
    h.abort.abort();
    await vi.advanceTimersByTimeAsync(3_600_000);
    expect(h.lookups).toHaveLength(1);
  });
  it('stop during the wait between rounds ends it at once, not when the wait is over', async () => {
    vi.useFakeTimers({ now: 0 });
    const h = harness();
    h.source.start(h.ctx);
    await vi.advanceTimersByTimeAsync(0);
    expect(h.dhtEvents()).toHaveLength(1);
    // The next round is 20 s away, the deadline 60 s: on the fake clock neither comes unless the loop ends.
    let ended = false;
    const stopping = h.source.stop(60_000).then(() => (ended = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(ended).toBe(true);
    await stopping;
    expect(h.lookups).toHaveLength(1);
  });
});

describe('DhtSource: the BEP 5 port message and stop', () => {
  it('pings a node a peer told us of, once, at most 256 of them, and none after stop', async () => {
    const h = harness({ ping: async () => Promise.reject(new BtError('DHT_FAILED', 'network', 'no answer')) });
    h.source.nodeSeen('127.0.1.5', 6881);
    h.source.nodeSeen('127.0.1.5', 6881);
    h.source.nodeSeen('127.0.1.5', 6882);
    expect(h.pings.map((p) => `${p.host}:${p.port}`)).toEqual(['127.0.1.5:6881', '127.0.1.5:6882']);
    for (let i = 0; i < 300; i++) h.source.nodeSeen('127.0.2.1', 10_000 + i);
    expect(h.pings).toHaveLength(256);
    // A rejected ping is swallowed (an unhandled rejection would fail this file).
    await new Promise((r) => setImmediate(r));
    await h.source.stop(10);
    expect(h.pings[0]!.signal!.aborted).toBe(true);
    const g = harness();
    await g.source.stop(10);
    g.source.nodeSeen('127.0.1.6', 6881);
    expect(g.pings).toEqual([]);
  });

  it('stop ends a lookup in flight: no announce, no event, no further round', async () => {
    let asked!: () => void;
    const lookupStarted = new Promise<void>((r) => (asked = r));
    const h = harness({
      lookup: (o) => {
        asked();
        return untilAborted(o);
      },
    });
    h.source.start(h.ctx);
    await lookupStarted;
    await h.source.stop(60_000);
    expect(h.lookups[0]!.options.signal!.aborted).toBe(true);
    expect(h.announces).toEqual([]);
    expect(h.dhtEvents()).toEqual([]);
    expect(h.lookups).toHaveLength(1);
  });

  it('stop settles by its deadline even when the node never ends its lookup', async () => {
    let asked!: () => void;
    const lookupStarted = new Promise<void>((r) => (asked = r));
    const h = harness({
      lookup: () => {
        asked();
        return stuck();
      },
    });
    h.source.start(h.ctx);
    await lookupStarted;
    await h.source.stop(20);
    expect(h.lookups[0]!.options.signal!.aborted).toBe(true);
    expect(h.dhtEvents()).toEqual([]);
  });
});
