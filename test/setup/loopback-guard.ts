/**
 * Loaded before every test file: any socket that tries to send to or connect to an address
 * outside 127.0.0.0/8 and ::1 throws at once, so no test can reach the outside by mistake
 * (CI also runs the suite in a network namespace with only loopback; this catches it earlier
 * and with a stack that names the culprit).
 */
import dgram from 'node:dgram';
import net from 'node:net';

export function isLoopbackAddress(host: string | undefined): boolean {
  if (host === undefined || host === '' || host === 'localhost') return true; // Node defaults to loopback for an empty host
  const h = host.replace(/^\[|\]$/g, '');
  if (h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  if (/^::ffff:127\./i.test(h)) return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

function refuse(kind: string, host: unknown): never {
  throw new Error(`loopback guard: a test tried to ${kind} ${String(host)}; tests may only reach 127.0.0.0/8 and ::1`);
}

const originalSend = dgram.Socket.prototype.send;
dgram.Socket.prototype.send = function patchedSend(this: dgram.Socket, ...args: unknown[]) {
  // send(msg, [offset, length,] port, address, cb) — the address is the first string after a number.
  const address = args.find((a, i) => typeof a === 'string' && i > 0 && typeof args[i - 1] === 'number');
  let connectedTo: string | undefined;
  try {
    connectedTo = this.remoteAddress().address;
  } catch {
    connectedTo = undefined;
  }
  const target = (address as string | undefined) ?? connectedTo;
  if (target !== undefined && !isLoopbackAddress(target)) refuse('send a UDP datagram to', target);
  if (target === undefined && connectedTo === undefined && args.some((a) => typeof a === 'number') && address === undefined) {
    // No address given with a port: Node sends to localhost. Allowed.
  }
  return (originalSend as (...a: unknown[]) => void).apply(this, args);
} as typeof dgram.Socket.prototype.send;

const originalConnect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function patchedConnect(this: net.Socket, ...args: unknown[]) {
  const first = Array.isArray(args[0]) ? (args[0] as unknown[])[0] : args[0];
  let host: unknown;
  if (typeof first === 'object' && first !== null) {
    const opts = first as { host?: string; path?: string };
    if (opts.path !== undefined) return (originalConnect as (...a: unknown[]) => net.Socket).apply(this, args); // unix socket
    host = opts.host;
  } else if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    host = Array.isArray(args[0]) ? (args[0] as unknown[])[1] : args[1];
    if (typeof host !== 'string') host = undefined;
  } else if (typeof first === 'string') {
    return (originalConnect as (...a: unknown[]) => net.Socket).apply(this, args); // unix socket path
  }
  if (!isLoopbackAddress(host as string | undefined)) refuse('connect to', host);
  return (originalConnect as (...a: unknown[]) => net.Socket).apply(this, args);
} as typeof net.Socket.prototype.connect;
