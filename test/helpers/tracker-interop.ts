/**
 * Real tracker peers for the tracker interop suites: opentracker (Debian, whitelist-only), the
 * built `btkit tracker`, and libtorrent as a tracker client (test/lab/lt_announce.py). Everything
 * binds to 127.0.0.1; every process started here is stopped by the returned `stop()` (by pid),
 * and every wait is bounded.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, chmodSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import dgram from 'node:dgram';
import { createInterface } from 'node:readline';
import { BIN, ROOT } from './cli.js';
import { LAB_DIR, SYSTEM_PYTHON } from './interop.js';

/** Lines of JSON from a child's stdout, with a bounded wait for the first one matching. */
class JsonLines {
  readonly seen: any[] = [];
  private waiters: { pred: (o: any) => boolean; resolve: (o: any) => void }[] = [];
  constructor(child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let o: any;
      try {
        o = JSON.parse(line);
      } catch {
        return;
      }
      this.seen.push(o);
      for (const w of [...this.waiters]) {
        if (w.pred(o)) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve(o);
        }
      }
    });
  }
  /** The first line (already seen after index `from`, or future) matching `pred`. */
  next(pred: (o: any) => boolean, timeoutMs: number, what: string, from = 0): Promise<any> {
    const already = this.seen.slice(from).find(pred);
    if (already) return Promise.resolve(already);
    return new Promise((resolve, reject) => {
      const w = { pred, resolve: (o: any) => (clearTimeout(timer), resolve(o)) };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; saw: ${JSON.stringify(this.seen).slice(0, 2000)}`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }
}

function stopChild(child: ChildProcess, signal: NodeJS.Signals, graceMs: number): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', (code) => {
      clearTimeout(kill);
      resolve(code);
    });
    child.kill(signal);
  });
}

export interface BtkitTracker {
  http: string;
  udp: string;
  events: JsonLines;
  stderr: () => string;
  /** SIGINT, then the exit code (0 when it stopped cleanly). */
  stop(): Promise<number | null>;
}

/** `btkit tracker` on free ports, NDJSON log. */
export async function startBtkitTracker(args: string[] = []): Promise<BtkitTracker> {
  const child = spawn(process.execPath, [BIN, 'tracker', '--http-port', '0', '--udp-port', '0', '--json', '--stop-after', '5m', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const events = new JsonLines(child);
  const listening = await events.next((o) => o.type === 'listening', 20_000, 'btkit tracker to listen').catch(async (e) => {
    await stopChild(child, 'SIGKILL', 0);
    throw new Error(`${(e as Error).message}\nstderr: ${err}`);
  });
  return { http: listening.http, udp: listening.udp, events, stderr: () => err, stop: () => stopChild(child, 'SIGINT', 5000) };
}

/** A port free for both TCP and UDP on 127.0.0.1 (opentracker serves both on one number). */
export async function freeTcpUdpPort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const srv = net.createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as net.AddressInfo).port;
    await new Promise<void>((r) => srv.close(() => r()));
    const sock = dgram.createSocket('udp4');
    const ok = await new Promise<boolean>((resolve) => {
      sock.once('error', () => resolve(false));
      sock.bind(port, '127.0.0.1', () => resolve(true));
    });
    await new Promise<void>((r) => sock.close(() => r()));
    if (ok) return port;
  }
  throw new Error('no port free for both TCP and UDP');
}

export interface Opentracker {
  http: string;
  udp: string;
  stop(): void;
}

/** Debian's opentracker (whitelist-only) with `hashes` allowed, via test/lab/opentracker.sh. */
export async function startOpentracker(hashes: string[]): Promise<Opentracker> {
  const dir = mkdtempSync(join(tmpdir(), 'btkit-ot-'));
  chmodSync(dir, 0o755); // opentracker runs as `nobody` and must read the whitelist
  writeFileSync(join(dir, 'whitelist'), hashes.map((h) => `${h}\n`).join(''));
  const port = await freeTcpUdpPort();
  const script = join(LAB_DIR, 'opentracker.sh');
  execFileSync('bash', [script, 'start', dir, String(port)], { stdio: 'pipe', timeout: 15_000, env: { ...process.env, OT_MAX_SECONDS: '300' } });
  return {
    http: `http://127.0.0.1:${port}/announce`,
    udp: `udp://127.0.0.1:${port}/announce`,
    stop() {
      execFileSync('bash', [script, 'stop', dir], { stdio: 'pipe', timeout: 10_000 });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface LtClient {
  lines: JsonLines;
  /** libtorrent's listen port, which it announces. */
  port: number;
  send(command: 'announce' | 'scrape' | 'peers' | 'quit'): void;
  stop(): Promise<number | null>;
}

/** libtorrent announcing `infoHash` to `trackers` (test/lab/lt_announce.py). */
export async function startLibtorrentClient(infoHash: string, trackers: string[], extra: string[] = []): Promise<LtClient> {
  const args = [join(LAB_DIR, 'lt_announce.py'), infoHash, ...trackers.flatMap((t) => ['--tracker', t]), '--seconds', '60', ...extra];
  const child = spawn(SYSTEM_PYTHON, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  child.stdin!.on('error', () => undefined);
  const lines = new JsonLines(child);
  const listen = await lines.next((o) => o.event === 'listen', 20_000, 'libtorrent to listen').catch(async (e) => {
    await stopChild(child, 'SIGKILL', 0);
    throw new Error(`${(e as Error).message}\nstderr: ${err}`);
  });
  return {
    lines,
    port: listen.port,
    send: (c) => void child.stdin!.write(`${c}\n`),
    async stop() {
      child.stdin!.end('quit\n');
      // `quit` sends `stopped` to the trackers and exits within about a second; SIGTERM after 5 s.
      const exited = await new Promise<boolean>((resolve) => {
        if (child.exitCode !== null) return resolve(true);
        const t = setTimeout(() => resolve(false), 5000);
        child.once('exit', () => (clearTimeout(t), resolve(true)));
      });
      return exited ? child.exitCode : stopChild(child, 'SIGTERM', 5000);
    },
  };
}

/**
 * A TCP listener standing in for a peer: resolves `handshake` with the infohash of the first
 * BitTorrent handshake anyone sends it (BEP 3: 19, "BitTorrent protocol", 8 reserved bytes, hash).
 */
export async function handshakeCatcher(): Promise<{ port: number; handshake: (timeoutMs: number) => Promise<string>; close(): Promise<void> }> {
  let got: ((hash: string) => void) | undefined;
  const first = new Promise<string>((resolve) => (got = resolve));
  const server = net.createServer((sock) => {
    let buf = Buffer.alloc(0);
    sock.on('data', (b: Buffer) => {
      buf = Buffer.concat([buf, b]);
      if (buf.length >= 48) {
        if (buf[0] === 19 && buf.subarray(1, 20).toString() === 'BitTorrent protocol') got!(buf.subarray(28, 48).toString('hex'));
        sock.destroy();
      }
    });
    sock.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    handshake: (timeoutMs) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<string>((_, reject) => (timer = setTimeout(() => reject(new Error(`no BitTorrent handshake within ${timeoutMs} ms`)), timeoutMs)));
      return Promise.race([first, timeout]).finally(() => clearTimeout(timer));
    },
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
      }),
  };
}

export type { JsonLines };
