/**
 * `btkit create` as a user runs it: atomic output that never overwrites by accident, byte-
 * reproducible with --no-date --no-created-by (to a file or to stdout), the --json envelope,
 * lints as warnings, BEP 12 tiers, and one-line errors with the documented exit codes.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseTorrent } from '../../src/core/metainfo/parse.js';
import { ensureBuilt, lines, runClean as run } from '../helpers/cli.js';
import { tempDirs, writeTree } from '../helpers/tmp.js';

const tmp = tempDirs();
let work: string;
let content: string;

beforeAll(async () => {
  ensureBuilt();
  work = await tmp.make('cmd-create');
  content = join(work, 'content');
  await writeTree(content, { 'a.txt': 'alpha', 'sub/b.bin': 40_000, 'sub/c.bin': 3, 'z.log': 'log' });
});

const REPRO = ['--no-date', '--no-created-by'];

describe('btkit create: output', () => {
  it('writes <name>.torrent in the current directory by default and prints infohash and magnet', async () => {
    const cwd = await tmp.make('cwd');
    const r = await run(['create', content, '-t', 'http://127.0.0.1:6969/announce'], { cwd });
    expect(r.code).toBe(0);
    const bytes = await readFile(join(cwd, 'content.torrent'));
    const meta = parseTorrent(bytes, { mode: 'strict' });
    const hash = meta.infoHash.v1!.toString('hex');
    const out = lines(r.stdout);
    expect(out).toHaveLength(2);
    expect(out[0]).toMatch(new RegExp(`^${hash}  content\\.torrent  `));
    expect(out[1]).toBe(`magnet:?xt=urn:btih:${hash}&dn=content&tr=http://127.0.0.1:6969/announce`);
    // Without the reproducibility flags: a date and btkit's name are recorded.
    expect(meta.createdBy).toMatch(/^btkit\//);
    expect(meta.creationDate).toBeGreaterThan(1_600_000_000);
    expect(meta.files.map((f) => f.path.join('/'))).toEqual(['a.txt', 'sub/b.bin', 'sub/c.bin', 'z.log']);
  });

  it('--json prints the envelope {ok, command, result, warnings}', async () => {
    const out = join(work, 'json.torrent');
    const r = await run(['create', content, '-o', out, '--json', '-t', 'http://a/announce', '-w', 'http://ws/', '--comment', 'c', '--source', 'S', ...REPRO]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const env = r.json();
    expect(Object.keys(env).sort()).toEqual(['command', 'ok', 'result', 'warnings']);
    expect(env).toMatchObject({ ok: true, command: 'create', warnings: [] });
    const meta = parseTorrent(await readFile(out));
    expect(env.result).toMatchObject({
      output: out,
      name: 'content',
      infoHash: meta.infoHash.v1!.toString('hex'),
      totalLength: 40_011,
      pieceLength: 16384,
      pieceCount: 3,
      fileCount: 4,
      private: false,
      trackers: [['http://a/announce']],
      webSeeds: ['http://ws/'],
      skipped: [],
    });
    expect(env.result.infoHash).toMatch(/^[0-9a-f]{40}$/);
    expect(env.result.magnet).toBe(`magnet:?xt=urn:btih:${env.result.infoHash}&dn=content&tr=http://a/announce`);
    expect(typeof env.result.hashSeconds).toBe('number');
    expect(meta).toMatchObject({ comment: 'c', source: 'S', webSeeds: ['http://ws/'] });
  });

  it('--no-date --no-created-by: the same bytes on every run', async () => {
    const a = join(work, 'r1.torrent');
    const b = join(work, 'r2.torrent');
    expect((await run(['create', content, '-o', a, '-t', 'http://a/announce', ...REPRO])).code).toBe(0);
    expect((await run(['create', content, '-o', b, '-t', 'http://a/announce', ...REPRO])).code).toBe(0);
    const bytesA = await readFile(a);
    expect(bytesA).toEqual(await readFile(b));
    const meta = parseTorrent(bytesA);
    expect(meta.creationDate).toBeUndefined();
    expect(meta.createdBy).toBeUndefined();
  });

  it('-o - writes the same bytes to stdout as -o FILE, and the summary to stderr', async () => {
    const file = join(work, 'stdout-ref.torrent');
    expect((await run(['create', content, '-o', file, '-p', '32KiB', ...REPRO])).code).toBe(0);
    const r = await run(['create', content, '-o', '-', '-p', '32KiB', ...REPRO]);
    expect(r.code).toBe(0);
    expect(r.stdoutBytes).toEqual(await readFile(file));
    expect(r.stderr).toMatch(/[0-9a-f]{40}  \(stdout\)/);
  });

  it('-o - with --json is a usage error (both want stdout)', async () => {
    const r = await run(['create', content, '-o', '-', '--json']);
    expect(r.code).toBe(2);
    expect(r.json()).toMatchObject({ ok: false, error: { code: 'USAGE', category: 'usage', exitCode: 2 } });
  });

  it('refuses to overwrite without --force (exit 7, one line), replaces with --force', async () => {
    const out = join(work, 'exists.torrent');
    await writeFile(out, 'precious');
    const r = await run(['create', content, '-o', out]);
    expect(r.code).toBe(7);
    expect(lines(r.stderr).filter((l) => l.includes('error'))).toEqual([`btkit create: error: \`${out}\` already exists (use --force to overwrite) [OUTPUT_EXISTS]`]);
    expect(await readFile(out, 'utf8')).toBe('precious');
    const forced = await run(['create', content, '-o', out, '--force']);
    expect(forced.code).toBe(0);
    expect(parseTorrent(await readFile(out)).name).toBe('content');
  });

  it('leaves no file, partial or temporary, when the output cannot be written', async () => {
    const dir = await tmp.make('atomic');
    const missingDir = await run(['create', content, '-o', join(dir, 'no', 'such', 'x.torrent')]);
    expect(missingDir.code).toBe(7);
    expect(await readdir(dir)).toEqual([]);
    // A non-empty directory in the way: the final rename fails after the data was written.
    await mkdir(join(dir, 'x.torrent'));
    await writeFile(join(dir, 'x.torrent', 'keep'), 'k');
    const blocked = await run(['create', content, '-o', join(dir, 'x.torrent'), '--force']);
    expect(blocked.code).toBe(7);
    expect(await readdir(dir)).toEqual(['x.torrent']);
    expect((await stat(join(dir, 'x.torrent'))).isDirectory()).toBe(true);
  });
});

describe('btkit create: contents', () => {
  it('-t a,b -t c gives announce-list [[a,b],[c]] with announce a', async () => {
    const out = join(work, 'tiers.torrent');
    const r = await run(['create', content, '-o', out, '-t', 'http://a/announce,udp://b:80/announce', '-t', 'http://c/announce', '--json']);
    expect(r.code).toBe(0);
    expect(r.json().result.trackers).toEqual([['http://a/announce', 'udp://b:80/announce'], ['http://c/announce']]);
    const meta = parseTorrent(await readFile(out));
    expect(meta.trackers).toEqual([['http://a/announce', 'udp://b:80/announce'], ['http://c/announce']]);
    const raw = meta.raw;
    expect(Buffer.from(raw.get('announce') as Uint8Array).toString()).toBe('http://a/announce');
  });

  it('--private without trackers: a warning on stderr, or in "warnings" under --json', async () => {
    const human = await run(['create', content, '-o', join(work, 'p1.torrent'), '--private']);
    expect(human.code).toBe(0);
    expect(human.stderr).toContain('warning: private torrent without trackers');
    const json = await run(['create', content, '-o', join(work, 'p2.torrent'), '--private', '--json']);
    expect(json.json().warnings).toEqual(['private torrent without trackers: clients find peers only through trackers when private (BEP 27)']);
    expect(json.json().result.private).toBe(true);
    const quiet = await run(['create', content, '-o', join(work, 'p3.torrent'), '--private', '--quiet']);
    expect(quiet.stderr).toBe('');
  });

  it('--exclude, --name and --piece-length reach the torrent; skipped files are reported', async () => {
    const r = await run(['create', content, '-o', join(work, 'ex.torrent'), '--exclude', '*.log', '-n', 'renamed', '-p', '64k', '--json']);
    expect(r.code).toBe(0);
    const res = r.json().result;
    expect(res).toMatchObject({ name: 'renamed', pieceLength: 65536, fileCount: 3, skipped: [{ path: 'z.log', reason: 'excluded' }] });
    const human = await run(['create', content, '-o', join(work, 'ex2.torrent'), '--exclude', '*.log']);
    expect(human.stderr).toContain('skipped: 1 excluded');
  });

  it('more than 8 MiB is hashed on worker threads (--threads 2) to the same pieces as a naive SHA-1 loop', async () => {
    const dir = await tmp.make('big');
    await writeTree(dir, { 'big.bin': 9 * 1024 * 1024 + 1234 });
    const data = await readFile(join(dir, 'big.bin'));
    const r = await run(['create', join(dir, 'big.bin'), '-o', join(dir, 'big.torrent'), '-p', '256KiB', '--threads', '2', '--quiet']);
    expect(r.code).toBe(0);
    const meta = parseTorrent(await readFile(join(dir, 'big.torrent')));
    const expected: Buffer[] = [];
    for (let s = 0; s < data.length; s += 262_144) expected.push(createHash('sha1').update(data.subarray(s, s + 262_144)).digest());
    expect(meta.pieces).toEqual(Buffer.concat(expected));
  });

  it('a single file makes a single-file torrent', async () => {
    const r = await run(['create', join(content, 'sub', 'b.bin'), '-o', join(work, 'single.torrent'), '--json']);
    expect(r.code).toBe(0);
    const meta = parseTorrent(await readFile(join(work, 'single.torrent')));
    expect(meta).toMatchObject({ name: 'b.bin', multiFile: false, totalLength: 40_000 });
  });
});

describe('btkit create: errors', () => {
  it('an empty directory: exit 3, one line', async () => {
    const empty = await tmp.make('empty');
    const r = await run(['create', empty, '-o', join(work, 'never.torrent')]);
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('');
    expect(lines(r.stderr)).toEqual([`btkit create: error: no files to add under \`${empty}\` [CREATE_NO_FILES]`]);
  });

  it('only empty files: exit 3, one line, and --json gives the error envelope', async () => {
    const dir = await tmp.make('zeros');
    await writeTree(dir, { a: '', 'b/c': '' });
    const r = await run(['create', dir, '-o', join(work, 'never.torrent')]);
    expect(r.code).toBe(3);
    expect(lines(r.stderr)).toEqual([`btkit create: error: \`${dir}\` holds only empty files: a torrent needs at least one byte of data [CREATE_EMPTY]`]);
    const json = await run(['create', dir, '-o', join(work, 'never.torrent'), '--json']);
    expect(json.code).toBe(3);
    expect(json.stderr).toBe('');
    expect(json.json()).toMatchObject({ ok: false, command: 'create', error: { code: 'CREATE_EMPTY', category: 'input', exitCode: 3 } });
    await expect(stat(join(work, 'never.torrent'))).rejects.toThrow();
  });

  it('a path that does not exist: exit 7 (file system), one line naming it', async () => {
    const missing = join(work, 'does-not-exist');
    const r = await run(['create', missing]);
    expect(r.code).toBe(7);
    expect(lines(r.stderr)).toEqual([`btkit create: error: ${missing}: no such file or directory [IO_ENOENT]`]);
    const json = await run(['create', missing, '--json']);
    expect(json.json()).toMatchObject({ ok: false, error: { code: 'IO_ENOENT', category: 'io', exitCode: 7 } });
  });

  it('an output directory that does not exist: exit 7 naming it, before any hashing (issue 13 item 9)', async () => {
    const out = join(work, 'no-such-dir', 'x.torrent');
    const r = await run(['create', content, '-o', out]);
    expect(r.code).toBe(7);
    // Only the error: no plan line ("4 files, … piece length …"), so the walk and hashing never began.
    expect(lines(r.stderr)).toEqual([`btkit create: error: cannot write \`${out}\`: directory \`${join(work, 'no-such-dir')}\`: no such file or directory [IO_ENOENT]`]);
    const inFile = await run(['create', content, '-o', join(work, 'content', 'a.txt', 'x.torrent'), '--json']);
    expect(inFile.json()).toMatchObject({ ok: false, error: { code: 'IO_ENOTDIR', category: 'io', exitCode: 7 } });
  });

  it('every bad flag value is a usage error, exit 2, one line (issue 13 item 10)', async () => {
    for (const [args, says] of [
      [['--piece-length', '0'], '--piece-length: '],
      [['--piece-length', '-5'], '--piece-length'],
      [['--piece-length', '2GiB'], '--piece-length: '],
      [['-t', 'ftp://tracker.example/announce'], '`ftp://tracker.example/announce`'],
      [['-w', 'ftp://seed.example/x'], '`ftp://seed.example/x`'],
    ] as const) {
      const r = await run(['create', content, '-o', join(work, 'never.torrent'), ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(lines(r.stderr), args.join(' ')).toEqual([expect.stringContaining(says)]);
      expect(r.stderr).toMatch(/\[USAGE\] \(see 'btkit create --help'\)$/m);
    }
  });

  it('an unknown flag: exit 2, one line with the pointer to --help', async () => {
    const r = await run(['create', content, '--bogus']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(lines(r.stderr)).toEqual(["btkit create: error: Nonexistent flag: --bogus [USAGE] (see 'btkit create --help')"]);
    const json = await run(['create', content, '--bogus', '--json']);
    expect(json.code).toBe(2);
    expect(json.json()).toEqual({ ok: false, command: 'create', error: { code: 'USAGE', category: 'usage', message: 'Nonexistent flag: --bogus', exitCode: 2 } });
  });

  it('bad flag values are usage errors naming the value', async () => {
    const size = await run(['create', content, '-p', 'lots']);
    expect(size.code).toBe(2);
    // oclif wraps a flag parser's error over three lines; btkit prints one.
    expect(lines(size.stderr)).toEqual(["btkit create: error: --piece-length: `lots` is not a byte size (examples: 16KiB, 4MiB, 1GB, 65536) [USAGE] (see 'btkit create --help')"]);
    const threads = await run(['create', content, '--threads', '0', '--json']);
    expect(threads.json().error).toMatchObject({ code: 'USAGE', message: '--threads: Expected an integer greater than or equal to 1 but received: 0' });
    const url = await run(['create', content, '-t', 'not-a-url', '--json']);
    expect(url.code).toBe(2);
    expect(url.json().error).toMatchObject({ category: 'usage', exitCode: 2 });
    expect(url.json().error.message).toContain('`not-a-url`');
    const missingArg = await run(['create']);
    expect(missingArg.code).toBe(2);
    expect(lines(missingArg.stderr)).toEqual(["btkit create: error: missing required argument: PATH [USAGE] (see 'btkit create --help')"]);
  });

  it('an unknown command: exit 2, one line suggesting the nearest, or the JSON envelope', async () => {
    const typo = await run(['craete', content]);
    expect(typo.code).toBe(2);
    expect(typo.stdout).toBe('');
    expect(lines(typo.stderr)).toEqual(["btkit: error: unknown command `craete`; did you mean `create`? [UNKNOWN_COMMAND] (see 'btkit --help')"]);
    const prefix = await run(['dht', 'x']);
    expect(lines(prefix.stderr)).toEqual(["btkit: error: unknown command `dht`; did you mean `dht-lookup`? [UNKNOWN_COMMAND] (see 'btkit --help')"]);
    const json = await run(['frobnicate', '--json']);
    expect(json.code).toBe(2);
    expect(json.json()).toMatchObject({ ok: false, command: 'frobnicate', error: { code: 'UNKNOWN_COMMAND', category: 'usage', exitCode: 2, message: 'unknown command `frobnicate`' } });
    expect(json.json().error.detail.commands).toContain('create');
    // A flag where the command should be is said as such; under --json, the envelope.
    const flagFirst = await run(['-q']);
    expect(flagFirst.code).toBe(2);
    expect(lines(flagFirst.stderr)).toEqual(["btkit: error: `-q` comes before any command: give the command first, e.g. `btkit create --help` [UNKNOWN_COMMAND] (see 'btkit --help')"]);
    const jsonOnly = await run(['--json']);
    expect(jsonOnly.code).toBe(2);
    expect(jsonOnly.json()).toMatchObject({ ok: false, error: { code: 'UNKNOWN_COMMAND', exitCode: 2 } });
  });

  it('`btkit help COMMAND` shows the same help as `btkit COMMAND --help`; help for no such command is a usage error', async () => {
    const viaHelp = await run(['help', 'create']);
    const viaFlag = await run(['create', '--help']);
    expect(viaHelp.code).toBe(0);
    expect(viaHelp.stdout).toContain('Create a .torrent from a file or a directory.');
    expect(viaHelp.stdout).toBe(viaFlag.stdout);
    const missing = await run(['help', 'frobnicate']);
    expect(missing.code).toBe(2);
    expect(lines(missing.stderr)).toEqual(["btkit: error: no help for `frobnicate`: there is no such command [UNKNOWN_COMMAND] (see 'btkit --help')"]);
  });
});
