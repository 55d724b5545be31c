/**
 * A real nginx serving a folder on 127.0.0.1, for web seed interop tests and benches. Started
 * from its own config in a temp directory (`master_process off`: one process, no user switch, so
 * it reads the temp tree as whoever runs the test; logs in the same directory), stopped by its pid.
 *
 * nginx cannot listen on port 0, so a free port is found by binding a Node server to port 0 and
 * closing it; if nginx then loses the race for it, the start is retried on another (bounded).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';

export const NGINX = '/usr/sbin/nginx';

export interface Nginx {
  port: number;
  base: string;
  /** The nginx process id. */
  pid: number;
  /** The access log so far (one line per request, `$connection $request $status`). */
  accessLog(): Promise<string[]>;
  stop(): Promise<void>;
}

export interface NginxOptions {
  /** Serve the root without Range support (`max_ranges 0`): a server that ignores Range. */
  noRanges?: boolean;
  /** nginx's `limit_rate` per connection (e.g. `1m`): a slow server, so another source surely answers first. */
  limitRate?: string;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** nginx serving `root` on 127.0.0.1; `dir` holds its config and logs. */
export async function startNginx(root: string, dir: string, options: NginxOptions = {}): Promise<Nginx> {
  await mkdir(join(dir, 'logs'), { recursive: true });
  for (let attempt = 1; attempt <= 3; attempt++) {
    const port = await freePort();
    const conf = `
daemon off;
master_process off;
worker_processes 1;
error_log ${join(dir, 'logs', 'error.log')} warn;
pid ${join(dir, 'nginx.pid')};
events { worker_connections 256; }
http {
  log_format wslog '$connection $request $status';
  access_log ${join(dir, 'logs', 'access.log')} wslog;
  client_body_temp_path ${join(dir, 'tmp-body')};
  proxy_temp_path ${join(dir, 'tmp-proxy')};
  fastcgi_temp_path ${join(dir, 'tmp-fastcgi')};
  uwsgi_temp_path ${join(dir, 'tmp-uwsgi')};
  scgi_temp_path ${join(dir, 'tmp-scgi')};
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  types { }
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:${port};
    root ${root};
    ${options.noRanges ? 'max_ranges 0;' : ''}
    ${options.limitRate ? `limit_rate ${options.limitRate};` : ''}
  }
}
`;
    const confPath = join(dir, 'nginx.conf');
    await writeFile(confPath, conf);
    const child: ChildProcess = spawn(NGINX, ['-p', dir, '-c', confPath, '-e', join(dir, 'logs', 'error.log')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    let up = false;
    // Bounded wait: 100 tries, 50 ms apart (5 s), or until nginx exits.
    for (let i = 0; i < 100 && child.exitCode === null; i++) {
      if (await connects(port)) {
        up = true;
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    if (!up) {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
      if (attempt === 3) throw new Error(`nginx did not start: ${stderr.trim()}`);
      continue;
    }
    const pid = child.pid!;
    return {
      port,
      base: `http://127.0.0.1:${port}`,
      pid,
      accessLog: async () => (existsSync(join(dir, 'logs', 'access.log')) ? (await readFile(join(dir, 'logs', 'access.log'), 'utf8')).split('\n').filter(Boolean) : []),
      stop: async () => {
        if (child.exitCode !== null) return;
        process.kill(pid, 'SIGQUIT'); // graceful: the access log is flushed
        const killer = setTimeout(() => child.exitCode === null && process.kill(pid, 'SIGKILL'), 5000);
        await exited;
        clearTimeout(killer);
      },
    };
  }
  throw new Error('unreachable');
}
