/**
 * Build a v1 `.torrent` (BEP 3 with BEP 12 tiers, BEP 19 url-list, BEP 27 private) from a file
 * list and its piece hashes. Pure: the bytes depend only on the input, so with `creationDate`
 * and `createdBy` omitted the output is byte-reproducible.
 */
import { encode, type BEncodable } from '../bencode/index.js';
import { assertSafePath } from './paths.js';

export interface BuildInput {
  name: string;
  pieceLength: number;
  /** Concatenated 20-byte SHA-1 piece hashes. */
  pieces: Uint8Array;
  /** Files below the name (multi-file) — or null for a single-file torrent of `length` bytes. */
  files: { path: string[]; length: number }[] | null;
  length?: number;
  trackers?: string[][];
  webSeeds?: string[];
  private?: boolean;
  source?: string;
  comment?: string;
  createdBy?: string;
  /** Seconds since the epoch. */
  creationDate?: number;
}

export function buildTorrent(input: BuildInput): Buffer {
  assertSafePath([input.name], 'name');
  const info: Record<string, BEncodable | undefined> = {
    name: input.name,
    'piece length': input.pieceLength,
    pieces: input.pieces,
    private: input.private ? 1 : undefined,
    source: input.source,
  };
  if (input.files) {
    info.files = input.files.map((f) => {
      assertSafePath(f.path, 'file');
      return { length: f.length, path: f.path };
    });
  } else {
    info.length = input.length ?? 0;
  }
  const tiers = (input.trackers ?? []).filter((t) => t.length > 0);
  const root: Record<string, BEncodable | undefined> = {
    announce: tiers[0]?.[0],
    // BEP 12: write announce-list only when it says more than announce does.
    'announce-list': tiers.length > 1 || (tiers[0]?.length ?? 0) > 1 ? tiers : undefined,
    comment: input.comment,
    'created by': input.createdBy,
    'creation date': input.creationDate,
    info,
    'url-list': input.webSeeds && input.webSeeds.length > 0 ? input.webSeeds : undefined,
  };
  return encode(root);
}
