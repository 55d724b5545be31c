/**
 * Help and version as in most CLIs (issue 13 item 16): `-h`, `-v`, `--version`, `btkit version`;
 * a default shown once, durations as typed (`5s`), "see above" never pointing at text below, and
 * `--json` saying NDJSON on the streaming commands.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, lines, runClean as run } from '../helpers/cli.js';

beforeAll(ensureBuilt);

/** The commands whose help this suite holds to the rules (demo has its own owner). */
const COMMANDS = ['announce', 'create', 'dht-lookup', 'download', 'inspect', 'magnet', 'scrape', 'seed', 'tracker', 'verify'];

/** The FLAGS and GLOBAL FLAGS sections of a help text, one entry per flag (continuation lines joined). */
function flagEntries(help: string): string[] {
  const entries: string[] = [];
  let inFlags = false;
  for (const line of help.split('\n')) {
    if (/^[A-Z][A-Z ]+$/.test(line)) inFlags = /FLAGS$/.test(line);
    else if (inFlags && /^ {2}(-\w, )?--|^ {6}--/.test(line)) entries.push(line.trim());
    else if (inFlags && line.trim() && entries.length > 0) entries[entries.length - 1] += ` ${line.trim()}`;
  }
  return entries;
}

describe('help and version', () => {
  it('-v, --version and `btkit version` print the version; -h and --help the same help', async () => {
    const version = (await run(['--version'])).stdout;
    expect(version).toMatch(/^btkit\/\d+\.\d+\.\d+ /);
    for (const args of [['-v'], ['version']]) {
      const r = await run(args);
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.stdout).toBe(version);
    }
    const help = await run(['--help']);
    const h = await run(['-h']);
    expect(h.code).toBe(0);
    expect(h.stdout).toBe(help.stdout);
    const cmd = await run(['inspect', '-h']);
    expect(cmd.code).toBe(0);
    expect(cmd.stdout).toBe((await run(['inspect', '--help'])).stdout);
  });

  it.each(COMMANDS)('%s --help: each default shown once, durations as typed, no "see above"', async (id) => {
    const r = await run([id, '--help']);
    expect(r.code).toBe(0);
    const entries = flagEntries(r.stdout);
    expect(entries.length).toBeGreaterThan(1);
    for (const e of entries) {
      if (e.includes('[default:')) expect(e, e).not.toMatch(/\(default:|default: .*default:/i);
      // A duration flag's default in milliseconds ("[default: 5000]") reads as 5000 seconds.
      if (/^--(timeout|interval|min-interval|udp-retransmit|peer-ttl|stop-after)=/.test(e) && e.includes('[default:')) {
        expect(e, e).toMatch(/\[default: \d+(\.\d+)?(ms|s|m|h|d)\]/);
      }
    }
    expect(r.stdout).not.toMatch(/see above/);
  });

  it('--json says NDJSON on the streaming commands, and the dht-lookup timeout is 5s', async () => {
    for (const id of ['dht-lookup', 'tracker', 'download', 'seed']) {
      const json = flagEntries((await run([id, '--help'])).stdout).find((e) => e.startsWith('--json'));
      expect(json, id).toMatch(/NDJSON/);
    }
    const dht = flagEntries((await run(['dht-lookup', '--help'])).stdout);
    expect(dht.find((e) => e.startsWith('--timeout'))).toMatch(/\[default: 5s\]/);
    const inspect = flagEntries((await run(['inspect', '--help'])).stdout).find((e) => e.startsWith('--json'));
    expect(inspect).not.toMatch(/NDJSON/);
    expect(lines((await run(['tracker', '--help'])).stdout).some((l) => /--interval=<value>\s+\[default: 2m\]/.test(l))).toBe(true);
  });

  it('download and seed: defaults once and as typed (--timeout 1m, --cache 32MiB)', async () => {
    const download = flagEntries((await run(['download', '--help'])).stdout);
    expect(download.find((e) => e.startsWith('--timeout'))).toMatch(/\[default: 1m\]/);
    const seed = flagEntries((await run(['seed', '--help'])).stdout);
    const cache = seed.find((e) => e.startsWith('--cache'));
    expect(cache).toMatch(/\[default: 32MiB\]/);
    expect(cache).not.toMatch(/\(default/);
  });
});
