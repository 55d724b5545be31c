import { BtError } from '../../src/core/errors.js';

/** The BtError a promise rejects with; fails the test if it resolves or rejects with anything else. */
export async function thrown(p: Promise<unknown>): Promise<BtError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof BtError) return e;
    throw e;
  }
  throw new Error('expected a BtError');
}

/** The BtError `f` throws; fails the test if it throws anything else, or nothing. */
export function thrownSync(f: () => unknown): BtError {
  try {
    f();
  } catch (e) {
    if (e instanceof BtError) return e;
    throw new Error(`expected a BtError, got ${String(e)}`, { cause: e });
  }
  throw new Error('expected a BtError, but nothing was thrown');
}

/** How a promise settles, as a word for `toBe`: 'resolved', the BtError's code, or 'not a BtError: …'. */
export const settledCode = async (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'resolved',
    (e: unknown) => (e instanceof BtError ? e.code : `not a BtError: ${String(e)}`),
  );
