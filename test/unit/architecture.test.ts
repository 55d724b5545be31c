/**
 * The layering rules of STYLE.md, checked on the source: the core is a library (no oclif, no
 * `process`, no `console`), and commands get oclif only through src/cli/oclif.ts (one instance,
 * the preloaded bundle; see scripts/bundle-oclif.js).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Source text without comments, so a comment that *mentions* process or console is fine. */
function code(file: string): string {
  return readFileSync(file, 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

describe('architecture', () => {
  const core = sources(join(root, 'src', 'core'));
  const all = sources(join(root, 'src'));

  it('finds the sources', () => {
    expect(core.length).toBeGreaterThan(10);
  });

  it.each(core.map((f) => [relative(root, f)]))('%s does not import oclif or use process/console', (file) => {
    const text = code(join(root, file));
    expect(text).not.toMatch(/from ['"]@oclif\//);
    expect(text).not.toMatch(/\bprocess\.(?!hrtime)/);
    expect(text).not.toMatch(/\bconsole\./);
    expect(text).not.toMatch(/from ['"](node:)?process['"]/);
  });

  it('only src/cli/oclif.ts imports @oclif/core', () => {
    const offenders = all
      .filter((f) => !f.endsWith(join('cli', 'oclif.ts')))
      .filter((f) => /from ['"]@oclif\/core['"]/.test(code(f)) && !/import type/.test(code(f).match(/.*@oclif\/core.*/)?.[0] ?? ''))
      .map((f) => relative(root, f));
    expect(offenders).toEqual([]);
  });
});
