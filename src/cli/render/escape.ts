/**
 * Text from a torrent or the network (names, paths, comments, tracker failure reasons) shown to a
 * person: terminal control characters are made visible instead of obeyed, so a torrent named
 * "x\x1b]0;PWNED\x07\x1b[2Jy" cannot retitle the window or clear the screen, and a newline in a file
 * name cannot forge an output line. JSON output needs none of this (JSON.stringify escapes them).
 */

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '\u001b': '\\e' };

/** C0 controls, DEL, C1 controls (0x80–0x9f: 0x9b is a one-byte CSI), and the bidi overrides that reorder what follows. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/** `text` with every control character shown as an escape (`\n`, `\e`, `\x07`, `\u202e`). */
export function escapeControl(text: string): string {
  return text.replace(CONTROL, (c) => NAMED[c] ?? (c.charCodeAt(0) <= 0xff ? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}` : `\\u${c.charCodeAt(0).toString(16)}`));
}
