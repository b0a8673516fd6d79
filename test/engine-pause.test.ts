/**
 * The engine's pause of its workers under load: commands (add, stats, del) back
 * to back on an engine of 8 worker threads whose ports carry traffic. Each
 * command that changes the tables pauses the other workers; a worker that lost
 * the pause's wake-up slept through it and hung the engine, and every call after
 * (found by a 3-thread switch test that hung a whole run). The rounds run in a
 * child process so that a hang ends in a failure, not in a test run that never
 * ends. No root needed (socketpair ports).
 */
import path from 'node:path';

import test from 'ava';
import { execa } from 'execa';

import { packageRoot } from '../src/native.js';

const ROUNDS = 20000; // about 11 s here; the lost wake-up hung within 2000

test(`engine: ${ROUNDS} rounds of commands on 8 busy worker threads never hang`, async (t) => {
  const fixture = path.join(packageRoot, 'test', 'fixtures', 'engine_churn.mjs');
  const r = await execa('node', [fixture, packageRoot, '8', String(ROUNDS)], { reject: false, timeout: 100_000, all: true });
  t.false(r.timedOut, `the engine hung (no answer within 100 s): ${r.all}`);
  t.is(r.exitCode, 0, r.all);
  t.is(r.stdout.trim(), `done ${ROUNDS}`);
});
