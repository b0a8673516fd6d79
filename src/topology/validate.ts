/**
 * Reading a topology file (docs/topology.md): YAML parsed with the positions of
 * its nodes kept, every field checked against the sections' specs (spec.ts),
 * unknown fields refused, each entry's canonical values made by its section,
 * and the request that would make it checked by its kind's own verb. Every
 * mistake is reported as FILE:LINE:COL: WHAT, all of them at once where the
 * rest of the file can still be read.
 */
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Node } from 'yaml';

import { verbNamed } from '../kinds/registry.js';
import { sectionNamed, topologySections, type Entry, type TopologySection, type Values } from './section.js';
import { NAME_SPEC, withDefaults, type FieldSpec, type Fields } from './spec.js';

/** A place in a file, 1-based. */
export interface Pos {
  line: number;
  col: number;
}

/** An entry of a file: canonical, with its section and where it is. */
export interface FileEntry extends Entry {
  section: TopologySection;
  at: Pos;
}

/** A topology file, read and checked. */
export interface Topology {
  /** the file's path, for messages */
  file: string;
  /** the lab's name: every object it makes is marked with it */
  name: string;
  /** every entry, in file order, section by section */
  entries: FileEntry[];
}

/** A file that cannot be used: every mistake found, one per line. */
export class TopologyError extends Error {
  constructor(readonly errors: string[]) {
    super(errors.join('\n'));
  }
}

/** What the checks of one file collect. */
class Checker {
  private readonly found: { at: Pos; msg: string }[] = [];
  constructor(
    readonly file: string,
    private readonly lines: LineCounter,
  ) {}

  /** The position of @node (its start). */
  pos(node: Node | null | undefined): Pos {
    const p = this.lines.linePos(node?.range?.[0] ?? 0);
    return { line: p.line, col: p.col };
  }

  /** Record mistake @msg at @at. */
  error(at: Pos, msg: string): void {
    this.found.push({ at, msg });
  }

  /** Every mistake recorded, in the order of the file. */
  get errors(): string[] {
    return [...this.found].sort((x, y) => x.at.line - y.at.line || x.at.col - y.at.col).map((e) => `${this.file}:${e.at.line}:${e.at.col}: ${e.msg}`);
  }
}

/** "a string", "an integer" ... for messages. */
function typeName(s: FieldSpec): string {
  switch (s.type) {
    case 'string':
      return s.enum ? `one of ${s.enum.join(', ')}` : 'a string';
    case 'integer':
      return s.min !== undefined && s.max !== undefined ? `an integer from ${s.min} to ${s.max}` : 'an integer';
    case 'boolean':
      return 'true or false';
    case 'unit':
      return 'a number or a string with a unit';
    case 'list':
      return 'a list';
    case 'object':
    case 'map':
      return 'a mapping';
  }
}

/** The value of @node checked against @spec (@what names it in messages);
 *  undefined after recording what is wrong. */
function checkValue(c: Checker, node: Node | null, spec: FieldSpec, what: string): unknown {
  const at = c.pos(node);
  /** Record that the value is not what @spec takes (@why). */
  const bad = (why = `must be ${typeName(spec)}`) => {
    c.error(at, `${what} ${why}`);
    return undefined;
  };
  let v: unknown;
  switch (spec.type) {
    case 'list': {
      if (!isSeq(node)) return bad();
      if (spec.minItems !== undefined && node.items.length < spec.minItems) return bad(`must have at least ${spec.minItems} item${spec.minItems > 1 ? 's' : ''}`);
      const out = node.items.map((it, i) => checkValue(c, it as Node, spec.items, `${what}[${i}]`));
      return out.includes(undefined) ? undefined : out;
    }
    case 'object':
      return isMap(node) ? checkFields(c, node, spec.fields, what) : bad();
    case 'map': {
      if (!isMap(node)) return bad();
      const out: Values = {};
      let ok = true;
      for (const p of node.items) {
        const k = isScalar(p.key) ? String(p.key.value) : undefined;
        if (k === undefined) {
          c.error(c.pos(p.key as Node), `${what}: a key must be a plain word`);
          ok = false;
          continue;
        }
        const val = checkValue(c, p.value as Node, spec.values, `${what}.${k}`);
        if (val === undefined) ok = false;
        else out[k] = val;
      }
      return ok ? out : undefined;
    }
    default:
      if (!isScalar(node)) return bad();
      v = node.value;
  }
  switch (spec.type) {
    case 'string':
      if (typeof v !== 'string') return bad();
      if (spec.enum && !spec.enum.includes(v)) return bad();
      if (spec.pattern && !spec.pattern.test(v)) return bad(`"${v}" is not valid: ${spec.doc}`);
      break;
    case 'integer':
      if (typeof v !== 'number' || !Number.isInteger(v) || (spec.min !== undefined && v < spec.min) || (spec.max !== undefined && v > spec.max)) return bad();
      break;
    case 'boolean':
      if (typeof v !== 'boolean') return bad();
      break;
    case 'unit':
      if (typeof v !== 'number' && typeof v !== 'string') return bad();
      break;
  }
  if (spec.check) {
    try {
      spec.check(v);
    } catch (e) {
      return bad(`${JSON.stringify(v)}: ${(e as Error).message}`);
    }
  }
  return v;
}

/** The fields of mapping @node checked against @fields (unknown ones refused,
 *  required ones missing reported); undefined when any is wrong. */
function checkFields(c: Checker, node: Node, fields: Fields, what: string): Values | undefined {
  if (!isMap(node)) {
    c.error(c.pos(node), `${what} must be a mapping`);
    return undefined;
  }
  const out: Values = {};
  let ok = true;
  for (const p of node.items) {
    const k = isScalar(p.key) ? String(p.key.value) : '';
    const spec = fields[k];
    if (!spec) {
      c.error(c.pos(p.key as Node), `${what}: unknown field "${k}" (known: ${Object.keys(fields).join(', ')})`);
      ok = false;
      continue;
    }
    const v = checkValue(c, p.value as Node, spec, `${what}.${k}`);
    if (v === undefined) ok = false;
    else out[k] = v;
  }
  for (const [k, spec] of Object.entries(fields))
    if (spec.required && !node.items.some((p) => isScalar(p.key) && p.key.value === k)) {
      c.error(c.pos(node), `${what}: "${k}" is missing (${spec.doc})`);
      ok = false;
    }
  return ok ? out : undefined;
}

/** The top-level fields a file takes: name, and a list per section. */
export function fileFields(): Fields {
  const f: Record<string, FieldSpec> = { name: { ...NAME_SPEC, doc: "the lab's name: every object the file makes is marked as this lab's" } };
  for (const s of topologySections()) f[s.key] = { type: 'list', doc: s.doc, items: { type: 'object', doc: s.doc, fields: entryFields(s) } };
  return f;
}

/** The fields of an entry of section @s: "name" and its own. */
export function entryFields(s: TopologySection): Fields {
  return { name: NAME_SPEC, ...s.fields };
}

/**
 * Read topology file @file whose text is @text. Throws TopologyError with
 * every mistake found.
 */
export function parseTopology(text: string, file: string): Topology {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const c = new Checker(file, lines);
  for (const e of doc.errors) {
    const p = e.linePos?.[0] ?? { line: 1, col: 1 };
    c.error(p, `YAML: ${e.message.split('\n')[0]}`);
  }
  if (c.errors.length) throw new TopologyError(c.errors);
  const top = doc.contents as Node | null;
  if (!isMap(top)) throw new TopologyError([`${file}:1:1: a topology file is a mapping with "name" and sections (${topologySections().map((s) => s.key).join(', ')})`]);
  // The top level: its name, and each section a list (its entries are checked below).
  const known = Object.keys(fileFields());
  let name: string | undefined;
  for (const p of top.items) {
    const key = isScalar(p.key) ? String(p.key.value) : '';
    if (key === 'name') name = checkValue(c, p.value as Node, fileFields().name!, '"name"') as string | undefined;
    else if (!known.includes(key)) c.error(c.pos(p.key as Node), `unknown section "${key}" (known: ${known.join(', ')})`);
    else if (!isSeq(p.value)) c.error(c.pos(p.value as Node), `"${key}" must be a list of ${sectionNamed(key)!.noun}s`);
  }
  if (!top.has('name')) c.error(c.pos(top), `"name" is missing (${fileFields().name!.doc})`);
  const entries: FileEntry[] = [];
  const seen = new Map<string, Pos>();
  for (const p of top.items) {
    const key = isScalar(p.key) ? String(p.key.value) : '';
    const s = sectionNamed(key);
    if (!s || !isSeq(p.value)) continue;
    p.value.items.forEach((item, i) => {
      const at = c.pos(item as Node);
      const given = isMap(item) ? item.get('name') : undefined;
      if (typeof given === 'string') {
        const first = seen.get(given);
        if (first) return c.error(at, `${key}[${i}]: the name "${given}" is taken already (line ${first.line})`);
        seen.set(given, at);
      }
      const v = checkFields(c, item as Node, entryFields(s), `${key}[${i}]`);
      if (!v) return;
      const name = v.name as string;
      const { name: _n, ...rest } = v;
      let values: Values;
      try {
        values = s.canonical(withDefaults(s.fields, rest));
      } catch (e) {
        return c.error(at, `${s.noun} ${name}: ${(e as Error).message}`);
      }
      const entry: FileEntry = { name, values, section: s, at };
      // What the daemon would say of the requests that make it, said now.
      for (const req of s.add(entry)) {
        const [verb, body] = Object.entries(req)[0]!;
        const known = verbNamed(verb);
        if (!known) continue; // the daemon's own set, or a kind not built in (add-node)
        try {
          known.parse(body);
        } catch (e) {
          c.error(at, `${s.noun} ${name}: ${(e as Error).message}`);
          return;
        }
      }
      entries.push(entry);
    });
  }
  if (c.errors.length || name === undefined) throw new TopologyError(c.errors);
  return { file, name, entries };
}
