/**
 * Long-running btkit processes for the seed, swarm and demo tests: `btkit tracker`, `btkit seed`,
 * `btkit download` started from the built CLI (`cliBin()`), their NDJSON read as it comes, every
 * wait bounded, every process stopped by pid (SIGTERM, then SIGKILL after a grace period).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { ROOT, cliBin } from '../helpers/cli.js';

export interface CliProcess {
  child: ChildProcess;
  pid: number;
  /** NDJSON objects printed on stdout so far. */
  events: any[];
  stdout(): string;
  stderr(): string;
  /** The first event matching `pred` (waits up to `timeoutMs`). */
  waitFor(pred: (e: any) => boolean, timeoutMs: number, what?: string): Promise<any>;
  /** Exit status, once it exits. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM (or `signal`), SIGKILL after `graceMs`; resolves when it is gone. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function startCli(args: readonly string[], options: { cwd?: string } = {}): CliProcess {
  const env: Record<string, string | undefined> = { ...process.env };
  for (const k of ['NO_COLOR', 'FORCE_COLOR', 'BTKIT_DEBUG', 'NODE_OPTIONS', 'NODE_ENV']) delete env[k];
  const child = spawn(process.execPath, [cliBin(), ...args], { cwd: options.cwd ?? ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let partial = '';
  const events: any[] = [];
  const watchers = new Set<() => void>();
  child.stdout!.on('data', (b: Buffer) => {
    out += b.toString();
    partial += b.toString();
    const parts = partial.split('\n');
    partial = parts.pop()!;
    for (const l of parts) {
      if (!l.trim()) continue;
      try {
        events.push(JSON.parse(l));
      } catch {
        events.push({ unparsed: l });
      }
    }
    for (const w of [...watchers]) w();
  });
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  let gone = false;
  void exited.then(() => {
    gone = true;
    for (const w of [...watchers]) w();
  });
  const proc: CliProcess = {
    child,
    pid: child.pid!,
    events,
    stdout: () => out,
    stderr: () => err,
    waitFor(pred, timeoutMs, what = 'an event') {
      return new Promise((resolve, reject) => {
        const check = () => {
          const hit = events.find(pred);
          if (hit) {
            done();
            resolve(hit);
          } else if (gone) {
            done();
            reject(new Error(`btkit ${args[0]} exited before ${what}; stderr:\n${err.slice(-2000)}\nstdout:\n${out.slice(-2000)}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no ${what} from btkit ${args[0]} within ${timeoutMs} ms; stderr:\n${err.slice(-2000)}\nstdout:\n${out.slice(-2000)}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          watchers.delete(check);
        };
        watchers.add(check);
        check();
      });
    },
    exited,
    async stop(signal = 'SIGTERM', graceMs = 5000) {
      if (child.exitCode === null && child.signalCode === null) {
        const kill = setTimeout(() => child.kill('SIGKILL'), graceMs);
        child.kill(signal);
        const r = await exited;
        clearTimeout(kill);
        return r;
      }
      return exited;
    },
  };
  return proc;
}

/** `btkit tracker` on a free port, HTTP only, short intervals so peers learn of each other quickly. */
export async function startBtkitTracker(extra: string[] = []): Promise<{ proc: CliProcess; url: string }> {
  const proc = startCli(['tracker', '--http-port', '0', '--no-udp', '--interval', '3s', '--min-interval', '1s', '--json', ...extra]);
  const listening = await proc.waitFor((e) => e.type === 'listening', 20_000, 'the listening event');
  return { proc, url: listening.http as string };
}

/** Stop them all (in parallel), whatever state they are in. */
export async function stopAll(procs: readonly (CliProcess | undefined)[]): Promise<void> {
  await Promise.all(procs.map((p) => p?.stop().catch(() => undefined)));
}
