/**
 * The hand-written HTTP/1.1 path (webseed/http-raw.ts), used for plain-http range requests with
 * a sink: it must mean what the node:http path means for every answer — the same bytes, the same
 * error codes — and keep connections alive. Each case runs both paths against the loopback fault
 * server and compares.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { BtError } from '../../../../src/core/errors.js';
import { parseHead } from '../../../../src/core/webseed/http-raw.js';
import { RangeClient } from '../../../../src/core/webseed/index.js';
import { startFaultServer, type FaultServer, type Fault } from '../../../helpers/webseed-fault-server.js';
import { patternBytes } from '../../../helpers/tmp.js';

const file = patternBytes(300_000, 'raw');
const servers: FaultServer[] = [];
const clients: RangeClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

function client(): RangeClient {
  const c = new RangeClient({ maxSockets: 2, idleTimeoutMs: 300, deadlineMs: 5000, maxRedirects: 3, wholeBodyLimit: 100_000 });
  clients.push(c);
  return c;
}

/** The outcome of one GET through the sink (raw) path or the body (node:http) path: bytes or an error code. */
async function get(url: string, start: number, length: number, raw: boolean): Promise<{ bytes?: Buffer; code?: string; status?: number }> {
  const c = client();
  try {
    if (!raw) {
      const r = await c.get(url, start, length);
      return { bytes: r.body, status: r.status };
    }
    const out = Buffer.alloc(length);
    let written = 0;
    const r = await c.get(url, start, length, {
      sink: (offset, bytes) => {
        bytes.copy(out, offset);
        written += bytes.length;
      },
    });
    expect(written).toBe(length);
    expect(r.body.length).toBe(0);
    return { bytes: out, status: r.status };
  } catch (e) {
    return { code: e instanceof BtError ? e.code : `not a BtError: ${String(e)}` };
  }
}

async function bothPaths(fault: Fault | null, start: number, length: number, path = '/f.bin') {
  const s = await startFaultServer({ '/f.bin': file, '/small.bin': file.subarray(0, 50_000) });
  servers.push(s);
  s.fault = fault;
  const viaHttp = await get(s.base + path, start, length, false);
  const viaRaw = await get(s.base + path, start, length, true);
  return { viaHttp, viaRaw, server: s };
}

describe('raw HTTP/1.1 range path', () => {
  it.each([
    ['a good 206', null, 1000, 200_000, undefined],
    ['404', null, 0, 10, 'WEBSEED_NOT_FOUND'],
    ['503 with Retry-After', ((x) => (x.res.writeHead(503, { 'Retry-After': '2', 'Content-Length': 4 }).end('busy'), true)) as Fault, 0, 10, 'WEBSEED_RETRY_LATER'],
    ['416', ((x) => (x.res.writeHead(416, { 'Content-Length': 0 }).end(), true)) as Fault, 0, 10, 'WEBSEED_RANGE_NOT_SATISFIABLE'],
    ['a redirect loop', ((x) => (x.res.writeHead(302, { Location: x.req.url!, 'Content-Length': 0 }).end(), true)) as Fault, 0, 10, 'WEBSEED_REDIRECT_LOOP'],
    ['a wrong Content-Range', ((x) => (x.res.writeHead(206, { 'Content-Range': 'bytes 5-14/300000', 'Content-Length': 10 }).end(file.subarray(5, 15)), true)) as Fault, 0, 10, 'WEBSEED_BAD_CONTENT_RANGE'],
    ['a body cut short', ((x) => (x.res.writeHead(206, { 'Content-Range': 'bytes 0-9999/300000', 'Content-Length': 10_000 }), x.res.write(file.subarray(0, 5000)), x.res.destroy(), true)) as Fault, 0, 10_000, 'transient'],
    ['gzip', ((x) => (x.res.writeHead(206, { 'Content-Range': 'bytes 0-9/300000', 'Content-Length': 10, 'Content-Encoding': 'gzip' }).end(file.subarray(0, 10)), true)) as Fault, 0, 10, 'WEBSEED_ENCODED_BODY'],
    ['Range ignored on a large file', ((x) => (x.res.writeHead(200, { 'Content-Length': file.length }).end(file), true)) as Fault, 1000, 10, 'WEBSEED_RANGE_IGNORED'],
  ])('%s: the same outcome as node:http', async (_label, fault, start, length, code) => {
    const path = _label === '404' ? '/missing.bin' : '/f.bin';
    const { viaHttp, viaRaw } = await bothPaths(fault, start, length, path);
    // A connection cut mid-body reads as a short body or a reset, depending on when the reset lands: both are transient (tried again).
    if (code === 'transient') {
      expect(['WEBSEED_SHORT_BODY', 'NET_ECONNRESET']).toContain(viaRaw.code);
      expect(['WEBSEED_SHORT_BODY', 'NET_ECONNRESET']).toContain(viaHttp.code);
      return;
    }
    expect(viaRaw).toEqual(viaHttp);
    if (code) expect(viaRaw.code).toBe(code);
    else expect(viaRaw.bytes!.equals(file.subarray(start, start + length))).toBe(true);
  });

  it('Range ignored on a small file: the window is cut out of the whole body', async () => {
    const fault: Fault = (x) => (x.res.writeHead(200, { 'Content-Length': x.file!.length }).end(x.file), true);
    const { viaHttp, viaRaw } = await bothPaths(fault, 20_000, 1000, '/small.bin');
    expect(viaRaw).toEqual(viaHttp);
    expect(viaRaw.status).toBe(200);
    expect(viaRaw.bytes!.equals(file.subarray(20_000, 21_000))).toBe(true);
  });

  it('never answers: a timeout', async () => {
    const { viaRaw } = await bothPaths(() => true, 0, 10);
    expect(viaRaw.code).toBe('WEBSEED_TIMEOUT');
  });

  it('keeps the connection alive across requests, error answers with a small body included', async () => {
    const s = await startFaultServer({ '/f.bin': file });
    servers.push(s);
    const c = client();
    const sink = () => undefined;
    const r1 = await c.get(`${s.base}/f.bin`, 0, 100, { sink });
    await expect(c.get(`${s.base}/nope.bin`, 0, 100, { sink })).rejects.toMatchObject({ code: 'WEBSEED_NOT_FOUND' });
    const r3 = await c.get(`${s.base}/f.bin`, 100, 100, { sink });
    expect(r1.reusedConnection).toBe(false);
    expect(r3.reusedConnection).toBe(true);
    expect(s.connections).toBe(1);
  });

  it('a response head that arrives a byte at a time is read whole', async () => {
    const server = net.createServer((sock) => {
      sock.once('data', async () => {
        const head = Buffer.from(`HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-4/10\r\nContent-Length: 5\r\n\r\n`);
        for (const b of head) {
          sock.write(Buffer.from([b]));
          await new Promise((r) => setTimeout(r, 1));
        }
        sock.end('hello');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const got: Buffer[] = [];
      await client().get(`http://127.0.0.1:${(server.address() as net.AddressInfo).port}/x`, 0, 5, { sink: (_o, b) => got.push(Buffer.from(b)) });
      expect(Buffer.concat(got).toString()).toBe('hello');
    } finally {
      server.close();
    }
  });

  it('parseHead: status and lower-case headers; a malformed head is null', () => {
    expect(parseHead('HTTP/1.1 206 Partial Content\r\nContent-Length: 5\r\nX-A:b')).toEqual({ status: 206, headers: { 'content-length': '5', 'x-a': 'b' } });
    expect(parseHead('HTTP/1.0 200')).toEqual({ status: 200, headers: {} });
    expect(parseHead('SPDY 200 OK')).toBeNull();
    expect(parseHead('HTTP/1.1 200 OK\r\nno colon')).toBeNull();
  });
});

describe('raw path: reading straight into the caller memory (target)', () => {
  it('the body lands in the target memory, the sink gets views of it, and nothing past the range is read there', async () => {
    const s = await startFaultServer({ '/f.bin': file });
    servers.push(s);
    const c = client();
    const start = 1234;
    const length = 200_000;
    const dest = new Uint8Array(length + 16).fill(0xee); // 16 guard bytes after the range
    let inPlace = 0;
    let copied = 0;
    const asked: number[] = [];
    await c.get(`${s.base}/f.bin`, start, length, {
      target: (offset, max) => {
        asked.push(offset);
        expect(offset + max).toBeLessThanOrEqual(length);
        return dest.subarray(offset, offset + max);
      },
      sink: (offset, bytes) => {
        if (bytes.buffer === dest.buffer && bytes.byteOffset === dest.byteOffset + offset) inPlace += bytes.length;
        else {
          dest.set(bytes, offset);
          copied += bytes.length;
        }
      },
    });
    expect(Buffer.from(dest.subarray(0, length)).equals(file.subarray(start, start + length))).toBe(true);
    expect([...dest.subarray(length)].every((b) => b === 0xee)).toBe(true);
    expect(inPlace + copied).toBe(length);
    // The head's read carries the first bytes (copied); once the body is under way the socket reads into `dest`.
    expect(asked.length).toBeGreaterThan(0);
    expect(inPlace).toBeGreaterThan(0);
    // A second request on the kept-alive connection: its head is read into the connection's own buffer, not into `dest`.
    const again = Buffer.alloc(1000);
    await c.get(`${s.base}/f.bin`, 0, 1000, { sink: (o, b) => b.copy(again, o) });
    expect(again.equals(file.subarray(0, 1000))).toBe(true);
    expect(Buffer.from(dest.subarray(0, length)).equals(file.subarray(start, start + length))).toBe(true);
  });

  it('a target that gives no memory (null) leaves the bytes to the sink', async () => {
    const s = await startFaultServer({ '/f.bin': file });
    servers.push(s);
    const out = Buffer.alloc(100_000);
    await client().get(`${s.base}/f.bin`, 5, 100_000, { target: () => null, sink: (o, b) => b.copy(out, o) });
    expect(out.equals(file.subarray(5, 100_005))).toBe(true);
  });
});
