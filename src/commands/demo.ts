import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { BaseCommand } from '../cli/base-command.js';
import { type DemoStep, makeWorkspace } from '../cli/demo/harness.js';
import { runOfflineTour } from '../cli/demo/offline.js';
import { type SwarmEvent, type SwarmSummary, runSwarm } from '../cli/demo/swarm.js';
import { Flags } from '../cli/oclif.js';
import { offlineLines, swarmLines, swarmProgressLine } from '../cli/render/demo.js';
import { BtError } from '../core/errors.js';

export type { SwarmSummary };

export interface DemoResult {
  mode: 'swarm' | 'offline';
  directory: string;
  kept: boolean;
  steps: DemoStep[];
  ok: boolean;
  /** The swarm run (absent with --offline). */
  swarm?: SwarmSummary;
}

export default class Demo extends BaseCommand<DemoResult> {
  static override summary = 'Run the main job end to end on a sample payload, offline.';
  static override description = `The main job, end to end, on loopback only (127.0.0.1, free ports; nothing leaves the machine): it writes a sample payload (--size MiB, a few files, one empty), then runs the real CLI as child processes, as a CI pipeline would: \`btkit tracker\`, \`btkit create\` (pointing at that tracker), one \`btkit seed --until peers-complete=N\` and N (--leechers) \`btkit download\` processes started together, which trade pieces among themselves. N-1 of them start from the .torrent and find each other through the tracker; the last one starts from a magnet link that names only the seed (\`x.pe\`, no tracker): it fetches the metadata from the seed (BEP 9) and finds the other downloaders through peer exchange (BEP 11, every second here instead of every minute). The DHT is off in every process. It shows their progress, verifies every copy against the torrent, and prints a summary: time, throughput, the bytes served by the seed versus by the other downloaders, and where the magnet downloader got its metadata and its peers. The seed's upload is capped (--seed-limit, default 16MiB/s) so that the trading shows; 0 lifts the cap.

Every process it starts is stopped (by pid) before it exits, every wait is bounded (about a minute in all), and it exits non-zero if any copy is wrong or any process fails.

--offline runs only the offline tour instead: create, inspect, magnet, verify; then one flipped byte caught by verify (no processes, no sockets).

The directory is removed afterwards unless --keep.`;
  static override examples = [
    { command: '<%= config.bin %> <%= command.id %>', description: 'A tracker, a seed and five downloaders on loopback.' },
    { command: '<%= config.bin %> <%= command.id %> --leechers 8 --size 64 --seed-limit 0', description: 'A bigger swarm, the seed uncapped.' },
    { command: '<%= config.bin %> <%= command.id %> --offline', description: 'The offline tour: create, inspect, magnet, verify.' },
    { command: '<%= config.bin %> <%= command.id %> --keep --dir /tmp/btkit-demo', description: 'Keep the payload and the torrent to play with.' },
    { command: '<%= config.bin %> <%= command.id %> --json', description: 'Timings and results of each step as JSON.' },
  ];
  static override flags = {
    dir: Flags.string({ description: 'Work in this directory (created; default: a new temporary directory).' }),
    keep: Flags.boolean({ description: 'Keep the sample payload and torrent afterwards.' }),
    size: Flags.integer({ min: 1, max: 4096, default: 32, description: 'Size of the sample payload in MiB.' }),
    offline: Flags.boolean({ description: 'Only the offline tour: create, inspect, magnet, verify, and a corrupted byte caught (no processes, no sockets).' }),
    leechers: Flags.integer({ min: 1, max: 20, default: 5, description: 'Downloaders in the swarm.' }),
    'seed-limit': Flags.string({ default: '16MiB', description: "The seed's --upload-limit, so that the downloaders visibly trade with each other (0: unlimited)." }),
  };

  async run(): Promise<DemoResult> {
    const { flags } = await this.parse(Demo);
    const base = await makeWorkspace(flags.dir);
    const human = !this.jsonEnabled();
    const say = (lines: string[]) => {
      if (human) for (const line of lines) this.out(line);
    };
    try {
      if (flags.offline) {
        const tour = await runOfflineTour({ base, sizeMiB: flags.size, createdBy: `btkit/${this.config.version}`, signal: this.signal }, (ev) => say(offlineLines(ev, this.outStyle)));
        say(['', tour.ok ? 'demo: every step worked.' : 'demo: something went wrong (see above).']);
        if (!tour.ok) throw new BtError('DEMO_FAILED', 'internal', 'the demo did not produce the expected results');
        return { mode: 'offline', directory: base, kept: Boolean(flags.keep), steps: tour.steps, ok: true };
      }
      // On a terminal the progress redraws one line; elsewhere it prints a line a second.
      const tty = human && process.stdout.isTTY === true && process.env.TERM !== 'dumb';
      let drawn = false;
      const onEvent = (ev: SwarmEvent) => {
        if (ev.type === 'progress' && tty) {
          process.stdout.write(`\r\x1b[2K${swarmProgressLine(ev)}`);
          drawn = true;
        } else if (ev.type === 'progress-end' && drawn) process.stdout.write('\n');
        else say(swarmLines(ev, this.outStyle));
      };
      const { steps, summary } = await runSwarm(
        {
          base,
          bin: join(this.config.root, 'bin', 'run.js'),
          sizeMiB: flags.size,
          leechers: flags.leechers,
          seedLimit: flags['seed-limit'],
          signal: this.signal,
          progressEveryMs: human ? (tty ? 200 : 1000) : 0,
        },
        onEvent,
      );
      const bad = summary.copies.filter((c) => !c.ok).length;
      if (bad > 0 || !summary.seedOk) {
        throw new BtError('DEMO_FAILED', 'verification', `${bad} of ${summary.leechers} copies are wrong or incomplete${summary.seedOk ? '' : '; the seed did not finish cleanly'}`, { detail: { ...summary } });
      }
      return { mode: 'swarm', directory: base, kept: Boolean(flags.keep), steps, ok: true, swarm: summary };
    } finally {
      if (!flags.keep) await rm(base, { recursive: true, force: true });
    }
  }
}
