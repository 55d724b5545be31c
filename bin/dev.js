#!/usr/bin/env node
// Development entry: runs the compiled commands without the manifest, so a command added since
// the last build still shows up. Build with `npm run build` (tsc) first.
import { execute } from '@oclif/core';

await execute({ development: true, dir: import.meta.url });
