/**
 * What every kind of port shares (fd, vhost, nat ...): the fields of its object,
 * the checks before one is added, its show and stats entries, its table in the
 * CLI, and the hooks of a kind whose object is one port on one lan. A port kind
 * spreads portHooks() into its Kind and adds its verbs and extras.
 */
import { ProtocolError } from '../daemon/fields.js';
import { bytes, table } from '../format.js';
import type { NativePortInfo } from '../native.js';
import type { Kind, KindContext, ModelObject, Section } from './kind.js';
import { lanNamed, type LanObject } from './lan.js';
import { delOvsPort, ovsPortCounters, ovsPortState, type OvsPortInfo } from './ovsport.js';

/** A port on a lan. */
export interface PortObject extends ModelObject {
  /** native port id */
  id: number;
  /** name of its lan */
  lan: string;
  /** what the engine says it is: "tap", "dgram", "vhost", "nat" ... */
  type: string;
  /** device name ("" when none) */
  ifname: string;
  /** the client's node id (containode identity), if it gave one */
  nodeid: string | undefined;
  /** process whose exit removes the port, if the client named one */
  pid: number | undefined;
  /** path of the network namespace its device is in, if the client gave one */
  netns?: string | undefined;
  /** who asked for it */
  owner: { pid: number; uid: number };
  vnetHdr: boolean;
  packetInfo: boolean;
  /** offloads the port takes as they are ('csum', 'tso', 'uso') */
  offloads: string[];
  /** the engine's worker thread that polls its input (-1: OVS's port) */
  thread: number;
  /** the port is Open vSwitch's, on an OVS lan's bridge (docs/ovs.md): it
   *  has no engine port (id -1) */
  ovs?: OvsPortInfo;
}

/** The fields of a new port object from what the engine said of it. */
export function portFields(info: NativePortInfo, lan: LanObject, owner: { pid: number; uid: number }): Omit<PortObject, 'kind' | 'name'> {
  return {
    id: info.id,
    lan: lan.name,
    type: info.kind,
    ifname: info.ifname,
    nodeid: undefined,
    pid: undefined,
    owner,
    vnetHdr: info.vnetHdr,
    packetInfo: info.packetInfo,
    offloads: info.offloads,
    thread: info.thread,
    created: new Date(),
  };
}

/** Refuse a "thread" the engine does not run (@verb names the request). */
export function checkThread(ctx: KindContext, verb: string, thread: number | undefined): void {
  const n = ctx.engine().threads();
  if (thread !== undefined && thread >= n) throw new ProtocolError(`${verb}: "thread" ${thread} does not exist (the daemon runs ${n})`);
}

/**
 * Clear the persistence of port @p's tap before the port goes for good, so its
 * device goes with its fd (a daemon that stops does not come here, and leaves
 * persistent taps for the next one; a port that broke had it cleared in the
 * engine already, by its down hook). @what names the tap in the warning.
 */
export function unpersist(ctx: KindContext, p: PortObject & { persist?: boolean }, what: string): void {
  if (!p.persist) return;
  try {
    if (!ctx.engine().portStats(p.id).broken) ctx.engine().setPort(p.id, { persist: false });
  } catch (e) {
    ctx.log.warn(`${what} stays persistent: ${(e as Error).message}`);
  }
}

/** Checks of a named port about to be added: its lan (returned; the daemon's
 *  default when none is named), its name free, its thread there. */
export function newPortChecks(ctx: KindContext, req: { verb: string; name: string; lan?: string; thread?: number }): LanObject {
  const lan = lanNamed(ctx, req.lan ?? ctx.defaults.lan);
  if (ctx.model.has(req.name)) throw new ProtocolError(`an object named "${req.name}" already exists`);
  checkThread(ctx, req.verb, req.thread);
  return lan;
}

/** The ports' section of show and stats. */
export const PORTS: Section = {
  key: 'ports',
  showKind: 'port',
  showTable: (ports) =>
    table(
      ['PORT', 'LAN', 'TYPE', 'IFNAME', 'NODE', 'PID', 'FRAMING', 'OFFLOADS', 'THREAD', 'STATE'],
      ports.map((p) => [
        String(p.name),
        String(p.lan),
        String(p.type),
        String(p.ifname || '-'),
        String(p.nodeid ?? '-'),
        p.pid === null ? '-' : Number(p.pid),
        [p.packetInfo ? 'packet-info' : '', p.vnetHdr ? 'vnet-hdr' : ''].filter(Boolean).join('+') || 'plain',
        ((p.offloads as string[] | undefined) ?? []).join(',') || '-',
        Number(p.thread) < 0 ? '-' : Number(p.thread),
        String(p.state || '-'),
      ]),
    ),
  statsTable: (ports) =>
    table(
      ['PORT', 'LAN', 'RX PKTS', 'RX BYTES', 'TX PKTS', 'TX BYTES', 'DROPS', 'OTHER'],
      ports.map((p) => {
        const drops = Object.entries(p.drops as Record<string, number>).filter(([, n]) => n > 0);
        const other = Object.entries((p.counters as Record<string, number> | undefined) ?? {});
        return [
          String(p.name),
          String(p.lan),
          // null: the port's switch (OVS) gives no count.
          p.rxPackets === null ? '-' : Number(p.rxPackets),
          p.rxBytes === null ? '-' : bytes(Number(p.rxBytes)),
          p.txPackets === null ? '-' : Number(p.txPackets),
          p.txBytes === null ? '-' : bytes(Number(p.txBytes)),
          drops.length ? drops.map(([k, n]) => `${k}=${n}`).join(' ') : '0',
          other.length ? other.map(([k, n]) => `${k}=${n}`).join(' ') : '-',
        ];
      }),
    ),
  graph: (p) => {
    const remotes = Array.isArray(p.remotes) ? (p.remotes as unknown[]).map(String) : undefined;
    return {
      port: {
        lan: String(p.lan),
        node: typeof p.nodeid === 'string' && p.nodeid !== p.name ? p.nodeid : undefined,
        remotes,
        marks: [...(remotes ? [String(p.type)] : []), ...(p.ovs ? ['ovs'] : [])],
      },
    };
  },
};

/**
 * The hooks of a kind whose object is one port on one lan: listed in the
 * ports section, removed with its engine port, shown and counted alike.
 * @extra: its own fields of the show entry (before "state").
 */
export function portHooks<P extends PortObject>(
  extra: (p: P) => Record<string, unknown> = () => ({}),
): Pick<Kind<P>, 'section' | 'lans' | 'ports' | 'remove' | 'show' | 'stats'> {
  return {
    section: PORTS,
    lans: (p) => [p.lan],
    ports: (p) => (p.ovs ? [] : [p.id]),
    remove: (ctx, p) => (p.ovs ? delOvsPort(ctx, p) : ctx.call((e) => e.delPort(p.id))),
    show(ctx, p) {
      // Offloads and state can change (a vhost-user frontend negotiates them).
      const live = p.ovs ? { offloads: [], state: ovsPortState(ctx, p) } : ctx.call((e) => e.portStats(p.id));
      return {
        name: p.name,
        kind: 'port',
        type: p.type,
        lan: p.lan,
        ifname: p.ifname,
        nodeid: p.nodeid ?? null,
        pid: p.pid ?? null,
        owner: p.owner,
        vnetHdr: p.vnetHdr,
        packetInfo: p.packetInfo,
        offloads: live.offloads,
        thread: p.thread,
        ...extra(p),
        ...(p.ovs ? { ovs: p.ovs } : {}),
        state: live.state,
        created: p.created.toISOString(),
      };
    },
    stats(ctx, p) {
      const st = p.ovs ? ovsPortCounters(ctx, p) : ctx.call((e) => e.portStats(p.id));
      return {
        name: p.name,
        lan: p.lan,
        type: p.type,
        rxPackets: st.rxPackets,
        rxBytes: st.rxBytes,
        txPackets: st.txPackets,
        txBytes: st.txBytes,
        drops: st.drops,
        ...(Object.keys(st.counters).length ? { counters: st.counters } : {}),
      };
    },
  };
}
