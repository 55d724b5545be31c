/**
 * The DHT state file: our node id and routing table, saved at the end of a run and loaded at the
 * start of the next, so a lookup starts from nodes near the target instead of from the bootstrap
 * routers (BEP 5 asks clients to keep their id and table across restarts for the same reason).
 *
 * JSON, written atomically (temp file in the same directory, fsync, rename), so a crash mid-write
 * leaves the previous file. A damaged file is reported and ignored, never fatal: the worst case
 * is a cold start.
 */
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../fs/atomic.js';
import { ioError } from '../errors.js';
import { familyOf } from './compact.js';
import type { SavedNode } from './types.js';

export const STATE_VERSION = 1;
/** Enough to restart well; a bound on what a damaged or hostile file can make us load. */
export const MAX_SAVED_NODES = 512;

export interface DhtState {
  version: typeof STATE_VERSION;
  /** Our node id (hex), kept across runs. */
  nodeId: string;
  savedAt: string;
  nodes: SavedNode[];
}

export interface LoadedState {
  state: DhtState | null;
  /** Why an existing file was ignored or partly ignored. */
  warning?: string;
}

const HEX40 = /^[0-9a-f]{40}$/;

/** Validate parsed JSON into a state; bad node entries are dropped and counted. */
export function parseDhtState(json: unknown): { state: DhtState; dropped: number } | null {
  if (!json || typeof json !== 'object') return null;
  const o = json as Record<string, unknown>;
  if (o.version !== STATE_VERSION || typeof o.nodeId !== 'string' || !HEX40.test(o.nodeId) || !Array.isArray(o.nodes)) return null;
  const nodes: SavedNode[] = [];
  let dropped = 0;
  for (const n of o.nodes.slice(0, MAX_SAVED_NODES)) {
    const e = n as Record<string, unknown> | null;
    if (
      e && typeof e.id === 'string' && HEX40.test(e.id) && typeof e.host === 'string' && familyOf(e.host) !== null &&
      Number.isInteger(e.port) && (e.port as number) > 0 && (e.port as number) < 65536
    ) {
      nodes.push({ id: e.id, host: e.host, port: e.port as number });
    } else {
      dropped++;
    }
  }
  dropped += Math.max(0, o.nodes.length - MAX_SAVED_NODES);
  return { state: { version: STATE_VERSION, nodeId: o.nodeId, savedAt: typeof o.savedAt === 'string' ? o.savedAt : '', nodes }, dropped };
}

/** Load the state file; a missing file is a normal cold start (no warning). */
export async function loadDhtState(path: string): Promise<LoadedState> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { state: null };
    return { state: null, warning: `cannot read the DHT state file ${path}: ${(err as Error).message}` };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { state: null, warning: `ignoring the DHT state file ${path}: not JSON` };
  }
  const parsed = parseDhtState(json);
  if (!parsed) return { state: null, warning: `ignoring the DHT state file ${path}: not a btkit DHT state (version ${STATE_VERSION})` };
  return parsed.dropped > 0
    ? { state: parsed.state, warning: `the DHT state file ${path} had ${parsed.dropped} invalid node entries (ignored)` }
    : { state: parsed.state };
}

/** Write the state file atomically; creates the directory (mode 0700) when missing. */
export async function saveDhtState(path: string, state: DhtState): Promise<void> {
  try {
    await writeFileAtomic(path, `${JSON.stringify(state, null, 1)}\n`, { overwrite: true, mode: 0o600, mkdirMode: 0o700 });
  } catch (err) {
    throw ioError('DHT_STATE_WRITE_FAILED', `cannot write the DHT state file ${path}: ${(err as Error).message}`, { cause: err, detail: { path } });
  }
}
