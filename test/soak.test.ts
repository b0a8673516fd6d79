/**
 * Soak: many attach/detach cycles leave the daemon as they found it: the same
 * fds open, the same objects, memory within a margin. A containode cycle is a
 * real container (eth0 on the switch, its program, its exit); a CNI cycle is
 * containet-cni's ADD and DEL, as a runtime calls them, with host-local IPAM
 * (every address released, no device left).
 * `npm test` runs a few dozen cycles; `npm run soak` runs 1000
 * (CONTAINET_SOAK_CYCLES sets the count).
 */
import test, { type ExecutionContext, type TestFn } from 'ava';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

import { hostLocalMissing, REFERENCE_PLUGINS, runPlugin, uniqueSubnet } from './helpers/cni.js';
import { fdTable, inNetns, netns, rootTest, runContainode, startDaemon, tempDir, uniqueName, waitFor, type TestDaemon } from './helpers/env.js';

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

/** The fds of @now not in @before, or changed, as "N -> target" (for a failure's message). */
function fdDiff(before: Map<string, string>, now: Map<string, string>): string {
  const added = [...now].filter(([fd, what]) => before.get(fd) !== what).map(([fd, what]) => `${fd} -> ${what}`);
  const gone = [...before].filter(([fd]) => !now.has(fd)).map(([fd, what]) => `${fd} (was ${what})`);
  return `new: ${added.join(', ') || 'none'}; closed: ${gone.join(', ') || 'none'}`;
}

/**
 * The daemon's fds, objects and memory once the warm-up is over: its objects
 * back to @names and its fd count still for a second (a removed tap is closed
 * off the packet path, a moment after its port goes).
 */
async function quietBase(d: TestDaemon, names: string[]): Promise<{ fds: number; names: string[]; rss: number; table: Map<string, string> }> {
  await waitFor('the warm-up ports to go', async () => JSON.stringify(await objectNames(d)) === JSON.stringify(names), 30000);
  let last = d.fdCount();
  await waitFor('the fd count to hold still', async () => {
    await new Promise((r) => setTimeout(r, 1000));
    const now = d.fdCount();
    const still = now === last;
    last = now;
    return still;
  }, 60000);
  return { fds: last, names, rss: rssKb(d.pid), table: fdTable(d.pid) };
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
  const names = await objectNames(d);
  await cycles(2 * PARALLEL, one);
  const settled = async (what: string, base: { fds: number; names: string[] }) => {
    await waitFor(what, async () => d.fdCount() === base.fds && JSON.stringify(await objectNames(d)) === JSON.stringify(base.names), 30000).catch(() => undefined);
  };
  const base = await quietBase(d, names);
  await cycles(CYCLES, (i) => one(1000 + i));
  await settled('the daemon to settle', base);
  t.deepEqual(await objectNames(d), base.names, 'the same objects');
  t.is(d.fdCount(), base.fds, `the same number of fds open (${fdDiff(base.table, fdTable(d.pid))})`);
  const rss = rssKb(d.pid);
  t.log(`daemon VmRSS ${(base.rss / 1024).toFixed(1)} MB before, ${(rss / 1024).toFixed(1)} MB after ${CYCLES} cycles`);
  // Allow the JS heap its slack (it grows until a collection), not a leak per cycle.
  t.true(rss < base.rss + 16 * 1024 + CYCLES * 4, `memory: ${base.rss} kB before, ${rss} kB after`);
});

/** A 64-hex-digit container id, as runtimes make them. */
function containerId(): string {
  return Array.from({ length: 64 }, () => '0123456789abcdef'[Math.floor(Math.random() * 16)]).join('');
}

const cniMissing = hostLocalMissing();
(cniMissing ? (test as TestFn).skip : rootTest)(`${CYCLES} CNI ADD/DEL cycles (host-local IPAM) leave fds, objects, memory and leases as they were${cniMissing ? ` [skipped: ${cniMissing}]` : ''}`, async (t: ExecutionContext) => {
  t.timeout(Math.max(120_000, CYCLES * 3000));
  const d = await startDaemon(t, { args: ['--log-level', 'warn'] });
  const dir = tempDir(t);
  const net = uniqueSubnet();
  const conf = {
    cniVersion: '1.0.0',
    name: 'soak',
    type: 'containet-cni',
    socket: d.sock,
    ipam: { type: 'host-local', subnet: `${net}.0/24`, dataDir: path.join(dir, 'ipam') },
  };
  const leases = () => readdirSync(path.join(dir, 'ipam', 'soak')).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f));
  // One namespace per parallel lane, reused: the cycle is the plugin's, not the runtime's.
  const lanes = await Promise.all(Array.from({ length: PARALLEL }, () => netns(t, 'soak')));
  const one = async (i: number, ns: string) => {
    const v = { CNI_CONTAINERID: containerId(), CNI_NETNS: `/run/netns/${ns}`, CNI_IFNAME: 'eth0', CNI_PATH: REFERENCE_PLUGINS };
    const add = await runPlugin({ ...v, CNI_COMMAND: 'ADD' }, conf);
    if (add.exitCode !== 0) throw new Error(`cycle ${i}: ADD: ${add.stdout}${add.stderr}`);
    const del = await runPlugin({ ...v, CNI_COMMAND: 'DEL' }, { ...conf, prevResult: add.json });
    if (del.exitCode !== 0) throw new Error(`cycle ${i}: DEL: ${del.stdout}${del.stderr}`);
  };
  const lanesRun = async (n: number) => {
    let next = 0;
    await Promise.all(lanes.map(async (ns) => {
      while (next < n) await one(next++, ns);
    }));
  };
  const names = await objectNames(d);
  await lanesRun(2 * PARALLEL);
  const base = await quietBase(d, names);
  await lanesRun(CYCLES);
  await waitFor('the daemon to settle', async () => d.fdCount() === base.fds && JSON.stringify(await objectNames(d)) === JSON.stringify(base.names), 30000).catch(() => undefined);
  t.deepEqual(await objectNames(d), base.names, 'the same objects');
  t.is(d.fdCount(), base.fds, `the same number of fds open (${fdDiff(base.table, fdTable(d.pid))})`);
  t.deepEqual(leases(), [], 'every address released');
  for (const ns of lanes) t.not((await inNetns(ns, ['ip', 'link', 'show', 'eth0'])).exitCode, 0, `no eth0 left in ${ns}`);
  const rss = rssKb(d.pid);
  t.log(`daemon VmRSS ${(base.rss / 1024).toFixed(1)} MB before, ${(rss / 1024).toFixed(1)} MB after ${CYCLES} cycles`);
  t.true(rss < base.rss + 16 * 1024 + CYCLES * 4, `memory: ${base.rss} kB before, ${rss} kB after`);
});
