/**
 * Interop suites need real peers (libtorrent, aria2c, opentracker, mktorrent, transmission) and a
 * real web server (nginx). On a developer's machine without them a suite is skipped with a note; in CI (`BTKIT_REQUIRE_INTEROP=1`,
 * set by .ci/run) a missing tool fails the run, so no interop suite can skip silently there.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

export const REQUIRE_INTEROP = process.env.BTKIT_REQUIRE_INTEROP === '1';
export const LAB_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'lab');
export const SYSTEM_PYTHON = '/usr/bin/python3';

function has(check: () => void): boolean {
  try {
    check();
    return true;
  } catch {
    return false;
  }
}

const probes: Record<string, () => boolean> = {
  libtorrent: () => existsSync(SYSTEM_PYTHON) && has(() => execFileSync(SYSTEM_PYTHON, ['-c', 'import libtorrent'], { stdio: 'ignore' })),
  mktorrent: () => has(() => execFileSync('mktorrent', ['-h'], { stdio: 'ignore' })) || existsSync('/usr/bin/mktorrent'),
  'transmission-show': () => existsSync('/usr/bin/transmission-show'),
  'transmission-create': () => existsSync('/usr/bin/transmission-create'),
  aria2c: () => existsSync('/usr/bin/aria2c'),
  opentracker: () => existsSync('/usr/bin/opentracker'),
  nginx: () => existsSync('/usr/sbin/nginx'),
};

/**
 * Returns true when every tool is present. When one is missing: throws under
 * BTKIT_REQUIRE_INTEROP=1, otherwise returns false (use with `describe.skipIf(!…)`).
 */
export function interopAvailable(...tools: (keyof typeof probes)[]): boolean {
  const missing = tools.filter((t) => !probes[t]!());
  if (missing.length === 0) return true;
  if (REQUIRE_INTEROP) throw new Error(`interop tools missing: ${missing.join(', ')} (run .ci/run, which installs them)`);
  console.warn(`skipping interop suite: missing ${missing.join(', ')}`);
  return false;
}

/**
 * True when `script` (util-linux), which runs a command on a pseudo-terminal, is present: the TTY
 * tests need it. Missing: a failure under BTKIT_REQUIRE_INTEROP=1 (CI installs util-linux), else
 * a skip with a note, never a silent one.
 */
export function ttyToolAvailable(): boolean {
  if (existsSync('/usr/bin/script')) return true;
  if (REQUIRE_INTEROP) throw new Error('`script` (util-linux) is missing: the TTY tests need it (run .ci/run, which installs it)');
  console.warn('skipping TTY test: `script` (util-linux) is missing');
  return false;
}
