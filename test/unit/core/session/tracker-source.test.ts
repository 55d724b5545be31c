/**
 * Trackers as a peer source (session/tracker-source.ts, TrackerSource) alone, over a fake
 * TrackerClient that records every announce and answers as each test scripts, and a fake
 * PeerSourceContext. No socket.
 *
 * The source waits between announces on timers; those tests run on vitest's fake clock (the time
 * of each announce is read from the fake clock, so the schedule is checked exactly and no test
 * depends on how fast the machine is). `stop` is bounded by a real AbortSignal.timeout, so its
 * tests run on real timers and wait for the promise, not for a duration.
 *
 * What it must do: `started`, then `none` at the tracker's interval (sooner, doubling, while we
 * have no peer, never below `min interval`), `completed` at once when told, `stopped` on stop
 * (bounded by the stop deadline, only after a `started` went through); trackers in BEP 12 tier
 * order, falling back on failure; peers to `ctx.addPeers`; the `tracker id` sent back; an abort
 * ends it.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BtError } from '../../../../src/core/errors.js';
import { TrackerSource, type TrackerSourceOptions } from '../../../../src/core/session/tracker-source.js';
import type { PeerSourceContext, SessionEvent } from '../../../../src/core/session/types.js';
import { type AnnounceParams, type AnnounceResult, type RequestOptions, type TrackerClient, TrackerTiers } from '../../../../src/core/tracker/index.js';
import type { Endpoint } from '../../../../src/core/transport/types.js';

interface Call {
  url: string;
  params: AnnounceParams;
  options: RequestOptions;
  at: number;
}

type Script = (url: string, params: AnnounceParams, options: RequestOptions) => Promise<AnnounceResult>;

const result = (url: string, o: Partial<AnnounceResult> = {}): AnnounceResult => ({ url, protocol: 'http', rttMs: 1, interval: 60, peers: [], ...o });
const refused = (url: string) => new BtError('TRACKER_FAILED', 'network', `${url} refused`);

/** Resolves never; rejects with the abort reason when the announce's signal fires. */
const hang: Script = (_u, _p, options) =>
  new Promise((_resolve, reject) => {
    const s = options.signal!;
    if (s.aborted) reject(s.reason as Error);
    s.addEventListener('abort', () => reject(s.reason as Error), { once: true });
  });

function harness(tiers: string[][], script: Script, extra: Partial<TrackerSourceOptions> = {}) {
  const calls: Call[] = [];
  const client = {
    announce: (url: string, params: AnnounceParams, options: RequestOptions) => {
      calls.push({ url, params, options, at: Date.now() });
      return script(url, params, options);
    },
  } as unknown as TrackerClient;
  const added: Endpoint[] = [];
  const events: SessionEvent[] = [];
  const abort = new AbortController();
  const state = { connected: 0 };
  const ctx: PeerSourceContext = {
    addPeers: (peers) => added.push(...peers),
    totals: () => ({ uploaded: 100, downloaded: 200, left: 300 }),
    port: 6881,
    connectedPeers: () => state.connected,
    emit: (e) => events.push(e),
    signal: abort.signal,
  };
  // random 0.99 keeps each tier in the order written (Fisher–Yates swaps nothing).
  const source = new TrackerSource({
    client,
    tiers: new TrackerTiers(tiers, () => 0.99),
    infoHash: Buffer.alloc(20, 1),
    peerId: Buffer.alloc(20, 2),
    ...extra,
  });
  return { source, calls, added, events, abort, state, ctx };
}

const trackerEvents = (events: SessionEvent[]) => events.filter((e): e is Extract<SessionEvent, { type: 'tracker' }> => e.type === 'tracker');

describe('TrackerSource on a fake clock', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('announces started, then again sooner and sooner while we have no peer, then at the interval; completed at once', async () => {
    vi.useFakeTimers({ now: 0 });
    const h = harness([['http://127.0.0.10/announce']], async (url) =>
      result(url, { interval: 300, peers: [{ ip: '127.0.1.9', port: 6889, family: 4 }], trackerId: Buffer.from('tid') }),
    );
    const at = () => h.calls.map((c) => c.at);
    h.source.start(h.ctx);
    expect(h.calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(35_000);
    // No peer: 5 s, then 10 s, then 20 s (doubling from minRetryMs).
    expect(at()).toEqual([0, 5_000, 15_000, 35_000]);
    h.state.connected = 1;
    // The wait after the announce at 35 s was set then (40 s, no peer yet); at 75 s we have one: the 300 s interval.
    await vi.advanceTimersByTimeAsync(374_999 - 35_000);
    expect(at()).toEqual([0, 5_000, 15_000, 35_000, 75_000]);
    await vi.advanceTimersByTimeAsync(1);
    expect(at()).toEqual([0, 5_000, 15_000, 35_000, 75_000, 375_000]);
    // The peers are gone by the next announce: eager again, from 5 s (not from where the doubling had got).
    h.state.connected = 0;
    await vi.advanceTimersByTimeAsync(680_000 - 375_000);
    expect(at().slice(6)).toEqual([675_000, 680_000]);
    // Completed while waiting: announced at once, then the schedule goes on.
    await vi.advanceTimersByTimeAsync(5_000);
    h.source.completed();
    await vi.advanceTimersByTimeAsync(0);
    expect(at().slice(8)).toEqual([685_000]);
    await vi.advanceTimersByTimeAsync(20_000);
    expect(h.calls.map((c) => c.params.event)).toEqual(['started', 'none', 'none', 'none', 'none', 'none', 'none', 'none', 'completed', 'none']);
    expect(at().slice(9)).toEqual([705_000]);
    // What each announce said, and what came of it.
    expect(h.calls[0]!.params).toMatchObject({ port: 6881, uploaded: 100, downloaded: 200, left: 300, numWant: 50 });
    expect(h.calls[0]!.params.trackerId).toBeUndefined();
    expect(Buffer.from(h.calls[1]!.params.trackerId!).toString()).toBe('tid');
    expect(h.added).toHaveLength(h.calls.length);
    expect(h.added[0]).toEqual({ host: '127.0.1.9', port: 6889 });
    expect(trackerEvents(h.events)[0]).toEqual({ type: 'tracker', url: 'http://127.0.0.10/announce', event: 'started', peers: 1, interval: 300, error: null });
    h.abort.abort();
    await vi.advanceTimersByTimeAsync(600_000);
    expect(h.calls).toHaveLength(10);
  });

  it('completed while an announce is in flight: sent right after it, not an interval later', async () => {
    vi.useFakeTimers({ now: 0 });
    let release!: () => void;
    const h = harness([['http://127.0.0.10/announce']], (url) => {
      if (h.calls.length !== 2) return Promise.resolve(result(url, { interval: 300 }));
      return new Promise((resolve) => (release = () => resolve(result(url, { interval: 300 }))));
    });
    h.state.connected = 1;
    h.source.start(h.ctx);
    await vi.advanceTimersByTimeAsync(300_000);
    expect(h.calls).toHaveLength(2);
    h.source.completed();
    await vi.advanceTimersByTimeAsync(1_000);
    release();
    await vi.advanceTimersByTimeAsync(0);
    expect(h.calls.map((c) => `${c.at} ${c.params.event}`)).toEqual(['0 started', '300000 none', '301000 completed']);
    h.abort.abort();
  });

  it('waits at least the tracker\'s min interval, and at most its interval, even with no peer', async () => {
    vi.useFakeTimers({ now: 0 });
    let answer = result('u', { interval: 1800, minInterval: 30 });
    const h = harness([['http://127.0.0.10/announce']], async () => answer);
    h.source.start(h.ctx);
    await vi.advanceTimersByTimeAsync(29_999);
    expect(h.calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(h.calls).toHaveLength(2);
    answer = result('u', { interval: 3 });
    await vi.advanceTimersByTimeAsync(30_000);
    expect(h.calls).toHaveLength(3);
    // Eager would now be 20 s; the tracker's interval is 3 s.
    await vi.advanceTimersByTimeAsync(3_000);
    expect(h.calls.map((c) => c.at)).toEqual([0, 30_000, 60_000, 63_000]);
    h.abort.abort();
  });

  it('tries trackers in BEP 12 tier order and falls back on failure; one that answers leads its tier next time', async () => {
    vi.useFakeTimers({ now: 0 });
    const up = new Set(['udp://127.0.0.14:1']);
    const h = harness([['http://127.0.0.12/a', 'http://127.0.0.13/a'], ['udp://127.0.0.14:1']], async (url) => {
      if (!up.has(url)) throw refused(url);
      return result(url, { interval: 60, peers: [{ ip: '127.0.1.8', port: 1000, family: 4 }] });
    });
    h.source.start(h.ctx);
    await vi.advanceTimersByTimeAsync(0);
    expect(h.calls.map((c) => c.url)).toEqual(['http://127.0.0.12/a', 'http://127.0.0.13/a', 'udp://127.0.0.14:1']);
    expect(h.calls.every((c) => c.params.event === 'started')).toBe(true);
    expect(trackerEvents(h.events)).toEqual([{ type: 'tracker', url: 'udp://127.0.0.14:1', event: 'started', peers: 1, interval: 60, error: null }]);
    expect(h.added).toEqual([{ host: '127.0.1.8', port: 1000 }]);
    // The first tier comes first again; now its second tracker answers, and is tried first after.
    up.add('http://127.0.0.13/a');
    await vi.advanceTimersByTimeAsync(5_000);
    expect(h.calls.slice(3).map((c) => c.url)).toEqual(['http://127.0.0.12/a', 'http://127.0.0.13/a']);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(h.calls.slice(5).map((c) => c.url)).toEqual(['http://127.0.0.13/a']);
    h.abort.abort();
  });

  it('when every tracker fails: an error event, retries backing off, `started` again until one answers', async () => {
    vi.useFakeTimers({ now: 0 });
    let fail = 2;
    const h = harness([['http://127.0.0.11/a'], ['http://127.0.0.14/a']], async (url) => {
      if (fail > 0) {
        if (url === 'http://127.0.0.14/a') fail--;
        throw refused(url);
      }
      return result(url);
    });
    h.source.start(h.ctx);
    await vi.advanceTimersByTimeAsync(0);
    const first = trackerEvents(h.events);
    expect(first).toHaveLength(1);
    expect(first[0]).toMatchObject({ url: 'http://127.0.0.11/a', event: 'started', peers: 0, interval: null, error: { code: 'TRACKER_ALL_FAILED' } });
    await vi.advanceTimersByTimeAsync(15_000);
    // Rounds at 0, 5 s (5 s after one failure), 15 s (10 s after two): a, b each time.
    expect(h.calls.map((c) => `${c.at} ${c.url === 'http://127.0.0.11/a' ? 'a' : c.url === 'http://127.0.0.14/a' ? 'b' : c.url} ${c.params.event}`)).toEqual([
      '0 a started',
      '0 b started',
      '5000 a started',
      '5000 b started',
      '15000 a started',
    ]);
    expect(trackerEvents(h.events).at(-1)).toMatchObject({ url: 'http://127.0.0.11/a', event: 'started', error: null });
    h.abort.abort();
  });

  it('an interrupted error from the client ends the loop; so does the context\'s abort while it waits', async () => {
    vi.useFakeTimers({ now: 0 });
    const h = harness([['http://127.0.0.11/a']], async () => {
      throw new BtError('ABORTED', 'interrupted', 'the client was closed');
    });
    h.source.start(h.ctx);
    await vi.advanceTimersByTimeAsync(600_000);
    expect(h.calls).toHaveLength(1);
    expect(h.events).toEqual([]);

    const g = harness([['http://127.0.0.11/a']], async (url) => result(url));
    g.source.start(g.ctx);
    await vi.advanceTimersByTimeAsync(1_000);
    g.abort.abort();
    await vi.advanceTimersByTimeAsync(600_000);
    expect(g.calls).toHaveLength(1);
  });
});

describe('TrackerSource.stop', () => {
  it('sends `stopped` to the tracker that last answered, with the tracker id, under the stop deadline', async () => {
    let n = 0;
    const h = harness([['http://127.0.0.11/a'], ['http://127.0.0.14/a']], async (url, params, options) => {
      n++;
      if (params.event === 'stopped') return hang(url, params, options);
      if (url === 'http://127.0.0.11/a') throw refused(url);
      return result(url, { interval: 1800, trackerId: Buffer.from('tid-b') });
    });
    h.state.connected = 1;
    h.source.start(h.ctx);
    for (let i = 0; i < 1000 && trackerEvents(h.events).length === 0; i++) await new Promise((r) => setImmediate(r));
    expect(trackerEvents(h.events)).toHaveLength(1);
    // The stopped announce never answers: stop still settles, by its deadline.
    await h.source.stop(50);
    const stopped = h.calls.at(-1)!;
    expect(n).toBe(3);
    expect(stopped.url).toBe('http://127.0.0.14/a');
    expect(stopped.params).toMatchObject({ event: 'stopped', numWant: 0, port: 6881, uploaded: 100, downloaded: 200, left: 300 });
    expect(Buffer.from(stopped.params.trackerId ?? []).toString()).toBe('tid-b');
    expect(stopped.options.timeoutMs).toBe(50);
    expect(stopped.options.signal!.aborted).toBe(true);
  });

  it('aborts an announce in flight, then says `stopped`; sends nothing when `started` never went through', async () => {
    let rounds = 0;
    let secondAsked!: () => void;
    const second = new Promise<void>((r) => (secondAsked = r));
    const h = harness([['http://127.0.0.11/a']], async (url, params, options) => {
      if (params.event === 'stopped') return result(url);
      if (rounds++ === 0) return result(url, { interval: 1 });
      secondAsked();
      return hang(url, params, options);
    });
    h.state.connected = 1;
    h.source.start(h.ctx);
    // The second announce (after the tracker's 1 s interval) hangs until stop aborts it.
    await second;
    expect(h.calls).toHaveLength(2);
    await h.source.stop(10_000);
    expect(h.calls[1]!.options.signal!.aborted).toBe(true);
    expect(h.calls.map((c) => c.params.event)).toEqual(['started', 'none', 'stopped']);

    const never = harness([['http://127.0.0.11/a']], hang);
    never.source.start(never.ctx);
    await never.source.stop(10_000);
    expect(never.calls.map((c) => c.params.event)).toEqual(['started']);
    expect(never.calls[0]!.options.signal!.aborted).toBe(true);

    // No trackers: nothing to start or stop.
    const none = harness([], hang);
    none.source.start(none.ctx);
    await none.source.stop(10);
    expect(none.calls).toEqual([]);
  });
});
