/**
 * The one table from error category to process exit code. Documented in README.md and every man
 * page (scripts/man.js reads this table); change it only with a major version.
 */
import type { ErrorCategory } from '../core/errors.js';

export interface ExitCodeRow {
  code: number;
  category: ErrorCategory | 'ok';
  meaning: string;
}

export const EXIT_CODES: readonly ExitCodeRow[] = [
  { code: 0, category: 'ok', meaning: 'success' },
  { code: 1, category: 'internal', meaning: 'internal error (a bug in btkit; please report it)' },
  { code: 2, category: 'usage', meaning: 'usage error: unknown command or flag, bad flag value, missing argument' },
  { code: 3, category: 'input', meaning: 'invalid input: malformed torrent, magnet link, bencode or unsafe path' },
  { code: 4, category: 'network', meaning: 'network error: connection failed, timeout, tracker failure, protocol violation' },
  { code: 5, category: 'verification', meaning: 'verification failed: data on disk does not match the torrent' },
  { code: 6, category: 'no-peers', meaning: 'no peers: the swarm or DHT had nobody to talk to' },
  { code: 7, category: 'io', meaning: 'file system error: missing file, permission denied, disk full' },
  { code: 8, category: 'no-metadata', meaning: 'no metadata: no peer sent the info dictionary of a magnet link in time' },
  { code: 130, category: 'interrupted', meaning: 'interrupted (SIGINT) or aborted' },
];

export function exitCodeFor(category: ErrorCategory): number {
  return EXIT_CODES.find((row) => row.category === category)?.code ?? 1;
}
