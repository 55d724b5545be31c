/**
 * A `.torrent` file (BEP 3, with BEP 12 `announce-list` and BEP 19 `url-list`) around an info
 * dictionary received from peers (BEP 9) — for `magnet --save` and "download from a magnet link".
 *
 * Why not `buildTorrent` (build.ts): that builds the info dictionary from fields; here the info
 * dictionary is a byte string someone else wrote, and the infohash is the SHA-1 of exactly those
 * bytes. Re-encoding a decoded copy would change the identity of a torrent whose info dictionary
 * is not canonical bencode (unsorted keys, `i03e`…), so the bytes are spliced in verbatim and only
 * the outer dictionary is encoded (canonically, keys sorted by their bytes as BEP 3 requires).
 */
import { type BEncodable, decode, encode, isDict } from '../bencode/index.js';
import { inputError } from '../errors.js';

export interface TorrentFileInput {
  /** The info dictionary's original bytes (the BEP 9 metadata), spliced in unchanged. */
  info: Uint8Array;
  /** BEP 12 tiers of tracker URLs; empty tiers are left out. */
  announce?: readonly (readonly string[])[];
  /** BEP 19 web seeds. */
  urlList?: readonly string[];
  comment?: string;
  createdBy?: string;
  /** Seconds since the Unix epoch. */
  creationDate?: number;
  /**
   * BEP 52 `piece layers` (outside the info dictionary): each file's root → its piece layer, for a
   * v2 or hybrid torrent whose layers are known (fetched by hash requests). Absent: no such key.
   */
  pieceLayers?: readonly { root: Uint8Array; layer: Uint8Array }[];
}

/**
 * The bytes of a `.torrent` file whose `info` is `input.info` byte for byte, so its infohash is
 * SHA-1(`input.info`). Throws TORRENT_FILE_BAD_INFO (category input) when `info` is not one
 * complete bencoded dictionary; its canonical form is not required (see above).
 */
export function buildTorrentFile(input: TorrentFileInput): Buffer {
  checkInfo(input.info);
  const tiers = (input.announce ?? []).filter((t) => t.length > 0);
  const fields: [string, BEncodable | undefined][] = [
    ['announce', tiers[0]?.[0]],
    // BEP 12: announce-list only when it says more than announce does (as build.ts writes it).
    ['announce-list', tiers.length > 1 || (tiers[0]?.length ?? 0) > 1 ? tiers : undefined],
    ['comment', input.comment],
    ['created by', input.createdBy],
    ['creation date', input.creationDate],
    ['piece layers', input.pieceLayers ? new Map(input.pieceLayers.map((l) => [Buffer.from(l.root).toString('latin1'), l.layer])) : undefined],
    ['url-list', input.urlList && input.urlList.length > 0 ? input.urlList : undefined],
  ];
  // Keys as UTF-8 bytes, sorted bytewise (BEP 3); all of ours are ASCII, `info` among them.
  const entries = fields.filter((f): f is [string, BEncodable] => f[1] !== undefined);
  const keys = [...entries.map(([k]) => k), 'info'].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const byKey = new Map(entries);
  const parts: Uint8Array[] = [Buffer.from('d', 'latin1')];
  for (const key of keys) {
    parts.push(encode(Buffer.from(key, 'utf8')));
    parts.push(key === 'info' ? input.info : encode(byKey.get(key)!));
  }
  parts.push(Buffer.from('e', 'latin1'));
  return Buffer.concat(parts);
}

function checkInfo(info: Uint8Array): void {
  let decoded;
  try {
    // Lenient: a non-canonical info dict is still the one the infohash names; only its shape matters here.
    decoded = decode(info, { mode: 'lenient', allowTrailing: true });
  } catch (e) {
    throw inputError('TORRENT_FILE_BAD_INFO', `info: not bencode (${e instanceof Error ? e.message : String(e)})`, { cause: e });
  }
  if (!isDict(decoded.value)) throw inputError('TORRENT_FILE_BAD_INFO', 'info: not a bencoded dictionary');
  // Bytes after the dictionary would be read as more keys of the outer one: a broken file.
  if (decoded.end !== info.length) {
    throw inputError('TORRENT_FILE_BAD_INFO', `info: ${info.length - decoded.end} bytes after the dictionary`, { detail: { offset: decoded.end } });
  }
}
