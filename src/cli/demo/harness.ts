/**
 * The demo's process harness: real `btkit` child processes (the built CLI, as a CI pipeline runs
 * it), their NDJSON read as it arrives, every wait bounded by one deadline, and every child
 * stopped by its pid at the end. Also the demo's workspace and its deterministic sample payload.
 *
 * It lives in src/cli/ rather than the core because it spawns `process` children.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BtError } from '../../core/errors.js';

export type ChildEvent = Record<string, any>;

/** One child `btkit` process, its NDJSON events parsed as they arrive. */
export interface DemoChild {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly events: ChildEvent[];
  /** Everything it printed on stdout (for commands that print one JSON document, not NDJSON). */
  stdout: string;
  /** The last few KiB of its stderr. */
  stderr: string;
  readonly exited: Promise<number | null>;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** `p`, or 'timeout' after `ms` (the timer is cleared either way, so it never holds the process open). */
export async function within<T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([p, new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** Still running: neither exited nor killed. */
export function running(c: DemoChild): boolean {
  return c.proc.exitCode === null && c.proc.signalCode === null;
}

/** The last line of a child's stderr, for an error message. */
export function lastError(c: DemoChild): string {
  return c.stderr.trim().split('\n').at(-1) ?? '';
}

export interface HarnessOptions {
  /** The CLI's entry point (bin/run.js). */
  bin: string;
  signal: AbortSignal;
  /** Every wait of the harness ends by then (performance.now() milliseconds). */
  deadline: number;
}

export class DemoHarness {
  private readonly children: DemoChild[] = [];

  constructor(private readonly opts: HarnessOptions) {}

  /** Starts `btkit ARGS --json` (NO_COLOR); its stdout is read as NDJSON. */
  start(name: string, args: readonly string[]): DemoChild {
    const proc = spawn(process.execPath, [this.opts.bin, ...args, '--json'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
    const c: DemoChild = { name, proc, events: [], stdout: '', stderr: '', exited: new Promise((resolve) => proc.once('exit', (code) => resolve(code))) };
    let partial = '';
    proc.stdout!.on('data', (b: Buffer) => {
      c.stdout += b.toString();
      const parts = (partial + b.toString()).split('\n');
      partial = parts.pop()!;
      for (const l of parts) {
        try {
          if (l.trim()) c.events.push(JSON.parse(l));
        } catch {
          // not JSON (create's indented document is read from `stdout`)
        }
      }
    });
    proc.stderr!.on('data', (b: Buffer) => (c.stderr = (c.stderr + b.toString()).slice(-4000)));
    this.children.push(c);
    return c;
  }

  /** Throws DEMO_TIMEOUT (or an interruption) once the demo's time is up or it was interrupted. */
  checkTime(what: string): void {
    if (performance.now() > this.opts.deadline || this.opts.signal.aborted) {
      throw new BtError('DEMO_TIMEOUT', this.opts.signal.aborted ? 'interrupted' : 'internal', `${what} in time`);
    }
  }

  /** The first event matching `pred`; throws when the child exits first or the demo's time is up. */
  async waitFor(c: DemoChild, pred: (e: ChildEvent) => boolean, what: string): Promise<ChildEvent> {
    for (;;) {
      const hit = c.events.find(pred);
      if (hit) return hit;
      if (!running(c)) throw new BtError('DEMO_CHILD_FAILED', 'internal', `btkit ${c.name} exited (${c.proc.exitCode ?? c.proc.signalCode}) before its ${what}: ${lastError(c)}`);
      this.checkTime(`no ${what} from btkit ${c.name}`);
      await sleep(50);
    }
  }

  /** Stops every child still running: SIGTERM by pid, SIGKILL after 3 s. */
  async stopAll(): Promise<void> {
    await Promise.all(
      this.children.map(async (c) => {
        if (!running(c)) return;
        const kill = setTimeout(() => c.proc.kill('SIGKILL'), 3000);
        c.proc.kill('SIGTERM');
        await c.exited;
        clearTimeout(kill);
      }),
    );
  }
}

/** The demo's directory: `dir` (created), or a new temporary one. */
export async function makeWorkspace(dir: string | undefined): Promise<string> {
  const base = dir ?? (await mkdtemp(join(tmpdir(), 'btkit-demo-')));
  await mkdir(base, { recursive: true });
  return base;
}

/** Deterministic pseudo-random bytes (a SHA-256 counter stream), so every run makes the same payload. */
export function sampleBytes(seed: string, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let counter = 0;
  for (let off = 0; off < length; off += 32) {
    createHash('sha256').update(`${seed}:${counter++}`).digest().copy(out, off, 0, Math.min(32, length - off));
  }
  return out;
}

/** Writes each `[path below dir, size]` of `layout` with its sample bytes, creating the directories. */
export async function writeSamplePayload(dir: string, layout: readonly [string, number][]): Promise<void> {
  for (const [rel, size] of layout) {
    const file = join(dir, ...rel.split('/'));
    await mkdir(join(file, '..'), { recursive: true });
    await writeFile(file, sampleBytes(rel, size));
  }
}

export interface DemoStep {
  step: string;
  ms: number;
  detail: Record<string, unknown>;
}
