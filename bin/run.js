#!/usr/bin/env node
// btkit's entry point. It loads @oclif/core from the bundle the build made (with V8's code
// cache: a third of the start-up time of loading it file by file), publishes it for
// src/cli/oclif.ts, and runs the command. Without the bundle it falls back to the package.
import { readFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
const { wrap } = Module;
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';

const require = createRequire(import.meta.url);

function loadOclif() {
  const file = fileURLToPath(new URL('../dist/vendor/oclif-core.cjs', import.meta.url));
  let source;
  try {
    source = readFileSync(file, 'utf8');
  } catch {
    return require('@oclif/core');
  }
  let cachedData;
  try {
    cachedData = readFileSync(`${file}.cache`);
  } catch {
    cachedData = undefined;
  }
  const script = new vm.Script(wrap(source), { filename: file, cachedData });
  const module = { exports: {} };
  script.runInThisContext()(module.exports, createRequire(file), module, file, fileURLToPath(new URL('.', `file://${file}`)));
  return module.exports;
}

// oclif checks Node's version against package.json's engines on every start by loading semver
// (~10 ms); npm already checks engines at install, so skip it unless the user set the variable.
process.env.OCLIF_DISABLE_ENGINE_WARNING ??= '1';
// The bundle's import() calls come here (see scripts/bundle-oclif.js).
globalThis[Symbol.for('btkit.import')] = (specifier) => import(specifier);
const oclif = loadOclif();
globalThis[Symbol.for('btkit.oclif-core')] = oclif;
await oclif.execute({ dir: import.meta.url });
