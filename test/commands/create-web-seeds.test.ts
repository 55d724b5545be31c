/**
 * `btkit create --web-seed URL --check-web-seeds`: each web seed is asked for the first and last
 * bytes of every file; what it does not serve is a warning (the torrent is written either way).
 * Against a real nginx serving the folder, and against the fault server.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, runClean as run } from '../helpers/cli.js';
import { interopAvailable } from '../helpers/interop.js';
import { startNginx, type Nginx } from '../helpers/nginx.js';
import { startFaultServer, type FaultServer } from '../helpers/webseed-fault-server.js';
import { tempDirs, writeTree } from '../helpers/tmp.js';

const tmp = tempDirs();
let www: string;
let content: string;

beforeAll(async () => {
  ensureBuilt();
  www = await tmp.make('cmd-ws');
  content = join(www, 'rel');
  await writeTree(content, { 'a.bin': 70_000, 'sub/b c.txt': 'hello', 'z.bin': 3 });
});

const REPRO = ['--no-date', '--no-created-by', '-o', '-'];

describe('btkit create --check-web-seeds against a fault server', () => {
  let server: FaultServer;
  beforeAll(async () => {
    const { readFile } = await import('node:fs/promises');
    server = await startFaultServer({
      '/rel/a.bin': await readFile(join(content, 'a.bin')),
      '/rel/sub/b c.txt': Buffer.from('HELLO'),
    });
  });
  afterAll(() => server?.close());

  it('warns about the missing and the changed file, by path, with the code; writes the torrent', async () => {
    const cwd = await tmp.make('cwd');
    const r = await run(['create', content, '-w', `${server.base}/`, '--check-web-seeds', '--json', ...REPRO.slice(0, 2)], { cwd });
    expect(r.code).toBe(0);
    const env = r.json();
    expect(env.ok).toBe(true);
    expect(existsSync(join(cwd, 'rel.torrent'))).toBe(true);
    const [report] = env.result.webSeedCheck;
    expect(report).toMatchObject({ url: `${server.base}/`, filesChecked: 3, gaveUp: false });
    expect(report.problems.map((p: { path: string[]; code: string }) => [p.path.join('/'), p.code])).toEqual([
      ['sub/b c.txt', 'WEBSEED_CHECK_MISMATCH'],
      ['z.bin', 'WEBSEED_NOT_FOUND'],
    ]);
    expect(env.warnings).toEqual([
      expect.stringMatching(/^web seed `http:\/\/127\.0\.0\.1:\d+\/`: sub\/b c\.txt: .*differ.*\(WEBSEED_CHECK_MISMATCH\)$/),
      expect.stringMatching(/: z\.bin: .*404.*\(WEBSEED_NOT_FOUND\)$/),
    ]);
  });

  it('refuses --check-web-seeds without --web-seed (usage)', async () => {
    const r = await run(['create', content, '--check-web-seeds', ...REPRO]);
    expect(r.code).toBe(2);
  });
});

describe.skipIf(!interopAvailable('nginx'))('btkit create --check-web-seeds against nginx', () => {
  let nginx: Nginx;
  beforeAll(async () => {
    nginx = await startNginx(www, await tmp.make('nginx'));
  });
  afterAll(() => nginx?.stop());

  it('a directory URL that serves every file: no warnings, a note on stderr', async () => {
    const cwd = await tmp.make('cwd');
    const r = await run(['create', content, '-w', `${nginx.base}/`, '--check-web-seeds'], { cwd });
    expect(r.code).toBe(0);
    expect(r.stderr).not.toMatch(/warning/);
    expect(r.stderr).toContain(`web seed ${nginx.base}/: serves all 3 files`);
  });

  it('a URL one level too deep: every file missing, warned about each', async () => {
    const cwd = await tmp.make('cwd');
    const r = await run(['create', content, '-w', `${nginx.base}/rel/`, '--check-web-seeds', '--json'], { cwd });
    expect(r.code).toBe(0);
    const [report] = r.json().result.webSeedCheck;
    expect(report.problems.map((p: { code: string }) => p.code)).toEqual(['WEBSEED_NOT_FOUND', 'WEBSEED_NOT_FOUND', 'WEBSEED_NOT_FOUND']);
  });
});
