/**
 * The invalid-torrent table (libtorrent's test_torrent_info.cpp style): every fixture in
 * test/fixtures/invalid has one defect and must raise exactly one error code, from the parser and
 * from the CLI. The CLI must say it in one line on stderr (no stack trace) and exit 3 ("invalid
 * input", src/cli/exit-codes.ts), and under --json print {ok:false,error:{code,…,exitCode:3}}.
 *
 * The fixtures are written by test/fixtures/invalid/make.mjs (its own tiny encoder, so btkit's
 * codec cannot hide a bug in its own fixtures); the first test checks the files are what it makes.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BtError } from '../../../../src/core/errors.js';
import { MAX_TORRENT_BYTES, parseTorrent } from '../../../../src/core/metainfo/index.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
const FIXTURES = join(ROOT, 'test', 'fixtures', 'invalid');

interface Row {
  file: string;
  code: string;
  /** Strict-only defects: refused by `parseTorrent(…, {mode:'strict'})`, accepted (and reported) leniently. */
  strictOnly?: string;
  /** Parsed with `allowV2Only` (as inspect, magnet and verify parse): the BEP 52 rows. */
  v2?: boolean;
  /** Where strict decoding refuses the bytes themselves first, with another code. */
  strictCode?: string;
  /**
   * What `inspect` does with it when it does not refuse it: `reads` (a v2-only torrent, refused
   * only by readers that opt out of v2), `layer` (shown, the bad piece layer reported).
   */
  inspect?: 'reads' | 'layer';
}

/** fixture → the one error it must raise. */
const TABLE: Row[] = [
  { file: 'empty-file', code: 'BENCODE_EMPTY' },
  { file: 'not-bencode', code: 'BENCODE_BAD_TOKEN' },
  { file: 'not-a-dict', code: 'METAINFO_NOT_DICT' },
  { file: 'missing-info', code: 'METAINFO_MISSING_INFO' },
  { file: 'info-not-dict', code: 'METAINFO_MISSING_INFO' },
  { file: 'missing-name', code: 'METAINFO_MISSING_NAME' },
  { file: 'name-not-utf8', code: 'METAINFO_BAD_NAME' },
  { file: 'name-dotdot', code: 'METAINFO_PATH_TRAVERSAL' },
  { file: 'piece-length-zero', code: 'METAINFO_BAD_PIECE_LENGTH' },
  { file: 'piece-length-negative', code: 'METAINFO_BAD_PIECE_LENGTH' },
  { file: 'piece-length-string', code: 'METAINFO_BAD_PIECE_LENGTH' },
  { file: 'pieces-missing', code: 'METAINFO_BAD_PIECES' },
  { file: 'pieces-not-multiple-of-20', code: 'METAINFO_BAD_PIECES' },
  { file: 'piece-count-mismatch', code: 'METAINFO_PIECE_COUNT_MISMATCH' },
  { file: 'length-negative', code: 'METAINFO_BAD_LENGTH' },
  { file: 'file-length-negative', code: 'METAINFO_BAD_LENGTH' },
  { file: 'file-length-string', code: 'METAINFO_BAD_LENGTH' },
  { file: 'length-and-files', code: 'METAINFO_BAD_FILES' },
  { file: 'files-empty', code: 'METAINFO_BAD_FILES' },
  { file: 'files-not-a-list', code: 'METAINFO_BAD_FILES' },
  { file: 'path-dotdot', code: 'METAINFO_PATH_TRAVERSAL' },
  { file: 'path-absolute-slash', code: 'METAINFO_PATH_ABSOLUTE' },
  { file: 'path-drive-letter', code: 'METAINFO_PATH_ABSOLUTE' },
  { file: 'path-empty-component', code: 'METAINFO_PATH_EMPTY' },
  { file: 'path-empty-list', code: 'METAINFO_PATH_EMPTY' },
  { file: 'path-not-utf8', code: 'METAINFO_PATH_NOT_UTF8' },
  { file: 'path-reserved-con', code: 'METAINFO_PATH_RESERVED' },
  { file: 'path-reserved-nul-txt', code: 'METAINFO_PATH_RESERVED' },
  { file: 'duplicate-path', code: 'METAINFO_DUPLICATE_PATH' },
  { file: 'file-directory-clash', code: 'METAINFO_DUPLICATE_PATH' },
  { file: 'directory-file-clash', code: 'METAINFO_DUPLICATE_PATH' },
  { file: 'truncated-middle', code: 'BENCODE_LENGTH_PAST_END' },
  { file: 'truncated-end', code: 'BENCODE_UNEXPECTED_END' },
  { file: 'deep-nesting', code: 'BENCODE_TOO_DEEP' },
  { file: 'huge-length-prefix', code: 'BENCODE_LENGTH_PAST_END' },
  { file: 'trailing-garbage', code: 'BENCODE_TRAILING_BYTES', strictOnly: 'trailing-bytes' },
  { file: 'unsorted-keys', code: 'BENCODE_NONCANONICAL_UNSORTED_KEYS', strictOnly: 'unsorted-keys' },
  { file: 'v2-only', code: 'METAINFO_V2_ONLY_UNSUPPORTED', inspect: 'reads' },
  { file: 'meta-version-3', code: 'METAINFO_BAD_META_VERSION' },
  { file: 'v2-file-tree-not-dict', code: 'METAINFO_BAD_FILE_TREE', v2: true },
  { file: 'v2-file-tree-empty', code: 'METAINFO_BAD_FILE_TREE', v2: true },
  { file: 'v2-file-node-extra-key', code: 'METAINFO_BAD_FILE_TREE', v2: true },
  { file: 'v2-empty-name', code: 'METAINFO_PATH_EMPTY', v2: true },
  { file: 'v2-empty-name-file', code: 'METAINFO_PATH_EMPTY', v2: true },
  { file: 'v2-empty-name-nested', code: 'METAINFO_PATH_EMPTY', v2: true },
  { file: 'v2-dotdot', code: 'METAINFO_PATH_TRAVERSAL', v2: true },
  { file: 'v2-too-deep', code: 'METAINFO_FILE_TREE_TOO_DEEP', v2: true },
  { file: 'v2-duplicate-path', code: 'METAINFO_DUPLICATE_PATH', v2: true, strictCode: 'BENCODE_NONCANONICAL_DUPLICATE_KEY' },
  { file: 'v2-missing-pieces-root', code: 'METAINFO_BAD_PIECES_ROOT', v2: true },
  { file: 'v2-short-pieces-root', code: 'METAINFO_BAD_PIECES_ROOT', v2: true },
  { file: 'v2-piece-length-not-power-of-two', code: 'METAINFO_BAD_PIECE_LENGTH', v2: true },
  { file: 'v2-piece-layer-wrong-length', code: 'METAINFO_BAD_PIECE_LAYERS', v2: true, inspect: 'layer' },
  { file: 'v2-piece-layer-mismatch', code: 'METAINFO_PIECE_LAYER_MISMATCH', v2: true, inspect: 'layer' },
  { file: 'hybrid-files-differ', code: 'METAINFO_HYBRID_MISMATCH' },
  { file: 'hybrid-no-padding', code: 'METAINFO_HYBRID_MISMATCH' },
];
/**
 * Unsafe paths: refused by every parse that leads to writing (download, seed, verify), but shown
 * by `inspect`, which writes nothing, with the defect as a warning (issue 13 item 13).
 */
const UNSAFE_PATH_CODES = new Set(['METAINFO_PATH_TRAVERSAL', 'METAINFO_PATH_ABSOLUTE', 'METAINFO_PATH_EMPTY', 'METAINFO_PATH_RESERVED']);
const UNSAFE_PATHS = TABLE.filter((r) => UNSAFE_PATH_CODES.has(r.code));
const ALWAYS = TABLE.filter((r) => !r.strictOnly);
const INSPECT_REFUSES = ALWAYS.filter((r) => !UNSAFE_PATH_CODES.has(r.code) && !r.inspect);
const INSPECT_LAYER = TABLE.filter((r) => r.inspect === 'layer');
const STRICT_ONLY = TABLE.filter((r) => r.strictOnly);

const bytesOf = (file: string): Buffer => readFileSync(join(FIXTURES, `${file}.torrent`));

function parseError(bytes: Uint8Array, mode: 'strict' | 'lenient', allowV2Only = false): BtError {
  try {
    parseTorrent(bytes, { mode, allowV2Only });
  } catch (e) {
    if (e instanceof BtError) return e;
    throw e;
  }
  throw new Error('expected parseTorrent to refuse the torrent');
}

describe('the fixture table', () => {
  it('covers every fixture file, and make.mjs reproduces each byte for byte', async () => {
    const onDisk = readdirSync(FIXTURES)
      .filter((f) => f.endsWith('.torrent'))
      .map((f) => f.slice(0, -'.torrent'.length))
      .sort();
    expect(onDisk).toEqual(TABLE.map((r) => r.file).sort());
    const { buildFixtures } = (await import(join(FIXTURES, 'make.mjs'))) as { buildFixtures: () => Record<string, Buffer> };
    const built = buildFixtures();
    expect(Object.keys(built).sort()).toEqual(onDisk);
    for (const name of onDisk) expect(Buffer.compare(built[name]!, bytesOf(name)), name).toBe(0);
  });
});

describe('parseTorrent refuses each invalid torrent with its code', () => {
  it.each(ALWAYS)('$file → $code (lenient and strict)', ({ file, code, v2, strictCode }) => {
    for (const mode of ['lenient', 'strict'] as const) {
      const e = parseError(bytesOf(file), mode, v2);
      expect(e.code).toBe(mode === 'strict' && strictCode ? strictCode : code);
      expect(e.category).toBe('input');
      expect(e.message.length).toBeGreaterThan(0);
    }
  });

  it.each(STRICT_ONLY)('$file → $code in strict mode; lenient reads it and reports $strictOnly', ({ file, code, strictOnly }) => {
    expect(parseError(bytesOf(file), 'strict').code).toBe(code);
    const meta = parseTorrent(bytesOf(file));
    expect(meta.nonCanonical.map((n) => n.kind)).toEqual([strictOnly]);
    expect(meta.name).toBe('hello.txt');
  });

  it('v2-only is read when the reader opts in (inspect, magnet, verify) and refused otherwise (download, seed)', () => {
    expect(parseError(bytesOf('v2-only'), 'strict').code).toBe('METAINFO_V2_ONLY_UNSUPPORTED');
    const meta = parseTorrent(bytesOf('v2-only'), { allowV2Only: true });
    expect(meta.version).toBe('v2');
    expect(meta.infoHash.v1).toBeNull();
    expect(meta.infoHash.v2!.length).toBe(32);
  });

  it.each(INSPECT_LAYER)('$file: with pieceLayers "report" the torrent is read and the layer listed under $code', ({ file, code }) => {
    const meta = parseTorrent(bytesOf(file), { allowV2Only: true, pieceLayers: 'report' });
    expect(meta.pieceLayers).toEqual([expect.objectContaining({ path: 'dir/a', code })]);
  });

  it('a torrent over 64 MiB → METAINFO_TOO_LARGE, before any decoding', () => {
    // Zeros would be BENCODE_BAD_TOKEN if the size were not checked first.
    expect(parseError(Buffer.alloc(MAX_TORRENT_BYTES + 1), 'lenient').code).toBe('METAINFO_TOO_LARGE');
  });
});

/** Runs the built CLI; never rejects (the exit code is part of the result). */
function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
    delete env.BTKIT_DEBUG;
    delete env.FORCE_COLOR;
    const child = execFile(process.execPath, [join(ROOT, 'bin', 'run.js'), ...args], { cwd: ROOT, env, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: child.exitCode ?? (err as NodeJS.ErrnoException | null)?.errno ?? null, stdout, stderr });
    });
  });
}

describe('btkit inspect: one clear line and exit code 3 for each invalid torrent', () => {
  let tmp: string;
  beforeAll(() => {
    if (!existsSync(join(ROOT, 'dist', 'commands', 'inspect.js')) || !existsSync(join(ROOT, 'oclif.manifest.json'))) {
      execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'ignore' });
    }
    tmp = mkdtempSync(join(tmpdir(), 'btkit-invalid-'));
  }, 180_000);
  afterAll(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  function expectOneLine(stderr: string, code: string): void {
    const lines = stderr.split('\n').filter((l) => l.length > 0);
    expect(lines, stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/^btkit inspect: error: /);
    expect(lines[0]).toContain(`[${code}]`);
    expect(stderr).not.toMatch(/^\s+at /m);
  }

  function expectJsonError(stdout: string, code: string): void {
    const doc = JSON.parse(stdout) as { ok: boolean; command: string; error: { code: string; category: string; message: string; exitCode: number } };
    expect(doc.ok).toBe(false);
    expect(doc.command).toBe('inspect');
    expect(doc.error).toMatchObject({ code, category: 'input', exitCode: 3 });
    expect(doc.error.message.length).toBeGreaterThan(0);
    expect(stdout).not.toMatch(/^\s+at /m);
  }

  it.each(INSPECT_REFUSES)('inspect $file → exit 3, [$code]', async ({ file, code }) => {
    const path = join(FIXTURES, `${file}.torrent`);
    const [human, json] = await Promise.all([cli(['inspect', path]), cli(['inspect', path, '--json'])]);
    expect(human.code).toBe(3);
    expect(human.stdout).toBe('');
    expectOneLine(human.stderr, code);
    expect(json.code).toBe(3);
    expect(json.stderr).toBe('');
    expectJsonError(json.stdout, code);
  });

  it.each(INSPECT_LAYER)('inspect shows $file (exit 0) with one warning naming $code; verify refuses it (exit 3)', async ({ file, code }) => {
    const path = join(FIXTURES, `${file}.torrent`);
    const [human, json, verify] = await Promise.all([cli(['inspect', path]), cli(['inspect', path, '--json']), cli(['verify', path, tmp])]);
    expect(human.code).toBe(0);
    const warnings = human.stderr.split('\n').filter((l) => l.length > 0);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`[${code}]`);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: true, result: { pieceLayers: [{ path: 'dir/a', code }] } });
    expect(verify.code).toBe(3);
    expect(verify.stderr).toContain(`[${code}]`);
  });

  it.each(UNSAFE_PATHS)('inspect shows $file (exit 0, one warning naming $code); verify refuses it (exit 3)', async ({ file, code }) => {
    const path = join(FIXTURES, `${file}.torrent`);
    const [human, json, verify] = await Promise.all([cli(['inspect', path]), cli(['inspect', path, '--json']), cli(['verify', path, tmp])]);
    expect(human.code).toBe(0);
    const warnings = human.stderr.split('\n').filter((l) => l.length > 0);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^warning: /);
    expect(warnings[0]).toContain(`[${code}]`);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: true, result: { unsafePaths: [{ code }] } });
    expect(verify.code).toBe(3);
    expect(verify.stderr).toContain(`[${code}]`);
  });

  it.each(STRICT_ONLY)('inspect reads $file leniently: exit 0, one warning naming $strictOnly', async ({ file, strictOnly }) => {
    // `inspect` has no strict mode: a non-canonical torrent is shown, with a warning, and its
    // infohash is over the original bytes.
    const path = join(FIXTURES, `${file}.torrent`);
    const [human, json] = await Promise.all([cli(['inspect', path]), cli(['inspect', path, '--json'])]);
    expect(human.code).toBe(0);
    const warnings = human.stderr.split('\n').filter((l) => l.length > 0);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^warning: .*not canonical/);
    expect(warnings[0]).toContain(strictOnly!);
    expect(json.code).toBe(0);
    const doc = JSON.parse(json.stdout) as { ok: boolean; result: { canonical: boolean; infoHash: string }; warnings: string[] };
    expect(doc.ok).toBe(true);
    expect(doc.result.canonical).toBe(false);
    expect(doc.result.infoHash).toBe(parseTorrent(bytesOf(file)).infoHash.v1!.toString('hex'));
    expect(doc.warnings).toHaveLength(1);
  });

  it('inspect on a file over 64 MiB → exit 3, [METAINFO_TOO_LARGE]', async () => {
    const path = join(tmp, 'too-large.torrent');
    writeFileSync(path, 'd');
    truncateSync(path, MAX_TORRENT_BYTES + 1); // sparse: costs no disk
    const [human, json] = await Promise.all([cli(['inspect', path]), cli(['inspect', path, '--json'])]);
    expect(human.code).toBe(3);
    expectOneLine(human.stderr, 'METAINFO_TOO_LARGE');
    expect(json.code).toBe(3);
    expectJsonError(json.stdout, 'METAINFO_TOO_LARGE');
  });
});
