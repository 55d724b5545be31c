/** Issue 15 item 6: torrent- and network-supplied text is shown, never obeyed, by the terminal. */
import { describe, expect, it } from 'vitest';
import { escapeControl } from '../../../../src/cli/render/escape.js';
import { renderAnnounce, renderScrape } from '../../../../src/cli/render/tracker.js';

describe('escapeControl', () => {
  it('makes escape sequences, bells, newlines, C1 controls and bidi overrides visible', () => {
    expect(escapeControl('x\x1b]0;PWNED\x07\x1b[2Jy')).toBe('x\\e]0;PWNED\\x07\\e[2Jy');
    expect(escapeControl('a\nb\rc\td')).toBe('a\\nb\\rc\\td');
    expect(escapeControl('csi\u009b2J del\u007f')).toBe('csi\\x9b2J del\\x7f');
    expect(escapeControl('evil\u202etxt.exe')).toBe('evil\\u202etxt.exe');
  });

  it('leaves ordinary text alone: accents, CJK, emoji, tree glyphs', () => {
    const text = 'Café 東京 🎉 ├── └── a/b c';
    expect(escapeControl(text)).toBe(text);
  });
});

describe('tracker text in human output', () => {
  it('a failure reason or warning with control characters is escaped', () => {
    const failed = renderAnnounce({ url: 'http://t/announce', tier: 0, ok: false, rttMs: 3, error: { code: 'TRACKER_FAILURE', category: 'network', message: 'the tracker refused: \x1b[2Jgone' } });
    expect(failed.join('\n')).not.toMatch(/\x1b/);
    expect(failed[1]).toContain('\\e[2Jgone');
    const ok = renderAnnounce({
      url: 'http://t/announce', tier: 0, ok: true, protocol: 'http', rttMs: 1, interval: 60, minInterval: null, complete: 1, incomplete: 0, downloaded: null,
      warning: 'line one\nline two', externalIp: null, trackerId: null, peers: [], packets: null, redirects: null,
    });
    expect(ok.some((l) => l.includes('line one\\nline two'))).toBe(true);
    const scrape = renderScrape({ url: 'udp://t:1/announce', ok: true, protocol: 'udp', rttMs: 1, files: [{ infoHash: 'ab'.repeat(20), complete: 1, incomplete: 0, downloaded: 0, name: 'n\x07' }], missing: [], minRequestInterval: null });
    expect(scrape.join('\n')).not.toMatch(/\x07/);
  });
});
