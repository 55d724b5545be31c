/**
 * Resume: which pieces of a partial download are already on disk and verified, so a restart
 * fetches only what is missing.
 *
 * The state file is small JSON written atomically (temporary file, fsync, rename): the verified
 * pieces as a BEP 3 bitfield, the torrent's identity, whether the session that wrote it stopped
 * cleanly, and each file's size and modification time at that moment.
 *
 * How a restart decides, fastest first:
 * - no usable state file, or `recheck`: hash every piece whose bytes are on disk (by file size);
 * - the state file says the last run stopped cleanly and no file changed size or modification
 *   time since: trust its bitfield as it is (no reading at all);
 * - otherwise (the process was killed, or a file was touched): trust the recorded pieces that the
 *   file sizes still cover, and hash the rest of what is on disk: pieces verified and written
 *   after the last save, or pieces of a file someone changed. A piece is recorded only after it
 *   was verified and written, so the state never claims data the disk does not have (short of
 *   the machine itself losing its page cache: `--recheck` covers that).
 */
import { lstat, mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { BtError, fromSystemError, throwIfAborted } from '../errors.js';
import { writeFileAtomic } from '../fs/atomic.js';
import { Bitfield } from '../pieces/bitfield.js';
import type { FileStat, PieceStore } from './store.js';

export const RESUME_VERSION = 1;

export interface ResumeState {
  infoHash: string;
  pieceLength: number;
  totalLength: number;
  have: Bitfield;
  /** The session that wrote this stopped cleanly (every write finished, nothing after the save). */
  clean: boolean;
  files: FileStat[];
}

export interface TorrentIdentity {
  infoHash: string;
  pieceLength: number;
  totalLength: number;
  pieceCount: number;
}

export function encodeResume(state: ResumeState): Buffer {
  const doc = {
    version: RESUME_VERSION,
    infoHash: state.infoHash,
    pieceLength: state.pieceLength,
    totalLength: state.totalLength,
    pieces: state.have.length,
    have: Buffer.from(state.have.toWire()).toString('base64'),
    clean: state.clean,
    files: state.files.map((f) => [f.size, f.mtimeMs]),
  };
  return Buffer.from(`${JSON.stringify(doc)}\n`);
}

/** Parse a state file for this torrent; a reason instead when it is unusable (another torrent, damaged…). */
export function decodeResume(bytes: Uint8Array, id: TorrentIdentity): { state: ResumeState } | { reason: string } {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(Buffer.from(bytes).toString('utf8')) as Record<string, unknown>;
  } catch {
    return { reason: 'the state file is not JSON' };
  }
  if (typeof doc !== 'object' || doc === null) return { reason: 'the state file is not an object' };
  if (doc.version !== RESUME_VERSION) return { reason: `state file version ${String(doc.version)} (want ${RESUME_VERSION})` };
  if (doc.infoHash !== id.infoHash || doc.pieceLength !== id.pieceLength || doc.totalLength !== id.totalLength || doc.pieces !== id.pieceCount) {
    return { reason: 'the state file belongs to another torrent' };
  }
  if (typeof doc.have !== 'string' || typeof doc.clean !== 'boolean' || !Array.isArray(doc.files)) return { reason: 'the state file is damaged' };
  let have: Bitfield;
  try {
    have = Bitfield.fromWire(Buffer.from(doc.have, 'base64'), id.pieceCount);
  } catch {
    return { reason: 'the state file has a bad bitfield' };
  }
  const files: FileStat[] = [];
  for (const f of doc.files as unknown[]) {
    if (!Array.isArray(f) || f.length !== 2) return { reason: 'the state file is damaged' };
    const [size, mtimeMs] = f as unknown[];
    const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
    files.push({ size: num(size), mtimeMs: num(mtimeMs) });
  }
  return { state: { infoHash: id.infoHash, pieceLength: id.pieceLength, totalLength: id.totalLength, have, clean: doc.clean, files } };
}

/**
 * Refuse a state folder, or a state file, that is a symbolic link: with `DIR/.btkit` linked
 * elsewhere, the resume file was written out there (issue 15). The folder is the caller's
 * (`DIR/.btkit` for a download); a link above it (`-o` itself) is the user's choice and allowed.
 */
async function assertNotLinked(path: string): Promise<void> {
  for (const p of [dirname(path), path]) {
    let linked = false;
    try {
      linked = (await lstat(p)).isSymbolicLink();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw fromSystemError(err, p);
    }
    if (linked) {
      throw new BtError('STORAGE_STATE_SYMLINK', 'input', `\`${p}\` is a symbolic link; btkit keeps its resume state only in a real folder inside the output directory`, {
        detail: { path: p },
      });
    }
  }
}

/**
 * Read a state file; null when it does not exist; a reason when it is unusable. Throws
 * STORAGE_STATE_SYMLINK when the folder or the file is a symbolic link: a download refuses to
 * start rather than write its state through it later.
 */
export async function loadResume(path: string, id: TorrentIdentity): Promise<{ state: ResumeState } | { reason: string } | null> {
  await assertNotLinked(path);
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    return { reason: `cannot read the state file: ${(err as Error).message}` };
  }
  return decodeResume(bytes, id);
}

/** Write the state file atomically; refuses a symbolically linked folder or file (STORAGE_STATE_SYMLINK). */
export async function saveResume(path: string, state: ResumeState): Promise<void> {
  await assertNotLinked(path);
  await mkdir(dirname(path), { recursive: true }).catch(() => undefined);
  // Checked again once the folder exists: it may have been created, as a link, meanwhile.
  await assertNotLinked(path);
  await writeFileAtomic(path, encodeResume(state), { overwrite: true });
}

/** Checks one piece's data against its hash; resolves true when it matches. */
export type PieceCheck = (index: number, data: Uint8Array) => Promise<boolean>;

export interface RestoreOptions {
  store: PieceStore;
  id: TorrentIdentity;
  /** The state file's content (from `loadResume`), or null. */
  state: ResumeState | null;
  /** Hash everything on disk whatever the state file says. */
  recheck?: boolean;
  check: PieceCheck;
  /** Pieces to consider at all (e.g. only those of selected files); default every piece. */
  wanted?: (index: number) => boolean;
  /** Pieces checked at once (reads and hashes in flight). Default 4. */
  concurrency?: number;
  signal?: AbortSignal;
  onProgress?: (checked: number, total: number) => void;
}

export interface RestoreResult {
  have: Bitfield;
  /** `fast`: the state file alone; `partial`: the state file plus a check of the rest; `full`: everything hashed. */
  mode: 'fast' | 'partial' | 'full';
  /** Pieces hashed. */
  checked: number;
  /** Pieces hashed that matched. */
  recovered: number;
}

const sameStat = (a: FileStat | undefined, b: FileStat): boolean => !!a && a.size === b.size && a.mtimeMs === b.mtimeMs;

export async function restore(options: RestoreOptions): Promise<RestoreResult> {
  const { store, id, state, signal } = options;
  const present = await store.present();
  const have = new Bitfield(id.pieceCount);
  const toCheck: number[] = [];
  let mode: RestoreResult['mode'];
  const considered = options.wanted ?? (() => true);

  if (!state || options.recheck) {
    mode = 'full';
    for (const i of present.setIndices()) if (considered(i)) toCheck.push(i);
  } else {
    const stats = await store.stat();
    const unchanged = state.clean && stats.length === state.files.length && stats.every((s, i) => sameStat(state.files[i], s));
    for (const i of state.have.setIndices()) if (present.get(i)) have.set(i);
    if (unchanged) {
      mode = 'fast';
    } else {
      mode = 'partial';
      // After an unclean stop, pieces written after the last save are on disk but not recorded;
      // after a change to a file, its recorded pieces are suspect too.
      const changed = stats.map((s, i) => !sameStat(state.files[i], s));
      const touchesChanged = (index: number) => store.filesOfPiece(index).some((f) => changed[f]);
      for (const i of present.setIndices()) {
        if (!considered(i) && !have.get(i)) continue;
        if (!have.get(i)) toCheck.push(i);
        else if (state.clean && touchesChanged(i)) {
          have.clear(i);
          toCheck.push(i);
        }
      }
    }
  }

  let checked = 0;
  let recovered = 0;
  const concurrency = Math.max(1, options.concurrency ?? 4);
  let next = 0;
  const worker = async () => {
    while (next < toCheck.length) {
      throwIfAborted(signal);
      const index = toCheck[next++]!;
      let ok = false;
      try {
        ok = await options.check(index, await store.readPiece(index));
      } catch (err) {
        // A file that vanished or shrank since `present()` is simply not there; other errors stop the run.
        const code = (err as { detail?: { errno?: string } }).detail?.errno;
        if (code !== 'ENOENT' && code !== 'ESHORT') throw err;
      }
      if (ok) {
        have.set(index);
        recovered++;
      }
      checked++;
      options.onProgress?.(checked, toCheck.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, toCheck.length) }, worker));
  return { have, mode, checked, recovered };
}
