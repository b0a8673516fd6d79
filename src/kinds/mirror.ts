/**
 * The "mirror" kind: copies of what some ports receive and/or send, sent out
 * of another port of any kind (a host tap for tools that want an interface;
 * later a tunnel port for a remote capture). The copies are made in the
 * dataplane's workers by an observer on each selected port (the hook the
 * capture uses) and queued on the output port with the pass's other frames
 * (native/core/mirror.c). While it is a mirror's output, a port is out of its
 * lan's forwarding: it gets nothing but the copies, and what arrives on it is
 * dropped (counted "output_only" in its stats). Ports Open vSwitch runs are
 * mirrored by OVS: to another of its ports as an OVS mirror, to one of
 * containet's through sinks (ovssink.ts). Deleting a selected port or
 * the output port removes the mirror (Kind.needs). See docs/mirror.md.
 */
import type { Command } from 'commander';
import { Option } from 'commander';

import { ProtocolError, checkName, onlyFields, type Body } from '../daemon/fields.js';
import { bytes, table } from '../format.js';
import type { KindContext, ModelObject, Section } from './kind.js';
import type { PortObject } from './port.js';
import { closeSinks, openSink, ovsPortsOf, type OvsSink } from './ovssink.js';
import { kindOf, register } from './registry.js';
import { field, runVerb, savedOwner } from './saved.js';
import { registerSection } from '../topology/section.js';

/** Directions a mirror copies. */
export type MirrorDir = 'in' | 'out' | 'both';

/** A mirror. */
export interface MirrorObject extends ModelObject {
  kind: 'mirror';
  /** the engine's mirror id */
  id: number;
  /** the ports whose frames are copied */
  select: string[];
  /** what of theirs: received (in), sent (out), or both */
  dir: MirrorDir;
  /** the port the copies are sent out of */
  to: string;
  /** who asked for it */
  owner: { pid: number; uid: number };
  /** a mirror of ports Open vSwitch runs to another: OVS's Mirror record (id -1) */
  ovs?: { bridge: string; mirror: string };
  /** the sinks of the ports Open vSwitch runs it selects, when its output is
   *  one of containet's */
  sinks?: OvsSink[];
}

/** add-mirror, validated. */
export interface AddMirrorRequest {
  verb: 'add-mirror';
  name: string;
  select: string[];
  dir: MirrorDir;
  to: string;
}

declare module './kind.js' {
  interface KindRequests {
    'add-mirror': AddMirrorRequest;
  }
}

/** Validate an add-mirror request. */
export function parseAddMirror(b: Body): AddMirrorRequest {
  onlyFields(b, 'add-mirror', ['name', 'select', 'dir', 'to']);
  const name = checkName(b.name, 'add-mirror: "name"');
  if (!Array.isArray(b.select) || b.select.length === 0) throw new ProtocolError('add-mirror: "select" must be a non-empty list of port names');
  const select = b.select.map((n, i) => checkName(n, `add-mirror: "select"[${i}]`));
  const twice = select.find((n, i) => select.indexOf(n) !== i);
  if (twice !== undefined) throw new ProtocolError(`add-mirror: "select" names "${twice}" twice`);
  const dir = b.dir ?? 'both';
  if (dir !== 'in' && dir !== 'out' && dir !== 'both') throw new ProtocolError('add-mirror: "dir" must be "in", "out" or "both"');
  const to = checkName(b.to, 'add-mirror: "to"');
  if (select.includes(to)) throw new ProtocolError(`add-mirror: port "${to}" cannot be both selected and the output`);
  return { verb: 'add-mirror', name, select, dir, to };
}

/** The engine port of the object named @name, which must be a port (one engine
 *  port: not a lan, an a2b, a capture or a mirror); @role says which field
 *  named it. */
function portOf(ctx: KindContext, name: string, role: string): number {
  const o = ctx.model.get(name);
  if (!o) throw new ProtocolError(`add-mirror: ${role} "${name}": no port of that name`);
  const k = kindOf(o);
  const ports = k.ports(o);
  if (ports.length !== 1) throw new ProtocolError(`add-mirror: ${role} "${name}" is ${k.noun === 'a2b' ? 'an' : 'a'} ${k.noun}, not a port`);
  return ports[0]!;
}

/** Every mirror of the model. */
function mirrors(ctx: KindContext): MirrorObject[] {
  return ctx.model.all().filter((o): o is MirrorObject => o.kind === 'mirror');
}

/** The OVS port of the object named @name, when it is a port OVS runs. */
function ovsPortOf(ctx: KindContext, name: string): PortObject['ovs'] {
  return (ctx.model.get(name) as PortObject | undefined)?.ovs;
}

/**
 * A mirror of ports OVS runs (on an OVS lan's bridge), to another of them: an
 * OVS Mirror (select-src-port: what the ports received from their peers,
 * select-dst-port: what they sent them; output-port: OVS then gives that port
 * nothing else), made and added to the bridge in one transaction.
 */
function addOvsMirror(ctx: KindContext, req: AddMirrorRequest, client: { pid: number; uid: number }): MirrorObject {
  const sel = req.select.map((n) => ({ n, p: ovsPortOf(ctx, n) }));
  const out = ovsPortOf(ctx, req.to);
  const bridge = out?.bridge ?? sel.find((x) => x.p)!.p!.bridge;
  const foreign = [...sel, { n: req.to, p: out }].find((x) => !x.p || x.p.bridge !== bridge);
  if (foreign)
    throw new ProtocolError(`add-mirror: "${foreign.n}" is not a port of the same OVS lan: a mirror whose output is a port Open vSwitch runs copies ports of that lan only (a mirror to one of containet's ports may select any port)`);
  const ovs = ctx.ovs();
  const mirror = `m_${req.name}`;
  const ids = sel.map((_, i) => `@p${i}`);
  const cmds: string[][] = sel.map((x, i) => [`--id=${ids[i]}`, 'get', 'Port', x.p!.port]);
  cmds.push(['--id=@o', 'get', 'Port', out!.port]);
  const create = ['--id=@m', 'create', 'Mirror', `name=${mirror}`, 'output-port=@o', `external_ids:containet-owner=${ovs.owner}`];
  if (req.dir !== 'out') create.push(`select-src-port=${ids.join(',')}`);
  if (req.dir !== 'in') create.push(`select-dst-port=${ids.join(',')}`);
  cmds.push(create, ['add', 'Bridge', bridge, 'mirrors', '@m']);
  try {
    ovs.checkUsable();
    ovs.transact(cmds);
    ovs.purgeFlows();
  } catch (e) {
    throw new ProtocolError(`add-mirror: Open vSwitch: ${(e as Error).message}`);
  }
  const m: MirrorObject = { kind: 'mirror', name: req.name, created: new Date(), id: -1, select: req.select, dir: req.dir, to: req.to, owner: client, ovs: { bridge, mirror } };
  ctx.model.add(m);
  ctx.log.info(`mirror ${m.name}: ${m.select.join(', ')} (dir ${m.dir}) to ${m.to}, as Open vSwitch mirror ${mirror} on ${bridge}`);
  return m;
}

/** add-mirror: refuse what cannot be (a chain of mirrors included: an output
 *  is never selected, so copies are never copied again), then start it. */
function addMirror(ctx: KindContext, req: AddMirrorRequest, client: { pid: number; uid: number }): MirrorObject {
  if (ctx.model.has(req.name)) throw new ProtocolError(`an object named "${req.name}" already exists`);
  for (const m of mirrors(ctx)) {
    if (m.to === req.to) throw new ProtocolError(`add-mirror: port "${req.to}" is already the output of mirror "${m.name}"`);
    if (m.select.includes(req.to)) throw new ProtocolError(`add-mirror: port "${req.to}" is selected by mirror "${m.name}": it cannot be an output`);
    const taken = req.select.find((n) => n === m.to);
    if (taken !== undefined) throw new ProtocolError(`add-mirror: port "${taken}" is the output of mirror "${m.name}": it cannot be selected`);
  }
  if (ovsPortOf(ctx, req.to)) return addOvsMirror(ctx, req, client);
  const inOvs = req.select.filter((n) => ovsPortOf(ctx, n));
  const ports = req.select.filter((n) => !inOvs.includes(n)).map((n) => portOf(ctx, n, 'selected port'));
  const out = portOf(ctx, req.to, 'output');
  const sinks = ovsSinks(ctx, req.name, inOvs, req.dir);
  let id: number;
  try {
    id = ctx.call((e) => e.mirrorStart(ports, out, req.dir, sinks.map((s) => s.id)));
  } catch (e) {
    closeSinks(ctx, sinks);
    throw e;
  }
  const m: MirrorObject = { kind: 'mirror', name: req.name, created: new Date(), id, select: req.select, dir: req.dir, to: req.to, owner: client };
  if (sinks.length) m.sinks = sinks;
  ctx.model.add(m);
  ctx.log.info(`mirror ${m.name}: ${m.select.join(', ')} (dir ${m.dir}) to ${m.to}, which leaves its lan's forwarding meanwhile${sinks.length ? ` (${inOvs.join(', ')} through Open vSwitch mirrors to ${sinks.map((s) => s.port).join(', ')})` : ''}`);
  return m;
}

/** The sinks that bring mirror @name the frames of the ports Open vSwitch
 *  runs among its selection (@names), per OVS lan and direction. */
function ovsSinks(ctx: KindContext, name: string, names: string[], dir: MirrorDir): OvsSink[] {
  const sinks: OvsSink[] = [];
  const byBridge = new Map<string, string[]>();
  for (const n of names) {
    const b = ovsPortOf(ctx, n)!.bridge;
    byBridge.set(b, [...(byBridge.get(b) ?? []), n]);
  }
  try {
    for (const group of byBridge.values()) {
      const { bridge, ports } = ovsPortsOf(ctx, group, 'add-mirror');
      for (const as of ['in', 'out'] as const) if (dir === 'both' || dir === as) sinks.push(openSink(ctx, 'add-mirror', name, sinks.length, bridge, ports, as));
    }
  } catch (e) {
    closeSinks(ctx, sinks);
    throw e;
  }
  return sinks;
}

/** The mirrors' section of show and stats. */
const MIRRORS: Section = {
  key: 'mirrors',
  showKind: 'mirror',
  showTable: (ms) =>
    table(
      ['MIRROR', 'SELECT', 'DIR', 'TO'],
      ms.map((m) => [String(m.name), (m.select as string[]).join(','), String(m.dir), String(m.to)]),
    ),
  statsTable: (ms) =>
    table(
      ['MIRROR', 'FRAMES', 'BYTES', 'DROPS'],
      ms.map((m) => [String(m.name), Number(m.frames), bytes(Number(m.bytes)), Number(m.drops)]),
    ),
  graph: (m) => ({
    marks: [...(m.select as string[]).map((port) => ({ port, mark: `mirrored to ${String(m.to)}` })), { port: String(m.to), mark: `mirror ${String(m.name)} out` }],
  }),
};

register<MirrorObject>({
  name: 'mirror',
  noun: 'mirror',
  section: MIRRORS,
  verbs: [
    {
      name: 'add-mirror',
      fds: 0,
      parse: parseAddMirror,
      run(ctx, req: AddMirrorRequest, call) {
        addMirror(ctx, req, call.client);
        return {};
      },
    },
  ],
  lans: () => [],
  ports: () => [],
  needs: (m) => [...m.select.map((name) => ({ name, as: 'selected port' })), { name: m.to, as: 'output port' }],
  remove(ctx, m) {
    if (m.ovs) {
      try {
        ctx.ovs().transact([['--id=@m', 'get', 'Mirror', m.ovs.mirror], ['remove', 'Bridge', m.ovs.bridge, 'mirrors', '@m']]);
      } catch (e) {
        ctx.log.warn(`mirror ${m.name}: removing Open vSwitch mirror ${m.ovs.mirror}: ${(e as Error).message}`);
      }
      return;
    }
    const st = ctx.call((e) => e.mirrorStop(m.id));
    if (m.sinks) closeSinks(ctx, m.sinks);
    ctx.log.info(`mirror ${m.name}: ${st.frames} frames (${st.bytes} bytes) mirrored, ${st.drops} dropped; ${m.to} is back on its lan`);
  },
  show: (_ctx, m) => ({
    name: m.name,
    kind: 'mirror',
    select: m.select,
    dir: m.dir,
    to: m.to,
    owner: m.owner,
    created: m.created.toISOString(),
  }),
  stats(ctx, m) {
    if (m.ovs) {
      // OVS's counters (written every 5 s): what it sent out of the output.
      let st: Record<string, number> = {};
      try {
        st = (ctx.ovs().vsctl.list('Mirror', ['name', 'statistics']).find((r) => r.name === m.ovs!.mirror)?.statistics ?? {}) as Record<string, number>;
      } catch {
        /* OVS is gone: no figures */
      }
      return { name: m.name, frames: st.tx_packets ?? 0, bytes: st.tx_bytes ?? 0, drops: 0 };
    }
    const st = ctx.call((e) => e.mirrorStats(m.id));
    return { name: m.name, frames: st.frames, bytes: st.bytes, drops: st.drops };
  },
  save: (m) => ({ select: m.select, dir: m.dir, to: m.to, owner: m.owner }),
  restore(ctx, name, rec) {
    const select = rec.select;
    if (!Array.isArray(select)) throw new Error('its record\'s "select" is not a list');
    const body: Body = { name, select, dir: field(rec, 'dir', 'string', false) ?? 'both', to: field(rec, 'to', 'string', true) };
    runVerb(ctx, 'add-mirror', body, savedOwner(rec));
  },
  cli: {
    add: {
      description: 'add a mirror: copies of what ports receive and/or send, sent out of another port (a host tap for tcpdump)',
      verb: 'add-mirror',
      configure(cmd: Command) {
        cmd
          .requiredOption('--select <ports>', 'the ports whose frames are copied, comma-separated')
          .addOption(new Option('--dir <dir>', 'frames they received (in), sent (out), or both').choices(['in', 'out', 'both']).default('both'))
          .requiredOption('--to <port>', 'the port the copies are sent out of (it leaves its lan meanwhile)');
      },
      body(name, opts) {
        return { name, select: String(opts.select).split(',').filter((s) => s !== ''), dir: opts.dir, to: opts.to };
      },
    },
  },
});

registerSection({
  key: 'mirrors',
  noun: 'mirror',
  kinds: ['mirror'],
  stage: 3,
  doc: 'copies of what ports receive and/or send, out of another port (docs/mirror.md); made last, removed first',
  fields: {
    select: { type: 'list', minItems: 1, items: { type: 'string', doc: 'a port' }, required: true, doc: 'the ports whose frames are copied (a node interface is NODE.IFNAME)' },
    to: { type: 'string', required: true, doc: 'the port the copies go out of (it then carries nothing else)' },
    dir: { type: 'string', enum: ['in', 'out', 'both'], default: 'both', doc: 'what of the selected ports is copied: received (in), sent (out) or both' },
  },
  canonical: (v) => v,
  fromShow: (s) => ({ name: String(s.name), values: { select: s.select, to: s.to, dir: s.dir } }),
  add: (e) => [{ 'add-mirror': { name: e.name, select: e.values.select, to: e.values.to, dir: e.values.dir } }],
  needs: (e) => [...(e.values.select as string[]), e.values.to as string],
  toFile: (e) => e.values,
});
