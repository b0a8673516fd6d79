/**
 * Runs the native core's own unit tests (native/test, built by node-gyp) and
 * fails with their report when any check fails: segmentation and checksum
 * completion (core-unit-tests), the settings parser of every kind's policy
 * (attr-unit-tests), capture file encoding (pcapfile-unit-tests), VXLAN and Geneve headers (tunnel-unit-tests), the vhost-user handler and virtqueue walker
 * (vhost-unit-tests), the link emulator's decisions and timing (shaper-unit-tests),
 * containode's command line, JSON and retry pauses (containode-unit-tests).
 */
import test from 'ava';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';

import { packageRoot } from '../src/native.js';

for (const [exe, what, minChecks] of [
  ['core-unit-tests', 'segmentation and checksum completion', 1000],
  ['attr-unit-tests', "a kind's settings filled and refused by its policy", 40],
  ['pcapfile-unit-tests', 'capture files: pcap and pcapng blocks', 40],
  ['tunnel-unit-tests', 'VXLAN and Geneve headers, the flow hash, remote lists', 30],
  ['vhost-unit-tests', 'vhost-user messages and virtqueue walking', 100],
  ['shaper-unit-tests', 'a2b rate, delay, jitter, loss models, duplication, reordering, corruption, seeds', 1000],
  ['containode-unit-tests', "containode's options, identities, IPv4 and MTU parsing, JSON, retry pauses", 1000],
] as const) {
  test(`native core unit tests: ${what}`, async (t) => {
    const file = path.join(packageRoot, 'build', 'Release', exe);
    t.true(existsSync(file), `${file} is not built; run npm ci`);
    const r = await execa(file, [], { reject: false });
    t.is(r.exitCode, 0, r.stderr);
    const m = /(\d+) tests, (\d+) checks, (\d+) failures/.exec(r.stdout);
    t.truthy(m, r.stdout);
    t.true(Number(m![2]) >= minChecks, `the suite ran its checks (${m![2]})`);
    t.is(Number(m![3]), 0, r.stderr);
  });
}
