/**
 * Persistence of one torrent's progress: the resume state file (storage/resume.ts) read at start,
 * checked against the disk, and written again as pieces arrive and when the session stops.
 *
 * Why its own part: when and how the state is saved is a policy (a cadence, a first save soon
 * after the first verified pieces so an early kill does not rehash everything, a clean flag at
 * exit) that has nothing to do with peers; the coordinator only says "a piece arrived" (`dirty`)
 * and calls `tick` on its timer.
 */
import { loadResume, restore, saveResume, type RestoreResult, type TorrentIdentity } from '../storage/resume.js';
import type { Bitfield } from '../pieces/bitfield.js';
import type { PieceStore } from '../storage/store.js';

export interface PersistenceOptions {
  /** The state file; none: nothing is read or written. */
  path: string | undefined;
  id: TorrentIdentity;
  store: PieceStore;
  /** The pieces we have now, for each save. */
  have(): Bitfield;
  now: () => number;
  /** Save at most this often while pieces arrive. Default 5 s. */
  everyMs?: number;
}

export interface Restored extends RestoreResult {
  /** Why the state file was not used, when it was not. */
  note: string | null;
}

export class Persistence {
  private dirty = false;
  private saving: Promise<void> | undefined;
  private lastSave: number;
  /** A piece was verified in this run since the last save. */
  private pieceDirty = false;
  /** A state holding a piece verified in this run has been written. */
  private pieceSaved = false;
  /** The pieces on disk are known, so a state may be written. */
  private restored = false;

  constructor(private readonly opts: PersistenceOptions) {
    this.lastSave = opts.now();
  }

  /**
   * Read the state file and check it against the disk (or hash everything: `recheck`, or no
   * usable state). Always looks at the disk: a seeder, or a re-run without a state file, has its
   * data there.
   */
  async restore(options: { recheck: boolean; check: (index: number, data: Uint8Array) => Promise<boolean>; signal?: AbortSignal }): Promise<Restored> {
    let note: string | null = null;
    const loaded = this.opts.path ? await loadResume(this.opts.path, this.opts.id) : null;
    if (loaded && 'reason' in loaded) note = `${loaded.reason}; checking the data on disk`;
    const result = await restore({
      store: this.opts.store,
      id: this.opts.id,
      state: loaded && 'state' in loaded ? loaded.state : null,
      recheck: options.recheck,
      check: options.check,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    this.restored = true;
    // What the disk holds differs from the file (or there was none): write it at the first chance.
    if (result.mode !== 'fast') this.dirty = true;
    this.lastSave = this.opts.now();
    return { ...result, note };
  }

  /** Something changed (a piece was verified). */
  markDirty(): void {
    this.dirty = true;
    this.pieceDirty = true;
  }

  /**
   * On the session's timer: save when something changed and the cadence allows, or at once for
   * the first verified piece of this run (a kill a few seconds in then loses nothing verified).
   * `onError` gets a failed save.
   */
  tick(onError: (err: unknown) => void): void {
    if (!this.restored || !this.dirty || this.saving || !this.opts.path) return;
    const now = this.opts.now();
    const firstPiece = this.pieceDirty && !this.pieceSaved;
    if (!firstPiece && now - this.lastSave < (this.opts.everyMs ?? 5000)) return;
    this.lastSave = now;
    if (this.pieceDirty) this.pieceSaved = true;
    this.pieceDirty = false;
    this.saving = this.save(false)
      .catch(onError)
      .finally(() => (this.saving = undefined));
  }

  /** Resolves when a save that `tick` started has finished (at once when none runs). */
  async settled(): Promise<void> {
    await this.saving;
  }

  /** The final save (clean: the data on disk matches the state exactly). Only once the disk was looked at. */
  async close(): Promise<void> {
    if (!this.restored) return;
    await this.saving;
    await this.save(true);
  }

  private async save(clean: boolean): Promise<void> {
    if (!this.opts.path) return;
    if (!this.dirty && !clean) return;
    this.dirty = false;
    const files = await this.opts.store.stat();
    await saveResume(this.opts.path, {
      infoHash: this.opts.id.infoHash,
      pieceLength: this.opts.id.pieceLength,
      totalLength: this.opts.id.totalLength,
      have: this.opts.have(),
      clean,
      files,
    });
  }
}
