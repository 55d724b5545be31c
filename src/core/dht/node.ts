/**
 * A mainline DHT node (BEP 5) built on bittorrent-dht, with IPv6 (BEP 32) where a socket can be
 * bound, BEP 33 scrapes and BEP 43 read-only mode. One node per process, shared by every command that needs the DHT
 * (dht-lookup now; seed, download and magnets later, announcing its port in the BEP 5 handshake).
 *
 * What the library does: the UDP transactions and timeouts (k-rpc-socket), the routing table
 * (k-bucket, with ping-before-evict), write tokens, the peer store, and answering other nodes'
 * queries. What this wrapper adds:
 * - an explicit bootstrap list, always (the library falls back to the public routers when it is
 *   undefined or `true`; we hand it `false` and do the bootstrapping ourselves);
 * - `lookup()` as an AsyncIterable of typed events (lookup.ts), `announce()`, `bootstrap()`;
 * - a guard in front of the library's socket handler against hostile datagrams (krpc.ts);
 * - BEP 32 answers (`nodes6`, `want`) and IPv6 peer storage, which the library encodes as IPv4;
 * - replies capped at 8 nodes per family (the library sends its whole table), with nodes beside
 *   values (as libtorrent does), and at most 50 values;
 * - BEP 43 read-only mode (`ro=1`), both ways: we honour it, and can be read-only ourselves;
 * - state export/import for the state file (state.ts).
 */
import dgram from 'node:dgram';
import { lookup as dnsLookup } from 'node:dns/promises';
import type DHT from 'bittorrent-dht';
import type { DhtContact } from 'bittorrent-dht';
import { BtError, abortError, networkError } from '../errors.js';
import { type IpFamily, encodeCompactNodes, encodeCompactPeer, formatHostPort, formatIpv6, familyOf, parseIpv6 } from './compact.js';
import { LOOKUP_DEFAULTS, traverse } from './lookup.js';
import { type DispatchContext, type GuardStats, type KrpcTransport, type QueryTarget, QueryFailure, guardSocket, krpcTransport } from './transport.js';
import type { AnnounceResult, LookupEvent, NodeRef, SavedNode } from './types.js';
import { type DhtState, MAX_SAVED_NODES, STATE_VERSION } from './state.js';

export interface HostPort {
  host: string;
  port: number;
}

/**
 * The public mainline routers, for real use only. The core never falls back to them: a caller
 * passes them explicitly (the CLI does when no --bootstrap is given); tests never do.
 */
export const PUBLIC_BOOTSTRAP_NODES: readonly HostPort[] = [
  { host: 'router.bittorrent.com', port: 6881 },
  { host: 'router.utorrent.com', port: 6881 },
  { host: 'dht.transmissionbt.com', port: 6881 },
  { host: 'dht.libtorrent.org', port: 25401 },
];

export interface DhtNodeOptions {
  /** Required. `[]` is a valid answer (a node others bootstrap from); `undefined` throws. */
  bootstrap: readonly HostPort[];
  /** IPv4 address to bind (default 0.0.0.0). */
  host?: string;
  /** UDP port (default 0: any free port). */
  port?: number;
  /** IPv6 address to bind (e.g. `::` or `::1`); null/undefined: IPv4 only. */
  host6?: string | null;
  /** IPv6 UDP port (default: the IPv4 port when one was given, else 0). */
  port6?: number;
  /** Our node id (20 bytes); random when absent. Keep it across runs (state file). */
  nodeId?: Uint8Array;
  /** Routing-table nodes to start from (the state file's). */
  nodes?: readonly SavedNode[];
  /** Per-query timeout (default 2000 ms). */
  queryTimeoutMs?: number;
  /** Queries in flight per lookup (default 8). */
  concurrency?: number;
  /** Width of a lookup: the k closest nodes that must answer (default 8, BEP 5). */
  k?: number;
  /**
   * BEP 43 read-only node: our queries carry `ro=1`, so other nodes do not put us in their
   * routing tables. Right for a short-lived lookup (a node that is gone in a second only costs the
   * others timeouts); wrong for a long-running seed.
   */
  readOnly?: boolean;
  /** Which addresses (nodes and peers) to accept from the network, e.g. loopback only in tests. */
  addressFilter?: (host: string, port: number) => boolean;
  /** Name resolution for bootstrap host names (default: the system resolver). */
  resolve?: (host: string) => Promise<{ address: string; family: number }[]>;
  clock?: () => number;
}

export interface LookupOptions {
  signal?: AbortSignal;
  /** Time budget of the whole lookup (default 10 s). */
  timeoutMs?: number;
  /** Stop after this many distinct peers. */
  maxPeers?: number;
  /** Stop after this many queries (default 256). */
  maxQueried?: number;
  /** BEP 33: ask for seed/peer bloom filters; the done event carries the estimate. */
  scrape?: boolean;
}

export interface AnnounceOptions {
  /** The port peers should connect to; 0 or absent: our DHT port, as `implied_port` (BEP 5). */
  port?: number;
  /** BEP 33: announce as a seed. */
  seed?: boolean;
  signal?: AbortSignal;
  /** Budget of the lookup that precedes the announce when no fresh tokens are at hand. */
  timeoutMs?: number;
}

export interface BootstrapResult {
  queried: number;
  answered: number;
  /** Routing-table size afterwards, both families. */
  tableSize: number;
}

interface Stack {
  family: IpFamily;
  dht: DHT;
  socket: dgram.Socket;
  host: string;
  port: number;
  stats: GuardStats;
  context: DispatchContext;
}

/** Write tokens are valid for 5–10 minutes (libtorrent, bittorrent-dht); use them for 4. */
const TOKEN_TTL_MS = 4 * 60_000;
const MAX_TOKEN_SETS = 256;
/** BEP 5: a reply carries the K = 8 closest nodes. */
const REPLY_NODES = 8;
/** Peers per get_peers reply: 50 × 6 bytes plus nodes keeps a reply near one MTU. */
const MAX_REPLY_VALUES = 50;

export class DhtNode {
  readonly nodeId: Buffer;
  /** What went wrong without stopping the node (an unresolvable bootstrap name, no IPv6). */
  readonly warnings: string[] = [];
  private readonly stacks: Stack[];
  private readonly transport: KrpcTransport;
  private readonly bootstrapNodes: QueryTarget[];
  private readonly tokens = new Map<string, { at: number; list: { node: QueryTarget; token: Buffer }[] }>();
  private readonly options: DhtNodeOptions;
  private readonly clock: () => number;
  /** Saved nodes of a family we run no socket for (--no-ipv6): kept for the next state file. */
  private readonly carried: SavedNode[] = [];
  private closed = false;

  private constructor(options: DhtNodeOptions, nodeId: Buffer, stacks: Stack[], bootstrapNodes: QueryTarget[], warnings: string[]) {
    this.options = options;
    this.nodeId = nodeId;
    this.stacks = stacks;
    this.bootstrapNodes = bootstrapNodes;
    this.warnings.push(...warnings);
    this.clock = options.clock ?? (() => performance.now());
    this.transport = krpcTransport(Object.fromEntries(stacks.map((s) => [s.family, s.dht._rpc.socket])), nodeId);
    for (const s of stacks) this.adapt(s);
    for (const n of options.nodes ?? []) {
      if (stacks.some((s) => s.family === familyOf(n.host))) this.addNode(n);
      else this.carried.push(n);
    }
  }

  /** Bind the socket(s) and start answering queries. Throws DHT_BIND_FAILED (network). */
  static async start(options: DhtNodeOptions, { signal }: { signal?: AbortSignal } = {}): Promise<DhtNode> {
    if (!options || !Array.isArray(options.bootstrap)) {
      // The one rule that keeps tests and demos off the public DHT: no implicit routers, ever.
      throw new BtError('DHT_BOOTSTRAP_REQUIRED', 'internal', 'DhtNode.start needs an explicit bootstrap list ([] for none)');
    }
    if (signal?.aborted) throw abortError(signal);
    const nodeId = options.nodeId ? Buffer.from(options.nodeId) : undefined;
    if (nodeId && nodeId.length !== 20) throw new BtError('DHT_BAD_NODE_ID', 'internal', 'a DHT node id is 20 bytes');
    const warnings: string[] = [];
    const stacks: Stack[] = [];
    try {
      const v4 = await openStack(4, options.host ?? '0.0.0.0', options.port ?? 0, nodeId, options);
      stacks.push(v4);
      const id = v4.dht.nodeId;
      if (options.host6) {
        try {
          stacks.push(await openStack(6, options.host6, options.port6 ?? (options.port ? v4.port : 0), id, options));
        } catch (err) {
          warnings.push(`IPv6 DHT disabled: ${(err as Error).message}`);
        }
      }
      const bootstrap = await resolveBootstrap(options.bootstrap, options.resolve, warnings);
      if (signal?.aborted) throw abortError(signal);
      return new DhtNode(options, id, stacks, bootstrap, warnings);
    } catch (err) {
      await Promise.all(stacks.map((s) => destroyStack(s)));
      throw err;
    }
  }

  /** Datagrams the guard dropped, and library handler errors it caught, across sockets. */
  get guard(): GuardStats {
    return {
      dropped: this.stacks.reduce((n, s) => n + s.stats.dropped, 0),
      handlerErrors: this.stacks.reduce((n, s) => n + s.stats.handlerErrors, 0),
      lastDropReason: this.stacks.map((s) => s.stats.lastDropReason).find((r) => r !== null) ?? null,
    };
  }

  /** Our bound address per family. */
  addresses(): { family: IpFamily; host: string; port: number }[] {
    return this.stacks.map((s) => ({ family: s.family, host: s.host, port: s.port }));
  }

  /** The IPv4 UDP port (the one to put in a BEP 5 `port` message). */
  get port(): number {
    return this.stacks[0]!.port;
  }

  /** Nodes in the routing table, per family. */
  tableSize(): { v4: number; v6: number } {
    const count = (f: IpFamily) => this.stacks.find((s) => s.family === f)?.dht._rpc.nodes.count() ?? 0;
    return { v4: count(4), v6: count(6) };
  }

  /** Add a node to the routing table without pinging it (a saved node, a PORT message's node). */
  addNode(n: SavedNode): void {
    const family = familyOf(n.host);
    const stack = this.stacks.find((s) => s.family === family);
    if (!stack || !/^[0-9a-f]{40}$/.test(n.id)) return;
    if (this.options.addressFilter && !this.options.addressFilter(n.host, n.port)) return;
    const id = Buffer.from(n.id, 'hex');
    if (id.equals(this.nodeId)) return;
    stack.dht.addNode({ id, host: n.host, port: n.port });
  }

  /**
   * The routing table as the state file stores it, most recently seen first, then the saved
   * nodes of a family this run had no socket for (so an IPv4-only run keeps the IPv6 ones).
   */
  savedNodes(): SavedNode[] {
    const all: DhtContact[] = this.stacks.flatMap((s) => s.dht._rpc.nodes.toArray());
    return [
      ...all.sort((a, b) => (b.seen ?? 0) - (a.seen ?? 0)).map((c) => ({ id: Buffer.from(c.id).toString('hex'), host: c.host, port: c.port })),
      ...this.carried,
    ].slice(0, MAX_SAVED_NODES);
  }

  /**
   * Ping a node (BEP 5 `ping`); one that answers enters the routing table. This is what to do
   * with the DHT port a peer sends in a BEP 5 PORT message. Resolves its node id, or null.
   */
  async ping(host: string, port: number, { signal }: { signal?: AbortSignal } = {}): Promise<string | null> {
    this.assertOpen();
    const family = familyOf(host);
    if (!family || !this.stacks.some((s) => s.family === family)) return null;
    if (this.options.addressFilter && !this.options.addressFilter(host, port)) return null;
    const controller = new AbortController();
    const onAbort = () => controller.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const r = await this.transport.query({ host, port, family, id: null }, 'ping', {}, controller.signal);
      const id = r && typeof r === 'object' ? (r as Record<string, unknown>).id : undefined;
      return id instanceof Uint8Array && id.length === 20 ? Buffer.from(id).toString('hex') : null;
    } catch {
      if (signal?.aborted) throw abortError(signal);
      return null;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  exportState(now = new Date()): DhtState {
    return { version: STATE_VERSION, nodeId: this.nodeId.toString('hex'), savedAt: now.toISOString(), nodes: this.savedNodes() };
  }

  /** Find peers for an infohash: events as the lookup goes, `done` last. */
  lookup(infoHash: Uint8Array | string, options: LookupOptions = {}): AsyncIterable<LookupEvent> {
    const target = toHash(infoHash);
    this.assertOpen();
    return traverse({
      transport: this.transport,
      selfId: this.nodeId,
      target,
      method: 'get_peers',
      seeds: this.seedsFor(target),
      fallback: this.bootstrapNodes,
      timeoutMs: options.timeoutMs ?? LOOKUP_DEFAULTS.timeoutMs,
      ...(options.maxPeers !== undefined ? { maxPeers: options.maxPeers } : {}),
      ...(options.maxQueried !== undefined ? { maxQueried: options.maxQueried } : {}),
      ...this.traversalTuning(),
      scrape: options.scrape ?? false,
      ...(options.signal ? { signal: options.signal } : {}),
      onClosest: (list) => this.rememberTokens(target, list),
    });
  }

  /**
   * Announce that we (or `port`) have this infohash to the closest nodes (BEP 5 announce_peer),
   * using the write tokens of a recent lookup, or running one first.
   */
  async announce(infoHash: Uint8Array | string, options: AnnounceOptions = {}): Promise<AnnounceResult> {
    const target = toHash(infoHash);
    const hex = target.toString('hex');
    this.assertOpen();
    let cached = this.tokens.get(hex);
    if (!cached || this.clock() - cached.at > TOKEN_TTL_MS) {
      const drain = this.lookup(target, { ...(options.signal ? { signal: options.signal } : {}), ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}) });
      for await (const _ of drain) {
        // only the tokens matter here
      }
      cached = this.tokens.get(hex);
    }
    const list = cached?.list ?? [];
    const port = options.port ?? 0;
    const controller = new AbortController();
    const onAbort = () => controller.abort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const failures: AnnounceResult['failures'] = [];
    let accepted = 0;
    try {
      await Promise.all(
        list.map(async ({ node, token }) => {
          const ownPort = this.stacks.find((s) => s.family === node.family)?.port ?? this.port;
          const args: Record<string, unknown> = {
            info_hash: target,
            port: port || ownPort,
            implied_port: port ? 0 : 1,
            token,
            ...(options.seed ? { seed: 1 } : {}),
          };
          try {
            await this.transport.query(node, 'announce_peer', args, controller.signal);
            accepted++;
          } catch (err) {
            failures.push({ node: nodeRef(node), message: err instanceof QueryFailure ? `${err.reason}: ${err.message}` : String(err) });
          }
        }),
      );
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
    if (options.signal?.aborted) throw abortError(options.signal);
    return { infoHash: hex, port, impliedPort: !port, attempted: list.length, accepted, failures };
  }

  /**
   * Fill the routing table: a find_node lookup of our own id (BEP 5 "upon inserting the first
   * node … find_node for its own id"), seeded from the table and the bootstrap list.
   */
  async bootstrap({ signal, timeoutMs = 5_000 }: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<BootstrapResult> {
    this.assertOpen();
    let queried = 0;
    let answered = 0;
    const seeds = [...this.seedsFor(this.nodeId), ...this.bootstrapNodes];
    for await (const ev of traverse({
      transport: this.transport,
      selfId: this.nodeId,
      target: this.nodeId,
      method: 'find_node',
      seeds,
      timeoutMs,
      ...this.traversalTuning(),
      ...(signal ? { signal } : {}),
    })) {
      if (ev.type === 'done') {
        queried = ev.queried;
        answered = ev.answered;
      }
    }
    const size = this.tableSize();
    return { queried, answered, tableSize: size.v4 + size.v6 };
  }

  /** Close the sockets. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.stacks.map((s) => destroyStack(s)));
  }

  private assertOpen(): void {
    if (this.closed) throw new BtError('DHT_CLOSED', 'internal', 'the DHT node is closed');
  }

  private traversalTuning() {
    const selfAddresses = this.stacks.filter((s) => !isWildcard(s.host)).map((s) => formatHostPort(s.host, s.port));
    return {
      ...(this.options.concurrency !== undefined ? { concurrency: this.options.concurrency } : {}),
      ...(this.options.k !== undefined ? { k: this.options.k } : {}),
      ...(this.options.addressFilter ? { addressFilter: this.options.addressFilter } : {}),
      ...(this.options.clock ? { clock: this.options.clock } : {}),
      selfAddresses,
      onNodeFailed: (node: QueryTarget) => {
        // Evict a table node that timed out (as k-rpc does in its own lookups); a good node that
        // was merely slow is re-added the next time it talks to us.
        const stack = this.stacks.find((s) => s.family === node.family);
        if (node.id && stack?.dht._rpc.nodes.get(node.id)) stack.dht.removeNode(node.id);
      },
    };
  }

  /** Lookup seeds: the table's closest to the target; the bootstrap list while the table is thin. */
  private seedsFor(target: Buffer): QueryTarget[] {
    const k = this.options.k ?? LOOKUP_DEFAULTS.k;
    const seeds: QueryTarget[] = [];
    for (const s of this.stacks) {
      for (const c of s.dht._rpc.nodes.closest(target, k * 2)) {
        seeds.push({ host: c.host, port: c.port, family: s.family, id: Buffer.from(c.id) });
      }
    }
    if (seeds.length < k) seeds.push(...this.bootstrapNodes);
    return seeds;
  }

  private rememberTokens(target: Buffer, list: { node: QueryTarget; token: Buffer }[]): void {
    const hex = target.toString('hex');
    this.tokens.delete(hex);
    if (this.tokens.size >= MAX_TOKEN_SETS) this.tokens.delete(this.tokens.keys().next().value!);
    this.tokens.set(hex, { at: this.clock(), list });
  }

  /** Library adaptations, per socket (see the top comment). */
  private adapt(stack: Stack): void {
    const { dht } = stack;
    const rpc = dht._rpc;
    // BEP 43: a read-only querier stays out of our routing table…
    const addNode = rpc._addNode.bind(rpc);
    rpc._addNode = (node) => {
      if (!stack.context.readOnlySender) addNode(node);
    };
    // …and when we are read-only, our queries say so.
    if (this.options.readOnly) {
      const send = rpc.socket.send.bind(rpc.socket);
      rpc.socket.send = (peer, message, cb) => send(peer, message.y === 'q' ? { ...message, ro: 1 } : message, cb);
    }
    const original = rpc.response.bind(rpc);
    rpc.response = (peer, query, response, nodes, cb) => {
      const withValues = Array.isArray(response.values);
      if (withValues) {
        // The library sends every stored peer, which can outgrow a datagram; BEP 5 replies stay small.
        response.values = (response.values as Buffer[]).slice(0, MAX_REPLY_VALUES);
      }
      const a = (query.a ?? {}) as Record<string, unknown>;
      const target = a.target ?? a.info_hash;
      if ((nodes || withValues) && Buffer.isBuffer(target)) {
        // With values the library sends no nodes; libtorrent sends both, and so do we, so that a
        // lookup that meets a node holding peers can still go on to the k closest (for announces).
        // BEP 32: answer with the node lists the querier wants (`want`: n4, n6), default the
        // family of the socket it asked on; BEP 5: at most K = 8 per list.
        const want = Array.isArray(a.want) ? (a.want as Buffer[]).map((w) => w.toString('latin1')) : [];
        const families: IpFamily[] = want.length ? want.flatMap((w) => (w === 'n4' ? [4] : w === 'n6' ? [6] : [])) : [stack.family];
        for (const f of families as IpFamily[]) {
          const s = this.stacks.find((x) => x.family === f);
          if (!s) continue;
          const closest = s.dht._rpc.nodes.closest(target, REPLY_NODES);
          response[f === 4 ? 'nodes' : 'nodes6'] = encodeCompactNodes(closest, f);
        }
      }
      original(peer, query, response, null, cb);
    };
    // The library stores announced peers as 4-byte IPv4; store each in its own family's form.
    dht._addPeer = function addPeer(peer, infoHash, from) {
      if (familyOf(peer.host) === stack.family) this._peers.add(infoHash.toString('hex'), encodeCompactPeer(peer.host, peer.port));
      this.emit('announce', peer, infoHash, from);
    };
  }
}

function nodeRef(n: QueryTarget): NodeRef {
  return { host: n.host, port: n.port, family: n.family, id: n.id ? n.id.toString('hex') : null };
}

function toHash(infoHash: Uint8Array | string): Buffer {
  const b = typeof infoHash === 'string' ? (/^[0-9a-fA-F]{40}$/.test(infoHash) ? Buffer.from(infoHash, 'hex') : null) : Buffer.from(infoHash);
  if (!b || b.length !== 20) throw new BtError('DHT_BAD_INFOHASH', 'input', 'a DHT key is a 20-byte infohash');
  return b;
}

const isWildcard = (host: string) => host === '0.0.0.0' || host === '::';

async function openStack(family: IpFamily, host: string, port: number, nodeId: Buffer | undefined, options: DhtNodeOptions): Promise<Stack> {
  if (familyOf(host) !== family) {
    throw new BtError('DHT_BAD_BIND_ADDRESS', 'usage', `\`${host}\` is not an IPv${family} address to bind the DHT to`);
  }
  // Loaded here, not at the top: a download or seed without the DHT (and every --help) does not
  // pay for loading the library and its dependencies.
  const { default: DhtClass } = await import('bittorrent-dht');
  const socket = dgram.createSocket(family === 4 ? { type: 'udp4' } : { type: 'udp6', ipv6Only: true });
  const dht = new DhtClass({
    ...(nodeId ? { nodeId } : {}),
    bootstrap: false,
    socket,
    timeout: options.queryTimeoutMs ?? 2_000,
    // The library's own concurrency only throttles its pings; lookups pace themselves.
    concurrency: 16,
  });
  // Without listeners an 'error' event would throw; a running node reports, it does not crash.
  dht.on('error', () => undefined);
  dht.on('warning', () => undefined);
  const stats: GuardStats = { dropped: 0, handlerErrors: 0, lastDropReason: null };
  const context: DispatchContext = { readOnlySender: false };
  guardSocket(socket, stats, context);
  try {
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => {
        socket.off('listening', onListening);
        reject(err);
      };
      const onListening = () => {
        socket.off('error', onError);
        resolve();
      };
      socket.once('error', onError);
      socket.once('listening', onListening);
      socket.bind(port, host);
    });
  } catch (err) {
    await destroyStack({ family, dht, socket, host, port, stats, context });
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw networkError('DHT_BIND_FAILED', `cannot bind the DHT's UDP socket to ${formatHostPort(host, port)}: ${code}`, { cause: err, detail: { host, port, errno: code } });
  }
  const bound = socket.address();
  return { family, dht, socket, host, port: bound.port, stats, context };
}

function destroyStack(s: Stack): Promise<void> {
  return new Promise((resolve) => {
    try {
      s.dht.destroy(() => resolve());
    } catch {
      resolve();
    }
  });
}

async function resolveBootstrap(
  list: readonly HostPort[],
  resolve: DhtNodeOptions['resolve'] | undefined,
  warnings: string[],
): Promise<QueryTarget[]> {
  const out: QueryTarget[] = [];
  for (const { host, port } of list) {
    const literal = familyOf(host.replace(/^\[|\]$/g, ''));
    if (literal) {
      const h = host.replace(/^\[|\]$/g, '');
      out.push({ host: literal === 6 ? formatIpv6(parseIpv6(h)!) : h, port, family: literal, id: null });
      continue;
    }
    try {
      const addrs = await (resolve ?? ((h: string) => dnsLookup(h, { all: true })))(host);
      for (const a of addrs) if (a.family === 4 || a.family === 6) out.push({ host: a.address, port, family: a.family, id: null });
    } catch (err) {
      warnings.push(`cannot resolve DHT bootstrap node ${host}: ${(err as Error).message}`);
    }
  }
  return out;
}

export type { DhtState };
