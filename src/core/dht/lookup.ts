/**
 * The iterative lookup of BEP 5 ("get_peers", and "find_node" for bootstrapping) as an
 * AsyncIterable of typed events, with BEP 32 (IPv6 `nodes6`, `want`) and BEP 33 (`scrape`).
 *
 * Why our own rather than bittorrent-dht's `lookup()`: that one reports only peers, cannot be
 * stopped (its abort only mutes the callback while queries go on), has no time budget and no cap
 * on nodes queried, decodes IPv4 nodes only and drops BEP 33 filters. This engine sends through
 * the library's socket (see transport.ts), so the library's routing table still learns every node
 * that answers.
 *
 * The algorithm: keep candidates sorted by XOR distance to the target, per address family; keep
 * up to `concurrency` queries in flight to the closest not-yet-asked; stop when the k closest
 * that have not failed have all answered ("complete"), or on the budget (`timeoutMs`,
 * `maxQueried`, `maxPeers`). A query unanswered after `slowMs` stops holding a concurrency slot
 * (libtorrent does the same), so a few dead or hostile nodes cannot stall the lookup.
 */
import { abortError } from '../errors.js';
import { type CompactNode, type IpFamily, formatHostPort, ipBytes, isUsableAddress } from './compact.js';
import { bloomEstimate, bloomHas, bloomInsert, bloomUnion, emptyBloom } from './bloom.js';
import { readReply } from './krpc.js';
import { type KrpcTransport, type QueryTarget, QueryFailure } from './transport.js';
import type { DoneEvent, LookupEndReason, LookupEvent, NodeRef, PeerRef, ScrapeEstimate } from './types.js';

export interface TraversalOptions {
  transport: KrpcTransport;
  /** Our node id: never query ourselves, nor add ourselves as a candidate. */
  selfId: Buffer;
  target: Buffer;
  method: 'get_peers' | 'find_node';
  /** Starting points: routing-table nodes (with ids) and bootstrap nodes (id null). */
  seeds: readonly QueryTarget[];
  /** Asked only when every seed and candidate failed (e.g. a stale state file). */
  fallback?: readonly QueryTarget[];
  timeoutMs?: number;
  maxPeers?: number;
  maxQueried?: number;
  concurrency?: number;
  k?: number;
  slowMs?: number;
  /** BEP 33: ask for bloom filters (`scrape=1`). */
  scrape?: boolean;
  /** Which addresses (nodes and peers) we accept from the network. */
  addressFilter?: (host: string, port: number) => boolean;
  /** Our own socket addresses, never queried. */
  selfAddresses?: readonly string[];
  signal?: AbortSignal;
  clock?: () => number;
  /** Called once at the end with the closest answering nodes and their write tokens. */
  onClosest?: (closest: { node: QueryTarget; token: Buffer }[]) => void;
  /** Called when a node with a known id stops answering (to evict it from the routing table). */
  onNodeFailed?: (node: QueryTarget) => void;
}

export const LOOKUP_DEFAULTS = {
  timeoutMs: 10_000,
  maxQueried: 256,
  concurrency: 8,
  k: 8,
  slowMs: 1_000,
} as const;

/** Candidates kept per lookup: enough for any honest network, a bound for a hostile one. */
const MAX_CANDIDATES = 1024;

type State = 'new' | 'inflight' | 'answered' | 'failed';

interface Candidate {
  key: string;
  host: string;
  port: number;
  family: IpFamily;
  id: Buffer | null;
  dist: Buffer | null;
  state: State;
  slow: boolean;
  seed: boolean;
  token: Buffer | null;
  bfsd: Uint8Array | null;
  bfpe: Uint8Array | null;
  peerIps: Buffer[];
}

const xor = (a: Buffer, b: Buffer): Buffer => {
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ (b[i] ?? 0);
  return out;
};

const byDistance = (a: Candidate, b: Candidate): number => Buffer.compare(a.dist!, b.dist!);

function refOf(c: { host: string; port: number; family: IpFamily; id: Buffer | null }): NodeRef {
  return { host: c.host, port: c.port, family: c.family, id: c.id ? c.id.toString('hex') : null };
}

/** Run one iterative lookup; events stream as they happen, `done` is always the last one. */
export async function* traverse(opts: TraversalOptions): AsyncGenerator<LookupEvent, void, undefined> {
  const timeoutMs = opts.timeoutMs ?? LOOKUP_DEFAULTS.timeoutMs;
  const maxQueried = opts.maxQueried ?? LOOKUP_DEFAULTS.maxQueried;
  const concurrency = Math.max(1, opts.concurrency ?? LOOKUP_DEFAULTS.concurrency);
  const k = Math.max(1, opts.k ?? LOOKUP_DEFAULTS.k);
  const slowMs = opts.slowMs ?? LOOKUP_DEFAULTS.slowMs;
  const maxPeers = opts.maxPeers ?? Infinity;
  const clock = opts.clock ?? (() => performance.now());
  const accept = (host: string, port: number) => isUsableAddress(host, port) && (opts.addressFilter?.(host, port) ?? true);
  const selfAddresses = new Set(opts.selfAddresses ?? []);
  const families = new Set(opts.transport.families);
  const { target, signal } = opts;
  if (signal?.aborted) throw abortError(signal);

  const start = clock();
  const at = () => Math.round((clock() - start) * 10) / 10;
  const candidates = new Map<string, Candidate>();
  const peers = new Map<string, PeerRef>();
  const inflight = new Map<Candidate, { controller: AbortController; slowTimer: ReturnType<typeof setTimeout> | undefined }>();
  const events: LookupEvent[] = [];
  let wake: (() => void) | null = null;
  let finished = false;
  /** 'lookup' while walking; 'scrape' for the BEP 33 round after it (see finish). */
  let phase: 'lookup' | 'scrape' = 'lookup';
  let endReason: LookupEndReason = 'complete';
  let fallbackUsed = false;
  let queried = 0;
  let answered = 0;
  let failed = 0;
  let firstPeerMs: number | null = null;

  const emit = (e: LookupEvent) => {
    events.push(e);
    const w = wake;
    wake = null;
    w?.();
  };

  const addCandidate = (n: { host: string; port: number; family: IpFamily; id: Buffer | null }, seed: boolean): void => {
    if (!families.has(n.family) || !accept(n.host, n.port)) return;
    if (n.id && n.id.equals(opts.selfId)) return;
    const key = formatHostPort(n.host, n.port);
    if (selfAddresses.has(key) || candidates.has(key)) return;
    const c: Candidate = {
      key, host: n.host, port: n.port, family: n.family, id: n.id, dist: n.id ? xor(n.id, target) : null,
      state: 'new', slow: false, seed, token: null, bfsd: null, bfpe: null, peerIps: [],
    };
    if (candidates.size >= MAX_CANDIDATES) {
      // Full: a new node only displaces the farthest never-asked one, and only if it is closer.
      if (!c.dist) return;
      let worst: Candidate | null = null;
      for (const o of candidates.values()) if (o.state === 'new' && o.dist && (!worst || byDistance(o, worst) > 0)) worst = o;
      if (!worst || byDistance(c, worst) >= 0) return;
      candidates.delete(worst.key);
    }
    candidates.set(key, c);
  };

  /** Per family, the k closest candidates that have not failed (known ids only). */
  const closestAlive = (): Map<IpFamily, Candidate[]> => {
    const out = new Map<IpFamily, Candidate[]>();
    for (const c of candidates.values()) {
      if (!c.dist || c.state === 'failed') continue;
      const list = out.get(c.family) ?? [];
      list.push(c);
      out.set(c.family, list);
    }
    for (const [f, list] of out) out.set(f, list.sort(byDistance).slice(0, k));
    return out;
  };

  const scrapeEstimate = (): ScrapeEstimate => {
    const answeredList = [...candidates.values()].filter((c) => c.state === 'answered');
    const seedFilters = answeredList.flatMap((c) => (c.bfsd ? [c.bfsd] : []));
    const peerFilters = answeredList.flatMap((c) => (c.bfpe ? [c.bfpe] : []));
    const seeds = bloomUnion(seedFilters);
    // BEP 33 "Handling legacy responses": a node that answered with values but no filters still
    // counts, as peers, unless the seed filters already hold the IP.
    const legacy = emptyBloom();
    let legacyNodes = 0;
    for (const c of answeredList) {
      if (c.bfsd || c.bfpe || c.peerIps.length === 0) continue;
      legacyNodes++;
      for (const ip of c.peerIps) if (!bloomHas(seeds, ip)) bloomInsert(legacy, ip);
    }
    return {
      seeds: Math.round(bloomEstimate(seeds)),
      peers: Math.round(bloomEstimate(bloomUnion([...peerFilters, legacy]))),
      nodes: answeredList.filter((c) => c.bfsd || c.bfpe).length + legacyNodes,
    };
  };

  /** Stop every query in flight (their late answers are ignored). */
  const cancelInflight = (): void => {
    for (const [, q] of inflight) {
      clearTimeout(q.slowTimer);
      q.controller.abort();
    }
    inflight.clear();
  };

  /** The closest nodes that answered, nearest first, at most k per family. */
  const closestAnswered = (): Candidate[] => {
    const perFamily = new Map<IpFamily, number>();
    return [...candidates.values()]
      .filter((c) => c.state === 'answered' && c.dist)
      .sort(byDistance)
      .filter((c) => {
        const n = perFamily.get(c.family) ?? 0;
        perFamily.set(c.family, n + 1);
        return n < k;
      });
  };

  const finalize = (reason: LookupEndReason): void => {
    if (finished) return;
    finished = true;
    clearTimeout(deadline);
    cancelInflight();
    const closest = closestAnswered();
    opts.onClosest?.(
      closest.filter((c) => c.token).map((c) => ({ node: { host: c.host, port: c.port, family: c.family, id: c.id }, token: c.token! })),
    );
    const done: DoneEvent = {
      type: 'done',
      reason,
      infoHash: target.toString('hex'),
      queried,
      answered,
      failed,
      peers: peers.size,
      elapsedMs: at(),
      firstPeerMs,
      closest: closest.map((c) => ({ ...refOf(c), token: c.token !== null })),
      ...(opts.scrape ? { scrape: scrapeEstimate() } : {}),
    };
    emit(done);
  };

  /**
   * The lookup itself is over. With a scrape, one more round: BEP 33 get_peers (`scrape=1`) to
   * the closest nodes that answered. A separate round because libtorrent answers a scrape with
   * the filters *instead of* its values, so scraping during the walk would hide the peers.
   */
  const finish = (reason: LookupEndReason): void => {
    if (finished || phase !== 'lookup') return;
    if (!opts.scrape || reason === 'timeout' || reason === 'no-nodes') return finalize(reason);
    phase = 'scrape';
    endReason = reason;
    cancelInflight();
    const targets = closestAnswered();
    let pending = targets.length;
    if (pending === 0) return finalize(reason);
    for (const c of targets) {
      queried++;
      const controller = new AbortController();
      inflight.set(c, { controller, slowTimer: undefined });
      const sentAt = clock();
      emit({ type: 'query', node: refOf(c), atMs: at() });
      opts.transport.query(nodeOf(c), 'get_peers', { ...queryArgs(), scrape: 1 }, controller.signal).then(
        (r) => {
          if (finished) return;
          inflight.delete(c);
          answered++;
          absorb(c, readReply(r), sentAt);
          if (--pending === 0) finalize(reason);
        },
        (err: unknown) => {
          if (finished) return;
          inflight.delete(c);
          failed++;
          emitFailure(c, err);
          if (--pending === 0) finalize(reason);
        },
      );
    }
  };

  const nodeOf = (c: Candidate): QueryTarget => ({ host: c.host, port: c.port, family: c.family, id: c.id });

  const queryArgs = (): Record<string, unknown> => {
    const args: Record<string, unknown> = opts.method === 'get_peers' ? { info_hash: target } : { target };
    // BEP 32: a dual-stack node asks for both node lists.
    if (families.size > 1) args.want = [Buffer.from('n4'), Buffer.from('n6')];
    return args;
  };

  const emitFailure = (c: Candidate, err: unknown): QueryFailure => {
    const f = err instanceof QueryFailure ? err : new QueryFailure('send-failed', String(err));
    emit({ type: 'failure', node: refOf(c), atMs: at(), reason: f.reason === 'cancelled' ? 'send-failed' : f.reason, message: f.message });
    return f;
  };

  /** Take in what a reply says: token, filters, closer nodes (while walking), peers. */
  const absorb = (c: Candidate, reply: ReturnType<typeof readReply>, sentAt: number): void => {
    if (reply.token) c.token = reply.token;
    if (reply.bfsd) c.bfsd = reply.bfsd;
    if (reply.bfpe) c.bfpe = reply.bfpe;
    let nodes = 0;
    if (phase === 'lookup') {
      for (const n of reply.nodes as CompactNode[]) {
        const before = candidates.size;
        addCandidate({ host: n.host, port: n.port, family: n.family, id: n.id }, false);
        if (candidates.size > before || candidates.has(formatHostPort(n.host, n.port))) nodes++;
      }
    }
    const fresh = new Map<string, PeerRef>();
    for (const p of reply.peers) {
      if (!accept(p.host, p.port)) continue;
      const ip = ipBytes(p.host);
      if (ip && opts.scrape) c.peerIps.push(ip);
      const key = formatHostPort(p.host, p.port);
      if (!peers.has(key)) fresh.set(key, { host: p.host, port: p.port, family: p.family });
    }
    emit({
      type: 'response',
      node: refOf(c),
      atMs: at(),
      rttMs: Math.round((clock() - sentAt) * 10) / 10,
      nodes,
      values: reply.peers.length,
      token: reply.token !== null,
      scrape: reply.bfsd !== null || reply.bfpe !== null,
      ...(reply.problems.length ? { problems: reply.problems } : {}),
    });
    for (const [key, p] of fresh) {
      if (peers.size >= maxPeers) return;
      peers.set(key, p);
      if (firstPeerMs === null) firstPeerMs = at();
      emit({ type: 'peer', peer: p, from: refOf(c), atMs: at() });
      if (peers.size >= maxPeers) return finish('max-peers');
    }
  };

  const onReply = (c: Candidate, r: unknown, sentAt: number): void => {
    c.state = 'answered';
    answered++;
    const reply = readReply(r);
    if (reply.id && !c.id) {
      if (reply.id.equals(opts.selfId)) {
        // A bootstrap address that turns out to be us: ignore what it says.
        c.state = 'failed';
        return;
      }
      c.id = reply.id;
      c.dist = xor(reply.id, target);
    }
    absorb(c, reply, sentAt);
  };

  const send = (c: Candidate): void => {
    c.state = 'inflight';
    queried++;
    const controller = new AbortController();
    const slowTimer = setTimeout(() => {
      c.slow = true;
      pump();
    }, slowMs);
    inflight.set(c, { controller, slowTimer });
    const sentAt = clock();
    const node = nodeOf(c);
    emit({ type: 'query', node: refOf(c), atMs: at() });
    opts.transport.query(node, opts.method, queryArgs(), controller.signal).then(
      (r) => {
        if (finished || phase !== 'lookup') return;
        clearTimeout(slowTimer);
        inflight.delete(c);
        onReply(c, r, sentAt);
        pump();
      },
      (err: unknown) => {
        if (finished || phase !== 'lookup') return;
        clearTimeout(slowTimer);
        inflight.delete(c);
        c.state = 'failed';
        failed++;
        const f = emitFailure(c, err);
        if (c.id && f.reason === 'timeout') opts.onNodeFailed?.(node);
        pump();
      },
    );
  };

  const pump = (): void => {
    if (finished || phase !== 'lookup') return;
    const top = closestAlive();
    const pendingSeeds = [...candidates.values()].filter((c) => c.seed && !c.dist && (c.state === 'new' || c.state === 'inflight'));
    const converged =
      top.size > 0 && pendingSeeds.length === 0 && [...top.values()].every((list) => list.every((c) => c.state === 'answered'));
    if (converged) return finish('complete');

    // What to ask next: id-less seeds first (they are how we learn anything), then the closest
    // unasked candidate of each family in turn.
    const queue: Candidate[] = pendingSeeds.filter((c) => c.state === 'new');
    const perFamily = [...top.values()].map((list) => list.filter((c) => c.state === 'new'));
    for (let i = 0; perFamily.some((l) => i < l.length); i++) for (const l of perFamily) if (l[i]) queue.push(l[i]!);
    let busy = 0;
    for (const q of inflight.keys()) if (!q.slow) busy++;
    for (const c of queue) {
      if (busy >= concurrency || queried >= maxQueried) break;
      send(c);
      busy++;
    }
    if (inflight.size > 0) return;
    // Nothing in flight and nothing more to send: we are done one way or another.
    if (answered === 0 && !fallbackUsed && opts.fallback?.length) {
      fallbackUsed = true;
      for (const n of opts.fallback) addCandidate(n, true);
      return pump();
    }
    const unasked = [...closestAlive().values()].some((l) => l.some((c) => c.state === 'new'));
    finish(answered === 0 ? 'no-nodes' : unasked && queried >= maxQueried ? 'max-queried' : 'complete');
  };

  // Out of time: while walking, the lookup ends by timeout; during the scrape round it keeps the
  // reason the walk ended with, and the estimate uses the filters that arrived.
  const deadline = setTimeout(() => (phase === 'scrape' ? finalize(endReason) : finish('timeout')), timeoutMs);
  const onAbort = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  signal?.addEventListener('abort', onAbort, { once: true });

  try {
    for (const s of opts.seeds) addCandidate(s, s.id === null);
    pump();
    for (;;) {
      if (signal?.aborted) throw abortError(signal);
      const e = events.shift();
      if (e) {
        yield e;
        if (e.type === 'done') return;
        continue;
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    if (!finished) {
      // The consumer stopped early (break, throw, abort): stop every query, emit nothing more.
      finished = true;
      clearTimeout(deadline);
      cancelInflight();
    }
  }
}
