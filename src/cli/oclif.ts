/**
 * The one place commands get @oclif/core from. bin/run.js preloads a bundled, code-cached copy
 * (see scripts/bundle-oclif.js) so start-up stays fast; every command and the base command must
 * use that same instance (oclif compares classes with instanceof), so nothing else in src/
 * imports '@oclif/core' directly (a test checks). Outside bin/run.js (tests, bin/dev.js) the
 * package itself is loaded.
 */
import { createRequire } from 'node:module';
import type * as OclifCore from '@oclif/core';

const preloaded = (globalThis as Record<symbol, unknown>)[Symbol.for('btkit.oclif-core')] as typeof OclifCore | undefined;
const core: typeof OclifCore = preloaded ?? (createRequire(import.meta.url)('@oclif/core') as typeof OclifCore);

export const { Command, Flags, Args, Errors, Help } = core;
export type { Interfaces } from '@oclif/core';
