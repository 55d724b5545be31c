/**
 * Property tests of the BEP 52 `file tree` decoder (src/core/metainfo/file-tree.ts), through the
 * bencode codec as a reader meets it:
 *
 * - a tree built from any set of safe paths decodes to those files, in file-tree order
 *   (component by component, by bytes), with their lengths, roots and BEP 47 attributes;
 * - any bencode value as a tree gives files whose paths the path check accepted, or a typed input
 *   error: never another exception;
 * - one unsafe component (`..`, `.`, ``, a separator, a reserved name) anywhere in a valid tree is
 *   refused with its METAINFO_PATH_* code, and a lenient reader is shown every such path.
 *
 * numRuns keep the file to a few seconds on two cores.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type BDict, type BValue, decode, encode, keyOf } from '../../../../src/core/bencode/index.js';
import { BtError } from '../../../../src/core/errors.js';
import { decodeFileTree, type TreeEntry } from '../../../../src/core/metainfo/file-tree.js';
import { assertSafePath, unsafeComponent } from '../../../../src/core/metainfo/paths.js';
import { compareTreePaths } from '../../../../src/core/metainfo/v2-layout.js';
import { bValue } from '../bencode/arbitraries.js';

interface File {
  path: string[];
  length: number;
  root: Buffer | null;
  attr: string;
}

/** Safe components: ASCII, non-ASCII (so byte order differs from UTF-16 order), prefixes of each other. */
const component = fc.oneof(
  fc.constantFrom('a', 'a.txt', 'ab', 'b', 'é', 'z', 'ü.bin', 'A', '_'),
  fc.stringMatching(/^[a-z0-9._-]{1,6}$/).filter((c) => unsafeComponent(c) === null),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 4 }).filter((c) => unsafeComponent(c) === null),
);

/** Unique paths of 1–4 components, none a directory prefix of another (a node is a file or a directory). */
const paths = fc
  .uniqueArray(fc.array(component, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 12, selector: (p) => p.join('\0') })
  .map((ps) => ps.filter((p) => !ps.some((q) => q !== p && q.length > p.length && p.every((c, i) => q[i] === c))))
  .filter((ps) => ps.length > 0);

const files: fc.Arbitrary<File[]> = paths.chain((ps) =>
  fc.tuple(...ps.map(() => fc.tuple(fc.nat({ max: 1 << 30 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.constantFrom('', 'x', 'h', 'xh')))).map((meta) =>
    ps.map((path, i) => {
      const [length, root, attr] = meta[i]!;
      return { path, length, root: length > 0 ? Buffer.from(root) : null, attr };
    }),
  ),
);

/** The tree as a writer lays it out: a dictionary per directory, a file's node holding only ''. */
function treeOf(list: readonly File[]): BDict {
  const top: BDict = new Map();
  for (const f of list) {
    let dir = top;
    f.path.forEach((c, i) => {
      const key = keyOf(c);
      if (i === f.path.length - 1) {
        const leaf: BDict = new Map<string, BValue>([['length', f.length]]);
        if (f.root) leaf.set('pieces root', f.root);
        if (f.attr) leaf.set('attr', Buffer.from(f.attr));
        dir.set(key, new Map([['', leaf]]));
        return;
      }
      let next = dir.get(key) as BDict | undefined;
      if (!next) dir.set(key, (next = new Map()));
      dir = next;
    });
  }
  return top;
}

/** Through the codec, as a reader gets it from a file. */
const roundTrip = (tree: BValue): BValue => decode(encode(tree), { mode: 'strict' }).value;
const strictPaths = { checkPath: (components: string[], where: string) => assertSafePath(components, where) };
const norm = (e: TreeEntry | File) => ({ path: e.path, length: e.length, root: e.root?.toString('hex') ?? null, attr: e.attr });

const isPrefix = (p: readonly string[], q: readonly string[]): boolean => p.length <= q.length && p.every((c, i) => q[i] === c);

/** The tree with one file's component `at` replaced by `bad` (files that would then clash with it left out). */
function withComponent(list: readonly File[], which: number, at: number, bad: string): { tree: BValue; path: string[] } {
  const victim = list[which % list.length]!;
  const path = [...victim.path];
  path[at % path.length] = bad;
  const others = list.filter((f) => f !== victim && !isPrefix(f.path, path) && !isPrefix(path, f.path));
  return { tree: roundTrip(treeOf([...others, { ...victim, path }])), path };
}

/** The code the strict decoder refuses `tree` with (the test fails if it accepts it). */
function refusal(tree: BValue): string {
  try {
    decodeFileTree(tree, strictPaths);
  } catch (e) {
    expect(e).toBeInstanceOf(BtError);
    return (e as BtError).code;
  }
  throw new Error('accepted a tree with an unsafe path');
}

describe('decodeFileTree (BEP 52 file tree), properties', () => {
  it('decodes any tree of safe paths to its files, in file-tree order, with lengths, roots and attributes', () => {
    fc.assert(
      fc.property(files, (list) => {
        const out = decodeFileTree(roundTrip(treeOf(list)), strictPaths);
        const expected = [...list].sort((a, b) => compareTreePaths(a.path, b.path));
        expect(out.map(norm)).toEqual(expected.map(norm));
        for (let i = 1; i < out.length; i++) expect(compareTreePaths(out[i - 1]!.path, out[i]!.path)).toBeLessThan(0);
      }),
      { numRuns: 300 },
    );
  });

  it('any bencode value: files whose every path passed the check, or a typed input error', () => {
    const value = bValue({ key: fc.constantFrom('', 'a', 'b', '..', 'length', 'pieces root', 'attr', '\xff'), maxDepth: 5 });
    fc.assert(
      fc.property(value, (tree) => {
        const checked: string[][] = [];
        let out: TreeEntry[];
        try {
          out = decodeFileTree(tree, {
            checkPath: (c, where) => {
              assertSafePath(c, where);
              checked.push([...c]);
            },
          });
        } catch (e) {
          expect(e).toBeInstanceOf(BtError);
          expect((e as BtError).category).toBe('input');
          expect((e as BtError).code).toMatch(/^METAINFO_/);
          return;
        }
        expect(out.length).toBeGreaterThan(0);
        expect(out.map((f) => f.path)).toEqual(checked);
        for (const f of out) {
          expect(Number.isSafeInteger(f.length) && f.length >= 0).toBe(true);
          expect(f.length === 0 || f.root?.length === 32).toBe(true);
        }
      }),
      { numRuns: 400 },
    );
  });

  it('one unsafe component anywhere is refused with its code; lenient checking sees it, and no file escapes unseen', () => {
    const unsafe = fc.constantFrom(['..', 'METAINFO_PATH_TRAVERSAL'], ['.', 'METAINFO_PATH_TRAVERSAL'], ['a/b', 'METAINFO_PATH_ABSOLUTE'], ['a\\b', 'METAINFO_PATH_ABSOLUTE'], ['nul', 'METAINFO_PATH_RESERVED']);
    fc.assert(
      fc.property(files, fc.nat(), fc.nat(), unsafe, (list, which, at, [bad, code]) => {
        const { tree, path } = withComponent(list, which, at, bad);
        expect(refusal(tree)).toBe(code);
        // A lenient reader (inspect) records unsafe paths instead of throwing: it must be told of this one.
        const seen: string[][] = [];
        const out = decodeFileTree(tree, { checkPath: (c) => void seen.push([...c]) });
        expect(seen).toContainEqual(path);
        expect(out.map((f) => f.path)).toEqual(seen);
      }),
      { numRuns: 300 },
    );
  });

  it('an empty component anywhere is METAINFO_PATH_EMPTY: a child named \'\' is told from the file marker by what it holds', () => {
    fc.assert(
      fc.property(files, fc.nat(), fc.nat(), (list, which, at) => {
        const { tree, path } = withComponent(list, which, at, '');
        expect(refusal(tree)).toBe('METAINFO_PATH_EMPTY');
        const seen: string[][] = [];
        decodeFileTree(tree, { checkPath: (c) => void seen.push([...c]) });
        expect(seen).toContainEqual(path);
      }),
      { numRuns: 300 },
    );
  });

});
