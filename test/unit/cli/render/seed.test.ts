/** The seed's terminal line (issue 13 item 16: "1 peer (2 complete)" read as a contradiction). */
import { describe, expect, it } from 'vitest';
import { seedStatusLine } from '../../../../src/cli/render/seed.js';

describe('seedStatusLine', () => {
  const stats = { peers: 1, upRate: 0, uploaded: 0, totalBytes: 100, elapsedMs: 5000 } as Parameters<typeof seedStatusLine>[0];

  it('says peers connected now apart from peers completed so far', () => {
    expect(seedStatusLine(stats, 2)).toBe('seeding  1 peer  2 completed so far  up 0 B/s  uploaded 0 B  ratio 0.00  5.00 s');
    expect(seedStatusLine({ ...stats, peers: 3 }, 0)).toBe('seeding  3 peers  up 0 B/s  uploaded 0 B  ratio 0.00  5.00 s');
  });
});
