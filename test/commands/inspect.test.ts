/**
 * `btkit inspect`: a torrent (file or stdin) as a summary with a tree or a list, as --json, as
 * --raw bencode-as-JSON; a magnet link; typed one-line errors for everything else.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cliBin, ensureBuilt, lines, ROOT, runClean as run } from '../helpers/cli.js';
import { tempDirs, writeTree } from '../helpers/tmp.js';
import { parseTorrent } from '../../src/core/metainfo/parse.js';
import { encode } from '../../src/core/bencode/index.js';

const tmp = tempDirs();
let torrent: string;
let bytes: Buffer;
let hash: string;

beforeAll(async () => {
  ensureBuilt();
  const root = await tmp.make('cmd-inspect');
  await writeTree(root, { 'pkg/README': 'read me', 'pkg/lib/x.js': 20_000, 'pkg/lib/y.js': 'y', 'pkg/zz': '' });
  torrent = join(root, 'pkg.torrent');
  const r = await run(['create', join(root, 'pkg'), '-o', torrent, '-t', 'http://a/announce', '-t', 'http://b/announce', '--comment', 'hi', '--private', '--no-date', '--no-created-by', '--quiet']);
  expect(r.code).toBe(0);
  bytes = await readFile(torrent);
  hash = parseTorrent(bytes).infoHash.v1!.toString('hex');
});

describe('btkit inspect: torrents', () => {
  it('a summary and a file tree', async () => {
    const r = await run(['inspect', torrent]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(lines(r.stdout)).toEqual([
      'Name       pkg',
      `Info hash  ${hash}`,
      'Version    v1',
      'Size       19.54 KiB (20008 bytes)',
      'Pieces     2 × 16.00 KiB',
      'Files      4',
      'Private    yes',
      'Comment    hi',
      'Trackers   tier 1: http://a/announce',
      '           tier 2: http://b/announce',
      `Magnet     magnet:?xt=urn:btih:${hash}&dn=pkg&tr=http://a/announce&tr=http://b/announce`,
      '',
      'pkg/',
      '├── README (7 B)',
      '├── lib/',
      '│   ├── x.js (19.53 KiB)',
      '│   └── y.js (1 B)',
      '└── zz (0 B)',
    ]);
  });

  it('--list: one file per line, size and path', async () => {
    const r = await run(['inspect', torrent, '--list']);
    expect(lines(r.stdout).slice(-4)).toEqual([`${'7'.padStart(14)}  pkg/README`, `${'20000'.padStart(14)}  pkg/lib/x.js`, `${'1'.padStart(14)}  pkg/lib/y.js`, `${'0'.padStart(14)}  pkg/zz`]);
  });

  it('--list -q: the file lines alone, no header (issue 13 item 16)', async () => {
    const r = await run(['inspect', torrent, '--list', '-q']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(lines(r.stdout)).toEqual(['             7  pkg/README', '         20000  pkg/lib/x.js', '             1  pkg/lib/y.js', '             0  pkg/zz']);
  });

  it('--json: the envelope with every field; the infohash is SHA-1 of the info dict', async () => {
    const r = await run(['inspect', torrent, '--json']);
    expect(r.code).toBe(0);
    const env = r.json();
    expect(env).toMatchObject({ ok: true, command: 'inspect', warnings: [] });
    const meta = parseTorrent(bytes);
    expect(env.result.infoHash).toBe(createHash('sha1').update(meta.infoBytes).digest('hex'));
    expect(env.result).toMatchObject({ name: 'pkg', totalLength: 20_008, pieceLength: 16384, pieceCount: 2, fileCount: 4, private: true, comment: 'hi', createdBy: null, creationDate: null, trackers: [['http://a/announce'], ['http://b/announce']], canonical: true });
    expect(env.result.files.map((f: { path: string; length: number }) => [f.path, f.length])).toEqual([['pkg/README', 7], ['pkg/lib/x.js', 20_000], ['pkg/lib/y.js', 1], ['pkg/zz', 0]]);
  });

  it('`-` reads the torrent from stdin', async () => {
    const r = await run(['inspect', '-', '--json'], { input: bytes });
    expect(r.code).toBe(0);
    expect(r.json().result.infoHash).toBe(hash);
  });

  it('--raw: the bencoded structure as JSON, pieces as hex', async () => {
    const r = await run(['inspect', torrent, '--raw']);
    expect(r.code).toBe(0);
    const raw = JSON.parse(r.stdout);
    expect(raw.announce).toBe('http://a/announce');
    expect(raw['announce-list']).toEqual([['http://a/announce'], ['http://b/announce']]);
    expect(raw.info.name).toBe('pkg');
    expect(raw.info.private).toBe(1);
    expect(raw.info['piece length']).toBe(16384);
    expect(JSON.stringify(raw.info.pieces)).toContain(parseTorrent(bytes).pieces.toString('hex'));
    expect(raw.info.files[1]).toEqual({ length: 20_000, path: ['lib', 'x.js'] });
    const json = await run(['inspect', torrent, '--raw', '--json']);
    expect(json.json().result.raw).toEqual(raw);
  });

  it('a non-canonical torrent: the infohash over its original bytes, and a warning', async () => {
    const fixture = join(ROOT, 'test', 'fixtures', 'invalid', 'unsorted-keys.torrent');
    const original = await readFile(fixture);
    // The fixture is `d4:infod…e8:announce…e`: its info dict, byte for byte, sits between the two keys.
    const infoBytes = original.subarray(original.indexOf('4:info') + 6, original.indexOf('8:announce'));
    const r = await run(['inspect', fixture, '--json']);
    expect(r.code).toBe(0);
    const env = r.json();
    expect(env.result.canonical).toBe(false);
    expect(env.warnings).toEqual([expect.stringContaining('not canonical')]);
    expect(env.result.infoHash).toBe(createHash('sha1').update(infoBytes).digest('hex'));
    const human = await run(['inspect', fixture]);
    expect(human.stderr).toContain('warning: the torrent is not canonical bencode');
  });
});

describe('btkit inspect: magnet links', () => {
  const link = `magnet:?xt=urn:btih:${'ab'.repeat(20)}&dn=Some%20Name&tr=http%3A%2F%2Ft%2Fannounce&xl=1234&so=0,2-3&x.pe=127.0.0.1:6881&ws=http://w/&foo=bar`;

  it('prints what the link says', async () => {
    const r = await run(['inspect', link]);
    expect(r.code).toBe(0);
    const out = lines(r.stdout);
    expect(out).toContain(`infoHash      ${'ab'.repeat(20)}`);
    expect(out).toContain('name          Some Name');
    expect(out).toContain('trackers      http://t/announce');
    expect(out).toContain('exactLength   1234');
    // so= as the link writes it, not the ranges' pairs (issue 13 item 11).
    expect(out).toContain('select        0,2-3');
    expect(out.some((l) => l.startsWith('infoHashV2'))).toBe(false);
  });

  it('--json gives the parts', async () => {
    const r = await run(['inspect', link, '--json']);
    expect(r.json()).toMatchObject({
      ok: true,
      command: 'inspect',
      result: {
        magnet: {
          infoHash: 'ab'.repeat(20),
          infoHashV2: null,
          name: 'Some Name',
          trackers: ['http://t/announce'],
          webSeeds: ['http://w/'],
          peers: ['127.0.0.1:6881'],
          exactLength: 1234,
          select: [[0, 0], [2, 3]],
          extra: { foo: 'bar' },
        },
      },
    });
  });

  it('a malformed magnet link is exit 3 with one line', async () => {
    const r = await run(['inspect', 'magnet:?xt=urn:btih:nothex']);
    expect(r.code).toBe(3);
    expect(lines(r.stderr)).toHaveLength(1);
    expect(r.stderr).toContain('[MAGNET_BAD_INFOHASH]');
  });
});

describe('btkit inspect: errors', () => {
  it('an infohash alone: exit 3, one line', async () => {
    const r = await run(['inspect', 'ab'.repeat(20)]);
    expect(r.code).toBe(3);
    expect(lines(r.stderr)).toEqual(['btkit inspect: error: an infohash alone has nothing to inspect: give a torrent file or a magnet link [INSPECT_NEEDS_TORRENT]']);
  });

  it('a file that does not exist: exit 7 (io), "no such file"; --json puts the error on stdout (issue 13 item 6)', async () => {
    const r = await run(['inspect', 'no-such-thing.torrent']);
    expect(r.code).toBe(7);
    expect(lines(r.stderr)).toEqual(['btkit inspect: error: `no-such-thing.torrent`: no such file, and it is not a magnet link or a 40-hex infohash [TARGET_NOT_FOUND]']);
    const json = await run(['inspect', 'no-such-thing.torrent', '--json']);
    expect(json.stderr).toBe('');
    expect(json.json()).toMatchObject({ ok: false, command: 'inspect', error: { code: 'TARGET_NOT_FOUND', category: 'io', exitCode: 7 } });
  });

  it('garbage on stdin: exit 3', async () => {
    const r = await run(['inspect', '-'], { input: 'this is not bencode' });
    expect(r.code).toBe(3);
    expect(lines(r.stderr)).toHaveLength(1);
  });

  it('an unknown flag: exit 2 and, under --json, the usage error envelope', async () => {
    const r = await run(['inspect', torrent, '--nope']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("btkit inspect: error: Nonexistent flag: --nope [USAGE] (see 'btkit inspect --help')\n");
    const json = await run(['inspect', torrent, '--nope', '--json']);
    expect(json.code).toBe(2);
    expect(json.json()).toMatchObject({ ok: false, error: { code: 'USAGE', category: 'usage', exitCode: 2 } });
  });
});

describe('btkit inspect: bounded reads from any source (issue 13 item 1)', () => {
  it('/dev/zero (stat says 0 bytes) is refused at the 64 MiB cap, exit 3, quickly', async () => {
    const started = Date.now();
    const r = await run(['inspect', '/dev/zero']);
    expect(r.code).toBe(3);
    expect(lines(r.stderr)).toEqual([expect.stringMatching(/^btkit inspect: error: `\/dev\/zero` is larger than a torrent can be .*\[METAINFO_TOO_LARGE\]$/)]);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('standard input over the cap: the same code', async () => {
    const r = await run(['inspect', '-', '--json'], { input: Buffer.alloc(64 * 1024 * 1024 + 1) });
    expect(r.code).toBe(3);
    expect(r.json()).toMatchObject({ error: { code: 'METAINFO_TOO_LARGE', category: 'input' } });
  });

  it('a FIFO with no writer: SIGTERM ends the wait with exit 130, at once', async () => {
    const path = join(await tmp.make('fifo'), 'pipe');
    execFileSync('mkfifo', [path]);
    const child = spawn(process.execPath, [cliBin(), 'inspect', path], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    // Wait until it is blocked in open(): a thread sits in the kernel's wait_for_partner (fifo_open).
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && !waitingInFifoOpen(child.pid!)) await new Promise((r) => setTimeout(r, 100));
    const killed = Date.now();
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => {
      const t = setTimeout(() => {
        child.kill('SIGKILL');
        resolve(null);
      }, 5000);
      child.on('close', (c) => {
        clearTimeout(t);
        resolve(c);
      });
    });
    expect(code).toBe(130);
    expect(Date.now() - killed).toBeLessThan(5000);
    expect(stderr).toMatch(/interrupted/);
  });
});

/** True when a thread of `pid` waits in the kernel to open a FIFO (Linux /proc). */
function waitingInFifoOpen(pid: number): boolean {
  try {
    return readdirSync(`/proc/${pid}/task`).some((t) => readFileSync(`/proc/${pid}/task/${t}/wchan`, 'utf8').includes('wait_for_partner'));
  } catch {
    return false;
  }
}

describe('btkit inspect: a torrent with unsafe paths is shown, with a warning (issue 13 item 13)', () => {
  it('human, --raw and --json show it (exit 0); verify still refuses it (exit 3)', async () => {
    const root = await tmp.make('unsafe');
    const path = join(root, 'evil.torrent');
    await writeFile(path, await readFile(join(ROOT, 'test', 'fixtures', 'invalid', 'path-dotdot.torrent')));
    const warning = /^warning: info\.files\[\d+\]: path `[^`]*\.\.[^`]*` tries to leave the output directory with `\.\.` \[METAINFO_PATH_TRAVERSAL\]: download, seed and verify refuse this torrent$/;

    const human = await run(['inspect', path]);
    expect(human.code, human.stderr).toBe(0);
    expect(lines(human.stderr)).toEqual([expect.stringMatching(warning)]);
    expect(human.stdout).toMatch(/^Info hash/m);

    const raw = await run(['inspect', path, '--raw']);
    expect(raw.code).toBe(0);
    expect(JSON.parse(raw.stdout).info.files).toBeDefined();
    expect(lines(raw.stderr)).toEqual([expect.stringMatching(warning)]);

    const json = await run(['inspect', path, '--json']);
    expect(json.code).toBe(0);
    const env = json.json();
    expect(env.warnings).toHaveLength(1);
    expect(env.result.unsafePaths).toEqual([expect.objectContaining({ code: 'METAINFO_PATH_TRAVERSAL' })]);

    const verify = await run(['verify', path, root]);
    expect(verify.code).toBe(3);
    expect(verify.stderr).toContain('[METAINFO_PATH_TRAVERSAL]');
  });
});

describe('btkit inspect: control characters in torrent text are shown, not obeyed (issue 15 item 6)', () => {
  it('a name with an OSC title and a screen clear, a file name with a newline, a comment with a bell', async () => {
    const root = await tmp.make('escape');
    const path = join(root, 'hostile.torrent');
    const sha = (x: string) => createHash('sha1').update(x).digest();
    await writeFile(
      path,
      encode({
        comment: 'ring\x07',
        info: { name: 'x\x1b]0;PWNED\x07\x1b[2Jy', 'piece length': 16384, pieces: sha('p'), files: [{ length: 1, path: ['line\nbreak'] }] },
      }),
    );
    for (const args of [[], ['--list']]) {
      const r = await run(['inspect', path, ...args]);
      expect(r.code).toBe(0);
      expect(r.stdout + r.stderr).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f]/);
      expect(r.stdout).toContain('x\\e]0;PWNED\\x07\\e[2Jy');
      expect(r.stdout).toContain('line\\nbreak');
    }
    // JSON keeps the exact text (JSON.stringify escapes it already).
    const json = await run(['inspect', path, '--json']);
    expect(json.json().result.name).toBe('x\x1b]0;PWNED\x07\x1b[2Jy');
  });
});
