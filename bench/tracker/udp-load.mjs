// bench/tracker/udp-load.mjs — a bounded BEP 15 load generator on loopback.
//
// Sends COUNT announces from PEERS distinct peers (distinct peer ids and ports) spread over
// TORRENTS infohashes to a UDP tracker on 127.0.0.1, keeping WINDOW requests in flight over
// SOCKETS sockets (each with its own connection id). No retransmission: an announce without an
// answer after LOSS_MS counts as lost. Every answer is checked; a "wrong" answer is one that is not
// a well-formed announce answer for its transaction (error action, bad length, a peer that no
// generator peer announced, more peers than asked for or than the swarm holds).
//
// Bounded in count (COUNT) and in time (MAX_SECONDS: whatever is still in flight then is lost).
// Used by bench/tracker/run.mjs; runnable alone:
//   node bench/tracker/udp-load.mjs PORT [COUNT] [PEERS]   → one JSON line
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';

export function infoHashes(n) {
  // Deterministic, so opentracker's whitelist can be written before it starts.
  return Array.from({ length: n }, (_, i) => Buffer.from(`${(i + 1).toString(16).padStart(2, '0')}`.repeat(20), 'hex'));
}

const PROTOCOL_ID = 0x41727101980n;
const PEER_PORT_BASE = 20000;

export async function udpLoad({ port, host = '127.0.0.1', count = 20000, peers = 2000, torrents = 10, window = 128, sockets = 4, numWant = 50, lossMs = 2000, maxSeconds = 60 }) {
  const hashes = infoHashes(torrents);
  const peerIds = Array.from({ length: peers }, (_, i) => Buffer.from(`-LD0001-${String(i).padStart(12, '0')}`));
  const announced = new Array(peers).fill(false);
  const perTorrent = new Array(torrents).fill(0);
  const socks = [];
  const stats = { sent: 0, answered: 0, lost: 0, wrong: 0, errors: 0, latenciesUs: [], wrongReasons: {} };
  const noteWrong = (why) => {
    stats.wrong++;
    stats.wrongReasons[why] = (stats.wrongReasons[why] ?? 0) + 1;
  };

  // --- connect every socket -------------------------------------------------------------------
  for (let s = 0; s < sockets; s++) {
    const sock = dgram.createSocket('udp4');
    await new Promise((r) => sock.bind(0, '127.0.0.1', r));
    sock.setRecvBufferSize?.(4 * 1024 * 1024);
    const tid = randomBytes(4).readUInt32BE(0);
    const req = Buffer.alloc(16);
    req.writeBigUInt64BE(PROTOCOL_ID, 0);
    req.writeUInt32BE(0, 8);
    req.writeUInt32BE(tid, 12);
    const connectionId = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no connect answer from ${host}:${port}`)), 5000);
      sock.once('message', (m) => {
        clearTimeout(timer);
        if (m.length < 16 || m.readUInt32BE(0) !== 0 || m.readUInt32BE(4) !== tid) return reject(new Error(`bad connect answer ${m.toString('hex')}`));
        resolve(m.readBigUInt64BE(8));
      });
      sock.send(req, port, host);
    });
    socks.push({ sock, connectionId, pending: new Map() });
  }

  // --- announce load --------------------------------------------------------------------------
  const started = process.hrtime.bigint();
  const deadline = Date.now() + maxSeconds * 1000;
  let next = 0;
  let finished = 0;
  let tidCounter = randomBytes(4).readUInt32BE(0);

  await new Promise((resolveAll) => {
    const done = () => {
      finished++;
      if (finished === count) resolveAll();
    };
    const sendOne = (s) => {
      if (next >= count || Date.now() > deadline) return;
      const k = next++;
      const peer = k % peers;
      const torrent = peer % torrents;
      const first = !announced[peer];
      if (first) {
        announced[peer] = true;
        perTorrent[torrent]++;
      }
      const tid = (tidCounter = (tidCounter + 1) >>> 0);
      const b = Buffer.alloc(98);
      b.writeBigUInt64BE(s.connectionId, 0);
      b.writeUInt32BE(1, 8);
      b.writeUInt32BE(tid, 12);
      hashes[torrent].copy(b, 16);
      peerIds[peer].copy(b, 36);
      b.writeBigUInt64BE(0n, 56); // downloaded
      b.writeBigUInt64BE(peer % 4 === 0 ? 0n : 1000n, 64); // left: a quarter are seeders
      b.writeBigUInt64BE(0n, 72); // uploaded
      b.writeUInt32BE(first ? 2 : 0, 80); // started, then none
      b.writeUInt32BE(0, 84);
      b.writeUInt32BE(peer, 88); // key
      b.writeInt32BE(numWant, 92);
      b.writeUInt16BE(PEER_PORT_BASE + peer, 96);
      const timer = setTimeout(() => {
        s.pending.delete(tid);
        stats.lost++;
        done();
        sendOne(s);
      }, lossMs);
      s.pending.set(tid, { at: process.hrtime.bigint(), timer, torrent });
      stats.sent++;
      s.sock.send(b, port, host);
    };
    for (const s of socks) {
      s.sock.on('message', (m) => {
        const at = process.hrtime.bigint();
        if (m.length < 8) return noteWrong('short');
        const tid = m.readUInt32BE(4);
        const p = s.pending.get(tid);
        if (!p) return noteWrong('unknown transaction id');
        s.pending.delete(tid);
        clearTimeout(p.timer);
        stats.answered++;
        stats.latenciesUs.push(Number(at - p.at) / 1000);
        const action = m.readUInt32BE(0);
        if (action === 3) {
          stats.errors++;
          noteWrong(`error: ${m.subarray(8).toString()}`);
        } else if (action !== 1 || m.length < 20 || (m.length - 20) % 6 !== 0) noteWrong('malformed announce answer');
        else {
          const leechers = m.readUInt32BE(12);
          const seeders = m.readUInt32BE(16);
          const n = (m.length - 20) / 6;
          if (m.readUInt32BE(8) === 0) noteWrong('zero interval');
          else if (n > numWant) noteWrong('more peers than numwant');
          else if (seeders + leechers > perTorrent[p.torrent]) noteWrong('counts exceed the peers announced');
          else {
            for (let i = 0; i < n; i++) {
              const off = 20 + 6 * i;
              const peerPort = m.readUInt16BE(off + 4);
              const peerIndex = peerPort - PEER_PORT_BASE;
              if (m.readUInt32BE(off) !== 0x7f000001 || peerIndex < 0 || peerIndex >= peers || peerIndex % torrents !== p.torrent || !announced[peerIndex]) {
                noteWrong('a peer nobody announced in this swarm');
                break;
              }
            }
          }
        }
        done();
        sendOne(s);
      });
    }
    const perSocket = Math.max(1, Math.floor(window / sockets));
    for (const s of socks) for (let i = 0; i < perSocket; i++) sendOne(s);
    // Time bound: whatever is not done by the deadline is lost.
    const guard = setInterval(() => {
      if (Date.now() <= deadline + lossMs) return;
      clearInterval(guard);
      stats.lost += count - finished;
      finished = count;
      resolveAll();
    }, 200);
    guard.unref();
  });

  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  for (const s of socks) {
    for (const p of s.pending.values()) clearTimeout(p.timer);
    s.sock.close();
  }
  const lat = stats.latenciesUs.sort((a, b) => a - b);
  const q = (f) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor(f * lat.length))] : null);
  return {
    count,
    peers,
    torrents,
    window,
    sent: stats.sent,
    answered: stats.answered,
    lost: stats.lost,
    wrong: stats.wrong,
    wrongReasons: stats.wrongReasons,
    seconds: Math.round(seconds * 1000) / 1000,
    rps: Math.round(stats.answered / seconds),
    p50Us: q(0.5) && Math.round(q(0.5)),
    p99Us: q(0.99) && Math.round(q(0.99)),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [port, count, peers] = process.argv.slice(2).map(Number);
  if (!port) {
    console.error('usage: node bench/tracker/udp-load.mjs PORT [COUNT] [PEERS]');
    process.exit(2);
  }
  console.log(JSON.stringify(await udpLoad({ port, ...(count ? { count } : {}), ...(peers ? { peers } : {}) })));
}
