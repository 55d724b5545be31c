import { Flags } from '../cli/oclif.js';
import { BaseCommand, ndjsonFlag } from '../cli/base-command.js';
import { bindHostFlag, durationFlag } from '../cli/flags.js';
import { escapeControl } from '../cli/render/escape.js';
import { formatDuration } from '../cli/render/format.js';
import { resolveTarget } from '../cli/target.js';
import { BtError } from '../core/errors.js';
import { formatPeer, hex, startTrackerServer, type TrackerServerEvent } from '../core/tracker/index.js';

export interface TrackerCommandSummary {
  http: string | null;
  udp: string | null;
  announces: number;
  scrapes: number;
  refused: number;
  badRequests: number;
  torrents: number;
  peers: number;
  uptimeMs: number;
}

export default class Tracker extends BaseCommand<TrackerCommandSummary | undefined> {
  static override summary = 'Run an HTTP and UDP BitTorrent tracker in memory.';
  static override description = `A small tracker for a CI pipeline, a private network or a demo, next to \`btkit seed\`: HTTP (BEP 3 announce at /announce, compact and dictionary peers per BEP 23, IPv6 peers per BEP 7, the external IP per BEP 24, BEP 48 scrape at /scrape) and UDP (BEP 15, with BEP 41 URL data accepted) on the same host. Everything lives in memory; nothing is written to disk.

It binds to --host (default 127.0.0.1, loopback only: give 0.0.0.0 or :: to serve a network). --http-port and --udp-port choose the ports (default 6969 for both, as opentracker; 0 picks a free port, printed at start); --no-http or --no-udp turns a front end off. The announce URLs are printed first (and, under --json, as a "listening" event).

Peers announce every --interval (default 2m) and may not announce more often than --min-interval; a peer that has not announced for --peer-ttl (default three intervals) is dropped. A peer is its address and port: announcing again from the same address and port updates it. The asking peer is never in its own answer. An announce may ask for up to 200 peers (default 50).

Memory is bounded: at most 100,000 torrents and 1,000,000 peers in all (100,000 per torrent); past that, a new peer takes the place of the one that announced least recently. A peer takes ~80 bytes. Measured (bench/tracker/scale.mjs, store-mem.mjs): 200,000 peers over 20,000 torrents after 1,000,000 UDP announces, peak RSS 124 MiB (bound: under 200 MiB); the store full at 1,000,000 peers over 100,000 torrents, peak RSS 245 MiB in-process (bound for the whole tracker: under 350 MiB).

By default the tracker is open: it tracks any infohash. --allow (repeatable; an infohash, a torrent file or a magnet link) makes it serve only those and refuse others with a failure reason.

Every request is logged: one line per announce or scrape on stdout, or with --json one NDJSON object per request ({"type":"announce","time",…,"infoHash","ip","port","event","left","returned","complete","incomplete"}, and "scrape", "refused", "bad-request", "expired"). --quiet logs nothing but the start. SIGINT or SIGTERM stops it cleanly with exit status 0 and a summary (a final {"type":"stopped",…} event under --json); --stop-after stops it by itself.`;
  static override examples = [
    { command: '<%= config.bin %> <%= command.id %>', description: 'Open tracker on http://127.0.0.1:6969/announce and udp://127.0.0.1:6969/announce.' },
    { command: '<%= config.bin %> <%= command.id %> --http-port 0 --udp-port 0 --json', description: 'Free ports, NDJSON log (the first line names the URLs).' },
    { command: '<%= config.bin %> <%= command.id %> --allow release.torrent --interval 30s --host 0.0.0.0', description: 'Serve one torrent to the local network, peers re-announcing every 30 s.' },
    { command: '<%= config.bin %> <%= command.id %> --no-udp --stop-after 10m --quiet &', description: 'An HTTP-only tracker for a CI job, gone after ten minutes.' },
  ];
  static override baseFlags = { ...BaseCommand.baseFlags, ...ndjsonFlag };
  static override flags = {
    host: bindHostFlag({ default: '127.0.0.1', description: 'Address to bind to, both HTTP and UDP (loopback by default).' }),
    'http-port': Flags.integer({ min: 0, max: 65535, default: 6969, description: 'HTTP port; 0 picks a free one.' }),
    'udp-port': Flags.integer({ min: 0, max: 65535, default: 6969, description: 'UDP port; 0 picks a free one.' }),
    'no-http': Flags.boolean({ description: 'Do not serve HTTP.' }),
    'no-udp': Flags.boolean({ description: 'Do not serve UDP.' }),
    interval: durationFlag({ default: 120_000, description: 'The announce interval sent to peers, e.g. 30s.' }),
    'min-interval': durationFlag({ default: 30_000, description: 'The HTTP `min interval` sent to peers.' }),
    'peer-ttl': durationFlag({ description: 'Drop a peer that has not announced for this long. Default: three intervals.' }),
    allow: Flags.string({ multiple: true, description: 'Serve only this torrent (infohash, .torrent or magnet); repeatable. Default: any.' }),
    'trust-ip': Flags.boolean({ description: 'Believe the IP address a client reports (`ip=` / the UDP ip field) instead of the one it comes from.' }),
    'stop-after': durationFlag({ description: 'Stop by itself after this long (e.g. 10m).' }),
  };

  async run(): Promise<TrackerCommandSummary | undefined> {
    const { flags } = await this.parse(Tracker);
    if (flags['no-http'] && flags['no-udp']) throw new BtError('USAGE', 'usage', '--no-http and --no-udp together leave nothing to serve');
    const intervalS = Math.max(1, Math.round(flags.interval / 1000));
    const minIntervalS = Math.min(intervalS, Math.max(0, Math.round(flags['min-interval'] / 1000)));
    let allow: string[] | null = null;
    if (flags.allow?.length) {
      allow = [];
      for (const a of flags.allow) {
        const t = await resolveTarget(a, { signal: this.signal });
        const h = t.infoHash ?? t.infoHashV2?.subarray(0, 20);
        if (!h) throw new BtError('USAGE', 'usage', `\`${a}\` has no infohash`);
        allow.push(hex(h));
      }
    }

    const json = this.jsonEnabled();
    const quiet = !this.chatty && !json;
    // No listener at all when nothing is logged: the server then skips building events.
    const onEvent = json
      ? (e: TrackerServerEvent) => this.emitEvent({ time: new Date().toISOString(), ...e })
      : quiet
        ? undefined
        : (e: TrackerServerEvent) => this.out(escapeControl(renderEvent(e)));

    const started = performance.now();
    const server = await startTrackerServer({
      host: flags.host,
      httpPort: flags['no-http'] ? null : flags['http-port'],
      udpPort: flags['no-udp'] ? null : flags['udp-port'],
      intervalS,
      minIntervalS,
      ...(flags['peer-ttl'] !== undefined ? { peerTtlMs: flags['peer-ttl'] } : {}),
      allow,
      trustClientIp: flags['trust-ip'],
      ...(onEvent ? { onEvent } : {}),
    });
    try {
      const httpUrl = server.http?.announceUrl ?? null;
      const udpUrl = server.udp?.announceUrl ?? null;
      const ttlMs = flags['peer-ttl'] ?? intervalS * 3000;
      if (json) {
        this.emitEvent({
          type: 'listening',
          time: new Date().toISOString(),
          http: httpUrl,
          httpScrape: httpUrl?.replace(/\/announce$/, '/scrape') ?? null,
          udp: udpUrl,
          interval: intervalS,
          minInterval: minIntervalS,
          peerTtlS: Math.round(ttlMs / 1000),
          allow,
          pid: process.pid,
        });
      } else {
        if (httpUrl) this.out(`http  ${httpUrl}  (scrape: ${httpUrl.replace(/\/announce$/, '/scrape')})`);
        if (udpUrl) this.out(`udp   ${udpUrl}`);
        this.note(
          `${allow ? `serving ${allow.length} torrent(s)` : 'open: any infohash'}; interval ${intervalS} s, min interval ${minIntervalS} s, peers expire after ${Math.round(ttlMs / 1000)} s; Ctrl-C stops`,
        );
      }

      await waitForStop(this.signal, flags['stop-after']);

      const summary: TrackerCommandSummary = {
        http: httpUrl,
        udp: udpUrl,
        ...server.stats,
        torrents: server.store.torrentCount,
        peers: server.store.totalPeers,
        uptimeMs: Math.round(performance.now() - started),
      };
      if (json) {
        this.emitEvent({ type: 'stopped', time: new Date().toISOString(), ...summary });
        return undefined;
      }
      this.note(`stopped after ${formatDuration(summary.uptimeMs)}: ${summary.announces} announces, ${summary.scrapes} scrapes, ${summary.refused} refused, ${summary.badRequests} bad requests; ${summary.peers} peers in ${summary.torrents} torrents`);
      return summary;
    } finally {
      await server.close();
    }
  }
}

/** Resolves on the first SIGINT/SIGTERM (the base command's signal) or after `ms`. */
function waitForStop(signal: AbortSignal, ms: number | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = ms !== undefined ? setTimeout(done, ms) : undefined;
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

function renderEvent(e: TrackerServerEvent): string {
  const time = new Date().toISOString().slice(11, 23);
  switch (e.type) {
    case 'announce':
      return `${time}  ${e.protocol.padEnd(4)} announce ${e.infoHash}  ${formatPeer(e)}  ${e.event}${e.left === 0 ? ' seeder' : ''}  → ${e.returned} peers (${e.complete} seeders, ${e.incomplete} leechers)`;
    case 'scrape':
      return `${time}  ${e.protocol.padEnd(4)} scrape   ${e.infoHashes.length === 0 ? '(all)' : e.infoHashes.join(' ')}  from ${e.ip}`;
    case 'refused':
      return `${time}  ${e.protocol.padEnd(4)} refused  ${e.infoHash ?? ''}  from ${e.ip}: ${e.reason}`;
    case 'bad-request':
      return `${time}  ${e.protocol.padEnd(4)} bad request from ${e.ip}: ${e.reason}`;
    case 'expired':
      return `${time}  expired ${e.peers} peer(s)`;
  }
}
