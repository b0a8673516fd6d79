/**
 * Ports that Open vSwitch runs, on the bridge of an OVS lan (docs/ovs.md): a
 * vhost port on an OVS lan (OVS-DPDK is the vhost-user backend) and every dpdk
 * port. The object is a port like any other (listed, counted, deleted alike);
 * its packets never touch containet's engine, so it has no engine port and
 * its state and counters are read from OVS's Interface record.
 */
import { ProtocolError } from '../daemon/fields.js';
import { portName } from '../ovs/names.js';
import type { OvsRecord } from '../ovs/vsctl.js';
import type { KindContext } from './kind.js';
import type { LanObject } from './lan.js';
import type { PortObject } from './port.js';

/** What an OVS port's object keeps of it. */
export interface OvsPortInfo {
  /** its port (and interface) in OVS: _k_<name>_0 */
  port: string;
  /** its bridge */
  bridge: string;
}

/** The bridge of an OVS lan; a ProtocolError naming @verb when @lan is not one. */
export function ovsBridgeOf(lan: LanObject, verb: string): string {
  if (!lan.ovs) throw new ProtocolError(`${verb}: lan ${lan.name} is not an OVS lan (add it with: containet add lan NAME --ovs)`);
  return lan.ovs.bridge;
}

/**
 * Add port @name's OVS port on @lan's bridge, its interface set as @settings
 * (`type=dpdk`, `options:dpdk-devargs=...`), in one transaction; OVS's error
 * when it cannot set the interface up (the port is removed again). Returns the
 * fields of its port object.
 */
export function addOvsPort(ctx: KindContext, lan: LanObject, name: string, verb: string, settings: string[], owner: { pid: number; uid: number }): Omit<PortObject, 'kind' | 'name'> & { ovs: OvsPortInfo } {
  const bridge = ovsBridgeOf(lan, verb);
  const ovs = ctx.ovs();
  const port = portName(name);
  try {
    ovs.checkUsable();
    if (ovs.interfaces().has(port)) throw new Error(`Open vSwitch already has an interface ${port}`);
    ovs.transact([
      ['add-port', bridge, port],
      ['set', 'Port', port, `external_ids:containet-owner=${ovs.owner}`],
      ['set', 'Interface', port, ...settings, `external_ids:containet-owner=${ovs.owner}`],
    ]);
  } catch (e) {
    throw new ProtocolError(`${verb}: Open vSwitch: ${(e as Error).message}`);
  }
  const err = ovs.ifaceError(port);
  if (err) {
    try {
      ovs.transact([['--if-exists', 'del-port', bridge, port]]);
    } catch (e) {
      ctx.log.warn(`OVS port ${port} stays: ${(e as Error).message}`);
    }
    throw new ProtocolError(`${verb}: Open vSwitch: ${err}`);
  }
  const type = settings.find((s) => s.startsWith('type='))?.slice(5) ?? 'system';
  return {
    id: -1,
    lan: lan.name,
    type,
    ifname: port,
    nodeid: undefined,
    pid: undefined,
    owner,
    vnetHdr: false,
    packetInfo: false,
    offloads: [],
    thread: -1,
    created: new Date(),
    ovs: { port, bridge },
  };
}

/** Remove port @p's OVS port (logging, not throwing, when OVS cannot). */
export function delOvsPort(ctx: KindContext, p: PortObject & { ovs?: OvsPortInfo }): void {
  if (!p.ovs) return;
  try {
    ctx.ovs().transact([['--if-exists', 'del-port', p.ovs.bridge, p.ovs.port]]);
  } catch (e) {
    ctx.log.warn(`OVS port ${p.ovs.port} of ${p.name}: ${(e as Error).message}`);
  }
}

/** The interface record of @p, if OVS has it. */
function record(ctx: KindContext, p: PortObject & { ovs?: OvsPortInfo }): OvsRecord | undefined {
  return p.ovs ? ctx.ovs().iface(p.ovs.port) : undefined;
}

/** The state of OVS port @p as show gives it: OVS's link state, or why it is not there. */
export function ovsPortState(ctx: KindContext, p: PortObject & { ovs?: OvsPortInfo }): string {
  const sw = ctx.ovs();
  if (sw.broken !== undefined) return `broken: ${sw.broken}`;
  const r = record(ctx, p);
  if (!r) return 'missing from Open vSwitch';
  if (typeof r.error === 'string' && r.error) return `error: ${r.error}`;
  return typeof r.link_state === 'string' ? `link ${r.link_state}` : 'link unknown';
}

/** Packet and byte counts of port @p, as every port's stats entry has them,
 *  from OVS's statistics column (its rx: what OVS received from the port's
 *  peer), which ovs-vswitchd writes every 5 s (stats-update-interval, at
 *  least 5000 ms). null where OVS gives none: OVS 3.1 with DPDK 22.11 reports
 *  no packet counts for its vhost-user ports ("could not retrieve stats"). */
export function ovsPortCounters(ctx: KindContext, p: PortObject & { ovs?: OvsPortInfo }): {
  rxPackets: number | null;
  rxBytes: number | null;
  txPackets: number | null;
  txBytes: number | null;
  drops: Record<string, number>;
  counters: Record<string, number>;
} {
  return splitStatistics(record(ctx, p)?.statistics as Record<string, number> | undefined);
}

/** An OVS statistics map as a stats entry's counts, drops and other counters. */
export function splitStatistics(s: Record<string, number> | undefined): ReturnType<typeof ovsPortCounters> {
  const drops: Record<string, number> = {};
  const counters: Record<string, number> = {};
  const main = ['rx_packets', 'rx_bytes', 'tx_packets', 'tx_bytes'];
  for (const [k, v] of Object.entries(s ?? {})) {
    if (main.includes(k)) continue;
    if (/dropped|errors|drops/.test(k)) drops[k] = v;
    else counters[k] = v;
  }
  const n = (k: string) => (s && typeof s[k] === 'number' ? s[k]! : null);
  return { rxPackets: n('rx_packets'), rxBytes: n('rx_bytes'), txPackets: n('tx_packets'), txBytes: n('tx_bytes'), drops, counters };
}
