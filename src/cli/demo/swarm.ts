/**
 * The swarm demo: a tracker, `create`, one seed and N downloaders, all real `btkit` child processes
 * on 127.0.0.1. N-1 downloaders start from the .torrent (peers from the tracker); the last one from
 * a magnet link that names only the seed (`x.pe`, no tracker): it fetches the info dictionary from
 * the seed (BEP 9) and finds the other downloaders through peer exchange (BEP 11).
 *
 * Nothing leaves the machine: every child binds 127.0.0.1, and the DHT is off (--no-dht: without
 * it a child would bootstrap from the public routers). PEX runs every second between the seed and
 * the magnet downloader (--pex-interval; BEP 11's one minute would not show in a demo of a few
 * seconds). What happens is told through `onEvent`
 * (render/demo.ts turns it into text); the result is the JSON the command returns.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BtError } from '../../core/errors.js';
import { formatMagnet, parseMagnet } from '../../core/metainfo/magnet.js';
import { parseTorrent } from '../../core/metainfo/parse.js';
import { verifyData } from '../../core/storage/verify.js';
import { type ChildEvent, type DemoChild, type DemoStep, DemoHarness, lastError, running, sleep, within, writeSamplePayload } from './harness.js';

export interface SwarmOptions {
  /** The workspace (made by the caller). */
  base: string;
  /** bin/run.js of this CLI. */
  bin: string;
  sizeMiB: number;
  leechers: number;
  /** The seed's --upload-limit ('0': none). */
  seedLimit: string;
  signal: AbortSignal;
  /** Milliseconds between two progress events (0: none). */
  progressEveryMs: number;
}

export interface CopySummary {
  name: string;
  ok: boolean;
  elapsedMs: number;
  uploaded: number;
  downloaded: number;
  /** What the download started from: the .torrent, or the magnet link alone. */
  from: 'torrent' | 'magnet';
}

export interface MagnetSummary {
  copy: string;
  /** The link it was given: the infohash, the name, and the seed as `x.pe`; no tracker. */
  link: string;
  /** The info dictionary (BEP 9): its size, the peers that sent it (named), how long it took; null if it never came. */
  metadata: { size: number; peers: string[]; from: string[]; elapsedMs: number } | null;
  /** Distinct peers connected, by how their address was found (manual: the magnet's x.pe; incoming: they dialed). */
  peersBySource: Record<string, number>;
  /** Distinct peers it dialed at an address it learned through PEX (BEP 11), and who they are ("download #2"). */
  pexPeers: number;
  pexPeerNames: string[];
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
  copies: CopySummary[];
  /** The downloader that started from the magnet link. */
  magnet: MagnetSummary;
  /** The seed stopped by itself (--until peers-complete=N) with exit 0. */
  seedOk: boolean;
}

/** What the swarm demo tells as it goes, for the human output. */
export type SwarmEvent =
  | { type: 'payload'; files: number; bytes: number; directory: string }
  | { type: 'tracker'; url: string }
  | { type: 'created'; url: string; infoHash: string; pieces: number; magnet: string }
  | { type: 'seed'; port: number; leechers: number; limit: string[] }
  | { type: 'downloads'; fromTorrent: number; magnet: string; magnetCopy: string }
  | { type: 'progress'; elapsedMs: number; copies: { label: string; percent: number }[] }
  | { type: 'progress-end' }
  | { type: 'verified'; summary: SwarmSummary; failures: Record<string, string>; seedExit: number | null | 'timeout' };

const MIB = 1024 * 1024;
/** The whole demo, every wait included, ends within this. */
const DEADLINE_MS = 120_000;
/** PEX every second on loopback (BEP 11's default is a minute). */
const PEX_INTERVAL = ['--pex-interval', '1s'];

export async function runSwarm(o: SwarmOptions, onEvent: (ev: SwarmEvent) => void): Promise<{ steps: DemoStep[]; summary: SwarmSummary }> {
  const h = new DemoHarness({ bin: o.bin, signal: o.signal, deadline: performance.now() + DEADLINE_MS });
  const steps: DemoStep[] = [];
  let t0 = performance.now();
  const step = (name: string, detail: Record<string, unknown>) => {
    steps.push({ step: name, ms: Math.round(performance.now() - t0), detail });
    t0 = performance.now();
  };
  try {
    // 1. payload
    const payload = join(o.base, 'payload');
    const layout: [string, number][] = [
      ['README.txt', 1234],
      ['bin/app', Math.floor(o.sizeMiB * MIB * 0.7)],
      ['lib/data.bin', Math.floor(o.sizeMiB * MIB * 0.3) - 1234],
      ['logs/empty.log', 0],
    ];
    await writeSamplePayload(payload, layout);
    const payloadBytes = layout.reduce((n, [, size]) => n + size, 0);
    step('payload', { files: layout.length, bytes: payloadBytes, directory: payload });
    onEvent({ type: 'payload', files: layout.length, bytes: payloadBytes, directory: payload });

    // 2. tracker
    const tracker = h.start('tracker', ['tracker', '--http-port', '0', '--no-udp', '--host', '127.0.0.1', '--interval', '3s', '--min-interval', '1s']);
    const url = (await h.waitFor(tracker, (e) => e.type === 'listening', 'listening address')).http as string;
    step('tracker', { url, pid: tracker.proc.pid });
    onEvent({ type: 'tracker', url });

    // 3. create (one indented JSON document, not NDJSON)
    const torrent = join(o.base, 'payload.torrent');
    const create = h.start('create', ['create', payload, '-t', url, '-o', torrent, '--piece-length', '256KiB']);
    const createCode = await within(create.exited, 60_000);
    let created: { ok: boolean; result: { infoHash: string; pieceCount: number; magnet: string } } | undefined;
    try {
      created = JSON.parse(create.stdout);
    } catch {
      // reported below
    }
    if (createCode !== 0 || !created?.ok) throw new BtError('DEMO_CHILD_FAILED', 'internal', `btkit create failed (${createCode}): ${lastError(create)}`);
    step('create', { torrent, infoHash: created.result.infoHash, pieces: created.result.pieceCount });
    onEvent({ type: 'created', url, infoHash: created.result.infoHash, pieces: created.result.pieceCount, magnet: created.result.magnet });

    // 4. seed
    const n = o.leechers;
    const limit = o.seedLimit === '0' ? [] : ['--upload-limit', o.seedLimit];
    const seed = h.start('seed', ['seed', torrent, payload, '--port', '0', '--host', '127.0.0.1', '--no-dht', ...PEX_INTERVAL, '--until', `peers-complete=${n}`, '--until', 'time=90s', ...limit]);
    const seedPort = (await h.waitFor(seed, (e) => e.type === 'started', 'started event')).listen.port as number;
    step('seed', { port: seedPort, pid: seed.proc.pid });
    onEvent({ type: 'seed', port: seedPort, leechers: n, limit });

    // 5. downloaders, all at once: n-1 from the .torrent, the last from a magnet link naming only the seed.
    // The .torrent downloaders find peers through the tracker only (--no-pex): the magnet downloader
    // is not on the tracker, so every link between it and them is one it dialed itself, at an address
    // the seed told it through PEX (with PEX on both sides they would often dial it first, and the
    // demo could not tell what the magnet downloader learned).
    const parsed = parseMagnet(created.result.magnet);
    const magnet = formatMagnet({ ...parsed, trackers: [], peers: [`127.0.0.1:${seedPort}`] });
    const common = ['--port', '0', '--host', '127.0.0.1', '--no-dht', '--timeout', '30s'];
    const started = performance.now();
    const leechers = Array.from({ length: n }, (_, i) =>
      h.start(`download #${i + 1}`, ['download', ...(i === n - 1 ? [magnet, ...PEX_INTERVAL] : [torrent, '--no-pex']), '-o', join(o.base, `copy-${i + 1}`), ...common]),
    );
    onEvent({ type: 'downloads', fromTorrent: n - 1, magnet, magnetCopy: `copy-${n}` });
    let lastProgress = -Infinity;
    while (leechers.some(running)) {
      h.checkTime('the downloads did not finish');
      await sleep(100);
      if (o.progressEveryMs > 0 && performance.now() - lastProgress >= o.progressEveryMs) {
        lastProgress = performance.now();
        onEvent({ type: 'progress', elapsedMs: performance.now() - started, copies: leechers.map((c, i) => ({ label: `#${i + 1}${i === n - 1 ? 'm' : ''}`, percent: percent(c) })) });
      }
    }
    const elapsedMs = Math.round(performance.now() - started);
    onEvent({ type: 'progress-end' });
    const codes = await Promise.all(leechers.map((c) => c.exited));

    // 6. the seed stops by itself once every leecher has every piece
    const seedExit = await within(seed.exited, 10_000);
    const seedResult = seed.events.find((e) => e.command === 'seed');

    // 7. verify every copy against the torrent
    const meta = parseTorrent(await readFile(torrent));
    const copies: CopySummary[] = [];
    const failures: Record<string, string> = {};
    for (const [i, c] of leechers.entries()) {
      const name = `copy-${i + 1}`;
      const result = c.events.find((e) => e.command === 'download')?.result as { elapsedMs: number; uploaded: number; downloaded: number } | undefined;
      let ok = codes[i] === 0 && result !== undefined;
      if (ok) ok = (await verifyData(meta, { contentPath: join(o.base, name, 'payload'), signal: o.signal })).ok;
      if (!ok) failures[name] = codes[i] !== 0 ? `download exited ${codes[i]}: ${lastError(c)}` : 'does not match the torrent';
      copies.push({ name, ok, elapsedMs: result?.elapsedMs ?? 0, uploaded: result?.uploaded ?? 0, downloaded: result?.downloaded ?? 0, from: i === n - 1 ? 'magnet' : 'torrent' });
    }
    step('verify', { copies: copies.filter((c) => c.ok).length });

    const servedBySeed = (seedResult?.result?.uploaded as number | undefined) ?? 0;
    const summary: SwarmSummary = {
      payloadBytes,
      leechers: n,
      elapsedMs,
      throughput: elapsedMs > 0 ? Math.round((payloadBytes * n * 1000) / elapsedMs) : 0,
      servedBySeed,
      servedByLeechers: copies.reduce((a, c) => a + c.uploaded, 0),
      copies,
      magnet: magnetSummary(`copy-${n}`, magnet, leechers.at(-1)!, namer(seedPort, leechers)),
      seedOk: seedExit === 0 && seedResult?.ok === true,
    };
    onEvent({ type: 'verified', summary, failures, seedExit });
    return { steps, summary };
  } finally {
    await h.stopAll();
  }
}

/** A download's percent done, from its latest progress, piece-verified or done event. */
function percent(c: DemoChild): number {
  const last = c.events.findLast((e) => e.type === 'progress' || e.type === 'piece-verified' || e.type === 'done');
  return last && last.totalBytes ? Math.floor((100 * last.doneBytes) / last.totalBytes) : 0;
}

/** The first connection to each distinct peer (by peer id) of a download: its `peer-connected` events. */
function connections(c: DemoChild): ChildEvent[] {
  const seen = new Map<string, ChildEvent>();
  for (const e of c.events) if (e.type === 'peer-connected' && !seen.has(e.peerId)) seen.set(e.peerId, e);
  return [...seen.values()];
}

/** "127.0.0.1:PORT" → "seed" or "download #i", from the ports the children listen on. */
function namer(seedPort: number, leechers: DemoChild[]): (peer: string) => string {
  const names = new Map<number, string>([[seedPort, 'seed']]);
  for (const c of leechers) {
    const port = c.events.find((e) => (e.type === 'started' || e.type === 'metadata-wanted') && e.listen)?.listen.port as number | undefined;
    if (port) names.set(port, c.name);
  }
  return (peer) => names.get(Number(peer.slice(peer.lastIndexOf(':') + 1))) ?? peer;
}

function magnetSummary(copy: string, link: string, c: DemoChild, name: (peer: string) => string): MagnetSummary {
  const m: ChildEvent | undefined = c.events.find((e) => e.type === 'metadata');
  const conns = connections(c);
  const bySource: Record<string, number> = {};
  for (const e of conns) bySource[e.source] = (bySource[e.source] ?? 0) + 1;
  const pex = conns.filter((e) => e.source === 'pex');
  return {
    copy,
    link,
    metadata: m ? { size: m.size, peers: m.peers, from: (m.peers as string[]).map(name), elapsedMs: m.elapsedMs } : null,
    peersBySource: bySource,
    pexPeers: pex.length,
    pexPeerNames: pex.map((e) => name(e.peer)).sort((x, y) => x.localeCompare(y, 'en', { numeric: true })),
  };
}
