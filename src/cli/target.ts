/**
 * Resolve the `<torrent|magnet|infohash|->` argument that several commands take into what the core
 * needs: the infohash, a name, tracker tiers and, for a torrent, the parsed metainfo.
 */
import { readFile, stat } from 'node:fs/promises';
import { fromSystemError, inputError } from '../core/errors.js';
import { type Magnet, type Metainfo, MAX_TORRENT_BYTES, parseInfoHashText, parseMagnet, parseTorrent } from '../core/metainfo/index.js';
import { readStdin } from './io.js';

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

export async function resolveTarget(arg: string): Promise<Target> {
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
  const metainfo = await readTorrentArg(arg);
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
export async function readTorrentArg(arg: string): Promise<Metainfo> {
  const bytes = await readTorrentBytes(arg);
  return parseTorrent(bytes);
}

export async function readTorrentBytes(arg: string): Promise<Buffer> {
  if (arg === '-') return readStdin();
  try {
    // Check the size before reading: a multi-gigabyte file given by mistake must not be loaded.
    const { size } = await stat(arg);
    if (size > MAX_TORRENT_BYTES) {
      throw inputError('METAINFO_TOO_LARGE', `\`${arg}\` is ${size} bytes; a torrent file is at most ${MAX_TORRENT_BYTES}`);
    }
    return await readFile(arg);
  } catch (err) {
    if (err instanceof Error && err.name === 'BtError') throw err;
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') {
      throw inputError('TARGET_NOT_FOUND', `\`${arg}\` is neither a torrent file, a magnet link nor a 40-hex infohash`);
    }
    throw fromSystemError(err, arg);
  }
}
