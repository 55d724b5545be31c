import { Args, Flags } from '../cli/oclif.js';
import { BaseCommand } from '../cli/base-command.js';
import { parseHostPort } from '../cli/flags.js';
import { magnetOf } from '../cli/render/torrent.js';
import { readTorrentArg } from '../cli/target.js';
import { BtError } from '../core/errors.js';
import { formatMagnet } from '../core/metainfo/magnet.js';

export interface MagnetCommandResult {
  magnet: string;
  /** v1 infohash, or null for a v2-only torrent. */
  infoHash: string | null;
  /** v2 infohash (64 hex; `xt=urn:btmh:1220…`), or null for a v1 torrent. */
  infoHashV2: string | null;
  name: string;
  trackers: string[];
  webSeeds: string[];
  peers: string[];
  select: [number, number][] | null;
}

export default class Magnet extends BaseCommand<MagnetCommandResult> {
  static override summary = 'Print the magnet link of a torrent.';
  static override description = `The link has the infohash (xt=urn:btih for v1; xt=urn:btmh:1220<SHA-256> for v2, BEP 52; both for a hybrid), the name (dn), the exact length (xl, with --length) and, unless told otherwise, every tracker (tr). Flags add web seeds (ws), peers to contact (x.pe, BEP 9) and a file selection (so, BEP 53).`;
  static override examples = [
    { command: '<%= config.bin %> <%= command.id %> dist.torrent', description: 'Magnet with name and trackers.' },
    { command: '<%= config.bin %> <%= command.id %> dist.torrent --peer 10.1.2.3:6881 --no-trackers', description: 'A trackerless link that names a seed to contact.' },
    { command: 'cat x.torrent | <%= config.bin %> <%= command.id %> - --select 0,2-4', description: 'Select files 0, 2, 3 and 4 (BEP 53).' },
  ];
  static override args = {
    torrent: Args.string({ required: true, description: 'The .torrent file, or `-` for standard input.' }),
  };
  static override flags = {
    'no-trackers': Flags.boolean({ description: 'Leave out the trackers (tr).' }),
    'no-name': Flags.boolean({ description: 'Leave out the name (dn).' }),
    'web-seeds': Flags.boolean({ description: "Include the torrent's web seeds (ws)." }),
    length: Flags.boolean({ description: 'Include the exact length (xl).' }),
    peer: Flags.string({ multiple: true, description: 'A peer to contact, host:port (x.pe); repeatable.' }),
    select: Flags.string({ description: 'File indices to select, e.g. 0,2-4 (so, BEP 53).' }),
  };

  async run(): Promise<MagnetCommandResult> {
    const { args, flags } = await this.parse(Magnet);
    const meta = await readTorrentArg(args.torrent, { signal: this.signal, parse: { allowV2Only: true } });
    const m = magnetOf(meta, { trackers: !flags['no-trackers'], webSeeds: flags['web-seeds'] });
    if (flags['no-name']) delete m.name;
    if (flags.length) m.exactLength = meta.totalLength;
    for (const p of flags.peer ?? []) {
      parseHostPort(p);
      m.peers.push(p);
    }
    if (flags.select !== undefined) {
      const ranges: [number, number][] = [];
      for (const part of flags.select.split(',')) {
        const r = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
        if (!r) throw new BtError('USAGE', 'usage', `\`${part}\` is not a file index or range (e.g. 0,2-4)`);
        const from = Number(r[1]);
        const to = r[2] === undefined ? from : Number(r[2]);
        if (to < from || to >= meta.files.length) throw new BtError('USAGE', 'usage', `file range \`${part}\` is outside 0-${meta.files.length - 1}`);
        ranges.push([from, to]);
      }
      m.select = ranges;
    }
    const magnet = formatMagnet(m);
    if (!this.jsonEnabled()) this.out(magnet);
    return { magnet, infoHash: meta.infoHash.v1?.toString('hex') ?? null, infoHashV2: meta.infoHash.v2?.toString('hex') ?? null, name: meta.name, trackers: m.trackers, webSeeds: m.webSeeds, peers: m.peers, select: m.select ?? null };
  }
}
