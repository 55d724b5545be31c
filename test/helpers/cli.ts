/**
 * Run the built CLI (`node bin/run.js …`) as a child process, the way a user or a script does,
 * and capture what it printed and how it exited.
 *
 *   beforeAll(ensureBuilt);                      // builds dist/ if src/ is newer; snapshots it for the run
 *   const r = await runClean(['create', dir, '--json']);   // runCli + no timeout, no stack trace
 *   expect(r.code).toBe(0);
 *   expect(r.json()).toMatchObject({ ok: true });
 *
 * The child gets a predictable environment: NO_COLOR, FORCE_COLOR, BTKIT_DEBUG, NODE_OPTIONS and
 * NODE_ENV are removed unless the test sets them in `env`, and stdin is empty unless `input` is given.
 */
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, renameSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMainThread } from 'node:worker_threads';
import { expect } from 'vitest';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** bin/run.js of the work tree; tests run a snapshot of it (see `cliBin`). */
export const BIN = join(ROOT, 'bin', 'run.js');
const CACHE = join(ROOT, 'node_modules', '.cache');
/**
 * This test run: the vitest process itself, parent of every test file's fork (the configured
 * pool), or this very process when test files run in worker threads.
 */
const RUN_ID = `vitest-${isMainThread ? process.ppid : process.pid}`;
const SNAPSHOT = join(CACHE, 'btkit-cli', RUN_ID);

/**
 * The entry point the tests run: a copy of the built CLI (bin/, dist/, manifest, package.json)
 * taken by `ensureBuilt` for this test run, so a build started meanwhile by someone else in the
 * same tree (which deletes and rewrites dist/ and the manifest) cannot break a running test.
 * Modules still resolve from the work tree's node_modules (the copy lives inside it).
 */
export function cliBin(): string {
  const bin = join(SNAPSHOT, 'bin', 'run.js');
  return existsSync(bin) ? bin : BIN;
}

/** A stack-trace frame as Node prints it ("    at fn (file:line:col)"); btkit must never print one. */
export const STACK_LINE = /^ {4}at /m;

export interface CliResult {
  /** Exit code, or null when killed by a signal (a timeout included). */
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  stdout: string;
  /** Stdout exactly as written (for binary output such as `create -o -`). */
  stdoutBytes: Buffer;
  stderr: string;
  /** Stdout parsed as one JSON document (throws with the output when it is not JSON). */
  json<T = any>(): T;
}

export interface RunOptions {
  cwd?: string;
  /** Added to (or, with value undefined, removed from) the inherited environment. */
  env?: Record<string, string | undefined>;
  /** Bytes for stdin; without it stdin is closed at once (not a TTY, empty). */
  input?: string | Uint8Array;
  /** Kill the child (SIGKILL) after this long; default 20 s. */
  timeoutMs?: number;
}

export function runCli(args: readonly string[], options: RunOptions = {}): Promise<CliResult> {
  const env: Record<string, string | undefined> = { ...process.env };
  // NODE_ENV=test comes from vitest, not from a user; oclif prints development warnings under it.
  for (const k of ['NO_COLOR', 'FORCE_COLOR', 'BTKIT_DEBUG', 'NODE_OPTIONS', 'NODE_ENV']) delete env[k];
  for (const [k, v] of Object.entries(options.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliBin(), ...args], { cwd: options.cwd ?? ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs ?? 20_000);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stdoutBytes = Buffer.concat(out);
      const stdout = stdoutBytes.toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      resolve({
        code,
        signal,
        timedOut,
        stdout,
        stdoutBytes,
        stderr,
        json() {
          try {
            return JSON.parse(stdout);
          } catch {
            throw new Error(`stdout is not one JSON document (exit ${code}):\n${stdout}\nstderr:\n${stderr}`);
          }
        },
      });
    });
    // A closed stdin may raise EPIPE when the child never reads it; that is not a failure.
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? undefined);
  });
}

/**
 * `runCli`, then the checks every command test wants: it finished in time and printed no stack
 * trace on either stream (btkit reports failures as one line, never a trace).
 */
export async function runClean(args: readonly string[], options: RunOptions = {}): Promise<CliResult> {
  const r = await runCli(args, options);
  expect(r.timedOut, `btkit ${args.join(' ')} timed out`).toBe(false);
  expect(r.stderr, `stack trace on stderr of btkit ${args.join(' ')}`).not.toMatch(STACK_LINE);
  expect(r.stdout, `stack trace on stdout of btkit ${args.join(' ')}`).not.toMatch(STACK_LINE);
  return r;
}

/** The lines of `text` without the trailing empty one. */
export const lines = (text: string): string[] => text.split('\n').filter((l, i, all) => l !== '' || i < all.length - 1);

/** Newest modification time (ms) of the files under `dir` (recursively) whose names pass `keep`. */
function newestMtime(dir: string, keep: (name: string) => boolean): number {
  let newest = 0;
  if (!existsSync(dir)) return newest;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(path, keep));
    else if (keep(entry.name)) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

const MANIFEST = join(ROOT, 'oclif.manifest.json');

/** dist/ is stale when it or the manifest (written last by the build) is older than any source. */
export function distIsStale(): boolean {
  if (!existsSync(MANIFEST) || !existsSync(join(ROOT, 'dist', 'commands'))) return true;
  const built = statSync(MANIFEST).mtimeMs;
  const sources = Math.max(
    newestMtime(join(ROOT, 'src'), (n) => n.endsWith('.ts')),
    statSync(join(ROOT, 'package.json')).mtimeMs,
    statSync(join(ROOT, 'tsconfig.json')).mtimeMs,
  );
  return sources > built;
}

const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/**
 * Build (`npm run build`) when dist/ is stale, then snapshot the built CLI for this test run
 * (see `cliBin`); once per run, later calls are no-ops. Safe to call from several test files at
 * once: a lock directory makes one of them build and the others wait.
 *
 * Other work in the tree may not type-check at the moment the tests run; tsc still emits every
 * file, so on a failed build the manifest is written anyway (oclif finds commands through it) and
 * the tests run against what was emitted, with the compiler's complaint printed as a warning.
 */
export function ensureBuilt(): void {
  const ready = () => existsSync(join(SNAPSHOT, 'bin', 'run.js'));
  if (ready()) return;
  const lockDir = join(CACHE, 'btkit-test-build.lock');
  mkdirSync(CACHE, { recursive: true });
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      mkdirSync(lockDir);
      break;
    } catch {
      // Someone else is building; a lock older than three minutes is left over from a killed run.
      const age = Date.now() - (statSync(lockDir, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > 180_000) {
        try {
          rmdirSync(lockDir);
        } catch {
          // another waiter removed it first
        }
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for another build (lock ${lockDir})`);
      sleep(200);
    }
  }
  try {
    if (ready()) return;
    if (distIsStale()) build();
    snapshot();
  } finally {
    rmdirSync(lockDir);
  }
}

/** Copy the built CLI aside for this run, check that it starts, and drop stale copies of old runs. */
function snapshot(): void {
  const parent = join(CACHE, 'btkit-cli');
  // Other test runs may be going on in the same tree right now: only copies over an hour old go.
  for (const old of existsSync(parent) ? readdirSync(parent) : []) {
    const st = statSync(join(parent, old), { throwIfNoEntry: false });
    if (old !== RUN_ID && st && Date.now() - st.mtimeMs > 3_600_000) rmSync(join(parent, old), { recursive: true, force: true });
  }
  for (let attempt = 1; ; attempt++) {
    const tmp = `${SNAPSHOT}.partial`;
    rmSync(tmp, { recursive: true, force: true });
    for (const entry of ['bin', 'dist', 'oclif.manifest.json', 'package.json']) {
      if (existsSync(join(ROOT, entry))) cpSync(join(ROOT, entry), join(tmp, entry), { recursive: true });
    }
    try {
      // A copy taken while another build rewrote dist/ would not start: check, and retry once.
      execFileSync(process.execPath, [join(tmp, 'bin', 'run.js'), '--version'], { cwd: ROOT, stdio: 'pipe', timeout: 30_000 });
      renameSync(tmp, SNAPSHOT);
      return;
    } catch (e) {
      if (attempt >= 2) throw new Error(`the built CLI does not start: ${String((e as { stderr?: Buffer }).stderr ?? e)}`);
      sleep(2000);
    }
  }
}

function build(): void {
  try {
    execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'pipe', timeout: 120_000 });
  } catch (e) {
    const output = `${(e as { stdout?: Buffer }).stdout ?? ''}${(e as { stderr?: Buffer }).stderr ?? ''}`.trim();
    if (!existsSync(join(ROOT, 'dist', 'commands'))) throw new Error(`npm run build failed:\n${output}`);
    console.warn(`npm run build failed; testing what tsc emitted:\n${output.split('\n').slice(0, 10).join('\n')}`);
    execFileSync(process.execPath, [join(ROOT, 'scripts', 'manifest.js')], { cwd: ROOT, stdio: 'pipe', timeout: 60_000 });
  }
}
