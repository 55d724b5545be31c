/**
 * `btkit seed` from the built CLI: stop conditions (peers-complete, time), SIGINT announcing
 * `stopped` (seen on a `btkit tracker`), share mode (create, print, seed), the check of the data
 * first (bad data exits 5; --skip-verify trusts it), usage errors.
 */
import { copyFile, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, runClean, runCli } from '../helpers/cli.js';
import { type Fixture, differences, makeFixture } from '../lab/download-lab.js';
import { type CliProcess, startBtkitTracker, startCli, stopAll } from '../swarm/swarm-lab.js';

const LOOP = ['--port', '0', '--host', '127.0.0.1', '--json'];

describe('btkit seed', () => {
  let root: string;
  let single: Fixture;
  let multi: Fixture;
  let tracker: { proc: CliProcess; url: string };
  const procs: CliProcess[] = [];

  beforeAll(async () => {
    ensureBuilt();
    root = await mkdtemp(join(tmpdir(), 'btkit-seed-cmd-'));
    tracker = await startBtkitTracker();
    single = await makeFixture(root, 'single', [[tracker.url]]);
    multi = await makeFixture(root, 'multi', [[tracker.url]]);
  }, 60_000);

  afterAll(async () => {
    await stopAll([...procs, tracker?.proc]);
    if (root) await rm(root, { recursive: true, force: true });
  });

  const seed = (args: string[]) => {
    const p = startCli(['seed', ...args]);
    procs.push(p);
    return p;
  };
  const portOf = async (p: CliProcess) => (await p.waitFor((e) => e.type === 'started', 20_000, 'the started event')).listen.port as number;

  it('--until peers-complete=2 exits 0 once two leechers have every piece', async () => {
    // PATH is the directory holding the content: the seed finds multi/ inside it.
    const s = seed([multi.torrent, multi.seedDir, '--until', 'peers-complete=2', ...LOOP]);
    const port = await portOf(s);
    for (const i of [1, 2]) {
      const out = join(root, `pc-${i}`);
      const r = await runClean(['download', multi.torrent, '-o', out, '--peer', `127.0.0.1:${port}`, '--port', '0', '--bind', '127.0.0.1', '--quiet', '--timeout', '20s'], { timeoutMs: 40_000 });
      expect(r.code, r.stderr).toBe(0);
      expect(await differences(multi, out)).toEqual([]);
      // One leecher done: the seed is still there.
      if (i === 1) expect(s.child.exitCode).toBe(null);
    }
    const { code } = await Promise.race([s.exited, new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`seed did not exit:\n${s.stderr()}`)), 15_000))]);
    expect(code, s.stderr()).toBe(0);
    const summary = s.events.at(-1);
    expect(summary).toMatchObject({ ok: true, result: { reason: 'peers-complete', condition: 'peers-complete=2', peersComplete: 2, verified: 'checked', uploaded: 2 * multi.meta.totalLength } });
    expect(s.events.some((e) => e.type === 'until' && e.condition === 'peers-complete=2')).toBe(true);
    expect(s.events.filter((e) => e.type === 'peer-complete').length).toBeGreaterThanOrEqual(2);
  }, 90_000);

  it('--until time=5s exits 0 when the time is up, with a summary', async () => {
    const r = await runClean(['seed', single.torrent, single.content, '--until', 'time=5s', '--until', 'uploaded=1GiB', ...LOOP], { timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines[0]).toMatchObject({ type: 'verified', skipped: false, ok: true });
    const summary = lines.at(-1);
    expect(summary).toMatchObject({ ok: true, result: { reason: 'time', condition: 'time=5s', uploaded: 0, peersComplete: 0 } });
    expect(summary.result.elapsedMs).toBeGreaterThanOrEqual(5000);
    // It announced to the torrent's tracker.
    expect(lines.some((e) => e.type === 'tracker' && e.url === tracker.url && e.event === 'started' && e.error === null)).toBe(true);
  }, 60_000);

  it('SIGINT: exit 0 without --until, and the tracker hears `stopped` from the seed', async () => {
    const s = seed([single.torrent, single.content, ...LOOP]);
    const port = await portOf(s);
    const mine = (e: any) => e.type === 'announce' && e.port === port;
    await tracker.proc.waitFor((e) => mine(e) && e.event === 'started', 20_000, 'the seed\'s started announce');
    const { code } = await s.stop('SIGINT');
    expect(code, s.stderr()).toBe(0);
    expect(s.events.at(-1)).toMatchObject({ ok: true, result: { reason: 'interrupted', condition: null } });
    const stopped = await tracker.proc.waitFor((e) => mine(e) && e.event === 'stopped', 10_000, 'the seed\'s stopped announce');
    expect(stopped).toMatchObject({ left: 0 });
  }, 60_000);

  it('SIGINT before an --until condition exits 130', async () => {
    const s = seed([single.torrent, single.content, '--until', 'peers-complete=5', ...LOOP]);
    await portOf(s);
    const { code } = await s.stop('SIGINT');
    expect(code).toBe(130);
    expect(s.events.at(-1)).toMatchObject({ ok: false, error: { category: 'interrupted' } });
  }, 30_000);

  it('share: `btkit seed PATH` creates the torrent, prints infohash and magnet, then seeds it', async () => {
    const torrent = join(root, 'shared.torrent');
    const r = await runClean(['seed', multi.content, '-t', tracker.url, '-o', torrent, '--piece-length', '16KiB', '--until', 'time=1s', '--port', '0', '--host', '127.0.0.1'], { timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(0);
    const [hash, magnet] = r.stdout.trim().split('\n');
    expect(hash).toMatch(/^[0-9a-f]{40}$/);
    expect(magnet).toBe(`magnet:?xt=urn:btih:${hash}&dn=multi&tr=${tracker.url}`);
    const inspected = (await runCli(['inspect', torrent, '--json'])).json();
    expect(inspected.result).toMatchObject({ infoHash: hash, pieceLength: 16384 });
    // The same torrent can be seeded again from the file it wrote; an existing output is refused.
    const again = await runCli(['seed', multi.content, '-o', torrent, '--until', 'time=1s', '--port', '0', '--host', '127.0.0.1']);
    expect(again.code).toBe(7);
    expect(again.stderr).toContain('[OUTPUT_EXISTS]');
    const json = await runClean(['seed', multi.content, '-o', torrent, '--force', '--until', 'time=1s', ...LOOP], { timeoutMs: 30_000 });
    const events = json.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(events[0]).toMatchObject({ type: 'created', torrent, magnet: expect.stringMatching(/^magnet:/) });
    expect(events[1]).toMatchObject({ type: 'verified', skipped: true, reason: 'created from this data' });
    expect(events.at(-1)).toMatchObject({ ok: true, result: { verified: 'created', torrent } });
  }, 60_000);

  it('share again: an identical existing torrent is reused (not rewritten); a different one still needs --force (issue 13 item 19)', async () => {
    const torrent = join(root, 'reshared.torrent');
    const args = [multi.content, '-t', tracker.url, '-o', torrent, '--piece-length', '16KiB', '--until', 'time=1s', ...LOOP];
    const first = await runClean(['seed', ...args], { timeoutMs: 30_000 });
    expect(first.code, first.stderr).toBe(0);
    const bytes = await readFile(torrent);
    const again = await runClean(['seed', ...args], { timeoutMs: 30_000 });
    expect(again.code, again.stderr).toBe(0);
    const events = again.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(events[0]).toMatchObject({ type: 'created', torrent, reused: true });
    expect(events.at(-1)).toMatchObject({ ok: true, result: { torrent } });
    // Byte for byte the file of the first run (its creation date included).
    expect((await readFile(torrent)).equals(bytes)).toBe(true);
    const other = await runCli(['seed', multi.content, '-t', tracker.url, '-o', torrent, '--piece-length', '32KiB', '--until', 'time=1s', '--port', '0', '--host', '127.0.0.1']);
    expect(other.code).toBe(7);
    expect(other.stderr).toContain('is a different torrent');
    expect(other.stderr).toContain('[OUTPUT_EXISTS]');
  }, 60_000);

  it('bad data exits 5 before listening; --skip-verify trusts it but still wants every file', async () => {
    const dir = join(root, 'bad');
    const { mkdir } = await import('node:fs/promises');
    await mkdir(dir, { recursive: true });
    const copy = join(dir, 'single.bin');
    await copyFile(single.content, copy);
    const fh = await open(copy, 'r+');
    await fh.write(Buffer.from([0x55 ^ 0xff]), 0, 1, 300_000);
    await fh.close();
    const r = await runClean(['seed', single.torrent, copy, ...LOOP]);
    expect(r.code).toBe(5);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines[0]).toMatchObject({ type: 'verified', ok: false, badPieces: 1 });
    expect(lines.at(-1)).toMatchObject({ ok: false, error: { code: 'SEED_DATA_BAD', category: 'verification', detail: { badPieces: [1] } } });
    expect(lines.some((e) => e.type === 'started')).toBe(false);

    const trusted = await runClean(['seed', single.torrent, copy, '--skip-verify', '--until', 'time=1s', ...LOOP], { timeoutMs: 30_000 });
    expect(trusted.code, trusted.stderr).toBe(0);
    expect(JSON.parse(trusted.stdout.split('\n')[0]!)).toMatchObject({ type: 'verified', skipped: true, reason: '--skip-verify' });

    await writeFile(copy, Buffer.alloc(1000));
    const short = await runClean(['seed', single.torrent, copy, '--skip-verify', ...LOOP]);
    expect(short.code).toBe(5);
    expect(short.stdout).toContain('SEED_DATA_MISSING');
  }, 60_000);

  it.each([
    [['--until', 'ratio=0'], 'not a positive ratio'],
    [['--until', 'speed=3'], 'unknown condition `speed`'],
    [['--until', 'time=soon'], 'not a duration'],
    [['--until', 'peers-complete=1.5'], 'not a positive whole number'],
    [['--name', 'x'], '--name is for sharing a path'],
  ])('usage error: %j', async (extra, message) => {
    const r = await runClean(['seed', single.torrent, single.content, ...extra]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
  });

  it('a .torrent alone is a usage error (the data is missing), not something to share', async () => {
    const r = await runClean(['seed', single.torrent]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('give the data too');
  });

  it('data that is not there: "no such file", exit 7, as verify says (issue 13, item 7)', async () => {
    const missing = join(single.content, '..', 'nonexistent-dir');
    const seed = await runClean(['seed', single.torrent, missing, '--port', '0', '--host', '127.0.0.1']);
    const verify = await runClean(['verify', single.torrent, missing]);
    expect(seed.code, seed.stderr).toBe(7);
    expect(verify.code, verify.stderr).toBe(7);
    expect(seed.stderr).toMatch(/no such file/);
    expect(verify.stderr).toMatch(/no such file/);
  });
});
