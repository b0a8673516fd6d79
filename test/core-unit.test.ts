/**
 * Runs the native core's own unit tests (native/test, built by node-gyp as
 * core-unit-tests) and fails with their report when any check fails.
 */
import test from 'ava';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';

import { packageRoot } from '../src/native.js';

test('native core unit tests: segmentation and checksum completion', async (t) => {
  const exe = path.join(packageRoot, 'build', 'Release', 'core-unit-tests');
  t.true(existsSync(exe), `${exe} is not built; run npm ci`);
  const r = await execa(exe, [], { reject: false });
  t.is(r.exitCode, 0, r.stderr);
  const m = /(\d+) tests, (\d+) checks, (\d+) failures/.exec(r.stdout);
  t.truthy(m, r.stdout);
  t.true(Number(m![2]) > 100, 'the suite ran its checks');
  t.is(Number(m![3]), 0, r.stderr);
});
