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
    // The seed capped at 2 MiB/s keeps the .torrent downloaders busy a few seconds, long enough for
    // the magnet downloader to hear of them through PEX (every second) and dial them.
    const r = await runClean(['demo', '--json', '--leechers', '3', '--size', '8', '--seed-limit', '2MiB'], { timeoutMs: 80_000 });
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const { result } = r.json();
    expect(result).toMatchObject({ mode: 'swarm', ok: true, kept: false, swarm: { leechers: 3, seedOk: true } });
    const s = result.swarm;
    expect(s.copies).toHaveLength(3);
    expect(s.copies.every((c: { ok: boolean }) => c.ok)).toBe(true);
    expect(s.copies.map((c: { from: string }) => c.from)).toEqual(['torrent', 'torrent', 'magnet']);
    // Every copy's bytes came from the seed or from another downloader.
    expect(s.servedBySeed + s.servedByLeechers).toBeGreaterThanOrEqual(3 * s.payloadBytes);
    expect(s.servedBySeed).toBeGreaterThan(0);
    expect(result.steps.map((x: { step: string }) => x.step)).toEqual(['payload', 'tracker', 'create', 'seed', 'verify']);

    // The magnet downloader, given only the seed's address (no tracker): its copy is complete and
    // correct (above), its `metadata` event (BEP 9) names the seed, and its `peer-connected` events
    // show other downloaders dialed at addresses learned through PEX (BEP 11) — it had no other way
    // to find them.
    const m = s.magnet;
    expect(m.copy).toBe('copy-3');
    expect(m.link).toMatch(/^magnet:\?xt=urn:btih:[0-9a-f]{40}&dn=payload&x\.pe=127\.0\.0\.1:\d+$/);
    expect(m.link).not.toContain('tr=');
    expect(m.metadata).not.toBeNull();
    expect(m.metadata.size).toBeGreaterThan(0);
    expect(m.metadata.from).toContain('seed');
    expect(m.peersBySource.manual).toBe(1);
    expect(m.pexPeers).toBeGreaterThanOrEqual(1);
    expect(m.pexPeerNames).toHaveLength(m.pexPeers);
    for (const name of m.pexPeerNames) expect(name).toMatch(/^download #[12]$/);
  }, 90_000);

  it('human output names the commands and ends with the summary', async () => {
    const r = await runClean(['demo', '--leechers', '2', '--size', '4'], { timeoutMs: 80_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/btkit tracker/);
    expect(r.stdout).toMatch(/btkit seed payload\.torrent payload --until peers-complete=2/);
    expect(r.stdout).toMatch(/served by the seed: .* by the downloaders to each other/);
    expect(r.stdout).toMatch(/btkit download 'magnet:\?xt=urn:btih:[0-9a-f]{40}&dn=payload&x\.pe=127\.0\.0\.1:\d+' -o copy-2/);
    expect(r.stdout).toMatch(/the magnet download \(copy-2\): metadata \(.+\) from the seed \(127\.0\.0\.1:\d+\) in /);
    expect(r.stdout).toMatch(/peers? learned through PEX \(BEP 11\)/);
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
