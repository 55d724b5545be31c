/**
 * The options of making a torrent, shared by `btkit create` and `btkit seed PATH` (share): the
 * flags, their checks, and their conversion into the core's `CreateOptions`. One place, so the
 * two commands take the same values with the same meaning.
 */
import { basename, resolve } from 'node:path';
import { access } from 'node:fs/promises';
import { BtError } from '../core/errors.js';
import type { CreateOptions } from '../core/metainfo/create.js';
import { parseUrl, pieceLengthFlag } from './flags.js';
import { Flags } from './oclif.js';

/** The schemes a torrent may list: WebTorrent trackers (ws, wss) too, though btkit does not speak to them. */
const TORRENT_TRACKER_SCHEMES = ['http', 'https', 'udp', 'ws', 'wss'];

/**
 * The create flags. `share` (for `seed PATH`): each description says it is for sharing, and
 * piece length has no `-p` (seed's `-p` is the port). The tracker flag is not here: seed's has a
 * second meaning (extra trackers for a given torrent), so each command declares its own.
 */
export function createFlags(options: { share?: boolean } = {}) {
  const s = (text: string) => (options.share ? `Share: ${text.charAt(0).toLowerCase()}${text.slice(1)}` : text);
  return {
    output: Flags.string({
      char: 'o',
      description: options.share
        ? 'Share: where to write the new torrent (default NAME.torrent in the current directory).'
        : 'Where to write the torrent; `-` for stdout. Default: <name>.torrent in the current directory.',
    }),
    force: Flags.boolean({ char: 'f', description: s('Overwrite the output file if it exists.') }),
    name: Flags.string({ char: 'n', description: s('Torrent name (default: the base name of the path).') }),
    'piece-length': pieceLengthFlag({
      ...(options.share ? {} : { char: 'p' as const }),
      description: options.share ? 'Share: piece length, e.g. 256KiB, 1MiB, 4m (default: automatic, as in create).' : 'Piece length, e.g. 256KiB, 1MiB, 4m (default: automatic, as the description says).',
    }),
    'web-seed': Flags.string({ char: 'w', multiple: true, description: s('Web seed URL (BEP 19 url-list); repeatable.') }),
    private: Flags.boolean({ description: s('Mark the torrent private (BEP 27): peers only from its trackers.') }),
    source: Flags.string({ description: s('The `source` field (changes the infohash; private trackers use it).') }),
    comment: Flags.string({ char: 'c', description: s('A free-text comment.') }),
    'include-hidden': Flags.boolean({ description: s("Include files and directories whose names start with '.'.") }),
    'follow-symlinks': Flags.boolean({ description: s('Follow symbolic links (default: skip them).') }),
    include: Flags.string({ multiple: true, description: s('Only files matching this glob; repeatable.') }),
    exclude: Flags.string({ multiple: true, description: s('Leave out files matching this glob; repeatable.') }),
    'no-attrs': Flags.boolean({ description: s("Leave out BEP 47 file attributes (`x` on executables, written as libtorrent does); mktorrent writes none.") }),
  };
}

/** The flags' values, as oclif parses them (create's and seed's both fit). */
export interface CreateFlagValues {
  output?: string | undefined;
  force?: boolean;
  name?: string | undefined;
  'piece-length'?: number | undefined;
  tracker?: string[] | undefined;
  'web-seed'?: string[] | undefined;
  private?: boolean;
  source?: string | undefined;
  comment?: string | undefined;
  'include-hidden'?: boolean;
  'follow-symlinks'?: boolean;
  include?: string[] | undefined;
  'no-attrs'?: boolean;
  exclude?: string[] | undefined;
  threads?: number | undefined;
  'no-date'?: boolean;
  'no-created-by'?: boolean;
}

/** The create-only flags a `seed TORRENT PATH` run refuses (they would have no effect). */
export const SHARE_ONLY_FLAGS = ['output', 'force', 'name', 'piece-length', 'private', 'comment', 'source', 'web-seed', 'include-hidden', 'follow-symlinks', 'include', 'exclude'] as const;

/** Each --tracker is one tier (BEP 12); commas inside one flag put trackers in the same tier. Checked. */
export function trackerTiers(flags: CreateFlagValues): string[][] {
  const tiers = (flags.tracker ?? []).map((t) => t.split(',').map((u) => u.trim()).filter(Boolean)).filter((t) => t.length > 0);
  for (const url of tiers.flat()) parseUrl(url, TORRENT_TRACKER_SCHEMES, 'tracker');
  for (const url of flags['web-seed'] ?? []) parseUrl(url, ['http', 'https'], 'web seed');
  return tiers;
}

/** Where the torrent goes: -o, else NAME.torrent in the current directory (`-`: stdout). */
export function plannedOutput(flags: CreateFlagValues, path: string): string {
  return flags.output ?? `${flags.name ?? basename(resolve(path))}.torrent`;
}

export async function outputExists(output: string): Promise<boolean> {
  return output !== '-' && (await access(output).then(() => true, () => false));
}

export function outputExistsError(output: string, why = ''): BtError {
  return new BtError('OUTPUT_EXISTS', 'io', `\`${output}\` already exists${why} (use --force to overwrite)`);
}

/** The core's options from the flags (`version` for `created by`, unless --no-created-by). */
export function createOptionsFrom(
  path: string,
  flags: CreateFlagValues,
  extra: { version: string; signal: AbortSignal } & Pick<CreateOptions, 'onProgress' | 'onPlan'>,
): CreateOptions {
  return {
    path,
    ...(flags.name !== undefined ? { name: flags.name } : {}),
    ...(flags['piece-length'] !== undefined ? { pieceLength: flags['piece-length'] } : {}),
    trackers: trackerTiers(flags),
    webSeeds: flags['web-seed'] ?? [],
    private: flags.private ?? false,
    ...(flags.source !== undefined ? { source: flags.source } : {}),
    ...(flags.comment !== undefined ? { comment: flags.comment } : {}),
    ...(flags['no-created-by'] ? {} : { createdBy: `btkit/${extra.version}` }),
    ...(flags['no-date'] ? {} : { creationDate: Math.floor(Date.now() / 1000) }),
    includeHidden: flags['include-hidden'] ?? false,
    followSymlinks: flags['follow-symlinks'] ?? false,
    include: flags.include ?? [],
    exclude: flags.exclude ?? [],
    ...(flags['no-attrs'] ? { attributes: false } : {}),
    ...(flags.threads !== undefined ? { threads: flags.threads } : {}),
    signal: extra.signal,
    ...(extra.onProgress ? { onProgress: extra.onProgress } : {}),
    ...(extra.onPlan ? { onPlan: extra.onPlan } : {}),
  };
}
