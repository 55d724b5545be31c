#!/usr/bin/env node
// Start-up time: a command's module graph (its command file, src/cli and the core modules it uses,
// ~25 ES modules) costs ~14 ms to resolve, read and link one file at a time — a quarter of Node's
// own boot. The build replaces each dist/commands/<name>.js that tsc wrote with one file bundled
// from src/commands/<name>.ts and everything of ours it imports (packages stay external), so oclif
// loads one file per command. dist/core and dist/cli stay as tsc wrote them, for use as a library.
import { build } from 'esbuild';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entries = readdirSync(join(root, 'src', 'commands'))
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
  .map((f) => join(root, 'src', 'commands', f));
if (entries.length === 0) {
  console.error('bundle-commands: no commands in src/commands');
  process.exit(1);
}
await build({
  entryPoints: entries,
  outdir: join(root, 'dist', 'commands'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  logLevel: 'error',
  legalComments: 'inline',
});
console.error(`bundle-commands: ${entries.length} commands, one file each, in dist/commands`);
