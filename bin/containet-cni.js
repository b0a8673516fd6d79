#!/usr/bin/env node
// Shim: the CNI plugin lives in src/cni/ (compiled to dist/); see docs/cni.md.
import { main } from '../dist/src/cni/main.js';

main().then(
  (status) => process.exit(status),
  (e) => {
    process.stderr.write(`containet-cni: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
