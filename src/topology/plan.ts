/**
 * The plan of an apply (docs/topology.md): what a topology file asks for
 * compared with what the daemon runs (its `show`), object by object by name,
 * as steps in dependency order: removals first (dependents before what they
 * are on), then changes in place, then additions (what an object is on before
 * it). Only the lab's own objects (marked with its name) are changed or
 * removed; another object in the way is an error. Pure: no daemon here.
 */
import { sectionOfKind, type Entry, type Request, type ShowEntry, type TopologySection, type Values } from './section.js';
import type { FileEntry, Topology } from './validate.js';

/** One step: its requests, and the requests that undo it once done. */
export interface Step {
  /** + made, - removed, ~ changed in place */
  op: '+' | '-' | '~';
  /** what it is, for people: "lan", "link" */
  noun: string;
  name: string;
  /** the plan's line for it: "~ link l1: a2b.delay 10ms -> 20ms" */
  text: string;
  /** sent in order, each with the lab's mark */
  requests: Request[];
  /** what makes the daemon as it was before the step (empty with @lost: it cannot be) */
  undo: Request[];
  /** why the step cannot be undone, if it cannot */
  lost?: string;
}

/** What an apply or a destroy will do. */
export interface Plan {
  lab: string;
  steps: Step[];
}

/** A file that cannot be applied to this daemon: every reason. */
export class PlanError extends Error {
  constructor(readonly errors: string[]) {
    super(errors.join('\n'));
  }
}

/** One field that differs: its path ("a2b.delay"), the running value and the wanted one. */
export interface Difference {
  path: string;
  from: unknown;
  to: unknown;
}

/** A plain object (not a list, not null)? */
function isPlain(v: unknown): v is Values {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The fields of @want that @cur does not have as asked. A field @want leaves
 *  undefined is not compared (whatever runs is fine); objects are compared
 *  member by member, everything else whole. */
export function differences(s: TopologySection, cur: Values, want: Values, prefix = ''): Difference[] {
  const out: Difference[] = [];
  for (const [k, w] of Object.entries(want)) {
    if (w === undefined) continue;
    const path = prefix + k;
    const c = cur[k];
    if (isPlain(w) && isPlain(c)) out.push(...differences(s, c, w, `${path}.`));
    else if (JSON.stringify(c ?? null) !== JSON.stringify(w) && !s.same?.(path, c, w)) out.push({ path, from: c, to: w });
  }
  return out;
}

/** @v at @path for people. */
function show(s: TopologySection, path: string, v: unknown): string {
  if (v === undefined || v === null) return '(none)';
  if (s.format) return s.format(path, v);
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return `[${v.join(', ')}]`;
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** "a2b.delay 10ms -> 20ms, state up -> down". */
function describe(s: TopologySection, diffs: Difference[]): string {
  return diffs.map((d) => `${d.path} ${show(s, d.path, d.from)} -> ${show(s, d.path, d.to)}`).join(', ');
}

/** The step that removes running object @cur (@s: its section, if any;
 *  @why: said after its name). */
function delStep(s: TopologySection | undefined, noun: string, cur: Entry, why = ''): Step {
  return {
    op: '-',
    noun,
    name: cur.name,
    text: `- ${noun} ${cur.name}${why}`,
    requests: [{ del: { name: cur.name } }],
    undo: s ? s.add(cur) : [],
    ...(s ? {} : { lost: `no topology section takes its kind, so it cannot be made again` }),
  };
}

/** The step that makes @e. */
function addStep(e: Entry & { section: TopologySection }, again = false): Step {
  const s = e.section;
  return { op: '+', noun: s.noun, name: e.name, text: `+ ${s.noun} ${e.name}${again ? ' (again)' : ''}`, requests: s.add(e), undo: [{ del: { name: e.name } }] };
}

/** A running object of the lab: its section (if its kind has one) and canonical entry. */
export interface Running {
  section: TopologySection | undefined;
  noun: string;
  entry: Entry;
  /** its place in show (creation order within its section) */
  index: number;
}

/** The running objects of lab @lab among @objects (a show reply's), by
 *  name, in show's order, not counting parts of others (a node's ports). */
export function labObjects(lab: string, objects: ShowEntry[]): Map<string, Running> {
  const mine = new Map<string, Running>();
  const parts = new Set<string>();
  objects.forEach((o, index) => {
    if (o.lab !== lab) return;
    const s = sectionOfKind(String(o.objectKind ?? o.kind));
    const entry = s ? s.fromShow(o) : { name: String(o.name), values: {} };
    for (const p of s?.parts?.(entry) ?? []) parts.add(p);
    mine.set(entry.name, { section: s, noun: s?.noun ?? String(o.objectKind ?? o.kind), entry, index });
  });
  for (const p of parts) mine.delete(p);
  return mine;
}

/** Sort @entries so that each comes after what it needs among them (by
 *  stage, then file order); a cycle is an error naming its members. */
function ordered(entries: FileEntry[], file: string, errors: string[]): FileEntry[] {
  const byName = new Map(entries.map((e) => [e.name, e]));
  const partOf = new Map<string, string>();
  for (const e of entries) for (const p of e.section.parts?.(e) ?? []) partOf.set(p, e.name);
  const pending = [...entries].sort((x, y) => x.section.stage - y.section.stage);
  const done = new Set<string>();
  const out: FileEntry[] = [];
  while (pending.length) {
    const i = pending.findIndex((e) =>
      e.section.needs(e).every((n) => {
        const owner = partOf.get(n) ?? n;
        return !byName.has(owner) || done.has(owner) || owner === e.name;
      }),
    );
    if (i < 0) {
      for (const e of pending) errors.push(`${file}:${e.at.line}:${e.at.col}: ${e.section.noun} ${e.name}: waits for ${e.section.needs(e).join(', ')}, in a cycle`);
      return out;
    }
    const [e] = pending.splice(i, 1);
    done.add(e!.name);
    out.push(e!);
  }
  return out;
}

/**
 * The plan that makes the daemon whose objects are @objects (a show reply's)
 * run topology @t: throws PlanError when another object is in the way or an
 * entry needs an object neither the file nor the daemon has.
 */
export function computePlan(t: Topology, objects: ShowEntry[]): Plan {
  const errors: string[] = [];
  /** Where entry @e is, for messages. */
  const at = (e: FileEntry) => `${t.file}:${e.at.line}:${e.at.col}`;
  const mine = labObjects(t.name, objects);
  const all = new Map(objects.map((o) => [String(o.name), o]));
  const want = new Map(t.entries.map((e) => [e.name, e]));
  const partsOfWanted = new Set(t.entries.flatMap((e) => e.section.parts?.(e) ?? []));
  for (const e of t.entries) {
    const o = all.get(e.name);
    if (o && o.lab !== t.name)
      errors.push(`${at(e)}: ${e.section.noun} ${e.name}: an object of that name runs already and is not this lab's (${o.lab ? `it is lab ${String(o.lab)}'s` : 'it was not made by apply'}); rename it in the file or delete it`);
    const going = (n: string) => mine.has(n) && !want.has(n);
    for (const n of e.section.needs(e))
      if (!want.has(n) && !partsOfWanted.has(n) && (!all.has(n) || going(n)))
        errors.push(`${at(e)}: ${e.section.noun} ${e.name}: needs ${n}, which is neither in the file nor in the daemon`);
  }
  // What changes, what is made again, what is new.
  const replaced = new Map<string, string>();
  const changes: Step[] = [];
  for (const e of t.entries) {
    const r = mine.get(e.name);
    if (!r) continue;
    if (r.section !== e.section) {
      replaced.set(e.name, ` (to be made again: it is a ${r.noun}, the file says ${e.section.noun})`);
      continue;
    }
    const diffs = differences(e.section, r.entry.values, e.values);
    if (!diffs.length) continue;
    const paths = diffs.map((d) => d.path);
    const fwd = e.section.change?.(r.entry, e, paths);
    const back = fwd && e.section.change!(e, r.entry, paths);
    if (fwd && back) changes.push({ op: '~', noun: e.section.noun, name: e.name, text: `~ ${e.section.noun} ${e.name}: ${describe(e.section, diffs)}`, requests: fwd, undo: back });
    else replaced.set(e.name, ` (to be made again: ${describe(e.section, diffs)})`);
  }
  // What is on an object made again is made again too (a lan's ports).
  for (let grew = true; grew; ) {
    grew = false;
    for (const e of t.entries) {
      if (replaced.has(e.name) || !mine.has(e.name)) continue;
      const on = e.section.needs(e).find((n) => replaced.has(n) || [...replaced.keys()].some((r) => want.get(r)?.section.parts?.(want.get(r)!).includes(n)));
      if (on === undefined) continue;
      replaced.set(e.name, ` (to be made again: ${on} is)`);
      grew = true;
    }
  }
  if (errors.length) throw new PlanError(errors);
  const inPlace = changes.filter((c) => !replaced.has(c.name));
  const removals = [...mine.values()]
    .filter((r) => !want.has(r.entry.name) || replaced.has(r.entry.name))
    .sort((x, y) => (y.section?.stage ?? 9) - (x.section?.stage ?? 9) || y.index - x.index)
    .map((r) => delStep(r.section, r.noun, r.entry, replaced.get(r.entry.name) ?? ''));
  const adds = ordered(t.entries, t.file, errors)
    .filter((e) => !mine.has(e.name) || replaced.has(e.name))
    .map((e) => addStep(e, replaced.has(e.name)));
  if (errors.length) throw new PlanError(errors);
  return { lab: t.name, steps: [...removals, ...inPlace, ...adds] };
}

/** The plan that removes every object of lab @lab from the daemon whose
 *  objects are @objects (dependents first). */
export function destroyPlan(lab: string, objects: ShowEntry[]): Plan {
  return computePlan({ file: '', name: lab, entries: [] }, objects);
}
