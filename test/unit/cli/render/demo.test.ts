/** `btkit demo`'s text: what the swarm demo tells, rendered without running it. */
import { describe, expect, it } from 'vitest';
import type { MagnetSummary } from '../../../../src/cli/demo/swarm.js';
import { magnetLines, swarmLines, swarmProgressLine } from '../../../../src/cli/render/demo.js';
import { Style } from '../../../../src/cli/style.js';

const plain = new Style(false);

const magnet: MagnetSummary = {
  copy: 'copy-5',
  link: 'magnet:?xt=urn:btih:f4015907e3a68d33c39fb0c80656432c3b7e17bf&dn=payload&x.pe=127.0.0.1:39477',
  metadata: { size: 2775, peers: ['127.0.0.1:39477'], from: ['seed'], elapsedMs: 35 },
  peersBySource: { manual: 1, pex: 3, incoming: 1 },
  pexPeers: 3,
  pexPeerNames: ['download #1', 'download #2', 'download #4'],
};

describe('demo rendering', () => {
  it('says where the magnet download got its metadata and which peers it learned through PEX', () => {
    expect(magnetLines(magnet)).toEqual([
      'the magnet download (copy-5): metadata (2.71 KiB) from the seed (127.0.0.1:39477) in 35 ms (BEP 9)',
      '   3 peers learned through PEX (BEP 11): download #1, download #2, download #4; 5 peers in all: 3 through PEX, 1 from x.pe, 1 dialed in',
    ]);
  });

  it('says so when the metadata never came and PEX found nobody', () => {
    const lines = magnetLines({ ...magnet, metadata: null, peersBySource: { manual: 1 }, pexPeers: 0, pexPeerNames: [] });
    expect(lines[0]).toBe('the magnet download (copy-5): no metadata arrived');
    expect(lines[1]).toBe('   0 peers learned through PEX (BEP 11); 1 peer in all: 1 from x.pe');
  });

  it('shows the magnet command beside the .torrent ones, and one downloader alone without the .torrent line', () => {
    const lines = swarmLines({ type: 'downloads', fromTorrent: 4, magnet: magnet.link, magnetCopy: 'copy-5' }, plain);
    expect(lines[0]).toBe('5. 4 x btkit download payload.torrent -o copy-N --no-pex --no-dht');
    expect(lines[1]).toBe(`   1 x btkit download '${magnet.link}' -o copy-5 --pex-interval 1s --no-dht`);
    const alone = swarmLines({ type: 'downloads', fromTorrent: 0, magnet: magnet.link, magnetCopy: 'copy-1' }, plain);
    expect(alone[0]).toMatch(/^5\. 1 x btkit download 'magnet:/);
  });

  it('progress: one column per downloader, the magnet one marked', () => {
    expect(swarmProgressLine({ type: 'progress', elapsedMs: 1130, copies: [{ label: '#1', percent: 39 }, { label: '#2m', percent: 7 }] })).toBe('     1.13 s  #1  39%  #2m   7%');
  });
});
