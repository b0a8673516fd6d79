#!/usr/bin/env node
// Shim: the CLI lives in src/cli/containet.ts (compiled to dist/).
import { main } from '../dist/src/cli/containet.js';

main(process.argv).catch((e) => {
  process.stderr.write(`containet: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
