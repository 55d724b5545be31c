// bench/tracker/swarm-load.mjs — a BEP 15 load shaped like aquatic's `udp_load_test`, on loopback,
// that checks every answer.
//
// The workload (deterministic: a seeded PRNG, so opentracker's whitelist is written beforehand):
// - TORRENTS infohashes (SHA-1 of "btkit-bench-<i>") with a skewed popularity: a peer joins
//   torrent floor(TORRENTS · u^SKEW) for u uniform in [0, 1) (SKEW 3: the most popular tenth of
//   the torrents holds ~46 % of the peers; aquatic draws from a Pareto distribution to the same end).
// - PEERS distinct peers, each one (source address, announced port) in one torrent; 75 % are
//   seeders (left = 0). The peers send from SOURCES sockets, each bound to its own loopback
//   address 127.(1 + s>>8).(s & 255).1; peer p sends from socket p % SOURCES and announces port
//   PORT_BASE + floor(p / SOURCES). So an answer's peer entry names its peer exactly.
// - COUNT announces, numwant 30: peers in a shuffled order, round after round (a peer's first
//   announce is `started`, later ones `none`); besides, with probability SCRAPE_SHARE, a scrape of
//   1–10 torrents drawn with the same skew. WINDOW requests in flight; no retransmission: a request
//   without an answer after LOSS_MS is lost. Connection ids are renewed every 50 s.
//
// Every answer is checked against a model of what the tracker must hold. No peer ever leaves (no
// `stopped`, a TTL far above the run), so for an answer the right seeder count lies between the
// seeders whose first announce was answered before the request was sent (plus the asker when it is
// one, on its first announce) and those whose first announce had been sent when the answer came;
// leechers the same. An answer is wrong when its interval is not the expected one, a count is
// outside its bounds, it holds more than numwant peers, a peer twice, or a peer that is not (yet)
// in that torrent. With `strict` (btkit) the asker in its own answer is wrong too, and so is a short
// answer: fewer peers than the torrent surely had to give, min(numwant, lower bound − 1). Without
// it both are only counted (`selfInAnswer`, `short`): opentracker answers with the asker among its
// peers.
//
// Bounded in count and in time (MAX_SECONDS; whatever is in flight then is lost).
import dgram from 'node:dgram';
import { createHash } from 'node:crypto';

export const PORT_BASE = 10000;
const PROTOCOL_ID_HI = 0x417;
const PROTOCOL_ID_LO = 0x27101980;

/** The bench's infohashes, as 20-byte Buffers. */
export function benchInfoHashes(n) {
  return Array.from({ length: n }, (_, i) => createHash('sha1').update(`btkit-bench-${i}`).digest());
}

/** A small seeded PRNG (mulberry32): the same workload for every tracker and every run. */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const sourceAddress = (s) => `127.${1 + (s >> 8)}.${s & 255}.1`;

/**
 * Run the load against a UDP tracker on 127.0.0.1:`port`. `interval`: [min, max] seconds an answer's
 * interval must lie in. `strict`: a short answer is wrong. Resolves with counts and latencies.
 */
export async function swarmLoad({
  port,
  host = '127.0.0.1',
  torrents = 10000,
  peers = 20000,
  count = 100000,
  sources = 64,
  window = 256,
  numWant = 30,
  seederShare = 0.75,
  scrapeShare = 0.05,
  skew = 3,
  lossMs = 2000,
  maxSeconds = 300,
  interval = [1, 1e9],
  strict = false,
  seed = 1,
}) {
  const rand = prng(seed);
  const hashes = benchInfoHashes(torrents);
  const pickTorrent = () => Math.min(torrents - 1, Math.floor(torrents * Math.pow(rand(), skew)));
  const torrentOf = new Int32Array(peers);
  const seeder = new Uint8Array(peers);
  for (let p = 0; p < peers; p++) {
    torrentOf[p] = pickTorrent();
    seeder[p] = rand() < seederShare ? 1 : 0;
  }
  const order = new Int32Array(peers).map((_, i) => i);
  for (let i = peers - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  // The model: per torrent, seeders/leechers whose first announce was sent, and answered.
  const sentS = new Int32Array(torrents);
  const sentL = new Int32Array(torrents);
  const ackS = new Int32Array(torrents);
  const ackL = new Int32Array(torrents);
  const started = new Uint8Array(peers); // 1: first announce sent; 2: answered

  const stats = {
    announces: 0, scrapes: 0, answered: 0, lost: 0, wrong: 0, short: 0, selfInAnswer: 0, errors: 0,
    wrongReasons: {}, latUs: new Float64Array(Math.ceil(count * (1 + 2 * scrapeShare)) + 1024), nLat: 0,
  };
  const wrong = (why) => {
    stats.wrong++;
    stats.wrongReasons[why] = (stats.wrongReasons[why] ?? 0) + 1;
  };

  // --- sockets, each on its own loopback address, each with a connection id ---------------------
  const socks = [];
  for (let s = 0; s < sources; s++) {
    const sock = dgram.createSocket('udp4');
    await new Promise((resolve, reject) => {
      sock.once('error', reject);
      sock.bind(0, sourceAddress(s), () => {
        sock.off('error', reject);
        resolve();
      });
    });
    sock.connect(port, host);
    await new Promise((r) => sock.once('connect', r));
    try {
      sock.setRecvBufferSize(1 << 20);
    } catch {
      /* the default will do */
    }
    socks.push({ sock, s, idHi: 0, idLo: 0, idAt: 0, connectTid: -1, pending: new Map() });
  }
  let tidCounter = Math.floor(rand() * 2 ** 32);
  const nextTid = () => (tidCounter = (tidCounter + 1) >>> 0);
  const connect = (x) => {
    const b = Buffer.allocUnsafe(16);
    b.writeUInt32BE(PROTOCOL_ID_HI, 0);
    b.writeUInt32BE(PROTOCOL_ID_LO, 4);
    b.writeUInt32BE(0, 8);
    x.connectTid = nextTid();
    b.writeUInt32BE(x.connectTid, 12);
    x.sock.send(b);
  };
  await Promise.all(
    socks.map(
      (x) =>
        new Promise((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`no connect answer from ${host}:${port}`)), 10_000);
          x.sock.once('message', (m) => {
            clearTimeout(timer);
            if (m.length < 16 || m.readUInt32BE(0) !== 0 || m.readUInt32BE(4) !== x.connectTid) return reject(new Error(`bad connect answer ${m.toString('hex')}`));
            x.idHi = m.readUInt32BE(8);
            x.idLo = m.readUInt32BE(12);
            x.idAt = Date.now();
            x.connectTid = -1;
            resolve();
          });
          connect(x);
        }),
    ),
  );

  // --- the load ---------------------------------------------------------------------------------
  const t0 = process.hrtime.bigint();
  const deadline = Date.now() + maxSeconds * 1000;
  let nextAnnounce = 0;
  let inFlight = 0;
  let resolveAll;
  const allDone = new Promise((r) => (resolveAll = r));
  const finish = () => {
    if (nextAnnounce >= count && inFlight === 0) resolveAll();
  };

  const sendAnnounce = () => {
    const k = nextAnnounce++;
    const p = order[k % peers];
    const x = socks[p % sources];
    const t = torrentOf[p];
    const first = started[p] === 0;
    if (first) {
      started[p] = 1;
      if (seeder[p]) sentS[t]++;
      else sentL[t]++;
    }
    const tid = nextTid();
    const b = Buffer.allocUnsafe(98);
    b.writeUInt32BE(x.idHi, 0);
    b.writeUInt32BE(x.idLo, 4);
    b.writeUInt32BE(1, 8);
    b.writeUInt32BE(tid, 12);
    hashes[t].copy(b, 16);
    b.write('-BB0001-', 36, 'latin1');
    b.writeUInt32BE(0, 44);
    b.writeUInt32BE(0, 48);
    b.writeUInt32BE(p, 52);
    b.fill(0, 56, 64); // downloaded
    b.writeUInt32BE(0, 64);
    b.writeUInt32BE(seeder[p] ? 0 : 1 << 20, 68); // left
    b.fill(0, 72, 80); // uploaded
    b.writeUInt32BE(first ? 2 : 0, 80);
    b.writeUInt32BE(0, 84);
    b.writeUInt32BE(p, 88);
    b.writeInt32BE(numWant, 92);
    b.writeUInt16BE(PORT_BASE + Math.floor(p / sources), 96);
    // Lower bounds at send time: what was surely in the torrent before the tracker saw this.
    const loS = ackS[t] + (first && seeder[p] ? 1 : 0);
    const loL = ackL[t] + (first && !seeder[p] ? 1 : 0);
    track(x, tid, { kind: 1, p, t, first, loS, loL });
    stats.announces++;
    x.sock.send(b);
  };

  const sendScrape = (x) => {
    const n = 1 + Math.floor(rand() * 10);
    const ts = [];
    for (let i = 0; i < n; i++) ts.push(pickTorrent());
    const tid = nextTid();
    const b = Buffer.allocUnsafe(16 + 20 * n);
    b.writeUInt32BE(x.idHi, 0);
    b.writeUInt32BE(x.idLo, 4);
    b.writeUInt32BE(2, 8);
    b.writeUInt32BE(tid, 12);
    ts.forEach((t, i) => hashes[t].copy(b, 16 + 20 * i));
    track(x, tid, { kind: 2, ts, lo: ts.map((t) => [ackS[t], ackL[t]]) });
    stats.scrapes++;
    x.sock.send(b);
  };

  function track(x, tid, req) {
    req.at = process.hrtime.bigint();
    req.timer = setTimeout(() => {
      x.pending.delete(tid);
      stats.lost++;
      inFlight--;
      pump();
    }, lossMs);
    x.pending.set(tid, req);
    inFlight++;
  }

  function pump() {
    if (Date.now() > deadline) nextAnnounce = Math.max(nextAnnounce, count);
    while (inFlight < window && nextAnnounce < count) {
      const k = nextAnnounce;
      const x = socks[order[k % peers] % sources];
      if (x.connectTid !== -1) break; // its connection id is being renewed
      if (Date.now() - x.idAt > 50_000) {
        connect(x);
        break;
      }
      if (scrapeShare > 0 && rand() < scrapeShare) sendScrape(x);
      else sendAnnounce();
    }
    finish();
  }

  const check = (x, req, m) => {
    if (m.length >= 8 && m.readUInt32BE(0) === 3) {
      stats.errors++;
      return wrong(`error: ${m.subarray(8).toString().slice(0, 60)}`);
    }
    if (req.kind === 2) {
      if (m.length !== 8 + 12 * req.ts.length || m.readUInt32BE(0) !== 2) return wrong('malformed scrape answer');
      for (let i = 0; i < req.ts.length; i++) {
        const t = req.ts[i];
        const complete = m.readUInt32BE(8 + 12 * i);
        const incomplete = m.readUInt32BE(16 + 12 * i);
        if (complete < req.lo[i][0] || complete > sentS[t] || incomplete < req.lo[i][1] || incomplete > sentL[t]) return wrong('scrape counts out of bounds');
      }
      return;
    }
    const { p, t } = req;
    if (m.readUInt32BE(0) !== 1 || m.length < 20 || (m.length - 20) % 6 !== 0) return wrong('malformed announce answer');
    const iv = m.readUInt32BE(8);
    if (iv < interval[0] || iv > interval[1]) return wrong('interval');
    const leechers = m.readUInt32BE(12);
    const seeders = m.readUInt32BE(16);
    if (seeders < req.loS || seeders > sentS[t] || leechers < req.loL || leechers > sentL[t]) return wrong('counts out of bounds');
    const n = (m.length - 20) / 6;
    if (n > numWant) return wrong('more peers than numwant');
    const seen = new Set();
    for (let i = 0; i < n; i++) {
      const off = 20 + 6 * i;
      const a = m[off];
      const hi = m[off + 1];
      const lo = m[off + 2];
      const s = (hi - 1) * 256 + lo;
      const q = s + sources * (m.readUInt16BE(off + 4) - PORT_BASE);
      if (a !== 127 || m[off + 3] !== 1 || s < 0 || s >= sources || q < 0 || q >= peers) return wrong('a peer the bench never announced');
      if (q === p) {
        // opentracker puts the asker in its own answer; btkit must not (strict).
        stats.selfInAnswer++;
        if (strict) return wrong('the asker in its own answer');
        continue;
      }
      if (torrentOf[q] !== t) return wrong('a peer of another torrent');
      if (started[q] === 0) return wrong('a peer that had not announced yet');
      if (seen.has(q)) return wrong('a peer twice');
      seen.add(q);
    }
    // Peers other than the asker; a tracker that counts the asker within numwant may give one fewer.
    const surely = Math.min(numWant, req.loS + req.loL - 1) - (strict ? 0 : 1);
    if (seen.size < surely) {
      stats.short++;
      if (strict) return wrong('fewer peers than the torrent held');
    }
  };

  for (const x of socks) {
    x.sock.on('message', (m) => {
      const at = process.hrtime.bigint();
      if (m.length < 8) return wrong('short packet');
      const tid = m.readUInt32BE(4);
      if (tid === x.connectTid && m.readUInt32BE(0) === 0 && m.length >= 16) {
        x.idHi = m.readUInt32BE(8);
        x.idLo = m.readUInt32BE(12);
        x.idAt = Date.now();
        x.connectTid = -1;
        return pump();
      }
      const req = x.pending.get(tid);
      if (!req) return wrong('unknown transaction id');
      x.pending.delete(tid);
      clearTimeout(req.timer);
      inFlight--;
      stats.answered++;
      if (stats.nLat < stats.latUs.length) stats.latUs[stats.nLat++] = Number(at - req.at) / 1000;
      check(x, req, m);
      if (req.kind === 1 && req.first) {
        started[req.p] = 2;
        if (seeder[req.p]) ackS[req.t]++;
        else ackL[req.t]++;
      }
      pump();
    });
  }
  pump();
  const guard = setInterval(() => {
    if (Date.now() > deadline + lossMs + 1000) {
      for (const x of socks) for (const r of x.pending.values()) clearTimeout(r.timer);
      stats.lost += inFlight;
      inFlight = 0;
      nextAnnounce = count;
      resolveAll();
    }
  }, 250);
  await allDone;
  clearInterval(guard);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  for (const x of socks) x.sock.close();
  const lat = stats.latUs.subarray(0, stats.nLat).sort();
  const q = (f) => (lat.length ? Math.round(lat[Math.min(lat.length - 1, Math.floor(f * lat.length))]) : null);
  let peersSeen = 0;
  for (let p = 0; p < peers; p++) if (started[p]) peersSeen++;
  return {
    torrents, peers: peersSeen, sources, window, numWant,
    announces: stats.announces, scrapes: stats.scrapes, answered: stats.answered,
    lost: stats.lost, wrong: stats.wrong, short: stats.short, selfInAnswer: stats.selfInAnswer, errors: stats.errors,
    wrongReasons: stats.wrongReasons,
    seconds: Math.round(seconds * 1000) / 1000,
    rps: Math.round(stats.answered / seconds),
    p50Us: q(0.5), p99Us: q(0.99),
  };
}
