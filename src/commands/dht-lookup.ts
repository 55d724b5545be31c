import { Args, Flags } from '../cli/oclif.js';
import { BaseCommand, ndjsonFlag } from '../cli/base-command.js';
import { durationFlag, hostPortFlag } from '../cli/flags.js';
import { type DhtLookupResult, renderLookupSummary } from '../cli/render/dht.js';
import { defaultDhtStatePath } from '../cli/swarm.js';
import { resolveTarget } from '../cli/target.js';
import {
  type AnnounceResult,
  type DoneEvent,
  DhtNode,
  type HostPort,
  PUBLIC_BOOTSTRAP_NODES,
  formatHostPort,
  loadDhtState,
  saveDhtState,
} from '../core/dht/index.js';
import { BtError, abortError } from '../core/errors.js';

export type { DhtLookupResult };

export default class DhtLookup extends BaseCommand<DhtLookupResult> {
  static override summary = 'Ask the mainline DHT for the peers of a torrent.';
  static override description = `Runs one node of the BitTorrent DHT (BEP 5) and looks the infohash up: peers are printed as they are found, host:port one a line (IPv6 in brackets), so the output can feed a pipeline at once. A summary goes to stderr: nodes queried and answered, peers, time to the first peer and to the end.

The lookup walks towards the infohash, up to 8 queries in flight, and ends when the 8 closest nodes have all answered, after --timeout, after --max-peers peers, or after --max-queried queries. With an IPv6 socket (default: bound to ::, if the system allows; --no-ipv6 to skip) it also asks for and follows IPv6 nodes (BEP 32). --scrape asks the nodes for their BEP 33 bloom filters and prints the estimated number of seeds and other peers. --announce then announces us (--announce-port, or our DHT port as implied_port) to the closest nodes that gave a write token; --seed marks the announce as a seed's (BEP 33).

Bootstrap: the --bootstrap nodes (repeatable, host:port). Without --bootstrap the public routers are used (router.bittorrent.com:6881, router.utorrent.com:6881, dht.transmissionbt.com:6881, dht.libtorrent.org:25401), unless BTKIT_NO_PUBLIC_DHT is set, which makes that a usage error (for sandboxes and tests).

Our node is read-only (BEP 43: its queries carry "ro": 1) so that other nodes do not keep a node that lives only for the lookup in their routing tables.

State: our node id and routing table are saved (atomically) at the end of a run in which any node answered, and loaded at the start of the next, so a second lookup starts from nodes near the target instead of from the bootstrap nodes. Default file: $XDG_STATE_HOME/btkit/dht.json, or ~/.local/state/btkit/dht.json; --state to choose another.

--json prints NDJSON: one object per event as it happens ({"type":"query"|"response"|"failure"|"peer"|"done"|"announce",…}; "peer" carries the node that gave it), then a last line with the {"ok":…} envelope holding the summary.

Exit status: 0 when peers were found, or with --announce when a node accepted our announce (peers or not: we may be the swarm's first peer); 6 (no peers) when the lookup finished but no node knew a peer; 4 (network) when our UDP socket could not be bound, when no node answered at all (the bootstrap nodes are unreachable or wrong), or when --announce was accepted by no node.`;
  static override examples = [
    { command: '<%= config.bin %> <%= command.id %> 08ada5a7a6183aae1e09d831df6748d566095a10', description: 'Peers of an infohash, from the public DHT.' },
    { command: "<%= config.bin %> <%= command.id %> 'magnet:?xt=urn:btih:…' --max-peers 20 --timeout 10s", description: 'At most 20 peers, at most 10 seconds.' },
    { command: '<%= config.bin %> <%= command.id %> x.torrent --bootstrap 127.0.0.1:7001 --host 127.0.0.1 --no-ipv6', description: 'A private DHT on loopback.' },
    { command: '<%= config.bin %> <%= command.id %> x.torrent --scrape --announce --announce-port 51413 --seed', description: 'Estimate the swarm, then announce ourselves as a seed on port 51413.' },
    { command: "<%= config.bin %> <%= command.id %> x.torrent --json | jq -c 'select(.type==\"peer\")'", description: 'Peer events with the node that gave each.' },
  ];
  static override args = {
    target: Args.string({ required: true, description: 'A 40-hex infohash, a magnet link, or a .torrent file (`-` for standard input).' }),
  };
  static override baseFlags = { ...BaseCommand.baseFlags, ...ndjsonFlag };
  static override flags = {
    timeout: durationFlag({ default: 5_000, description: 'Time budget of the lookup (e.g. 5s, 30s).' }),
    'max-peers': Flags.integer({ min: 1, description: 'Stop after this many distinct peers.' }),
    'max-queried': Flags.integer({ min: 1, default: 256, description: 'Stop after this many queries.' }),
    bootstrap: hostPortFlag({ char: 'b', multiple: true, description: 'A DHT node to start from, host:port ([::1]:6881 for IPv6). Default: the public routers.' }),
    host: Flags.string({ default: '0.0.0.0', description: 'IPv4 address our node binds to.' }),
    port: Flags.integer({ char: 'p', min: 0, max: 65535, default: 0, description: 'UDP port of our node (0: any free port; a port given here is used for IPv6 too).' }),
    host6: Flags.string({ description: 'IPv6 address our node binds to (default ::).' }),
    ipv6: Flags.boolean({ default: true, allowNo: true, description: 'Also run an IPv6 node (BEP 32) when an IPv6 socket can be bound; --no-ipv6: IPv4 only.' }),
    announce: Flags.boolean({ description: 'After the lookup, announce us to the closest nodes (announce_peer).' }),
    'announce-port': Flags.integer({ min: 1, max: 65535, description: 'The port to announce (default: our DHT port, sent as implied_port).' }),
    seed: Flags.boolean({ description: 'With --announce: announce as a seed (BEP 33 "seed": 1).' }),
    scrape: Flags.boolean({ description: 'Ask for BEP 33 seed/peer bloom filters and print the estimated swarm size.' }),
    state: Flags.string({ description: 'The DHT state file (node id and routing table). Default: $XDG_STATE_HOME/btkit/dht.json or ~/.local/state/btkit/dht.json.' }),
  };

  async run(): Promise<DhtLookupResult> {
    const { args, flags } = await this.parse(DhtLookup);
    if (flags['announce-port'] !== undefined && !flags.announce) throw new BtError('USAGE', 'usage', '--announce-port needs --announce');
    if (flags.seed && !flags.announce) throw new BtError('USAGE', 'usage', '--seed needs --announce');
    const target = await resolveTarget(args.target, { signal: this.signal });
    // BEP 52: a v2-only swarm is found in the DHT under its hash truncated to 20 bytes.
    const infoHash = target.infoHash ?? target.infoHashV2?.subarray(0, 20);
    if (!infoHash) throw new BtError('DHT_NO_INFOHASH', 'input', 'the target has no infohash');
    const hex = infoHash.toString('hex');

    const bootstrap = lookupBootstrap(flags.bootstrap, (line) => this.note(line));

    const statePath = flags.state ?? defaultDhtStatePath();
    const loaded = await loadDhtState(statePath);
    if (loaded.warning) this.warnLine(loaded.warning);

    const node = await DhtNode.start(
      {
        bootstrap,
        host: flags.host,
        port: flags.port,
        host6: flags.ipv6 ? (flags.host6 ?? '::') : null,
        // BEP 43: a lookup's node lives for seconds; it must not end up in others' tables.
        readOnly: true,
        ...(loaded.state ? { nodeId: Buffer.from(loaded.state.nodeId, 'hex'), nodes: loaded.state.nodes } : {}),
      },
      { signal: this.signal },
    );
    for (const w of node.warnings) {
      // No IPv6 on this machine is normal unless --host6 asked for it.
      if (w.startsWith('IPv6 DHT disabled') && flags.host6 === undefined) this.note(w);
      else this.warnLine(w);
    }
    const addresses = node.addresses().map((a) => formatHostPort(a.host, a.port));
    this.note(`dht-lookup ${hex}: our node ${addresses.join(' ')}, ${loaded.state ? `${loaded.state.nodes.length} saved nodes` : 'no saved nodes'} (${statePath})`);

    const json = this.jsonEnabled();
    const peers: string[] = [];
    let done: DoneEvent | undefined;
    let announce: AnnounceResult | null = null;
    let savedNodes: number | null = null;
    try {
      for await (const ev of node.lookup(infoHash, {
        signal: this.signal,
        timeoutMs: flags.timeout,
        maxQueried: flags['max-queried'],
        scrape: flags.scrape,
        ...(flags['max-peers'] !== undefined ? { maxPeers: flags['max-peers'] } : {}),
      })) {
        if (json) this.emitEvent(ev as unknown as Record<string, unknown>);
        if (ev.type === 'peer') {
          const text = formatHostPort(ev.peer.host, ev.peer.port);
          peers.push(text);
          if (!json) this.out(text);
        } else if (ev.type === 'done') {
          done = ev;
        }
      }
      if (flags.announce && done && done.answered > 0) {
        announce = await node.announce(infoHash, {
          signal: this.signal,
          timeoutMs: flags.timeout,
          seed: flags.seed,
          ...(flags['announce-port'] !== undefined ? { port: flags['announce-port'] } : {}),
        });
        if (json) this.emitEvent({ type: 'announce', ...announce });
      }
    } finally {
      // Save only what a working run learned: after a run where nobody answered (offline, wrong
      // bootstrap) the table holds nothing better than the file already has.
      if (done && done.answered > 0) {
        try {
          const state = node.exportState();
          await saveDhtState(statePath, state);
          savedNodes = state.nodes.length;
        } catch (err) {
          this.warnLine((err as Error).message);
        }
      }
      await node.close();
    }
    if (this.signal.aborted || !done) throw abortError(this.signal);

    const result: DhtLookupResult = {
      infoHash: hex,
      peers,
      reason: done.reason,
      queried: done.queried,
      answered: done.answered,
      failed: done.failed,
      elapsedMs: done.elapsedMs,
      firstPeerMs: done.firstPeerMs,
      scrape: done.scrape ?? null,
      announce,
      node: { id: node.nodeId.toString('hex'), addresses },
      state: { path: statePath, loadedNodes: loaded.state?.nodes.length ?? 0, savedNodes },
    };
    for (const line of renderLookupSummary(result)) this.note(line);

    lookupVerdict(result, bootstrap);
    return result;
  }

  /** NDJSON: the closing envelope is one line too, like every event before it. */
  override logJson(json: unknown): void {
    this.emitEvent(json as Record<string, unknown>);
  }
}

/**
 * The nodes to start from: --bootstrap, else the public routers (said on stderr) — except under
 * BTKIT_NO_PUBLIC_DHT (tests, sandboxes), where a forgotten --bootstrap is a usage error.
 */
function lookupBootstrap(given: HostPort[] | undefined, note: (line: string) => void): HostPort[] {
  if (given && given.length > 0) return given;
  if (process.env.BTKIT_NO_PUBLIC_DHT) throw new BtError('DHT_NO_BOOTSTRAP', 'usage', 'no --bootstrap node given, and BTKIT_NO_PUBLIC_DHT forbids the public routers');
  const routers = [...PUBLIC_BOOTSTRAP_NODES];
  note(`bootstrapping from the public DHT routers (${routers.map((b) => b.host).join(', ')}); --bootstrap to choose`);
  return routers;
}

/** What the lookup's outcome means for the exit code (the result goes in each error's detail). */
function lookupVerdict(result: DhtLookupResult, bootstrap: readonly HostPort[]): void {
  if (result.answered === 0) {
    throw new BtError(
      'DHT_NO_NODES',
      'network',
      `no DHT node answered (${result.queried} queried; bootstrap ${bootstrap.map((b) => formatHostPort(b.host, b.port)).join(', ')})`,
      { detail: { result } },
    );
  }
  if (result.announce && result.announce.accepted === 0) {
    throw new BtError('DHT_ANNOUNCE_FAILED', 'network', `no node accepted the announce (${result.announce.attempted} asked)`, { detail: { result } });
  }
  // With --announce, publishing us was the job: a swarm we are the first peer of is a success.
  if (result.peers.length === 0 && !result.announce) {
    throw new BtError('DHT_NO_PEERS', 'no-peers', `no peers found for ${result.infoHash} (${result.answered} nodes answered)`, { detail: { result } });
  }
}
