/**
 * The assembler (session/assembler.ts) on its own: blocks in, a piece checked by its verifier,
 * written, the picker told; a failed piece traced to the peer that lied once it passes from
 * another; BEP 47 padding zeroed whatever was sent (issue 15, item 7); reading held back while
 * too many pieces wait for the disk.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BLOCK_LENGTH, PieceGeometry } from '../../../../src/core/pieces/blocks.js';
import { PiecePicker } from '../../../../src/core/pieces/picker.js';
import { PieceAssembler, type PieceVerifier } from '../../../../src/core/session/assembler.js';
import type { PieceStore } from '../../../../src/core/storage/store.js';

const PIECE = 2 * BLOCK_LENGTH;

/** Two pieces of two blocks; the second piece's last 10 000 bytes are padding (zeros). */
function setUp(options: { padding?: boolean; writeDelay?: Promise<void>; maxInflightBytes?: number } = {}) {
  const data = new Uint8Array(2 * PIECE).map((_, i) => (i * 7 + 3) & 0xff);
  const pad = { offset: 2 * PIECE - 10_000, length: 10_000 };
  if (options.padding) data.fill(0, pad.offset);
  const hashes = [0, 1].map((i) => createHash('sha1').update(data.subarray(i * PIECE, (i + 1) * PIECE)).digest());
  const checked: number[] = [];
  const verifier: PieceVerifier = {
    check: async (index, piece) => {
      checked.push(index);
      return { ok: createHash('sha1').update(piece).digest().equals(hashes[index]!), data: piece };
    },
  };
  const written = new Map<number, Uint8Array>();
  const store = {
    writePiece: async (index: number, piece: Uint8Array) => {
      await options.writeDelay;
      written.set(index, Uint8Array.from(piece));
    },
  } as unknown as PieceStore;
  const events: string[] = [];
  const geometry = new PieceGeometry(2 * PIECE, PIECE);
  const picker = new PiecePicker({ pieceCount: 2, rng: () => 0.5, sequential: true, priorities: new Uint8Array([1, 1]) });
  const assembler = new PieceAssembler<string>({
    geometry,
    pieceLength: PIECE,
    picker,
    verifier,
    store,
    ...(options.padding ? { padding: [pad] } : {}),
    ...(options.maxInflightBytes !== undefined ? { maxInflightBytes: options.maxInflightBytes } : {}),
    hooks: {
      verified: (i) => events.push(`verified ${i}`),
      failed: (i, peers) => events.push(`failed ${i} ${peers.join(',')}`),
      liar: (p, i) => events.push(`liar ${p} ${i}`),
      fatal: (err) => events.push(`fatal ${String(err)}`),
    },
  });
  picker.addPeer('all');
  const block = (index: number, b: number) => data.slice(index * PIECE + b * BLOCK_LENGTH, index * PIECE + (b + 1) * BLOCK_LENGTH);
  /** Ask `peer` for every block it may get, and answer them with `bytes(index, b)`. */
  const deliver = (peer: string, bytes: (index: number, b: number) => Uint8Array = block, max = 10) => {
    for (const r of assembler.request(peer, 'all', max, { now: 0 })) assembler.receive(peer, r.index, r.begin, bytes(r.index, r.begin / BLOCK_LENGTH));
  };
  const settle = () => new Promise((r) => setTimeout(r, 20));
  return { data, assembler, picker, written, events, checked, deliver, block, settle };
}

describe('piece assembly and verification', () => {
  it('whole pieces are checked, written and had by the picker; a block of no piece in progress is waste, a block that is none of ours invalid', async () => {
    const t = setUp();
    expect(t.assembler.receive('x', 0, 0, t.block(0, 0)).status).toBe('unrequested');
    expect(t.assembler.receive('x', 0, 5, t.block(0, 0)).status).toBe('invalid');
    expect(t.assembler.wasted).toBe(BLOCK_LENGTH);
    t.deliver('a');
    await t.settle();
    expect(t.events).toEqual(['verified 0', 'verified 1']);
    expect(t.checked).toEqual([0, 1]);
    expect(Buffer.from(t.written.get(1)!).equals(Buffer.from(t.data.subarray(PIECE)))).toBe(true);
    expect(t.picker.hasPiece(0) && t.picker.hasPiece(1)).toBe(true);
  });

  it('a piece that fails is fetched again; when it passes from another peer, the one that sent the differing block is the liar', async () => {
    const t = setUp();
    // Piece 1 from two peers: block 0 from h1 (right), block 1 from the liar (wrong).
    t.deliver('h1', t.block, 3);
    t.deliver('liar', () => new Uint8Array(BLOCK_LENGTH).fill(9), 1);
    await t.settle();
    expect([...t.events].sort()).toEqual(['failed 1 h1,liar', 'verified 0']);
    expect(t.picker.hasPiece(1)).toBe(false);
    // Neither sent every block: nobody is blamed yet. Piece 1 again, from h2 alone, passes.
    t.deliver('h2');
    await t.settle();
    expect(t.events.slice(2)).toEqual(['verified 1', 'liar liar 1']);
    expect(t.assembler.wasted).toBe(PIECE);
  });

  it('the sole sender of a failed piece is the liar at once', async () => {
    const t = setUp();
    t.deliver('liar', (i, b) => (i === 1 && b === 1 ? new Uint8Array(BLOCK_LENGTH).fill(9) : t.block(i, b)));
    await t.settle();
    expect(t.events).toContain('failed 1 liar');
    expect(t.events).toContain('liar liar 1');
  });

  it('padding (BEP 47) is zeros whatever a peer sends: the piece still passes and zeros are written', async () => {
    const t = setUp({ padding: true });
    // A seed with garbage in its pad file: the bytes it sends there are not the zeros hashed.
    t.deliver('seed', (i, b) => {
      const bytes = t.block(i, b);
      if (i === 1 && b === 1) bytes.fill(0xee, BLOCK_LENGTH - 10_000);
      return bytes;
    });
    await t.settle();
    expect(t.events).toEqual(['verified 0', 'verified 1']);
    const piece1 = t.written.get(1)!;
    expect(piece1.subarray(PIECE - 10_000).every((x) => x === 0)).toBe(true);
  });

  it('holds reading back while pieces wait for the disk beyond the cap, and lets it go when they are written', async () => {
    let release!: () => void;
    const t = setUp({ writeDelay: new Promise<void>((r) => (release = r)), maxInflightBytes: PIECE / 2 });
    expect(t.assembler.backpressure()).toBeUndefined();
    t.deliver('a');
    await t.settle();
    const wait = t.assembler.backpressure();
    expect(wait).toBeInstanceOf(Promise);
    let resumed = false;
    void wait!.then(() => (resumed = true));
    await t.settle();
    expect(resumed).toBe(false);
    release();
    await t.settle();
    expect(resumed).toBe(true);
    expect(t.events).toEqual(['verified 0', 'verified 1']);
  });
});

describe('whole pieces from a web seed (receivePiece)', () => {
  it('a piece none of whose blocks arrived is adopted as it is (no copy), checked, written', async () => {
    const t = setUp();
    const reqs = t.assembler.request('ws', 'all', 2, { now: 0 });
    expect(reqs.map((r) => r.index)).toEqual([0, 0]);
    const buf = t.assembler.pieceBuffer(0);
    buf.set(t.data.subarray(0, PIECE));
    expect(t.assembler.receivePiece('ws', 0, buf)).toEqual({ accepted: PIECE, cancels: [] });
    await t.settle();
    expect(t.events).toEqual(['verified 0']);
    expect(t.written.get(0)).toEqual(t.data.subarray(0, PIECE));
  });

  it('a piece a peer already began goes block by block: its blocks are duplicates, the rest accepted, the peer asked for them cancelled (endgame)', async () => {
    const t = setUp();
    // The web seed holds both blocks of piece 0; in endgame a peer asks for them too, and sends block 0 first.
    t.assembler.request('ws', 'all', 2, { now: 0, canRequest: (i) => i === 0 });
    t.assembler.request('ws', 'all', 2, { now: 0, canRequest: (i) => i === 1 });
    const peerReqs = t.assembler.request('p', 'all', 4, { now: 0 });
    expect(peerReqs.length).toBe(4);
    expect(t.assembler.receive('p', 0, 0, t.block(0, 0)).status).toBe('accepted');
    const buf = t.assembler.pieceBuffer(0);
    buf.set(t.data.subarray(0, PIECE));
    const res = t.assembler.receivePiece('ws', 0, buf);
    expect(res.accepted).toBe(BLOCK_LENGTH);
    expect(res.cancels).toEqual([{ peer: 'p', request: { index: 0, begin: BLOCK_LENGTH, length: BLOCK_LENGTH } }]);
    expect(t.assembler.wasted).toBe(BLOCK_LENGTH);
    await t.settle();
    expect(t.events).toEqual(['verified 0']);
    // Piece 1, whole from the web seed; the peer's copies are cancelled and its late blocks are duplicates.
    const buf1 = t.assembler.pieceBuffer(1);
    buf1.set(t.data.subarray(PIECE));
    expect(t.assembler.receivePiece('ws', 1, buf1).cancels.map((c) => c.peer)).toEqual(['p', 'p']);
    expect(t.assembler.receive('p', 1, 0, t.block(1, 0)).status).toBe('duplicate');
    await t.settle();
    expect(t.events).toEqual(['verified 0', 'verified 1']);
  });

  it('a bad whole piece from the web seed alone fails and names it', async () => {
    const t = setUp();
    t.assembler.request('ws', 'all', 2, { now: 0 });
    const buf = t.assembler.pieceBuffer(0);
    buf.fill(9);
    t.assembler.receivePiece('ws', 0, buf);
    await t.settle();
    expect(t.events).toEqual(['failed 0 ws', 'liar ws 0']);
    expect(t.written.size).toBe(0);
    expect(t.assembler.wasted).toBe(PIECE);
  });
});
