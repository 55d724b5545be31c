/** askTrackers: the one fan-out announce and scrape share (issue 13 item 20). */
import { describe, expect, it } from 'vitest';
import { BtError } from '../../../../src/core/errors.js';
import { askTrackers } from '../../../../src/core/tracker/index.js';

describe('askTrackers', () => {
  it('keeps every answer and every tracker error, in the order of the jobs', async () => {
    const out = await askTrackers(['a', 'b', 'c'], async (_client, job) => {
      if (job === 'b') throw new BtError('TRACKER_TIMEOUT', 'network', 'no answer');
      return job.toUpperCase();
    });
    expect(out.map((o) => (o.ok ? o.value : (o.error as BtError).code))).toEqual(['A', 'TRACKER_TIMEOUT', 'C']);
    expect(out[1]).toMatchObject({ job: 'b', ok: false, rttMs: expect.any(Number) });
  });

  it("rethrows btkit's own (internal) errors: they are no tracker's answer", async () => {
    await expect(askTrackers(['a'], async () => {
      throw new BtError('INTERNAL', 'internal', 'bug');
    })).rejects.toMatchObject({ code: 'INTERNAL' });
  });

  it('an aborted signal ends the run with the abort error', async () => {
    const controller = new AbortController();
    controller.abort(new BtError('INTERRUPTED', 'interrupted', 'interrupted by SIGINT'));
    await expect(askTrackers(['a'], async () => 1, { signal: controller.signal })).rejects.toMatchObject({ category: 'interrupted' });
  });
});
