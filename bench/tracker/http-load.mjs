// bench/tracker/http-load.mjs — HTTP announces (BEP 3, compact=1, numwant 30) against a tracker on
// 127.0.0.1, over raw TCP connections so the client's own cost stays small: CONNECTIONS
// connections, each from its own loopback address (127.(1 + c>>8).(c & 255).1), one request at a
// time on each, kept alive when the server allows it, a new connection when it closes (opentracker
// closes after each answer). The same workload as swarm-load.mjs (skewed torrents, 75 % seeders);
// peer p announces port PORT_BASE + p. An answer counts when it is a 200 whose bencoded body holds
// `interval` and `peers`; anything else, or a connection error, is `failed`.
import net from 'node:net';
import { benchInfoHashes, prng, PORT_BASE } from './swarm-load.mjs';

const pct = (b) => {
  let s = '';
  for (const x of b) s += `%${x.toString(16).padStart(2, '0')}`;
  return s;
};

export async function httpLoad({ port, host = '127.0.0.1', torrents = 10000, peers = 20000, count = 20000, connections = 32, skew = 3, seederShare = 0.75, maxSeconds = 120, seed = 1 }) {
  const rand = prng(seed);
  const hashes = benchInfoHashes(torrents).map(pct);
  const torrentOf = new Int32Array(peers);
  const seeder = new Uint8Array(peers);
  for (let p = 0; p < peers; p++) {
    torrentOf[p] = Math.min(torrents - 1, Math.floor(torrents * Math.pow(rand(), skew)));
    seeder[p] = rand() < seederShare ? 1 : 0;
  }
  const started = new Uint8Array(peers);
  let next = 0;
  let answered = 0;
  let failed = 0;
  let reconnects = 0;
  // Set once a server is seen closing a kept-alive connection right after an answer (opentracker
  // does, though it answers HTTP/1.1 without `Connection: close`): from then on each connection
  // carries one request, and the request caught by the close is sent again.
  let serverCloses = false;
  const deadline = Date.now() + maxSeconds * 1000;
  const t0 = process.hrtime.bigint();

  const request = (p) => {
    const first = started[p] === 0;
    started[p] = 1;
    const id = `-BB0001-${String(p).padStart(12, '0')}`;
    return `GET /announce?info_hash=${hashes[torrentOf[p]]}&peer_id=${id}&port=${PORT_BASE + (p % 50000)}&uploaded=0&downloaded=0&left=${seeder[p] ? 0 : 1048576}&compact=1&numwant=30${first ? '&event=started' : ''} HTTP/1.1\r\nHost: ${host}:${port}\r\nConnection: keep-alive\r\n\r\n`;
  };

  await Promise.all(
    Array.from({ length: connections }, (_, c) => new Promise((resolveConn) => {
      const localAddress = `127.${1 + (c >> 8)}.${c & 255}.1`;
      let sock = null;
      let buf = Buffer.alloc(0);
      let waiting = false;
      let pendingReq = null;
      let answeredHere = 0;
      const open = () => {
        answeredHere = 0;
        sock = net.connect({ port, host, localAddress });
        sock.setNoDelay(true);
        buf = Buffer.alloc(0);
        sock.on('connect', () => {
          if (pendingReq !== null) sock.write(pendingReq);
          else sendNext();
        });
        sock.on('data', (d) => {
          buf = buf.length ? Buffer.concat([buf, d]) : d;
          parse(false);
        });
        sock.on('error', () => {});
        sock.on('close', () => {
          if (waiting && buf.length === 0 && answeredHere > 0) serverCloses = true;
          else if (waiting) {
            parse(true);
            pendingReq = null;
          }
          sock = null;
          if ((next < count || pendingReq !== null) && Date.now() < deadline) {
            reconnects++;
            open();
          } else resolveConn();
        });
      };
      const sendNext = () => {
        if (next >= count || Date.now() > deadline) {
          waiting = false;
          sock?.end();
          return;
        }
        const k = next++;
        // Each connection has its own address: peer p is the k-th announce's slot on it.
        const p = (k * 7919) % peers;
        waiting = true;
        pendingReq = request(p);
        sock.write(pendingReq);
      };
      const parse = (closed) => {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) {
          if (closed) failed++;
          return;
        }
        const head = buf.subarray(0, end).toString('latin1');
        const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
        const len = m ? Number(m[1]) : closed ? buf.length - end - 4 : -1;
        if (len < 0 || buf.length < end + 4 + len) {
          if (closed) failed++;
          return;
        }
        const body = buf.subarray(end + 4, end + 4 + len).toString('latin1');
        buf = buf.subarray(end + 4 + len);
        waiting = false;
        pendingReq = null;
        answeredHere++;
        if (/^HTTP\/1\.[01] 200/.test(head) && body.startsWith('d') && body.includes('8:interval') && body.includes('5:peers')) answered++;
        else failed++;
        const keep = !/\r\nconnection:\s*close/i.test(head) && !/^HTTP\/1\.0/.test(head);
        if (keep && !closed && !serverCloses) sendNext();
        else sock?.end();
      };
      open();
    })),
  );
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { count, connections, answered, failed, reconnects, seconds: Math.round(seconds * 1000) / 1000, rps: Math.round(answered / seconds) };
}
