/**
 * The uTP transport (transport/utp.ts, BEP 29 on utp-native) on 127.0.0.1: bytes both ways in
 * order, end and close, errors as BtErrors (IPv6, a busy port, an aborted dial), one UDP socket
 * for incoming and outgoing connections, no file descriptor left behind by 200 connect/disconnect
 * cycles, hostile datagrams that do not bring the process down, and a process that exits on its
 * own once the transports are closed.
 */
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BtError } from '../../../../src/core/errors.js';
import type { Connection } from '../../../../src/core/transport/types.js';
import { UtpTransport } from '../../../../src/core/transport/utp.js';
import { cliBin, ensureBuilt } from '../../../helpers/cli.js';
import { tempDirs } from '../../../helpers/tmp.js';

const open: UtpTransport[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
});

function transport(options: ConstructorParameters<typeof UtpTransport>[0] = {}): UtpTransport {
  const t = new UtpTransport(options);
  open.push(t);
  return t;
}

/** A connection from `client` to `server`; `bIt` is the accepted end's reader (a connection is iterated once). */
async function pair(serverOptions: ConstructorParameters<typeof UtpTransport>[0] = {}): Promise<{ a: Connection; b: Connection; bIt: AsyncIterator<Uint8Array>; client: UtpTransport; server: UtpTransport }> {
  const server = transport(serverOptions);
  const client = transport();
  const listener = await server.listen({ host: '127.0.0.1', port: 0 });
  await client.listen({ host: '127.0.0.1', port: 0 });
  const it = listener[Symbol.asyncIterator]();
  const a = await client.dial({ host: '127.0.0.1', port: listener.local.port });
  // An incoming uTP connection is reported once its first packet with data arrives.
  a.write(Buffer.from('hi'));
  const b = (await it.next()).value as Connection;
  const bIt = b[Symbol.asyncIterator]();
  const first = await bIt.next();
  expect(Buffer.from(first.value as Uint8Array).toString()).toBe('hi');
  return { a, b, bIt, client, server };
}

/** Reads what `iterator` still yields, up to `limit` bytes. */
async function readRest(c: AsyncIterator<Uint8Array>, limit = Infinity): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  let n = 0;
  for (;;) {
    const r = await c.next();
    if (r.done) break;
    parts.push(r.value);
    n += r.value.length;
    if (n >= limit) break;
  }
  return Buffer.concat(parts);
}

const fdCount = () => readdirSync('/proc/self/fd').length;

describe('uTP transport', () => {
  it('carries bytes both ways, in order, from the listening socket; end() ends the reader', async () => {
    const { a, b, bIt, client, server } = await pair();
    expect(a.direction).toBe('outgoing');
    expect(b.direction).toBe('incoming');
    expect(a.remote).toMatchObject({ host: '127.0.0.1', port: server.address!.port, transport: 'utp' });
    // Outgoing from the socket we listen on: the peer sees our listening port.
    expect(b.remote).toMatchObject({ host: '127.0.0.1', port: client.address!.port, transport: 'utp' });
    const payload = Buffer.alloc(2 * 1024 * 1024 + 7);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 31) & 0xff;
    const got = readRest(bIt, payload.length);
    for (let off = 0; off < payload.length; off += 100_000) {
      if (!a.write(payload.subarray(off, Math.min(payload.length, off + 100_000)))) await a.drained();
    }
    expect((await got).equals(payload)).toBe(true);

    // And back, then our end of stream ends their reading.
    b.write(Buffer.from('pong'));
    const aIt = a[Symbol.asyncIterator]();
    expect(Buffer.from((await aIt.next()).value as Uint8Array).toString()).toBe('pong');
    await b.end();
    expect((await readRest(aIt)).length).toBe(0);
  });

  it('paces what it hands to libutp: a write beyond the burst waits in bufferedAmount, arrives whole and in order, and end() sends the FIN after it', async () => {
    const { a, b } = await pair({ sendRate: 4 * 1024 * 1024, sendBurst: 16 * 1024 });
    const payload = Buffer.alloc(512 * 1024 + 13);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 7 + 3) & 0xff;
    const aIt = a[Symbol.asyncIterator]();
    let writtenFirst = false;
    let writtenRest = false;
    b.write(payload.subarray(0, 200_000), () => (writtenFirst = true));
    b.writev!([payload.subarray(200_000, 200_013), payload.subarray(200_013)], () => (writtenRest = true));
    // The first write used the burst: the gather write waits in the bucket, counted as buffered.
    expect(b.bufferedAmount).toBeGreaterThanOrEqual(payload.length - 200_000);
    expect(writtenRest).toBe(false);
    const ended = b.end();
    // Writes after end() are refused (their buffer given back at once).
    let late = false;
    expect(b.write(Buffer.from('late'), () => (late = true))).toBe(false);
    expect(late).toBe(true);
    expect((await readRest(aIt)).equals(payload)).toBe(true);
    await ended;
    expect([writtenFirst, writtenRest]).toEqual([true, true]);
    expect(b.bufferedAmount).toBe(0);
  });

  it('close() gives back the buffers of writes still waiting in the bucket', async () => {
    const { b } = await pair({ sendRate: 1024, sendBurst: 1024 });
    let given = 0;
    b.write(Buffer.alloc(4096), () => given++);
    b.write(Buffer.alloc(4096), () => given++);
    b.close();
    await b.closed;
    expect(given).toBe(2);
    expect(b.bufferedAmount).toBe(0);
  });

  it('a reader that stops reading while the peer keeps sending: the queue is bounded, the connection closed with UTP_RECEIVE_OVERFLOW', async () => {
    const { a, b, bIt } = await pair({ maxQueuedBytes: 256 * 1024 });
    // Nothing reads `b` while `a` sends up to 2 MiB (libutp acknowledges whatever arrives).
    const chunk = Buffer.alloc(64 * 1024, 1);
    for (let sent = 0; sent < 2 * 1024 * 1024; sent += chunk.length) {
      if (!a.write(chunk)) await Promise.race([a.drained().catch(() => undefined), new Promise((r) => setTimeout(r, 2000))]);
    }
    // `b` closes itself once the queue passes the bound (bounded wait: the test fails, not hangs).
    await Promise.race([b.closed, new Promise((r) => setTimeout(r, 20_000))]);
    await expect(readRest(bIt)).rejects.toMatchObject({ code: 'UTP_RECEIVE_OVERFLOW' });
  });

  it('close() ends the other side and resolves `closed` on both', async () => {
    const { a, b } = await pair();
    const aIt = a[Symbol.asyncIterator]();
    b.close();
    // The peer's reading ends (EOF, or a reset as a BtError), never hangs.
    await readRest(aIt).catch((err: unknown) => expect(err).toBeInstanceOf(BtError));
    a.close();
    await Promise.all([a.closed, b.closed]);
    expect(a.write(Buffer.from('late'))).toBe(false);
    await expect(a.drained()).rejects.toBeInstanceOf(BtError);
  });

  it('refuses IPv6 with UTP_IPV6_UNSUPPORTED, at dial and at listen', async () => {
    const t = transport();
    await expect(t.dial({ host: '::1', port: 6881 })).rejects.toMatchObject({ code: 'UTP_IPV6_UNSUPPORTED', category: 'network' });
    await expect(t.listen({ host: '::1', port: 0 })).rejects.toMatchObject({ code: 'UTP_IPV6_UNSUPPORTED' });
  });

  it('a busy UDP port is NET_EADDRINUSE, and the transport can then listen elsewhere', async () => {
    const holder = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => holder.bind(0, '127.0.0.1', resolve));
    try {
      const t = transport();
      await expect(t.listen({ host: '127.0.0.1', port: holder.address().port })).rejects.toMatchObject({ code: 'NET_EADDRINUSE' });
      const l = await t.listen({ host: '127.0.0.1', port: 0 });
      expect(l.local.port).toBeGreaterThan(0);
      expect(l.local.port).not.toBe(holder.address().port);
    } finally {
      holder.close();
    }
  });

  it('a dial to a port nobody answers on ends when its signal fires', async () => {
    const silent = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
    try {
      const t = transport();
      await t.listen({ host: '127.0.0.1', port: 0 });
      const ctl = new AbortController();
      const dialing = t.dial({ host: '127.0.0.1', port: silent.address().port }, { signal: ctl.signal });
      setTimeout(() => ctl.abort(new BtError('NET_CONNECT_TIMEOUT', 'network', 'connect timed out')), 200);
      await expect(dialing).rejects.toMatchObject({ code: 'NET_CONNECT_TIMEOUT' });
    } finally {
      silent.close();
    }
  });

  it('200 connect/disconnect cycles leave the open file descriptors where they started', async () => {
    const before = fdCount();
    const server = transport();
    const client = transport();
    const listener = await server.listen({ host: '127.0.0.1', port: 0 });
    await client.listen({ host: '127.0.0.1', port: 0 });
    const withSockets = fdCount();
    const accepted = listener[Symbol.asyncIterator]();
    const closing: Promise<void>[] = [];
    for (let i = 0; i < 200; i++) {
      const a = await client.dial({ host: '127.0.0.1', port: listener.local.port });
      a.write(Buffer.from([i & 0xff]));
      const b = (await accepted.next()).value as Connection;
      const got = await b[Symbol.asyncIterator]().next();
      expect((got.value as Uint8Array)[0]).toBe(i & 0xff);
      a.close();
      b.close();
      closing.push(a.closed, b.closed);
    }
    // libutp frees closed connections on its 500 ms tick: wait for all of them at once.
    await Promise.all(closing);
    expect(client.openConnections).toBe(0);
    expect(server.openConnections).toBe(0);
    expect(fdCount()).toBe(withSockets);
    await Promise.all([server.close(), client.close()]);
    expect(fdCount()).toBe(before);
  });

  it('datagrams that are not uTP, or are broken uTP, do not bring the transport down', async () => {
    const { a, bIt, server } = await pair();
    const sender = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => sender.bind(0, '127.0.0.1', resolve));
    try {
      const port = server.address!.port;
      let seed = 12345;
      const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff);
      for (let i = 0; i < 2000; i++) {
        const len = i % 40;
        const d = Buffer.alloc(len);
        for (let j = 0; j < len; j++) d[j] = rand();
        // Every packet type and version byte (BEP 29: type << 4 | version 1), with garbage after.
        if (len > 0) d[0] = ((i % 6) << 4) | (i % 3 === 0 ? 1 : rand() & 0x0f);
        await new Promise<void>((resolve) => sender.send(d, port, '127.0.0.1', () => resolve()));
      }
      // The established connection still carries data both ways.
      a.write(Buffer.from('still'));
      const got = await readRest(bIt, 5);
      expect(got.toString()).toBe('still');
    } finally {
      sender.close();
    }
  });
});

describe('uTP transport in its own process', () => {
  const tmp = tempDirs();
  beforeAll(ensureBuilt, 300_000);

  it('the process exits on its own once the transports are closed, with connections open and a dial pending', async () => {
    const dir = await tmp.make('utp-exit');
    const dist = join(dirname(dirname(cliBin())), 'dist', 'core', 'transport', 'utp.js');
    const script = join(dir, 'child.mjs');
    writeFileSync(
      script,
      `import { UtpTransport } from ${JSON.stringify(pathToFileURL(dist).href)};
import dgram from 'node:dgram';
const a = new UtpTransport(), b = new UtpTransport();
const l = await b.listen({ host: '127.0.0.1', port: 0 });
await a.listen({ host: '127.0.0.1', port: 0 });
const it = l[Symbol.asyncIterator]();
const conns = [];
for (let i = 0; i < 5; i++) {
  const c = await a.dial({ host: '127.0.0.1', port: l.local.port });
  c.write(Buffer.alloc(64 * 1024, i));
  conns.push(c, (await it.next()).value);
}
// A dial to a port that never answers, left pending.
const silent = dgram.createSocket('udp4');
await new Promise((r) => silent.bind(0, '127.0.0.1', r));
const pending = a.dial({ host: '127.0.0.1', port: silent.address().port }).catch(() => 'rejected');
silent.close();
const t0 = performance.now();
await Promise.all([a.close(), b.close()]);
process.on('exit', () => process.stdout.write(JSON.stringify({ closedMs: Math.round(performance.now() - t0), open: a.openConnections + b.openConnections }) + '\\n'));
`,
    );
    const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    try {
      const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
      expect(err).toBe('');
      expect(code).toBe(0);
      const report = JSON.parse(out.trim()) as { closedMs: number; open: number };
      expect(report.closedMs).toBeGreaterThanOrEqual(0);
    } finally {
      clearTimeout(killer);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
