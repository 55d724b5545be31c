/**
 * WebSeed against a real nginx (bound to 127.0.0.1, serving a temp folder): every piece of a
 * single-file and of a multi-file torrent (names with a space, `#`, `?` and non-ASCII letters)
 * fetched through the web seed must match the torrent's SHA-1, i.e. be byte-identical.
 * Also: nginx with Range turned off (`max_ranges 0`) is a server that ignores Range.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BtError } from '../../src/core/errors.js';
import { createTorrent } from '../../src/core/metainfo/create.js';
import type { Metainfo } from '../../src/core/metainfo/types.js';
import { WebSeed, type WebSeedEvent } from '../../src/core/webseed/index.js';
import { interopAvailable } from '../helpers/interop.js';
import { startNginx, type Nginx } from '../helpers/nginx.js';
import { tempDirs, writeTree } from '../helpers/tmp.js';

const tmp = tempDirs();

async function everyPieceMatches(meta: Metainfo, url: string, events: WebSeedEvent[]): Promise<number> {
  const seed = new WebSeed({ url, layout: meta, pieceLength: meta.pieceLength, totalLength: meta.totalLength, maxInFlight: 4, onEvent: (e) => events.push(e) });
  let good = 0;
  try {
    await Promise.all(
      Array.from({ length: meta.pieceCount }, async (_, i) => {
        const data = await seed.fetchPiece(i);
        const sha = createHash('sha1').update(data).digest();
        if (sha.equals(meta.pieces.subarray(i * 20, i * 20 + 20))) good++;
      }),
    );
  } finally {
    seed.close();
  }
  return good;
}

describe.skipIf(!interopAvailable('nginx'))('WebSeed against nginx', () => {
  let nginx: Nginx;
  let single: Metainfo;
  let multi: Metainfo;
  let served: string;

  beforeAll(async () => {
    const work = await tmp.make('ws-nginx');
    served = join(work, 'www');
    await writeTree(served, {
      'one.bin': 3_000_000 + 17,
      'multi set/a.bin': 1_000_000,
      'multi set/sub/b c#?.bin': 700_001,
      'multi set/ünï/日本.txt': 'small file in the middle',
      'multi set/z.bin': 333_333,
    });
    single = (await createTorrent({ path: join(served, 'one.bin'), pieceLength: 65_536 })).metainfo;
    multi = (await createTorrent({ path: join(served, 'multi set'), pieceLength: 32_768 })).metainfo;
    nginx = await startNginx(served, join(work, 'nginx'));
  });

  afterAll(async () => {
    await nginx?.stop();
  });

  it.each([
    ['file URL', '/one.bin'],
    ['directory URL', '/'],
  ])('single-file torrent, %s: every piece matches its SHA-1', async (_label, path) => {
    const events: WebSeedEvent[] = [];
    expect(await everyPieceMatches(single, nginx.base + path, events)).toBe(single.pieceCount);
    expect(events).toEqual([]);
  });

  it.each([
    ['directory URL', '/'],
    ['directory URL without its slash', ''],
  ])('multi-file torrent, %s: every piece matches its SHA-1', async (_label, path) => {
    const events: WebSeedEvent[] = [];
    expect(multi.files.length).toBe(4);
    expect(await everyPieceMatches(multi, nginx.base + path, events)).toBe(multi.pieceCount);
    expect(events).toEqual([]);
  });

  it('keep-alive: nginx saw at most maxInFlight connections for a whole torrent', async () => {
    const before = (await nginx.accessLog()).length;
    await everyPieceMatches(single, nginx.base + '/one.bin', []);
    // SIGQUIT flushes the log; here, nginx writes each line at once (no buffer= in access_log).
    const lines = (await nginx.accessLog()).slice(before);
    expect(lines).toHaveLength(single.pieceCount);
    expect(lines.every((l) => / 206$/.test(l))).toBe(true);
    expect(new Set(lines.map((l) => l.split(' ')[0])).size).toBeLessThanOrEqual(4);
  });

  it('a file missing on the server: its pieces unavailable, the others served', async () => {
    const events: WebSeedEvent[] = [];
    const seed = new WebSeed({ url: `${nginx.base}/`, layout: { ...multi, name: 'not there' }, pieceLength: multi.pieceLength, totalLength: multi.totalLength, onEvent: (e) => events.push(e) });
    try {
      const err = await seed.fetchPiece(0).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BtError);
      expect((err as BtError).code).toBe('WEBSEED_PIECE_UNAVAILABLE');
      expect(events.find((e) => e.type === 'webseed-file-unavailable')).toMatchObject({ status: 404, code: 'WEBSEED_NOT_FOUND' });
    } finally {
      seed.close();
    }
  });

  it('nginx without Range support: a 3 MB file is refused with a webseed-dropped event', async () => {
    const dir = await tmp.make('ws-nginx-norange');
    const plain = await startNginx(served, dir, { noRanges: true });
    const events: WebSeedEvent[] = [];
    const seed = new WebSeed({ url: `${plain.base}/one.bin`, layout: single, pieceLength: single.pieceLength, totalLength: single.totalLength, wholeBodyLimit: 1 << 20, onEvent: (e) => events.push(e) });
    try {
      const err = await seed.fetchPiece(1).catch((e: unknown) => e);
      expect((err as BtError).code).toBe('WEBSEED_DROPPED');
      expect(events.at(-1)).toMatchObject({ type: 'webseed-dropped', reason: 'range-ignored' });
    } finally {
      seed.close();
      await plain.stop();
    }
  });
});
