#!/usr/bin/env node
// Shim: the CLI lives in src/cli/containode.ts (compiled to dist/).
import { main } from '../dist/src/cli/containode.js';

main(process.argv).catch((e) => {
  process.stderr.write(`containode: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
