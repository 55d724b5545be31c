import { Args, Flags } from '../cli/oclif.js';
import { BaseCommand } from '../cli/base-command.js';
import { magnetView, renderFiles, renderMagnetView, renderSummary, summarize, type MagnetView, type TorrentSummary } from '../cli/render/torrent.js';
import { resolveTarget } from '../cli/target.js';
import { toJson, type JsonValue } from '../core/bencode/index.js';

type InspectResult = TorrentSummary | { magnet: MagnetView } | { raw: JsonValue };

export default class Inspect extends BaseCommand<InspectResult> {
  static override summary = 'Show what a torrent file or magnet link contains.';
  static override description = `Prints the name, infohashes (v1 SHA-1; for v2 and hybrid torrents, BEP 52, the full SHA-256 v2 infohash and the meta version), size, pieces, files (as a tree, or a list with --list), trackers by tier, web seeds and every other field. The infohash is always the SHA-1 of the info dictionary's original bytes, even when the file is not canonical bencode; non-canonical input is reported. A torrent whose paths are unsafe (\`..\`, absolute, reserved names) is shown too, each such path as a warning; download, seed and verify refuse it.

For v2 and hybrid torrents the files carry their \`pieces root\` and each file longer than a piece has its \`piece layers\` entry checked against the root (ok, missing, bad-length, mismatch; a bad one is a warning).

--json prints every field, hashes in hex. --raw prints the whole bencoded structure as JSON (byte strings that are not UTF-8 as {"hex": …}; pieces always as hex).`;
  static override examples = [
    { command: '<%= config.bin %> <%= command.id %> ubuntu.torrent', description: 'Human summary with a file tree.' },
    { command: '<%= config.bin %> <%= command.id %> ubuntu.torrent --json | jq -r .result.infoHash', description: 'The infohash, for a script.' },
    { command: 'cat x.torrent | <%= config.bin %> <%= command.id %> - --raw', description: 'Every bencoded field as JSON.' },
    { command: "<%= config.bin %> <%= command.id %> 'magnet:?xt=urn:btih:…&dn=x'", description: 'What a magnet link says.' },
  ];
  static override args = {
    target: Args.string({ required: true, description: 'A .torrent file, `-` for standard input, or a magnet link.' }),
  };
  static override flags = {
    raw: Flags.boolean({ description: 'Dump the whole bencoded structure as JSON.' }),
    list: Flags.boolean({ description: 'List files one per line (size and path) instead of a tree; with --quiet, only that list.' }),
  };

  async run(): Promise<InspectResult> {
    const { args, flags } = await this.parse(Inspect);
    // Showing a torrent writes nothing: unsafe paths are reported, not refused (download, seed and
    // verify, which write or read data at those paths, still refuse them).
    // v2-only torrents are shown too (BEP 52), and a bad piece layer is reported, not refused.
    const target = await resolveTarget(args.target, { signal: this.signal, parse: { unsafePaths: 'report', allowV2Only: true, pieceLayers: 'report' } });
    if (target.kind !== 'torrent' || !target.metainfo) {
      if (target.kind === 'infohash') {
        const { BtError } = await import('../core/errors.js');
        throw new BtError('INSPECT_NEEDS_TORRENT', 'input', 'an infohash alone has nothing to inspect: give a torrent file or a magnet link');
      }
      const view = magnetView(target.magnet!);
      for (const bad of view.badPeers) this.warnLine(`x.pe=${bad.value} is no peer address (${bad.reason}); download skips it`);
      if (!this.jsonEnabled()) for (const line of renderMagnetView(view)) this.out(line);
      return { magnet: view };
    }
    const meta = target.metainfo;
    for (const u of meta.unsafePaths ?? []) this.warnLine(`${u.message} [${u.code}]: download, seed and verify refuse this torrent`);
    for (const l of meta.pieceLayers ?? []) if (l.code) this.warnLine(`${l.message} [${l.code}]: verify refuses this torrent`);
    if (flags.raw) {
      const raw = toJson(meta.raw, { binaryKeys: new Set(['pieces', 'pieces root', 'piece layers']) });
      if (!this.jsonEnabled()) this.out(JSON.stringify(raw, null, 2));
      return { raw };
    }
    const summary = summarize(meta);
    if (!summary.canonical) this.warnLine(`the torrent is not canonical bencode (${summary.nonCanonical.map((n) => n.kind).join(', ')}); the infohash is over its original bytes`);
    // --quiet: the files alone (a list or a tree), for a pipeline.
    if (!this.jsonEnabled()) for (const line of (this.quiet ? renderFiles : renderSummary)(summary, { list: flags.list })) this.out(line);
    return summary;
  }
}
