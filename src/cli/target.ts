/**
 * Resolve the `<torrent|magnet|infohash|->` argument that several commands take into what the core
 * needs: the infohash, a name, tracker tiers and, for a torrent, the parsed metainfo.
 */
import { type BtError, ioError } from '../core/errors.js';
import { readFileBounded } from '../core/fs/bounded-read.js';
import { type Magnet, type Metainfo, MAX_TORRENT_BYTES, type ParseOptions, parseInfoHashText, parseMagnet, parseTorrent } from '../core/metainfo/index.js';
import { readStdin, torrentTooLarge, untilInterrupted } from './io.js';

export interface Target {
  kind: 'torrent' | 'magnet' | 'infohash';
  /** v1 infohash (20 bytes); null only for a v2-only magnet. */
  infoHash: Buffer | null;
  infoHashV2: Buffer | null;
  name?: string;
  /** BEP 12 tiers (a magnet's `tr` values each become a tier of their own, as BEP 9 implies). */
  trackers: string[][];
  metainfo?: Metainfo;
  magnet?: Magnet;
}

export interface ReadTorrentOptions {
  /** Ends a read that waits (a FIFO without a writer, a silent pipe); default: SIGINT/SIGTERM. */
  signal?: AbortSignal;
  /** How to parse (e.g. `unsafePaths: 'report'` where nothing is written, as in `inspect`). */
  parse?: ParseOptions;
}

export async function resolveTarget(arg: string, options: ReadTorrentOptions = {}): Promise<Target> {
  if (/^magnet:\?/i.test(arg)) {
    const magnet = parseMagnet(arg);
    return {
      kind: 'magnet',
      infoHash: magnet.infoHash.v1,
      infoHashV2: magnet.infoHash.v2,
      ...(magnet.name !== undefined ? { name: magnet.name } : {}),
      trackers: magnet.trackers.map((t) => [t]),
      magnet,
    };
  }
  const hash = parseInfoHashText(arg);
  if (hash) return { kind: 'infohash', infoHash: hash, infoHashV2: null, trackers: [] };
  const metainfo = await readTorrentArg(arg, { ...options, alsoAccepted: 'a magnet link or a 40-hex infohash' });
  return {
    kind: 'torrent',
    infoHash: metainfo.infoHash.v1,
    infoHashV2: metainfo.infoHash.v2,
    name: metainfo.name,
    trackers: metainfo.trackers,
    metainfo,
  };
}

/** Read and parse a torrent file, or standard input for `-`. */
export async function readTorrentArg(arg: string, options: ReadTorrentOptions & { alsoAccepted?: string } = {}): Promise<Metainfo> {
  const bytes = await readTorrentBytes(arg, options);
  return parseTorrent(bytes, options.parse);
}

/**
 * The bytes of a torrent from a file, a device, a FIFO or standard input (`-`): at most
 * MAX_TORRENT_BYTES from any of them (METAINFO_TOO_LARGE), counted as read since `stat` says 0
 * for devices and pipes, and interruptible throughout.
 */
export async function readTorrentBytes(arg: string, options: ReadTorrentOptions & { alsoAccepted?: string } = {}): Promise<Buffer> {
  const read = (signal: AbortSignal) =>
    arg === '-'
      ? readStdin({ signal })
      : readFileBounded(arg, { limit: MAX_TORRENT_BYTES, tooLarge: (seen) => torrentTooLarge(`\`${arg}\``, seen), signal });
  try {
    return await (options.signal ? read(options.signal) : untilInterrupted(read));
  } catch (err) {
    const e = err as BtError;
    if (e.code === 'IO_ENOENT') {
      // Say what is wrong (the file is not there); name the other forms only where they work.
      const also = options.alsoAccepted ? `, and it is not ${options.alsoAccepted}` : '';
      throw ioError('TARGET_NOT_FOUND', `\`${arg}\`: no such file${also}`, { cause: err, detail: { path: arg } });
    }
    throw err;
  }
}
