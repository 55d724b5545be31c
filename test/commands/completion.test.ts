/**
 * `btkit completion bash|zsh|fish` (issue 13 item 19): a script generated from the commands'
 * metadata. bash is run for real: the script is sourced, registered, and its function asked for
 * completions as bash would ask at a Tab.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, ensureBuilt, runClean as run } from '../helpers/cli.js';

// The script is generated once (one start of btkit) and sourced by every bash below: eight
// starts of Node under a loaded CI machine took longer than the test's time.
const dir = mkdtempSync(join(tmpdir(), 'btkit-completion-'));
const scriptFile = join(dir, 'btkit.bash');
beforeAll(async () => {
  await ensureBuilt();
  writeFileSync(scriptFile, execFileSync('node', [BIN, 'completion', 'bash'], { encoding: 'utf8' }));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** What the bash function offers for the words typed so far (the last one being completed). */
function bashComplete(words: string[]): string[] {
  const script = `source ${JSON.stringify(scriptFile)}
COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _btkit; printf '%s\\n' "\${COMPREPLY[@]}"`;
  return execFileSync('bash', ['-c', script], { encoding: 'utf8' }).split('\n').filter(Boolean);
}

describe('btkit completion', () => {
  it('bash: sourcing the script registers it for btkit', () => {
    const out = execFileSync('bash', ['-c', `source <(node ${JSON.stringify(BIN)} completion bash); complete -p btkit`], { encoding: 'utf8' });
    expect(out.trim()).toBe('complete -o bashdefault -o default -F _btkit btkit');
  });

  it('bash: commands, flags, flag values, and file names where a command takes a file', () => {
    expect(bashComplete(['btkit', 'ins'])).toEqual(['inspect']);
    expect(bashComplete(['btkit', ''])).toEqual(expect.arrayContaining(['announce', 'completion', 'create', 'download', 'seed', 'verify']));
    expect(bashComplete(['btkit', 'download', '--see'])).toEqual(['--seed', '--seed-ratio', '--seed-time']);
    expect(bashComplete(['btkit', 'download', '--no-d'])).toEqual(['--no-dht']);
    expect(bashComplete(['btkit', 'announce', '--event', 'st'])).toEqual(['started', 'stopped']);
    expect(bashComplete(['btkit', 'completion', ''])).toEqual(['bash', 'zsh', 'fish']);
    // A file argument or a flag's value: no words, so bash falls back to file names (-o default).
    expect(bashComplete(['btkit', 'verify', 'x'])).toEqual([]);
    expect(bashComplete(['btkit', 'create', '-o', ''])).toEqual([]);
    // Hidden flags are not offered.
    expect(bashComplete(['btkit', 'download', '--pex-'])).toEqual([]);
  });

  it('zsh and fish: a script naming every command and its flags', async () => {
    const zsh = await run(['completion', 'zsh']);
    expect(zsh.code).toBe(0);
    expect(zsh.stdout.startsWith('#compdef btkit\n')).toBe(true);
    expect(zsh.stdout).toContain("'*--tracker=[Announce to this tracker too (http, https or udp URL).]:tracker:_files'");
    expect(zsh.stdout).toContain("'--event=[The announce event.]:event:(none completed started stopped)'");
    const fish = await run(['completion', 'fish']);
    expect(fish.code).toBe(0);
    expect(fish.stdout).toContain("complete -c btkit -n '__fish_seen_subcommand_from download' -l output -s o -r -F");
    expect(fish.stdout).toContain("complete -c btkit -n '__fish_seen_subcommand_from completion' -a 'bash zsh fish'");
  });

  it('an unknown shell is a usage error (exit 2)', async () => {
    const r = await run(['completion', 'tcsh']);
    expect(r.code).toBe(2);
  });
});
