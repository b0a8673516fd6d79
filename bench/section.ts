/**
 * A bench section of its own kind (the NAT's, the a2b's): a list of paths, each
 * built, measured a few times and torn down whatever happened, giving values
 * of the section's figures; then the ratios to the section's baseline path,
 * the section's targets, and a table. The netns and vhost-user sections keep
 * their own, older code; new sections are data for this runner.
 */
import type { Settings } from './options.js';
import { errorText } from './proc.js';
import { columns } from './report.js';
import { endPath, pathDir, progress, unavailableHere } from './runpath.js';
import { isInterrupted, Scope } from './scope.js';
import { median, ratio, spread } from './stats.js';
import { ratioVerdict, verdictText } from './verdict.js';

/** A figure of a section (one column of its table). */
export interface SectionFigure {
  key: string;
  label: string;
  unit: string;
  digits: number;
}

/** What a section path's setup gets. */
export interface SectionContext {
  /** Teardown: register the undo step of everything made, before making it. */
  scope: Scope;
  /** A unique prefix for names (at most 10 characters). */
  id: string;
  /** A private directory, removed after the path. */
  dir: string;
  settings: Settings;
}

/** A built path: measure() gives one value per figure it has (some may be absent). */
export interface SectionRig {
  measure(rep: number): Promise<Record<string, number>>;
  /** Remarks gathered after the measurements (counters, drops). */
  notes?(): Promise<string[]>;
}

/** A path of a section. */
export interface SectionPathDef {
  key: string;
  name: string;
  title: string;
  /** Run only when named by --only. */
  optional?: boolean;
  /** Why it cannot run on this machine, or null. */
  unavailable?: () => string | null;
  setup(ctx: SectionContext): Promise<SectionRig>;
}

/** A goal checked on a section's results, e.g. "containet-nat >= 1.0x slirp4netns". */
export interface SectionTarget {
  text: string;
  /** The figure measured for it, as shown ("1.21x"), or null when not measured. */
  value: string | null;
  /** Met, not met, or (null) not measured or, with a spread, not shown either way by it. */
  met: boolean | null;
  /** Targets judged over the repetitions (see verdict.ts): the worst and best value the spread allows. */
  low?: number | null;
  high?: number | null;
}

/** A section: its figures, paths, baseline and targets. */
export interface SectionDef {
  key: string;
  title: string;
  figures: SectionFigure[];
  /** Name of the path the ratios are relative to, or null for no ratios. */
  baseline: string | null;
  paths: SectionPathDef[];
  /** Repetitions of every measurement. */
  reps(s: Settings): number;
  /**
   * Its peers vary from run to run (slirp4netns, pasta): the table shows each
   * median with its spread over the repetitions, and its targets should be
   * judged over that spread (ratioVerdict).
   */
  noisy?: boolean;
  /** Lines under the table saying how the figures were taken. */
  legend(s: Settings): string[];
  /** The section's goals, from its results. */
  targets?(paths: SectionPathResult[]): SectionTarget[];
}

/** Everything measured on one path of a section. */
export interface SectionPathResult {
  key: string;
  name: string;
  title: string;
  status: 'ok' | 'failed' | 'skipped';
  reason?: string;
  /** Median over repetitions, per figure; null if not measured. */
  values: Record<string, number | null>;
  samples: Record<string, number[]>;
  /** The least and greatest sample per figure (the median's spread); null if not measured. */
  spread: Record<string, { min: number; max: number } | null>;
  /** value / the baseline path's value of the same figure; null without both. */
  ratios: Record<string, number | null>;
  /** Why a repetition failed, if one did. */
  error?: string;
  notes: string[];
  seconds: number;
  cleanupErrors: string[];
}

/** A section's results. */
export interface SectionResult {
  key: string;
  title: string;
  figures: SectionFigure[];
  baseline: string | null;
  paths: SectionPathResult[];
  targets: SectionTarget[];
  legend: string[];
  /** Whether the table shows each median's spread (SectionDef.noisy). */
  noisy: boolean;
}

/** Build, measure and tear down @def; names start with @id, files go under @rootDir. */
async function benchSectionPath(sec: SectionDef, def: SectionPathDef, id: string, rootDir: string, s: Settings): Promise<SectionPathResult> {
  const t0 = performance.now();
  const r: SectionPathResult = { key: def.key, name: def.name, title: def.title, status: 'ok', values: {}, samples: {}, spread: {}, ratios: {}, notes: [], seconds: 0, cleanupErrors: [] };
  const missing = unavailableHere(def);
  if (missing !== null) return { ...r, status: 'skipped', reason: missing };
  const scope = new Scope(def.name);
  try {
    const dir = pathDir(scope, rootDir, id);
    let rig: SectionRig;
    try {
      progress(def.name, `setting up: ${def.title}`);
      rig = await def.setup({ scope, id, dir, settings: s });
    } catch (e) {
      r.status = 'failed';
      r.reason = errorText(e);
      progress(def.name, `setup failed: ${r.reason}`);
      return r;
    }
    const reps = sec.reps(s);
    for (let rep = 1; rep <= reps && !isInterrupted(); rep++) {
      try {
        const v = await rig.measure(rep);
        for (const [k, x] of Object.entries(v)) (r.samples[k] ??= []).push(x);
        const shown = sec.figures.filter((f) => v[f.key] !== undefined).map((f) => `${f.key} ${v[f.key]!.toFixed(f.digits + 1)} ${f.unit}`);
        progress(def.name, `rep ${rep}/${reps} ${shown.join(', ')}`);
      } catch (e) {
        r.error ??= errorText(e);
        progress(def.name, `rep ${rep}/${reps} failed: ${errorText(e)}`);
      }
    }
    if (rig.notes) r.notes = await rig.notes().catch((e) => [`notes: ${errorText(e)}`]);
    for (const f of sec.figures) {
      r.values[f.key] = median(r.samples[f.key] ?? []);
      r.spread[f.key] = spread(r.samples[f.key] ?? []);
    }
  } finally {
    await endPath(scope, r, t0);
  }
  return r;
}

/**
 * Run the paths of section @sec that @only selects (all but the optional ones
 * when null), one after the other; names start with @runId, the section's key
 * and the path's place.
 */
export async function runSection(sec: SectionDef, only: string[] | null, runId: string, rootDir: string, s: Settings): Promise<SectionResult | null> {
  const selected = sec.paths.filter((p) => (only === null ? !p.optional : only.includes(p.key) || only.includes(p.name)));
  if (selected.length === 0) return null;
  const paths: SectionPathResult[] = [];
  for (const def of selected) {
    if (isInterrupted()) break;
    const place = sec.paths.indexOf(def);
    paths.push(await benchSectionPath(sec, def, `${runId}${sec.key[0]}${place.toString(36)}`, rootDir, s));
  }
  const base = paths.find((p) => p.name === sec.baseline && p.status === 'ok');
  for (const p of paths) for (const f of sec.figures) p.ratios[f.key] = ratio(p.values[f.key] ?? null, base?.values[f.key] ?? null);
  return { key: sec.key, title: sec.title, figures: sec.figures, baseline: sec.baseline, paths, targets: sec.targets?.(paths) ?? [], legend: sec.legend(s), noisy: sec.noisy ?? false };
}

/**
 * The target "@path's figure @fig >= @min times @base's", judged over the
 * spread of both paths' repetitions (ratioVerdict): met only when the path's
 * worst repetition against the baseline's best meets it.
 */
export function ratioTarget(paths: SectionPathResult[], path: string, base: string, fig: string, min: number, text: string): SectionTarget {
  const p = paths.find((x) => x.name === path && x.status === 'ok');
  const b = paths.find((x) => x.name === base && x.status === 'ok');
  const r = p?.ratios[fig] ?? null;
  const v = ratioVerdict(p?.samples[fig] ?? [], b?.samples[fig] ?? [], min, r);
  return { text, value: r === null ? null : `${r.toFixed(2)}x`, met: r === null ? null : v.met, low: v.low, high: v.high };
}

/** A section's table: values (with ratios to the baseline), targets, legend and notes. */
export function formatSection(sec: SectionResult): string {
  const rows: string[][] = [[`${sec.title} path`, ...sec.figures.map((f) => `${f.label} ${f.unit}`)]];
  const notes: string[] = [];
  for (const p of sec.paths) {
    if (p.status !== 'ok') {
      rows.push([p.name, `${p.status.toUpperCase()} (see below)`]);
      notes.push(`${p.name}: ${p.status}: ${p.reason ?? ''}`);
      continue;
    }
    rows.push([
      p.name,
      ...sec.figures.map((f) => {
        const v = p.values[f.key];
        if (v === null || v === undefined) return '-';
        const r = p.ratios[f.key];
        const sp = p.spread[f.key];
        const range = sec.noisy && sp && (p.samples[f.key]?.length ?? 0) > 1 ? ` [${sp.min.toFixed(f.digits)}-${sp.max.toFixed(f.digits)}]` : '';
        return `${v.toFixed(f.digits)}${range}${r === null || r === undefined || sec.baseline === p.name ? '' : ` (×${r.toFixed(2)})`}`;
      }),
    ]);
    if (p.error) notes.push(`${p.name}: ${p.error}`);
  }
  const targets = sec.targets.map((t) => `${t.text}: ${verdictText({ met: t.met, low: t.low ?? null, high: t.high ?? null }, t.value)}`);
  return [
    columns(rows),
    '',
    ...(sec.baseline === null ? [] : [`(×N) = ratio to ${sec.baseline} in this run.`]),
    ...(sec.noisy ? ['[min-max] = the spread of the repetitions around the median; a target is met only when its worst repetition against the baseline\'s best meets it.'] : []),
    ...sec.legend,
    ...(targets.length > 0 ? [`targets: ${targets.join('; ')}`] : []),
    ...notes.map((n) => `! ${n}`),
    ...sec.paths.flatMap((p) => p.notes.map((n) => `  ${p.name}: ${n}`)),
  ].join('\n');
}
