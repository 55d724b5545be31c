/**
 * Ask several trackers at once, one request each, over one client (`announce` and `scrape` both
 * do): every tracker's answer or error is kept, side by side, so one tracker failing never hides
 * another's answer. A failure that is btkit's own fault (an `internal` error) is not a tracker's
 * answer: it is rethrown. An abort of `signal` ends the whole run with the abort error.
 */
import { abortError, isBtError } from '../errors.js';
import { TrackerClient, type TrackerClientOptions } from './index.js';

export type TrackerOutcome<J, T> =
  | { job: J; ok: true; value: T }
  | { job: J; ok: false; rttMs: number; error: unknown };

export async function askTrackers<J, T>(
  jobs: readonly J[],
  request: (client: TrackerClient, job: J) => Promise<T>,
  options: { signal?: AbortSignal; client?: TrackerClientOptions } = {},
): Promise<TrackerOutcome<J, T>[]> {
  const client = new TrackerClient(options.client);
  let outcomes: TrackerOutcome<J, T>[];
  try {
    outcomes = await Promise.all(
      jobs.map(async (job): Promise<TrackerOutcome<J, T>> => {
        const started = performance.now();
        try {
          return { job, ok: true, value: await request(client, job) };
        } catch (error) {
          if (isBtError(error) && error.category === 'internal') throw error;
          return { job, ok: false, rttMs: Math.round(performance.now() - started), error };
        }
      }),
    );
  } finally {
    await client.close();
  }
  if (options.signal?.aborted) throw abortError(options.signal);
  return outcomes;
}
