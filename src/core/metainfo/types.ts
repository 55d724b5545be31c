/**
 * The metainfo model (BEP 3 `.torrent` files), shaped for v1 today and v2/hybrid (BEP 52) next:
 * hashes carry their algorithm, files can carry a per-file merkle root, and BEP 47 padding files
 * are marked rather than hidden.
 *
 * Terminology (as in libtorrent's docs): a *piece* is the unit that is hashed (piece length bytes,
 * the last one shorter); a *block* is the 16 KiB unit requested from peers; the *info dictionary*
 * is what the infohash is computed over, byte for byte as it appeared in the file.
 */
import type { BDict } from '../bencode/index.js';
import type { NonCanonical } from '../bencode/index.js';

export type HashAlgorithm = 'sha1' | 'sha256';

/** The identities of a torrent: v1 is SHA-1 of the info dict, v2 SHA-256 (BEP 52). A hybrid has both. */
export interface InfoHashes {
  /** 20 bytes, or null for a v2-only torrent. */
  v1: Buffer | null;
  /** 32 bytes, or null for a v1-only torrent. */
  v2: Buffer | null;
}

export type MetaVersion = 'v1' | 'v2' | 'hybrid';

export interface FileEntry {
  /** Path components below the torrent's name (for a single-file torrent: `[name]`). */
  path: string[];
  length: number;
  /** Offset of the file's first byte in the concatenated v1 piece stream. */
  offset: number;
  /** BEP 47 `attr` letters as given (`p` padding, `x` executable, `h` hidden, `l` symlink). */
  attr: string;
  /** BEP 47 padding file: zeros that align the next file to a piece boundary; never written. */
  padding: boolean;
  /** BEP 47 symlink target components, when `attr` has `l`. */
  symlinkPath?: string[];
  /** BEP 52 per-file merkle root (32 bytes), in v2 and hybrid torrents; absent for empty files. */
  piecesRoot?: Buffer;
  /** BEP 52 piece layer of a file longer than one piece, when the torrent has it and it folds to the root. */
  pieceLayer?: Buffer;
}

/** How a file's BEP 52 `piece layers` entry stands against its `pieces root`. */
export interface PieceLayerCheck {
  /** Index in `Metainfo.files`. */
  index: number;
  /** Path as shown (name first for a multi-file torrent). */
  path: string;
  /** ok; missing (peers would send it); bad-length; mismatch (does not fold to the root). */
  status: 'ok' | 'missing' | 'bad-length' | 'mismatch';
  code?: string;
  message?: string;
}

export interface Metainfo {
  version: MetaVersion;
  infoHash: InfoHashes;
  /** The info dictionary's original bytes, exactly as in the file (the infohash is over these). */
  infoBytes: Buffer;
  name: string;
  pieceLength: number;
  /** Concatenated 20-byte SHA-1 piece hashes (v1 and hybrid; empty for v2-only). */
  pieces: Buffer;
  pieceCount: number;
  /**
   * Every file in torrent order, padding files included (marked). A v2-only torrent lists its
   * files as the aligned stream BEP 52 implies, with padding entries where the gaps are (as
   * libtorrent does), so piece arithmetic is the same for every version.
   */
  files: FileEntry[];
  /** v2 and hybrid: each file longer than one piece, and how its piece layer checks out. */
  pieceLayers?: PieceLayerCheck[];
  /** True when the info dict has `files` (a directory torrent), even with one file. */
  multiFile: boolean;
  /** Sum of all file lengths, padding included: the length of the piece stream. */
  totalLength: number;
  private: boolean;
  /** BEP 12 tiers; a torrent with only `announce` has one tier of one URL. */
  trackers: string[][];
  /** BEP 19 `url-list`. */
  webSeeds: string[];
  /** BEP 17 `httpseeds`: scripts that serve pieces by info hash and index. */
  httpSeeds: string[];
  /** BEP 5 `nodes`: DHT bootstrap nodes as `host:port`. */
  dhtNodes: string[];
  source?: string;
  comment?: string;
  createdBy?: string;
  /** Seconds since the Unix epoch. */
  creationDate?: number;
  encoding?: string;
  /** The whole decoded torrent, for `inspect --raw` and fields this model does not name. */
  raw: BDict;
  /** Non-canonical bencode found while decoding (only in lenient mode). */
  nonCanonical: NonCanonical[];
  /**
   * Paths that would leave the output directory or cannot be created, present only when parsed
   * with `unsafePaths: 'report'` (otherwise such a torrent is refused).
   */
  unsafePaths?: UnsafePath[];
}

/** An unsafe path kept by a parse that reports instead of refusing. */
export interface UnsafePath {
  /** The field: `info.name` or `info.files[i]`. */
  where: string;
  path: string[];
  /** The error code refusing it would give (METAINFO_PATH_TRAVERSAL …). */
  code: string;
  message: string;
}

/** The v2 infohash cut to 20 bytes: what a v2 peer puts in its handshake (BEP 52). */
export const truncatedV2 = (hashes: InfoHashes): Buffer | null => (hashes.v2 ? hashes.v2.subarray(0, 20) : null);

/** Hex of a v1 infohash or '' */
export const hexOf = (b: Uint8Array | null | undefined): string =>
  b ? Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex') : '';
