/**
 * Issue 9, acceptance 4 (the btkit part): peer exchange (BEP 11) between btkit processes on
 * 127.0.0.1. One `btkit seed` and three `btkit download`s, each downloader given only the seed
 * (`--peer`), with no tracker (the torrent has none, and `--peer` skips a torrent's trackers anyway)
 * and no DHT (`--no-dht`): the only way two downloaders can meet is PEX — the seed tells each
 * downloader about the others, at the hidden `--pex-interval 1s` instead of BEP 11's minute.
 *
 * The seed's upload is capped (--upload-limit 2MiB on a 12 MiB torrent), so that serving three
 * copies alone would take it at least 18 s: the downloaders have time to find each other and to
 * trade, whatever the speed of this machine.
 *
 * Downloaders are told apart by their listening ports (their `started` events' `listen`), and the
 * peers they reach by dialing by the port in the peer's key. An incoming connection's key carries
 * the dialer's ephemeral port, so an incoming downloader is recognised by its peer id instead, as
 * learned by whoever dialed it. What is asserted cannot hold without PEX: a downloader-to-downloader
 * connection, and bytes uploaded by downloaders.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, runClean } from '../helpers/cli.js';
import { pattern } from '../lab/download-lab.js';
import { type CliProcess, startCli, stopAll } from './swarm-lab.js';

const MiB = 1024 * 1024;
const SIZE = 12 * MiB + 4321;
const DOWNLOADERS = 3;

const portOf = (key: string): number => Number(key.split(':').at(-1));
const within = <T>(p: Promise<T>, ms: number, what: string) => {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([p, new Promise<never>((_, rej) => (timer = setTimeout(() => rej(new Error(`${what} not within ${ms} ms`)), ms)))]).finally(() =>
    clearTimeout(timer),
  );
};

describe('PEX in a btkit swarm: a seed and three downloaders given only the seed', () => {
  let root: string;
  let content: string;
  let torrent: string;
  let data: Buffer;
  const procs: CliProcess[] = [];

  beforeAll(async () => {
    ensureBuilt();
    root = await mkdtemp(join(tmpdir(), 'btkit-pex-'));
    content = join(root, 'content');
    await mkdir(content, { recursive: true });
    data = pattern(SIZE, 21);
    await writeFile(join(content, 'big.bin'), data);
    torrent = join(root, 'pex.torrent');
    // No tracker in the torrent: peers come from --peer and PEX only.
    const created = await runClean(['create', join(content, 'big.bin'), '-o', torrent, '--piece-length', '64KiB', '--quiet']);
    expect(created.code, created.stderr).toBe(0);
  }, 60_000);

  afterAll(async () => {
    await stopAll(procs);
    if (root) await rm(root, { recursive: true, force: true });
  });

  const start = (args: string[]) => {
    const p = startCli(args);
    procs.push(p);
    return p;
  };

  it('the downloaders connect to each other through PEX and trade pieces', async () => {
    const seed = start([
      'seed', torrent, join(content, 'big.bin'),
      '--until', `peers-complete=${DOWNLOADERS}`, '--until', 'time=100s',
      '--upload-limit', '2MiB', '--no-dht', '--pex-interval', '1s',
      '--port', '0', '--host', '127.0.0.1', '--json',
    ]);
    const seedStarted = await seed.waitFor((e) => e.type === 'started', 30_000, "the seed's started event");
    const seedPort = seedStarted.listen.port as number;
    expect(seedPort).toBeGreaterThan(0);

    const downloaders = Array.from({ length: DOWNLOADERS }, (_, i) =>
      start([
        'download', torrent, '-o', join(root, `copy-${i}`),
        '--peer', `127.0.0.1:${seedPort}`, '--no-dht', '--pex-interval', '1s',
        '--port', '0', '--host', '127.0.0.1', '--timeout', '60s', '--json',
      ]),
    );
    const exits = await within(Promise.all(downloaders.map((d) => d.exited)), 90_000, 'all downloaders');
    downloaders.forEach((d, i) => expect(exits[i]!.code, `downloader ${i}: ${d.stderr()}`).toBe(0));
    for (let i = 0; i < DOWNLOADERS; i++) expect((await readFile(join(root, `copy-${i}`, 'big.bin'))).equals(data), `copy ${i}`).toBe(true);
    const seedExit = await within(seed.exited, 20_000, "the seed's exit");
    expect(seedExit.code, seed.stderr()).toBe(0);

    // Who is who: listening ports, and the peer ids others saw when they dialed them.
    const ports = downloaders.map((d) => d.events.find((e) => e.type === 'started').listen.port as number);
    expect(new Set([...ports, seedPort]).size).toBe(DOWNLOADERS + 1);
    const connected = (d: CliProcess) => d.events.filter((e) => e.type === 'peer-connected');
    const idOf = new Map<number, Set<string>>();
    for (const d of downloaders) {
      for (const e of connected(d)) if (e.direction === 'outgoing') idOf.set(portOf(e.peer), (idOf.get(portOf(e.peer)) ?? new Set()).add(e.peerId));
    }
    const seedIds = idOf.get(seedPort) ?? new Set<string>();
    expect(seedIds.size, 'every downloader dialed the seed').toBe(1);

    downloaders.forEach((d, i) => {
      const others = ports.filter((_, j) => j !== i);
      const otherIds = new Set(others.flatMap((p) => [...(idOf.get(p) ?? [])]));
      // Dialed another downloader, learned through PEX (no other source could name it).
      const dialed = connected(d).filter((e) => e.source === 'pex' && others.includes(portOf(e.peer)));
      // Or was dialed by one: an incoming peer whose id is a downloader's, not the seed's.
      const dialedBy = connected(d).filter((e) => e.direction === 'incoming' && otherIds.has(e.peerId) && !seedIds.has(e.peerId));
      expect(dialed.length + dialedBy.length, `downloader ${i} (port ${ports[i]}) met another downloader: ${JSON.stringify(connected(d))}`).toBeGreaterThan(0);
      // Every outgoing connection came from --peer (the seed) or from PEX.
      for (const e of connected(d)) if (e.direction === 'outgoing') expect(e.source === 'manual' ? portOf(e.peer) : e.source).toBe(e.source === 'manual' ? seedPort : 'pex');
    });
    // At least one downloader learned another one through PEX and dialed it.
    expect(downloaders.some((d, i) => connected(d).some((e) => e.source === 'pex' && ports.some((p, j) => j !== i && p === portOf(e.peer))))).toBe(true);

    // They traded: bytes went from downloader to downloader, and the seed served fewer than three copies.
    const results = downloaders.map((d) => d.events.at(-1).result);
    const total = results[0].totalBytes as number;
    const fromDownloaders = results.reduce((a, r) => a + (r.uploaded as number), 0);
    const seedResult = seed.events.at(-1).result;
    console.info(`pex swarm: seed uploaded ${(seedResult.uploaded / total).toFixed(2)} copies, downloaders ${(fromDownloaders / total).toFixed(2)} copies`);
    expect(seedResult).toMatchObject({ reason: 'peers-complete', peersComplete: DOWNLOADERS });
    expect(fromDownloaders).toBeGreaterThan(0);
    expect(seedResult.uploaded).toBeLessThan(DOWNLOADERS * total);
    // Every byte a downloader accepted came from the seed or from another downloader.
    expect(results.reduce((a, r) => a + (r.downloaded as number), 0)).toBeGreaterThanOrEqual(DOWNLOADERS * total);
  }, 150_000);
});
