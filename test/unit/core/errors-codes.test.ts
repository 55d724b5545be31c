/**
 * The error-code catalogue (src/core/error-codes.ts, issue 13 item 21): tsc ties each thrown code
 * to the catalogue and to its category; this checks what the type cannot: every code is
 * UPPER_SNAKE and in exactly one domain, each one is still used, each category has an exit code,
 * and the generated docs/error-codes.md is up to date.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODE_DOMAINS, ERROR_CODES, NET_ERRNOS } from '../../../src/core/error-codes.js';
import { BtError, fromSystemError } from '../../../src/core/errors.js';
import { EXIT_CODES } from '../../../src/cli/exit-codes.js';
// @ts-expect-error: a plain JS script, no declarations
import { renderErrorCodes } from '../../../scripts/error-codes.js';

const root = join(import.meta.dirname, '..', '..', '..');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

const entries = ERROR_CODE_DOMAINS.flatMap((d) => Object.entries(d.codes).map(([code, info]) => ({ domain: d.title, code, info })));
const categories = (c: string | readonly string[]) => (typeof c === 'string' ? [c] : [...c]);

describe('error-code catalogue', () => {
  it('has the codes', () => {
    expect(entries.length).toBeGreaterThan(150);
  });

  it('names every code in UPPER_SNAKE_CASE', () => {
    const bad = entries.filter((e) => !/^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/.test(e.code)).map((e) => e.code);
    expect(bad).toEqual([]);
  });

  it('lists every code in exactly one domain', () => {
    const seen = new Map<string, string>();
    const dupes: string[] = [];
    for (const e of entries) {
      if (seen.has(e.code)) dupes.push(`${e.code} in ${seen.get(e.code)} and ${e.domain}`);
      seen.set(e.code, e.domain);
    }
    expect(dupes).toEqual([]);
    expect(Object.keys(ERROR_CODES).length).toBe(entries.length);
  });

  it('gives every code a category with an exit code and a one-line meaning', () => {
    for (const e of entries) {
      const cats = categories(e.info.category);
      expect(cats.length, e.code).toBeGreaterThan(0);
      for (const c of cats) expect(EXIT_CODES.some((r) => r.category === c), `${e.code}: ${c}`).toBe(true);
      expect(e.info.meaning.trim(), e.code).not.toBe('');
      expect(e.info.meaning, e.code).not.toMatch(/\n/);
    }
  });

  it('lists only codes the sources still use', () => {
    const text = sources(join(root, 'src'))
      .filter((f) => !f.endsWith('error-codes.ts'))
      .map((f) => readFileSync(f, 'utf8'))
      .join('\n');
    // Codes built at run time: fromSystemError's NET_<errno> and IO_<errno>, locateContent's prefix.
    const built = (code: string) =>
      (code.startsWith('NET_') && (NET_ERRNOS as readonly string[]).includes(code.slice(4))) ||
      /^IO_E[A-Z]+$/.test(code) ||
      /^(VERIFY|SEED)_NOT_(FOUND|DIRECTORY)$/.test(code);
    const unused = entries.filter((e) => !text.includes(`'${e.code}'`) && !built(e.code)).map((e) => e.code);
    expect(unused).toEqual([]);
  });

  it('matches fromSystemError: catalogued errnos keep their category, others pass through as IO_<errno>', () => {
    const sys = (code: string) => fromSystemError(Object.assign(new Error('x'), { code }), 'p');
    for (const errno of NET_ERRNOS) {
      const e = sys(errno);
      expect(e.code).toBe(`NET_${errno}`);
      expect(categories(ERROR_CODES[e.code as keyof typeof ERROR_CODES].category)).toContain(e.category);
    }
    expect(sys('ENOENT')).toMatchObject({ code: 'IO_ENOENT', category: 'io' });
    expect(sys('ENAMETOOLONG')).toMatchObject({ code: 'IO_ENAMETOOLONG', category: 'io' });
    expect(new BtError('USAGE', 'usage', 'm')).toMatchObject({ code: 'USAGE', category: 'usage', message: 'm' });
  });

  it('docs/error-codes.md is generated from the catalogue and up to date (npm run build writes it)', () => {
    const page = renderErrorCodes(ERROR_CODE_DOMAINS, EXIT_CODES) as string;
    expect(readFileSync(join(root, 'docs', 'error-codes.md'), 'utf8')).toBe(page);
    for (const e of entries) expect(page).toContain(`| \`${e.code}\` |`);
  });

  it('is linked from the README\'s exit codes section', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Exit codes'));
    expect(section.slice(0, section.indexOf('\n## ', 5))).toContain('(docs/error-codes.md)');
  });
});
