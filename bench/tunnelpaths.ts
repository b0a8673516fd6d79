/**
 * The tunnel section: container to container across two "hosts" over VXLAN on
 * a veth underlay, through two containet daemons (a vxlan port on each) and
 * through two Linux vxlan devices on bridges, side by side in one run. Hosts
 * H1 and H2 are namespaces of the bench's own (ID+"h1", ID+"h2") joined by a
 * veth pair (the underlay, MTU 1500, 10.79.0.1 and .2); station A (ID+"a")
 * hangs off H1, station B (ID+"b") off H2, both with MTU 1450 on the overlay
 * 10.77.141.0/24. Nothing is made in the root namespace.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';

import { request } from '../src/client.js';
import { attachTap, startContainet, type Containet } from './containet.js';
import { pingRtts, startIperfServer, tcpGbps } from './measure.js';
import { addNetns, addVeth, ipIn, nsExec, readNetAttr, setAddress, waitReachable } from './netns.js';
import { onPath } from './ovs.js';
import type { Endpoints } from './paths.js';
import { errorText } from './proc.js';
import { ratioTarget, type SectionContext, type SectionDef, type SectionPathDef, type SectionRig } from './section.js';
import { percentile } from './stats.js';

/** The underlay's MTU and the stations' (the underlay's less 50 bytes of IPv4 VXLAN). */
const UNDERLAY_MTU = 1500;
const STATION_MTU = 1450;
/** The VNI and UDP port of both tunnels. */
const VNI = 42;
const DSTPORT = 4789;
/** Underlay addresses of H1 and H2. */
const UNDERLAY = ['10.79.0.1', '10.79.0.2'] as const;
/** Overlay addresses of A and B. */
const OVERLAY = ['10.77.141.1', '10.77.141.2'] as const;

/** The two hosts, the underlay between them and the two stations' namespaces. */
interface Hosts {
  h: [string, string];
  ep: Endpoints;
}

/** Make hosts H1 and H2 joined by the underlay veth (ID+"u1" in H1, ID+"u2" in H2, addressed), and stations A and B. */
async function hosts(ctx: SectionContext): Promise<Hosts> {
  const h1 = await addNetns(ctx.scope, `${ctx.id}h1`);
  const h2 = await addNetns(ctx.scope, `${ctx.id}h2`);
  const a = await addNetns(ctx.scope, `${ctx.id}a`);
  const b = await addNetns(ctx.scope, `${ctx.id}b`);
  await addVeth({ ns: h1, name: `${ctx.id}u1` }, { ns: h2, name: `${ctx.id}u2` }, UNDERLAY_MTU);
  await setAddress(h1, `${ctx.id}u1`, UNDERLAY[0]);
  await setAddress(h2, `${ctx.id}u2`, UNDERLAY[1]);
  return { h: [h1, h2], ep: { a: { ns: a, ifname: 'eth0', ip: OVERLAY[0] }, b: { ns: b, ifname: 'eth0', ip: OVERLAY[1] } } };
}

/**
 * The measurement: TCP A->B with 1 and 4 streams, then ping A->B (percentiles
 * of this repetition's echoes). A figure that fails is left out of its
 * repetition, the reason kept for the notes; the others are still taken.
 */
function tunnelRig(ctx: SectionContext, ep: Endpoints, counters: () => Promise<string[]>): SectionRig {
  const s = ctx.settings;
  const failures: string[] = [];
  return {
    measure: async (rep) => {
      const v: Record<string, number> = {};
      const take = async (what: string, fn: () => Promise<void>) => {
        try {
          await fn();
        } catch (e) {
          failures.push(`repetition ${rep}, ${what}: ${errorText(e)}`);
        }
      };
      await take('tcp1', async () => {
        v.tcp1 = await tcpGbps(ep, 1, s.seconds, s.omit);
      });
      await take('tcp4', async () => {
        v.tcp4 = await tcpGbps(ep, 4, s.seconds, s.omit);
      });
      await take('ping', async () => {
        const p = await pingRtts(ep, s.pings, s.pingIntervalS);
        v.p50 = percentile(p.rttsMs, 50)!;
        v.p99 = percentile(p.rttsMs, 99)!;
        if (p.lost > 0) failures.push(`repetition ${rep}, ping: ${p.lost} of ${s.pings} echoes unanswered`);
      });
      return v;
    },
    notes: async () => [...failures, ...(await counters())],
  };
}

/** @packets and their mean size from @bytes: "N (mean S B)". */
function packets(packets: number, bytes: number): string {
  return `${packets}${packets > 0 ? ` (mean ${Math.round(bytes / packets)} B)` : ''}`;
}

/** Counters of Linux link @ifname in @ns: packets both ways (with their mean size) and the non-zero drop and error counts. */
async function linkCounters(ns: string, ifname: string): Promise<string> {
  const names = ['rx_packets', 'rx_bytes', 'tx_packets', 'tx_bytes', 'rx_dropped', 'tx_dropped', 'rx_errors', 'tx_errors'];
  const v: Record<string, number> = {};
  for (const n of names) v[n] = Number(await readNetAttr(ns, ifname, `statistics/${n}`));
  const losses = names.slice(4).filter((n) => v[n] !== 0).map((n) => `${n}=${v[n]}`);
  return `rx ${packets(v.rx_packets!, v.rx_bytes!)}, tx ${packets(v.tx_packets!, v.tx_bytes!)}, ${losses.length > 0 ? losses.join(' ') : 'no drops or errors'}`;
}

/** The counters of /proc/net/snmp as seen in @ns, by protocol ("Tcp", "Udp") and name. */
async function snmp(ns: string): Promise<Record<string, Record<string, number>>> {
  const r = await nsExec(ns, ['cat', '/proc/net/snmp'], 10000);
  if (r.code !== 0) throw new Error(`cannot read /proc/net/snmp in ${ns}: ${r.stderr.trim()}`);
  const out: Record<string, Record<string, number>> = {};
  const lines = r.stdout.trim().split('\n');
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const [proto, ...names] = lines[i]!.split(/\s+/);
    const values = lines[i + 1]!.split(/\s+/).slice(1).map(Number);
    const p = (out[proto!.replace(/:$/, '')] = {} as Record<string, number>);
    names.forEach((n, j) => (p[n] = values[j]!));
  }
  return out;
}

/** Notes shared by both paths: the sender's TCP retransmissions and each host's UDP receive errors (all since the path was built). */
async function stackNotes(h: [string, string], ep: Endpoints): Promise<string[]> {
  const a = await snmp(ep.a.ns);
  const tcp = `A's TCP: ${a.Tcp?.RetransSegs} segments retransmitted of ${a.Tcp?.OutSegs} sent`;
  const udp: string[] = [];
  for (const [i, ns] of h.entries()) {
    const u = (await snmp(ns)).Udp ?? {};
    udp.push(`H${i + 1}'s UDP: InDatagrams ${u.InDatagrams}, InErrors ${u.InErrors}, RcvbufErrors ${u.RcvbufErrors}, SndbufErrors ${u.SndbufErrors}`);
  }
  for (const [i, ns] of h.entries()) udp.push(`H${i + 1}'s UDP sockets on port ${DSTPORT}: ${await tunnelSockets(ns)}`);
  return [tcp, ...udp];
}

/** The UDP sockets on port DSTPORT in @ns, as `ss -uanm` gives them: local address, receive buffer size and drops. */
async function tunnelSockets(ns: string): Promise<string> {
  const r = await nsExec(ns, ['ss', '-Huanm', 'sport', '=', `:${DSTPORT}`], 10000);
  if (r.code !== 0) return `ss failed: ${r.stderr.trim()}`;
  const socks: string[] = [];
  for (const m of r.stdout.matchAll(/^\S+\s+\d+\s+\d+\s+(\S+)\s+\S+\s*\n?\s*skmem:\(([^)]*)\)/gm)) {
    const mem = Object.fromEntries(m[2]!.split(',').map((kv) => [kv.replace(/\d+$/, ''), kv.replace(/^\D+/, '')]));
    socks.push(`${m[1]} rcvbuf ${mem.rb} B, sndbuf ${mem.tb} B, drops ${mem.d ?? '?'}`);
  }
  return socks.length > 0 ? socks.join('; ') : 'none listed';
}

/** The kernel's VXLAN: in each host a bridge with a vxlan device and a veth pair to the station. */
const kernelVxlan: SectionPathDef = {
  key: 'vx0',
  name: 'kernel-vxlan',
  title: `two Linux vxlan devices (id ${VNI}, dstport ${DSTPORT}, nolearning) on bridges in two host namespaces, veth underlay (MTU ${UNDERLAY_MTU}), stations on veth pairs (MTU ${STATION_MTU})`,
  unavailable: () => (onPath('iperf3') ? null : 'iperf3 not installed'),
  setup: async (ctx) => {
    const { h, ep } = await hosts(ctx);
    const vx = `${ctx.id}vx`;
    const sides = [
      { host: h[0], st: ep.a, port: `${ctx.id}pa`, local: UNDERLAY[0], remote: UNDERLAY[1] },
      { host: h[1], st: ep.b, port: `${ctx.id}pb`, local: UNDERLAY[1], remote: UNDERLAY[0] },
    ];
    for (const x of sides) {
      const br = `${ctx.id}br`;
      await ipIn(x.host, 'link', 'add', br, 'type', 'bridge');
      await ipIn(x.host, 'link', 'add', vx, 'mtu', String(STATION_MTU), 'type', 'vxlan', 'id', String(VNI), 'local', x.local, 'remote', x.remote, 'dstport', String(DSTPORT), 'nolearning');
      await ipIn(x.host, 'link', 'set', vx, 'master', br);
      await ipIn(x.host, 'link', 'set', vx, 'up');
      await addVeth({ ns: x.st.ns, name: x.st.ifname }, { ns: x.host, name: x.port }, STATION_MTU);
      await ipIn(x.host, 'link', 'set', x.port, 'master', br);
      await ipIn(x.host, 'link', 'set', br, 'up');
      await setAddress(x.st.ns, x.st.ifname, x.st.ip);
    }
    await waitReachable(ep.a.ns, ep.b.ip);
    await startIperfServer(ctx.scope, ep);
    return tunnelRig(ctx, ep, async () => [
      `H1's ${vx}: ${await linkCounters(h[0], vx)}`,
      `H2's ${vx}: ${await linkCounters(h[1], vx)}`,
      ...(await stackNotes(h, ep)),
    ]);
  },
};

/** A port of `stats`, as far as read here. */
interface PortStats {
  name: string;
  kind?: string;
  rxPackets: number;
  rxBytes: number;
  txPackets: number;
  txBytes: number;
  drops?: Record<string, number>;
  counters?: Record<string, number>;
  broken?: boolean;
  reason?: string;
}

/** "rx N, tx N, drops ..., counters" of the port named @port of daemon @d. */
async function portCounters(d: Containet, port: string): Promise<string> {
  const st = (await request(d.sock, { stats: {} })) as { ports: PortStats[] };
  const p = st.ports.find((x) => x.name === port);
  if (p === undefined) return `no port ${port} in stats (ports: ${st.ports.map((x) => x.name).join(', ')})`;
  const drops = Object.entries(p.drops ?? {}).filter(([, n]) => n > 0).map(([k, n]) => `${k}=${n}`);
  const other = Object.entries(p.counters ?? {}).map(([k, n]) => `${k}=${n}`);
  return `rx ${packets(p.rxPackets, p.rxBytes)}, tx ${packets(p.txPackets, p.txBytes)}, drops ${drops.join(' ') || 'none'}${other.length > 0 ? `, ${other.join(' ')}` : ''}${p.broken ? `, BROKEN: ${p.reason ?? ''}` : ''}`;
}

/** "inner MTU N, state S" of the port named @port of daemon @d, as `show` says. */
async function portShow(d: Containet, port: string): Promise<string> {
  const show = (await request(d.sock, { show: {} })) as { objects: { name: string; mtu?: number | null; state?: string }[] };
  const o = show.objects.find((x) => x.name === port);
  if (o === undefined) return `no object ${port} in show`;
  return `inner MTU ${o.mtu ?? 'not stated'}, state ${o.state || '-'}`;
}

/** containet: a daemon in each host namespace, the station a vnet tap on its default lan, a vxlan port toward the other host. */
const containetVxlan: SectionPathDef = {
  key: 'vx1',
  name: 'containet-vxlan',
  title: `two containet daemons in two host namespaces, each with a vxlan port (vni ${VNI}, dstport ${DSTPORT}, default inner MTU) toward the other over a veth underlay (MTU ${UNDERLAY_MTU}), stations' vnet taps (offloads on, MTU ${STATION_MTU})`,
  unavailable: () => (onPath('iperf3') ? null : 'iperf3 not installed'),
  setup: async (ctx) => {
    const { h, ep } = await hosts(ctx);
    const port = 'vx';
    const sides = [
      { host: h[0], st: ep.a, node: 'benchA', local: UNDERLAY[0], remote: UNDERLAY[1] },
      { host: h[1], st: ep.b, node: 'benchB', local: UNDERLAY[1], remote: UNDERLAY[0] },
    ];
    const daemons: Containet[] = [];
    for (const [i, x] of sides.entries()) {
      const dir = path.join(ctx.dir, `h${i + 1}`);
      mkdirSync(dir, { mode: 0o700 });
      const d = await startContainet(ctx.scope, dir, [], { netns: x.host });
      daemons.push(d);
      await attachTap(d, { ns: x.st.ns, ip: x.st.ip, vnetHdr: true, nodeid: x.node, mtu: STATION_MTU });
      await request(d.sock, { 'add-vxlan': { name: port, lan: 'lan0', vni: VNI, remotes: [x.remote], local: x.local, dstport: DSTPORT } });
    }
    await waitReachable(ep.a.ns, ep.b.ip);
    await startIperfServer(ctx.scope, ep);
    const shown = await Promise.all(daemons.map((d) => portShow(d, port)));
    return tunnelRig(ctx, ep, async () => [
      `H1's ${port} (${shown[0]}): ${await portCounters(daemons[0]!, port)}`,
      `H2's ${port} (${shown[1]}): ${await portCounters(daemons[1]!, port)}`,
      ...(await stackNotes(h, ep)),
    ]);
  },
};

/** The tunnel section. */
export const TUNNEL_SECTION: SectionDef = {
  key: 'tunnel',
  title: 'VXLAN tunnel',
  figures: [
    { key: 'tcp1', label: 'TCP 1 stream', unit: 'Gbit/s', digits: 2 },
    { key: 'tcp4', label: 'TCP 4 streams', unit: 'Gbit/s', digits: 2 },
    { key: 'p50', label: 'ping p50', unit: 'ms', digits: 3 },
    { key: 'p99', label: 'ping p99', unit: 'ms', digits: 3 },
  ],
  baseline: 'kernel-vxlan',
  paths: [kernelVxlan, containetVxlan],
  reps: (s) => s.reps,
  legend: (s) => [
    `Medians of ${s.reps} repetition(s) of iperf3 -t ${s.seconds} -O ${s.omit} A->B (1 and 4 streams) and of the p50/p99 of ping -c ${s.pings} -i ${s.pingIntervalS} A->B.`,
    `A and B: stations behind hosts H1 and H2 (namespaces) joined by a veth underlay, MTU ${UNDERLAY_MTU}; VXLAN over IPv4, vni ${VNI}, port ${DSTPORT}; stations' MTU ${STATION_MTU}; nothing pinned.`,
  ],
  targets: (paths) => [ratioTarget(paths, 'containet-vxlan', 'kernel-vxlan', 'tcp1', 1.0, 'containet-vxlan TCP 1 stream >= 1.0x kernel-vxlan')],
};
