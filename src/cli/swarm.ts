/**
 * Flags and their meaning shared by the commands that join a swarm (`download`, `seed`): the DHT
 * (BEP 5), peer exchange (BEP 11), the transports (TCP, uTP: BEP 29), web seeds (BEP 19) and the
 * listening address — one name and one default for one meaning across commands.
 */
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { PUBLIC_BOOTSTRAP_NODES, type HostPort } from '../core/dht/index.js';
import { TRANSPORT_MODES, type TransportMode } from '../core/transport/dual.js';
import { durationFlag, hostPortFlag, parseUrl } from './flags.js';
import { Flags } from './oclif.js';

export const swarmFlags = {
  dht: Flags.boolean({
    default: true,
    allowNo: true,
    description: 'Find peers through the DHT (BEP 5) and announce to it; --no-dht turns it off. Always off for private torrents.',
  }),
  bootstrap: hostPortFlag({
    multiple: true,
    description: 'A DHT node to start from, host:port (repeatable). Default: the saved routing table, then the public routers.',
  }),
  'dht-state': Flags.string({ description: 'The DHT state file (node id, routing table), shared with dht-lookup. Default: $XDG_STATE_HOME/btkit/dht.json.' }),
  pex: Flags.boolean({
    default: true,
    allowNo: true,
    description: 'Exchange peer lists with peers (BEP 11); --no-pex turns it off. Always off for private torrents.',
  }),
  transport: Flags.option({
    options: TRANSPORT_MODES,
    default: 'both' as TransportMode,
    description:
      'How to reach peers: tcp, utp (uTP, BEP 29: over UDP, yields to other traffic) or both — listen on both (the same port number) and dial uTP first, TCP 0.3 s later if uTP has not connected; the first connection made wins.',
  })(),
  /** For tests and demos on loopback: BEP 11 asks for at most one message a minute, which a test cannot wait for. */
  'pex-interval': durationFlag({ hidden: true, description: 'Time between two PEX messages to one peer (default 60s, as BEP 11 asks).' }),
};

/**
 * Which transport each connected peer uses, from the session's peer events, for the status line's
 * "(2 uTP)": the session's statistics count peers, not transports.
 */
export class TransportSplit {
  private readonly byPeer = new Map<string, string>();

  /** Feed every event; returns nothing. */
  see(ev: { type: string; peer?: string; transport?: string }): void {
    if (ev.type === 'peer-connected' && ev.peer !== undefined && ev.transport !== undefined) this.byPeer.set(ev.peer, ev.transport);
    else if (ev.type === 'peer-dropped' && ev.peer !== undefined) this.byPeer.delete(ev.peer);
  }

  /** Connected peers over uTP. */
  get utp(): number {
    let n = 0;
    for (const t of this.byPeer.values()) if (t === 'utp') n++;
    return n;
  }
}

/** Web seeds (BEP 19, and BEP 17 HTTP seeds) as a downloader uses them; `create --web-seed` writes them into a torrent. */
export const webSeedFlags = {
  'web-seed': Flags.custom<string>({ parse: async (input) => parseUrl(input, ['http', 'https'], 'web seed') })({
    multiple: true,
    description: "Also fetch pieces from this HTTP(S) server (BEP 19: a URL ending in / is a directory holding the torrent's name, otherwise the file itself). Repeatable; adds to the torrent's url-list and a magnet's ws=.",
  }),
  'web-seeds': Flags.boolean({
    default: true,
    allowNo: true,
    description: "Use the torrent's web seeds (url-list), its HTTP seeds (httpseeds, BEP 17) and a magnet's ws=; --no-web-seeds turns them all off (a --web-seed is still used).",
  }),
};

/** $XDG_STATE_HOME/btkit/dht.json (an absolute XDG path only, as the spec says), else ~/.local/state. */
export function defaultDhtStatePath(): string {
  const xdg = process.env.XDG_STATE_HOME;
  return join(xdg && isAbsolute(xdg) ? xdg : join(homedir(), '.local', 'state'), 'btkit', 'dht.json');
}

/**
 * The DHT settings from the flags: the given bootstrap nodes, else the public routers — except
 * under BTKIT_NO_PUBLIC_DHT (tests, sandboxes), where no --bootstrap means no DHT at all (a saved
 * routing table could hold public nodes too), so a forgotten flag never sends a packet outside.
 */
export function dhtSettings(
  flags: { dht: boolean; bootstrap?: HostPort[] | undefined; 'dht-state'?: string | undefined },
  host: string,
): { bootstrap: HostPort[]; statePath: string | null; host: string } | null {
  if (!flags.dht) return null;
  const given = flags.bootstrap ?? [];
  if (given.length === 0 && process.env.BTKIT_NO_PUBLIC_DHT) return null;
  const bootstrap = given.length > 0 ? given : [...PUBLIC_BOOTSTRAP_NODES];
  return { bootstrap, statePath: flags['dht-state'] ?? defaultDhtStatePath(), host };
}
