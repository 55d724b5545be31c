/**
 * A BEP 17 HTTP seed for tests (there is no Debian package for one): node:http on 127.0.0.1,
 * port 0, a script at `/seed` that knows one torrent — its v1 info hash, piece length and piece
 * stream — and answers `?info_hash=<20 bytes, percent-encoded>&piece=<i>[&ranges=a-b,c-d]` with a
 * 200 and those bytes of the piece (ranges inclusive, relative to the piece, appended in order),
 * as the BEP describes. Another info hash is a 404; a malformed query a 400. Fault modes are
 * chosen per request (`fault`); `busy(n, seconds)` answers the next n requests with BEP 17's
 * 503 whose body is the number of seconds to wait.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface HttpSeedRequest {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  piece: number;
  /** Inclusive byte ranges inside the piece; the whole piece when none were given. */
  ranges: { start: number; end: number }[];
  /** The bytes a good script sends. */
  body: Buffer;
  /** Answer as a good script would. */
  serve(): void;
}

export interface HttpSeedServer {
  /** The URL to put in `httpseeds`. */
  url: string;
  /** Each request's `piece` and `ranges` text (null when absent), in arrival order. */
  requests: { piece: number; ranges: string | null }[];
  /** Return true when the fault answered the request. */
  fault: ((x: HttpSeedRequest) => boolean) | null;
  /** The next `n` requests get a 503 whose body is `seconds` (BEP 17's "retry after"). */
  busy(n: number, seconds: number): void;
  close(): Promise<void>;
}

/** Percent-decoding to bytes (a 20-byte hash is not UTF-8; URLSearchParams would mangle it). */
function decodeBytes(s: string): Buffer | null {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '%') {
      const hex = s.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) return null;
      out.push(parseInt(hex, 16));
      i += 2;
    } else if (c === '+') out.push(0x20);
    else out.push(c.charCodeAt(0) & 0xff);
  }
  return Buffer.from(out);
}

export async function startHttpSeed(torrent: { infoHash: Uint8Array; pieceLength: number; stream: Buffer }): Promise<HttpSeedServer> {
  const sockets = new Set<Socket>();
  let busy = { n: 0, seconds: 0 };
  const total = torrent.stream.length;
  const pieceCount = Math.ceil(total / torrent.pieceLength);
  const state: HttpSeedServer = {
    url: '',
    requests: [],
    fault: null,
    busy: (n, seconds) => {
      busy = { n, seconds };
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  const server = http.createServer((req, res) => {
    const bad = (why: string) => res.writeHead(400, { 'Content-Length': Buffer.byteLength(why) }).end(why);
    const [path, query = ''] = (req.url ?? '').split('?', 2) as [string, string?];
    if (path !== '/seed') return void res.writeHead(404, { 'Content-Length': 0 }).end();
    const params = new Map<string, string>();
    for (const kv of query.split('&')) {
      const i = kv.indexOf('=');
      if (i > 0) params.set(kv.slice(0, i), kv.slice(i + 1));
    }
    const hash = decodeBytes(params.get('info_hash') ?? '');
    const pieceText = params.get('piece') ?? '';
    const rangesText = params.get('ranges') ?? null;
    if (!hash || !/^\d+$/.test(pieceText)) return void bad('bad query');
    const piece = Number(pieceText);
    state.requests.push({ piece, ranges: rangesText });
    if (!hash.equals(Buffer.from(torrent.infoHash))) return void res.writeHead(404, { 'Content-Length': 15 }).end('unknown torrent');
    if (piece >= pieceCount) return void bad('no such piece');
    const pieceStart = piece * torrent.pieceLength;
    const pieceLen = Math.min(torrent.pieceLength, total - pieceStart);
    const ranges: { start: number; end: number }[] = [];
    for (const r of rangesText === null ? [] : rangesText.split(',')) {
      const m = /^(\d+)-(\d+)$/.exec(r);
      if (!m || Number(m[1]) > Number(m[2]) || Number(m[2]) >= pieceLen) return void bad('bad range');
      ranges.push({ start: Number(m[1]), end: Number(m[2]) });
    }
    if (ranges.length === 0) ranges.push({ start: 0, end: pieceLen - 1 });
    const body = Buffer.concat(ranges.map((r) => torrent.stream.subarray(pieceStart + r.start, pieceStart + r.end + 1)));
    const x: HttpSeedRequest = {
      req,
      res,
      piece,
      ranges,
      body,
      serve: () => void res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': body.length }).end(body),
    };
    if (busy.n > 0) {
      busy.n--;
      const text = String(busy.seconds);
      return void res.writeHead(503, { 'Content-Length': text.length }).end(text);
    }
    if (state.fault?.(x)) return;
    x.serve();
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/seed`;
  return state;
}
