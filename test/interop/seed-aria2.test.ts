/**
 * Issue 13, item 2: aria2c 1.36 with its default settings could not finish a 45 MiB download from
 * `btkit seed`. aria2c, each time it tells a peer about pieces it finished, sends one bitfield in
 * place of the haves when that is no longer (and have all once complete); btkit took every such
 * bitfield for a protocol violation (WIRE_UNEXPECTED_BITFIELD) and dropped aria2c, dozens of times
 * per download (src/core/wire/state.ts). Here aria2c leeches the same size of torrent from a seed
 * alone on 127.0.0.1 and every byte must arrive intact, with no drop of that kind.
 *
 * aria2c runs with its defaults but for what could reach beyond loopback or read this machine's
 * state: no DHT (IPv4 and IPv6; it would bootstrap from the Internet's routers), no local peer
 * discovery (multicast on the LAN), no config file (`--no-conf`). Peer exchange stays on, as by
 * default: it only talks to peers already connected, here the seed. The tracker is `btkit
 * tracker` on 127.0.0.1, so aria2c is the only outside tool. `--seed-time=0` lets aria2c exit
 * when done (by default it would seed on); the rest only quiets its output.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTorrent } from '../../src/core/metainfo/create.js';
import { ensureBuilt } from '../helpers/cli.js';
import { interopAvailable } from '../helpers/interop.js';
import { runToEnd } from '../helpers/magnet-interop.js';
import { pattern } from '../lab/download-lab.js';
import { type CliProcess, startBtkitTracker, startCli, stopAll } from '../swarm/swarm-lab.js';

/** The size: 45 MiB, in the 32 KiB pieces `btkit create` chooses for it (1440 pieces, a 180-byte bitfield). */
const SIZE = 45 * 1024 * 1024;
const PIECE_LENGTH = 32 * 1024;

describe.skipIf(!interopAvailable('aria2c'))('aria2c with its default settings downloads a 45 MiB torrent from btkit seed (issue 13)', () => {
  let root: string;
  let tracker: { proc: CliProcess; url: string };
  const procs: CliProcess[] = [];

  beforeAll(async () => {
    ensureBuilt();
    root = await mkdtemp(join(tmpdir(), 'btkit-seed-aria2-'));
    tracker = await startBtkitTracker();
  }, 60_000);

  afterAll(async () => {
    await stopAll([...procs, tracker?.proc]);
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('completes with identical bytes and without dropping aria2c for its bitfields', async () => {
    const data = pattern(SIZE, 13);
    const seedDir = join(root, 'seed');
    await mkdir(seedDir);
    const content = join(seedDir, 'issue13.bin');
    await writeFile(content, data);
    const created = await createTorrent({ path: content, pieceLength: PIECE_LENGTH, trackers: [[tracker.url]], creationDate: 0, threads: 1 });
    const torrent = join(root, 'issue13.torrent');
    await writeFile(torrent, created.torrent);

    const seed = startCli(['seed', torrent, content, '--port', '0', '--host', '127.0.0.1', '--json']);
    procs.push(seed);
    try {
      await seed.waitFor((e) => e.type === 'tracker' && e.event === 'started' && e.error === null, 20_000, "the seed's announce");
      const out = join(root, 'out');
      const r = await runToEnd('aria2c',
        ['--no-conf', '--enable-dht=false', '--enable-dht6=false', '--bt-enable-lpd=false', '--seed-time=0', '--summary-interval=0', '--console-log-level=warn', '-d', out, torrent],
        100_000,
      );
      const drops = seed.events.filter((e) => e.type === 'peer-dropped');
      expect(r.code, `${r.output}\nseed drops: ${JSON.stringify(drops.slice(0, 5))}\nseed:\n${seed.stderr()}`).toBe(0);
      expect((await readFile(join(out, 'issue13.bin'))).equals(data)).toBe(true);
      // The regression itself: no drop for a bitfield (or any other wire rule).
      expect(drops.filter((e) => typeof e.code === 'string' && e.code.startsWith('WIRE_'))).toEqual([]);
      const { code } = await seed.stop('SIGINT');
      expect(code, seed.stderr()).toBe(0);
      expect(seed.events.at(-1).result.uploaded).toBeGreaterThanOrEqual(SIZE);
    } finally {
      await seed.stop();
    }
  }, 120_000);
});
