/**
 * Minimal glob matching for --include/--exclude (Node 20 has no path.matchesGlob): `*` any run
 * of characters but `/`, `**` any run including `/`, `?` one character, `[abc]`/`[!a-z]` classes,
 * `{a,b}` alternatives. A pattern without `/` matches the base name at any depth, as in .gitignore.
 */
export function globToRegExp(pattern: string): RegExp {
  return new RegExp(`^${translate(pattern)}$`);
}

/** The regular-expression source for a glob (unanchored). */
function translate(pattern: string): string {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') {
      if (pattern[i + 1] === '*') {
        // `**/` matches zero or more directories; a bare `**` anything.
        if (pattern[i + 2] === '/') {
          re += '(?:.*/)?';
          i += 2;
        } else {
          re += '.*';
          i += 1;
        }
      } else {
        re += '[^/]*';
      }
    } else if (c === '?') {
      re += '[^/]';
    } else if (c === '[') {
      const close = pattern.indexOf(']', i + 1);
      if (close < 0) {
        re += '\\[';
      } else {
        let body = pattern.slice(i + 1, close);
        if (body.startsWith('!')) body = `^${body.slice(1)}`;
        re += `[${body.replace(/\\/g, '\\\\')}]`;
        i = close;
      }
    } else if (c === '{') {
      const close = pattern.indexOf('}', i + 1);
      if (close < 0) {
        re += '\\{';
      } else {
        // Each alternative is a glob of its own (`{*.log,tmp?}`), not literal text.
        re += `(?:${pattern.slice(i + 1, close).split(',').map(translate).join('|')})`;
        i = close;
      }
    } else {
      re += escape(c);
    }
  }
  return re;
}

const escape = (s: string) => s.replace(/[.+^$()|\\{}[\]*?]/g, '\\$&');

export class GlobSet {
  private readonly matchers: { re: RegExp; baseOnly: boolean }[];

  constructor(patterns: readonly string[]) {
    this.matchers = patterns.map((p) => {
      const trimmed = p.replace(/^\.\//, '').replace(/\/$/, '');
      return { re: globToRegExp(trimmed), baseOnly: !trimmed.includes('/') };
    });
  }

  get empty(): boolean {
    return this.matchers.length === 0;
  }

  /** Whether `relPath` (with `/` separators) or, for slash-free patterns, its base name matches. */
  matches(relPath: string): boolean {
    const base = relPath.slice(relPath.lastIndexOf('/') + 1);
    return this.matchers.some(({ re, baseOnly }) => re.test(relPath) || (baseOnly && re.test(base)));
  }
}
