/**
 * The sections of a topology file (docs/topology.md) and their registry. Each
 * kind's module declares the section its objects are written in (`lans:` for
 * the lan kind, `links:` for the a2b ...) with registerSection(), as it
 * registers its Kind: the fields of an entry, the requests that make one, the
 * entry a `show` entry stands for, and what can change in place. The parser,
 * the plan, apply, destroy and export go through this table and never name a
 * kind.
 */
import type { Fields } from './spec.js';

/** A request to the daemon: one verb and its body ({"add-lan": {...}}). */
export type Request = Record<string, Record<string, unknown>>;

/** An entry's values in canonical form (units resolved, defaults filled):
 *  what a file's entry and a running object are compared in. */
export type Values = Record<string, unknown>;

/** One object in canonical form: its name and values. */
export interface Entry {
  name: string;
  values: Values;
}

/** A show entry of the daemon (docs/protocol.md), with its objectKind and lab. */
export type ShowEntry = Record<string, unknown>;

/** A section of a topology file: the objects of one or more kinds. */
export interface TopologySection {
  /** its key in the file: "lans" */
  key: string;
  /** what one entry is called in the plan: "lan", "link" */
  noun: string;
  /** the kinds of object (a show entry's objectKind) its entries are */
  kinds: readonly string[];
  /** dependency order: sections of a lower stage are made first and removed
   *  last (lans 0; ports, links and tunnels 1; nodes 2; mirrors 3) */
  stage: number;
  /** one line for the docs and the schema */
  doc: string;
  /** its entries' fields other than "name" */
  fields: Fields;
  /** The canonical values of a file's entry (validated against fields, with
   *  their defaults): units resolved as the daemon keeps them. Throws an Error
   *  saying what is wrong. */
  canonical(v: Values): Values;
  /** The entry a show entry of one of its kinds stands for (canonical). */
  fromShow(s: ShowEntry): Entry;
  /** The requests that make @e (an add, then any sets). */
  add(e: Entry): Request[];
  /** The requests that change @cur into @want in place, when every field
   *  that differs (@changed, paths such as "a2b.delay") can be; undefined:
   *  it must be removed and made again. */
  change?(cur: Entry, want: Entry, changed: string[]): Request[] | undefined;
  /** The names of the objects @e needs made before it (its lans, the nodes
   *  it waits for, the ports a mirror selects). */
  needs(e: Entry): string[];
  /** The names of show entries that are parts of @e, not objects of their
   *  own (a node's interfaces). */
  parts?(e: Entry): string[];
  /** Whether running value @cur at @path is what @want asks for, where that
   *  is not equality (a MAC table the engine rounds up). */
  same?(path: string, cur: unknown, want: unknown): boolean;
  /** A value at path @path for people ("20ms"), in the plan. */
  format?(path: string, v: unknown): string;
  /** The values of @e as a file writes them (units for people; undefined:
   *  left out), for export. */
  toFile(e: Entry): Values;
}

const registered: TopologySection[] = [];

/** Add section @s (its key and kinds must be new). */
export function registerSection(s: TopologySection): void {
  if (registered.some((r) => r.key === s.key)) throw new Error(`topology section ${s.key} registered twice`);
  const k = s.kinds.find((k) => sectionOfKind(k));
  if (k !== undefined) throw new Error(`kind ${k} is in two topology sections`);
  registered.push(s);
}

/** Every section, in the order of registration. */
export function topologySections(): readonly TopologySection[] {
  return registered;
}

/** The section of kind @kind (an objectKind), if any. */
export function sectionOfKind(kind: string): TopologySection | undefined {
  return registered.find((s) => s.kinds.includes(kind));
}

/** The section of file key @key, if any. */
export function sectionNamed(key: string): TopologySection | undefined {
  return registered.find((s) => s.key === key);
}
