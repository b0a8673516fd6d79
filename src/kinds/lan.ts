/**
 * The "lan" kind: a learning switch (the engine's lan: a MAC table, flooding,
 * aging). Every port kind joins one; deleting a lan takes what is on it along
 * only with --force. See docs/lan.md.
 */
import { Option, type Command } from 'commander';

import path from 'node:path';

import { positiveInt } from '../cli/args.js';
import { ProtocolError, bool, checkName, onlyFields, posInt, type Body } from '../daemon/fields.js';
import { table } from '../format.js';
import { OVS_LAN_NAME_RE, bridgeName, joinDeviceName, joinPortName } from '../ovs/names.js';
import { splitStatistics } from './ovsport.js';
import type { KindContext, ModelObject, Section } from './kind.js';
import { kindOf, register } from './registry.js';
import { field, runVerb, savedOwner } from './saved.js';
import { registerSection } from '../topology/section.js';

/** A learning switch. */
export interface LanObject extends ModelObject {
  kind: 'lan';
  /** native lan id */
  id: number;
  /** MAC aging time in seconds */
  aging: number;
  /** MAC table entries it can hold (as asked; the engine rounds up) */
  macTableSize: number;
  /** an OVS lan: also an Open vSwitch bridge, joined to it (docs/ovs.md) */
  ovs?: OvsLan;
}

/** What an OVS lan has in Open vSwitch, and its join. */
export interface OvsLan {
  /** its bridge: _b_<lan> */
  bridge: string;
  /** the join's OVS port (a DPDK virtio_user device): _j_<lan> */
  joinPort: string;
  /** the join's containet end: an engine vhost-user port on the lan, listening */
  joinId: number;
  /** its socket */
  joinSocket: string;
}

/** add-lan, validated. */
export interface AddLanRequest {
  verb: 'add-lan';
  name: string;
  aging?: number;
  macTableSize?: number;
  /** also an OVS bridge */
  ovs?: boolean;
}

declare module './kind.js' {
  interface KindRequests {
    'add-lan': AddLanRequest;
  }
  interface SetParts {
    /** a lan's new MAC aging time, seconds */
    aging?: number;
  }
}

/** Most seconds of MAC aging. */
const MAX_AGING = 1_000_000;

/** The lan named @name, or a ProtocolError saying what it is instead. */
export function lanNamed(ctx: KindContext, name: string): LanObject {
  const o = ctx.model.get(name);
  if (!o) throw new ProtocolError(`no lan named "${name}" (add it with: containet add lan ${name})`);
  if (o.kind !== 'lan') throw new ProtocolError(`"${name}" is a ${kindOf(o).noun}, not a lan`);
  return o as LanObject;
}

/** Make lan @name (the daemon's defaults where @aging or @macTableSize are
 *  not given); with @ovs, an OVS lan. */
export function addLan(ctx: KindContext, name: string, aging = ctx.defaults.aging, macTableSize = ctx.defaults.macTableSize, ovs = false): LanObject {
  checkName(name, 'lan name');
  if (ctx.model.has(name)) throw new ProtocolError(`an object named "${name}" already exists`);
  if (ovs) return addOvsLan(ctx, name, aging, macTableSize);
  const id = ctx.call((e) => e.addLan({ macTableSize, agingMs: aging * 1000 }));
  const lan: LanObject = { kind: 'lan', name, id, aging, macTableSize, created: new Date() };
  ctx.model.add(lan);
  ctx.log.info(`lan ${name} added (aging ${aging}s, ${macTableSize} MAC entries)`);
  return lan;
}

/**
 * Make OVS lan @name: containet's lan, Open vSwitch's bridge _b_<name>
 * (netdev datapath) and the join between them: a vhost-user port of
 * containet's on the lan, listening, and on the bridge a DPDK virtio_user
 * device connected to it (port _j_<name>). The bridge and its join port are
 * one ovs-vsctl transaction; what was made is undone when any of it fails.
 */
function addOvsLan(ctx: KindContext, name: string, aging: number, macTableSize: number): LanObject {
  const ovs = ctx.ovs();
  if (!OVS_LAN_NAME_RE.test(name))
    throw new ProtocolError(`add-lan: an OVS lan's name is 1-12 letters, digits and _.- (its bridge ${bridgeName(name)} is also a network device, of at most 15 bytes)`);
  const bridge = bridgeName(name);
  const joinPort = joinPortName(name);
  const joinSocket = path.join(ovs.sockDir, `${joinPort}.sock`);
  try {
    ovs.checkUsable();
    if (ovs.hasBridge(bridge)) throw new Error(`a bridge named ${bridge} already exists (not made by this containet for a lan of its own)`);
  } catch (e) {
    throw new ProtocolError(`add-lan ${name}: Open vSwitch: ${(e as Error).message}`);
  }
  const id = ctx.call((e) => e.addLan({ macTableSize, agingMs: aging * 1000 }));
  let joinId: number | undefined;
  const undo = () => {
    if (joinId !== undefined) ctx.engine().delPort(joinId);
    ctx.engine().delLan(id);
  };
  try {
    joinId = ctx.call((e) => e.addPort('vhost', [id], { path: joinSocket, client: false }))[0]!.id;
    const mark = `external_ids:containet-owner=${ovs.owner}`;
    ovs.transact([
      ['add-br', bridge],
      ['set', 'Bridge', bridge, 'datapath_type=netdev', mark, `external_ids:containet-lan=${name}`],
      ['add-port', bridge, joinPort],
      ['set', 'Port', joinPort, mark],
      ['set', 'Interface', joinPort, 'type=dpdk', `options:dpdk-devargs=${joinDeviceName(name)},path=${joinSocket}`, mark],
    ]);
    ovs.trackBridge(bridge, name);
    const err = ovs.ifaceError(joinPort);
    if (err) {
      ovs.transact([['--if-exists', 'del-br', bridge]]);
      ovs.untrackBridge(bridge);
      throw new Error(`the join ${joinPort}: ${err}`);
    }
  } catch (e) {
    undo();
    throw new ProtocolError(`add-lan ${name}: Open vSwitch: ${(e as Error).message}`);
  }
  const lan: LanObject = { kind: 'lan', name, id, aging, macTableSize, created: new Date(), ovs: { bridge, joinPort, joinId, joinSocket } };
  ctx.model.add(lan);
  ctx.log.info(`lan ${name} added (aging ${aging}s, ${macTableSize} MAC entries), with Open vSwitch bridge ${bridge} joined to it (${joinPort}: DPDK virtio_user on ${joinSocket})`);
  return lan;
}

/** Remove lan @lan from the engine and, for an OVS lan, its bridge and join. */
function removeLan(ctx: KindContext, lan: LanObject): void {
  if (lan.ovs) {
    const ovs = ctx.ovs();
    try {
      ovs.transact([['--if-exists', 'del-br', lan.ovs.bridge]]);
    } catch (e) {
      ctx.log.warn(`lan ${lan.name}: removing its OVS bridge ${lan.ovs.bridge}: ${(e as Error).message}`);
    }
    ovs.untrackBridge(lan.ovs.bridge);
    try {
      ctx.engine().delPort(lan.ovs.joinId);
    } catch {
      /* it broke and went already */
    }
  }
  ctx.call((e) => e.delLan(lan.id));
}

/** What show and stats say of an OVS lan's side in OVS. */
function ovsState(ctx: KindContext, lan: LanObject): Record<string, unknown> {
  if (!lan.ovs) return {};
  const ovs = ctx.ovs();
  let join = 'gone';
  try {
    const st = ctx.engine().portStats(lan.ovs.joinId);
    join = st.broken ? `broken: ${st.reason}` : st.state;
  } catch {
    /* the join port broke and went */
  }
  const state = ovs.broken !== undefined ? `broken: ${ovs.broken}` : join === 'connected' ? 'joined' : `join ${join}`;
  return { ovs: { bridge: lan.ovs.bridge, join: lan.ovs.joinPort, state } };
}

/** The counters of an OVS lan's join as OVS has them (its rx: frames from
 *  containet's lan into the bridge). */
function joinCounters(ctx: KindContext, lan: LanObject): Record<string, unknown> {
  if (!lan.ovs) return {};
  const st = splitStatistics(ctx.ovs().iface(lan.ovs.joinPort)?.statistics as Record<string, number> | undefined);
  return { join: { rxPackets: st.rxPackets, rxBytes: st.rxBytes, txPackets: st.txPackets, txBytes: st.txBytes, drops: st.drops } };
}

/** The lans' section of show and stats. */
const LANS: Section = {
  key: 'lans',
  showKind: 'lan',
  showTable: (lans) =>
    table(
      ['LAN', 'PORTS', 'MACS', 'AGING', 'MAC TABLE', 'OVS'],
      lans.map((l) => {
        const o = l.ovs as { bridge: string; state: string } | undefined;
        return [String(l.name), Number(l.ports), Number(l.macs), `${l.aging}s`, Number(l.macTableSize), o ? `${o.bridge} (${o.state})` : '-'];
      }),
    ),
  statsTable: (lans) =>
    table(
      ['LAN', 'PORTS', 'MACS', 'LEARNED', 'MOVED', 'EVICTED', 'EXPIRED', 'FLOODED', 'UNKNOWN', 'FILTERED'],
      lans.map((l) => [String(l.name), Number(l.ports), `${l.macs}/${l.macCapacity}`, Number(l.learned), Number(l.moved), Number(l.evicted), Number(l.expired), Number(l.flooded), Number(l.unknownUnicast), Number(l.filtered)]),
    ),
  graph: (l) => ({ lan: { ovs: (l.ovs as { bridge?: string } | undefined)?.bridge } }),
};

register<LanObject>({
  name: 'lan',
  noun: 'lan',
  section: LANS,
  verbs: [
    {
      name: 'add-lan',
      fds: 0,
      parse(b: Body): AddLanRequest {
        onlyFields(b, 'add-lan', ['name', 'aging', 'mac-table-size', 'ovs']);
        const r: AddLanRequest = { verb: 'add-lan', name: checkName(b.name, 'add-lan: "name"') };
        const aging = posInt(b, 'aging', 'add-lan', MAX_AGING);
        if (aging !== undefined) r.aging = aging;
        const size = posInt(b, 'mac-table-size', 'add-lan', 1 << 24);
        if (size !== undefined) r.macTableSize = size;
        if (bool(b, 'ovs', 'add-lan') === true) r.ovs = true;
        return r;
      },
      run(ctx, req: AddLanRequest) {
        addLan(ctx, req.name, req.aging, req.macTableSize, req.ovs);
        return {};
      },
    },
  ],
  set: {
    fields: ['aging'],
    keys: ['aging'],
    what: 'aging',
    parse: (b) => ({ aging: posInt(b, 'aging', 'set', MAX_AGING) }),
    apply(ctx, lan, req) {
      if (req.aging !== undefined) {
        ctx.call((e) => e.setLanAging(lan.id, req.aging! * 1000));
        lan.aging = req.aging;
      }
      ctx.log.info(`lan ${lan.name}: aging ${lan.aging}s`);
    },
  },
  lans: () => [],
  ports: () => [],
  remove: removeLan,
  save: (lan) => ({ aging: lan.aging, macTableSize: lan.macTableSize, ...(lan.ovs ? { ovs: true } : {}) }),
  restore(ctx, name, rec) {
    const body: Body = { name, aging: field(rec, 'aging', 'number', true)!, 'mac-table-size': field(rec, 'macTableSize', 'number', true)! };
    if (field(rec, 'ovs', 'boolean', false) === true) body.ovs = true;
    runVerb(ctx, 'add-lan', body, savedOwner(rec));
  },
  show(ctx, l) {
    const st = ctx.call((e) => e.lanStats(l.id));
    return { name: l.name, kind: 'lan', ports: st.ports, macs: st.macs, aging: l.aging, macTableSize: st.macCapacity, ...ovsState(ctx, l) };
  },
  stats(ctx, l) {
    const o = ovsState(ctx, l);
    if (o.ovs) Object.assign(o.ovs as object, joinCounters(ctx, l));
    return { name: l.name, ...ctx.call((e) => e.lanStats(l.id)), ...o };
  },
  cli: {
    add: {
      description: 'add a lan (a learning switch)',
      verb: 'add-lan',
      configure(cmd: Command) {
        cmd
          .addOption(new Option('--aging <seconds>', 'MAC aging time').argParser(positiveInt))
          .addOption(new Option('--mac-table-size <entries>', 'MAC table size').argParser(positiveInt))
          .option('--ovs', "also an Open vSwitch bridge _b_NAME joined to it, for DPDK ports and mirrors in OVS (needs the daemon's --ovs-rundir or --ovs-db; docs/ovs.md)");
      },
      body(name, opts) {
        const b: Body = { name };
        if (opts.ovs === true) b.ovs = true;
        if (opts.aging !== undefined) b.aging = opts.aging;
        if (opts.macTableSize !== undefined) b['mac-table-size'] = opts.macTableSize;
        return b;
      },
    },
    set: {
      help: "a lan's aging",
      configure(cmd: Command) {
        cmd.addOption(new Option('--aging <seconds>', 'MAC aging time of a lan').argParser(positiveInt));
      },
      body: (opts) => (opts.aging !== undefined ? { aging: opts.aging } : {}),
    },
  },
});

/** Default MAC aging of a lab's lans (the daemon's own default, stated). */
const TOPOLOGY_AGING = 300;
/** Default MAC table size of a lab's lans. */
const TOPOLOGY_MAC_TABLE = 8192;

registerSection({
  key: 'lans',
  noun: 'lan',
  kinds: ['lan'],
  stage: 0,
  doc: 'learning switches (docs/lan.md); every port, link and node interface is on one',
  fields: {
    aging: { type: 'integer', min: 1, max: MAX_AGING, default: TOPOLOGY_AGING, doc: 'MAC aging time, seconds (changed in place)' },
    'mac-table-size': { type: 'integer', min: 1, max: 1 << 24, default: TOPOLOGY_MAC_TABLE, doc: 'MAC table entries (the engine rounds up to its table shape)' },
    ovs: { type: 'boolean', default: false, doc: "also an Open vSwitch bridge (needs the daemon's --ovs-rundir or --ovs-db; docs/ovs.md)" },
  },
  canonical: (v) => v,
  fromShow: (s) => ({ name: String(s.name), values: { aging: s.aging, 'mac-table-size': s.macTableSize, ovs: s.ovs !== undefined } }),
  add: (e) => [{ 'add-lan': { name: e.name, aging: e.values.aging, 'mac-table-size': e.values['mac-table-size'], ...(e.values.ovs === true ? { ovs: true } : {}) } }],
  change: (_cur, want, changed) => (changed.every((p) => p === 'aging') ? [{ set: { name: want.name, aging: want.values.aging } }] : undefined),
  // The engine's table holds a power of two of sets of a few entries: at
  // least what was asked, less than twice as much (or one set).
  same: (path, cur, want) => path === 'mac-table-size' && typeof cur === 'number' && typeof want === 'number' && cur >= want && (cur < 2 * want || cur <= 16),
  needs: () => [],
  toFile: (e) => ({ ...e.values, ...(e.values.ovs === true ? {} : { ovs: undefined }) }),
});
