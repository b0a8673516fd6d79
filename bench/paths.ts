/**
 * The packet paths the bench compares, as data: each builds, in namespaces of
 * its own, a station A (sender, client) and a station B (receiver, server)
 * joined by the thing under test. Add a path by adding an entry to PATHS.
 */
import { request } from '../src/client.js';
import { attachTap, startContainet } from './containet.js';
import { addNetns, addVeth, ipIn, setAddress } from './netns.js';
import { ovsMissing, startOvs } from './ovs.js';
import type { Scope } from './scope.js';

/** One end of a path: interface @ifname with address @ip inside namespace @ns. */
export interface Station {
  ns: string;
  ifname: string;
  ip: string;
}

/** The two ends of a built path. */
export interface Endpoints {
  a: Station;
  b: Station;
  /**
   * The pid of the process whose threads forward the frames (a userspace
   * switch), for its CPU time per frame; absent on kernel paths, where the
   * forwarding runs in softirq context charged to whichever task was running.
   */
  switchPid?: () => number | null;
}

/** What a path's setup gets. */
export interface PathContext {
  /**
   * Teardown: setup registers the undo step of everything it makes here, before
   * making it; the bench closes the scope after the path, or when setup fails.
   */
  scope: Scope;
  /** A unique prefix for names (at most 10 characters, so 5 are left for ifnames). */
  id: string;
  /** The /24 of this path, e.g. "10.77.3": A is .1, B is .2. */
  subnet: string;
  /** A private directory for files (sockets, configs), removed after the path. */
  dir: string;
}

/** A packet path under test. */
export interface PathDef {
  /** One letter (or word) for --only. */
  key: string;
  /** Short name in the table. */
  name: string;
  /** One line on what it is. */
  title: string;
  /** Run only when named by --only (variants that explain a figure, not needed for the ratios). */
  optional?: boolean;
  /** Why it cannot run on this machine, or null when it can. */
  unavailable?: () => string | null;
  /** Build it (see PathContext.scope for its teardown) and return its ends. */
  setup: (ctx: PathContext) => Promise<Endpoints>;
}

/** Make namespaces ID+"a" and ID+"b" and return the stations, each on eth0. */
async function stations(ctx: PathContext): Promise<Endpoints> {
  const a = await addNetns(ctx.scope, `${ctx.id}a`);
  const b = await addNetns(ctx.scope, `${ctx.id}b`);
  return {
    a: { ns: a, ifname: 'eth0', ip: `${ctx.subnet}.1` },
    b: { ns: b, ifname: 'eth0', ip: `${ctx.subnet}.2` },
  };
}

/** Options of a containet path. */
interface ContainetPathOptions {
  key: string;
  name: string;
  title: string;
  /** Taps with IFF_VNET_HDR (offloads) or plain frames. */
  vnetHdr: boolean;
  /** Extra arguments of the daemon (e.g. a future ['--threads', '2']). */
  daemonArgs: string[];
  optional?: boolean;
}

/** A path through a containet daemon of its own: one tap per station, both on the default lan. */
export function containetPath(o: ContainetPathOptions): PathDef {
  return {
    key: o.key,
    name: o.name,
    title: o.title,
    ...(o.optional ? { optional: true } : {}),
    setup: async (ctx) => {
      const ep = await stations(ctx);
      const d = await startContainet(ctx.scope, ctx.dir, o.daemonArgs);
      for (const [s, node] of [[ep.a, 'benchA'], [ep.b, 'benchB']] as const)
        await attachTap(d, { ns: s.ns, ip: s.ip, vnetHdr: o.vnetHdr, nodeid: node });
      return { ...ep, switchPid: () => d.proc.pid };
    },
  };
}

/**
 * A Linux bridge ID+"br" in a namespace ID+"s" of its own (made in @scope),
 * stations @ep's A and B each on a veth pair to it (bridge ports ID+"pa" and
 * ID+"pb"), addressed. Returns the bridge's namespace.
 */
export async function bridgeStations(scope: Scope, id: string, ep: Endpoints): Promise<string> {
  const sw = await addNetns(scope, `${id}s`);
  const br = `${id}br`;
  await ipIn(sw, 'link', 'add', br, 'type', 'bridge');
  await ipIn(sw, 'link', 'set', br, 'up');
  for (const [s, port] of [[ep.a, `${id}pa`], [ep.b, `${id}pb`]] as const) {
    await addVeth({ ns: s.ns, name: s.ifname }, { ns: sw, name: port });
    await ipIn(sw, 'link', 'set', port, 'master', br);
    await setAddress(s.ns, s.ifname, s.ip);
  }
  return sw;
}

/** Linux bridge in namespace ID+"s", one veth pair per station. */
const bridgePath: PathDef = {
  key: 'b',
  name: 'bridge',
  title: 'Linux bridge in its own namespace, a veth pair to each station (MTU 1500)',
  setup: async (ctx) => {
    const ep = await stations(ctx);
    await bridgeStations(ctx.scope, ctx.id, ep);
    return ep;
  },
};

/** One veth pair straight from A to B. */
const vethPath: PathDef = {
  key: 'c',
  name: 'veth',
  title: 'a veth pair straight between the stations (MTU 1500)',
  setup: async (ctx) => {
    const ep = await stations(ctx);
    await addVeth({ ns: ep.a.ns, name: ep.a.ifname }, { ns: ep.b.ns, name: ep.b.ifname });
    for (const s of [ep.a, ep.b]) await setAddress(s.ns, s.ifname, s.ip);
    return ep;
  },
};

/** OVS userspace datapath with userspace TSO, its daemons in namespace ID+"s". */
const ovsPath: PathDef = {
  key: 'd',
  name: 'ovs-tso',
  title: 'Open vSwitch userspace (netdev) datapath, userspace-tso-enable=true, a veth to each station',
  unavailable: ovsMissing,
  setup: async (ctx) => {
    const ep = await stations(ctx);
    const sw = await addNetns(ctx.scope, `${ctx.id}s`);
    const ovs = await startOvs(ctx.scope, sw, ctx.dir, { 'userspace-tso-enable': 'true' });
    const br = `${ctx.id}br`;
    await ovs.vsctl('add-br', br, '--', 'set', 'bridge', br, 'datapath_type=netdev');
    for (const [s, port] of [[ep.a, `${ctx.id}pa`], [ep.b, `${ctx.id}pb`]] as const) {
      await addVeth({ ns: s.ns, name: s.ifname }, { ns: sw, name: port });
      await ovs.vsctl('add-port', br, port);
      await setAddress(s.ns, s.ifname, s.ip);
    }
    return { ...ep, switchPid: () => ovs.vswitchdPid() };
  },
};

/**
 * The host tap (`add tap`, docs/tap.md): the daemon runs inside station B's
 * namespace, the "host", and makes its tap there with B's address; A is a
 * container's vnet tap handed over as in the containet path. What is measured
 * is a container talking to the host's own stack.
 */
const hostTapPath: PathDef = {
  key: 'h',
  name: 'containet-hosttap',
  title: "containet daemon in B's namespace (the host): A's vnet tap to the host's own stack through `add tap` (offloads on)",
  optional: true,
  setup: async (ctx) => {
    const ep = await stations(ctx);
    const d = await startContainet(ctx.scope, ctx.dir, [], { netns: ep.b.ns });
    await attachTap(d, { ns: ep.a.ns, ip: ep.a.ip, vnetHdr: true, nodeid: 'benchA' });
    const tap = `${ctx.id}t`;
    await request(d.sock, { 'add-tap': { name: tap, ip: [`${ep.b.ip}/24`], mtu: 1500 } });
    return { a: ep.a, b: { ...ep.b, ifname: tap }, switchPid: () => d.proc.pid };
  },
};

/** containet in namespace ID+"s", a veth pair to each station whose end
 *  there is a phy port (AF_PACKET, receive ring TPACKET_V@tpacket), both on
 *  the default lan: the bridge's wiring with containet in the bridge's place. */
function phyPath(key: string, name: string, tpacket: 2 | 3): PathDef {
  return {
    key,
    name,
    title: `containet daemon in its own namespace, a veth pair to each station, its ends there phy ports (AF_PACKET, vnet header, TPACKET_V${tpacket} ring)`,
    optional: true,
    setup: async (ctx) => {
      const ep = await stations(ctx);
      const sw = await addNetns(ctx.scope, `${ctx.id}s`);
      const ports = [`${ctx.id}pa`, `${ctx.id}pb`];
      for (const [s, port] of [[ep.a, ports[0]!], [ep.b, ports[1]!]] as const) {
        await addVeth({ ns: s.ns, name: s.ifname }, { ns: sw, name: port });
        await setAddress(s.ns, s.ifname, s.ip);
      }
      const d = await startContainet(ctx.scope, ctx.dir, [], { netns: sw });
      for (const port of ports) await request(d.sock, { 'add-phy': { ifname: port, tpacket } });
      return { ...ep, switchPid: () => d.proc.pid };
    },
  };
}

/** Every path, in table order. */
export const PATHS: PathDef[] = [
  containetPath({
    key: 'a',
    name: 'containet',
    title: 'containet daemon, tap to tap, IFF_VNET_HDR (offloads on)',
    vnetHdr: true,
    daemonArgs: [],
  }),
  bridgePath,
  vethPath,
  ovsPath,
  containetPath({
    key: 'e',
    name: 'containet-plain',
    title: 'containet daemon, tap to tap, plain frames (no vnet header: offloads off)',
    vnetHdr: false,
    daemonArgs: [],
  }),
  containetPath({
    key: 'f',
    name: 'containet-2t',
    title: 'containet daemon with --threads 2, taps with a queue per worker (IFF_MULTI_QUEUE, as containode makes them), IFF_VNET_HDR',
    vnetHdr: true,
    daemonArgs: ['--threads', '2'],
  }),
  containetPath({
    key: 'g',
    name: 'containet-nopoll',
    title: 'containet daemon with --poll-us 0 (workers sleep as soon as a port is drained), IFF_VNET_HDR',
    vnetHdr: true,
    daemonArgs: ['--poll-us', '0'],
    optional: true,
  }),
  containetPath({
    key: 'i',
    name: 'containet-busypoll',
    title: 'containet daemon with --busy-poll (its worker never sleeps: a CPU kept busy), IFF_VNET_HDR',
    vnetHdr: true,
    daemonArgs: ['--busy-poll'],
  }),
  hostTapPath,
  phyPath('p', 'containet-phy', 2),
  phyPath('q', 'containet-phy-v3', 3),
];

/** Key of the path every ratio is relative to. */
export const BASELINE = 'bridge';
