/** The run's outputs: the text table on stdout and the JSON and SVG files. */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { FIGURES, VHOST_FIGURES, type FigureDef, type FigureKey, type PathResult, type RunReport, type VhostPathResult } from './results.js';
import { ratio } from './stats.js';
import { GENERATOR_LIMITED_SHARE, ratioVerdict, verdictText } from './verdict.js';

/** Mark of a figure the load generator set (table cells, chart labels). */
export const GEN_MARK = '*gen';

/** Whether figure @f of @p, or of the baseline @base, was set by the load generator: then their ratio compares no switches. */
export function genLimitedPair(p: PathResult, base: PathResult | undefined, f: FigureKey): boolean {
  return p.figures[f].generatorLimited === true || base?.figures[f].generatorLimited === true;
}

/** Fill every figure's ratio to the baseline path's value (same run). */
export function addRatios(paths: PathResult[], baseline: string): void {
  const base = paths.find((p) => p.name === baseline && p.status === 'ok');
  for (const p of paths)
    for (const f of FIGURES) p.figures[f.key].ratio = ratio(p.figures[f.key].value, base?.figures[f.key].value ?? null);
}

/** A value with @digits decimals, or "-" when missing. */
export function fmt(v: number | null, digits: number): string {
  return v === null ? '-' : v.toFixed(digits);
}

/**
 * One table cell: "value (×ratio)", "error" when it failed, "-" when missing;
 * a figure the generator set is marked GEN_MARK and, like one compared with a
 * baseline the generator set, shows no ratio.
 */
function cell(p: PathResult, f: FigureDef, base: PathResult | undefined): string {
  const fig = p.figures[f.key];
  if (fig.value === null) return fig.error ? 'error' : '-';
  const mark = fig.generatorLimited === true ? GEN_MARK : '';
  const r = fig.ratio === null || genLimitedPair(p, base, f.key) ? '' : ` (×${fig.ratio.toFixed(2)})`;
  return `${fmt(fig.value, f.digits)}${mark}${r}`;
}

/** Lay out rows of cells in left-aligned columns two spaces apart. */
export function columns(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

/** The netns section's targets (issue 17): containet's TCP against the Linux
 *  bridge, with its defaults and with a worker per CPU and multi-queue taps. */
export const NETNS_TARGETS: { paths: string[]; figure: FigureKey; label: string; min: number }[] = [
  { paths: ['containet', 'containet-2t'], figure: 'tcp4', label: 'TCP 4 streams', min: 0.9 },
  { paths: ['containet', 'containet-2t'], figure: 'tcp1', label: 'TCP 1 stream', min: 1.0 },
];

/** The netns targets as one line each path has: judged on the spread of the
 *  repetitions (ratioVerdict), so a target is met only when the path's worst
 *  repetition against the bridge's best meets it. */
export function netnsTargets(rep: RunReport): string[] {
  const base = rep.paths.find((p) => p.name === rep.baseline && p.status === 'ok');
  if (!base) return [];
  const out: string[] = [];
  for (const t of NETNS_TARGETS)
    for (const name of t.paths) {
      const p = rep.paths.find((x) => x.name === name && x.status === 'ok');
      if (!p) continue;
      const f = p.figures[t.figure];
      const v = ratioVerdict(f.samples, base.figures[t.figure].samples, t.min, f.ratio);
      out.push(`${name} ${t.label} >= ${t.min.toFixed(1)}x ${rep.baseline}: ${verdictText(v, v.ratio === null ? null : `${v.ratio.toFixed(2)}x`)}`);
    }
  return out;
}

/** The results table, with the reasons of failed paths and figures under it. */
export function formatTable(rep: RunReport): string {
  const head = ['path', ...FIGURES.map((f) => `${f.key} ${f.unit}`), 'udp64 offered kpps', 'udp64 switch CPU ns/frame'];
  const base = rep.paths.find((p) => p.name === rep.baseline && p.status === 'ok');
  const rows: string[][] = [head];
  const notes: string[] = [];
  for (const p of rep.paths) {
    if (p.status !== 'ok') {
      rows.push([p.name, `${p.status.toUpperCase()} (see below)`]);
      notes.push(`${p.name}: ${p.status}: ${p.reason ?? ''}`);
      continue;
    }
    rows.push([p.name, ...FIGURES.map((f) => cell(p, f, base)), fmt(p.udpOfferedKpps, 0), fmt(p.udpCpuNsPerFrame, 0)]);
    for (const f of FIGURES) if (p.figures[f.key].error) notes.push(`${p.name} ${f.key}: ${p.figures[f.key].error}`);
    if (p.pingLost > 0) notes.push(`${p.name}: ${p.pingLost} pings unanswered`);
  }
  const s = rep.settings;
  return [
    columns(rows),
    '',
    `(×N) = ratio to ${rep.baseline} in this run; throughput: higher is better, latency: lower is better.`,
    `Medians of ${s.reps} repetition(s): iperf3 -t ${s.seconds} -O ${s.omit}; udp64 = 60-byte frames from trafgen (1 CPU) received by B over ${s.udpSeconds} s;`,
    `p50/p99: ping over all ${s.pings * s.reps} echoes ${s.pingIntervalS * 1000} ms apart; p50fast/p99fast: over all ${s.pingsFast * s.reps} echoes ${s.pingFastIntervalS * 1000} ms apart (CPUs kept awake).`,
    `udp64 offered = frames trafgen put on A's interface in the same window (tx_packets + tx_dropped). ${GEN_MARK} = generator-limited: B received >= ${GENERATOR_LIMITED_SHARE * 100}% of what was offered,`,
    `so the figure is trafgen's rate, not the path's, and no ratio is shown for it (nor against a baseline so marked).`,
    `udp64 switch CPU = CPU ns the switch process's threads ran (/proc/PID/task/*/schedstat) per frame B received: the figure that compares switches at 64 bytes;`,
    `"-" on kernel paths (bridge, veth): their forwarding runs in softirq context, charged to whatever task was running, and is not measured.`,
    ...(netnsTargets(rep).length > 0 ? [`targets: ${netnsTargets(rep).join('; ')}`] : []),
    ...notes.map((n) => `! ${n}`),
  ].join('\n');
}

/**
 * The ratio of vhost-user path @p to baseline @b as a cell: "" when @p's
 * figure has no such baseline, GEN_MARK when either rate was the sender's (a
 * ratio of those compares no switches), else the ratio.
 */
export function vhostRatioCell(all: VhostPathResult[], p: VhostPathResult, b: string): string {
  const f = VHOST_FIGURES.find((x) => x.key === p.figure)!;
  if (!f.baselines.includes(b)) return '';
  const base = all.find((x) => x.name === b && x.status === 'ok');
  if (p.name !== b && p.ratios[b] != null && (p.generatorLimited === true || base?.generatorLimited === true)) return GEN_MARK;
  return fmt(p.ratios[b] ?? null, 2);
}

/**
 * The vhost-user table: one row per path with its figure, the ratios to each
 * baseline of the figure, what the sender offered and where the threads ran;
 * then the targets and the notes.
 */
export function formatVhostTable(rep: RunReport): string {
  const baselines = [...new Set(VHOST_FIGURES.flatMap((f) => f.baselines))];
  const rows: string[][] = [['vhost-user path', 'figure', 'value', ...baselines.map((b) => `×${b}`), 'offered Mpps', 'switch CPU µs/frame', 'CPU placement']];
  const notes: string[] = [];
  for (const p of rep.vhost) {
    const f = VHOST_FIGURES.find((x) => x.key === p.figure)!;
    if (p.status !== 'ok') {
      rows.push([p.name, `${f.label} ${f.unit}`, `${p.status.toUpperCase()} (see below)`]);
      notes.push(`${p.name}: ${p.status}: ${p.reason ?? ''}`);
      continue;
    }
    const range = p.spread && p.samples.length > 1 ? ` [${fmt(p.spread.min, f.digits)}-${fmt(p.spread.max, f.digits)}]` : '';
    const value = p.value === null ? (p.error ? 'error' : '-') : `${fmt(p.value, f.digits)}${p.generatorLimited === true ? GEN_MARK : ''}${range}`;
    const ratios = baselines.map((b) => vhostRatioCell(rep.vhost, p, b));
    rows.push([p.name, `${f.label} ${f.unit}`, value, ...ratios, p.figure === 'mpps' ? fmt(p.offeredMpps, 2) : '', fmt(p.cpuUsPerFrame ?? null, 3), p.placement]);
    if (p.error) notes.push(`${p.name}: ${p.error}`);
  }
  const s = rep.settings;
  const targets = rep.vhostTargets.map((t) => `${t.path} >= ${t.min.toFixed(1)}× ${t.baseline}: ${verdictText(t, t.ratio === null ? null : `${t.ratio.toFixed(2)}×`, '×')}`);
  return [
    columns(rows),
    '',
    `Medians of ${s.vhostReps} repetition(s) [min-max over them]; a target is met only when the worst repetition against the baseline's best meets it. ${GEN_MARK}: B received >= ${GENERATOR_LIMITED_SHARE * 100}% of what A offered (the sender set the rate).`,
    `Mpps: 64-byte frames (testpmd --txpkts=64) received by testpmd B (rxonly) over ${s.vhostSeconds} s after ${s.vhostWarmupS} s of warm-up;`,
    `offered = what testpmd A (txonly) put on its ring (a ratio is ${GEN_MARK} when either rate was the sender's); switch CPU = the switch process's CPU seconds (all its threads; dpdk-vhost: testpmd B, the backend) over the frames B received in the window.`,
    `TCP from a VM: ${s.vmMiB} MiB with busybox nc from a TCG guest, first to last byte at the receiver (TCG is the limit).`,
    ...(targets.length > 0 ? [`targets: ${targets.join('; ')}`] : []),
    ...notes.map((n) => `! ${n}`),
    ...rep.vhost.flatMap((p) => p.notes.map((n) => `  ${p.name}: ${n}`)),
  ].join('\n');
}

/** A file-name-safe form of ISO date @iso: "2026-11-23T05-40-12Z". */
export function fileStamp(iso: string): string {
  return iso.replace(/\.\d+Z$/, 'Z').replace(/:/g, '-');
}

/**
 * Write @rep as DIR/STAMP.json and @svg as DIR/STAMP.svg, and copy both to
 * latest.json and latest.svg; returns the two dated paths.
 */
export function writeResults(dir: string, rep: RunReport, svg: string): { json: string; svg: string } {
  mkdirSync(dir, { recursive: true });
  const stamp = fileStamp(rep.date);
  const json = path.join(dir, `${stamp}.json`);
  const chart = path.join(dir, `${stamp}.svg`);
  writeFileSync(json, `${JSON.stringify(rep, null, 2)}\n`);
  writeFileSync(chart, svg);
  copyFileSync(json, path.join(dir, 'latest.json'));
  copyFileSync(chart, path.join(dir, 'latest.svg'));
  return { json, svg: chart };
}
