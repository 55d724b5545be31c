/** Progress bars appear only when enabled and stderr is a terminal; otherwise nothing is written. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { byteProgress } from '../../../src/cli/progress.js';

const stderr = process.stderr as NodeJS.WriteStream & { isTTY?: boolean };
const wasTTY = stderr.isTTY;
const wasTerm = process.env.TERM;

afterEach(() => {
  stderr.isTTY = wasTTY;
  if (wasTerm === undefined) delete process.env.TERM;
  else process.env.TERM = wasTerm;
  vi.restoreAllMocks();
});

function capture(): string[] {
  const writes: string[] = [];
  vi.spyOn(process.stderr, 'write').mockImplementation(((chunk: unknown) => {
    writes.push(String(chunk));
    return true;
  }) as typeof process.stderr.write);
  return writes;
}

describe('byteProgress', () => {
  it('writes nothing when disabled (--json, --quiet), even on a terminal', async () => {
    stderr.isTTY = true;
    const writes = capture();
    const p = await byteProgress('hashing', false);
    p.update(10, 100);
    p.stop();
    expect(writes).toEqual([]);
  });

  it('writes nothing when stderr is not a terminal', async () => {
    stderr.isTTY = false;
    const writes = capture();
    const p = await byteProgress('hashing', true);
    p.update(10, 100);
    p.stop();
    expect(writes).toEqual([]);
  });

  it('writes nothing on a dumb terminal (no cursor movement there)', async () => {
    stderr.isTTY = true;
    process.env.TERM = 'dumb';
    const writes = capture();
    const p = await byteProgress('hashing', true);
    p.update(10, 100);
    p.stop();
    expect(writes).toEqual([]);
  });

  it('draws a labelled bar with sizes on a terminal', async () => {
    stderr.isTTY = true;
    process.env.TERM = 'xterm';
    const writes = capture();
    const p = await byteProgress('hashing', true);
    p.update(512 * 1024, 1024 * 1024);
    p.update(1024 * 1024);
    p.stop();
    const text = writes.join('');
    expect(text).toContain('hashing');
    expect(text).toContain('1.00 MiB');
  });
});
