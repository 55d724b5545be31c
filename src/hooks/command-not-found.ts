/**
 * oclif's `command_not_found` hook: an unknown command is a usage error like any other — one line
 * on stderr in btkit's format (with the closest command when one is near), or the JSON error
 * envelope under --json, and exit code 2. Without it oclif prints its own banner-style message.
 */
import type { CodeOf } from '../core/errors.js';
import { exitCodeFor } from '../cli/exit-codes.js';
import { Help, type Interfaces } from '../cli/oclif.js';

interface NotFoundOptions {
  id: string;
  argv?: string[];
  config: Interfaces.Config;
}

export default async function commandNotFound(options: NotFoundOptions): Promise<void> {
  // With a space as topic separator oclif joins the words it could not match ("inspec x" → "inspec:x").
  const [id, ...rest] = options.id.split(':') as [string, ...string[]];
  const argv = [...rest, ...(options.argv ?? [])];
  // `btkit help [COMMAND]`, as in git and npm: the same help as `btkit [COMMAND] --help`.
  const known = options.config.commandIDs;
  const helpFor = id === 'help' ? argv.find((a) => !a.startsWith('-')) : undefined;
  if (id === 'help' && (helpFor === undefined || known.includes(helpFor))) {
    await new Help(options.config).showHelp(argv);
    return;
  }
  // `btkit version`, as in git, npm and docker: what `btkit --version` and `btkit -v` print.
  if (id === 'version' && argv.length === 0) {
    process.stdout.write(`${options.config.userAgent}\n`);
    return;
  }
  const json = id === '--json' || argv.includes('--json');
  let message: string;
  if (helpFor !== undefined) {
    message = `no help for \`${helpFor}\`: there is no such command`;
  } else if (id.startsWith('-')) {
    message = `\`${id}\` comes before any command: give the command first, e.g. \`btkit create --help\``;
  } else {
    const near =
      known.find((c) => id.length >= 2 && c.startsWith(id)) ??
      known
        .map((c) => ({ c, d: editDistance(id, c) }))
        .filter(({ d, c }) => d <= Math.max(1, Math.floor(c.length / 3)))
        .sort((a, b) => a.d - b.d)[0]?.c;
    message = `unknown command \`${id}\`${near ? `; did you mean \`${near}\`?` : ''}`;
  }
  const exitCode = exitCodeFor('usage');
  process.exitCode = exitCode;
  if (json) {
    const envelope = { ok: false, command: id, error: { code: 'UNKNOWN_COMMAND' satisfies CodeOf<'usage'>, category: 'usage', message, exitCode, detail: { commands: known } } };
    process.stdout.write(`${JSON.stringify(envelope, null, 2)}\n`);
    return;
  }
  process.stderr.write(`btkit: error: ${message} [UNKNOWN_COMMAND] (see 'btkit --help')\n`);
}

/** Levenshtein distance: how many single-character edits turn `a` into `b`. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length]!;
}
