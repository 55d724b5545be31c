import { Args, Flags } from '../cli/oclif.js';
import { randomBytes } from 'node:crypto';
import { BaseCommand } from '../cli/base-command.js';
import { byteSizeFlag, dashValueFlag, durationFlag, trackerUrlFlag } from '../cli/flags.js';
import { allTrackersFailed, announceView, renderAnnounce, renderOutcomes, toErrorView, trackerWarnings, type AnnounceOutcome } from '../cli/render/tracker.js';
import { resolveTarget } from '../cli/target.js';
import { BtError } from '../core/errors.js';
import { parseIPv4, parseIPv6 } from '../core/net/address.js';
import {
  ANNOUNCE_EVENTS,
  askTrackers,
  azureusPrefix,
  formatPeer,
  hex,
  makePeerId,
  parsePeerIdText,
  type AnnounceEvent,
  type AnnounceParams,
} from '../core/tracker/index.js';

export interface AnnounceCommandResult {
  infoHash: string;
  name: string | null;
  request: {
    peerId: string;
    port: number;
    event: AnnounceEvent;
    uploaded: number;
    downloaded: number;
    left: number;
    numWant: number;
    key: string;
    ip: string | null;
    ipv4: string | null;
    ipv6: string | null;
  };
  trackers: AnnounceOutcome[];
  succeeded: number;
  failed: number;
}

export default class Announce extends BaseCommand<AnnounceCommandResult> {
  static override summary = 'Announce to trackers (HTTP and UDP) and show everything they answer.';
  static override description = `Sends one announce to each tracker and prints, per tracker, the round-trip time, interval and min interval, seeders and leechers, warning or failure text, the external IP the tracker saw (BEP 24), its tracker id, and the peer list (IPv4 and IPv6). HTTP(S) trackers get BEP 3 announces with compact peers (BEP 23; --no-compact asks for the dictionary model) and IPv6 peers (BEP 7); UDP trackers get BEP 15 with the BEP 41 URL path.

Without --tracker, every tracker of the torrent or magnet link is announced to at once, all tiers in parallel, one result each. With --tracker, only those. The target can also be a bare 40-hex infohash (then --tracker is needed).

Defaults describe a client that has just started: --event started, --port 6881, nothing uploaded or downloaded, --left the torrent's size (1 when only the infohash is known, so the tracker counts us as a leecher), --numwant 50, a random peer id (-BK0100-…) and key. A tracker that lists our own address back (opentracker does) is shown as it answered.

UDP requests are retransmitted on the BEP 15 schedule (15 s, 30 s, 60 s … after each try); --udp-retransmit shortens the first wait. --timeout bounds each tracker's whole exchange.

Exit status: 0 when at least one tracker answered (failures are listed beside the answers and as warnings); 4 (network) when every tracker failed — a tracker's failure reason, no answer within --timeout, an unreachable host, or an answer that breaks the protocol. With one tracker the error code names the cause (TRACKER_TIMEOUT, TRACKER_FAILURE, TRACKER_BAD_RESPONSE …); with several it is TRACKER_ALL_FAILED and --json lists each tracker's error.

--peers-only prints just the peers, host:port one a line (IPv6 in brackets), deduplicated across trackers, for pipelines.`;
  static override examples = [
    { command: '<%= config.bin %> <%= command.id %> ubuntu.torrent', description: 'Announce to every tracker of the torrent, in parallel.' },
    { command: '<%= config.bin %> <%= command.id %> 9924e7603a28353e40ea29b8660c8a582ebdc99c -t udp://127.0.0.1:6969/announce --event none', description: 'Ask one UDP tracker about an infohash without changing our state.' },
    { command: '<%= config.bin %> <%= command.id %> x.torrent -t http://127.0.0.1:6969/announce --left 0 --port 51413', description: 'Announce as a seeder listening on port 51413.' },
    { command: '<%= config.bin %> <%= command.id %> x.torrent --peers-only | head', description: 'Peers only, host:port one a line.' },
    { command: '<%= config.bin %> <%= command.id %> x.torrent --json | jq \'.result.trackers[] | {url, ok, rttMs, interval, peers: (.peers|length)}\'', description: 'Everything as JSON.' },
  ];
  static override args = {
    target: Args.string({ required: true, description: 'A .torrent file (`-` for standard input), a magnet link, or a 40-hex infohash.' }),
  };
  static override flags = {
    tracker: trackerUrlFlag({ char: 't', multiple: true, description: 'Announce to this tracker URL (http://, https://, udp://) instead of the torrent\'s trackers.' }),
    event: Flags.string({ options: [...ANNOUNCE_EVENTS], default: 'started', description: 'The announce event.' }),
    port: Flags.integer({ char: 'p', min: 0, max: 65535, default: 6881, description: 'The port we claim to listen on.' }),
    uploaded: byteSizeFlag({ description: 'Bytes uploaded so far (e.g. 0, 1GiB). Default 0.' }),
    downloaded: byteSizeFlag({ description: 'Bytes downloaded so far. Default 0.' }),
    left: byteSizeFlag({ description: "Bytes left to download; 0 announces a seeder. Default: the torrent's size, or 1 for a bare infohash or magnet." }),
    numwant: Flags.integer({ min: -1, max: 10000, default: 50, description: 'Peers wanted; -1 lets the tracker choose.' }),
    'peer-id': dashValueFlag({ description: 'Peer id: 40 hex digits; a client code and version such as qB4630 (the prefix -qB4630-, padded at random); or any prefix of up to 20 characters, such as -qB4630-. Default: -BK0100- and random characters.' }),
    key: Flags.string({ description: 'The 32-bit key, as up to 8 hex digits. Default: random.' }),
    ip: Flags.string({ description: 'An IP address to report to the tracker (most trackers ignore it).' }),
    ipv4: Flags.string({ description: 'BEP 7: our IPv4 address for a dual-stack HTTP tracker, ADDR or ADDR:PORT (sent as ipv4=; UDP trackers have no such field).' }),
    ipv6: Flags.string({ description: 'BEP 7: our IPv6 address for a dual-stack HTTP tracker, ADDR or [ADDR]:PORT (sent as ipv6=; UDP trackers have no such field).' }),
    'tracker-id': Flags.string({ description: "Send this `trackerid` (an HTTP tracker's `tracker id` from a previous answer)." }),
    compact: Flags.boolean({ default: true, allowNo: true, description: 'Ask HTTP trackers for compact peer lists (BEP 23); --no-compact asks for the dictionary model with peer ids.' }),
    timeout: durationFlag({ default: 15_000, description: 'Give up on a tracker after this long (e.g. 5s, 1m).' }),
    'udp-retransmit': durationFlag({ default: 15_000, description: 'First UDP retransmission delay, doubling after each try (the default is BEP 15\'s).' }),
    'peers-only': Flags.boolean({ description: 'Print only the peers, host:port one a line (deduplicated).' }),
  };

  static override dashValueFlags = ['peer-id'];

  async run(): Promise<AnnounceCommandResult> {
    const { args, flags } = await this.parse(Announce);
    const target = await resolveTarget(args.target, { signal: this.signal });
    // BEP 52: trackers are given the v2 hash truncated to 20 bytes when there is no v1 hash.
    const infoHash = target.infoHash ?? target.infoHashV2?.subarray(0, 20);
    if (!infoHash) throw new BtError('ANNOUNCE_NO_INFOHASH', 'input', 'the target has no infohash');
    const tiers: string[][] = flags.tracker?.length ? [flags.tracker] : target.trackers;
    const urls = dedupe(tiers);
    if (urls.length === 0) {
      throw new BtError('TRACKER_NONE', 'usage', target.kind === 'infohash' ? 'an infohash has no trackers: give one with --tracker' : 'the target lists no trackers: give one with --tracker');
    }

    const key = flags.key !== undefined ? parseKey(flags.key) : randomBytes(4).readUInt32BE(0);
    const params: AnnounceParams = {
      infoHash,
      peerId: flags['peer-id'] !== undefined ? parsePeerIdText(flags['peer-id']) : makePeerId(azureusPrefix('BK', this.config.version)),
      port: flags.port,
      uploaded: flags.uploaded ?? 0,
      downloaded: flags.downloaded ?? 0,
      left: flags.left ?? target.metainfo?.totalLength ?? target.magnet?.exactLength ?? 1,
      event: flags.event as AnnounceEvent,
      numWant: flags.numwant,
      key,
      compact: flags.compact,
      noPeerId: flags.compact,
      ...(flags.ip !== undefined ? { ip: flags.ip } : {}),
      ...(flags.ipv4 !== undefined ? { ipv4: checkedAddress(flags.ipv4, 4) } : {}),
      ...(flags.ipv6 !== undefined ? { ipv6: checkedAddress(flags.ipv6, 6) } : {}),
      ...(flags['tracker-id'] !== undefined ? { trackerId: Buffer.from(flags['tracker-id'], 'utf8') } : {}),
    };

    const asked = await askTrackers(urls, (client, { url }) => client.announce(url, params, { signal: this.signal, timeoutMs: flags.timeout }), {
      signal: this.signal,
      client: { retransmitBaseMs: flags['udp-retransmit'] },
    });
    const outcomes = asked.map((o): AnnounceOutcome => (o.ok ? announceView(o.value, o.job.tier) : { url: o.job.url, tier: o.job.tier, ok: false, rttMs: o.rttMs, error: toErrorView(o.error) }));

    const succeeded = outcomes.filter((o) => o.ok).length;
    const result: AnnounceCommandResult = {
      infoHash: hex(infoHash),
      name: target.name ?? null,
      request: {
        peerId: hex(params.peerId),
        port: params.port,
        event: params.event,
        uploaded: Number(params.uploaded),
        downloaded: Number(params.downloaded),
        left: Number(params.left),
        numWant: params.numWant,
        key: (key >>> 0).toString(16).padStart(8, '0'),
        ip: flags.ip ?? null,
        ipv4: flags.ipv4 ?? null,
        ipv6: flags.ipv6 ?? null,
      },
      trackers: outcomes,
      succeeded,
      failed: outcomes.length - succeeded,
    };

    if (!this.jsonEnabled()) {
      if (flags['peers-only']) {
        const seen = new Set<string>();
        for (const o of outcomes) if (o.ok) for (const p of o.peers) seen.add(formatPeer(p));
        for (const line of seen) this.out(line);
      } else if (succeeded > 0 || outcomes.length > 1) {
        this.note(`${result.infoHash}${result.name ? `  ${result.name}` : ''}: announce (${params.event}) to ${outcomes.length} tracker(s)`);
        for (const line of renderOutcomes(outcomes, renderAnnounce)) this.out(line);
      }
    }

    // With one tracker its own error is the clearest; with several, one error listing them all.
    if (succeeded === 0) throw allTrackersFailed(outcomes, result);
    for (const w of trackerWarnings(outcomes)) this.warnLine(w);
    return result;
  }
}

function dedupe(tiers: readonly (readonly string[])[]): { url: string; tier: number }[] {
  const seen = new Set<string>();
  const out: { url: string; tier: number }[] = [];
  tiers.forEach((tier, t) => {
    for (const url of tier) {
      if (seen.has(url)) continue;
      seen.add(url);
      out.push({ url, tier: t });
    }
  });
  return out;
}

function parseKey(text: string): number {
  const t = text.replace(/^0x/i, '');
  if (!/^[0-9a-fA-F]{1,8}$/.test(t)) throw new BtError('USAGE', 'usage', `\`${text}\` is not a key: give up to 8 hex digits`);
  return parseInt(t, 16) >>> 0;
}

/** BEP 7's forms: `addr` or `addr:port` (IPv4), `addr` or `[addr]:port` (IPv6). Returned as given. */
function checkedAddress(text: string, family: 4 | 6): string {
  const m = family === 4 ? /^([^:]+)(?::(\d+))?$/.exec(text) : /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^[\]]+)()$/.exec(text);
  const addr = m?.[1] ?? '';
  const port = m?.[2] ? Number(m[2]) : null;
  const ok = (family === 4 ? parseIPv4(addr) : parseIPv6(addr)) !== null && (port === null || (port >= 1 && port <= 65535));
  if (!ok) {
    const forms = family === 4 ? 'ADDR or ADDR:PORT, e.g. 192.0.2.7 or 192.0.2.7:6881' : 'ADDR or [ADDR]:PORT, e.g. 2001:db8::7 or [2001:db8::7]:6881';
    throw new BtError('USAGE', 'usage', `--ipv${family} \`${text}\` is not an IPv${family} address (${forms})`);
  }
  return text;
}
