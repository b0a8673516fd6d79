/**
 * Sinks: how containet sees the frames of ports Open vSwitch runs (vhost and
 * dpdk ports of an OVS lan), whose packets never touch containet's engine. A
 * sink is an OVS mirror of some of those ports whose output port
 * (`s_k_<obj>_<n>`, as cloonix names mirror outputs) is a DPDK virtio_user
 * device connected to a vhost-user port of containet's engine, alone on an
 * engine lan of its own (so what arrives goes nowhere else). One sink carries
 * one direction: what the ports received from their peers (`in`, OVS's
 * select-src-port) or what OVS sent them (`out`, select-dst-port), so a
 * capture keeps each frame's direction and a containet mirror copies only
 * what was asked. Captures and mirrors watch the sink's engine port. See
 * docs/ovs.md#captures-and-mirrors-of-ovs-ports.
 */
import path from 'node:path';

import { ProtocolError } from '../daemon/fields.js';
import { mirrorOutputName } from '../ovs/names.js';
import type { KindContext } from './kind.js';
import type { OvsPortInfo } from './ovsport.js';

/** One sink: an OVS mirror of some OVS ports and the engine port it feeds. */
export interface OvsSink {
  /** the engine's vhost-user port the copies arrive on */
  id: number;
  /** the engine lan it is alone on */
  lan: number;
  /** the mirror's output port in OVS: s_k_<obj>_<n> */
  port: string;
  /** the OVS mirror: m_<obj>_<n> */
  mirror: string;
  /** the bridge both are on */
  bridge: string;
  /** what of the ports it carries */
  as: 'in' | 'out';
}

/** Longest wait for OVS's virtio_user device to come up on a new sink, ms. */
const CONNECT_MS = 10000;
/** Sinks made by this daemon: numbers their DPDK devices (a vdev's name is at
 *  most 63 bytes, an object name up to 64). */
let made = 0;

/** Sleep @ms without leaving the call (a sink is made inside one request). */
function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** The OVS ports (and their bridge) of the objects named @names, which must be
 *  ports Open vSwitch runs on one bridge; a ProtocolError naming @verb when not. */
export function ovsPortsOf(ctx: KindContext, names: string[], verb: string): { bridge: string; ports: string[] } {
  const infos = names.map((n) => ({ n, p: (ctx.model.get(n) as { ovs?: OvsPortInfo } | undefined)?.ovs }));
  const bad = infos.find((x) => !x.p);
  if (bad) throw new ProtocolError(`${verb}: "${bad.n}" is not a port Open vSwitch runs`);
  const bridge = infos[0]!.p!.bridge;
  const other = infos.find((x) => x.p!.bridge !== bridge);
  if (other) throw new ProtocolError(`${verb}: "${other.n}" is on another OVS lan than "${infos[0]!.n}"`);
  return { bridge, ports: infos.map((x) => x.p!.port) };
}

/**
 * Make sink @n of object @obj on @bridge: copies of what OVS ports @ports
 * received (@as "in") or were sent ("out"). The engine port first (listening),
 * then the output port in OVS (its device connects), then, once the engine
 * port is connected, the mirror (so no copy is lost to a device still coming
 * up). Undone whole on failure, with OVS's or the engine's reason.
 */
export function openSink(ctx: KindContext, verb: string, obj: string, n: number, bridge: string, ports: string[], as: 'in' | 'out'): OvsSink {
  const ovs = ctx.ovs();
  try {
    ovs.checkUsable();
  } catch (e) {
    throw new ProtocolError(`${verb}: ${(e as Error).message}`);
  }
  const port = mirrorOutputName(obj, n);
  const mirror = `m_${obj}_${n}`;
  const socket = path.join(ovs.sockDir, `s${process.pid}_${++made}.sock`);
  const lan = ctx.call((e) => e.addLan({ macTableSize: 64, agingMs: 300000 }));
  let id: number | undefined;
  let inOvs = false;
  const undo = () => {
    if (inOvs) closeInOvs(ctx, bridge, port, undefined);
    if (id !== undefined) ctx.engine().delPort(id);
    ctx.engine().delLan(lan);
  };
  try {
    id = ctx.call((e) => e.addPort('vhost', [lan], { path: socket, client: false }))[0]!.id;
    const mark = `external_ids:containet-owner=${ovs.owner}`;
    if (ovs.interfaces().has(port)) throw new Error(`Open vSwitch already has an interface ${port}`);
    inOvs = true;
    ovs.transact([
      ['add-port', bridge, port],
      ['set', 'Port', port, mark],
      ['set', 'Interface', port, 'type=dpdk', `options:dpdk-devargs=net_virtio_user_s${made},path=${socket}`, mark],
    ]);
    const err = ovs.ifaceError(port);
    if (err) throw new Error(`its output port ${port}: ${err}`);
    const until = Date.now() + CONNECT_MS;
    while (ctx.engine().portStats(id).state !== 'connected') {
      if (Date.now() > until) throw new Error(`its output port ${port} did not connect to ${socket} within ${CONNECT_MS / 1000} s`);
      pause(5);
    }
    const sel = ports.map((_, i) => `@p${i}`);
    ovs.transact([
      ...ports.map((p, i) => [`--id=${sel[i]}`, 'get', 'Port', p]),
      ['--id=@o', 'get', 'Port', port],
      ['--id=@m', 'create', 'Mirror', `name=${mirror}`, 'output-port=@o', `${as === 'in' ? 'select-src-port' : 'select-dst-port'}=${sel.join(',')}`, mark],
      ['add', 'Bridge', bridge, 'mirrors', '@m'],
    ]);
    ovs.purgeFlows();
  } catch (e) {
    undo();
    throw new ProtocolError(`${verb}: Open vSwitch: ${(e as Error).message}`);
  }
  ctx.log.info(`${obj}: Open vSwitch mirror ${mirror} of ${ports.join(', ')} (${as === 'in' ? 'what they received' : 'what they were sent'}) to ${port}, a DPDK virtio_user device on containet's ${socket}`);
  return { id, lan, port, mirror, bridge, as };
}

/** Remove mirror @mirror (when given) and port @port from @bridge, logging what OVS refuses. */
function closeInOvs(ctx: KindContext, bridge: string, port: string, mirror: string | undefined): void {
  const ovs = ctx.ovs();
  const cmds = mirror ? [['--id=@m', 'get', 'Mirror', mirror], ['remove', 'Bridge', bridge, 'mirrors', '@m']] : [];
  try {
    ovs.transact([...cmds, ['--if-exists', 'del-port', bridge, port]]);
  } catch (e) {
    // The mirror may be gone with its bridge: the port alone then.
    try {
      ovs.transact([['--if-exists', 'del-port', bridge, port]]);
    } catch {
      ctx.log.warn(`Open vSwitch: removing ${mirror ?? ''} ${port} from ${bridge}: ${(e as Error).message}`);
    }
  }
}

/** Remove sinks @sinks: their mirrors and output ports in OVS, then their
 *  engine ports and lans. Never throws. */
export function closeSinks(ctx: KindContext, sinks: OvsSink[]): void {
  for (const s of sinks) {
    closeInOvs(ctx, s.bridge, s.port, s.mirror);
    try {
      ctx.engine().delPort(s.id);
    } catch {
      /* broken and gone already */
    }
    try {
      ctx.engine().delLan(s.lan);
    } catch (e) {
      ctx.log.warn(`sink ${s.port}: its engine lan: ${(e as Error).message}`);
    }
  }
}
