import { Args } from '../cli/oclif.js';
import { BaseCommand } from '../cli/base-command.js';
import { durationFlag, trackerUrlFlag } from '../cli/flags.js';
import { allTrackersFailed, renderOutcomes, renderScrape, scrapeView, toErrorView, trackerWarnings, type ScrapeOutcome } from '../cli/render/tracker.js';
import { resolveTarget } from '../cli/target.js';
import { BtError } from '../core/errors.js';
import { askTrackers, hex } from '../core/tracker/index.js';

export interface ScrapeCommandResult {
  infoHashes: string[];
  trackers: ScrapeOutcome[];
  succeeded: number;
  failed: number;
}

export default class Scrape extends BaseCommand<ScrapeCommandResult> {
  static override summary = 'Ask trackers for seeders, leechers and completed downloads (scrape).';
  static override description = `Scrapes each tracker once for all the infohashes it is asked about: HTTP trackers get BEP 48 requests carrying up to 64 info_hash parameters each (the scrape URL is the announce URL with "announce" in its last path component replaced by "scrape"); UDP trackers get BEP 15 scrapes of up to 74 infohashes per packet. Prints seeders, leechers and completed downloads per infohash per tracker.

Targets are torrent files, magnet links or 40-hex infohashes, as many as wanted. Without --tracker, each target is scraped at its own trackers (all tiers, in parallel); with --tracker, every target at those trackers. A hash the tracker left out of its answer is listed as missing.

Exit status: 0 when at least one tracker answered; 4 (network) when all failed, with TRACKER_ALL_FAILED (several trackers) or the one tracker's own error code (TRACKER_TIMEOUT, TRACKER_FAILURE, TRACKER_SCRAPE_UNSUPPORTED …).`;
  static override examples = [
    { command: '<%= config.bin %> <%= command.id %> ubuntu.torrent', description: 'Scrape every tracker of the torrent.' },
    { command: '<%= config.bin %> <%= command.id %> 9924e7603a28353e40ea29b8660c8a582ebdc99c 1b02b9a3c4f6fe9bfa9ad2bd1ed8e3b1a8f5e5a1 -t udp://127.0.0.1:6969/announce', description: 'Two infohashes in one UDP scrape packet.' },
    { command: '<%= config.bin %> <%= command.id %> x.torrent -t http://127.0.0.1:6969/announce --json | jq \'.result.trackers[0].files[0].complete\'', description: 'The seeder count, for a script.' },
  ];
  static override strict = false;
  static override args = {
    targets: Args.string({ required: true, description: 'One or more .torrent files, magnet links or 40-hex infohashes.' }),
  };
  static override flags = {
    tracker: trackerUrlFlag({ char: 't', multiple: true, description: "Scrape this tracker (announce URL: http://, https://, udp://) instead of the targets' trackers." }),
    timeout: durationFlag({ default: 15_000, description: 'Give up on a tracker after this long.' }),
    'udp-retransmit': durationFlag({ default: 15_000, description: 'First UDP retransmission delay, doubling after each try (the default is BEP 15\'s).' }),
  };

  async run(): Promise<ScrapeCommandResult> {
    const { argv, flags } = await this.parse(Scrape);
    const targets = await Promise.all((argv as string[]).map((a) => resolveTarget(a, { signal: this.signal })));

    // URL → the infohashes to ask it about (in the order the targets were given).
    const plan = new Map<string, Buffer[]>();
    const allHashes: Buffer[] = [];
    for (const t of targets) {
      const h = t.infoHash ?? t.infoHashV2?.subarray(0, 20);
      if (!h) throw new BtError('SCRAPE_NO_INFOHASH', 'input', 'a target has no infohash');
      if (!allHashes.some((x) => x.equals(h))) allHashes.push(h);
      const urls = flags.tracker?.length ? flags.tracker : t.trackers.flat();
      for (const url of urls) {
        const list = plan.get(url) ?? [];
        if (!list.some((x) => x.equals(h))) list.push(h);
        plan.set(url, list);
      }
    }
    if (plan.size === 0) throw new BtError('TRACKER_NONE', 'usage', 'no trackers to scrape: the targets list none; give one with --tracker');

    const asked = await askTrackers([...plan], (client, [url, hashes]) => client.scrape(url, hashes, { signal: this.signal, timeoutMs: flags.timeout }), {
      signal: this.signal,
      client: { retransmitBaseMs: flags['udp-retransmit'] },
    });
    const outcomes = asked.map((o): ScrapeOutcome => {
      const [url, hashes] = o.job;
      return o.ok ? scrapeView(o.value, hashes.map(hex)) : { url, ok: false, rttMs: o.rttMs, infoHashes: hashes.map(hex), error: toErrorView(o.error) };
    });

    const succeeded = outcomes.filter((o) => o.ok).length;
    const result: ScrapeCommandResult = { infoHashes: allHashes.map(hex), trackers: outcomes, succeeded, failed: outcomes.length - succeeded };
    if (!this.jsonEnabled() && (succeeded > 0 || outcomes.length > 1)) for (const line of renderOutcomes(outcomes, renderScrape)) this.out(line);
    if (succeeded === 0) throw allTrackersFailed(outcomes, result);
    for (const w of trackerWarnings(outcomes)) this.warnLine(w);
    return result;
  }
}
