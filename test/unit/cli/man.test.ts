/**
 * The generated man pages (scripts/man.js, issue 13 item 17): defaults present, markdown code
 * spans rendered (not literal backticks), and package.json's "man" listing every page so that
 * `man btkit-create` works after a global install.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, ROOT } from '../../helpers/cli.js';

const MAN = join(ROOT, 'man');
const page = (name: string) => readFileSync(join(MAN, name), 'utf8');

beforeAll(ensureBuilt);

describe('man pages', () => {
  it('package.json "man" lists every generated page', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { man: string[] };
    const pages = readdirSync(MAN).filter((f) => f.endsWith('.1')).map((f) => `./man/${f}`);
    expect([...pkg.man].sort()).toEqual(pages.sort());
    expect(pages).toContain('./man/btkit-create.1');
  });

  it('a flag with a default says it, as help shows it (a duration as typed)', () => {
    expect(page('btkit-dht-lookup.1')).toMatch(/^\\fB\\-\\-timeout\\fR \\fITIMEOUT\\fR\nTime budget of the lookup \(e\.g\. 5s, 30s\)\. Default: 5s\.$/m);
    expect(page('btkit-announce.1')).toMatch(/^The port we claim to listen on\. Default: 6881\.$/m);
    expect(page('btkit-tracker.1')).toMatch(/Default: 2m\./);
  });

  it('no literal markdown backticks in prose; code spans are bold', () => {
    for (const name of readdirSync(MAN).filter((f) => f.endsWith('.1'))) {
      // Examples (.nf … .fi) are shell commands, where a backtick would be the shell's.
      const prose = page(name).replace(/^\.nf\n[\s\S]*?^\.fi$/gm, '');
      expect(prose, name).not.toContain('`');
    }
    expect(page('btkit-create.1')).toContain('Where to write the torrent; \\fB-\\fR for stdout.');
  });

  it.skipIf(!existsSync('/usr/bin/mandoc'))('every page passes mandoc -Tlint', () => {
    for (const name of readdirSync(MAN).filter((f) => f.endsWith('.1'))) {
      expect(() => execFileSync('/usr/bin/mandoc', ['-Tlint', '-W', 'warning', join(MAN, name)], { stdio: 'pipe' }), name).not.toThrow();
    }
  });
});
