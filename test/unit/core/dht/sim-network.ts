/**
 * An in-memory DHT for lookup tests: nodes with ids, neighbour lists and peer stores, reached
 * through a `KrpcTransport` with a small latency, so the lookup engine runs unchanged and every
 * query it sends is recorded. No sockets.
 */
import { createHash } from 'node:crypto';
import { encodeCompactNodes, encodeCompactPeer, formatHostPort, type IpFamily } from '../../../../src/core/dht/compact.js';
import { type KrpcTransport, type QueryTarget, QueryFailure } from '../../../../src/core/dht/transport.js';

export interface SimNode {
  id: Buffer;
  host: string;
  port: number;
  family: IpFamily;
  known: SimNode[];
  peers: Map<string, { host: string; port: number }[]>;
  /** Custom behaviour: return an `r` dict, or 'silent' to never answer. */
  respond?: (method: string, args: Record<string, unknown>) => Record<string, unknown> | 'silent';
  filters?: { bfsd?: Buffer; bfpe?: Buffer };
}

export const idOf = (label: string | number): Buffer => createHash('sha1').update(String(label)).digest();

export const xorCompare = (target: Buffer) => (a: { id: Buffer }, b: { id: Buffer }) => {
  for (let i = 0; i < 20; i++) {
    const d = (a.id[i]! ^ target[i]!) - (b.id[i]! ^ target[i]!);
    if (d !== 0) return d;
  }
  return 0;
};

export class SimNetwork {
  readonly nodes = new Map<string, SimNode>();
  readonly queries: { to: string; method: string; args: Record<string, unknown> }[] = [];
  aborted = 0;

  constructor(
    readonly latencyMs = 1,
    readonly queryTimeoutMs = 100,
  ) {}

  add(node: Omit<SimNode, 'known' | 'peers' | 'family'> & Partial<Pick<SimNode, 'family'>>): SimNode {
    const n: SimNode = { family: 4, known: [], peers: new Map(), ...node };
    this.nodes.set(formatHostPort(n.host, n.port), n);
    return n;
  }

  /** A network of `count` honest nodes at 127.0.0.1:10000+i, each knowing its closest and a few random others. */
  static honest(count: number, opts: { neighbours?: number; random?: number; latencyMs?: number } = {}): SimNetwork {
    const net = new SimNetwork(opts.latencyMs ?? 1);
    const all = Array.from({ length: count }, (_, i) => net.add({ id: idOf(i), host: '127.0.0.1', port: 10_000 + i }));
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (const n of all) {
      const others = all.filter((o) => o !== n);
      const close = [...others].sort(xorCompare(n.id)).slice(0, opts.neighbours ?? 12);
      const random = Array.from({ length: opts.random ?? 6 }, () => others[Math.floor(rand() * others.length)]!);
      n.known = [...new Set([...close, ...random])];
    }
    return net;
  }

  /** Store `peer` on the `copies` nodes closest to `infoHash` (what an announce achieves). */
  store(infoHash: Buffer, peer: { host: string; port: number }, copies = 8): void {
    const hex = infoHash.toString('hex');
    for (const n of [...this.nodes.values()].sort(xorCompare(infoHash)).slice(0, copies)) {
      n.peers.set(hex, [...(n.peers.get(hex) ?? []), peer]);
    }
  }

  target(n: SimNode): QueryTarget {
    return { host: n.host, port: n.port, family: n.family, id: null };
  }

  transport(families: IpFamily[] = [4]): KrpcTransport {
    return {
      families,
      query: (to, method, args, signal) =>
        new Promise((resolve, reject) => {
          const key = formatHostPort(to.host, to.port);
          this.queries.push({ to: key, method, args });
          const node = this.nodes.get(key);
          const onAbort = () => {
            this.aborted++;
            clearTimeout(timer);
            reject(new QueryFailure('cancelled', 'cancelled'));
          };
          const finish = (fn: () => void) => {
            signal.removeEventListener('abort', onAbort);
            fn();
          };
          let timer: ReturnType<typeof setTimeout>;
          const answer = node ? (node.respond?.(method, args) ?? this.answer(node, method, args)) : 'silent';
          if (answer === 'silent') {
            timer = setTimeout(() => finish(() => reject(new QueryFailure('timeout', 'no answer'))), this.queryTimeoutMs);
          } else if (to.id && node && !to.id.equals(node.id)) {
            timer = setTimeout(() => finish(() => reject(new QueryFailure('unexpected-id', 'other id'))), this.latencyMs);
          } else {
            timer = setTimeout(() => finish(() => resolve(answer)), this.latencyMs);
          }
          signal.addEventListener('abort', onAbort, { once: true });
        }),
    };
  }

  private answer(node: SimNode, method: string, args: Record<string, unknown>): Record<string, unknown> {
    const target = (args.info_hash ?? args.target) as Buffer;
    // BEP 32: up to 8 nodes of each family (`nodes` and `nodes6`).
    const closest = (f: IpFamily) => [...node.known].filter((n) => n.family === f).sort(xorCompare(target)).slice(0, 8);
    const r: Record<string, unknown> = { id: node.id, token: Buffer.from(`tok-${node.port}`) };
    const v4 = encodeCompactNodes(closest(4), 4);
    const v6 = encodeCompactNodes(closest(6), 6);
    if (v4.length) r.nodes = v4;
    if (v6.length) r.nodes6 = v6;
    const peers = method === 'get_peers' ? node.peers.get(target.toString('hex')) : undefined;
    if (peers?.length) r.values = peers.map((p) => encodeCompactPeer(p.host, p.port));
    if (args.scrape && node.filters?.bfsd) r.BFsd = node.filters.bfsd;
    if (args.scrape && node.filters?.bfpe) r.BFpe = node.filters.bfpe;
    return r;
  }
}
