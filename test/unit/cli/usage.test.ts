/**
 * oclif's parse errors come over several lines; btkit's error line is one. usageMessage folds them,
 * and guardDashValues lets a value start with '-' (an Azureus-style peer id).
 */
import { describe, expect, it } from 'vitest';
import { usageMessage } from '../../../src/cli/base-command.js';
import { guardDashValues } from '../../../src/cli/flags.js';

describe('usageMessage', () => {
  it.each([
    ['Parsing --port \n\tExpected an integer but received: abc\nSee more help with --help', '--port: Expected an integer but received: abc'],
    ['Missing 2 required args:\npath  The file.\ntwo   Second.\nSee more help with --help', 'missing required arguments: PATH, TWO'],
    ['Missing 1 required arg:\ntorrent  The torrent.\nSee more help with --help', 'missing required argument: TORRENT'],
    ['Unexpected argument: z\nSee more help with --help', 'Unexpected argument: z'],
    ['Expected --event=q to be one of: a, b\nSee more help with --help', 'Expected --event=q to be one of: a, b'],
    ['Nonexistent flag: --bogus', 'Nonexistent flag: --bogus'],
    ['Error: two\nlines', 'two; lines'],
  ])('%j → %j', (raw, line) => {
    expect(usageMessage(raw)).toBe(line);
  });
});

describe('guardDashValues', () => {
  const G = '\u0000';
  it('marks values of the listed flags that start with a dash, with = and with a space', () => {
    expect(guardDashValues(['x', '--peer-id=-qB4630-', '-q'], ['peer-id'])).toEqual(['x', `--peer-id=${G}-qB4630-`, '-q']);
    expect(guardDashValues(['--peer-id', '-TR3000-', 'x'], ['peer-id'])).toEqual([`--peer-id=${G}-TR3000-`, 'x']);
  });

  it('leaves everything else alone: other flags, plain values, stdin "-", and all after --', () => {
    expect(guardDashValues(['--key', '-1', '--peer-id=abc', '--peer-id', 'qB4630'], ['peer-id'])).toEqual(['--key', '-1', '--peer-id=abc', '--peer-id', 'qB4630']);
    expect(guardDashValues(['--peer-id', '-'], ['peer-id'])).toEqual(['--peer-id', '-']);
    expect(guardDashValues(['--', '--peer-id', '-x'], ['peer-id'])).toEqual(['--', '--peer-id', '-x']);
    expect(guardDashValues(['--peer-id-extra=-x'], ['peer-id'])).toEqual(['--peer-id-extra=-x']);
  });
});
