/**
 * `btkit magnet`: the link of a torrent (xt, dn, every tr), and the flags that change it:
 * --no-trackers, --no-name, --web-seeds, --length, --peer (x.pe), --select (so, BEP 53).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseMagnet } from '../../src/core/metainfo/magnet.js';
import { parseTorrent } from '../../src/core/metainfo/parse.js';
import { ensureBuilt, lines, runClean as run } from '../helpers/cli.js';
import { tempDirs, writeTree } from '../helpers/tmp.js';

const tmp = tempDirs();
let torrent: string;
let hash: string;

beforeAll(async () => {
  ensureBuilt();
  const root = await tmp.make('cmd-magnet');
  await writeTree(root, { 'my files/a.txt': 'a', 'my files/b/c.bin': 30_000, 'my files/d': 'ddd' });
  torrent = join(root, 'm.torrent');
  const r = await run(['create', join(root, 'my files'), '-o', torrent, '-t', 'http://a/announce?x=1&y=2,udp://b:80/announce', '-t', 'http://c/announce', '-w', 'http://ws.example/files/', '--quiet']);
  expect(r.code).toBe(0);
  hash = parseTorrent(await readFile(torrent)).infoHash.v1!.toString('hex');
});

async function magnetOf(...flags: string[]) {
  const r = await run(['magnet', torrent, ...flags]);
  expect(r.code).toBe(0);
  const out = lines(r.stdout);
  expect(out).toHaveLength(1);
  return { text: out[0]!, parsed: parseMagnet(out[0]!) };
}

describe('btkit magnet', () => {
  it('infohash, name and every tracker in tier order; no web seeds, length or peers by default', async () => {
    const { text, parsed } = await magnetOf();
    expect(text.startsWith(`magnet:?xt=urn:btih:${hash}&dn=my%20files&tr=`)).toBe(true);
    expect(parsed.infoHash.v1!.toString('hex')).toBe(hash);
    expect(parsed.name).toBe('my files');
    expect(parsed.trackers).toEqual(['http://a/announce?x=1&y=2', 'udp://b:80/announce', 'http://c/announce']);
    expect(parsed).toMatchObject({ webSeeds: [], peers: [] });
    expect(parsed.exactLength).toBeUndefined();
    expect(parsed.select).toBeUndefined();
  });

  it('--no-trackers and --no-name leave those out', async () => {
    const { text, parsed } = await magnetOf('--no-trackers', '--no-name');
    expect(text).toBe(`magnet:?xt=urn:btih:${hash}`);
    expect(parsed.trackers).toEqual([]);
  });

  it('--web-seeds adds ws; --length adds the exact length', async () => {
    const { parsed } = await magnetOf('--web-seeds', '--length');
    expect(parsed.webSeeds).toEqual(['http://ws.example/files/']);
    expect(parsed.exactLength).toBe(30_004);
  });

  it('--peer adds x.pe for each, IPv6 bracketed', async () => {
    const { parsed } = await magnetOf('--peer', '127.0.0.1:6881', '--peer', '[::1]:7000', '--no-trackers');
    expect(parsed.peers).toEqual(['127.0.0.1:6881', '[::1]:7000']);
  });

  it('--select gives so= with ranges (BEP 53)', async () => {
    const { text, parsed } = await magnetOf('--select', '0,1-2', '--no-trackers');
    expect(text.endsWith('&so=0,1-2')).toBe(true);
    expect(parsed.select).toEqual([[0, 0], [1, 2]]);
  });

  it('--json gives the link and its parts', async () => {
    const r = await run(['magnet', torrent, '--json', '--peer', '127.0.0.1:1', '--select', '2']);
    expect(r.code).toBe(0);
    expect(r.json()).toMatchObject({
      ok: true,
      command: 'magnet',
      warnings: [],
      result: { infoHash: hash, name: 'my files', trackers: ['http://a/announce?x=1&y=2', 'udp://b:80/announce', 'http://c/announce'], webSeeds: [], peers: ['127.0.0.1:1'], select: [[2, 2]] },
    });
    expect(parseMagnet(r.json().result.magnet).infoHash.v1!.toString('hex')).toBe(hash);
  });

  it('reads the torrent from stdin with `-`', async () => {
    const r = await run(['magnet', '-', '--no-trackers'], { input: await readFile(torrent) });
    expect(r.code).toBe(0);
    expect(lines(r.stdout)).toEqual([`magnet:?xt=urn:btih:${hash}&dn=my%20files`]);
  });

  it('bad --peer and --select values are usage errors (exit 2, one line naming the value)', async () => {
    for (const [flag, value] of [['--peer', 'nohost'], ['--peer', '127.2.3.4:0'], ['--select', '5'], ['--select', '2-1'], ['--select', 'x']]) {
      const r = await run(['magnet', torrent, flag!, value!]);
      expect(r.code, `${flag} ${value}`).toBe(2);
      expect(r.stderr.split('\n')[0]).toContain(`\`${value}\``);
      expect(r.stdout).toBe('');
    }
    const json = await run(['magnet', torrent, '--select', '9', '--json']);
    expect(json.json()).toMatchObject({ ok: false, command: 'magnet', error: { code: 'USAGE', category: 'usage', exitCode: 2 } });
  });

  it('a missing torrent is a file-system error (exit 7) that names no other form (issue 13 item 6)', async () => {
    const r = await run(['magnet', join(torrent, '..', 'nope.torrent')]);
    expect(r.code).toBe(7);
    expect(lines(r.stderr)).toHaveLength(1);
    expect(r.stderr).toContain('nope.torrent`: no such file [TARGET_NOT_FOUND]');
    // magnet takes a torrent only: the message does not offer forms it would not accept.
    expect(r.stderr).not.toMatch(/magnet link|infohash/);
  });
});
