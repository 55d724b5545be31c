/**
 * Which files of a torrent to download: `--select` specs (0-based indices and ranges such as
 * `0,2-4`, or globs on the file's path in the torrent) and a magnet's BEP 53 `so` ranges.
 */
import { BtError } from '../errors.js';
import { GlobSet } from '../fs/glob.js';
import type { Metainfo } from '../metainfo/types.js';

/** `0,2-4` → [0, 2, 3, 4]; null when the text is not an index list (then it is a glob). */
export function parseIndexList(text: string): number[] | null {
  if (!/^\s*\d+(\s*-\s*\d+)?(\s*,\s*\d+(\s*-\s*\d+)?)*\s*$/.test(text)) return null;
  const out: number[] = [];
  for (const part of text.split(',')) {
    const [a, b] = part.split('-').map((x) => Number(x.trim()));
    // Bounded: a range is at most the torrent's file count long (checked by the caller), and
    // a range past 1e6 entries is refused rather than expanded.
    if (b !== undefined && b - a! > 1_000_000) return null;
    for (let i = a!; i <= (b ?? a!); i++) out.push(i);
  }
  return out;
}

/**
 * Per file (torrent order): selected. No specs and no `so`: every file. Specs and `so` add up.
 * A spec that names a file the torrent does not have, or a glob that matches nothing, is a usage
 * error (USAGE).
 */
export function selectFiles(meta: Pick<Metainfo, 'files' | 'name' | 'multiFile'>, specs: readonly string[], so?: readonly [number, number][]): boolean[] {
  if (specs.length === 0 && (!so || so.length === 0)) return meta.files.map(() => true);
  const selected = meta.files.map(() => false);
  for (const [a, b] of so ?? []) {
    // BEP 53 counts files as the torrent lists them; padding files are entries too.
    for (let i = a; i <= Math.min(b, meta.files.length - 1); i++) selected[i] = true;
  }
  for (const spec of specs) {
    const indices = parseIndexList(spec);
    if (indices) {
      for (const i of indices) {
        if (i >= meta.files.length) throw new BtError('USAGE', 'usage', `--select ${spec}: the torrent has ${meta.files.length} file(s), indices 0..${meta.files.length - 1}`);
        selected[i] = true;
      }
      continue;
    }
    const glob = new GlobSet([spec]);
    let any = false;
    meta.files.forEach((f, i) => {
      if (f.padding) return;
      const path = meta.multiFile ? f.path.join('/') : meta.name;
      if (glob.matches(path) || glob.matches(meta.multiFile ? `${meta.name}/${path}` : path)) {
        selected[i] = true;
        any = true;
      }
    });
    if (!any) throw new BtError('USAGE', 'usage', `--select ${spec}: no file of the torrent matches`);
  }
  return selected;
}
