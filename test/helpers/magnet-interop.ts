/**
 * What the magnet and PEX interop suites share: a magnet link built the way a user writes one, a
 * reference leecher run to its end (bounded), lt_get.py's JSON result, the `info` value's raw bytes
 * of a .torrent (found by walking the bencode here, not with btkit's decoder under test), and a
 * base port for a private libtorrent DHT.
 */
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';

/**
 * `magnet:?xt=urn:btih:HEX` with each `tr` (encoded as a URI component) and `x.pe` given. An
 * x.pe is written as is: host:port needs no escaping in a query, and libtorrent 2.0.8 does not
 * percent-decode x.pe (it drops `127.0.0.1%3A6881`).
 */
export function magnetLink(infoHashHex: string, parts: { name?: string; trackers?: string[]; peers?: string[] } = {}): string {
  const q = [`xt=urn:btih:${infoHashHex}`];
  if (parts.name) q.push(`dn=${encodeURIComponent(parts.name)}`);
  for (const t of parts.trackers ?? []) q.push(`tr=${encodeURIComponent(t)}`);
  for (const p of parts.peers ?? []) q.push(`x.pe=${p}`);
  return `magnet:?${q.join('&')}`;
}

export interface Finished {
  code: number | null;
  output: string;
}

/** Run a reference client to its end; SIGKILL after `timeoutMs`. Resolves its exit code and output. */
export function runToEnd(cmd: string, args: string[], timeoutMs = 60_000): Promise<Finished> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr.on('data', (b: Buffer) => (output += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** A peer connection lt_get.py --peer-log saw. */
export interface LtPeer {
  addr: string;
  outgoing: boolean;
  client: string;
  /** How libtorrent learned of the peer: tracker, dht, pex, lsd, resume_data, incoming. */
  source: string[];
  downloaded: number;
}

/** The one JSON line lt_get.py --json prints last. */
export function ltResult(output: string): { ok: boolean; metadata_s?: number | null; peer_log?: LtPeer[]; [k: string]: unknown } {
  const line = output
    .trim()
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('{'));
  if (!line) throw new Error(`lt_get.py printed no JSON result:\n${output.slice(-3000)}`);
  return JSON.parse(line);
}

/** Index just past the bencoded value that starts at `i` in `b`. */
function skipValue(b: Buffer, i: number): number {
  const c = b[i];
  if (c === 0x69) return b.indexOf(0x65, i) + 1; // i…e
  if (c === 0x6c || c === 0x64) {
    // l…e, d…e
    i++;
    while (b[i] !== 0x65) {
      if (i >= b.length) throw new Error('bencode: unterminated container');
      i = skipValue(b, i);
    }
    return i + 1;
  }
  const colon = b.indexOf(0x3a, i);
  if (colon < 0) throw new Error(`bencode: bad token at ${i}`);
  return colon + 1 + Number(b.subarray(i, colon).toString('latin1'));
}

/** The raw bytes of the top-level `info` value of a .torrent, exactly as they are in the file. */
export function infoSlice(torrent: Buffer): Buffer {
  if (torrent[0] !== 0x64) throw new Error('not a bencoded dictionary');
  let i = 1;
  while (torrent[i] !== 0x65) {
    const keyEnd = skipValue(torrent, i);
    const key = torrent.subarray(torrent.indexOf(0x3a, i) + 1, keyEnd).toString('latin1');
    const valueEnd = skipValue(torrent, keyEnd);
    if (key === 'info') return torrent.subarray(keyEnd, valueEnd);
    i = valueEnd;
  }
  throw new Error('no info key');
}

/** A base port with `count` consecutive ports free for both UDP and TCP on 127.0.0.1. */
export async function freePortRange(count: number): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 40_000);
    const held: (() => void)[] = [];
    let ok = true;
    for (let p = base; p < base + count && ok; p++) {
      try {
        const u = dgram.createSocket('udp4');
        held.push(() => u.close());
        await new Promise<void>((resolve, reject) => {
          u.once('error', reject);
          u.bind(p, '127.0.0.1', () => resolve());
        });
        const t = net.createServer();
        held.push(() => t.close());
        await new Promise<void>((resolve, reject) => {
          t.once('error', reject);
          t.listen(p, '127.0.0.1', () => resolve());
        });
      } catch {
        ok = false;
      }
    }
    for (const release of held) {
      try {
        release();
      } catch {
        // never bound: nothing to close
      }
    }
    if (ok) return base;
  }
  throw new Error('no free port range');
}
