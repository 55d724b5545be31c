/**
 * Shared flag parsers: byte sizes, durations, host:port. Each throws a usage error that names the
 * bad value, which the base command turns into exit code 2.
 */
import { Flags } from './oclif.js';
import { BtError } from '../core/errors.js';
import { formatDurationFlag } from './render/format.js';
import { MAX_PIECE_LENGTH, MIN_PIECE_LENGTH } from '../core/metainfo/parse.js';

const usage = (message: string) => new BtError('USAGE', 'usage', message);

const SIZE_UNITS: Record<string, number> = {
  '': 1, b: 1,
  k: 1024, kb: 1000, kib: 1024,
  m: 1024 ** 2, mb: 1000 ** 2, mib: 1024 ** 2,
  g: 1024 ** 3, gb: 1000 ** 3, gib: 1024 ** 3,
  t: 1024 ** 4, tb: 1000 ** 4, tib: 1024 ** 4,
};

/** `16KiB`, `1m`, `2GB`, `512` → bytes. Single letters are binary (k = 1024), as in mktorrent and dd. */
export function parseByteSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) throw usage(`\`${text}\` is not a byte size (examples: 16KiB, 4MiB, 1GB, 65536)`);
  const n = Number(m[1]) * unit;
  if (!Number.isSafeInteger(Math.round(n))) throw usage(`\`${text}\` is too large`);
  return Math.round(n);
}

/** `500ms`, `5s`, `2m`, `1h`, `90` (seconds) → milliseconds. */
export function parseDuration(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(text);
  if (!m) throw usage(`\`${text}\` is not a duration (examples: 500ms, 5s, 2m, 1h)`);
  const mult = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(m[2] ?? 's') as 'ms'];
  return Math.round(Number(m[1]) * mult);
}

export interface HostPort {
  host: string;
  port: number;
}

/** `127.0.0.1:6881`, `[::1]:6881`, `localhost:6881` → { host, port }. */
export function parseHostPort(text: string): HostPort {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:[\]]+):(\d+)$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw usage(`\`${text}\` is not host:port (examples: 127.0.0.1:6881, [::1]:6881)`);
  }
  return { host: m[1]!, port };
}

/** A piece length: a byte size from 1 B to 1 GiB (what parsing a torrent accepts). */
export function parsePieceLength(text: string): number {
  const n = parseByteSize(text);
  if (n < MIN_PIECE_LENGTH || n > MAX_PIECE_LENGTH) throw usage(`\`${text}\` is not a usable piece length (from 1 B to 1 GiB; usually a power of two from 16KiB to 16MiB)`);
  return n;
}

/**
 * A URL whose scheme is one of `schemes` (e.g. ['http', 'https', 'udp']) and that names a host;
 * `what` says what it is for in the message ("tracker", "web seed").
 */
export function parseUrl(text: string, schemes: readonly string[], what: string): string {
  const m = /^([a-z][a-z0-9+.-]*):\/\/[^/\s?#]+/i.exec(text);
  if (!m || !schemes.includes(m[1]!.toLowerCase())) {
    throw usage(`\`${text}\` is not a ${what} URL (${schemes.map((s) => `${s}://`).join(', ')})`);
  }
  return text;
}

/** The trackers btkit itself talks to (announce, scrape, seed). */
export const TRACKER_SCHEMES = ['http', 'https', 'udp'] as const;
export const trackerUrlFlag = Flags.custom<string>({ parse: async (input) => parseUrl(input, TRACKER_SCHEMES, 'tracker') });

/** A bind address: an IP address or a host name; a dotted quad that is no IPv4 address is refused. */
export function parseBindHost(text: string): string {
  if (text === '' || (/^[\d.]+$/.test(text) && !/^((25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(25[0-5]|2[0-4]\d|1?\d?\d)$/.test(text))) {
    throw usage(`\`${text}\` is not an address to bind to (examples: 127.0.0.1, 0.0.0.0, ::)`);
  }
  return text;
}
export const bindHostFlag = Flags.custom<string>({ parse: async (input) => parseBindHost(input) });

export const byteSizeFlag = Flags.custom<number>({ parse: async (input) => parseByteSize(input) });
export const pieceLengthFlag = Flags.custom<number>({ parse: async (input) => parsePieceLength(input) });
const durationBase = Flags.custom<number>({ parse: async (input) => parseDuration(input) });
/** A duration flag; help shows its default as it is typed (`5s`, `2m`), not as milliseconds. */
export const durationFlag = ((options: Record<string, unknown> = {}) => {
  const ms = options.default;
  return (durationBase as (o: Record<string, unknown>) => unknown)({
    ...(typeof ms === 'number' ? { defaultHelp: async () => formatDurationFlag(ms) } : {}),
    ...options,
  });
}) as unknown as typeof durationBase;
export const hostPortFlag = Flags.custom<HostPort>({ parse: async (input) => parseHostPort(input) });

/**
 * Values that may start with '-' (an Azureus-style peer id such as `-qB4630-…`). oclif reads such a
 * value as a flag when its second character is one of the command's short flags (`-q`), even after
 * `=`. The base command marks these values with a guard character before oclif parses the argv
 * (`guardDashValues`), and the flag's parser takes it off again.
 */
const DASH_GUARD = '\u0000';

export function guardDashValues(argv: readonly string[], names: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const name = names.find((n) => arg === `--${n}` || arg.startsWith(`--${n}=`));
    if (name !== undefined && arg.startsWith(`--${name}=-`)) {
      out.push(`--${name}=${DASH_GUARD}${arg.slice(name.length + 3)}`);
    } else if (name !== undefined && arg === `--${name}` && argv[i + 1]?.startsWith('-') && argv[i + 1] !== '-') {
      out.push(`--${name}=${DASH_GUARD}${argv[i + 1]}`);
      i++;
    } else {
      out.push(arg);
    }
  }
  return out;
}

/** A string flag whose value may start with '-' (list its name in the command's `dashValueFlags`). */
export const dashValueFlag = Flags.custom<string>({
  parse: async (text) => (text.startsWith(DASH_GUARD) ? text.slice(DASH_GUARD.length) : text),
});
