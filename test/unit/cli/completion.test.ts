/** The completion generator (issue 13 item 19): pure, from a spec; quoting that survives any help text. */
import { describe, expect, it } from 'vitest';
import { type CompletionSpec, completionScript } from '../../../src/cli/completion.js';

const spec: CompletionSpec = {
  bin: 'btkit',
  commands: [
    {
      id: 'x',
      summary: "It's [odd]: quotes, brackets and colons. More text.",
      fileArgs: true,
      flags: [
        { name: 'mode', takesValue: true, options: ['a', 'b'], summary: "Pick one (it's fine)." },
        { name: 'out', char: 'o', takesValue: true, multiple: true, summary: 'Where: a [path].' },
        { name: 'dht', takesValue: false, allowNo: true, summary: 'Use the DHT.' },
      ],
    },
  ],
};

describe('completionScript', () => {
  it('bash: single quotes closed and reopened around an apostrophe; value flags fall back to files', () => {
    const s = completionScript('bash', spec);
    expect(s).toContain("--mode) COMPREPLY=( $(compgen -W 'a b' -- \"$cur\") ); return ;;");
    expect(s).toContain('--out|-o) return ;;');
    expect(s).toContain("words_='--mode --out -o --dht --no-dht'");
  });

  it('zsh: brackets and colons escaped in descriptions, the first sentence only', () => {
    const s = completionScript('zsh', spec);
    expect(s).toContain("'x:It'\\''s [odd]\\: quotes, brackets and colons.'");
    expect(s).toContain("'*--out=[Where\\: a \\[path\\].]:out:_files'");
    expect(s).toContain("'*-o+[Where\\: a \\[path\\].]:out:_files'");
    expect(s).toContain("'--no-dht[Turn off --dht.]'");
  });

  it('fish: -r -F for a value, -x -a for a list, -F for file arguments', () => {
    const s = completionScript('fish', spec);
    expect(s).toContain("complete -c btkit -n '__fish_seen_subcommand_from x' -F");
    expect(s).toContain("complete -c btkit -n '__fish_seen_subcommand_from x' -l mode -x -a 'a b' -d 'Pick one (it'\\''s fine).'");
    expect(s).toContain("complete -c btkit -n '__fish_seen_subcommand_from x' -l out -s o -r -F -d 'Where: a [path].'");
  });
});
