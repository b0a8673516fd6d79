/**
 * The "mirror" kind: copies of what some ports receive and/or send, sent out
 * of another port of any kind (a host tap for tools that want an interface;
 * later a tunnel port for a remote capture). The copies are made in the
 * dataplane's workers by an observer on each selected port (the hook the
 * capture uses) and queued on the output port with the pass's other frames
 * (native/core/mirror.c). While it is a mirror's output, a port is out of its
 * lan's forwarding: it gets nothing but the copies, and what arrives on it is
 * dropped (counted "output_only" in its stats). Deleting a selected port or
 * the output port removes the mirror (Kind.needs). See docs/mirror.md.
 */
import type { Command } from 'commander';
import { Option } from 'commander';

import { ProtocolError, checkName, onlyFields, type Body } from '../daemon/fields.js';
import { bytes, table } from '../format.js';
import type { KindContext, ModelObject, Section } from './kind.js';
import { kindOf, register } from './registry.js';
import { field, runVerb, savedOwner } from './saved.js';

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

/** add-mirror: refuse what cannot be (a chain of mirrors included: an output
 *  is never selected, so copies are never copied again), then start it. */
function addMirror(ctx: KindContext, req: AddMirrorRequest, client: { pid: number; uid: number }): MirrorObject {
  if (ctx.model.has(req.name)) throw new ProtocolError(`an object named "${req.name}" already exists`);
  const ports = req.select.map((n) => portOf(ctx, n, 'selected port'));
  const out = portOf(ctx, req.to, 'output');
  for (const m of mirrors(ctx)) {
    if (m.to === req.to) throw new ProtocolError(`add-mirror: port "${req.to}" is already the output of mirror "${m.name}"`);
    if (m.select.includes(req.to)) throw new ProtocolError(`add-mirror: port "${req.to}" is selected by mirror "${m.name}": it cannot be an output`);
    const taken = req.select.find((n) => n === m.to);
    if (taken !== undefined) throw new ProtocolError(`add-mirror: port "${taken}" is the output of mirror "${m.name}": it cannot be selected`);
  }
  const id = ctx.call((e) => e.mirrorStart(ports, out, req.dir));
  const m: MirrorObject = { kind: 'mirror', name: req.name, created: new Date(), id, select: req.select, dir: req.dir, to: req.to, owner: client };
  ctx.model.add(m);
  ctx.log.info(`mirror ${m.name}: ${m.select.join(', ')} (dir ${m.dir}) to ${m.to}, which leaves its lan's forwarding meanwhile`);
  return m;
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
    const st = ctx.call((e) => e.mirrorStop(m.id));
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
