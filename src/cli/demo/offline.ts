/**
 * `btkit demo --offline`: the tour through the core, in process (no children, no sockets): create,
 * inspect, magnet, verify, then one flipped byte that verify must catch. What happens is told
 * through `onEvent` (render/demo.ts turns it into text).
 */
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BtError } from '../../core/errors.js';
import { writeFileAtomic } from '../../core/fs/atomic.js';
import { createTorrent } from '../../core/metainfo/create.js';
import { formatMagnet, parseMagnet } from '../../core/metainfo/magnet.js';
import { parseTorrent } from '../../core/metainfo/parse.js';
import { verifyData } from '../../core/storage/verify.js';
import { magnetOf, summarize } from '../render/torrent.js';
import { type DemoStep, writeSamplePayload } from './harness.js';

export type OfflineEvent =
  | { type: 'payload'; files: number; directory: string }
  | { type: 'created'; infoHash: string; totalBytes: number; pieces: number; hashMs: number; warnings: string[] }
  | { type: 'inspected'; files: { length: number; path: string }[] }
  | { type: 'magnet'; magnet: string }
  | { type: 'verified'; ok: boolean; goodPieces: number; pieceCount: number }
  | { type: 'corrupted'; caught: boolean; badPieces: number[]; files: string[] };

export interface OfflineOptions {
  base: string;
  sizeMiB: number;
  /** For the torrent's `created by`. */
  createdBy: string;
  signal: AbortSignal;
}

export async function runOfflineTour(o: OfflineOptions, onEvent: (ev: OfflineEvent) => void): Promise<{ steps: DemoStep[]; ok: boolean }> {
  const steps: DemoStep[] = [];
  const timed = async <T>(step: string, fn: () => Promise<T>, detail: (v: T) => Record<string, unknown>): Promise<T> => {
    const t0 = performance.now();
    const v = await fn();
    steps.push({ step, ms: Math.round(performance.now() - t0), detail: detail(v) });
    return v;
  };
  // 1. A sample payload: nested files, an empty one, sizes that make pieces span files.
  const payload = join(o.base, 'payload');
  const mib = 1024 * 1024;
  const layout: [string, number][] = [
    ['README.txt', 1234],
    ['data/part-1.bin', Math.floor(o.sizeMiB * mib * 0.6)],
    ['data/part-2.bin', Math.floor(o.sizeMiB * mib * 0.4) - 1234 - 777],
    ['data/empty.log', 0],
    ['docs/notes/ä-unicode.md', 777],
  ];
  await timed('payload', () => writeSamplePayload(payload, layout), () => ({ files: layout.length, directory: payload }));
  onEvent({ type: 'payload', files: layout.length, directory: payload });

  // 2. create
  const torrentPath = join(o.base, 'payload.torrent');
  const created = await timed('create', async () => {
    const r = await createTorrent({ path: payload, pieceLength: 256 * 1024, trackers: [['http://127.0.0.1:6969/announce']], createdBy: o.createdBy, signal: o.signal });
    await writeFileAtomic(torrentPath, r.torrent, { overwrite: true });
    return r;
  }, (r) => ({ torrent: torrentPath, infoHash: r.metainfo.infoHash.v1!.toString('hex'), pieces: r.metainfo.pieceCount, warnings: r.warnings }));
  const infoHash = created.metainfo.infoHash.v1!;
  onEvent({ type: 'created', infoHash: infoHash.toString('hex'), totalBytes: created.metainfo.totalLength, pieces: created.metainfo.pieceCount, hashMs: created.hashMs, warnings: created.warnings });

  // 3. inspect (read back from disk, as another tool would)
  const summary = await timed('inspect', async () => summarize(parseTorrent(await readFile(torrentPath))), (s) => ({ name: s.name, files: s.fileCount, canonical: s.canonical }));
  onEvent({ type: 'inspected', files: summary.files });

  // 4. magnet, and parse it back
  const magnet = await timed('magnet', async () => formatMagnet(magnetOf(created.metainfo)), (m) => ({ magnet: m }));
  onEvent({ type: 'magnet', magnet });
  if (!parseMagnet(magnet).infoHash.v1?.equals(infoHash)) throw new BtError('DEMO_MAGNET_MISMATCH', 'internal', 'magnet link did not round-trip');

  // 5. verify: all good
  const good = await timed('verify', () => verifyData(created.metainfo, { contentPath: payload, signal: o.signal }), (r) => ({ ok: r.ok, goodPieces: r.goodPieces }));
  onEvent({ type: 'verified', ok: good.ok, goodPieces: good.goodPieces, pieceCount: good.pieceCount });

  // 6. flip one byte in the middle of part-2 and verify again: exactly one piece must fail.
  const fh = await open(join(payload, 'data', 'part-2.bin'), 'r+');
  try {
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, 1000);
    b[0] = b[0]! ^ 0xff;
    await fh.write(b, 0, 1, 1000);
  } finally {
    await fh.close();
  }
  const bad = await timed('verify-corrupted', () => verifyData(created.metainfo, { contentPath: payload, signal: o.signal }), (r) => ({ ok: r.ok, badPieces: r.badPieces }));
  onEvent({ type: 'corrupted', caught: !bad.ok, badPieces: bad.badPieces, files: bad.files.filter((f) => f.status === 'bad-pieces').map((f) => f.path) });
  return { steps, ok: good.ok && !bad.ok && bad.badPieces.length === 1 };
}
