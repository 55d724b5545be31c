#!/usr/bin/env node
// Start-up time: importing @oclif/core means resolving, reading and compiling ~100 CommonJS files
// (~50 ms here, as long as Node's own boot). The build bundles it into one file and stores V8's
// code cache beside it; bin/run.js compiles the bundle with that cache (~12 ms) and hands it to
// our commands through src/cli/oclif.ts. If the bundle or its cache is missing or rejected (another
// Node version), everything still works, only slower: the cache is an optimisation, never a need.
import { build } from 'esbuild';
import { mkdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
const { wrap } = Module;
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, 'dist', 'vendor');
const out = join(outDir, 'oclif-core.cjs');
mkdirSync(outDir, { recursive: true });
rmSync(`${out}.cache`, { force: true });
await build({
  stdin: { contents: "module.exports = require('@oclif/core');", resolveDir: root, sourcefile: 'oclif-entry.cjs' },
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  outfile: out,
  // oclif reaches for these only to run TypeScript sources in development; btkit runs compiled JS.
  external: ['typescript', 'ts-node', 'tsx'],
  logLevel: 'error',
  legalComments: 'inline',
});
// Functions compiled from a V8 code cache lose the dynamic-import callback (a Node limitation),
// so oclif's `import()` of command files is routed through a function bin/run.js provides from
// real ES module code.
const IMPORT_HOOK = "globalThis[Symbol.for('btkit.import')]";
let raw = readFileSync(out, 'utf8');
// oclif sorts the manifest's command ids with localeCompare, whose first call starts ICU's
// collator (~6 ms, a tenth of Node's boot). Command ids are ASCII: a code-unit order is the same.
const LOCALE_SORT = '.sort((a, b) => a.id.localeCompare(b.id))';
if (!raw.includes(LOCALE_SORT)) throw new Error('bundle-oclif: the command sort to replace was not found (oclif changed?)');
raw = raw.replace(LOCALE_SORT, '.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))');
const source = `var __btkitImport = ${IMPORT_HOOK};\n${raw.replace(/(?<![\w.$"'`])import\(/g, '__btkitImport(')}`;
if (/(?<![\w.$"'`])import\(/.test(source.slice(source.indexOf('\n')))) throw new Error('bundle-oclif: an import() was left in the bundle');
writeFileSync(out, source);
globalThis[Symbol.for('btkit.import')] = (specifier) => import(specifier);
// Run the bundle once so V8 compiles the functions start-up uses, then keep that code cache.
const script = new vm.Script(wrap(source), { filename: out });
const module = { exports: {} };
script.runInThisContext()(module.exports, createRequire(out), module, out, outDir);
if (typeof module.exports.execute !== 'function') {
  console.error('bundle-oclif: the bundle does not export execute()');
  process.exit(1);
}
// Load the CLI's configuration too, as every run does, so the functions that takes (manifest
// reading, flag and argument setup) are compiled into the cache as well, not on each start.
await module.exports.Config.load(root);
writeFileSync(`${out}.cache`, script.createCachedData());
console.error(`bundle-oclif: ${(source.length / 1024).toFixed(0)} KiB bundle and code cache in dist/vendor`);
