/**
 * A swarm of btkit processes on 127.0.0.1, the CI artifact flow of the README ("distribute build
 * artifacts from CI"): `btkit tracker`, `btkit create`, one `btkit seed … --until
 * peers-complete=N` and N `btkit download` runners started together, finding each other through
 * the tracker.
 *
 * - every copy is byte-identical, the seed exits 0 by itself, and the runners traded: the seed
 *   served well under N copies, the others came from runners. The seed's upload is capped
 *   (--upload-limit 2MiB) so that the split does not depend on how fast this machine is: without a
 *   cap, on loopback, the seed could hand a full copy to each runner before the runners even find
 *   each other (at 4 MiB/s a machine loaded by other work, slow to start six processes, let the
 *   seed serve 3.1–3.6 copies in some runs);
 * - a runner killed (SIGKILL) midway does not stall the others.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, runClean } from '../helpers/cli.js';
import { pattern } from '../lab/download-lab.js';
import { type CliProcess, startBtkitTracker, startCli, stopAll } from './swarm-lab.js';

const MiB = 1024 * 1024;
const SIZE = 8 * MiB + 12_345;

describe('a btkit swarm: 1 seed, runners trading through btkit tracker', () => {
  let root: string;
  let tracker: { proc: CliProcess; url: string };
  let torrent: string;
  let content: string;
  const procs: CliProcess[] = [];

  beforeAll(async () => {
    ensureBuilt();
    root = await mkdtemp(join(tmpdir(), 'btkit-swarm-'));
    tracker = await startBtkitTracker();
    // The build job: an artifact directory, and its torrent pointing at the tracker.
    content = join(root, 'dist');
    await mkdir(content, { recursive: true });
    await writeFile(join(content, 'app.tar'), pattern(SIZE, 11));
    await writeFile(join(content, 'checksums.txt'), pattern(333, 12));
    torrent = join(root, 'dist.torrent');
    const created = await runClean(['create', content, '-t', tracker.url, '-o', torrent, '--piece-length', '64KiB', '--quiet']);
    expect(created.code, created.stderr).toBe(0);
  }, 60_000);

  afterAll(async () => {
    await stopAll([...procs, tracker?.proc]);
    if (root) await rm(root, { recursive: true, force: true });
  });

  const start = (args: string[]) => {
    const p = startCli(args);
    procs.push(p);
    return p;
  };
  const runner = (name: string) => start(['download', torrent, '-o', join(root, name), '--port', '0', '--bind', '127.0.0.1', '--timeout', '40s', '--json']);
  const seedArgs = (n: number) => ['seed', torrent, content, '--until', `peers-complete=${n}`, '--until', 'time=80s', '--upload-limit', '2MiB', '--port', '0', '--host', '127.0.0.1', '--json'];
  const within = <T>(p: Promise<T>, ms: number, what: string) => Promise.race([p, new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`${what} not within ${ms} ms`)), ms))]);

  async function verifyCopy(name: string): Promise<void> {
    const r = await runClean(['verify', torrent, join(root, name, 'dist'), '--json']);
    expect(r.code, `${name}: ${r.stdout}`).toBe(0);
  }

  it('6 runners all finish correct; they upload to each other and the seed serves well under 6 copies', async () => {
    const seed = start(seedArgs(6));
    await seed.waitFor((e) => e.type === 'started', 20_000, 'the seed\'s started event');
    const runners = Array.from({ length: 6 }, (_, i) => runner(`copy-${i}`));
    const exits = await within(Promise.all(runners.map((r) => r.exited)), 75_000, 'all runners');
    runners.forEach((r, i) => expect(exits[i]!.code, `runner ${i}: ${r.stderr()}`).toBe(0));
    for (let i = 0; i < 6; i++) await verifyCopy(`copy-${i}`);
    const seedExit = await within(seed.exited, 15_000, 'the seed\'s exit');
    expect(seedExit.code, seed.stderr()).toBe(0);
    const seedResult = seed.events.at(-1).result;
    expect(seedResult).toMatchObject({ reason: 'peers-complete', peersComplete: 6 });
    const total = seedResult.totalBytes as number;
    const fromRunners = runners.map((r) => r.events.at(-1).result.uploaded as number).reduce((a, b) => a + b, 0);
    const received = runners.map((r) => r.events.at(-1).result.downloaded as number).reduce((a, b) => a + b, 0);
    // Every byte a runner accepted came from the seed or from another runner.
    expect(received).toBeGreaterThanOrEqual(6 * total);
    console.info(`swarm split: seed uploaded ${(seedResult.uploaded / total).toFixed(2)} copies, runners ${(fromRunners / total).toFixed(2)} copies`);
    expect(seedResult.uploaded).toBeLessThan(3 * total);
    expect(fromRunners).toBeGreaterThan(3 * total);
    // Runners found each other through the tracker (not only the seed).
    const runnerPorts = new Set(runners.map((r) => r.events.find((e) => e.type === 'started').listen.port));
    const meshed = runners.filter((r) => r.events.some((e) => e.type === 'peer-connected' && e.source === 'tracker' && runnerPorts.has(Number(String(e.peer).split(':').at(-1)))));
    expect(meshed.length).toBeGreaterThan(0);
  }, 90_000);

  it('a runner killed midway does not stall the rest', async () => {
    const seed = start(seedArgs(4));
    await seed.waitFor((e) => e.type === 'started', 20_000, 'the seed\'s started event');
    const victim = runner('victim');
    const runners = Array.from({ length: 4 }, (_, i) => runner(`rest-${i}`));
    await victim.waitFor((e) => e.type === 'piece-verified' && e.havePieces >= 10, 30_000, 'ten pieces at the victim');
    victim.child.kill('SIGKILL');
    expect((await victim.exited).signal).toBe('SIGKILL');
    const exits = await within(Promise.all(runners.map((r) => r.exited)), 75_000, 'the other runners');
    runners.forEach((r, i) => expect(exits[i]!.code, `runner ${i}: ${r.stderr()}`).toBe(0));
    for (let i = 0; i < 4; i++) await verifyCopy(`rest-${i}`);
    expect((await within(seed.exited, 15_000, 'the seed\'s exit')).code).toBe(0);
  }, 90_000);
});
