import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTrackerServer, type TrackerServer, type TrackerServerEvent } from '../../src/core/tracker/index.js';
import { STACK_LINE, ensureBuilt, runCli } from '../helpers/cli.js';

const A = '9924e7603a28353e40ea29b8660c8a582ebdc99c';
const B = '00112233445566778899aabbccddeeff00112233';
let server: TrackerServer;
const events: TrackerServerEvent[] = [];

beforeAll(async () => {
  ensureBuilt();
  server = await startTrackerServer({ httpPort: 0, udpPort: 0, onEvent: (e) => events.push(e) });
  const ih = (h: string) => Buffer.from(h, 'hex');
  const peer = (port: number, left: bigint, event: 'started' | 'completed' = 'started') =>
    server.store.announce({ infoHash: ih(A), peerId: Buffer.alloc(20, port), ip: '127.0.0.1', port, left, event, families: 'both' });
  peer(1, 0n);
  peer(2, 0n, 'completed');
  peer(3, 5n);
});
afterAll(async () => {
  await server?.close();
});

describe('btkit scrape', () => {
  it('asks a UDP tracker about two infohashes in one packet and prints a table', async () => {
    const before = events.length;
    const r = await runCli(['scrape', A, B, '-t', server.udp!.announceUrl]);
    expect(r.code).toBe(0);
    expect(events.slice(before)).toEqual([{ type: 'scrape', protocol: 'udp', ip: '127.0.0.1', infoHashes: [A, B] }]);
    expect(r.stdout.split('\n').slice(1, 4)).toEqual([
      '  infohash                                   seeders   leechers   completed',
      `  ${A}         2          1           1`,
      `  ${B}         0          0           0`,
    ]);
    expect(r.stderr).not.toMatch(STACK_LINE);
  });

  it('asks an HTTP tracker about both in one request; --json', async () => {
    const before = events.length;
    const r = await runCli(['scrape', A, B, '-t', server.http!.announceUrl, '--json']);
    expect(r.code).toBe(0);
    expect(events.slice(before).map((e) => e.type)).toEqual(['scrape']);
    expect(r.json().result).toEqual({
      infoHashes: [A, B],
      trackers: [
        {
          url: server.http!.announceUrl,
          ok: true,
          protocol: 'http',
          rttMs: expect.any(Number),
          files: [
            { infoHash: A, complete: 2, incomplete: 1, downloaded: 1, name: null },
            { infoHash: B, complete: 0, incomplete: 0, downloaded: 0, name: null },
          ],
          missing: [],
          minRequestInterval: null,
        },
      ],
      succeeded: 1,
      failed: 0,
    });
  });

  it('one tracker failing: exit 4 with its code (a URL BEP 48 cannot scrape)', async () => {
    const r = await runCli(['scrape', A, '-t', `http://127.0.0.1:${server.http!.port}/tracker.php`]);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('[TRACKER_SCRAPE_UNSUPPORTED]');
  });

  it('some trackers failing: exit 0, the failure listed and warned', async () => {
    const r = await runCli(['scrape', A, '-t', server.udp!.announceUrl, '-t', 'udp://127.0.0.1/announce', '--json']);
    expect(r.code).toBe(0);
    const env = r.json();
    expect(env.result.trackers[1]).toMatchObject({ ok: false, infoHashes: [A], error: { code: 'TRACKER_BAD_URL' } });
    expect(env.warnings).toHaveLength(1);
  });

  it('a -t that is no http(s)/udp URL is a usage error, exit 2 (issue 13 item 10)', async () => {
    const r = await runCli(['scrape', A, '-t', 'ftp://tracker.example/announce', '--json']);
    expect(r.code).toBe(2);
    expect(r.json().error).toMatchObject({ code: 'USAGE', category: 'usage', message: '--tracker: `ftp://tracker.example/announce` is not a tracker URL (http://, https://, udp://)' });
  });

  it('no trackers: exit 2', async () => {
    const r = await runCli(['scrape', A]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('TRACKER_NONE');
  });
});
