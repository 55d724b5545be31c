/** The DHT state file: atomic save, tolerant load. */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BtError } from '../../../../src/core/errors.js';
import { type DhtState, loadDhtState, parseDhtState, saveDhtState } from '../../../../src/core/dht/state.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'btkit-dht-state-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const state: DhtState = {
  version: 1,
  nodeId: 'ab'.repeat(20),
  savedAt: '2024-01-01T00:00:00.000Z',
  nodes: [
    { id: '01'.repeat(20), host: '127.0.0.1', port: 7001 },
    { id: '02'.repeat(20), host: '::1', port: 7002 },
  ],
};

describe('DHT state file', () => {
  it('round-trips, creating missing directories, leaving no temp file', async () => {
    const path = join(dir, 'a', 'b', 'dht.json');
    await saveDhtState(path, state);
    expect(await loadDhtState(path)).toEqual({ state });
    expect(await readdir(join(dir, 'a', 'b'))).toEqual(['dht.json']);
  });

  it('replaces an existing file whole', async () => {
    const path = join(dir, 'dht.json');
    await saveDhtState(path, state);
    await saveDhtState(path, { ...state, nodes: [] });
    expect((await loadDhtState(path)).state?.nodes).toEqual([]);
  });

  it('treats a missing file as a cold start, silently', async () => {
    expect(await loadDhtState(join(dir, 'none.json'))).toEqual({ state: null });
  });

  it('ignores a damaged file with a warning', async () => {
    const path = join(dir, 'dht.json');
    await writeFile(path, '{"version":1,"nodeId":');
    const r = await loadDhtState(path);
    expect(r.state).toBeNull();
    expect(r.warning).toMatch(/not JSON/);
    await writeFile(path, JSON.stringify({ version: 2, nodeId: 'x', nodes: [] }));
    expect((await loadDhtState(path)).warning).toMatch(/not a btkit DHT state/);
  });

  it('drops invalid node entries and says how many', async () => {
    const path = join(dir, 'dht.json');
    await writeFile(path, JSON.stringify({ ...state, nodes: [...state.nodes, { id: 'zz', host: '127.0.0.1', port: 1 }, { id: '03'.repeat(20), host: 'example.com', port: 1 }, { id: '04'.repeat(20), host: '127.0.0.1', port: 0 }, null] }));
    const r = await loadDhtState(path);
    expect(r.state?.nodes).toEqual(state.nodes);
    expect(r.warning).toMatch(/4 invalid node entries/);
  });

  it('bounds how many nodes a file can make us load', () => {
    const many = Array.from({ length: 2000 }, (_, i) => ({ id: i.toString(16).padStart(40, '0'), host: '127.0.0.1', port: 1 + i }));
    const parsed = parseDhtState({ ...state, nodes: many });
    expect(parsed?.state.nodes.length).toBe(512);
  });

  it('reports an unwritable location as an io error', async () => {
    const blocker = join(dir, 'file');
    await writeFile(blocker, 'x');
    const err = await saveDhtState(join(blocker, 'dht.json'), state).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BtError);
    expect((err as BtError).code).toBe('DHT_STATE_WRITE_FAILED');
    expect((err as BtError).category).toBe('io');
  });

  it('writes readable JSON', async () => {
    const path = join(dir, 'dht.json');
    await saveDhtState(path, state);
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual(state);
  });
});
