/**
 * --busy-poll end to end: a daemon whose worker never sleeps forwards pings
 * between two containers, and its worker thread goes on taking CPU time while
 * nothing flows, where a daemon with the defaults, the same containers on it,
 * side by side, sleeps. No timing threshold: the busy worker is waited for
 * (generous deadline) until it has run a whole second of CPU, and the other,
 * over the same interval, must have run less than a tenth of that.
 */
import { readdirSync, readFileSync } from 'node:fs';

import type { ExecutionContext } from 'ava';

import { shell, shellContainer } from './helpers/containers.js';
import { rootTest, startDaemon, waitFor, type TestDaemon } from './helpers/env.js';

/** One second, in the nanoseconds of schedstat. */
const SECOND_NS = 1e9;

/** Nanoseconds of CPU the thread "ctn-worker0" of daemon @d has run (its schedstat). */
function workerCpuNs(d: TestDaemon): number {
  for (const tid of readdirSync(`/proc/${d.pid}/task`)) {
    const dir = `/proc/${d.pid}/task/${tid}`;
    if (readFileSync(`${dir}/comm`, 'utf8').trim() === 'ctn-worker0') return Number(readFileSync(`${dir}/schedstat`, 'utf8').split(' ')[0]);
  }
  throw new Error(`daemon ${d.pid} has no thread named ctn-worker0`);
}

/** A daemon with @args and two containers on it that ping each other (3 echoes answered). */
async function pingingPair(t: ExecutionContext, args: string[]): Promise<TestDaemon> {
  const d = await startDaemon(t, { args });
  const a = await shellContainer(t, d, '10.0.0.2/24');
  await shellContainer(t, d, '10.0.0.1/24');
  t.is(await shell(a.c, 'ping -c 3 -i 0.2 -W 5 10.0.0.1 >/dev/null'), 0, `${args.join(' ') || 'defaults'}: ${a.c.output()}`);
  return d;
}

rootTest('--busy-poll: pings cross between two containers; the worker keeps running while idle, a default daemon\'s sleeps', async (t) => {
  const busy = await pingingPair(t, ['--busy-poll']);
  const dflt = await pingingPair(t, []);
  const busy0 = workerCpuNs(busy);
  const dflt0 = workerCpuNs(dflt);
  // Nothing flows any more (a stray IPv6 solicitation opens a 50 µs window at most).
  await waitFor('the busy-polling worker to run a second of CPU', () => workerCpuNs(busy) - busy0 >= SECOND_NS, 120000);
  const used = workerCpuNs(dflt) - dflt0;
  t.log(`over the same interval: busy-poll worker ${((workerCpuNs(busy) - busy0) / 1e6).toFixed(0)} ms of CPU, default worker ${(used / 1e6).toFixed(1)} ms`);
  t.true(used < SECOND_NS / 10, `the default daemon's worker ran ${(used / 1e6).toFixed(1)} ms of CPU while idle`);
});
