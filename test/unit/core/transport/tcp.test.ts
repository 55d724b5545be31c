/**
 * The TCP transport (transport/tcp.ts) on 127.0.0.1: order and completeness of bytes both ways,
 * backpressure on both sides, end and close semantics, errors as BtErrors, abort of a dial.
 */
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { BtError } from '../../../../src/core/errors.js';
import { type RecyclingConnection, type TcpConnection, TcpTransport, canRecycle } from '../../../../src/core/transport/tcp.js';
import type { Connection } from '../../../../src/core/transport/types.js';

async function pair(options = {}): Promise<{ a: Connection; b: Connection; close(): Promise<void> }> {
  const t = new TcpTransport(options);
  const listener = await t.listen({ host: '127.0.0.1', port: 0 });
  const it = listener[Symbol.asyncIterator]();
  const [a, accepted] = await Promise.all([t.dial({ host: '127.0.0.1', port: listener.local.port }), it.next()]);
  const b = accepted.value as Connection;
  return {
    a,
    b,
    async close() {
      a.close();
      b.close();
      await listener.close();
    },
  };
}

async function readAll(c: Connection, limit = Infinity): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  let n = 0;
  for await (const chunk of c) {
    parts.push(chunk);
    n += chunk.length;
    if (n >= limit) break;
  }
  return Buffer.concat(parts);
}

describe('TCP transport', () => {
  it('carries bytes both ways, in order; ends the reader on end()', async () => {
    const { a, b, close } = await pair();
    try {
      expect(a.direction).toBe('outgoing');
      expect(b.direction).toBe('incoming');
      expect(a.remote).toMatchObject({ host: '127.0.0.1', port: b.local.port, transport: 'tcp' });
      const payload = Buffer.alloc(3 * 1024 * 1024 + 7);
      for (let i = 0; i < payload.length; i++) payload[i] = (i * 31) & 0xff;
      const got = readAll(b);
      for (let off = 0; off < payload.length; off += 100_000) a.write(payload.subarray(off, Math.min(payload.length, off + 100_000)));
      await a.end();
      expect((await got).equals(payload)).toBe(true);
      b.write(Buffer.from('back'));
      await b.end();
      expect((await readAll(a)).toString()).toBe('back');
    } finally {
      await close();
    }
  });

  it('write() reports the high-water mark and drained() waits for the queue to empty', async () => {
    const { a, b, close } = await pair({ writeHighWater: 64 * 1024, writeLowWater: 16 * 1024, readHighWater: 64 * 1024 });
    try {
      // Nobody reads b for now: the socket buffers fill up and a's queue grows.
      let below = true;
      let written = 0;
      for (let i = 0; i < 400 && below; i++) {
        below = a.write(Buffer.alloc(64 * 1024, i));
        written += 64 * 1024;
      }
      expect(below).toBe(false);
      expect(a.bufferedAmount).toBeGreaterThan(0);
      let drained = false;
      const wait = a.drained().then(() => (drained = true));
      await new Promise((r) => setTimeout(r, 50));
      expect(drained).toBe(false);
      const read = readAll(b, written);
      await wait;
      expect(a.bufferedAmount).toBeLessThanOrEqual(16 * 1024);
      expect((await read).length).toBe(written);
    } finally {
      await close();
    }
  });

  it('close() ends the peer side as EOF; close(error) makes the local iteration throw it', async () => {
    const { a, b, close } = await pair();
    try {
      const reading = readAll(b);
      a.write(Buffer.from('x'));
      await new Promise((r) => setTimeout(r, 20));
      a.close();
      await a.closed;
      // The peer sees the data then an end (or a reset): never a hang.
      await reading.then(
        (buf) => expect(buf.toString()).toBe('x'),
        (err) => expect(err).toBeInstanceOf(BtError),
      );
      expect(a.write(Buffer.from('late'))).toBe(false);
    } finally {
      await close();
    }
    const second = await pair();
    try {
      const failing = readAll(second.b).catch((e) => e);
      second.b.close(new BtError('TEST', 'network', 'boom'));
      expect(await failing).toMatchObject({ code: 'TEST' });
    } finally {
      await second.close();
    }
  });

  it('a dialed connection reads into pooled buffers: recycled chunks are reused, the bytes stay right', async () => {
    const { a, b, close } = await pair();
    try {
      expect(canRecycle(a)).toBe(true);
      const payload = Buffer.alloc(8 * 1024 * 1024);
      for (let i = 0; i < payload.length; i += 4) payload.writeUInt32LE(i, i);
      b.write(payload);
      void b.end();
      const copy = Buffer.alloc(payload.length);
      let off = 0;
      const memories = new Set<ArrayBufferLike>();
      let chunks = 0;
      for await (const chunk of a) {
        copy.set(chunk, off);
        off += chunk.length;
        memories.add(chunk.buffer);
        chunks++;
        (a as RecyclingConnection).recycle(chunk);
        // Recycling twice, or recycling memory that is not the pool's, is ignored.
        (a as RecyclingConnection).recycle(chunk);
        (a as RecyclingConnection).recycle(Buffer.alloc(16));
      }
      expect(off).toBe(payload.length);
      expect(copy.equals(payload)).toBe(true);
      expect(memories.size).toBeLessThan(chunks);
    } finally {
      await close();
    }
  });

  it('a connection can be iterated once', async () => {
    const { a, close } = await pair();
    try {
      const first = a[Symbol.asyncIterator]();
      void first.next().catch(() => undefined);
      await expect(a[Symbol.asyncIterator]().next()).rejects.toMatchObject({ code: 'TRANSPORT_ITERATED' });
    } finally {
      await close();
    }
  });

  it('a refused connect is NET_ECONNREFUSED (category network)', async () => {
    const srv = net.createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as net.AddressInfo).port;
    await new Promise<void>((r) => srv.close(() => r()));
    await expect(new TcpTransport().dial({ host: '127.0.0.1', port })).rejects.toMatchObject({ code: 'NET_ECONNREFUSED', category: 'network' });
  });

  it('an aborted dial rejects with the abort reason; a connected one is closed by its signal', async () => {
    const ctl = new AbortController();
    ctl.abort(new BtError('STOP', 'interrupted', 'stop'));
    await expect(new TcpTransport().dial({ host: '127.0.0.1', port: 9 }, { signal: ctl.signal })).rejects.toMatchObject({ code: 'STOP' });
    const t = new TcpTransport();
    const listener = await t.listen({ host: '127.0.0.1', port: 0 });
    const later = new AbortController();
    const conn = (await t.dial({ host: '127.0.0.1', port: listener.local.port }, { signal: later.signal })) as TcpConnection;
    later.abort();
    await conn.closed;
    await listener.close();
  });

  it('a listener closed (or aborted) ends its iteration and refuses a busy port with NET_EADDRINUSE', async () => {
    const t = new TcpTransport();
    const ctl = new AbortController();
    const listener = await t.listen({ host: '127.0.0.1', port: 0, signal: ctl.signal });
    await expect(t.listen({ host: '127.0.0.1', port: listener.local.port })).rejects.toMatchObject({ code: 'NET_EADDRINUSE' });
    const loop = (async () => {
      let n = 0;
      for await (const c of listener) {
        c.close();
        n++;
      }
      return n;
    })();
    ctl.abort();
    expect(await loop).toBe(0);
  });
});
