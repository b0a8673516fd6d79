/**
 * `npm run bench`: build every selected packet path in namespaces of its own,
 * measure them one after the other in one run (then the vhost-user section),
 * print the tables, write
 * bench/results/DATE.json and DATE.svg (and latest.*), and check that nothing
 * of the run is left on the machine.
 */
import { mkdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { packageRoot } from '../src/native.js';
import { renderChart } from './chart.js';
import { findLeftovers, hugepages } from './leftovers.js';
import { machineInfo } from './machine.js';
import { makeRunId } from './netns.js';
import { parseOptions } from './options.js';
import { BASELINE, PATHS, type PathDef } from './paths.js';
import { errorText } from './proc.js';
import { addRatios, formatTable, formatVhostTable, writeResults } from './report.js';
import type { PathResult, RunReport, VhostPathResult } from './results.js';
import { runPaths } from './runpath.js';
import { installSignalCleanup, Scope } from './scope.js';
import { formatSection, runSection, type SectionResult } from './section.js';
import { SECTIONS } from './sections.js';
import { VHOST_PATHS, type VhostPathDef } from './vhostpaths.js';
import { runVhostPaths, vhostTargets } from './vhostrun.js';

/**
 * The paths named by --only (keys or names), in table order, of the netns and
 * vhost-user sections (the other sections select their own from the same
 * list); without it every path but the optional ones.
 */
function selectPaths(only: string[] | null): { paths: PathDef[]; vhost: VhostPathDef[] } {
  if (only === null) return { paths: PATHS.filter((p) => !p.optional), vhost: VHOST_PATHS.filter((p) => !p.optional) };
  const all = [...PATHS, ...VHOST_PATHS, ...SECTIONS.flatMap((s) => s.paths)];
  const unknown = only.filter((o) => !all.some((p) => p.key === o || p.name === o));
  if (unknown.length > 0)
    throw new Error(`unknown path ${unknown.join(', ')}; paths: ${all.map((p) => `${p.key} (${p.name})`).join(', ')}`);
  /** Whether --only names @p. */
  const named = (p: { key: string; name: string }) => only.includes(p.key) || only.includes(p.name);
  return { paths: PATHS.filter(named), vhost: VHOST_PATHS.filter(named) };
}

/** The bench; resolves to the process exit code. */
async function main(): Promise<number> {
  const settings = parseOptions(process.argv);
  if (process.getuid?.() !== 0) throw new Error('the bench needs root (namespaces, taps, OVS)');
  const selected = selectPaths(settings.only);
  installSignalCleanup();
  const t0 = performance.now();
  const date = new Date().toISOString();
  const runId = makeRunId();
  const sectionPaths = SECTIONS.flatMap((sec) => sec.paths.filter((p) => (settings.only === null ? !p.optional : settings.only.includes(p.key) || settings.only.includes(p.name))));
  const names = [...selected.paths, ...selected.vhost, ...sectionPaths].map((p) => p.name).join(', ');
  process.stderr.write(
    `bench: run ${runId}, paths ${names}, ${settings.reps} rep(s) of ${settings.seconds} s (vhost-user: ${settings.vhostReps} rep(s), ${settings.vhostSeconds} s windows)\n`,
  );

  const machine = await machineInfo();
  const hugepagesBefore = hugepages();
  const scope = new Scope('run');
  let paths: PathResult[] = [];
  let vhost: VhostPathResult[] = [];
  const sections: SectionResult[] = [];
  try {
    const root = path.join(os.tmpdir(), `containet-bench-${runId}`);
    scope.defer(`remove ${root}`, () => rmSync(root, { recursive: true, force: true }));
    mkdirSync(root, { mode: 0o700 });
    paths = await runPaths(selected.paths, runId, root, settings);
    vhost = await runVhostPaths(selected.vhost, runId, root, settings);
    for (const sec of SECTIONS) {
      const r = await runSection(sec, settings.only, runId, root, settings);
      if (r !== null) sections.push(r);
    }
  } finally {
    for (const f of await scope.close()) process.stderr.write(`bench: cleanup: ${f}\n`);
  }
  addRatios(paths, BASELINE);
  const leftovers = await findLeftovers(runId, hugepagesBefore);
  const report: RunReport = {
    date,
    machine,
    settings,
    baseline: BASELINE,
    paths,
    vhost,
    vhostTargets: vhostTargets(vhost),
    sections,
    totalSeconds: 0,
    leftovers,
  };
  report.totalSeconds = (performance.now() - t0) / 1000;

  if (paths.length > 0) process.stdout.write(`\n${formatTable(report)}\n`);
  if (vhost.length > 0) process.stdout.write(`\n${formatVhostTable(report)}\n`);
  for (const sec of sections) process.stdout.write(`\n${formatSection(sec)}\n`);
  process.stdout.write('\n');
  const files = writeResults(path.join(packageRoot, 'bench', 'results'), report, renderChart(report));
  process.stdout.write(`results: ${path.relative(process.cwd(), files.json)}, ${path.relative(process.cwd(), files.svg)} (and latest.*)\n`);
  process.stdout.write(leftovers.length === 0 ? 'left behind: nothing (namespaces, links, processes, DPDK runtime dirs checked)\n' : `LEFT BEHIND:\n${leftovers.map((l) => `  ${l}`).join('\n')}\n`);
  process.stdout.write(`total run time: ${report.totalSeconds.toFixed(1)} s\n`);
  return leftovers.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`bench: ${errorText(e)}\n`);
    process.exit(1);
  },
);
