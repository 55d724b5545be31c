/**
 * `btkit demo`: the swarm on loopback (tracker, create, seed, downloaders as child processes of
 * the built CLI) and the --offline tour.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, runClean } from '../helpers/cli.js';

describe('btkit demo', () => {
  beforeAll(() => ensureBuilt());
  afterAll(() => undefined);

  it('swarm: every copy verified, the seed stops by itself, the bytes served add up', async () => {
    const r = await runClean(['demo', '--json', '--leechers', '3', '--size', '8'], { timeoutMs: 80_000 });
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const { result } = r.json();
    expect(result).toMatchObject({ mode: 'swarm', ok: true, kept: false, swarm: { leechers: 3 } });
    const s = result.swarm;
    expect(s.copies).toHaveLength(3);
    expect(s.copies.every((c: { ok: boolean }) => c.ok)).toBe(true);
    // Every copy's bytes came from the seed or from another downloader.
    expect(s.servedBySeed + s.servedByLeechers).toBeGreaterThanOrEqual(3 * s.payloadBytes);
    expect(s.servedBySeed).toBeGreaterThan(0);
    expect(result.steps.map((x: { step: string }) => x.step)).toEqual(['payload', 'tracker', 'create', 'seed', 'verify']);
  }, 90_000);

  it('human output names the commands and ends with the summary', async () => {
    const r = await runClean(['demo', '--leechers', '2', '--size', '4'], { timeoutMs: 80_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/btkit tracker/);
    expect(r.stdout).toMatch(/btkit seed payload\.torrent payload --until peers-complete=2/);
    expect(r.stdout).toMatch(/served by the seed: .* by the downloaders to each other/);
    expect(r.stdout).toContain('demo: every copy is correct.');
  }, 90_000);

  it('--offline: the create → inspect → magnet → verify tour', async () => {
    const r = await runClean(['demo', '--offline', '--json', '--size', '2']);
    expect(r.code, r.stderr).toBe(0);
    const { result } = r.json();
    expect(result).toMatchObject({ mode: 'offline', ok: true });
    expect(result.steps.map((x: { step: string }) => x.step)).toEqual(['payload', 'create', 'inspect', 'magnet', 'verify', 'verify-corrupted']);
  });
});
