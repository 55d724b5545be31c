/**
 * A web seed server for tests: node:http on 127.0.0.1, port 0, serving in-memory files with
 * `Range` support, and fault modes chosen per request. It counts connections (keep-alive is
 * asserted on this count), requests, and the most requests it ever had open at once.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface Exchange {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  /** The decoded path, e.g. `/dir/a b.bin`. */
  path: string;
  /** The file's bytes, or undefined (404). */
  file: Buffer | undefined;
  /** The parsed `Range`, or null. */
  range: { start: number; end: number } | null;
  /** Answer as a good server would. */
  serve(): void;
}

/** Return true when the fault answered the request; false lets the good server answer. */
export type Fault = (x: Exchange) => boolean;

export interface FaultServer {
  base: string;
  files: Map<string, Buffer>;
  fault: Fault | null;
  connections: number;
  requests: string[];
  maxOpen: number;
  close(): Promise<void>;
}

export async function startFaultServer(files: Record<string, Buffer>): Promise<FaultServer> {
  const sockets = new Set<Socket>();
  let open = 0;
  const state: FaultServer = {
    base: '',
    files: new Map(Object.entries(files)),
    fault: null,
    connections: 0,
    requests: [],
    maxOpen: 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  const server = http.createServer((req, res) => {
    open++;
    state.maxOpen = Math.max(state.maxOpen, open);
    res.on('close', () => open--);
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    state.requests.push(path);
    const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    const range = m ? { start: Number(m[1]), end: Number(m[2]) } : null;
    const file = state.files.get(path);
    const x: Exchange = {
      req,
      res,
      path,
      file,
      range,
      serve: () => {
        if (!file) {
          res.writeHead(404, { 'Content-Length': 9 }).end('not found');
          return;
        }
        if (!range) {
          res.writeHead(200, { 'Content-Length': file.length }).end(file);
          return;
        }
        if (range.start >= file.length) {
          res.writeHead(416, { 'Content-Range': `bytes */${file.length}`, 'Content-Length': 0 }).end();
          return;
        }
        const end = Math.min(range.end, file.length - 1);
        res
          .writeHead(206, { 'Content-Range': `bytes ${range.start}-${end}/${file.length}`, 'Content-Length': end - range.start + 1 })
          .end(file.subarray(range.start, end + 1));
      },
    };
    if (state.fault?.(x)) return;
    x.serve();
  });
  server.on('connection', (s) => {
    state.connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return state;
}
