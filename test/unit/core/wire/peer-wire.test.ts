/**
 * One peer connection (wire/peer-wire.ts) over real TCP on 127.0.0.1: BEP 3 handshakes in both
 * directions, BEP 6 and BEP 10 negotiated, the BEP 10 handshake's fields, refusal of another
 * torrent, a handshake timeout, small messages joined into one write, blocks sent as header +
 * block, a malformed frame ending the connection with its WIRE_ code, and a graceful close that
 * delivers what was queued last.
 */
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import type { ExtendedHandshake } from '../../../../src/core/extension/index.js';
import { PeerWire } from '../../../../src/core/wire/peer-wire.js';
import { TcpTransport } from '../../../../src/core/transport/tcp.js';
import type { Connection } from '../../../../src/core/transport/types.js';
import type { Message } from '../../../../src/core/wire/index.js';

const infoHash = Buffer.alloc(20, 7);
const idA = Buffer.from('-BK0100-aaaaaaaaaaaa');
const idB = Buffer.from('-BK0100-bbbbbbbbbbbb');

async function connected(): Promise<{ out: Connection; inc: Connection; close(): Promise<void> }> {
  const t = new TcpTransport();
  const l = await t.listen({ host: '127.0.0.1', port: 0 });
  const it = l[Symbol.asyncIterator]();
  const [out, inc] = await Promise.all([t.dial({ host: '127.0.0.1', port: l.local.port }), it.next().then((r) => r.value as Connection)]);
  return {
    out,
    inc,
    close: async () => {
      out.close();
      inc.close();
      await l.close();
    },
  };
}

/** A Connection that counts write() calls (a gather write, writev, counts as one). */
function counting(c: Connection): Connection & { writes: number } {
  const wrapped = Object.create(c) as Connection & { writes: number };
  wrapped.writes = 0;
  wrapped.write = (d: Uint8Array) => {
    wrapped.writes++;
    return c.write(d);
  };
  if (c.writev) {
    wrapped.writev = (chunks: readonly Uint8Array[]) => {
      wrapped.writes++;
      return c.writev!(chunks);
    };
  }
  wrapped[Symbol.asyncIterator] = () => c[Symbol.asyncIterator]();
  return wrapped;
}

describe('PeerWire', () => {
  it('handshakes both ways, negotiates BEP 6 and BEP 10, exchanges the extended handshake', async () => {
    const { out, inc, close } = await connected();
    try {
      const a = new PeerWire(out, { infoHash, peerId: idA, pieceCount: 10, extendedHandshake: { v: 'btkit test', reqq: 321, p: 6881 } });
      const b = new PeerWire(inc, { infoHash, peerId: idB, pieceCount: 10, extendedHandshake: { v: 'other', reqq: 77 } });
      const seenByB: string[] = [];
      const [ha, hb] = await Promise.all([a.handshake({ timeoutMs: 5000 }), b.handshake({ timeoutMs: 5000, accept: (h) => seenByB.push(Buffer.from(h.peerId).toString()) })]);
      expect(Buffer.from(ha.peerId).equals(idB)).toBe(true);
      expect(Buffer.from(hb.peerId).equals(idA)).toBe(true);
      expect(seenByB).toEqual([idA.toString()]);
      expect(a.state!.features).toMatchObject({ fast: true, extended: true });
      const ext = new Promise<ExtendedHandshake>((resolve) => {
        void b.run({ onMessage: () => undefined, onExtendedHandshake: resolve }).catch(() => undefined);
      });
      void a.run({ onMessage: () => undefined }).catch(() => undefined);
      const h = await ext;
      expect(h).toMatchObject({ v: 'btkit test', reqq: 321, p: 6881 });
    } finally {
      await close();
    }
  });

  it('refuses a peer asking for another torrent (PEER_WRONG_TORRENT) and closes', async () => {
    const { out, inc, close } = await connected();
    try {
      const a = new PeerWire(out, { infoHash: Buffer.alloc(20, 1), peerId: idA, pieceCount: 10 });
      const b = new PeerWire(inc, { infoHash, peerId: idB, pieceCount: 10 });
      const [ra, rb] = await Promise.allSettled([a.handshake({ timeoutMs: 2000 }), b.handshake({ timeoutMs: 2000 })]);
      expect(rb).toMatchObject({ status: 'rejected', reason: { code: 'PEER_WRONG_TORRENT' } });
      // b never answered: a sees the connection end.
      expect(ra.status).toBe('rejected');
      await inc.closed;
    } finally {
      await close();
    }
  });

  it('gives up on a peer that never handshakes (PEER_HANDSHAKE_TIMEOUT)', async () => {
    const { out, close } = await connected();
    try {
      const a = new PeerWire(out, { infoHash, peerId: idA, pieceCount: 10 });
      await expect(a.handshake({ timeoutMs: 100 })).rejects.toMatchObject({ code: 'PEER_HANDSHAKE_TIMEOUT' });
      await out.closed;
    } finally {
      await close();
    }
  });

  it('joins a burst of small messages into one write; sends a block as header + block', async () => {
    const { out, inc, close } = await connected();
    try {
      const counted = counting(out);
      const a = new PeerWire(counted, { infoHash, peerId: idA, pieceCount: 10 });
      const b = new PeerWire(inc, { infoHash, peerId: idB, pieceCount: 10 });
      await Promise.all([a.handshake({ timeoutMs: 2000 }), b.handshake({ timeoutMs: 2000 })]);
      await new Promise((r) => setTimeout(r, 10));
      const before = counted.writes;
      const received: Message[] = [];
      const done = new Promise<void>((resolve) => {
        void b
          .run({
            onMessage: (m) => {
              received.push(m);
              if (m.type === 'piece') resolve();
            },
          })
          .catch(() => undefined);
      });
      a.send({ type: 'interested' });
      for (let i = 0; i < 50; i++) a.send({ type: 'request', index: i % 10, begin: 0, length: 16384 });
      await Promise.resolve();
      await new Promise((r) => setImmediate(r));
      expect(counted.writes - before).toBe(1);
      const block = Buffer.alloc(16384, 0xab);
      a.sendPiece(3, 16384, block);
      await done;
      expect(received.filter((m) => m.type === 'request')).toHaveLength(50);
      const piece = received.find((m) => m.type === 'piece') as Extract<Message, { type: 'piece' }>;
      expect(piece).toMatchObject({ index: 3, begin: 16384 });
      expect(Buffer.from(piece.block).equals(block)).toBe(true);
      expect(a.uploadedPayload).toBe(16384);
      expect(b.downloadedPayload).toBe(16384);
    } finally {
      await close();
    }
  });

  it('closeGracefully: the last queued message reaches the peer, which sees a clean end; what arrives meanwhile is ignored', async () => {
    const { out, inc, close } = await connected();
    try {
      const a = new PeerWire(out, { infoHash, peerId: idA, pieceCount: 10 });
      const b = new PeerWire(inc, { infoHash, peerId: idB, pieceCount: 10 });
      await Promise.all([a.handshake({ timeoutMs: 2000 }), b.handshake({ timeoutMs: 2000 })]);
      const atA: Message[] = [];
      let closingStarted = false;
      const runA = a.run({ onMessage: (m) => closingStarted && atA.push(m) });
      const atB: Message[] = [];
      const runB = b.run({ onMessage: (m) => atB.push(m) });
      // b keeps talking while a says goodbye: a must go on reading (no reset) but not dispatch.
      for (let i = 0; i < 200; i++) b.send({ type: 'have', index: i % 10 });
      a.send({ type: 'have', index: 7 });
      closingStarted = true;
      const bye = a.closeGracefully(5000);
      await expect(runB).resolves.toBeUndefined(); // a clean end of stream, not a reset
      expect(atB).toContainEqual({ type: 'have', index: 7 });
      b.close(); // as the session does when a peer ends: then a's goodbye completes
      await bye;
      await runA;
      expect(atA).toEqual([]);
      expect(a.send({ type: 'have', index: 1 })).toBe('none');
    } finally {
      await close();
    }
  });

  it("sendPiece's onWritten: once per block after the write, and at once for what a closed wire will never send", async () => {
    const { out, inc, close } = await connected();
    try {
      const a = new PeerWire(out, { infoHash, peerId: idA, pieceCount: 10 });
      const b = new PeerWire(inc, { infoHash, peerId: idB, pieceCount: 10 });
      await Promise.all([a.handshake({ timeoutMs: 2000 }), b.handshake({ timeoutMs: 2000 })]);
      const got: number[] = [];
      void b.run({ onMessage: (m) => m.type === 'piece' && got.push(m.index) }).catch(() => undefined);
      const written: number[] = [];
      for (let i = 0; i < 3; i++) a.sendPiece(i, 0, Buffer.alloc(16384, i), () => written.push(i));
      expect(written).toEqual([]); // not before the transport has the bytes
      for (let i = 0; i < 100 && written.length < 3; i++) await new Promise((r) => setTimeout(r, 5));
      expect(written.sort()).toEqual([0, 1, 2]);
      for (let i = 0; i < 100 && got.length < 3; i++) await new Promise((r) => setTimeout(r, 5));
      expect(got).toEqual([0, 1, 2]);
      // Handed to the socket, then the connection is destroyed: given back all the same.
      const dropped: string[] = [];
      a.sendPiece(5, 0, Buffer.alloc(16384), () => dropped.push('in flight'));
      a.close();
      for (let i = 0; i < 100 && dropped.length < 1; i++) await new Promise((r) => setTimeout(r, 5));
      expect(dropped).toEqual(['in flight']);
      a.sendPiece(6, 0, Buffer.alloc(16384), () => dropped.push('after close'));
      expect(dropped).toEqual(['in flight', 'after close']);
    } finally {
      await close();
    }
  });

  it('closeGracefully gives up after its grace time when the peer never closes', async () => {
    const { out, inc, close } = await connected();
    try {
      const a = new PeerWire(out, { infoHash, peerId: idA, pieceCount: 10 });
      const b = new PeerWire(inc, { infoHash, peerId: idB, pieceCount: 10 });
      await Promise.all([a.handshake({ timeoutMs: 2000 }), b.handshake({ timeoutMs: 2000 })]);
      void a.run({ onMessage: () => undefined }).catch(() => undefined);
      // b never reads on nor closes: the goodbye still ends, and the connection is closed.
      await a.closeGracefully(150);
      await out.closed;
      expect(a.send({ type: 'interested' })).toBe('none');
    } finally {
      await close();
    }
  });

  it('a malformed frame ends run() with its WIRE_ code and closes the connection', async () => {
    const t = new TcpTransport();
    const l = await t.listen({ host: '127.0.0.1', port: 0 });
    const raw = net.connect(l.local.port, '127.0.0.1');
    raw.on('error', () => undefined);
    try {
      const inc = (await l[Symbol.asyncIterator]().next()).value as Connection;
      const w = new PeerWire(inc, { infoHash, peerId: idB, pieceCount: 10 });
      const hs = Buffer.concat([Buffer.from([19]), Buffer.from('BitTorrent protocol'), Buffer.alloc(8), infoHash, idA]);
      raw.write(hs);
      await w.handshake({ timeoutMs: 2000 });
      raw.write(Buffer.from([0, 0, 0, 5, 4, 0, 0, 0, 99])); // have 99 of 10 pieces
      await expect(w.run({ onMessage: () => undefined })).rejects.toMatchObject({ code: 'WIRE_BAD_INDEX' });
      expect(w.closed).toBe(true);
      expect(w.error?.code).toBe('WIRE_BAD_INDEX');
    } finally {
      raw.destroy();
      await l.close();
    }
  });
});
