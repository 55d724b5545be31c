import { Flags } from '../cli/oclif.js';
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BaseCommand } from '../cli/base-command.js';
import { formatBytes, formatDuration, formatRanges } from '../cli/render/format.js';
import { magnetOf, summarize } from '../cli/render/torrent.js';
import { BtError } from '../core/errors.js';
import { writeFileAtomic } from '../core/fs/atomic.js';
import { createTorrent } from '../core/metainfo/create.js';
import { formatMagnet, parseMagnet } from '../core/metainfo/magnet.js';
import { parseTorrent } from '../core/metainfo/parse.js';
import { verifyData } from '../core/metainfo/verify.js';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** `p`, or 'timeout' after `ms` (the timer is cleared either way, so it never holds the process open). */
async function within<T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([p, new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

interface DemoStep {
  step: string;
  ms: number;
  detail: Record<string, unknown>;
}

export interface DemoResult {
  mode: 'swarm' | 'offline';
  directory: string;
  kept: boolean;
  steps: DemoStep[];
  ok: boolean;
  /** The swarm run (absent with --offline). */
  swarm?: SwarmSummary;
}

export interface SwarmSummary {
  payloadBytes: number;
  leechers: number;
  /** From the first download started to the last one complete. */
  elapsedMs: number;
  /** Bytes delivered to all leechers / elapsed, per second. */
  throughput: number;
  /** Payload bytes uploaded by the seed, and by the leechers to each other. */
  servedBySeed: number;
  servedByLeechers: number;
  copies: { name: string; ok: boolean; elapsedMs: number; uploaded: number; downloaded: number }[];
}

/** One child `btkit` process of the swarm demo, its NDJSON read as it arrives. */
interface Child {
  name: string;
  proc: ChildProcess;
  events: Record<string, any>[];
  stdout: string;
  stderr: string;
  exited: Promise<number | null>;
}

/** Deterministic pseudo-random bytes (a SHA-256 counter stream), so every run makes the same payload. */
function sampleBytes(seed: string, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let counter = 0;
  for (let off = 0; off < length; off += 32) {
    createHash('sha256').update(`${seed}:${counter++}`).digest().copy(out, off, 0, Math.min(32, length - off));
  }
  return out;
}

/** Writes each `[path below dir, size]` of `layout` with its sample bytes, creating the directories. */
async function writeSamplePayload(dir: string, layout: readonly [string, number][]): Promise<void> {
  for (const [rel, size] of layout) {
    const file = join(dir, ...rel.split('/'));
    await mkdir(join(file, '..'), { recursive: true });
    await writeFile(file, sampleBytes(rel, size));
  }
}

export default class Demo extends BaseCommand<DemoResult> {
  static override summary = 'Run the main job end to end on a sample payload, offline.';
  static override description = `The main job, end to end, on loopback only (127.0.0.1, free ports; nothing leaves the machine): it writes a sample payload (--size MiB, a few files, one empty), then runs the real CLI as child processes, as a CI pipeline would: \`btkit tracker\`, \`btkit create\` (pointing at that tracker), one \`btkit seed --until peers-complete=N\` and N (--leechers) \`btkit download\` processes started together, which find each other through the tracker and trade pieces among themselves. It shows their progress, verifies every copy against the torrent, and prints a summary: time, throughput, and the bytes served by the seed versus by the other downloaders. The seed's upload is capped (--seed-limit, default 16MiB/s) so that the trading shows; 0 lifts the cap.

Every process it starts is stopped (by pid) before it exits, every wait is bounded (about a minute in all), and it exits non-zero if any copy is wrong or any process fails.

--offline runs only the offline tour instead: create, inspect, magnet, verify; then one flipped byte caught by verify (no processes, no sockets).

The directory is removed afterwards unless --keep.`;
  static override examples = [
    { command: '<%= config.bin %> <%= command.id %>', description: 'A tracker, a seed and five downloaders on loopback.' },
    { command: '<%= config.bin %> <%= command.id %> --leechers 8 --size 64 --seed-limit 0', description: 'A bigger swarm, the seed uncapped.' },
    { command: '<%= config.bin %> <%= command.id %> --offline', description: 'The offline tour: create, inspect, magnet, verify.' },
    { command: '<%= config.bin %> <%= command.id %> --keep --dir /tmp/btkit-demo', description: 'Keep the payload and the torrent to play with.' },
    { command: '<%= config.bin %> <%= command.id %> --json', description: 'Timings and results of each step as JSON.' },
  ];
  static override flags = {
    dir: Flags.string({ description: 'Work in this directory (created; default: a new temporary directory).' }),
    keep: Flags.boolean({ description: 'Keep the sample payload and torrent afterwards.' }),
    size: Flags.integer({ min: 1, max: 4096, default: 32, description: 'Size of the sample payload in MiB.' }),
    offline: Flags.boolean({ description: 'Only the offline tour: create, inspect, magnet, verify, and a corrupted byte caught (no processes, no sockets).' }),
    leechers: Flags.integer({ min: 1, max: 20, default: 5, description: 'Downloaders in the swarm.' }),
    'seed-limit': Flags.string({ default: '16MiB', description: "The seed's --upload-limit, so that the downloaders visibly trade with each other (0: unlimited)." }),
  };

  async run(): Promise<DemoResult> {
    const { flags } = await this.parse(Demo);
    if (!flags.offline) return this.swarm(flags);
    const { base, steps, say } = await this.workspace(flags.dir);
    const timed = async <T>(step: string, fn: () => Promise<T>, detail: (v: T) => Record<string, unknown>): Promise<T> => {
      const t0 = performance.now();
      const v = await fn();
      steps.push({ step, ms: Math.round(performance.now() - t0), detail: detail(v) });
      return v;
    };
    try {
      // 1. A sample payload: nested files, an empty one, sizes that make pieces span files.
      const payload = join(base, 'payload');
      const mib = 1024 * 1024;
      const layout: [string, number][] = [
        ['README.txt', 1234],
        ['data/part-1.bin', Math.floor(flags.size * mib * 0.6)],
        ['data/part-2.bin', Math.floor(flags.size * mib * 0.4) - 1234 - 777],
        ['data/empty.log', 0],
        ['docs/notes/ä-unicode.md', 777],
      ];
      await timed('payload', async () => {
        await writeSamplePayload(payload, layout);
        return layout.length;
      }, (n) => ({ files: n, directory: payload }));
      say(this.outStyle.bold(`1. sample payload: ${layout.length} files in ${payload}`));

      // 2. create
      const torrentPath = join(base, 'payload.torrent');
      const created = await timed('create', async () => {
        const r = await createTorrent({ path: payload, pieceLength: 256 * 1024, trackers: [['http://127.0.0.1:6969/announce']], createdBy: `btkit/${this.config.version}`, signal: this.signal });
        await writeFileAtomic(torrentPath, r.torrent, { overwrite: true });
        return r;
      }, (r) => ({ torrent: torrentPath, infoHash: r.metainfo.infoHash.v1!.toString('hex'), pieces: r.metainfo.pieceCount, warnings: r.warnings }));
      say(this.outStyle.bold('2. btkit create payload -p 256KiB -t http://127.0.0.1:6969/announce'));
      say(`   ${created.metainfo.infoHash.v1!.toString('hex')}  ${formatBytes(created.metainfo.totalLength)} in ${created.metainfo.pieceCount} pieces, hashed in ${formatDuration(created.hashMs)}`);
      for (const w of created.warnings) say(`   lint: ${w}`);

      // 3. inspect (read back from disk, as another tool would)
      const { readFile } = await import('node:fs/promises');
      const summary = await timed('inspect', async () => summarize(parseTorrent(await readFile(torrentPath))), (s) => ({ name: s.name, files: s.fileCount, canonical: s.canonical }));
      say(this.outStyle.bold('3. btkit inspect payload.torrent'));
      for (const f of summary.files) say(`   ${String(f.length).padStart(10)}  ${f.path}`);

      // 4. magnet, and parse it back
      const magnet = await timed('magnet', async () => formatMagnet(magnetOf(created.metainfo)), (m) => ({ magnet: m }));
      const back = parseMagnet(magnet);
      say(this.outStyle.bold('4. btkit magnet payload.torrent'));
      say(`   ${magnet}`);
      if (!back.infoHash.v1?.equals(created.metainfo.infoHash.v1!)) throw new BtError('DEMO_MAGNET_MISMATCH', 'internal', 'magnet link did not round-trip');

      // 5. verify: all good
      const good = await timed('verify', () => verifyData(created.metainfo, { contentPath: payload, signal: this.signal }), (r) => ({ ok: r.ok, goodPieces: r.goodPieces }));
      say(this.outStyle.bold('5. btkit verify payload.torrent payload'));
      say(`   ${good.ok ? this.outStyle.green('all good') : this.outStyle.red('FAILED')}: ${good.goodPieces}/${good.pieceCount} pieces`);

      // 6. flip one byte in the middle of part-2 and verify again: exactly one piece must fail.
      const victim = join(payload, 'data', 'part-2.bin');
      const fh = await open(victim, 'r+');
      try {
        const b = Buffer.alloc(1);
        await fh.read(b, 0, 1, 1000);
        b[0] = b[0]! ^ 0xff;
        await fh.write(b, 0, 1, 1000);
      } finally {
        await fh.close();
      }
      const bad = await timed('verify-corrupted', () => verifyData(created.metainfo, { contentPath: payload, signal: this.signal }), (r) => ({ ok: r.ok, badPieces: r.badPieces }));
      say(this.outStyle.bold('6. flip one byte of data/part-2.bin, verify again'));
      say(`   ${bad.ok ? this.outStyle.red('missed it!') : this.outStyle.green('caught it')}: bad piece ${formatRanges(bad.badPieces)} in ${bad.files.filter((f) => f.status === 'bad-pieces').map((f) => f.path).join(', ')}`);
      const ok = good.ok && !bad.ok && bad.badPieces.length === 1;
      say();
      say(ok ? 'demo: every step worked.' : 'demo: something went wrong (see above).');
      if (!ok) throw new BtError('DEMO_FAILED', 'internal', 'the demo did not produce the expected results');
      return { mode: 'offline', directory: base, kept: Boolean(flags.keep), steps, ok };
    } finally {
      if (!flags.keep) await rm(base, { recursive: true, force: true });
    }
  }
  /** What both demos start from: their directory (`dir`, or a new temporary one), an empty step log, and `say` for the human output. */
  private async workspace(dir: string | undefined): Promise<{ base: string; steps: DemoStep[]; human: boolean; say: (line?: string) => void }> {
    const base = dir ?? (await mkdtemp(join(tmpdir(), 'btkit-demo-')));
    await mkdir(base, { recursive: true });
    const human = !this.jsonEnabled();
    const say = (line = '') => {
      if (human) this.out(line);
    };
    return { base, steps: [], human, say };
  }

  /** The swarm demo: tracker, create, seed, leechers, all real `btkit` child processes on 127.0.0.1. */
  private async swarm(flags: { dir?: string; keep: boolean; size: number; leechers: number; 'seed-limit': string }): Promise<DemoResult> {
    const { base, steps, human, say } = await this.workspace(flags.dir);
    const bin = join(this.config.root, 'bin', 'run.js');
    const children: Child[] = [];
    const deadline = performance.now() + 120_000;
    const start = (name: string, args: string[]): Child => {
      const proc = spawn(process.execPath, [bin, ...args, '--json'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
      const c: Child = { name, proc, events: [], stdout: '', stderr: '', exited: new Promise((resolve) => proc.once('exit', (code) => resolve(code))) };
      let partial = '';
      proc.stdout!.on('data', (b: Buffer) => {
        c.stdout += b.toString();
        const parts = (partial + b.toString()).split('\n');
        partial = parts.pop()!;
        for (const l of parts) {
          try {
            if (l.trim()) c.events.push(JSON.parse(l));
          } catch {
            // not JSON: ignore
          }
        }
      });
      proc.stderr!.on('data', (b: Buffer) => (c.stderr = (c.stderr + b.toString()).slice(-4000)));
      children.push(c);
      return c;
    };
    /** Resolves with the first event matching, rejects when the child exits first or the demo's time is up. */
    const waitFor = async (c: Child, pred: (e: Record<string, any>) => boolean, what: string) => {
      for (;;) {
        const hit = c.events.find(pred);
        if (hit) return hit;
        if (c.proc.exitCode !== null) throw new BtError('DEMO_CHILD_FAILED', 'internal', `btkit ${c.name} exited (${c.proc.exitCode}) before ${what}: ${c.stderr.trim().split('\n').at(-1) ?? ''}`);
        if (performance.now() > deadline || this.signal.aborted) throw new BtError('DEMO_TIMEOUT', this.signal.aborted ? 'interrupted' : 'internal', `no ${what} from btkit ${c.name} in time`);
        await sleep(50);
      }
    };
    const stopChild = async (c: Child) => {
      if (c.proc.exitCode !== null || c.proc.signalCode !== null) return;
      const kill = setTimeout(() => c.proc.kill('SIGKILL'), 3000);
      c.proc.kill('SIGTERM');
      await c.exited;
      clearTimeout(kill);
    };
    try {
      // 1. payload
      const payload = join(base, 'payload');
      const mib = 1024 * 1024;
      const layout: [string, number][] = [
        ['README.txt', 1234],
        ['bin/app', Math.floor(flags.size * mib * 0.7)],
        ['lib/data.bin', Math.floor(flags.size * mib * 0.3) - 1234],
        ['logs/empty.log', 0],
      ];
      let t0 = performance.now();
      await writeSamplePayload(payload, layout);
      const payloadBytes = layout.reduce((n, [, size]) => n + size, 0);
      steps.push({ step: 'payload', ms: Math.round(performance.now() - t0), detail: { files: layout.length, bytes: payloadBytes, directory: payload } });
      say(this.outStyle.bold(`1. sample payload: ${layout.length} files, ${formatBytes(payloadBytes)} in ${payload}`));

      // 2. tracker
      t0 = performance.now();
      const tracker = start('tracker', ['tracker', '--http-port', '0', '--no-udp', '--interval', '3s', '--min-interval', '1s']);
      const url = (await waitFor(tracker, (e) => e.type === 'listening', 'its listening address')).http as string;
      steps.push({ step: 'tracker', ms: Math.round(performance.now() - t0), detail: { url, pid: tracker.proc.pid } });
      say(this.outStyle.bold('2. btkit tracker --http-port 0 --interval 3s'));
      say(`   ${url}`);

      // 3. create
      t0 = performance.now();
      const torrent = join(base, 'payload.torrent');
      const create = start('create', ['create', payload, '-t', url, '-o', torrent, '--piece-length', '256KiB']);
      // create prints one (indented) JSON document, not NDJSON.
      const createCode = await within(create.exited, 60_000);
      let created: { ok: boolean; result: { infoHash: string; pieceCount: number; magnet: string } } | undefined;
      try {
        created = JSON.parse(create.stdout);
      } catch {
        // reported below
      }
      if (createCode !== 0 || !created?.ok) throw new BtError('DEMO_CHILD_FAILED', 'internal', `btkit create failed (${createCode}): ${create.stderr.trim().split('\n').at(-1) ?? ''}`);
      if (!created) throw new BtError('DEMO_CHILD_FAILED', 'internal', 'btkit create printed no result');
      steps.push({ step: 'create', ms: Math.round(performance.now() - t0), detail: { torrent, infoHash: created.result.infoHash, pieces: created.result.pieceCount } });
      say(this.outStyle.bold(`3. btkit create payload -t ${url} -o payload.torrent`));
      say(`   ${created.result.infoHash}  ${created.result.pieceCount} pieces`);
      say(`   ${created.result.magnet}`);

      // 4. seed
      t0 = performance.now();
      const n = flags.leechers;
      const limit = flags['seed-limit'] === '0' ? [] : ['--upload-limit', flags['seed-limit']];
      const seed = start('seed', ['seed', torrent, payload, '--port', '0', '--host', '127.0.0.1', '--until', `peers-complete=${n}`, '--until', 'time=90s', ...limit]);
      const seedPort = (await waitFor(seed, (e) => e.type === 'started', 'its started event')).listen.port as number;
      steps.push({ step: 'seed', ms: Math.round(performance.now() - t0), detail: { port: seedPort, pid: seed.proc.pid } });
      say(this.outStyle.bold(`4. btkit seed payload.torrent payload --until peers-complete=${n}${limit.length ? ` ${limit.join(' ')}` : ''}`));
      say(`   listening on 127.0.0.1:${seedPort}`);

      // 5. leechers, all at once
      say(this.outStyle.bold(`5. ${n} x btkit download payload.torrent -o copy-N`));
      const started = performance.now();
      const leechers = Array.from({ length: n }, (_, i) => start(`download #${i + 1}`, ['download', torrent, '-o', join(base, `copy-${i + 1}`), '--port', '0', '--bind', '127.0.0.1', '--timeout', '30s']));
      const tty = human && process.stdout.isTTY === true && process.env.TERM !== 'dumb';
      const pct = (c: Child) => {
        const last = [...c.events].reverse().find((e) => e.type === 'progress' || e.type === 'piece-verified' || e.type === 'done');
        return last && last.totalBytes ? Math.floor((100 * last.doneBytes) / last.totalBytes) : 0;
      };
      let lastPrint = 0;
      let drawn = false;
      while (leechers.some((c) => c.proc.exitCode === null && c.proc.signalCode === null)) {
        if (performance.now() > deadline || this.signal.aborted) throw new BtError('DEMO_TIMEOUT', this.signal.aborted ? 'interrupted' : 'internal', 'the downloads did not finish in time');
        await sleep(100);
        if (human && performance.now() - lastPrint >= (tty ? 200 : 1000)) {
          lastPrint = performance.now();
          const line = `   ${formatDuration(performance.now() - started).padStart(8)}  ${leechers.map((c) => `#${c.name.slice(10)} ${String(pct(c)).padStart(3)}%`).join('  ')}`;
          if (tty) process.stdout.write(`\r\x1b[2K${line}`);
          else this.out(line);
          drawn = true;
        }
      }
      const elapsedMs = Math.round(performance.now() - started);
      if (tty && drawn) process.stdout.write('\n');
      const codes = await Promise.all(leechers.map((c) => c.exited));

      // 6. the seed stops by itself once every leecher has every piece
      const seedCode = await within(seed.exited, 10_000);
      const seedResult = seed.events.find((e) => e.command === 'seed');

      // 7. verify every copy against the torrent
      t0 = performance.now();
      const { parseTorrent } = await import('../core/metainfo/parse.js');
      const { readFile } = await import('node:fs/promises');
      const meta = parseTorrent(await readFile(torrent));
      const copies: SwarmSummary['copies'] = [];
      for (let i = 0; i < n; i++) {
        const result = leechers[i]!.events.find((e) => e.command === 'download')?.result as { elapsedMs: number; uploaded: number; downloaded: number } | undefined;
        let ok = codes[i] === 0 && result !== undefined;
        if (ok) ok = (await verifyData(meta, { contentPath: join(base, `copy-${i + 1}`, 'payload'), signal: this.signal })).ok;
        copies.push({ name: `copy-${i + 1}`, ok, elapsedMs: result?.elapsedMs ?? 0, uploaded: result?.uploaded ?? 0, downloaded: result?.downloaded ?? 0 });
      }
      steps.push({ step: 'verify', ms: Math.round(performance.now() - t0), detail: { copies: copies.filter((c) => c.ok).length } });
      const servedBySeed = (seedResult?.result?.uploaded as number | undefined) ?? 0;
      const servedByLeechers = copies.reduce((a, c) => a + c.uploaded, 0);
      const summary: SwarmSummary = {
        payloadBytes,
        leechers: n,
        elapsedMs,
        throughput: elapsedMs > 0 ? Math.round((payloadBytes * n * 1000) / elapsedMs) : 0,
        servedBySeed,
        servedByLeechers,
        copies,
      };
      say(this.outStyle.bold('6. verify every copy'));
      for (const [i, c] of copies.entries()) {
        const why = codes[i] !== 0 ? `download exited ${codes[i]}: ${leechers[i]!.stderr.trim().split('\n').at(-1) ?? ''}` : 'does not match the torrent';
        say(`   ${c.name}  ${c.ok ? this.outStyle.green('ok') : this.outStyle.red(`BAD (${why})`)}  in ${formatDuration(c.elapsedMs)}, uploaded ${formatBytes(c.uploaded)} to the others`);
      }
      const share = (b: number) => (payloadBytes > 0 ? (b / payloadBytes).toFixed(2) : '0');
      say();
      say(`${n} copies of ${formatBytes(payloadBytes)} in ${formatDuration(elapsedMs)} (${formatBytes(summary.throughput)}/s delivered in all)`);
      say(`served by the seed: ${formatBytes(servedBySeed)} (${share(servedBySeed)} copies); by the downloaders to each other: ${formatBytes(servedByLeechers)} (${share(servedByLeechers)} copies)`);
      const seedOk = seedCode === 0 && seedResult?.ok === true;
      if (!seedOk) say(this.outStyle.red(`the seed did not stop by itself after ${n} complete peers (${seedCode === 'timeout' ? 'still running' : `exit ${seedCode}`})`));
      const ok = copies.every((c) => c.ok) && seedOk;
      say(ok ? 'demo: every copy is correct.' : 'demo: something went wrong (see above).');
      if (!ok) throw new BtError('DEMO_FAILED', 'verification', `${copies.filter((c) => !c.ok).length} of ${n} copies are wrong or incomplete${seedOk ? '' : '; the seed did not finish cleanly'}`, { detail: { ...summary } });
      return { mode: 'swarm', directory: base, kept: Boolean(flags.keep), steps, ok, swarm: summary };
    } finally {
      await Promise.all(children.map(stopChild));
      if (!flags.keep) await rm(base, { recursive: true, force: true });
    }
  }
}
