/**
 * Glob matching for create's --include/--exclude: `*` stays inside one path component, `**`
 * crosses them, `?`, classes and `{a,b}` alternatives work, regex metacharacters are literal, and
 * a pattern without `/` matches the base name at any depth (as in .gitignore).
 */
import { describe, expect, it } from 'vitest';
import { GlobSet, globToRegExp } from '../../../../src/core/fs/glob.js';

const m = (pattern: string, path: string) => globToRegExp(pattern).test(path);

describe('globToRegExp', () => {
  it('`*` matches any run of characters except `/`', () => {
    expect(m('*.txt', 'a.txt')).toBe(true);
    expect(m('*.txt', '.txt')).toBe(true);
    expect(m('*.txt', 'a.txt.bak')).toBe(false);
    expect(m('*.txt', 'dir/a.txt')).toBe(false);
    expect(m('a*', 'a')).toBe(true);
    expect(m('a*b', 'a/b')).toBe(false);
  });

  it('`**` crosses directories; `**/` also matches zero directories', () => {
    expect(m('a/**', 'a/b/c.txt')).toBe(true);
    expect(m('a/**', 'b/a/c')).toBe(false);
    expect(m('**/x.log', 'x.log')).toBe(true);
    expect(m('**/x.log', 'p/q/x.log')).toBe(true);
    expect(m('**/x.log', 'p/qx.log')).toBe(false);
    expect(m('a/**/b', 'a/b')).toBe(true);
    expect(m('a/**/b', 'a/x/y/b')).toBe(true);
    expect(m('a/**/b', 'a/xb')).toBe(false);
    expect(m('**', 'any/thing/at/all')).toBe(true);
  });

  it('`?` is exactly one character, never `/`', () => {
    expect(m('a?c', 'abc')).toBe(true);
    expect(m('a?c', 'ac')).toBe(false);
    expect(m('a?c', 'abbc')).toBe(false);
    expect(m('a?c', 'a/c')).toBe(false);
  });

  it('character classes, ranges and `[!…]` negation', () => {
    expect(m('[ab].txt', 'a.txt')).toBe(true);
    expect(m('[ab].txt', 'c.txt')).toBe(false);
    expect(m('file[0-9]', 'file7')).toBe(true);
    expect(m('file[0-9]', 'filex')).toBe(false);
    expect(m('[!a].txt', 'b.txt')).toBe(true);
    expect(m('[!a].txt', 'a.txt')).toBe(false);
  });

  it('`{a,b}` alternatives, literal or with wildcards inside', () => {
    expect(m('*.{jpg,png}', 'x.jpg')).toBe(true);
    expect(m('*.{jpg,png}', 'x.png')).toBe(true);
    expect(m('*.{jpg,png}', 'x.gif')).toBe(false);
    expect(m('{a.b,c+d}', 'a.b')).toBe(true);
    expect(m('{a.b,c+d}', 'axb')).toBe(false); // the `.` inside braces is literal
    expect(m('{a.b,c+d}', 'c+d')).toBe(true);
    expect(m('{*.log,tmp?}', 'x.log')).toBe(true);
    expect(m('{*.log,tmp?}', 'tmp1')).toBe(true);
    expect(m('{*.log,tmp?}', 'tmp')).toBe(false);
    expect(m('{*.log,tmp?}', 'd/x.log')).toBe(false);
  });

  it('regular-expression metacharacters are matched literally', () => {
    expect(m('a+b(1).txt', 'a+b(1).txt')).toBe(true);
    expect(m('a+b(1).txt', 'aab1.txt')).toBe(false);
    expect(m('*.txt', 'atxt')).toBe(false);
    expect(m('$^|.', '$^|.')).toBe(true);
    expect(m('a\\b', 'a\\b')).toBe(true);
  });

  it('an unclosed `[` or `{` is a literal character', () => {
    expect(m('a[b', 'a[b')).toBe(true);
    expect(m('a{b', 'a{b')).toBe(true);
    expect(m('a{b', 'ab')).toBe(false);
  });

  it('matches the whole path, not a substring', () => {
    expect(m('b', 'abc')).toBe(false);
    expect(m('a/b', 'x/a/b')).toBe(false);
  });
});

describe('GlobSet', () => {
  it('is empty without patterns and then matches nothing', () => {
    const s = new GlobSet([]);
    expect(s.empty).toBe(true);
    expect(s.matches('a')).toBe(false);
    expect(new GlobSet(['x']).empty).toBe(false);
  });

  it('a pattern without `/` matches the base name at any depth', () => {
    const s = new GlobSet(['*.log']);
    expect(s.matches('x.log')).toBe(true);
    expect(s.matches('a/b/c/x.log')).toBe(true);
    expect(s.matches('a/x.log/c')).toBe(false);
    expect(s.matches('x.logs')).toBe(false);
  });

  it('a pattern with `/` is anchored at the root of the tree', () => {
    const s = new GlobSet(['sub/*.log']);
    expect(s.matches('sub/a.log')).toBe(true);
    expect(s.matches('other/sub/a.log')).toBe(false);
    expect(s.matches('sub/deeper/a.log')).toBe(false);
  });

  it('a leading `./` and a trailing `/` are ignored', () => {
    expect(new GlobSet(['./sub/a']).matches('sub/a')).toBe(true);
    const dir = new GlobSet(['build/']);
    expect(dir.matches('build')).toBe(true);
    expect(dir.matches('x/build')).toBe(true);
    expect(dir.matches('builder')).toBe(false);
  });

  it('matches when any of its patterns does', () => {
    const s = new GlobSet(['*.tmp', 'cache/**', 'exact.txt']);
    expect(s.matches('a/b.tmp')).toBe(true);
    expect(s.matches('cache/x/y')).toBe(true);
    expect(s.matches('d/exact.txt')).toBe(true);
    expect(s.matches('keep.txt')).toBe(false);
  });
});
