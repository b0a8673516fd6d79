/**
 * The lab as `containet graph` draws it, computed from a show reply's entries
 * and a stats reply: lans, the ports on them (grouped by the node that owns
 * them), links between lans with what each direction does, tunnels with their
 * remotes, OVS lans. What an entry is comes from its section's `graph` hook
 * (src/kinds/kind.ts), or, for a section without one, from the fields it has
 * (`lan`, `lans`, `interfaces`). Pure: no daemon, no I/O. See docs/graph.md.
 */
import type { GraphPart } from './part.js';

/** A port's counters, as a stats reply has them (null: its switch gives none). */
export interface PortCounters {
  rxPackets: number | null;
  rxBytes: number | null;
  txPackets: number | null;
  txBytes: number | null;
  /** every drop reason added up */
  drops: number;
}

/** A lan of the lab. */
export interface LabLan {
  name: string;
  /** its Open vSwitch bridge, for an OVS lan */
  ovs?: string | undefined;
}

/** A port of the lab. */
export interface LabPort {
  name: string;
  lan: string;
  /** the group (node) it is drawn under, if any */
  group?: string | undefined;
  /** a tunnel's remotes (empty: not a tunnel) */
  remotes: string[];
  /** short words drawn on it */
  marks: string[];
  /** its counters, when a stats reply was given and lists it */
  counters?: PortCounters | undefined;
}

/** An owner of ports (a node). */
export interface LabGroup {
  name: string;
  label?: string | undefined;
}

/** A link between two lans. */
export interface LabLink {
  name: string;
  a: string;
  b: string;
  /** what it does from a to b, and from b to a ("-": nothing) */
  ab: string;
  ba: string;
}

/** The lab to draw. */
export interface Lab {
  lans: LabLan[];
  ports: LabPort[];
  groups: LabGroup[];
  links: LabLink[];
}

/** How to tell what a show entry is (the registry's sections, or a test's). */
export type PartOf = (entry: Record<string, unknown>) => GraphPart | undefined;

/** A string list from @v, or undefined when it is not a list. */
function strings(v: unknown): string[] | undefined {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : undefined;
}

/**
 * What entry @e is, from the fields it has, for a section that has no graph
 * hook: a port (`lan`), a link (`lans`, two of them), a node (`interfaces`,
 * each with its `port` and its `addrs`), or nothing drawn.
 */
export function derivedPart(e: Record<string, unknown>): GraphPart | undefined {
  if (typeof e.lan === 'string') return { port: { lan: e.lan } };
  const lans = strings(e.lans);
  if (lans && lans.length === 2) return { link: { a: lans[0]!, b: lans[1]!, ab: '-', ba: '-' } };
  if (Array.isArray(e.interfaces)) {
    const ports = (e.interfaces as Record<string, unknown>[]).flatMap((i) => (i && typeof i.port === 'string' ? [{ name: i.port, marks: strings(i.addrs) }] : []));
    const label = [typeof e.state === 'string' ? e.state : '', typeof e.pid === 'number' ? `pid ${e.pid}` : ''].filter(Boolean).join(', ');
    return { group: { ports, label: label || undefined } };
  }
  return undefined;
}

/** The counters of every entry of a stats reply that has port counters, by name. */
export function portCounters(stats: Record<string, unknown>): Map<string, PortCounters> {
  const out = new Map<string, PortCounters>();
  const num = (v: unknown) => (typeof v === 'number' ? v : null);
  for (const list of Object.values(stats)) {
    if (!Array.isArray(list)) continue;
    for (const e of list as Record<string, unknown>[]) {
      if (!e || typeof e.name !== 'string' || !('rxPackets' in e)) continue;
      const d = e.drops;
      const drops = typeof d === 'number' ? d : d && typeof d === 'object' ? Object.values(d).reduce((s: number, n) => s + (typeof n === 'number' ? n : 0), 0) : 0;
      out.set(e.name, { rxPackets: num(e.rxPackets), rxBytes: num(e.rxBytes), txPackets: num(e.txPackets), txBytes: num(e.txBytes), drops });
    }
  }
  return out;
}

/**
 * The lab of show entries @objects (with the counters of stats reply @stats
 * when given), each entry's part said by @partOf. Lans come in show's order,
 * ports by group then name, links by name: the same lab gives the same picture.
 */
export function buildLab(objects: Record<string, unknown>[], stats: Record<string, unknown> | undefined, partOf: PartOf): Lab {
  const lans = new Map<string, LabLan>();
  const ports = new Map<string, LabPort>();
  const groups = new Map<string, LabGroup>();
  const links: LabLink[] = [];
  const claimed = new Map<string, string>();
  const marks: { port: string; mark: string }[] = [];
  for (const e of objects) {
    if (!e || typeof e.name !== 'string') continue;
    const name = e.name;
    const part = partOf(e);
    if (!part) continue;
    if ('lan' in part) lans.set(name, { name, ovs: part.lan.ovs });
    else if ('port' in part) {
      const p = part.port;
      ports.set(name, { name, lan: p.lan, group: p.node, remotes: p.remotes ?? [], marks: [...(p.marks ?? [])] });
    } else if ('link' in part) links.push({ name, ...part.link });
    else if ('group' in part) {
      groups.set(name, { name, label: part.group.label });
      for (const p of part.group.ports) {
        claimed.set(p.name, name);
        marks.push(...(p.marks ?? []).map((mark) => ({ port: p.name, mark })));
      }
    } else marks.push(...part.marks);
  }
  for (const p of ports.values()) {
    p.group = claimed.get(p.name) ?? p.group;
    if (p.group !== undefined && !groups.has(p.group)) groups.set(p.group, { name: p.group });
    if (!lans.has(p.lan)) lans.set(p.lan, { name: p.lan });
  }
  for (const l of links) for (const n of [l.a, l.b]) if (!lans.has(n)) lans.set(n, { name: n });
  for (const m of marks) {
    const p = ports.get(m.port);
    if (p && !p.marks.includes(m.mark)) p.marks.push(m.mark);
  }
  if (stats) {
    const counters = portCounters(stats);
    for (const p of ports.values()) p.counters = counters.get(p.name);
  }
  const cmp = (x: string, y: string) => (x < y ? -1 : x > y ? 1 : 0);
  const byName = (x: { name: string }, y: { name: string }) => cmp(x.name, y.name);
  return {
    lans: [...lans.values()],
    ports: [...ports.values()].sort((x, y) => cmp(x.group ?? '', y.group ?? '') || byName(x, y)),
    groups: [...groups.values()].sort(byName),
    links: links.sort(byName),
  };
}
