import { Flags } from '../cli/oclif.js';
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

interface DemoStep {
  step: string;
  ms: number;
  detail: Record<string, unknown>;
}

export interface DemoResult {
  directory: string;
  kept: boolean;
  steps: DemoStep[];
  ok: boolean;
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

export default class Demo extends BaseCommand<DemoResult> {
  static override summary = 'Run the main job end to end on a sample payload, offline.';
  static override description = `Creates a sample directory (a few files, one empty, one piece spanning file boundaries), then runs what a user would: create the torrent, inspect it, make its magnet link, verify the data; then flips one byte and shows verify catching it. Nothing leaves the machine. The directory is removed afterwards unless --keep.

Later releases grow the demo into a whole swarm on loopback (tracker, seed and downloaders).`;
  static override examples = [
    { command: '<%= config.bin %> <%= command.id %>', description: 'The whole tour, printed step by step.' },
    { command: '<%= config.bin %> <%= command.id %> --keep --dir /tmp/btkit-demo', description: 'Keep the payload and the torrent to play with.' },
    { command: '<%= config.bin %> <%= command.id %> --json', description: 'Timings and results of each step as JSON.' },
  ];
  static override flags = {
    dir: Flags.string({ description: 'Work in this directory (created; default: a new temporary directory).' }),
    keep: Flags.boolean({ description: 'Keep the sample payload and torrent afterwards.' }),
    size: Flags.integer({ min: 1, max: 4096, default: 8, description: 'Size of the sample payload in MiB.' }),
  };

  async run(): Promise<DemoResult> {
    const { flags } = await this.parse(Demo);
    const base = flags.dir ?? (await mkdtemp(join(tmpdir(), 'btkit-demo-')));
    await mkdir(base, { recursive: true });
    const steps: DemoStep[] = [];
    const human = !this.jsonEnabled();
    const say = (line = '') => {
      if (human) this.out(line);
    };
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
        for (const [rel, size] of layout) {
          const file = join(payload, ...rel.split('/'));
          await mkdir(join(file, '..'), { recursive: true });
          await writeFile(file, sampleBytes(rel, size));
        }
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
      return { directory: base, kept: flags.keep, steps, ok };
    } finally {
      if (!flags.keep) await rm(base, { recursive: true, force: true });
    }
  }
}
