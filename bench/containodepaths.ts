/**
 * The containode section: what a container costs its launcher. Start to exit of
 * `containode -s SOCK -- /bin/true` and start to exec (the program, `date`,
 * prints the wall clock the moment it runs) as distributions over many runs,
 * each with an eth0 on a daemon of the bench's own; then the memory of a
 * running containode: VmRSS and private memory (smaps_rollup) of every process
 * between the caller and the container's init, and of the init itself.
 *
 * Path `cn` is this checkout's `containode` (the package's bin, as a user runs
 * it). Path `cr` (optional) is another containode given by
 * BENCH_CONTAINODE_REF (a bin script, e.g. another checkout's
 * bin/containode.js), for a before/after in one run.
 */
import { readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';

import { packageRoot } from '../src/native.js';
import { startContainet } from './containet.js';
import { exec, sleep, start } from './proc.js';
import { percentile } from './stats.js';
import type { SectionContext, SectionDef, SectionPathDef, SectionRig } from './section.js';

/** Runs of each distribution per repetition (fewer with --quick). */
const RUNS = 50;
const QUICK_RUNS = 20;

/** The argv that runs bin script @bin: node for a .js file, else the file itself. */
function binArgv(bin: string): string[] {
  return bin.endsWith('.js') ? [process.execPath, bin] : [bin];
}

/** This checkout's containode, as package.json's "bin" names it. */
function ownContainode(): string {
  const pkg = JSON.parse(readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { bin: Record<string, string> };
  return path.join(packageRoot, pkg.bin.containode!);
}

/** Wall clock now, in ns (performance.timeOrigin is wall-clock based). */
function wallNs(): number {
  return (performance.timeOrigin + performance.now()) * 1e6;
}

/** A field of /proc/PID/status or smaps_rollup in kB, 0 when absent. */
function kB(file: string, field: string): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(readFileSync(file, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Resident and private kB of process @pid. */
function memOf(pid: number): { rss: number; priv: number } {
  const roll = `/proc/${pid}/smaps_rollup`;
  return { rss: kB(`/proc/${pid}/status`, 'VmRSS'), priv: kB(roll, 'Private_Clean') + kB(roll, 'Private_Dirty') };
}

/** Direct children of @pid. */
function children(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const task of readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(/\s+/)) if (task) out.push(Number(task));
  } catch {
    // gone
  }
  return out;
}

/**
 * The processes from @top down to the container's init: those in our pid
 * namespace (the launcher's) and the first one in another (the init).
 */
function launcherChain(top: number): { outside: number[]; init: number | null } {
  const mine = readlinkSync('/proc/self/ns/pid');
  const outside: number[] = [];
  let pid: number | undefined = top;
  while (pid !== undefined) {
    let ns = '';
    try {
      ns = readlinkSync(`/proc/${pid}/ns/pid`);
    } catch {
      return { outside, init: null };
    }
    if (ns !== mine) return { outside, init: pid };
    outside.push(pid);
    pid = children(pid)[0];
  }
  return { outside, init: null };
}

/** A rig timing containode @argv0 on the daemon at @sock. */
function containodeRig(ctx: SectionContext, argv0: string[], sock: string): SectionRig {
  const runs = ctx.settings.quick ? QUICK_RUNS : RUNS;
  const [cmd, ...pre] = argv0 as [string, ...string[]];
  let n = 0;
  /** One run of PROGRAM: ms to containode's exit, and its stdout. */
  const once = async (program: string[]): Promise<{ ms: number; t0ns: number; out: string }> => {
    const id = `${ctx.id}${(n++).toString(36)}`;
    const t0ns = wallNs();
    const t0 = performance.now();
    const r = await exec(cmd, [...pre, '-s', sock, '-i', id, '--', ...program]);
    const ms = performance.now() - t0;
    if (r.code !== 0) throw new Error(`containode exited ${r.code ?? r.signal}: ${r.stderr.trim()}`);
    return { ms, t0ns, out: r.stdout };
  };
  return {
    measure: async () => {
      const total: number[] = [];
      const toExec: number[] = [];
      for (let i = 0; i < runs; i++) total.push((await once(['/bin/true'])).ms);
      for (let i = 0; i < runs; i++) {
        const r = await once(['date', '+%s%N']);
        toExec.push((Number(r.out.trim()) - r.t0ns) / 1e6);
      }
      // One running container: the memory of what keeps it going.
      const p = start(cmd, [...pre, '-s', sock, '-i', `${ctx.id}m`, '--', '/bin/sh', '-c', 'echo ready; exec sleep 1000']);
      ctx.scope.defer('stop the measured containode', () => p.stop('SIGTERM', 3000));
      const deadline = Date.now() + 30000;
      while (!/^ready$/m.test(p.output())) {
        if (p.hasExited() || Date.now() > deadline) throw new Error(`the running containode: ${p.output().trim()}`);
        await sleep(20);
      }
      await sleep(200); // let a Node process settle after its start
      const chain = launcherChain(p.pid);
      const outside = chain.outside.map(memOf);
      const init = chain.init === null ? null : memOf(chain.init);
      await p.stop('SIGTERM', 3000);
      return {
        p50: percentile(total, 50)!,
        p90: percentile(total, 90)!,
        x50: percentile(toExec, 50)!,
        x90: percentile(toExec, 90)!,
        procs: outside.length,
        rss: outside.reduce((a, m) => a + m.rss, 0) / 1024,
        priv: outside.reduce((a, m) => a + m.priv, 0) / 1024,
        ...(init === null ? {} : { irss: init.rss / 1024, ipriv: init.priv / 1024 }),
      };
    },
  };
}

/** A path timing the containode that @bin names. */
function containodePath(key: string, name: string, title: string, bin: () => string | undefined, optional: boolean): SectionPathDef {
  return {
    key,
    name,
    title,
    optional,
    unavailable: () => (bin() === undefined ? 'BENCH_CONTAINODE_REF is not set' : null),
    setup: async (ctx) => {
      const d = await startContainet(ctx.scope, ctx.dir, []);
      return containodeRig(ctx, binArgv(bin()!), d.sock);
    },
  };
}

export const CONTAINODE_SECTION: SectionDef = {
  key: 'containode',
  title: 'containode',
  figures: [
    { key: 'p50', label: 'start-exit p50', unit: 'ms', digits: 1 },
    { key: 'p90', label: 'p90', unit: 'ms', digits: 1 },
    { key: 'x50', label: 'start-exec p50', unit: 'ms', digits: 1 },
    { key: 'x90', label: 'p90', unit: 'ms', digits: 1 },
    { key: 'procs', label: 'launcher procs', unit: '', digits: 0 },
    { key: 'rss', label: 'launcher RSS', unit: 'MiB', digits: 2 },
    { key: 'priv', label: 'private', unit: 'MiB', digits: 2 },
    { key: 'irss', label: 'init RSS', unit: 'MiB', digits: 2 },
    { key: 'ipriv', label: 'private', unit: 'MiB', digits: 2 },
  ],
  baseline: null,
  paths: [
    containodePath('cn', 'containode', "this checkout's bin/containode", () => ownContainode(), false),
    containodePath('cr', 'containode-ref', 'the containode named by BENCH_CONTAINODE_REF', () => process.env.BENCH_CONTAINODE_REF || undefined, true),
  ],
  reps: (s) => s.sectionReps,
  legend: (s) => [
    `Medians of ${s.sectionReps} repetition(s); each: ${s.quick ? QUICK_RUNS : RUNS} runs of \`containode -s SOCK -i ID -- /bin/true\` one after the other, timed from spawn to exit`,
    `  (start-exit), then as many of \`-- date +%s%N\`: the wall clock date prints minus the spawn time (start-exec); every run gets an eth0 on the daemon (add-etherfd, remove-etherfd).`,
    '  Memory: one running `containode -s SOCK -- sleep`: launcher = every process from the one spawned down to the container\'s init, outside the container',
    '  (VmRSS; private = Private_Clean + Private_Dirty of smaps_rollup), init = the container\'s pid 1. Nothing pinned.',
  ],
  targets: (paths) => {
    const cn = paths.find((p) => p.key === 'cn' && p.status === 'ok');
    const x50 = cn?.values.x50 ?? null;
    const rss = cn?.values.rss ?? null;
    return [
      { text: 'start to exec p50 <= 20 ms', value: x50 === null ? null : `${x50.toFixed(1)} ms`, met: x50 === null ? null : x50 <= 20 },
      { text: 'launcher resident <= 2 MiB per running container', value: rss === null ? null : `${rss.toFixed(2)} MiB`, met: rss === null ? null : rss <= 2 },
    ];
  },
};
