/**
 * Typed errors for the whole core.
 *
 * Every failure the core can report is a `BtError` with a stable `code` (part of btkit's public
 * interface: scripts match on it in `--json` output) and a `category`. The CLI maps categories to
 * exit codes in exactly one table (src/cli/exit-codes.ts); the core never decides an exit code.
 * Every code is catalogued, with its category and meaning, in src/core/error-codes.ts.
 */
import { type CategoryOf, type CodeOf, type ErrorCode, type SystemIoCode, ERROR_CODES, NET_ERRNOS, type NetErrno } from './error-codes.js';

export type { CataloguedCode, CategoryOf, CodeOf, ErrorCode, SystemIoCode } from './error-codes.js';

/** What kind of failure this is; the CLI turns each into one documented exit code. */
export type ErrorCategory =
  /** A bug in btkit or an unexpected failure of the platform. */
  | 'internal'
  /** The command line itself is wrong (unknown flag, bad flag value, missing argument). */
  | 'usage'
  /** Input data is malformed or refused: a torrent, a magnet link, bencode, a path. */
  | 'input'
  /** A network operation failed: connection refused, timeout, a tracker's failure reason, garbage from a peer. */
  | 'network'
  /** The network worked, but nobody had what we asked for (no peers found). */
  | 'no-peers'
  /** A magnet link's metadata (BEP 9) did not arrive in time: no peer sent the info dictionary. */
  | 'no-metadata'
  /** Data on disk does not match the torrent. */
  | 'verification'
  /** The local file system refused: permission, no space, a missing file to read. */
  | 'io'
  /** The user (or a signal) aborted the operation. */
  | 'interrupted';

export interface BtErrorOptions {
  cause?: unknown;
  /** Machine-readable facts about the failure (offsets, paths, values), shown under --json. */
  detail?: Record<string, unknown>;
}

export class BtError<C extends ErrorCode = ErrorCode> extends Error {
  override readonly name = 'BtError';
  readonly detail: Record<string, unknown> | undefined;
  readonly category: ErrorCategory;

  constructor(
    /** Stable identifier such as `BENCODE_UNEXPECTED_END`; never reworded once released. */
    readonly code: C,
    /** Must be the category (one of the categories) src/core/error-codes.ts lists for `code`. */
    category: CategoryOf<C>,
    message: string,
    options: BtErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.category = category;
    this.detail = options.detail;
  }
}

export const isBtError = (e: unknown): e is BtError => e instanceof BtError;

/** Shorthands, so call sites read as the kind of failure they report. */
export const inputError = <C extends CodeOf<'input'>>(code: C, message: string, options?: BtErrorOptions) =>
  new BtError<C>(code, 'input' as CategoryOf<C>, message, options);
export const networkError = <C extends CodeOf<'network'>>(code: C, message: string, options?: BtErrorOptions) =>
  new BtError<C>(code, 'network' as CategoryOf<C>, message, options);
export const ioError = <C extends CodeOf<'io'>>(code: C, message: string, options?: BtErrorOptions) =>
  new BtError<C>(code, 'io' as CategoryOf<C>, message, options);

/** The error an aborted operation rejects with; the CLI reports it as "interrupted". */
export function abortError(signal?: AbortSignal): BtError {
  const reason = signal?.reason;
  if (reason instanceof BtError) return reason;
  return new BtError('ABORTED', 'interrupted', 'operation aborted', { cause: reason });
}

/** Throws the abort error if `signal` has fired; call between steps of long work. */
export function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw abortError(signal);
}

/**
 * Translate a Node.js system error (ENOENT, EACCES, ECONNREFUSED…) into a BtError, keeping the
 * original as `cause`. `what` names the thing being worked on, e.g. a path or an address.
 */
export function fromSystemError(err: unknown, what: string): BtError {
  if (err instanceof BtError) return err;
  const sys = err as NodeJS.ErrnoException;
  const errno = typeof sys?.code === 'string' ? sys.code : undefined;
  if (errno && isNetErrno(errno)) {
    return new BtError(`NET_${errno}` as const, 'network', `${what}: ${describeErrno(errno, sys.message)}`, { cause: err, detail: { errno } });
  }
  if (errno) {
    return new BtError(ioCode(errno), 'io', `${what}: ${describeErrno(errno, sys.message)}`, { cause: err, detail: { errno } });
  }
  if (err instanceof Error && err.name === 'AbortError') return abortError();
  return new BtError('INTERNAL', 'internal', `${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}

const isNetErrno = (errno: string): errno is NetErrno => (NET_ERRNOS as readonly string[]).includes(errno);

/** `IO_<errno>`: a catalogued code for the errnos the catalogue lists, else an uncatalogued SystemIoCode. */
function ioCode(errno: string): CodeOf<'io'> | SystemIoCode {
  const code = `IO_${errno}`;
  return Object.prototype.hasOwnProperty.call(ERROR_CODES, code) ? (code as CodeOf<'io'>) : (code as SystemIoCode);
}

function describeErrno(errno: string, fallback: string | undefined): string {
  const text: Record<string, string> = {
    ENOENT: 'no such file or directory',
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EISDIR: 'is a directory',
    ENOTDIR: 'not a directory',
    ENOSPC: 'no space left on device',
    EEXIST: 'already exists',
    EMFILE: 'too many open files',
    ECONNREFUSED: 'connection refused',
    ECONNRESET: 'connection reset by peer',
    ETIMEDOUT: 'timed out',
    EHOSTUNREACH: 'host unreachable',
    ENETUNREACH: 'network unreachable',
    ENOTFOUND: 'host not found',
    EAI_AGAIN: 'name resolution failed',
    EADDRINUSE: 'address already in use',
    EADDRNOTAVAIL: 'address not available',
    EPIPE: 'broken pipe',
  };
  return text[errno] ?? fallback ?? errno;
}
