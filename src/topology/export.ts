/**
 * `containet export`: a running lab as a topology file. The lab's objects
 * (from a show reply) are written section by section in their creation order,
 * each field as a file writes it (units for people), fields at their default
 * left out; what `apply` of the result makes is the same lab.
 */
import { stringify } from 'yaml';

import { labObjects } from './plan.js';
import { topologySections, type ShowEntry, type Values } from './section.js';

/** A lab that cannot be exported: the reason. */
export class ExportError extends Error {}

/** The lab to export: @lab, or the only lab the daemon has. */
export function chooseLab(objects: ShowEntry[], lab: string | undefined): string {
  const labs = [...new Set(objects.map((o) => o.lab).filter((l): l is string => typeof l === 'string'))];
  if (lab !== undefined) {
    if (!labs.includes(lab)) throw new ExportError(`no lab named ${lab} runs in this daemon (labs: ${labs.join(', ') || 'none'})`);
    return lab;
  }
  if (labs.length === 1) return labs[0]!;
  if (!labs.length) throw new ExportError('no lab runs in this daemon (objects made by `containet apply` belong to the lab the file names)');
  throw new ExportError(`several labs run in this daemon (${labs.join(', ')}): name one with --lab`);
}

/** @v without undefined values, and without those at their spec's default. */
function trimmed(v: Values, defaults: Record<string, unknown>): Values {
  return Object.fromEntries(
    Object.entries(v).filter(([k, x]) => x !== undefined && (defaults[k] === undefined || JSON.stringify(defaults[k]) !== JSON.stringify(x))),
  );
}

/** Lab @lab of the daemon whose objects are @objects, as a topology file's
 *  text; @skipped gets a line for each of its objects no section writes. */
export function exportLab(objects: ShowEntry[], lab: string, skipped: (line: string) => void = () => {}): string {
  const mine = labObjects(lab, objects);
  const doc: Record<string, unknown> = { name: lab };
  for (const s of topologySections()) {
    const defaults = Object.fromEntries(Object.entries(s.fields).map(([k, f]) => [k, f.default]));
    const entries = [...mine.values()].filter((r) => r.section === s).map((r) => ({ name: r.entry.name, ...trimmed(s.toFile(r.entry), defaults) }));
    if (entries.length) doc[s.key] = entries;
  }
  for (const r of mine.values()) if (!r.section) skipped(`not exported: ${r.noun} ${r.entry.name} (no topology section takes its kind)`);
  return stringify(doc);
}
