import { spawn } from 'node:child_process';
import net from 'node:net';
import { createInterface } from 'node:readline';
import { beforeAll, describe, expect, it } from 'vitest';
import { BIN, ROOT, ensureBuilt, runCli } from '../helpers/cli.js';

const IH = '9924e7603a28353e40ea29b8660c8a582ebdc99c';
const OTHER = '00112233445566778899aabbccddeeff00112233';

beforeAll(() => ensureBuilt());

/** Start `btkit tracker`, wait for its first stdout line; stop() sends SIGINT and collects all. */
async function start(args: string[]) {
  const bounded = args.includes('--stop-after') ? args : ['--stop-after', '2m', ...args];
  const child = spawn(process.execPath, [BIN, 'tracker', '--http-port', '0', '--udp-port', '0', ...bounded], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const first = new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`tracker did not start: ${stderr}`)), 20_000);
    createInterface({ input: child.stdout }).on('line', (l) => {
      lines.push(l);
      if (lines.length === 1) {
        clearTimeout(t);
        resolve(l);
      }
    });
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const firstLine = await first;
  return {
    firstLine,
    lines,
    stderr: () => stderr,
    async stop() {
      const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
      child.kill('SIGINT');
      const code = await exited;
      clearTimeout(kill);
      return code;
    },
    exited,
  };
}

describe('btkit tracker', () => {
  it('--json: a listening event, one NDJSON line per request, a stopped summary, exit 0 on SIGINT', async () => {
    const t = await start(['--json', '--interval', '30s']);
    const listening = JSON.parse(t.firstLine);
    expect(listening).toMatchObject({ type: 'listening', interval: 30, minInterval: 30, peerTtlS: 90, allow: null });
    expect(listening.http).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/announce$/);
    expect(listening.udp).toMatch(/^udp:\/\/127\.0\.0\.1:\d+\/announce$/);
    expect((await runCli(['announce', IH, '-t', listening.http, '--port', '1111'])).code).toBe(0);
    expect((await runCli(['announce', IH, '-t', listening.udp, '--port', '2222', '--left', '0'])).code).toBe(0);
    expect((await runCli(['scrape', IH, '-t', listening.udp])).code).toBe(0);
    expect(await t.stop()).toBe(0);
    const events = t.lines.map((l) => JSON.parse(l));
    expect(events.map((e) => e.type)).toEqual(['listening', 'announce', 'announce', 'scrape', 'stopped']);
    expect(events[1]).toMatchObject({ protocol: 'http', infoHash: IH, ip: '127.0.0.1', port: 1111, event: 'started', returned: 0 });
    expect(events[2]).toMatchObject({ protocol: 'udp', port: 2222, left: 0, returned: 1, complete: 1, incomplete: 1 });
    expect(new Date(events[1].time).getTime()).not.toBeNaN();
    expect(events[4]).toMatchObject({ announces: 2, scrapes: 1, refused: 0, torrents: 1, peers: 2 });
  });

  it('human mode: the URLs, then one line per request', async () => {
    const t = await start([]);
    expect(t.firstLine).toMatch(/^http {2}http:\/\/127\.0\.0\.1:(\d+)\/announce {2}\(scrape: http:\/\/127\.0\.0\.1:\1\/scrape\)$/);
    await new Promise((r) => setTimeout(r, 100)); // the udp line follows the http line
    const udp = t.lines[1]!.replace(/^udp {3}/, '');
    expect(udp).toMatch(/^udp:\/\/127\.0\.0\.1:\d+\/announce$/);
    expect((await runCli(['announce', IH, '-t', udp, '--port', '3333'])).code).toBe(0);
    expect(await t.stop()).toBe(0);
    expect(t.lines[2]).toMatch(new RegExp(`^\\d\\d:\\d\\d:\\d\\d\\.\\d{3}  udp  announce ${IH}  127\\.0\\.0\\.1:3333  started  → 0 peers \\(0 seeders, 1 leechers\\)$`));
    expect(t.stderr()).toContain('open: any infohash; interval 120 s, min interval 30 s, peers expire after 360 s; Ctrl-C stops');
    expect(t.stderr()).toMatch(/stopped after .*: 1 announces, 0 scrapes/);
  });

  it('--allow serves only the torrents listed and refuses others', async () => {
    const t = await start(['--json', '--allow', IH, '--no-udp']);
    const listening = JSON.parse(t.firstLine);
    expect(listening).toMatchObject({ udp: null, allow: [IH] });
    const refused = await runCli(['announce', OTHER, '-t', listening.http]);
    expect(refused.code).toBe(4);
    expect(refused.stderr).toContain('infohash not allowed on this tracker');
    expect((await runCli(['announce', IH, '-t', listening.http])).code).toBe(0);
    expect(await t.stop()).toBe(0);
    expect(t.lines.map((l) => JSON.parse(l).type)).toEqual(['listening', 'refused', 'announce', 'stopped']);
  });

  it('--stop-after stops it by itself, exit 0', async () => {
    const t = await start(['--json', '--stop-after', '1s', '--no-http']);
    expect(await t.exited).toBe(0);
    expect(JSON.parse(t.lines.at(-1)!)).toMatchObject({ type: 'stopped', announces: 0 });
  });

  it('a port in use is a network error (exit 4); nothing to serve is a usage error (exit 2)', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    try {
      const port = (blocker.address() as net.AddressInfo).port;
      const r = await runCli(['tracker', '--http-port', String(port), '--udp-port', '0']);
      expect(r.code).toBe(4);
      expect(r.stderr).toContain('address already in use');
    } finally {
      blocker.close();
    }
    const none = await runCli(['tracker', '--no-http', '--no-udp']);
    expect(none.code).toBe(2);
    // A bind address that is no address is a bad flag value: usage (issue 13 item 10), not a network error.
    const badHost = await runCli(['tracker', '--host', '999.1.1.1', '--stop-after', '1s']);
    expect(badHost.code).toBe(2);
    expect(badHost.stderr).toContain('--host: `999.1.1.1` is not an address to bind to');
  });
});
