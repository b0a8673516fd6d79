/**
 * Soak: many attach/detach cycles leave the daemon as they found it: the same
 * fds open, the same objects, memory within a margin. Each cycle is a real
 * containode run (a container with eth0 on the switch, its program, its exit).
 * `npm test` runs a few dozen cycles; `npm run soak` runs 1000
 * (CONTAINET_SOAK_CYCLES sets the count).
 */
import { readFileSync } from 'node:fs';

import { rootTest, runContainode, startDaemon, uniqueName, waitFor, type TestDaemon } from './helpers/env.js';

/** Cycles of each kind; 1000 from `npm run soak`. */
const CYCLES = Number(process.env.CONTAINET_SOAK_CYCLES ?? 40);
/** Containers attaching at once. */
const PARALLEL = 4;

/** Names of the daemon's objects, sorted. */
async function objectNames(d: TestDaemon): Promise<string[]> {
  const r = (await d.request({ show: {} })) as { objects: { name: string }[] };
  return r.objects.map((o) => o.name).sort();
}

/** VmRSS of @pid in kB. */
function rssKb(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

/** Run @n cycles of @cycle, @PARALLEL at a time; throws with the first failure. */
async function cycles(n: number, cycle: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < n) await cycle(next++);
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
}

rootTest(`${CYCLES} containode attach/detach cycles leave fds, objects and memory as they were`, async (t) => {
  t.timeout(Math.max(120_000, CYCLES * 1500));
  const d = await startDaemon(t, { args: ['--log-level', 'warn'] });
  const id = uniqueName('sk');
  const one = async (i: number) => {
    const r = await runContainode(['-s', d.sock, '-i', `${id}-${i}`, '-4', `10.66.${(i >> 8) & 255}.${(i & 255) || 1}/16`, '--', '/bin/true'], 120000);
    if (r.exitCode !== 0) throw new Error(`cycle ${i}: containode exited ${r.exitCode}: ${r.output}`);
  };
  // Warm up: the first containers allocate what every later one reuses.
  await cycles(2 * PARALLEL, one);
  const settled = async (what: string, base: { fds: number; names: string[] }) => {
    await waitFor(what, async () => d.fdCount() === base.fds && JSON.stringify(await objectNames(d)) === JSON.stringify(base.names), 30000).catch(() => undefined);
  };
  const base = { fds: d.fdCount(), names: await objectNames(d), rss: rssKb(d.pid) };
  await cycles(CYCLES, (i) => one(1000 + i));
  await settled('the daemon to settle', base);
  t.deepEqual(await objectNames(d), base.names, 'the same objects');
  t.is(d.fdCount(), base.fds, 'the same number of fds open');
  const rss = rssKb(d.pid);
  t.log(`daemon VmRSS ${(base.rss / 1024).toFixed(1)} MB before, ${(rss / 1024).toFixed(1)} MB after ${CYCLES} cycles`);
  // Allow the JS heap its slack (it grows until a collection), not a leak per cycle.
  t.true(rss < base.rss + 16 * 1024 + CYCLES * 4, `memory: ${base.rss} kB before, ${rss} kB after`);
});
