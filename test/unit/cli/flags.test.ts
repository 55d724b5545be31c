/** Flag value parsers: byte sizes, durations, host:port — good values parsed, bad ones a usage error naming the value. */
import { describe, expect, it } from 'vitest';
import { parseByteSize, parseDuration, parseHostPort, parsePieceLength } from '../../../src/cli/flags.js';
import { thrownSync } from '../../helpers/errors.js';
import { BtError } from '../../../src/core/errors.js';

function usageError(f: () => unknown): BtError {
  try {
    f();
  } catch (e) {
    if (e instanceof BtError) {
      expect(e.category).toBe('usage');
      return e;
    }
    throw e;
  }
  throw new Error('expected a usage error');
}

describe('parseByteSize', () => {
  it('plain numbers and units, single letters binary as in mktorrent and dd', () => {
    expect(parseByteSize('512')).toBe(512);
    expect(parseByteSize('16KiB')).toBe(16384);
    expect(parseByteSize('16k')).toBe(16384);
    expect(parseByteSize('16kb')).toBe(16000);
    expect(parseByteSize('1m')).toBe(1048576);
    expect(parseByteSize('4MiB')).toBe(4 * 1048576);
    expect(parseByteSize('2GB')).toBe(2e9);
    expect(parseByteSize('1g')).toBe(1024 ** 3);
    expect(parseByteSize('1TiB')).toBe(1024 ** 4);
    expect(parseByteSize('1.5k')).toBe(1536);
    expect(parseByteSize(' 256 KiB ')).toBe(262144);
    expect(parseByteSize('10B')).toBe(10);
  });

  it('refuses what is not a size, naming it', () => {
    for (const bad of ['', 'abc', '-1', '1x', '1 k b', '1e3', 'KiB', '0x10']) {
      expect(usageError(() => parseByteSize(bad)).message).toContain(`\`${bad}\``);
    }
    expect(usageError(() => parseByteSize('99999999999TiB')).message).toMatch(/too large/);
  });
});

describe('parseDuration', () => {
  it('units, seconds by default', () => {
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('5s')).toBe(5000);
    expect(parseDuration('90')).toBe(90_000);
    expect(parseDuration('2m')).toBe(120_000);
    expect(parseDuration('1h')).toBe(3_600_000);
    expect(parseDuration('1d')).toBe(86_400_000);
    expect(parseDuration('1.5s')).toBe(1500);
  });

  it('refuses what is not a duration', () => {
    for (const bad of ['', 'soon', '-5s', '5 sec', '5y']) expect(usageError(() => parseDuration(bad)).message).toContain(`\`${bad}\``);
  });
});

describe('parseHostPort', () => {
  it('IPv4, bracketed IPv6 and names', () => {
    expect(parseHostPort('127.0.0.1:6881')).toEqual({ host: '127.0.0.1', port: 6881 });
    expect(parseHostPort('[::1]:6881')).toEqual({ host: '::1', port: 6881 });
    expect(parseHostPort('localhost:1')).toEqual({ host: 'localhost', port: 1 });
    expect(parseHostPort('h:65535')).toEqual({ host: 'h', port: 65535 });
  });

  it('refuses a missing or out-of-range port and an unbracketed IPv6 address', () => {
    for (const bad of ['127.0.0.1', ':80', 'h:0', 'h:65536', '::1:80', 'h:port', '[::1]', 'h:-1']) {
      expect(usageError(() => parseHostPort(bad)).message).toContain(`\`${bad}\``);
    }
  });
});

describe('parsePieceLength (issue 13 item 10: a bad flag value is a usage error)', () => {
  it('takes 1 B to 1 GiB; 0, negative and larger values are usage errors naming the value', () => {
    expect(parsePieceLength('256KiB')).toBe(262144);
    expect(parsePieceLength('1GiB')).toBe(1024 ** 3);
    for (const bad of ['0', '-5', '2GiB', 'lots']) {
      const e = thrownSync(() => parsePieceLength(bad));
      expect(e.category, bad).toBe('usage');
      expect(e.message, bad).toContain(`\`${bad}\``);
    }
  });
});
