/**
 * The storage interface of the download and seed engines: where verified pieces go and where
 * blocks for upload come from. The session talks only to this interface, so the file-backed
 * store (file-store.ts) can later be joined by others (memory for streaming, a web-seed cache…).
 *
 * The unit of writing is a whole *verified* piece (BEP 3 SHA-1 checked by the session first):
 * a store never holds data that failed its hash, and one write per piece lets the store batch the
 * piece's blocks into as few system calls as the file layout allows.
 */
import type { Bitfield } from '../pieces/bitfield.js';

/** What a store knows about one file on disk, for telling whether data changed between runs. */
export interface FileStat {
  /** Size on disk in bytes; null when the file does not exist (or is a padding file). */
  size: number | null;
  /** Modification time in ms; null when the file does not exist. */
  mtimeMs: number | null;
}

export interface PieceStore {
  readonly pieceCount: number;
  /**
   * Pieces whose bytes could all be on disk, judged by file sizes alone (a file too short or
   * missing rules its pieces out). Candidates for a hash check; nothing is verified here.
   */
  present(): Promise<Bitfield>;
  /** The whole of piece `index` in a buffer of its own (not a view of shared memory: it may be transferred to a worker). */
  readPiece(index: number): Promise<Uint8Array>;
  /**
   * `length` bytes at `begin` inside piece `index` (a block to upload), read into `into` when
   * given (exactly `length` bytes: a caller recycling its buffers), else into a new buffer.
   */
  read(index: number, begin: number, length: number, into?: Uint8Array): Promise<Uint8Array>;
  /** Store a verified piece. Rejects with a BtError of category io. */
  writePiece(index: number, data: Uint8Array): Promise<void>;
  /** Create what no piece write will: the selected files of length zero. */
  prepare(selectedFiles: readonly boolean[]): Promise<void>;
  /** The files (indices, torrent order) that hold bytes of piece `index`. */
  filesOfPiece(index: number): number[];
  /** Per-file size and modification time, in torrent file order. */
  stat(): Promise<FileStat[]>;
  /** Release file handles; the store can be reopened by using it again. */
  close(): Promise<void>;
}
