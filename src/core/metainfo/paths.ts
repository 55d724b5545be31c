/**
 * Safety rules for path components that come from a torrent (or a peer): the only thing that
 * stands between a hostile torrent and a write outside the output directory. Used when parsing
 * metainfo and again by storage before any file is opened.
 */
import { type BtError, type CodeOf, inputError } from '../errors.js';

/** Names Windows reserves in any directory, with or without an extension (CON, CON.txt …). */
const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?$/i;

export type UnsafeReason = 'empty' | 'dot' | 'traversal' | 'separator' | 'absolute' | 'nul' | 'reserved';

/** Why a single component is unsafe, or null when it is fine. */
export function unsafeComponent(component: string): UnsafeReason | null {
  if (component === '') return 'empty';
  if (component === '.') return 'dot';
  if (component === '..') return 'traversal';
  if (component.includes('\0')) return 'nul';
  if (/^[a-zA-Z]:/.test(component)) return 'absolute';
  if (component.includes('/') || component.includes('\\')) return 'separator';
  if (WINDOWS_RESERVED.test(component)) return 'reserved';
  return null;
}

const CODES: Record<UnsafeReason, Extract<CodeOf<'input'>, `METAINFO_PATH_${string}`>> = {
  empty: 'METAINFO_PATH_EMPTY',
  dot: 'METAINFO_PATH_TRAVERSAL',
  traversal: 'METAINFO_PATH_TRAVERSAL',
  separator: 'METAINFO_PATH_ABSOLUTE',
  absolute: 'METAINFO_PATH_ABSOLUTE',
  nul: 'METAINFO_PATH_RESERVED',
  reserved: 'METAINFO_PATH_RESERVED',
};

const WHY: Record<UnsafeReason, string> = {
  empty: 'has an empty component',
  dot: 'has a `.` component',
  traversal: 'tries to leave the output directory with `..`',
  separator: 'has a component containing a path separator (an absolute or nested path)',
  absolute: 'is absolute (starts with a drive letter)',
  nul: 'contains a NUL byte',
  reserved: 'uses a name reserved by Windows',
};

/** The typed input error for an unsafe path, or null when every component is fine. */
export function unsafePathError(components: readonly string[], where: string): BtError | null {
  if (components.length === 0) return inputError('METAINFO_PATH_EMPTY', `${where}: empty path`);
  for (const c of components) {
    const reason = unsafeComponent(c);
    if (reason) {
      return inputError(CODES[reason], `${where}: path \`${components.join('/')}\` ${WHY[reason]}`, {
        detail: { path: components, component: c, reason },
      });
    }
  }
  return null;
}

/** Throw a typed input error when any component is unsafe. `where` names the field for the message. */
export function assertSafePath(components: readonly string[], where: string): void {
  const err = unsafePathError(components, where);
  if (err) throw err;
}
