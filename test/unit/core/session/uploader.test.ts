/**
 * The upload side alone, over a fake wire and a store in memory: requests are served in order
 * and counted; what we will not serve is rejected when the peer speaks BEP 6 fast (and dropped
 * silently when it does not); a cancel removes the request and is answered with a reject; a
 * choke rejects or drops the queue as the wire says; the queue is bounded at OUR_REQQ; a read
 * error is reported and the session goes on.
 */
import { describe, expect, it } from 'vitest';
import { BtError } from '../../../../src/core/errors.js';
import type { PeerWire } from '../../../../src/core/wire/peer-wire.js';
import type { PieceStore } from '../../../../src/core/storage/store.js';
import { TokenBucket } from '../../../../src/core/session/rate.js';
import { ReadCache } from '../../../../src/core/storage/read-cache.js';
import { OUR_REQQ, Uploader, type UploadPeer } from '../../../../src/core/session/uploader.js';
import type { Message } from '../../../../src/core/wire/messages.js';

const PIECE = 32 * 1024;
const PIECES = 4;

interface Sent {
  messages: Message[];
  pieces: { index: number; begin: number; length: number; first: number }[];
}

function fakePeer(options: { fast: boolean; choking?: boolean }): UploadPeer & { sent: Sent; dropped: boolean; wire: PeerWire } {
  const sent: Sent = { messages: [], pieces: [] };
  const state = { amChoking: options.choking ?? false, features: { fast: options.fast } };
  const wire = {
    state,
    send: (m: Message) => {
      sent.messages.push(m);
      return 'none';
    },
    sendPiece: (index: number, begin: number, block: Uint8Array, onWritten?: () => void) => {
      sent.pieces.push({ index, begin, length: block.length, first: block[0]! });
      // As a socket does: the bytes are taken, and a moment later the write is done.
      if (onWritten) setImmediate(onWritten);
      return true;
    },
    drained: async () => undefined,
  } as unknown as PeerWire;
  return { wire, dropped: false, sent };
}

/** Byte i of piece p is (p * 7 + i) & 0xff; `failAt` pieces fail to read. */
function memoryStore(failAt = new Set<number>()): PieceStore & { reads: number } {
  const store = {
    reads: 0,
    async read(index: number, begin: number, length: number) {
      store.reads++;
      await new Promise((r) => setImmediate(r));
      if (failAt.has(index)) throw new BtError('IO_EIO', 'io', `piece ${index}: input/output error`);
      return Uint8Array.from({ length }, (_, i) => (index * 7 + begin + i) & 0xff);
    },
  };
  return store as unknown as PieceStore & { reads: number };
}

function setup(options: { have?: number[]; failAt?: number[] } = {}) {
  const have = new Set(options.have ?? [0, 1, 2, 3]);
  const sentBytes: number[] = [];
  const errors: BtError[] = [];
  const store = memoryStore(new Set(options.failAt ?? []));
  const ac = new AbortController();
  const uploader = new Uploader({
    store,
    bucket: new TokenBucket(0, () => performance.now()),
    hasPiece: (i) => have.has(i),
    pieceSize: (i) => (i < PIECES ? PIECE : 0),
    onSent: (_peer, bytes) => sentBytes.push(bytes),
    onReadError: (e) => errors.push(e),
    signal: ac.signal,
  });
  return { uploader, store, sentBytes, errors, ac };
}

const until = async (cond: () => boolean) => {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 2));
  expect(cond()).toBe(true);
};

describe('Uploader', () => {
  it('serves requests in order, with the right bytes, and counts each block once', async () => {
    const { uploader, sentBytes } = setup();
    const peer = fakePeer({ fast: true });
    uploader.request(peer, { index: 1, begin: 0, length: 16384 });
    uploader.request(peer, { index: 1, begin: 16384, length: 16384 });
    uploader.request(peer, { index: 3, begin: 100, length: 50 });
    await until(() => peer.sent.pieces.length === 3);
    expect(peer.sent.pieces).toEqual([
      { index: 1, begin: 0, length: 16384, first: 7 },
      { index: 1, begin: 16384, length: 16384, first: (7 + 16384) & 0xff },
      { index: 3, begin: 100, length: 50, first: (21 + 100) & 0xff },
    ]);
    expect(sentBytes).toEqual([16384, 16384, 50]);
    expect(peer.sent.messages).toEqual([]);
  });

  it('rejects (fast) or ignores (no fast) a request while choking, for a piece we lack, or past the piece', async () => {
    const { uploader, store } = setup({ have: [0] });
    const fast = fakePeer({ fast: true, choking: true });
    const plain = fakePeer({ fast: false, choking: true });
    const asks = [{ index: 0, begin: 0, length: 16384 }];
    for (const m of asks) {
      uploader.request(fast, m);
      uploader.request(plain, m);
    }
    fast.wire.state!.amChoking = false;
    plain.wire.state!.amChoking = false;
    for (const m of [{ index: 2, begin: 0, length: 16384 }, { index: 0, begin: PIECE - 10, length: 16384 }]) {
      uploader.request(fast, m);
      uploader.request(plain, m);
    }
    await new Promise((r) => setTimeout(r, 20));
    expect(fast.sent.messages).toEqual([
      { type: 'reject', index: 0, begin: 0, length: 16384 },
      { type: 'reject', index: 2, begin: 0, length: 16384 },
      { type: 'reject', index: 0, begin: PIECE - 10, length: 16384 },
    ]);
    expect(plain.sent.messages).toEqual([]);
    expect(fast.sent.pieces).toEqual([]);
    expect(store.reads).toBe(0);
  });

  it('a request handed over as the wire message itself is answered with a reject, not our own request (issue 15)', async () => {
    // The session passes the decoded `request` message, `type` included; a spread of it after
    // `type: 'reject'` sent `request` back, every one of them in every rejecting path.
    const { uploader } = setup({ have: [0, 3], failAt: [3] });
    const peer = fakePeer({ fast: true });
    const asked = (index: number, begin: number): Message => ({ type: 'request', index, begin, length: 100 });
    uploader.request(peer, asked(2, 0) as Extract<Message, { type: 'request' }>); // a piece we lack
    uploader.request(peer, asked(3, 0) as Extract<Message, { type: 'request' }>); // fails to read
    await until(() => peer.sent.messages.length === 2);
    uploader.request(peer, asked(0, 200) as Extract<Message, { type: 'request' }>);
    uploader.request(peer, asked(0, 300) as Extract<Message, { type: 'request' }>);
    uploader.cancel(peer, { type: 'cancel', index: 0, begin: 300, length: 100 } as Extract<Message, { type: 'cancel' }>);
    uploader.choked(peer, 'reject-their-requests');
    await new Promise((r) => setTimeout(r, 20));
    expect(peer.sent.messages.map((m) => m.type)).toEqual(['reject', 'reject', 'reject', 'reject']);
    expect(peer.sent.messages).toEqual([
      { type: 'reject', index: 2, begin: 0, length: 100 },
      { type: 'reject', index: 3, begin: 0, length: 100 },
      { type: 'reject', index: 0, begin: 300, length: 100 },
      { type: 'reject', index: 0, begin: 200, length: 100 },
    ]);
    uploader.forget(peer);
  });

  it('bounds a queue at OUR_REQQ: the request past it is rejected', () => {
    const { uploader } = setup();
    const peer = fakePeer({ fast: true });
    // Requests queue synchronously; the first read only starts on the next turn.
    for (let i = 0; i <= OUR_REQQ; i++) uploader.request(peer, { index: i % PIECES, begin: 0, length: 1 + (i % 100) });
    expect(peer.sent.messages).toHaveLength(1);
    expect(peer.sent.messages[0]).toMatchObject({ type: 'reject' });
    uploader.forget(peer);
  });

  it('a cancel removes a queued request and answers it with a reject (fast); an unknown cancel is ignored', async () => {
    const { uploader } = setup();
    const peer = fakePeer({ fast: true });
    uploader.request(peer, { index: 0, begin: 0, length: 100 });
    uploader.request(peer, { index: 1, begin: 0, length: 100 });
    uploader.request(peer, { index: 2, begin: 0, length: 100 });
    uploader.cancel(peer, { index: 2, begin: 0, length: 100 });
    uploader.cancel(peer, { index: 3, begin: 0, length: 100 });
    await until(() => peer.sent.pieces.length === 2);
    await new Promise((r) => setTimeout(r, 10));
    expect(peer.sent.pieces.map((p) => p.index)).toEqual([0, 1]);
    expect(peer.sent.messages).toEqual([{ type: 'reject', index: 2, begin: 0, length: 100 }]);
  });

  it('a choke rejects the whole queue (fast) or drops it (BEP 3), as the wire says', async () => {
    for (const [action, rejects] of [['reject-their-requests', 2], ['discard-their-requests', 0]] as const) {
      const { uploader } = setup();
      const peer = fakePeer({ fast: action === 'reject-their-requests' });
      uploader.request(peer, { index: 0, begin: 0, length: 100 });
      uploader.request(peer, { index: 1, begin: 0, length: 100 });
      uploader.choked(peer, action);
      await new Promise((r) => setTimeout(r, 20));
      expect(peer.sent.messages.filter((m) => m.type === 'reject')).toHaveLength(rejects);
      // The read already under way for the first block finds its request gone: nothing is sent.
      expect(peer.sent.pieces).toEqual([]);
    }
  });

  it('a block that cannot be read is reported and rejected; the requests after it are served', async () => {
    const { uploader, errors } = setup({ failAt: [1] });
    const peer = fakePeer({ fast: true });
    uploader.request(peer, { index: 1, begin: 0, length: 100 });
    uploader.request(peer, { index: 0, begin: 0, length: 100 });
    await until(() => peer.sent.pieces.length === 1);
    uploader.request(peer, { index: 2, begin: 0, length: 100 });
    await until(() => peer.sent.pieces.length === 2);
    expect(errors.map((e) => e.code)).toEqual(['IO_EIO']);
    expect(peer.sent.messages).toEqual([{ type: 'reject', index: 1, begin: 0, length: 100 }]);
    expect(peer.sent.pieces.map((p) => p.index)).toEqual([0, 2]);
  });

  it('a block whose read fails after a choke rejected its request is not rejected a second time', async () => {
    const { uploader, errors } = setup({ failAt: [0] });
    const peer = fakePeer({ fast: true });
    uploader.request(peer, { index: 0, begin: 0, length: 100 });
    // The read is under way; the choke answers the request now, the failed read must not again.
    uploader.choked(peer, 'reject-their-requests');
    await until(() => errors.length === 1);
    await new Promise((r) => setTimeout(r, 10));
    expect(peer.sent.messages).toEqual([{ type: 'reject', index: 0, begin: 0, length: 100 }]);
  });

  it('nothing is sent to a peer that was dropped while its block was being read', async () => {
    const { uploader, sentBytes } = setup();
    const peer = fakePeer({ fast: true });
    uploader.request(peer, { index: 0, begin: 0, length: 100 });
    peer.dropped = true;
    uploader.forget(peer);
    await new Promise((r) => setTimeout(r, 20));
    expect(peer.sent.pieces).toEqual([]);
    expect(sentBytes).toEqual([]);
  });

  it('from a read cache, every lent block is given back: once its write is done, or at once when its request went away', async () => {
    const inner = memoryStore();
    const cache = new ReadCache(inner, { pieceLength: PIECE, totalLength: PIECE * PIECES });
    let lent = 0;
    let released = 0;
    const lease = cache.lease.bind(cache);
    cache.lease = async (index, begin, length) => {
      const l = await lease(index, begin, length);
      lent++;
      return { data: l.data, release: () => (released++, l.release()) };
    };
    const uploader = new Uploader({
      store: cache,
      bucket: new TokenBucket(0, () => performance.now()),
      hasPiece: () => true,
      pieceSize: () => PIECE,
      onSent: () => undefined,
      onReadError: () => undefined,
      signal: new AbortController().signal,
    });
    const peer = fakePeer({ fast: true });
    for (let i = 0; i < 3; i++) uploader.request(peer, { index: i, begin: 0, length: 100 });
    await until(() => peer.sent.pieces.length === 3 && released === 3);
    expect(lent).toBe(3);
    expect(peer.sent.pieces.map((p) => p.first)).toEqual([0, 7, 14]);
    // A request cancelled while its block was being read: the block is given back unsent.
    uploader.request(peer, { index: 3, begin: 0, length: 100 });
    uploader.cancel(peer, { index: 3, begin: 0, length: 100 });
    await until(() => lent === 4 && released === 4);
    expect(peer.sent.pieces).toHaveLength(3);
  });
});
