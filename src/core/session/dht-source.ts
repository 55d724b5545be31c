/**
 * The DHT (BEP 5) as a peer source for the session: `get_peers` lookups for the torrent's
 * infohash feed the address book, and `announce_peer` tells the closest nodes the port we accept
 * peers on. Repeated every few minutes (BEP 5 nodes forget announces after about 30), sooner
 * while the session has no peer at all.
 *
 * It also carries the BEP 5 `port` message both ways: the session advertises `dhtPort` to peers
 * that set the DHT bit in their handshake, and hands the DHT ports peers send us to `nodeSeen`,
 * which pings the node so that it enters our routing table.
 *
 * The node (dht/node.ts) is created and closed by the caller, which owns its socket and its
 * state file; this source only uses it. Off for private torrents (BEP 27): the caller does not add it.
 */
import { DhtNode, type HostPort, loadDhtState, saveDhtState } from '../dht/index.js';
import { type ErrorCode, isBtError } from '../errors.js';
import type { PeerSource, PeerSourceContext } from './types.js';

export interface DhtSourceOptions {
  node: DhtNode;
  infoHash: Uint8Array;
  /** Announce that we have (or get) the torrent. Default true; false for a lookup-only run. */
  announce?: boolean;
  /** Between two rounds when the session has peers. Default 5 minutes. */
  intervalMs?: number;
  /** Between two rounds when it has none. Default 20 s. */
  eagerIntervalMs?: number;
  /** Time budget of one lookup. Default 10 s. */
  lookupTimeoutMs?: number;
}

/** DHT ports we ping, at most, over one run (each a UDP query). */
const MAX_PINGS = 256;

export class DhtSource implements PeerSource {
  readonly name = 'dht';
  private readonly stopper = new AbortController();
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private readonly pinged = new Set<string>();

  constructor(private readonly options: DhtSourceOptions) {}

  /** Our DHT's UDP port, for the BEP 5 `port` message. */
  get dhtPort(): number {
    return this.options.node.port;
  }

  start(ctx: PeerSourceContext): void {
    this.loop = this.run(ctx).catch(() => undefined);
  }

  /** A peer told us its DHT port (BEP 5 `port`): ping it, so it may enter the routing table. */
  nodeSeen(host: string, port: number): void {
    const key = `${host}|${port}`;
    if (this.stopper.signal.aborted || this.pinged.has(key) || this.pinged.size >= MAX_PINGS) return;
    this.pinged.add(key);
    void this.options.node.ping(host, port, { signal: this.stopper.signal }).catch(() => null);
  }

  async stop(deadlineMs: number): Promise<void> {
    this.stopper.abort();
    this.wake?.();
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([this.loop, new Promise<void>((resolve) => (timer = setTimeout(resolve, deadlineMs)))]);
    clearTimeout(timer);
  }

  private async run(ctx: PeerSourceContext): Promise<void> {
    const signal = AbortSignal.any([this.stopper.signal, ctx.signal]);
    const { node, infoHash } = this.options;
    while (!signal.aborted) {
      let found = 0;
      try {
        for await (const ev of node.lookup(infoHash, { signal, timeoutMs: this.options.lookupTimeoutMs ?? 10_000 })) {
          if (ev.type === 'peer') {
            found++;
            ctx.addPeers([{ host: ev.peer.host, port: ev.peer.port }]);
          }
        }
        let announced: number | null = null;
        if ((this.options.announce ?? true) && ctx.port > 0 && !signal.aborted) {
          const r = await node.announce(infoHash, { port: ctx.port, signal, timeoutMs: this.options.lookupTimeoutMs ?? 10_000 });
          announced = r.accepted;
        }
        ctx.emit({ type: 'dht', peers: found, announced, error: null });
      } catch (err) {
        if (signal.aborted) return;
        const e = err as { code?: string; message?: string };
        ctx.emit({ type: 'dht', peers: found, announced: null, error: { code: e.code ?? ('DHT_FAILED' satisfies ErrorCode), message: e.message ?? String(err) } });
      }
      const wait = ctx.connectedPeers() === 0 ? (this.options.eagerIntervalMs ?? 20_000) : (this.options.intervalMs ?? 5 * 60_000);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }
}

/** A DHT node for a swarm run: its id and routing table from the state file, its UDP port the peer port when free. */
export async function startDht(options: { bootstrap: readonly HostPort[]; statePath: string | null; host: string }, port: number, signal: AbortSignal): Promise<DhtNode> {
  const loaded = options.statePath ? await loadDhtState(options.statePath) : { state: null };
  const start = (p: number) =>
    DhtNode.start(
      {
        bootstrap: options.bootstrap,
        host: options.host,
        port: p,
        ...(loaded.state ? { nodeId: Buffer.from(loaded.state.nodeId, 'hex'), nodes: loaded.state.nodes } : {}),
      },
      { signal },
    );
  // The DHT's UDP port is the peer port when free (the usual convention), else any.
  try {
    return await start(port);
  } catch (err) {
    if (port === 0 || !isBtError(err)) throw err;
    return start(0);
  }
}

/** Save the routing table (when it holds any node: an empty one says nothing new) and close the node. */
export async function closeDht(node: DhtNode, statePath: string | null): Promise<void> {
  try {
    const size = node.tableSize();
    if (statePath && size.v4 + size.v6 > 0) await saveDhtState(statePath, node.exportState());
  } catch {
    // the state file is a cache: failing to write it costs only a slower start next time
  }
  await node.close().catch(() => undefined);
}
