/**
 * Block scheduling: 16 KiB geometry, started pieces first, receipt statuses, release and expiry,
 * endgame duplicates and cancels, bad-data attribution, pipeline depth, and a randomized swarm
 * simulation that must always complete the wanted pieces with the invariants intact.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Bitfield } from '../../../../src/core/pieces/bitfield.js';
import { BlockScheduler, DEFAULT_REQQ, PieceGeometry, TrustLedger, pipelineDepth } from '../../../../src/core/pieces/blocks.js';
import { PiecePicker } from '../../../../src/core/pieces/picker.js';
import { seeded } from './rng.js';

const KiB = 1024;

function setup(totalLength: number, pieceLength: number, options: { priorities?: number[]; seed?: number; maxEndgameRequesters?: number } = {}) {
  const geometry = new PieceGeometry(totalLength, pieceLength);
  const picker = new PiecePicker({ pieceCount: geometry.pieceCount, rng: seeded(options.seed ?? 1), sequential: true, priorities: options.priorities });
  const s = new BlockScheduler<string>({ picker, geometry, maxEndgameRequesters: options.maxEndgameRequesters });
  return { geometry, picker, s };
}

const refs = (rs: { index: number; begin: number }[]) => rs.map((r) => `${r.index}:${r.begin / (16 * KiB)}`);

describe('PieceGeometry', () => {
  it('splits pieces into 16 KiB blocks with a short last piece and block', () => {
    const g = new PieceGeometry(100_000, 32 * KiB);
    expect([g.pieceCount, g.blocksPerPiece]).toEqual([4, 2]);
    expect([0, 1, 2, 3].map((i) => g.pieceSize(i))).toEqual([32768, 32768, 32768, 1696]);
    expect([0, 1, 2, 3].map((i) => g.blockCount(i))).toEqual([2, 2, 2, 1]);
    expect(g.block(3, 0)).toEqual({ index: 3, begin: 0, length: 1696 });
    expect(g.block(1, 1)).toEqual({ index: 1, begin: 16384, length: 16384 });
  });

  it('recognises only exact blocks', () => {
    const g = new PieceGeometry(100_000, 32 * KiB);
    expect(g.blockOf(1, 16384, 16384)).toBe(1);
    expect(g.blockOf(3, 0, 1696)).toBe(0);
    expect([g.blockOf(3, 0, 16384), g.blockOf(1, 100, 16384), g.blockOf(1, 32768, 16384), g.blockOf(4, 0, 16384), g.blockOf(-1, 0, 1)]).toEqual([
      -1, -1, -1, -1, -1,
    ]);
  });
});

describe('requests', () => {
  it('requests blocks in order and finishes started pieces before new ones', () => {
    const { s } = setup(4 * 64 * KiB, 64 * KiB);
    expect(refs(s.request('a', 'all', 2))).toEqual(['0:0', '0:1']);
    expect(refs(s.request('b', 'all', 3))).toEqual(['0:2', '0:3', '1:0']);
    expect(s.outstandingCount('a')).toBe(2);
    expect(s.inProgress()).toEqual([0, 1]);
  });

  it('asks only for pieces the peer has and may be asked for', () => {
    const { s } = setup(4 * 16 * KiB, 16 * KiB);
    const has = new Bitfield(4);
    has.set(2);
    has.set(3);
    expect(refs(s.request('a', has, 10, { canRequest: (i) => i === 3 }))).toEqual(['3:0']);
  });

  it('never requests a priority 0 piece', () => {
    const { s } = setup(4 * 16 * KiB, 16 * KiB, { priorities: [0, 1, 0, 1] });
    expect(refs(s.request('a', 'all', 10))).toEqual(['1:0', '3:0']);
  });
});

describe('receiving', () => {
  it('accepts requested blocks and says when a piece is complete', () => {
    const { s } = setup(2 * 32 * KiB, 32 * KiB);
    s.request('a', 'all', 2);
    expect(s.received('a', 0, 0, 16384)).toMatchObject({ status: 'accepted', requested: true, pieceComplete: false, cancels: [] });
    expect(s.received('a', 0, 16384, 16384)).toMatchObject({ status: 'accepted', pieceComplete: true });
    expect(s.outstandingCount('a')).toBe(0);
    expect(s.received('a', 0, 0, 16384).status).toBe('duplicate');
  });

  it('classifies unrequested, invalid and already-had blocks', () => {
    const { s } = setup(2 * 32 * KiB, 32 * KiB);
    expect(s.received('a', 1, 0, 16384).status).toBe('unrequested');
    s.request('a', 'all', 1);
    expect(s.received('a', 0, 1, 16384).status).toBe('invalid');
    expect(s.received('a', 0, 0, 100).status).toBe('invalid');
    expect(s.received('a', 9, 0, 16384).status).toBe('invalid');
    s.received('a', 0, 0, 16384);
    s.request('a', 'all', 1);
    s.received('a', 0, 16384, 16384);
    s.pieceVerified(0);
    expect(s.received('b', 0, 0, 16384).status).toBe('duplicate');
  });

  it('keeps a late block that arrives after its request was given to another peer', () => {
    const { s } = setup(32 * KiB, 32 * KiB);
    s.request('a', 'all', 1, { now: 0 });
    expect(s.expire(60_000, 30_000)).toEqual([{ peer: 'a', request: { index: 0, begin: 0, length: 16384 } }]);
    expect(refs(s.request('b', 'all', 1))).toEqual(['0:0']);
    const r = s.received('a', 0, 0, 16384);
    expect(r).toMatchObject({ status: 'accepted', requested: false });
    expect(r.cancels).toEqual([{ peer: 'b', request: { index: 0, begin: 0, length: 16384 } }]);
  });
});

describe('releasing', () => {
  it('hands a rejected block to the next peer', () => {
    const { s } = setup(32 * KiB, 32 * KiB);
    const [first] = s.request('a', 'all', 1);
    expect(s.release('a', first!)).toBe(true);
    expect(s.release('a', first!)).toBe(false);
    expect(refs(s.request('b', 'all', 1))).toEqual(['0:0']);
  });

  it('releases everything of a peer that leaves', () => {
    const { s } = setup(64 * KiB, 32 * KiB);
    s.request('a', 'all', 3);
    expect(refs(s.releasePeer('a'))).toEqual(['0:0', '0:1', '1:0']);
    expect(s.outstandingCount('a')).toBe(0);
    expect(refs(s.request('b', 'all', 4))).toEqual(['0:0', '0:1', '1:0', '1:1']);
  });

  it('counts a late block for an expired request as received, so endgame can still begin', () => {
    const { s } = setup(32 * KiB, 32 * KiB);
    s.request('a', 'all', 2, { now: 0 });
    expect(s.expire(30_000, 30_000)).toHaveLength(2);
    expect(s.received('a', 0, 0, 16384)).toMatchObject({ status: 'accepted', requested: false });
    expect(refs(s.request('b', 'all', 5))).toEqual(['0:1']);
    expect(s.endgame).toBe(true);
  });

  it('expires only requests older than the timeout', () => {
    const { s } = setup(64 * KiB, 32 * KiB);
    s.request('a', 'all', 1, { now: 0 });
    s.request('a', 'all', 1, { now: 20_000 });
    expect(refs(s.expire(30_000, 30_000).map((e) => e.request))).toEqual(['0:0']);
    expect(refs(s.outstandingOf('a'))).toEqual(['0:1']);
  });
});

describe('endgame', () => {
  it('starts only when every wanted block is requested', () => {
    const { s } = setup(2 * 32 * KiB, 32 * KiB, { priorities: [1, 0] });
    s.request('a', 'all', 1);
    expect(s.endgame).toBe(false);
    s.request('a', 'all', 1);
    expect(s.endgame).toBe(true); // piece 1 is skipped, so nothing else is wanted
  });

  it('requests blocks again from other peers and cancels the copies when one arrives', () => {
    const { s } = setup(32 * KiB, 32 * KiB);
    expect(refs(s.request('a', 'all', 4))).toEqual(['0:0', '0:1']);
    expect(s.endgame).toBe(true);
    expect(refs(s.request('b', 'all', 4))).toEqual(['0:0', '0:1']);
    expect(s.request('a', 'all', 4)).toEqual([]); // a peer never gets the same block twice
    const r0 = s.received('a', 0, 0, 16384);
    expect(r0.cancels).toEqual([{ peer: 'b', request: { index: 0, begin: 0, length: 16384 } }]);
    const r1 = s.received('b', 0, 16384, 16384);
    expect(r1).toMatchObject({ status: 'accepted', pieceComplete: true });
    expect(r1.cancels).toEqual([{ peer: 'a', request: { index: 0, begin: 16384, length: 16384 } }]);
    expect([s.outstandingCount('a'), s.outstandingCount('b')]).toEqual([0, 0]);
    expect(s.received('b', 0, 0, 16384).status).toBe('duplicate'); // b's copy, sent before our cancel arrived
  });

  it('spreads duplicates to the least-requested blocks first and can cap them', () => {
    const { s } = setup(48 * KiB, 48 * KiB, { maxEndgameRequesters: 2 });
    s.request('a', 'all', 3);
    expect(refs(s.request('b', 'all', 1))).toEqual(['0:0']);
    expect(refs(s.request('c', 'all', 3))).toEqual(['0:1', '0:2']);
  });
});

describe('endgame with endgameBatch (peer connections)', () => {
  // Two pieces of 8 blocks; peer a holds every block (its pipeline), then b comes for more.
  const inEndgame = () => {
    const t = setup(2 * 128 * KiB, 128 * KiB);
    expect(t.s.request('a', 'all', 16)).toHaveLength(16);
    expect(t.s.endgame).toBe(true);
    return t;
  };

  it('a peer with requests of its own outstanding gets no duplicates, however much room it has', () => {
    const { s } = inEndgame();
    expect(refs(s.request('b', 'all', 1, { endgameBatch: 4 }))).toEqual(['0:0']);
    // b now waits on a block of its own: it asks for no copies of a's other blocks meanwhile.
    expect(s.request('b', 'all', 100, { endgameBatch: 4 })).toEqual([]);
    expect(s.outstandingCount('b')).toBe(1);
  });

  it('an idle peer gets at most endgameBatch duplicates, the least duplicated first; more once they are answered', () => {
    const { s } = inEndgame();
    expect(refs(s.request('b', 'all', 100, { endgameBatch: 4 }))).toEqual(['0:0', '0:1', '0:2', '0:3']);
    expect(refs(s.request('c', 'all', 100, { endgameBatch: 4 }))).toEqual(['0:4', '0:5', '0:6', '0:7']);
    // b's copies arrive first: a's requests for those blocks are cancelled.
    for (let b = 0; b < 4; b++) expect(s.received('b', 0, b * 16 * KiB, 16 * KiB).cancels).toEqual([{ peer: 'a', request: { index: 0, begin: b * 16 * KiB, length: 16 * KiB } }]);
    expect(s.outstandingCount('b')).toBe(0);
    expect(refs(s.request('b', 'all', 100, { endgameBatch: 4 }))).toEqual(['1:0', '1:1', '1:2', '1:3']);
  });

  it('without endgameBatch (a web seed run) the whole room is filled with duplicates, as before', () => {
    const { s } = inEndgame();
    expect(s.request('b', 'all', 1)).toHaveLength(1);
    expect(s.request('b', 'all', 100)).toHaveLength(15);
  });

  it('fresh blocks are still taken whole: the batch limits duplicates only', () => {
    const { s } = setup(2 * 128 * KiB, 128 * KiB);
    expect(s.request('a', 'all', 12, { endgameBatch: 4 })).toHaveLength(12);
    expect(s.endgame).toBe(false);
    // 4 fresh blocks remain: b takes them, and no duplicates in the same call (it has requests of its own now).
    expect(refs(s.request('b', 'all', 100, { endgameBatch: 4 }))).toEqual(['1:4', '1:5', '1:6', '1:7']);
    expect(s.endgame).toBe(true);
  });
});

describe('bad data', () => {
  it('names the contributors of a failed piece and makes its blocks requestable again', () => {
    const { s, picker } = setup(48 * KiB, 48 * KiB);
    s.request('a', 'all', 2);
    s.request('b', 'all', 1);
    s.received('a', 0, 0, 16384);
    s.received('a', 0, 16384, 16384);
    s.received('b', 0, 32768, 16384);
    const contributors = s.pieceFailed(0);
    expect([...contributors]).toEqual([
      ['a', 2],
      ['b', 1],
    ]);
    expect(picker.hasPiece(0)).toBe(false);
    expect(refs(s.request('c', 'all', 5))).toEqual(['0:0', '0:1', '0:2']);
  });

  it('reports the contributors of a verified piece', () => {
    const { s, picker } = setup(32 * KiB, 32 * KiB);
    s.request('a', 'all', 1);
    s.request('b', 'all', 1);
    s.received('a', 0, 0, 16384);
    s.received('b', 0, 16384, 16384);
    expect(s.pieceVerified(0).sort()).toEqual(['a', 'b']);
    expect(picker.hasPiece(0)).toBe(true);
    expect(s.inProgress()).toEqual([]);
  });

  it('bans the sole source of a bad piece at once, and shared sources after repeated failures', () => {
    const t = new TrustLedger<string>();
    expect(t.failed(new Map([['x', 4]]))).toEqual(['x']);
    t.verified(['good']);
    const bans: string[][] = [];
    for (let k = 0; k < 4; k++)
      bans.push(
        t.failed(
          new Map([
            ['bad', 1],
            ['good', 1],
          ]),
        ),
      );
    // trust: bad -2 -4 -6 -8 → banned on the 4th; good 1 -1 -3 -5 -7 → banned on the 4th too
    expect(bans).toEqual([[], [], [], ['bad', 'good']]);
    expect(t.trust('good')).toBe(-7);
  });
});

describe('pipelineDepth', () => {
  it('covers three seconds at the measured rate, between 2 and the peer reqq', () => {
    expect(pipelineDepth(0)).toBe(2);
    expect(pipelineDepth(16 * KiB)).toBe(3);
    expect(pipelineDepth(1_000_000)).toBe(184);
    expect(pipelineDepth(100_000_000)).toBe(DEFAULT_REQQ);
    expect(pipelineDepth(100_000_000, { max: 64 })).toBe(64);
    expect(pipelineDepth(0, { max: 1 })).toBe(1);
  });
});

describe('simulated swarm', () => {
  it('always completes the wanted pieces, never asks a peer twice for a block, and cancels every copy', () => {
    fc.assert(
      fc.property(fc.nat(), (seed) => {
        const rng = seeded(seed);
        const pieceLength = 32 * KiB;
        const total = (1 + Math.floor(rng() * 12)) * pieceLength - Math.floor(rng() * 20_000);
        const geometry = new PieceGeometry(Math.max(total, 1), pieceLength);
        const n = geometry.pieceCount;
        const priorities = Array.from({ length: n }, () => (rng() < 0.2 ? 0 : 1 + Math.floor(rng() * 3)));
        const picker = new PiecePicker({ pieceCount: n, rng, randomFirst: 2 });
        picker.setPriorities(priorities);
        const s = new BlockScheduler<string>({ picker, geometry });
        const peers = ['p0', 'p1', 'p2'];
        // Each peer has a random part of the torrent; p0 is a seed so everything is reachable.
        const has = new Map<string, Bitfield | 'all'>(peers.map((p, k) => [p, k === 0 ? 'all' : bitsFrom(n, rng)]));
        for (const h of has.values()) picker.addPeer(h);
        const inFlight = new Map<string, { index: number; begin: number; length: number }[]>(peers.map((p) => [p, []]));
        let corrupt = seed % 5 === 0 ? 'p0' : undefined; // one bad piece from the seed in some runs
        for (let step = 0; step < 5000 && picker.wantedMissing > 0; step++) {
          const peer = peers[Math.floor(rng() * peers.length)]!;
          const queue = inFlight.get(peer)!;
          if (rng() < 0.5) {
            const reqs = s.request(peer, has.get(peer)!, 4 - s.outstandingCount(peer));
            for (const r of reqs) {
              expect(queue.some((q) => q.index === r.index && q.begin === r.begin)).toBe(false);
              expect(priorities[r.index]).toBeGreaterThan(0);
            }
            queue.push(...reqs);
          } else if (queue.length > 0) {
            const r = queue.shift()!;
            const res = s.received(peer, r.index, r.begin, r.length);
            for (const c of res.cancels) {
              const q = inFlight.get(c.peer)!;
              const at = q.findIndex((x) => x.index === c.request.index && x.begin === c.request.begin);
              expect(at).toBeGreaterThanOrEqual(0); // a cancel is only sent for a request in flight
              q.splice(at, 1);
            }
            if (res.pieceComplete) {
              if (corrupt === peer) {
                corrupt = undefined;
                expect(s.pieceFailed(r.index).size).toBeGreaterThan(0);
              } else s.pieceVerified(r.index);
            }
          }
        }
        expect(picker.wantedMissing).toBe(0);
        for (let i = 0; i < n; i++) expect(picker.hasPiece(i)).toBe(priorities[i]! > 0);
      }),
      { numRuns: 60 },
    );
  });
});

function bitsFrom(n: number, rng: () => number): Bitfield {
  const b = new Bitfield(n);
  for (let i = 0; i < n; i++) if (rng() < 0.5) b.set(i);
  return b;
}
