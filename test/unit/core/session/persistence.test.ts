/**
 * Persistence of the resume state (session/persistence.ts): when the state file is written. The
 * first change of a run is saved at the next tick, not a cadence later (issue 15, item 11: a kill
 * in the first seconds must not cost a full rehash); later changes wait for the cadence.
 */
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Bitfield } from '../../../../src/core/pieces/bitfield.js';
import { Persistence } from '../../../../src/core/session/persistence.js';
import { decodeResume } from '../../../../src/core/storage/resume.js';
import type { PieceStore } from '../../../../src/core/storage/store.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'btkit-persist-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const id = { infoHash: 'ab'.repeat(20), pieceLength: 16384, totalLength: 4 * 16384, pieceCount: 4 };

/** A store with nothing on disk: restore finds no piece. */
const emptyStore = {
  pieceCount: 4,
  present: async () => new Bitfield(4),
  readPiece: async () => new Uint8Array(0),
  read: async () => new Uint8Array(0),
  writePiece: async () => undefined,
  prepare: async () => undefined,
  filesOfPiece: () => [0],
  stat: async () => [{ size: 0, mtimeMs: 0 }],
  close: async () => undefined,
} as unknown as PieceStore;


describe('resume state persistence', () => {
  it('saves the first verified piece at the next tick, then only every `everyMs`', async () => {
    let now = 0;
    const have = new Bitfield(4);
    const path = join(dir, 'a.resume');
    const p = new Persistence({ path, id, store: emptyStore, have: () => have, now: () => now, everyMs: 5000 });
    await p.restore({ recheck: false, check: async () => true });
    const errors: unknown[] = [];
    p.tick((e) => errors.push(e)); // the restore's own state (nothing on disk) goes out first
    await p.settled();
    now = 100;
    have.set(0);
    p.markDirty();
    p.tick((e) => errors.push(e));
    await p.settled();
    // 100 ms into the run, not 5 s: piece 0 is in the file already.
    let state = decodeResume(await readFile(path), id);
    expect('state' in state && state.state.have.get(0)).toBe(true);
    const mtime = (await stat(path)).mtimeMs;
    now = 200;
    have.set(1);
    p.markDirty();
    p.tick((e) => errors.push(e));
    await p.settled();
    // Within the cadence: not written again.
    expect((await stat(path)).mtimeMs).toBe(mtime);
    now = 5200;
    p.tick((e) => errors.push(e));
    await p.settled();
    state = decodeResume(await readFile(path), id);
    expect('state' in state && state.state.have.get(1)).toBe(true);
    expect(errors).toEqual([]);
  });

  it('close() writes a clean state; nothing is written before the disk was looked at', async () => {
    const path = join(dir, 'b.resume');
    const have = new Bitfield(4);
    const p = new Persistence({ path, id, store: emptyStore, have: () => have, now: () => 0 });
    p.markDirty();
    p.tick(() => undefined);
    await p.close();
    await expect(stat(path)).rejects.toThrow();
    await p.restore({ recheck: false, check: async () => true });
    have.set(3);
    await p.close();
    const state = decodeResume(await readFile(path), id);
    expect(state).toMatchObject({ state: { clean: true } });
    expect('state' in state && state.state.have.get(3)).toBe(true);
  });
});
