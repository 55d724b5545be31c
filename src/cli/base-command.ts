/**
 * The base of every btkit command: the `--json` envelope, the error → exit-code mapping, SIGINT →
 * AbortSignal, and where output goes (data to stdout, diagnostics and progress to stderr).
 *
 * A command implements `run()` and *returns* its typed result. Under `--json` the result is printed
 * as `{"ok":true,"command":…,"result":…,"warnings":[…]}`; on failure `{"ok":false,"command":…,
 * "error":{"code","category","message","exitCode","detail"}}`, also on stdout so a pipeline reading
 * JSON always gets one parseable document. Streaming commands (NDJSON) print events with
 * `emitEvent()` and return `undefined` for the final summary line to be printed as an envelope.
 */
import { Command, Flags, Errors } from './oclif.js';
import { BtError, isBtError } from '../core/errors.js';
import { exitCodeFor } from './exit-codes.js';
import { guardDashValues } from './flags.js';
import { escapeControl } from './render/escape.js';
import { Style } from './style.js';

export interface JsonEnvelopeOk<T> {
  ok: true;
  command: string;
  result: T;
  warnings: string[];
}

export interface JsonEnvelopeError {
  ok: false;
  command: string;
  error: { code: string; category: string; message: string; exitCode: number; detail?: Record<string, unknown> };
}

/**
 * `--json` for streaming commands: oclif's own says "Format output as json.", which is wrong for
 * NDJSON. A command spreads this into its `baseFlags` to replace it (same name, same behaviour).
 */
export const ndjsonFlag = {
  json: Flags.boolean({
    description: 'Print NDJSON: one JSON object per line as events happen, the last line the {"ok":…} envelope.',
    helpGroup: 'GLOBAL',
  }),
};

export abstract class BaseCommand<T = unknown> extends Command {
  static override enableJsonFlag = true;

  static override baseFlags = {
    quiet: Flags.boolean({ char: 'q', description: 'Print only the essential result; no progress or notes on stderr.', helpGroup: 'GLOBAL' }),
  };

  /** Fires on the first SIGINT/SIGTERM; long work passes it down to the core. */
  protected readonly abort = new AbortController();
  protected get signal(): AbortSignal {
    return this.abort.signal;
  }
  protected readonly warnings: string[] = [];
  private signalCount = 0;
  private readonly onSignal = (sig: NodeJS.Signals) => {
    this.signalCount++;
    if (this.signalCount > 1) {
      // A second Ctrl-C means "now": do not wait for clean-up.
      process.stderr.write('\nbtkit: interrupted again, exiting\n');
      process.exit(130);
    }
    this.abort.abort(new BtError('INTERRUPTED', 'interrupted', `interrupted by ${sig}`));
  };

  /** Stderr styling honouring NO_COLOR and TTY detection. */
  protected readonly style = Style.forStream(process.stderr);
  /** Stdout styling (human output). */
  protected readonly outStyle = Style.forStream(process.stdout);

  /** Flags whose values may start with '-' (declared with `dashValueFlag`). */
  static dashValueFlags: readonly string[] = [];

  override async init(): Promise<void> {
    const dashValues = (this.constructor as typeof BaseCommand).dashValueFlags;
    if (dashValues.length > 0) this.argv = guardDashValues(this.argv, dashValues);
    process.on('SIGINT', this.onSignal);
    process.on('SIGTERM', this.onSignal);
    await super.init();
  }

  override async finally(err: Error | undefined): Promise<unknown> {
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
    return super.finally(err);
  }

  /** --quiet / -q: only the essential result (no headers, no "ok" lines, no notes). */
  protected get quiet(): boolean {
    return this.argv.includes('--quiet') || this.argv.includes('-q');
  }

  /** True when progress and notes may go to stderr (not --json, not --quiet). */
  protected get chatty(): boolean {
    return !this.jsonEnabled() && !this.quiet;
  }

  /** A diagnostic line on stderr, suppressed by --quiet and --json. */
  protected note(message: string): void {
    if (this.chatty) process.stderr.write(`${escapeControl(message)}\n`);
  }

  /** A warning: to stderr for people, into the envelope's `warnings` under --json. */
  protected warnLine(message: string): void {
    this.warnings.push(message);
    if (this.chatty) {
      process.stderr.write(`${this.style.yellow('warning')}: ${escapeControl(message)}\n`);
    }
  }

  /** Human output line on stdout. */
  protected out(line = ''): void {
    process.stdout.write(`${line}\n`);
  }

  /** One NDJSON event on stdout (streaming commands under --json). */
  protected emitEvent(event: Record<string, unknown>): void {
    process.stdout.write(`${JSON.stringify(event, jsonReplacer)}\n`);
  }

  protected override toSuccessJson(result: unknown): JsonEnvelopeOk<unknown> {
    return { ok: true, command: this.id ?? 'btkit', result, warnings: this.warnings };
  }

  protected override toErrorJson(err: unknown): JsonEnvelopeError {
    const bt = toBtError(err);
    return {
      ok: false,
      command: this.id ?? 'btkit',
      error: { code: bt.code, category: bt.category, message: bt.message, exitCode: exitCodeFor(bt.category), ...(bt.detail ? { detail: bt.detail } : {}) },
    };
  }

  override logJson(json: unknown): void {
    process.stdout.write(`${JSON.stringify(json, jsonReplacer, 2)}\n`);
  }

  protected override async catch(err: Error & { exitCode?: number }): Promise<void> {
    const bt = toBtError(err);
    process.exitCode = exitCodeFor(bt.category);
    if (this.jsonEnabled()) {
      this.logJson(this.toErrorJson(bt));
    } else {
      // One line, always: a usage error carries its pointer to --help on the same line.
      const help = bt.category === 'usage' ? ` (see 'btkit ${this.id ?? ''} --help')` : '';
      // Messages quote torrent and network text (paths, failure reasons): escaped, one line always.
      process.stderr.write(`btkit ${this.id ?? ''}: ${this.style.red('error')}: ${escapeControl(bt.message)}${bt.code === 'INTERNAL' ? '' : ` [${bt.code}]`}${help}\n`);
      if (bt.category === 'internal' && process.env.BTKIT_DEBUG) process.stderr.write(`${(bt.cause as Error | undefined)?.stack ?? bt.stack}\n`);
    }
  }
}

/** Turn anything thrown into a BtError: oclif's parse errors become usage errors. */
export function toBtError(err: unknown): BtError {
  if (isBtError(err)) {
    // oclif rewrites the message of an error thrown by a flag's parse function ("Parsing --x …").
    if (err.category === 'usage' && err.message.includes('\n')) return new BtError(err.code, 'usage', usageMessage(err.message), { cause: err, ...(err.detail ? { detail: err.detail } : {}) });
    return err;
  }
  const missing = (err as { args?: { name?: string }[] } | null)?.args;
  if (err instanceof Errors.CLIError && /^Missing \d+ required arg/.test(err.message) && Array.isArray(missing) && missing.length > 0) {
    const names = missing.map((a) => String(a.name ?? '?').toUpperCase());
    return new BtError('USAGE', 'usage', `missing required argument${names.length === 1 ? '' : 's'}: ${names.join(', ')}`, { cause: err });
  }
  // oclif's own parse/validation errors (unknown flag, missing argument, bad option, a flag's parse
  // function that threw: oclif rewraps that one in a plain Error) are usage errors.
  if (err instanceof Errors.CLIError || (err instanceof Error && /^Parsing --/.test(err.message))) {
    return new BtError('USAGE', 'usage', usageMessage(err.message), { cause: err });
  }
  if (err instanceof Error && (err.name === 'AbortError' || (err as NodeJS.ErrnoException).code === 'ABORT_ERR')) {
    return new BtError('INTERRUPTED', 'interrupted', 'interrupted', { cause: err });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new BtError('INTERNAL', 'internal', `unexpected failure: ${message} (set BTKIT_DEBUG=1 for the stack)`, { cause: err });
}

/**
 * oclif's multi-line parse messages as one line:
 * "Parsing --port \n\tExpected an integer but received: abc\nSee more help with --help"
 *   → "--port: Expected an integer but received: abc";
 * "Missing 2 required args:\npath  The file.\ntwo   Second.\nSee more help with --help"
 *   → "missing required arguments: PATH, TWO".
 */
export function usageMessage(raw: string): string {
  const lines = raw
    .replace(/^Error: /, '')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !/^See more help with --help$/.test(l));
  const first = lines[0] ?? 'invalid usage';
  const parsing = /^Parsing (--[\w-]+)$/.exec(first);
  if (parsing) return `${parsing[1]}: ${lines.slice(1).join('; ') || 'invalid value'}`;
  const missing = /^Missing (\d+) required args?:$/.exec(first);
  if (missing) {
    const names = lines.slice(1).map((l) => l.split(/\s+/)[0]!.toUpperCase());
    return `missing required argument${names.length === 1 ? '' : 's'}: ${names.join(', ') || missing[1]}`;
  }
  return lines.join('; ');
}

/** JSON.stringify replacer: bigint → string, bytes → hex. */
export function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex');
  if (value && typeof value === 'object' && (value as { type?: string }).type === 'Buffer' && Array.isArray((value as { data?: unknown }).data)) {
    return Buffer.from((value as { data: number[] }).data).toString('hex');
  }
  return value;
}
