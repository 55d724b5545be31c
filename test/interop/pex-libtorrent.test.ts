/**
 * Issue 9, acceptance 4, with libtorrent (required in CI): btkit and libtorrent learn peers from
 * each other's peer exchange (BEP 11, ut_pex), on 127.0.0.1 only.
 *
 * Each swarm is built so that PEX is the only way two downloaders can learn of each other: each is
 * given only the seed (--peer), there is no tracker, no DHT (libtorrent's is off in lt_get.py
 * without --dht; btkit runs none without --bootstrap under BTKIT_NO_PUBLIC_DHT) and no local
 * discovery (off in every lab session). So a connection between the two downloaders, at the
 * other's listening port, can only come from the seed's ut_pex message.
 * - btkit → libtorrent: `btkit seed` X, libtorrent downloaders L1 and L2 given only X. X tells
 *   each about the other (with --pex-interval 1s: BEP 11's minute is the default); L1 and L2
 *   must meet, and the one that dialed must have dialed the other's listening port as a peer
 *   whose source libtorrent records as `pex`.
 * - libtorrent → btkit: a libtorrent seed S, btkit downloaders B1 and B2 given only S. libtorrent
 *   sends its first ut_pex message (the full list) as soon as a torrent has two peers, so no
 *   minute is waited; one of B1, B2 must report peer-connected with source `pex` for the other's
 *   listening address.
 * Upload and download limits stretch each transfer over several seconds, so both downloaders are
 * still downloading (and so still want peers) when the message comes; they are limits only.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../helpers/cli.js';
import { interopAvailable } from '../helpers/interop.js';
import { ltResult, runToEnd } from '../helpers/magnet-interop.js';
import { type Fixture, LAB, SYSTEM_PYTHON, differences, freePort, makeFixture, startLtSeeder } from '../lab/download-lab.js';
import { type CliProcess, startCli, stopAll } from '../swarm/swarm-lab.js';

const LOOPBACK = ['--port', '0', '--host', '127.0.0.1', '--json', '--no-dht'];
const peerIdText = (id: string) => Buffer.from(id, 'hex').toString('latin1');

describe.skipIf(!interopAvailable('libtorrent'))('peer exchange between btkit and libtorrent', () => {
  let root: string;
  let f: Fixture;
  const procs: CliProcess[] = [];

  beforeAll(async () => {
    ensureBuilt();
    root = await mkdtemp(join(tmpdir(), 'btkit-pex-interop-'));
    // 3 MiB in 256 KiB pieces, no trackers.
    f = await makeFixture(root, 'single', [], 'pex.bin');
  }, 60_000);

  afterAll(async () => {
    await stopAll(procs);
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('btkit seed tells libtorrent downloaders about each other: L1 and L2 connect through btkit\'s PEX', async () => {
    const seed = startCli(['seed', f.torrent, f.content, ...LOOPBACK, '--pex-interval', '1s', '--upload-limit', '256KiB']);
    procs.push(seed);
    try {
      const port = (await seed.waitFor((e) => e.type === 'started', 20_000, 'the started event')).listen.port as number;
      const ports = [await freePort(), await freePort()];
      const leech = (i: number) =>
        runToEnd(SYSTEM_PYTHON, [join(LAB, 'lt_get.py'), f.torrent, join(root, `out-L${i + 1}`), '--tcp-only', '--port', String(ports[i]), '--peer', `127.0.0.1:${port}`, '--timeout', '50', '--json', '--peer-log'], 60_000);
      const l1 = leech(0);
      // L2 starts once L1 is connected to the seed, so the seed has someone to tell it about.
      await seed.waitFor((e) => e.type === 'peer-connected' && peerIdText(e.peerId).startsWith('-LT'), 20_000, "L1's connection");
      const l2 = leech(1);
      const [r1, r2] = await Promise.all([l1, l2]);
      expect(r1.code, `L1:\n${r1.output}\nseed:\n${seed.stderr()}`).toBe(0);
      expect(r2.code, `L2:\n${r2.output}\nseed:\n${seed.stderr()}`).toBe(0);
      for (const i of [1, 2]) expect(await differences(f, join(root, `out-L${i}`))).toEqual([]);

      const peers = [ltResult(r1.output).peer_log!, ltResult(r2.output).peer_log!];
      const why = JSON.stringify(peers, null, 1);
      // Each was given only the seed (btkit), so any libtorrent peer one of them met is the other,
      // and the one that dialed can have learned the other's address only from the seed's PEX.
      // (Both learn of each other in the same second and may dial at once; libtorrent then keeps
      // one connection, or none for a while, so only one side may have recorded it.)
      const libtorrentPeers = peers.map((list) => list.filter((p) => p.client.startsWith('libtorrent')));
      expect(libtorrentPeers.flat().length, why).toBeGreaterThan(0);
      libtorrentPeers.forEach((list, i) => {
        for (const p of list.filter((q) => q.outgoing)) {
          expect(p.addr, why).toBe(`127.0.0.1:${ports[1 - i]}`);
          expect(p.source, why).toContain('pex');
        }
      });
      // No other way to learn of a peer was in play.
      for (const p of peers.flat()) expect(p.source.filter((s) => !['pex', 'incoming', 'resume_data'].includes(s)), why).toEqual([]);
    } finally {
      await seed.stop();
    }
  });

  it("libtorrent's PEX tells btkit downloaders about each other: B1 and B2 connect with source pex", async () => {
    const seeder = await startLtSeeder(f.torrent, f.seedDir, { seconds: 90 });
    try {
      const download = (i: number) => {
        const p = startCli(['download', f.torrent, '-o', join(root, `out-B${i}`), '--peer', `127.0.0.1:${seeder.port}`, '--download-limit', '256KiB', '--timeout', '30s', ...LOOPBACK]);
        procs.push(p);
        return p;
      };
      const b1 = download(1);
      await b1.waitFor((e) => e.type === 'peer-connected' && e.peer === `127.0.0.1:${seeder.port}`, 20_000, "B1's connection to the seed");
      const b2 = download(2);
      const listen = await Promise.all([b1, b2].map(async (b) => (await b.waitFor((e) => e.type === 'started', 20_000, 'the started event')).listen.port as number));
      const exits = await Promise.all(
        [b1, b2].map((b) =>
          Promise.race([b.exited, new Promise<{ code: null }>((r) => setTimeout(() => r({ code: null }), 60_000))]),
        ),
      );
      const why = (b: CliProcess) => `stderr:\n${b.stderr().slice(-2000)}\nstdout:\n${b.stdout().slice(-4000)}`;
      expect(exits[0]!.code, why(b1)).toBe(0);
      expect(exits[1]!.code, why(b2)).toBe(0);
      for (const i of [1, 2]) expect(await differences(f, join(root, `out-B${i}`))).toEqual([]);

      const throughPex = (b: CliProcess, otherPort: number) => b.events.some((e) => e.type === 'peer-connected' && e.source === 'pex' && e.peer === `127.0.0.1:${otherPort}`);
      expect(throughPex(b1, listen[1]!) || throughPex(b2, listen[0]!), `B1:\n${why(b1)}\nB2:\n${why(b2)}`).toBe(true);
      // The other sources in play: the seed given with --peer, and connections the other dialed.
      for (const b of [b1, b2]) expect(b.events.filter((e) => e.type === 'peer-connected' && !['manual', 'pex', 'incoming'].includes(e.source))).toEqual([]);
    } finally {
      await seeder.stop();
    }
  });
});
