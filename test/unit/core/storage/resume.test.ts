/**
 * Resume (storage/resume.ts): the state file codec, and how a restart decides what is on disk —
 * fast (state file alone, nothing read), partial (after a kill: the unrecorded pieces on disk are
 * hashed; after a file changed: its pieces are hashed again), full (no state, or --recheck).
 */
import { createHash } from 'node:crypto';
import { readFile, truncate, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { FileEntry } from '../../../../src/core/metainfo/types.js';
import { Bitfield } from '../../../../src/core/pieces/bitfield.js';
import { FileStore } from '../../../../src/core/storage/file-store.js';
import { type ResumeState, decodeResume, encodeResume, loadResume, restore, saveResume } from '../../../../src/core/storage/resume.js';
import { patternBytes, tempDirs } from '../../../helpers/tmp.js';

const tmp = tempDirs();
const PL = 1024;
const A = 5 * PL;
const B = 3 * PL + 100;
const stream = patternBytes(A + B, 'resume');
const hashes = Array.from({ length: Math.ceil(stream.length / PL) }, (_, i) => createHash('sha1').update(stream.subarray(i * PL, (i + 1) * PL)).digest());
const files: FileEntry[] = [
  { path: ['a'], length: A, offset: 0, attr: '', padding: false },
  { path: ['b'], length: B, offset: A, attr: '', padding: false },
];
const meta = { name: 'top', files, multiFile: true, pieceLength: PL, totalLength: A + B };
const id = { infoHash: 'aa'.repeat(20), pieceLength: PL, totalLength: A + B, pieceCount: hashes.length };

function counter() {
  const checked: number[] = [];
  return {
    checked,
    check: async (index: number, data: Uint8Array) => {
      checked.push(index);
      return createHash('sha1').update(data).digest().equals(hashes[index]!);
    },
  };
}

async function setUp(pieces: number[]): Promise<{ out: string; store: FileStore }> {
  const out = await tmp.make('resume');
  const store = FileStore.open(meta, { outDir: out });
  for (const i of pieces) await store.writePiece(i, stream.subarray(i * PL, Math.min(stream.length, (i + 1) * PL)));
  return { out, store };
}

const bits = (n: number, set: number[]) => {
  const b = new Bitfield(n);
  for (const i of set) b.set(i);
  return b;
};

describe('resume state file', () => {
  it('round-trips, and refuses another torrent, another version or damage', () => {
    const state: ResumeState = { ...id, have: bits(id.pieceCount, [0, 3, 8]), clean: true, files: [{ size: 5, mtimeMs: 1.5 }, { size: null, mtimeMs: null }] };
    const back = decodeResume(encodeResume(state), id);
    expect('state' in back && [...back.state.have.setIndices()]).toEqual([0, 3, 8]);
    expect('state' in back && back.state.files).toEqual(state.files);
    expect(decodeResume(encodeResume(state), { ...id, infoHash: 'bb'.repeat(20) })).toEqual({ reason: 'the state file belongs to another torrent' });
    expect(decodeResume(Buffer.from('{"version":9}'), id)).toMatchObject({ reason: expect.stringMatching(/version/) });
    expect(decodeResume(Buffer.from('not json'), id)).toMatchObject({ reason: expect.stringMatching(/JSON/) });
    const doc = JSON.parse(encodeResume(state).toString());
    doc.have = Buffer.from([0xff, 0xff]).toString('base64'); // 9 pieces: spare bits set
    expect(decodeResume(Buffer.from(JSON.stringify(doc)), id)).toMatchObject({ reason: expect.stringMatching(/bitfield/) });
  });

  it('is written atomically and read back; a missing file is null', async () => {
    const dir = await tmp.make('resume-file');
    const path = join(dir, '.btkit', 'x.resume');
    expect(await loadResume(path, id)).toBeNull();
    await saveResume(path, { ...id, have: bits(id.pieceCount, [1]), clean: false, files: [] });
    const loaded = await loadResume(path, id);
    expect(loaded && 'state' in loaded && loaded.state.clean).toBe(false);
    expect(JSON.parse(await readFile(path, 'utf8')).version).toBe(1);
  });
});

describe('restore', () => {
  it('without a state file: hashes what is on disk (full) and keeps only the good pieces', async () => {
    const { store, out } = await setUp([0, 1, 2, 6]);
    // Damage piece 1 on disk.
    const a = await readFile(join(out, 'top', 'a'));
    a[PL + 5]! ^= 1;
    await writeFile(join(out, 'top', 'a'), a);
    const c = counter();
    const r = await restore({ store, id, state: null, check: c.check });
    expect(r.mode).toBe('full');
    expect([...r.have.setIndices()]).toEqual([0, 2, 6]);
    // Piece 5 is a hole inside b's size (present by size) and fails; a ends after piece 2 and b after 6, so 3, 4, 7, 8 are not even read.
    expect(c.checked.sort((x, y) => x - y)).toEqual([0, 1, 2, 5, 6]);
    expect(r.recovered).toBe(3);
  });

  it('a clean state with unchanged files: fast, nothing read', async () => {
    const { store } = await setUp([0, 1, 5, 6, 7, 8]);
    const state: ResumeState = { ...id, have: bits(id.pieceCount, [0, 1, 5, 6, 7, 8]), clean: true, files: await store.stat() };
    const c = counter();
    const r = await restore({ store, id, state, check: c.check });
    expect(r.mode).toBe('fast');
    expect(c.checked).toEqual([]);
    expect([...r.have.setIndices()]).toEqual([0, 1, 5, 6, 7, 8]);
  });

  it('after a kill (unclean): trusts what was recorded and hashes the rest that is on disk', async () => {
    const { store } = await setUp([0, 1, 2, 5]);
    // The last save recorded pieces 0 and 1 only; 2 and 5 were verified and written after it.
    const state: ResumeState = { ...id, have: bits(id.pieceCount, [0, 1]), clean: false, files: [] };
    const c = counter();
    const r = await restore({ store, id, state, check: c.check });
    expect(r.mode).toBe('partial');
    expect([...r.have.setIndices()]).toEqual([0, 1, 2, 5]);
    expect(c.checked).not.toContain(0);
    expect(c.checked).not.toContain(1);
    expect(c.checked).toContain(2);
    expect(c.checked).toContain(5);
  });

  it('a file changed since a clean stop: its recorded pieces are hashed again, the other file is trusted', async () => {
    const { store, out } = await setUp([0, 1, 5, 6]);
    const state: ResumeState = { ...id, have: bits(id.pieceCount, [0, 1, 5, 6]), clean: true, files: await store.stat() };
    await store.close();
    const b = await readFile(join(out, 'top', 'b'));
    b[10]! ^= 1; // piece 5 is b's first piece
    await writeFile(join(out, 'top', 'b'), b);
    await utimes(join(out, 'top', 'b'), new Date(), new Date(Date.now() + 5000));
    const c = counter();
    const r = await restore({ store, id, state, check: c.check });
    expect(r.mode).toBe('partial');
    expect(c.checked).toContain(5);
    expect(c.checked).toContain(6);
    expect(c.checked).not.toContain(0);
    expect([...r.have.setIndices()]).toEqual([0, 1, 6]);
  });

  it('a recorded piece whose file became too short is dropped without reading', async () => {
    const { store, out } = await setUp([0, 1, 2, 3, 4]);
    const state: ResumeState = { ...id, have: bits(id.pieceCount, [0, 1, 2, 3, 4]), clean: false, files: [] };
    await store.close();
    await truncate(join(out, 'top', 'a'), 2 * PL);
    const c = counter();
    const r = await restore({ store, id, state, check: c.check });
    expect([...r.have.setIndices()]).toEqual([0, 1]);
    expect(c.checked).toEqual([]);
  });

  it('recheck: hashes everything on disk whatever the state says', async () => {
    const { store } = await setUp([0, 1]);
    const state: ResumeState = { ...id, have: bits(id.pieceCount, [0, 1]), clean: true, files: await store.stat() };
    const c = counter();
    const r = await restore({ store, id, state, recheck: true, check: c.check });
    expect(r.mode).toBe('full');
    expect(c.checked.sort()).toEqual([0, 1]);
  });
});
