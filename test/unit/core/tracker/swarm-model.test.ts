/**
 * The typed-array swarm store and its hash tables against a naive model (Maps and arrays), under
 * thousands of random announces, stops, expiries and evictions at the global cap: every answer's
 * counts, and every peer in it (one of that torrent's live peers, never the asker, never twice, as
 * many as numwant allows). Seeded, so a failure replays.
 */
import { describe, expect, it } from 'vitest';
import { InfoHashSet } from '../../../../src/core/tracker/infohash-set.js';
import { SwarmStore, type SwarmAnnounce } from '../../../../src/core/tracker/swarm.js';

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('InfoHashSet', () => {
  it('agrees with a Set through 20,000 random adds and deletes, indexes staying put', () => {
    const rand = prng(7);
    const set = new InfoHashSet(12345, 4);
    const model = new Map<string, number>();
    const key = (n: number) => Buffer.from(n.toString(16).padStart(40, '0'), 'hex');
    for (let step = 0; step < 20_000; step++) {
      const n = Math.floor(rand() * 3000);
      const k = key(n);
      const hexKey = k.toString('hex');
      if (rand() < 0.6) {
        const i = set.add(k, 0);
        if (model.has(hexKey) && i !== model.get(hexKey)) expect({ step, i }).toEqual({ step, i: model.get(hexKey) });
        model.set(hexKey, i);
      } else if (model.has(hexKey)) {
        set.delete(model.get(hexKey)!);
        model.delete(hexKey);
      }
      if (set.size !== model.size) expect({ step, size: set.size }).toEqual({ step, size: model.size });
    }
    for (let n = 0; n < 3000; n++) {
      const k = key(n);
      expect(set.find(k, 0)).toBe(model.get(k.toString('hex')) ?? -1);
    }
    for (const [hexKey, i] of model) expect(set.keyAt(i).toString('hex')).toBe(hexKey);
  });

  it('finds a key inside a larger buffer at an offset', () => {
    const set = new InfoHashSet(1);
    const packet = Buffer.alloc(60, 9);
    packet.fill(3, 16, 36);
    const i = set.add(Buffer.alloc(20, 3), 0);
    expect(set.find(packet, 16)).toBe(i);
    expect(set.find(packet, 17)).toBe(-1);
  });
});

interface ModelPeer {
  seeder: boolean;
  expiresAt: number;
}

describe('SwarmStore against a model', () => {
  for (const seed of [1, 2, 3]) {
    it(`random announces, stops, expiry and eviction (seed ${seed})`, () => {
      const rand = prng(seed);
      let now = 1_000_000;
      const TTL = 50_000;
      const CAP = 300;
      const s = new SwarmStore({ now: () => now, random: rand, peerTtlMs: TTL, maxPeers: CAP, maxNumWant: 40 });
      // torrent → peer key → peer; and every peer, least recently announced first.
      const model = new Map<number, Map<string, ModelPeer>>();
      const age = new Map<string, number>();
      const downloaded = new Map<number, number>();
      const hash = (t: number) => Buffer.alloc(20, t + 1);
      const keyOf = (t: number, ip: string, port: number) => `${t}|${ip}|${port}`;
      const dropFromModel = (k: string) => {
        const t = Number(k.split('|')[0]);
        const m = model.get(t)!;
        m.delete(k);
        age.delete(k);
        if (m.size === 0 && !downloaded.get(t)) model.delete(t);
      };
      for (let step = 0; step < 6000; step++) {
        now += Math.floor(rand() * 200);
        if (rand() < 0.01) {
          // The sweep: the model drops what is due.
          for (const [k] of [...age]) {
            const t = Number(k.split('|')[0]);
            if (model.get(t)!.get(k)!.expiresAt <= now) dropFromModel(k);
          }
          s.expire();
          for (const [t, m] of [...model]) if (m.size === 0 && !downloaded.get(t)) model.delete(t);
          expect(s.totalPeers).toBe(age.size);
          continue;
        }
        const t = Math.floor(rand() * 12);
        const v6 = rand() < 0.2;
        const host = Math.floor(rand() * 60);
        const ip = v6 ? `::${(host + 1).toString(16)}` : `127.0.${host >> 4}.${host & 15}`;
        const port = 6881 + Math.floor(rand() * 10);
        const seeder = rand() < 0.75;
        const r = rand();
        const event: SwarmAnnounce['event'] = r < 0.08 ? 'stopped' : r < 0.12 ? 'completed' : r < 0.3 ? 'started' : 'none';
        const numWant = rand() < 0.1 ? -1 : Math.floor(rand() * 50);
        const families: SwarmAnnounce['families'] = rand() < 0.5 ? 'both' : v6 ? 6 : 4;
        const k = keyOf(t, ip, port);
        const reply = s.announce({ infoHash: hash(t), peerId: Buffer.alloc(20, host), ip, port, left: seeder ? 0n : 5n, event, numWant, families });

        // The model's view of the same announce.
        if (event === 'stopped') {
          if (model.get(t)?.has(k)) {
            model.get(t)!.delete(k);
            age.delete(k);
          }
        } else {
          let m = model.get(t);
          if (!m) model.set(t, (m = new Map()));
          if (!m.has(k) && age.size >= CAP) {
            const oldest = age.keys().next().value!;
            const ot = Number(oldest.split('|')[0]);
            model.get(ot)!.delete(oldest);
            age.delete(oldest);
            if (ot !== t && model.get(ot)!.size === 0 && !downloaded.get(ot)) model.delete(ot);
          }
          m.set(k, { seeder, expiresAt: now + TTL });
          age.delete(k);
          age.set(k, now);
          if (event === 'completed') downloaded.set(t, (downloaded.get(t) ?? 0) + 1);
        }
        const m = model.get(t);
        const peersOf = m ? [...m.entries()] : [];
        const seeders = peersOf.filter(([, p]) => p.seeder).length;
        // Plain checks (expect per step is most of the time here); the first mismatch fails the test.
        const at = `step ${step}, ${event} from ${k}`;
        const want = { complete: seeders, incomplete: peersOf.length - seeders, downloaded: m ? (downloaded.get(t) ?? 0) : reply.downloaded };
        if (reply.complete !== want.complete || reply.incomplete !== want.incomplete || reply.downloaded !== want.downloaded) {
          expect({ at, complete: reply.complete, incomplete: reply.incomplete, downloaded: reply.downloaded }).toEqual({ at, ...want });
        }
        if (s.totalPeers !== age.size) expect({ at, peers: s.totalPeers }).toEqual({ at, peers: age.size });
        if (event === 'stopped') {
          if (reply.peers.length !== 0) expect({ at, peers: reply.peers }).toEqual({ at, peers: [] });
          continue;
        }
        const eligible = new Set(peersOf.filter(([pk, p]) => pk !== k && p.expiresAt > now && (families === 'both' || (pk.includes(':') ? 6 : 4) === families)).map(([pk]) => pk));
        const n = Math.min(Math.min(numWant < 0 ? 50 : numWant, 40), eligible.size);
        if (reply.peers.length !== n) expect({ at, returned: reply.peers.length }).toEqual({ at, returned: n });
        const seen = new Set<string>();
        for (const p of reply.peers) {
          const pk = keyOf(t, p.ip, p.port);
          if (pk === k || seen.has(pk) || !eligible.has(pk)) expect({ at, peer: pk, asker: pk === k, twice: seen.has(pk) }).toEqual({ at, peer: pk, asker: false, twice: false, eligible: true });
          seen.add(pk);
        }
      }
      expect(s.torrentCount).toBeLessThanOrEqual(12);
    });
  }
});
