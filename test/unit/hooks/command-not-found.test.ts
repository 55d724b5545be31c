/**
 * The unknown-command hook suggests the nearest command by edit distance (the whole hook runs in
 * test/commands/create.test.ts through the real CLI).
 */
import { describe, expect, it } from 'vitest';
import { editDistance } from '../../../src/hooks/command-not-found.js';

describe('editDistance', () => {
  it.each([
    ['create', 'create', 0],
    ['craete', 'create', 2],
    ['seeed', 'seed', 1],
    ['', 'abc', 3],
    ['inspec', 'inspect', 1],
  ])('%s → %s: %i', (a, b, d) => {
    expect(editDistance(a, b)).toBe(d);
  });
});
