/**
 * `btkit announce`, run as a user runs it (the built CLI), against btkit's own tracker started in
 * the test process on port 0 and against fake trackers that fail.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encode } from '../../src/core/bencode/index.js';
import { startTrackerServer, type TrackerServer, type TrackerServerEvent } from '../../src/core/tracker/index.js';
import { STACK_LINE, ensureBuilt, runCli } from '../helpers/cli.js';
import { tempDirs } from '../helpers/tmp.js';
import { closedUdpPort, fakeUdpTracker, type FakeUdp } from '../helpers/tracker-fakes.js';

const IH = '9924e7603a28353e40ea29b8660c8a582ebdc99c';
const tmp = tempDirs();
let server: TrackerServer;
let refusing: TrackerServer;
let silent: FakeUdp;
const events: TrackerServerEvent[] = [];

beforeAll(async () => {
  ensureBuilt();
  server = await startTrackerServer({ httpPort: 0, udpPort: 0, intervalS: 60, minIntervalS: 10, onEvent: (e) => events.push(e) });
  refusing = await startTrackerServer({ httpPort: 0, udpPort: 0, allow: [] });
  silent = await fakeUdpTracker(() => {});
  // Two peers already in the swarm, one on IPv4 seeding.
  const seed = await runCli(['announce', IH, '-t', server.http!.announceUrl, '--port', '1001', '--left', '0']);
  expect(seed.code).toBe(0);
});
afterAll(async () => {
  await server?.close();
  await refusing?.close();
  await silent?.close();
});

describe('btkit announce', () => {
  it('prints every field of the answer for an HTTP tracker', async () => {
    const r = await runCli(['announce', IH, '-t', server.http!.announceUrl, '--port', '2002']);
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(new RegExp(`^${server.http!.announceUrl.replaceAll('.', '\\.')}  ok in \\d+ ms \\(http\\)$`));
    expect(r.stdout).toMatch(/^ {2}interval +60 s \(min 10 s\)$/m);
    expect(r.stdout).toMatch(/^ {2}seeders +1$/m);
    expect(r.stdout).toMatch(/^ {2}leechers +1$/m);
    expect(r.stdout).toMatch(/^ {2}external ip +127\.0\.0\.1$/m);
    expect(r.stdout).toMatch(/^ {2}peers +1\n {4}127\.0\.0\.1:1001$/m);
    expect(r.stderr).not.toMatch(STACK_LINE);
  });

  it('sends what the flags say', async () => {
    const before = events.length;
    const r = await runCli(['announce', IH, '-t', server.udp!.announceUrl, '--port', '3003', '--left', '1MiB', '--event', 'completed', '--numwant', '7', '--peer-id', 'qB4630', '--key', 'abc']);
    expect(r.code).toBe(0);
    const e = events.slice(before).find((x) => x.type === 'announce')!;
    expect(e).toMatchObject({ protocol: 'udp', port: 3003, left: 1048576, event: 'completed', numWant: 7 });
    expect(Buffer.from((e as { peerId: string }).peerId, 'hex').toString('latin1')).toMatch(/^-qB4630-[0-9A-Za-z]{12}$/);
  });

  it('a peer id that starts with a dash is a value, not a flag (-q is --quiet), with = or a space', async () => {
    for (const args of [['--peer-id=-qB4630-abcdefghijkl'], ['--peer-id', '-qB4630-abcdefghijkl']]) {
      const before = events.length;
      const r = await runCli(['announce', IH, '-t', server.udp!.announceUrl, ...args]);
      expect(r.code, r.stderr).toBe(0);
      const e = events.slice(before).find((x) => x.type === 'announce')!;
      expect(Buffer.from((e as { peerId: string }).peerId, 'hex').toString('latin1')).toBe('-qB4630-abcdefghijkl');
    }
  });

  it('--ipv4 and --ipv6 (BEP 7) reach an HTTP tracker; a malformed one is a usage error', async () => {
    const before = events.length;
    const r = await runCli(['announce', IH, '-t', server.http!.announceUrl, '--ipv4', '192.0.2.7:6881', '--ipv6', '2001:db8::7', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json().result.request).toMatchObject({ ipv4: '192.0.2.7:6881', ipv6: '2001:db8::7' });
    expect(events.slice(before).find((x) => x.type === 'announce')).toMatchObject({ protocol: 'http', ipv4: '192.0.2.7:6881', ipv6: '2001:db8::7' });
    for (const [flag, value] of [['--ipv4', '::1'], ['--ipv6', '192.0.2.7'], ['--ipv6', '2001:db8::7:6881x'], ['--ipv4', '192.0.2.7:99999']]) {
      const bad = await runCli(['announce', IH, '-t', server.http!.announceUrl, flag!, value!]);
      expect(bad.code, `${flag} ${value}`).toBe(2);
      expect(bad.stderr).toMatch(new RegExp(`^btkit announce: error: ${flag} \`.+\` is not an IPv[46] address .* \\[USAGE\\]`));
    }
  });

  it('--json carries every field, null where the tracker said nothing (UDP has no min interval)', async () => {
    const r = await runCli(['announce', IH, '-t', server.udp!.announceUrl, '-t', server.http!.announceUrl, '--port', '4004', '--json', '--peer-id', 'aa'.repeat(20), '--key', '0x0000beef']);
    expect(r.code).toBe(0);
    const env = r.json();
    expect(env).toMatchObject({ ok: true, command: 'announce', warnings: [] });
    expect(env.result).toMatchObject({
      infoHash: IH,
      name: null,
      request: { peerId: 'aa'.repeat(20), port: 4004, event: 'started', uploaded: 0, downloaded: 0, left: 1, numWant: 50, key: '0000beef', ip: null },
      succeeded: 2,
      failed: 0,
    });
    const [udp, http] = env.result.trackers;
    expect(Object.keys(udp).sort()).toEqual(
      ['complete', 'downloaded', 'externalIp', 'incomplete', 'interval', 'minInterval', 'ok', 'packets', 'peers', 'protocol', 'redirects', 'rttMs', 'tier', 'trackerId', 'url', 'warning'].sort(),
    );
    expect(udp).toMatchObject({ url: server.udp!.announceUrl, ok: true, protocol: 'udp', interval: 60, minInterval: null, externalIp: null, warning: null, packets: 2 });
    expect(http).toMatchObject({ protocol: 'http', minInterval: 10, externalIp: '127.0.0.1', redirects: 0 });
    expect(typeof udp.rttMs).toBe('number');
    expect(http.peers).toContainEqual({ ip: '127.0.0.1', port: 1001, family: 4, peerId: null });
  });

  it('--peers-only prints host:port lines, deduplicated across trackers', async () => {
    const r = await runCli(['announce', IH, '-t', server.udp!.announceUrl, '-t', server.http!.announceUrl, '--port', '5005', '--peers-only']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toContain('127.0.0.1:1001');
    expect(new Set(lines).size).toBe(lines.length);
    for (const l of lines) expect(l).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it('--no-compact gets the dictionary model with peer ids', async () => {
    const r = await runCli(['announce', IH, '-t', server.http!.announceUrl, '--port', '6006', '--no-compact', '--json']);
    const peers = r.json().result.trackers[0].peers;
    expect(peers.find((p: { port: number }) => p.port === 1001).peerId).toMatch(/^2d424b/);
  });

  it('announces to every tier of a torrent in parallel; a failed tracker is listed and warned about, exit 0', async () => {
    const dir = await tmp.make('announce');
    const file = join(dir, 'x.torrent');
    const info = new Map<string, unknown>([['length', 5], ['name', 'x'], ['piece length', 16384], ['pieces', Buffer.alloc(20)]]);
    await writeFile(file, encode(new Map<string, unknown>([['announce', server.http!.announceUrl], ['announce-list', [[server.http!.announceUrl], [silent.url()]]], ['info', info]]) as never));
    const r = await runCli(['announce', file, '--json', '--timeout', '1s', '--udp-retransmit', '200ms']);
    expect(r.code).toBe(0);
    const env = r.json();
    expect(env.result).toMatchObject({ name: 'x', succeeded: 1, failed: 1, request: { left: 5 } });
    expect(env.result.trackers.map((t: { tier: number; ok: boolean }) => [t.tier, t.ok])).toEqual([[0, true], [1, false]]);
    expect(env.result.trackers[1].error).toMatchObject({ code: 'TRACKER_TIMEOUT', category: 'network' });
    expect(env.warnings).toEqual([expect.stringContaining('TRACKER_TIMEOUT')]);
    expect(silent.packets.length).toBeGreaterThanOrEqual(2); // retransmitted within the second
  });

  it('one tracker failing: exit 4 with its own code and message', async () => {
    const r = await runCli(['announce', IH, '-t', refusing.http!.announceUrl]);
    expect(r.code).toBe(4);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`btkit announce: error: ${refusing.http!.announceUrl}: the tracker refused: infohash not allowed on this tracker [TRACKER_FAILURE]\n`);
  });

  it('an unreachable HTTP tracker: the error names its URL without the announce query (issue 13 item 15)', async () => {
    const r = await runCli(['announce', IH, '-t', 'http://127.0.0.1:1/announce']);
    expect(r.code).toBe(4);
    expect(r.stderr).toBe('btkit announce: error: http://127.0.0.1:1/announce: connection refused [TRACKER_UNREACHABLE]\n');
  });

  it('a closed UDP tracker port: TRACKER_UNREACHABLE after one packet, not a timeout, with --timeout 15s (issue 13 item 15)', async () => {
    const port = await closedUdpPort();
    const url = `udp://127.0.0.1:${port}/announce`;
    const r = await runCli(['announce', IH, '-t', url, '--timeout', '15s', '--json']);
    expect(r.code).toBe(4);
    expect(r.json()).toMatchObject({ ok: false, error: { code: 'TRACKER_UNREACHABLE', detail: { url, packets: 1 } } });
  });

  it('every tracker failing: exit 4, TRACKER_ALL_FAILED, each failure in the JSON error', async () => {
    const r = await runCli(['announce', IH, '-t', refusing.udp!.announceUrl, '-t', silent.url(), '--timeout', '500ms', '--json']);
    expect(r.code).toBe(4);
    const env = r.json();
    expect(env).toMatchObject({ ok: false, error: { code: 'TRACKER_ALL_FAILED', category: 'network', exitCode: 4 } });
    expect(env.error.detail.result.trackers.map((t: { error: { code: string } }) => t.error.code)).toEqual(['TRACKER_FAILURE', 'TRACKER_TIMEOUT']);
  });

  it('human output lists each failure before the error line', async () => {
    // A wss:// tracker can come from the target (a magnet link, a torrent); given with -t it is a usage error.
    const magnet = `magnet:?xt=urn:btih:${IH}&tr=${encodeURIComponent(refusing.udp!.announceUrl)}&tr=${encodeURIComponent('wss://127.0.0.1:1/announce')}`;
    const r = await runCli(['announce', magnet]);
    expect(r.code).toBe(4);
    expect(r.stdout).toContain(`${refusing.udp!.announceUrl}  FAILED after`);
    expect(r.stdout).toContain('[TRACKER_UNSUPPORTED_SCHEME]');
    expect(r.stderr).toContain('error: all 2 trackers failed [TRACKER_ALL_FAILED]');
  });

  it('usage errors: no tracker for a bare infohash, a bad peer id or key, a bad event (exit 2)', async () => {
    const none = await runCli(['announce', IH]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('an infohash has no trackers: give one with --tracker');
    expect((await runCli(['announce', IH, '-t', server.http!.announceUrl, '--peer-id', 'x'.repeat(21)])).code).toBe(2);
    expect((await runCli(['announce', IH, '-t', server.http!.announceUrl, '--key', 'xyz'])).code).toBe(2);
    expect((await runCli(['announce', IH, '-t', server.http!.announceUrl, '--event', 'paused'])).code).toBe(2);
  });

  it('a -t that is no http(s)/udp URL is a usage error, exit 2, one line (issue 13 item 10)', async () => {
    for (const url of ['ftp://tracker.example/announce', 'wss://127.0.0.1:1/announce', 'not-a-url']) {
      const r = await runCli(['announce', IH, '-t', url]);
      expect(r.code, url).toBe(2);
      expect(r.stderr).toBe(`btkit announce: error: --tracker: \`${url}\` is not a tracker URL (http://, https://, udp://) [USAGE] (see 'btkit announce --help')\n`);
    }
  });

  it('takes a magnet link and its trackers', async () => {
    const r = await runCli(['announce', `magnet:?xt=urn:btih:${IH}&dn=m&tr=${encodeURIComponent(server.udp!.announceUrl)}`, '--json', '--event', 'stopped', '--port', '7007']);
    expect(r.code).toBe(0);
    expect(r.json().result).toMatchObject({ name: 'm', trackers: [{ url: server.udp!.announceUrl, ok: true, peers: [] }] });
  });
});
