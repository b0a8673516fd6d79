/**
 * The lab section: a topology file of 200 nodes on 4 lans with 3 links
 * (docs/topology.md) applied with `containet apply` as a user runs it. Measured:
 * the time from the apply to every node running with its interface on its lan
 * (apply answers once each add-node has: the node's program runs with its
 * interfaces attached), then a re-apply of the file with one link's delay
 * changed, which must touch only that link (its plan one `~ link` step, every
 * other object of the lab the same object as before: same creation time, and
 * every node the same process), and the destroy of it all.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { request } from '../src/client.js';
import { packageRoot } from '../src/native.js';
import { startContainet, type Containet } from './containet.js';
import { exec, sleep } from './proc.js';
import type { SectionContext, SectionDef, SectionPathDef, SectionRig, SectionTarget, SectionPathResult } from './section.js';

/** Nodes, lans and links of the lab. */
const NODES = 200;
const LANS = 4;
/** How long one apply or destroy may take. */
const DEADLINE_MS = 600_000;

/** An object of the daemon as show gives it (what the re-apply must keep). */
interface Shown {
  name: string;
  created: string;
  lab?: string;
  pid?: number;
  state?: string;
  objectKind?: string;
}

/** The lab's file: @delay2 is link k2's delay (ms) one way. */
function labFile(lab: string, delay2: number): string {
  const lines = [`name: ${lab}`, 'lans:'];
  for (let l = 0; l < LANS; l++) lines.push(`  - name: ${lab}L${l}`);
  lines.push('links:');
  for (let k = 1; k < LANS; k++) lines.push(`  - {name: ${lab}k${k}, a: ${lab}L${k - 1}, b: ${lab}L${k}, a2b: {delay: ${k === 2 ? delay2 : 1}ms}, b2a: {delay: ${k === 2 ? delay2 : 1}ms}}`);
  lines.push('nodes:');
  for (let i = 0; i < NODES; i++) {
    const h = i + 1;
    lines.push(`  - {name: ${lab}n${i}, command: [sleep, infinity], interfaces: [{lan: ${lab}L${i % LANS}, addrs: [10.80.${h >> 8}.${h & 255}/16]}]}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Run `containet -s SOCK @args...`; its output, or a failure with what it said. */
async function cli(d: Containet, args: string[]): Promise<string> {
  const r = await exec(process.execPath, [path.join(packageRoot, 'bin', 'containet.js'), '-s', d.sock, ...args], { timeoutMs: DEADLINE_MS });
  if (r.code !== 0) throw new Error(`containet ${args.join(' ')}: exit ${r.code}: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' / ')}`);
  return r.stdout;
}

/** The objects of lab @lab in @d. */
async function labObjects(d: Containet, lab: string): Promise<Shown[]> {
  const r = (await request(d.sock, { show: {} }, -1, 60000)) as { objects: Shown[] };
  return r.objects.filter((o) => o.lab === lab || o.name.startsWith(`${lab}n`));
}

/** Network namespaces the kernel holds (live or being torn down): the
 *  net_namespace slab's active objects; null where /proc/slabinfo is not
 *  readable. */
function namespacesHeld(): number | null {
  try {
    const m = /^net_namespace\s+(\d+)/m.exec(readFileSync('/proc/slabinfo', 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/**
 * Wait until the kernel has torn down the namespaces of nodes that went: the
 * count of namespaces it holds unchanged over 1.5 s (at most 60 s); how long
 * that took, s. After a destroy the kernel frees the nodes' namespaces in the
 * background for seconds, holding the RTNL lock while it unregisters their
 * devices, and a node started meanwhile waits for it (seen: the second node
 * of an apply right after a destroy of 200 took 6 s to come up). Each
 * repetition starts from a settled kernel, so its figure is the apply's own;
 * the wait after the destroy is a figure of its own.
 */
async function settle(): Promise<number> {
  const t0 = performance.now();
  let last = namespacesHeld();
  if (last === null) return 0;
  let same = 0;
  while (same < 3 && performance.now() - t0 < 60_000) {
    await sleep(500);
    const now = namespacesHeld();
    same = now === last ? same + 1 : 0;
    last = now;
  }
  return (performance.now() - t0) / 1000 - 1.5;
}

/** The path: the lab applied, changed in one link, destroyed. */
const APPLY_PATH: SectionPathDef = {
  key: 'lab1',
  name: 'apply-200',
  title: `containet apply: ${NODES} nodes on ${LANS} lans with ${LANS - 1} links, one link changed, destroyed`,
  setup: async (ctx: SectionContext): Promise<SectionRig> => {
    const d = await startContainet(ctx.scope, ctx.dir, []);
    const notes: string[] = [];
    return {
      measure: async (rep) => {
        const lab = `${ctx.id}r${rep}`.replace(/[^A-Za-z0-9]/g, '');
        const file = path.join(ctx.dir, `${lab}.yaml`);
        writeFileSync(file, labFile(lab, 10));
        ctx.scope.defer(`destroy lab ${lab}`, async () => {
          if ((await labObjects(d, lab)).length) await cli(d, ['destroy', file]).catch(() => undefined);
        });
        const settled = await settle();
        let t = performance.now();
        await cli(d, ['apply', file]);
        const applyS = (performance.now() - t) / 1000;
        const before = await labObjects(d, lab);
        const running = before.filter((o) => o.objectKind === 'node' && o.state === 'running').length;
        if (running !== NODES) throw new Error(`${running} of ${NODES} nodes running after apply`);
        const ports = before.filter((o) => o.name.startsWith(`${lab}n`) && o.name.includes('.')).length;
        if (ports !== NODES) throw new Error(`${ports} of ${NODES} node ports on the lans after apply`);

        writeFileSync(file, labFile(lab, 20));
        t = performance.now();
        const out = await cli(d, ['apply', file]);
        const reapplyMs = performance.now() - t;
        const steps = out.split('\n').filter((l) => /^[+~-] /.test(l));
        const after = await labObjects(d, lab);
        const moved = after.filter((o) => {
          const b = before.find((x) => x.name === o.name);
          return !b || b.created !== o.created || b.pid !== o.pid;
        });
        const touched = steps.length + moved.length + Math.abs(after.length - before.length);
        if (steps.length !== 1 || !steps[0]!.startsWith(`~ link ${lab}k2`)) notes.push(`rep ${rep}: the re-apply's plan was ${steps.join(' | ')}`);
        if (moved.length) notes.push(`rep ${rep}: the re-apply made again ${moved.map((o) => o.name).slice(0, 5).join(', ')}${moved.length > 5 ? ' ...' : ''}`);

        t = performance.now();
        await cli(d, ['destroy', file]);
        const destroyS = (performance.now() - t) / 1000;
        const left = (await labObjects(d, lab)).length;
        if (left) throw new Error(`${left} objects of lab ${lab} left after destroy`);
        const freedS = await settle();
        notes.push(`rep ${rep}: ${before.length} objects; waited ${settled.toFixed(1)} s for the kernel before the apply; re-apply plan: ${steps.join(' | ')}`);
        return { applyS, perNode: (applyS * 1000) / NODES, reapplyMs, touched, destroyS, freedS };
      },
      notes: async () => notes,
    };
  },
};

/** The section's goal: a re-apply that changes one link touches that link only. */
function labTargets(paths: SectionPathResult[]): SectionTarget[] {
  const p = paths.find((x) => x.key === 'lab1');
  const vals = p?.samples.touched ?? [];
  return [{ text: 're-apply of one changed link touches only that link (1 step, nothing else made again)', value: vals.length ? vals.join(', ') : null, met: vals.length ? vals.every((v) => v === 1) : null }];
}

/** The lab section. */
export const LAB_SECTION: SectionDef = {
  key: 'lab',
  title: 'Labs (topology files)',
  figures: [
    { key: 'applyS', label: `apply ${NODES} nodes`, unit: 's', digits: 2 },
    { key: 'perNode', label: 'per node', unit: 'ms', digits: 1 },
    { key: 'reapplyMs', label: 're-apply one link', unit: 'ms', digits: 0 },
    { key: 'touched', label: 'objects touched', unit: '', digits: 0 },
    { key: 'destroyS', label: 'destroy', unit: 's', digits: 2 },
    { key: 'freedS', label: 'kernel frees netns', unit: 's', digits: 1 },
  ],
  baseline: null,
  paths: [APPLY_PATH],
  reps: (s) => s.sectionReps,
  legend: () => [
    `containet apply FILE (the CLI, as a user runs it) of ${NODES} nodes (sleep infinity, one interface each, ${NODES / LANS} per lan) on ${LANS} lans`,
    `joined in a row by ${LANS - 1} a2b links: apply = until the CLI returns, which is when every node runs with its interface on its lan.`,
    're-apply: the same file with one link\'s delay changed; objects touched = the plan\'s steps plus objects made again (a new creation time or',
    'process) plus objects added or removed, which must be 1 (the link, changed in place). destroy: until the CLI returns and nothing is left.',
    'kernel frees netns: from then until the kernel holds a steady number of network namespaces (the net_namespace slab, unchanged over',
    '1.5 s, not counted), the teardown it does in the background; every repetition waits for it before its apply.',
  ],
  targets: labTargets,
};
