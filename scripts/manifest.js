#!/usr/bin/env node
// Writes oclif.manifest.json from the compiled commands in dist/, as `oclif manifest` would (the
// oclif dev tool wants Node 22). Run by `npm run build`, so the manifest is never stale: oclif
// loads commands from it without importing every command file at start-up.
import { Plugin } from '@oclif/core';
import { writeFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const target = join(root, 'oclif.manifest.json');
rmSync(target, { force: true });
const plugin = new Plugin({ root, type: 'core', ignoreManifest: true, errorOnManifestCreate: true });
await plugin.load();
const ids = Object.keys(plugin.manifest.commands);
if (ids.length === 0) {
  console.error('manifest: no commands found in dist/commands');
  process.exit(1);
}
writeFileSync(target, JSON.stringify(plugin.manifest, null, 2) + '\n');
console.error(`manifest: ${ids.length} commands (${ids.sort().join(', ')})`);
