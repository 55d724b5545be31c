/**
 * Peer ids (BEP 20 conventions): the Azureus style `-BK0100-` followed by random characters, so a
 * tracker's log shows which client and version announced. Pure except for the random source,
 * which is a parameter.
 */
import { randomBytes } from 'node:crypto';
import { BtError } from '../errors.js';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** `-BK0100-` for version 0.1.0: two letters, then four version digits (BEP 20, Azureus style). */
export function azureusPrefix(clientCode: string, version: string): string {
  const digits = version
    .split(/[.-]/)
    .slice(0, 3)
    .map((p) => (/^\d+$/.test(p) ? Math.min(Number(p), 9) : 0))
    .join('');
  return `-${clientCode.slice(0, 2)}${digits.padEnd(4, '0').slice(0, 4)}-`;
}

/** A 20-byte peer id: `prefix` (at most 20 bytes) padded with random alphanumerics. */
export function makePeerId(prefix: string, random: (n: number) => Uint8Array = randomBytes): Buffer {
  const head = Buffer.from(prefix, 'latin1');
  if (head.length > 20) throw new BtError('PEER_ID_TOO_LONG', 'usage', `a peer id prefix is at most 20 bytes, \`${prefix}\` has ${head.length}`);
  const tail = random(20 - head.length);
  const out = Buffer.alloc(20);
  head.copy(out);
  for (let i = head.length; i < 20; i++) out[i] = ALPHABET.charCodeAt(tail[i - head.length]! % ALPHABET.length);
  return out;
}

/**
 * A peer id given on the command line: 40 hex digits are the raw 20 bytes; two letters and four
 * version characters (`qB4630`) are the BEP 20 prefix `-qB4630-`; any other text of at most 20
 * characters is a prefix as it is; prefixes are padded at random to 20 bytes.
 */
export function parsePeerIdText(text: string, random?: (n: number) => Uint8Array): Buffer {
  if (/^[0-9a-fA-F]{40}$/.test(text)) return Buffer.from(text, 'hex');
  // `qB4630` is short for the Azureus-style prefix `-qB4630-` (a leading dash is awkward on a
  // command line, where `-q…` reads as a flag).
  if (/^[A-Za-z]{2}[0-9A-Za-z]{4}$/.test(text)) return makePeerId(`-${text}-`, random);
  if (/[^\x20-\x7e]/.test(text)) throw new BtError('USAGE', 'usage', `\`${text}\`: a peer id is 40 hex digits or up to 20 printable ASCII characters`);
  return makePeerId(text, random);
}
