/**
 * The fast path of a web seed's range requests over plain `http:` (BEP 19): HTTP/1.1 written and
 * read by hand over `net` sockets kept alive, the socket reading into one buffer of its own
 * (`onread`) and the body handed straight to the caller's sink.
 *
 * Why not node:http here: its response is a Readable stream that allocates a fresh buffer per
 * socket read and pushes each through the stream machinery. For a 1 GiB body from a loopback
 * nginx that cost 6–7 CPU seconds and 30+ s of wall time against 0.5 s for a socket reading into
 * one reused 1 MiB buffer (measured on the 2-core sandbox; bench/webseed). A range response is
 * simple — a status line, headers, a `Content-Length` body — so the client is small. Everything
 * else (https, requests without a sink) stays on node:http (./http-range.ts), which also owns the
 * meaning of each status: this module returns the status and headers and streams the body.
 *
 * Bounded: headers up to 64 KiB; a body without `Content-Length` is read until the server closes;
 * a chunked body is refused (range responses are not chunked; the caller reports the server).
 */
import net from 'node:net';

/** Largest response head (status line and headers) accepted. */
const MAX_HEAD = 64 * 1024;
/** One read at most: the buffer each connection reads into. */
const READ_BUFFER = 1024 * 1024;

export interface RawHead {
  status: number;
  /** Header names in lower case; a repeated header keeps its last value. */
  headers: Record<string, string>;
  reusedConnection: boolean;
}

/** What a request does with its response, as the bytes come. */
export interface RawHandler {
  /** The head arrived: return false to stop reading (the connection is closed, not reused). */
  head(head: RawHead): boolean;
  /** Body bytes from `offset` of the body. The buffer is reused after the call returns (unless it is `target`'s memory). */
  body(offset: number, bytes: Buffer): void;
  /**
   * Memory to read body bytes from `offset` straight into (at most `max` bytes), or null for the
   * connection's own buffer. `body` is then called with a view of that memory: the bytes are
   * already where they belong, and no copy is made.
   */
  target?(offset: number, max: number): Uint8Array | null;
  /** The whole body arrived (its length: `Content-Length`, or until the server closed). */
  end(received: number): void;
  error(err: Error): void;
}

interface Conn {
  key: string;
  socket: net.Socket;
  handler: RawHandler | null;
  /** Head bytes collected so far, or null once the head is parsed. */
  headBuf: Buffer[] | null;
  headLen: number;
  expected: number | null;
  received: number;
  keepAlive: boolean;
  /** Had carried a request before this one. */
  used: boolean;
}

export class RawHttpPool {
  private readonly idle = new Map<string, Conn[]>();
  private readonly all = new Set<Conn>();
  private closed = false;

  constructor(private readonly options: { maxIdle: number; idleTimeoutMs: number }) {}

  /**
   * GET `path` with `headers` from `host:port`; the answer goes to `handler`. Returns a function
   * that cancels the request (the connection is closed).
   */
  request(host: string, port: number, path: string, headers: Record<string, string>, handler: RawHandler): () => void {
    const key = `${host}:${port}`;
    const conn = this.idle.get(key)?.pop() ?? this.connect(key, host, port);
    conn.handler = handler;
    conn.headBuf = [];
    conn.headLen = 0;
    conn.expected = null;
    conn.received = 0;
    conn.socket.setTimeout(this.options.idleTimeoutMs);
    const lines = [`GET ${path} HTTP/1.1`, `Host: ${host.includes(':') ? `[${host}]` : host}:${port}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), '', ''];
    conn.socket.write(lines.join('\r\n'));
    // Only while this request holds the connection: once done it may be another request's.
    return () => {
      if (conn.handler === handler) this.discard(conn);
    };
  }

  close(): void {
    this.closed = true;
    for (const c of this.all) c.socket.destroy();
    this.all.clear();
    this.idle.clear();
  }

  private connect(key: string, host: string, port: number): Conn {
    const scratch = Buffer.allocUnsafe(READ_BUFFER);
    const conn: Conn = { key, socket: null as unknown as net.Socket, handler: null, headBuf: null, headLen: 0, expected: null, received: 0, keepAlive: true, used: false };
    conn.socket = net.connect({
      host,
      port,
      noDelay: true,
      onread: {
        // Asked before every read: the caller's memory once the body is under way, else our own.
        buffer: () => this.nextBuffer(conn, scratch),
        callback: (n: number, buf: Uint8Array) => {
          this.onData(conn, Buffer.from(buf.buffer, buf.byteOffset, n));
          return true;
        },
      },
    });
    conn.socket.on('timeout', () => this.fail(conn, Object.assign(new Error('idle timeout'), { code: 'ETIMEDOUT' })));
    conn.socket.on('error', (err) => this.fail(conn, err));
    conn.socket.on('close', () => {
      this.forget(conn);
      const h = conn.handler;
      if (!h) return;
      conn.handler = null;
      // Read until close: a body without Content-Length ends here.
      if (conn.headBuf === null && conn.expected === null) h.end(conn.received);
      else h.error(Object.assign(new Error(`connection closed after ${conn.received} body bytes`), { code: 'ECONNRESET', received: conn.received }));
    });
    this.all.add(conn);
    return conn;
  }

  /**
   * Where the next read goes: into the handler's `target` while a body with a known length is
   * being read (never more than the body has left, so the next response's bytes cannot land
   * there), else into the connection's buffer.
   */
  private nextBuffer(conn: Conn, scratch: Buffer): Uint8Array {
    const h = conn.handler;
    if (h?.target && conn.headBuf === null && conn.expected !== null) {
      const left = conn.expected - conn.received;
      if (left > 0) {
        const t = h.target(conn.received, Math.min(left, READ_BUFFER));
        if (t && t.length > 0) return t;
      }
    }
    return scratch;
  }

  private onData(conn: Conn, data: Buffer): void {
    const h = conn.handler;
    if (!h) {
      // Bytes on an idle connection: nothing was asked.
      this.discard(conn);
      return;
    }
    let body = data;
    if (conn.headBuf !== null) {
      // Usually the whole head (and much of the body) is in the first read: look there without a
      // copy; only a head split over reads is gathered (copied: the read buffer is reused).
      const all = conn.headLen === 0 ? data : Buffer.concat([...conn.headBuf, data]);
      const end = all.indexOf('\r\n\r\n');
      if (end < 0) {
        conn.headBuf.push(Buffer.from(data));
        conn.headLen += data.length;
        if (conn.headLen > MAX_HEAD) this.fail(conn, new Error(`response head over ${MAX_HEAD} bytes`));
        return;
      }
      conn.headBuf = null;
      const head = parseHead(all.subarray(0, end).toString('latin1'));
      if (!head) {
        this.fail(conn, new Error('malformed HTTP response head'));
        return;
      }
      const te = head.headers['transfer-encoding'];
      if (te !== undefined && te.toLowerCase() !== 'identity') {
        head.headers['content-encoding'] ??= `transfer-encoding ${te}`;
      }
      const cl = head.headers['content-length'];
      conn.expected = cl !== undefined && /^\d+$/.test(cl.trim()) ? Number(cl) : null;
      conn.keepAlive = conn.expected !== null && (head.headers.connection ?? '').toLowerCase() !== 'close' && te === undefined;
      if (!h.head({ ...head, reusedConnection: conn.used })) {
        this.discard(conn);
        h.end(0);
        return;
      }
      body = all.subarray(end + 4);
    }
    if (conn.handler !== h) return;
    if (body.length > 0) {
      const take = conn.expected === null ? body.length : Math.min(body.length, conn.expected - conn.received);
      const at = conn.received;
      conn.received += take;
      h.body(at, take === body.length ? body : body.subarray(0, take));
      if (conn.handler !== h) return;
      if (take < body.length) {
        // More than Content-Length: a broken server; nothing more is read from it.
        conn.keepAlive = false;
      }
    }
    if (conn.expected !== null && conn.received >= conn.expected) this.finish(conn, h);
  }

  private finish(conn: Conn, h: RawHandler): void {
    conn.handler = null;
    conn.used = true;
    if (conn.keepAlive && !this.closed) {
      conn.socket.setTimeout(0);
      const list = this.idle.get(conn.key) ?? [];
      if (list.length < this.options.maxIdle) {
        list.push(conn);
        this.idle.set(conn.key, list);
      } else conn.socket.destroy();
    } else {
      conn.socket.destroy();
    }
    h.end(conn.received);
  }

  private fail(conn: Conn, err: Error): void {
    const h = conn.handler;
    conn.handler = null;
    conn.socket.destroy();
    h?.error(err);
  }

  private discard(conn: Conn): void {
    conn.handler = null;
    conn.socket.destroy();
  }

  private forget(conn: Conn): void {
    this.all.delete(conn);
    for (const [key, list] of this.idle) {
      const i = list.indexOf(conn);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) this.idle.delete(key);
    }
  }
}

/** `HTTP/1.1 206 Partial Content` + header lines → status and lower-case headers, or null. */
export function parseHead(text: string): { status: number; headers: Record<string, string> } | null {
  const lines = text.split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(lines[0] ?? '');
  if (!m) return null;
  // No prototype: a header named `__proto__` or `constructor` is a header like any other.
  const headers = Object.create(null) as Record<string, string>;
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':');
    if (i <= 0) return null;
    headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return { status: Number(m[1]), headers };
}
