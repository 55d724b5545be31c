/**
 * Crash safety (issue 15): `btkit download` killed with SIGKILL at random points five times on the
 * same output directory, then run to completion. The data comes out byte-identical, and no piece
 * verified in an earlier run is fetched again: each restart finds every piece verified before (the
 * resume state, plus a hash of what was written after its last save), no piece is verified in two
 * runs, and the last run downloads no more than what was missing.
 *
 * The seed is `btkit seed --upload-limit`, so each kill lands mid-download whatever the machine's
 * speed: the kill points are counts of verified pieces (and a random short delay after), never
 * times. Runs 1 and 3 are killed only after they rewrote the resume state (its mtime moves), so
 * both restarts are covered: from a state file plus a hash of what was written after it
 * (`partial`), and — a kill before the first save — from a hash of what is on disk. With 192
 * pieces the CLI prints every piece-verified event (it samples one per percent only from 200
 * pieces on), which is what the test reads. The random points come from a seed printed with every
 * assertion (BTKIT_CRASH_SEED=… reproduces a run).
 */
import { statSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTorrent } from '../../src/core/metainfo/create.js';
import type { Metainfo } from '../../src/core/metainfo/types.js';
import { ensureBuilt } from '../helpers/cli.js';
import { patternBytes } from '../helpers/tmp.js';
import { type CliProcess, startCli, stopAll } from './swarm-lab.js';

const PIECE = 32 * 1024;
const SIZE = 191 * PIECE + 1234;
const KILLS = 5;
/** The seed's upload cap: 192 pieces take 12 s or more, longer than five kills need (at most 5 × 34 pieces, see below). */
const UPLOAD_LIMIT = '512KiB';

/** xorshift32: the kill points, reproducible from the printed seed. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

describe('kill -9 a download at random points, five times, then let it finish', () => {
  let root: string;
  let torrent: string;
  let meta: Metainfo;
  let data: Buffer;
  let seed: CliProcess;
  let seedPort: number;
  const procs: CliProcess[] = [];

  beforeAll(async () => {
    ensureBuilt();
    root = await mkdtemp(join(tmpdir(), 'btkit-crash-'));
    await mkdir(join(root, 'src'));
    data = patternBytes(SIZE, 'crash-safety');
    await writeFile(join(root, 'src', 'payload.bin'), data);
    const created = await createTorrent({ path: join(root, 'src', 'payload.bin'), pieceLength: PIECE, threads: 1 });
    meta = created.metainfo;
    torrent = join(root, 'payload.torrent');
    await writeFile(torrent, created.torrent);
    seed = startCli(['seed', torrent, join(root, 'src', 'payload.bin'), '--upload-limit', UPLOAD_LIMIT, '--port', '0', '--host', '127.0.0.1', '--no-dht', '--json']);
    procs.push(seed);
    const started = await seed.waitFor((e) => e.type === 'started', 30_000, "the seed's started event");
    seedPort = started.listen.port;
  }, 60_000);

  afterAll(async () => {
    await stopAll(procs);
    if (root) await rm(root, { recursive: true, force: true });
  });

  const pieceBytes = (i: number) => Math.min(PIECE, SIZE - i * PIECE);
  const bytesOf = (set: Iterable<number>) => [...set].reduce((a, i) => a + pieceBytes(i), 0);

  it('the data is byte-identical and no verified piece is fetched twice', async () => {
    const crashSeed = Number(process.env.BTKIT_CRASH_SEED ?? Date.now() % 2 ** 31);
    const random = rng(crashSeed);
    const why = (what: string) => `${what} (BTKIT_CRASH_SEED=${crashSeed})`;
    const out = join(root, 'out');
    const args = ['download', torrent, '-o', out, '--peer', `127.0.0.1:${seedPort}`, '--port', '0', '--bind', '127.0.0.1', '--no-dht', '--no-pex', '--timeout', '60s', '--json'];
    const start = () => {
      const p = startCli(args);
      procs.push(p);
      return p;
    };
    /** Pieces some run reported verified, and in which run. */
    const verifiedIn = new Map<number, number>();

    const statePath = join(out, '.btkit', `${meta.infoHash.v1!.toString('hex')}.resume`);
    /** The state file written after `since` (ms, wall clock): polled, bounded by the run's own end. */
    const waitForSave = async (since: number, p: CliProcess, what: string) => {
      for (let i = 0; i < 3000; i++) {
        const st = statSync(statePath, { throwIfNoEntry: false });
        if (st && st.mtimeMs >= since) return;
        if (p.child.exitCode !== null) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      throw new Error(`no ${what}`);
    };
    const starts: string[] = [];
    const checkStart = (run: number, p: CliProcess, started: any) => {
      starts.push(`run ${run}: ${started.resume.mode} ${started.resume.recovered}/${started.resume.checked} hashed good, ${bytesOf(verifiedIn.keys())} B verified before, ${started.doneBytes} B on disk`);
      // Every piece verified before the kill is found on disk: by the resume state, or by hashing
      // what was written after its last save (a kill leaves the state unclean: never `fast`).
      if (run > 0) expect(['partial', 'full'], why(`run ${run}: resume mode`)).toContain(started.resume.mode);
      expect(started.doneBytes, why(`run ${run}: bytes found on disk at start`)).toBeGreaterThanOrEqual(bytesOf(verifiedIn.keys()));
      void p;
    };
    const record = (run: number, p: CliProcess) => {
      for (const e of p.events.filter((x) => x.type === 'piece-verified')) {
        expect(verifiedIn.has(e.index), why(`piece ${e.index} verified in run ${verifiedIn.get(e.index)} and again in run ${run}`)).toBe(false);
        verifiedIn.set(e.index, run);
      }
    };

    for (let run = 0; run < KILLS; run++) {
      const p = start();
      const started = await p.waitFor((e) => e.type === 'started', 30_000, why(`run ${run}: the started event`));
      checkStart(run, p, started);
      // A random point: after 3 to 30 more verified pieces (in runs 1 and 3, once the state was
      // saved in this run, and then more), then up to 250 ms more.
      const spawnedAt = Date.now();
      const verified = () => p.events.filter((e) => e.type === 'piece-verified').length;
      let target = 3 + Math.floor(random() * 28);
      if (run % 2 === 1) {
        await waitForSave(spawnedAt, p, why(`run ${run}: a resume-state save`));
        target = Math.min(30, verified() + 1 + Math.floor(random() * 4));
      }
      await p.waitFor(() => verified() >= target, 60_000, why(`run ${run}: ${target} verified pieces`));
      const extra = Math.floor(random() * 250);
      if (extra > 0) await new Promise((r) => setTimeout(r, extra));
      p.child.kill('SIGKILL');
      const exit = await p.exited;
      expect(exit.signal, why(`run ${run} should have been killed mid-download, it exited ${exit.code}: ${p.stderr().slice(-500)}`)).toBe('SIGKILL');
      record(run, p);
    }

    const last = start();
    const exit = await Promise.race([
      last.exited,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(why('the last run did not finish within 90 s'))), 90_000)),
    ]);
    expect(exit.code, why(`last run: ${last.stderr().slice(-1000)}`)).toBe(0);
    const started = last.events.find((e) => e.type === 'started');
    checkStart(KILLS, last, started);
    record(KILLS, last);
    const result = last.events.at(-1).result;
    // The last run fetched at most what was missing when it started.
    expect(result.downloaded, why('bytes downloaded by the last run')).toBeLessThanOrEqual(SIZE - started.doneBytes);
    expect(result.havePieces).toBe(meta.pieceCount);
    // Both kinds of restart happened: from the state file (runs 2 and 4 follow a kill after a save).
    expect(starts.filter((l) => / partial /.test(l)).length, why(`restarts from a state file:\n${starts.join('\n')}`)).toBeGreaterThanOrEqual(2);
    // Each earlier run contributed: the kills landed mid-download, after verified pieces.
    for (let run = 0; run < KILLS; run++) expect([...verifiedIn.values()].filter((r) => r === run).length, why(`pieces verified in run ${run}`)).toBeGreaterThanOrEqual(3);
    expect((await readFile(join(out, 'payload.bin'))).equals(data), why('the downloaded file')).toBe(true);
    console.info(`crash safety (BTKIT_CRASH_SEED=${crashSeed}):\n  ${starts.join('\n  ')}\n  last run downloaded ${result.downloaded} B`);
  }, 240_000);
});
