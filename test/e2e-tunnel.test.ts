/**
 * VXLAN and Geneve tunnels (issue 14, part 4), end to end as root, on one
 * machine: each "host" is a network namespace the test makes, joined to the
 * others by a veth underlay (IPv4 and IPv6 addresses of the test's own, MTU
 * 1600: see UNDERLAY_MTU), with a containet daemon running inside it and
 * containode containers (MTU 1500) on its lans.
 *
 * (a) two daemons: containers ping each other and exchange an 8 MiB random
 *     file both ways (sha256 compared), over an IPv4 and an IPv6 underlay,
 *     with VXLAN and with Geneve; `add c2c` on both sides joins lans of the
 *     same name (the VNI both compute is the same).
 * (b) containet against a Linux vxlan device on a Linux bridge with a
 *     namespace behind it: ping and a transfer both ways, IPv4 and IPv6.
 * (c) containet against an Open vSwitch userspace bridge (datapath netdev)
 *     with a VXLAN port, and with a Geneve port (this kernel has no geneve,
 *     so Geneve interop is against OVS): ping and a transfer both ways.
 * (d) three sites with head-end replication: broadcast frames reach both
 *     other sites; once the station is learned, unicast goes to one only.
 * (e) bad input: crafted datagrams (truncated header, I flag missing, wrong
 *     VNI, inner frame too short, too long), from an address that is not a
 *     remote (dropped and counted; learned with --learn, and traffic then
 *     flows), an unreachable remote: each counted, the daemon up, and a ping
 *     across the tunnel works after each.
 * On the wire (tcpdump -vv on the underlay): outer UDP source ports spread
 * over flows within --srcport-range, --ttl and --tos in the outer header, zero
 * UDP checksums over IPv4, real ones with --udp-csum.
 *
 * Traffic goes only to addresses in namespaces the test made (the
 * "unreachable" remote is one made unroutable in the sending namespace).
 * Underlay veths that a userspace reader (containet, OVS) receives from have
 * transmit checksum offload off where the sender would leave checksums
 * unfinished (see linuxVtep and againstOvs): a veth, unlike a NIC, never
 * finishes them.
 * Every wait is for a condition (a reply, a counter, what tcpdump printed),
 * with generous timeouts for a busy 2-CPU machine.
 */
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import { spawn } from 'node:child_process';

import { collectOutput, isRoot, netns, rootTest, run, startDaemon, stopChild, uniqueName, waitFor, type TestDaemon } from './helpers/env.js';
import {
  UNDERLAY_MTU,
  add,
  alive,
  container,
  etherFrame,
  geneveHeader,
  geneveOption,
  innerNet,
  linuxVtep,
  macOf,
  netnsEndpoint,
  nsExec,
  ovsMissing,
  pingOk,
  portCounters,
  sendFrames,
  sendUdp,
  shown,
  startOvs,
  transfer,
  underlay,
  vni,
  vxlanHeader,
  watchFrames,
  type Endpoint,
  type Host,
  type PortCounters,
} from './helpers/tunnel.js';

type Family = 4 | 6;
type Kind = 'vxlan' | 'geneve';

/** Host @h's underlay address of family @f. */
const ip = (h: Host, f: Family) => (f === 4 ? h.v4 : h.v6);

/** Encapsulation a tunnel of family @f costs an inner frame's payload: outer IP, UDP, the 8-byte VXLAN or Geneve header and the inner ethernet header. */
const overhead = (f: Family) => (f === 4 ? 20 : 40) + 8 + 8 + 14;

/** Names of the counters the tunnel port reports (native/kinds/tunnel/tunnel_port.c tun_info), or of its drop reasons. */
const C = {
  rx: 'rx_datagrams',
  tx: 'tx_datagrams',
  badHeader: 'bad_header',
  badVni: 'bad_vni',
  /** an inner frame shorter than an ethernet header: the port's drop reason "runt" */
  short: 'runt',
  unknownSrc: 'unknown_src',
  tooBig: 'too_big',
  unreachable: 'unreachable',
  flooded: 'flooded',
};

/** A test that needs root and Open vSwitch; skipped with the reason otherwise. */
function ovsTest(title: string, fn: (t: ExecutionContext) => Promise<void>): void {
  const why = isRoot ? ovsMissing() : 'needs root';
  if (why === null) rootTest(title, fn);
  else (anyTest as TestFn).skip(`${title} [skipped: ${why}]`, fn);
}

/** Log the show entry and counters of tunnel @name of @d, prefixed with @who. */
async function logTunnel(t: ExecutionContext, d: TestDaemon, name: string, who: string): Promise<void> {
  const c = await portCounters(d, name);
  t.log(`${who} ${name}: show ${JSON.stringify(await shown(d, name))}; rx ${c.rxPackets} tx ${c.txPackets} counters ${JSON.stringify(c.counters)} drops ${JSON.stringify(Object.fromEntries(Object.entries(c.drops).filter(([, v]) => v > 0)))}`);
}

/** How much counter @name rose from @before to @after. */
const rise = (before: PortCounters, after: PortCounters, name: string) => after.get(name) - before.get(name);

/** Wait until counter @name of tunnel @tn of @d has risen by at least @n since @before; returns the counters then. */
async function counterRises(d: TestDaemon, tn: string, before: PortCounters, name: string, n: number, timeoutMs = 20000): Promise<PortCounters> {
  let last = before;
  await waitFor(
    `${tn}'s ${name} to rise by ${n}`,
    async () => {
      last = await portCounters(d, tn);
      return rise(before, last, name) >= n;
    },
    timeoutMs,
  ).catch(() => undefined);
  return last;
}

// ------------------------------------------------------------------ (a) two daemons

/**
 * Two hosts, a daemon in each with a @kind tunnel to the other over the
 * family-@f underlay; a container on each side; pings both ways and an 8 MiB
 * file each way.
 */
async function twoDaemons(t: ExecutionContext, kind: Kind, f: Family): Promise<void> {
  t.timeout(300000);
  const { hosts } = await underlay(t, 2);
  const [ha, hb] = hosts as [Host, Host];
  const [da, db] = [await startDaemon(t, { netns: ha.ns }), await startDaemon(t, { netns: hb.ns })];
  const id = String(vni());
  const [ta, tb] = [uniqueName('tn'), uniqueName('tn')];
  // IPv6 names its local address (--local), IPv4 leaves it to the route.
  await add(t, da, kind, ta, '--vni', id, '--remote', ip(hb, f), ...(f === 6 ? ['--local', ip(ha, f)] : []));
  await add(t, db, kind, tb, '--vni', id, '--remote', ip(ha, f), ...(f === 6 ? ['--local', ip(hb, f)] : []));
  // The inner MTU defaults to the underlay's minus the encapsulation, and show says so.
  const sa = await shown(da, ta);
  t.like(sa, { type: kind, lan: 'lan0', vni: Number(id) }, JSON.stringify(sa));
  t.is(sa?.mtu, UNDERLAY_MTU - overhead(f), `inner MTU in show: ${JSON.stringify(sa)}`);

  const net = innerNet();
  const ca = await container(t, da, `${net}.1`);
  const cb = await container(t, db, `${net}.2`);
  t.log(`${kind} over IPv${f}, ping A -> B: ${await pingOk(t, ca, cb)}`);
  t.log(`${kind} over IPv${f}, ping B -> A: ${await pingOk(t, cb, ca)}`);
  t.log(await transfer(t, cb, ca));
  t.log(await transfer(t, ca, cb));

  for (const [d, tn, who] of [[da, ta, 'A'], [db, tb, 'B']] as const) {
    const c = await portCounters(d, tn);
    t.true(c.get(C.rx) > 0 && c.get(C.tx) > 0, `${who} ${tn} counted datagrams: ${JSON.stringify(c.counters)}`);
    for (const bad of [C.badHeader, C.badVni, C.unknownSrc, C.tooBig, C.unreachable]) t.is(c.get(bad), 0, `${who} ${tn} ${bad}: ${JSON.stringify(c)}`);
    await logTunnel(t, d, tn, who);
  }
}

rootTest('vxlan (a): two daemons over an IPv4 underlay: containers ping each other and exchange an 8 MiB file both ways', (t) => twoDaemons(t, 'vxlan', 4));
rootTest('vxlan (a): two daemons over an IPv6 underlay: containers ping each other and exchange an 8 MiB file both ways', (t) => twoDaemons(t, 'vxlan', 6));
rootTest('geneve (a): two daemons over an IPv4 underlay: containers ping each other and exchange an 8 MiB file both ways', (t) => twoDaemons(t, 'geneve', 4));

rootTest('c2c (a): `add c2c` on both sides joins lans of the same name (the same VNI derived on both); containers ping and exchange a file', async (t) => {
  t.timeout(300000);
  const { hosts } = await underlay(t, 2);
  const [ha, hb] = hosts as [Host, Host];
  const [da, db] = [await startDaemon(t, { netns: ha.ns }), await startDaemon(t, { netns: hb.ns })];
  const lan = uniqueName('lan');
  const other = uniqueName('lan');
  for (const d of [da, db]) {
    await add(t, d, 'lan', lan);
    await add(t, d, 'lan', other);
  }
  const [ta, tb, to] = [uniqueName('c2c'), uniqueName('c2c'), uniqueName('c2c')];
  await add(t, da, 'c2c', ta, '--lan', lan, '--remote', hb.v4);
  await add(t, db, 'c2c', tb, '--lan', lan, '--remote', ha.v4);
  const [sa, sb] = [await shown(da, ta), await shown(db, tb)];
  t.log(`A ${JSON.stringify(sa)}; B ${JSON.stringify(sb)}`);
  t.is(typeof sa?.vni, 'number', JSON.stringify(sa));
  t.is(sa?.vni, sb?.vni, 'both sides derive the same VNI from the lan name');
  t.like(sa, { lan }, JSON.stringify(sa));
  // Another lan name gives another VNI (a second tunnel needs a UDP endpoint of its own: another dstport).
  await add(t, da, 'c2c', to, '--lan', other, '--remote', hb.v4, '--dstport', '4790');
  t.not((await shown(da, to))?.vni, sa?.vni, 'a different lan name derives a different VNI');

  const net = innerNet();
  const ca = await container(t, da, `${net}.1`, lan);
  const cb = await container(t, db, `${net}.2`, lan);
  t.log(`c2c ping A -> B: ${await pingOk(t, ca, cb)}`);
  t.log(`c2c ping B -> A: ${await pingOk(t, cb, ca)}`);
  t.log(await transfer(t, cb, ca, 2 << 20));
  await logTunnel(t, da, ta, 'A');
});

// ------------------------------------------------------------------ (b) Linux vxlan

/** containet in host A against a Linux vxlan device on a bridge in host B, over the family-@f underlay. */
async function againstLinux(t: ExecutionContext, f: Family, offload = false): Promise<void> {
  t.timeout(300000);
  const { hosts } = await underlay(t, 2);
  const [ha, hb] = hosts as [Host, Host];
  const da = await startDaemon(t, { netns: ha.ns });
  const id = vni();
  const ta = uniqueName('tn');
  await add(t, da, 'vxlan', ta, '--vni', String(id), '--remote', ip(hb, f));
  const net = innerNet();
  const lx = await linuxVtep(t, hb, { vni: id, remote: ip(ha, f), local: ip(hb, f), addr: `${net}.2`, offload });
  const ca = await container(t, da, `${net}.1`);
  t.log(`IPv${f} container -> Linux: ${await pingOk(t, ca, lx)}`);
  t.log(`IPv${f} Linux -> container: ${await pingOk(t, lx, ca)}`);
  t.log(await transfer(t, lx, ca));
  t.log(await transfer(t, ca, lx));
  // The Linux side learned the container's MAC behind host A's address.
  const fdb = await nsExec(hb.ns, ['bridge', 'fdb', 'show', 'dev', lx.vx]);
  t.regex(fdb.stdout, new RegExp(`dst ${ip(ha, f).replace(/\./g, '\\.')}`), fdb.stdout);
  const c = await portCounters(da, ta);
  for (const bad of [C.badHeader, C.badVni, C.unknownSrc, C.tooBig]) t.is(c.get(bad), 0, `${bad}: ${JSON.stringify(c)}`);
  // With offloads on, Linux's 64 KB segments cross the veth uncut and come out of the socket whole.
  if (offload) t.true(c.get('uncut_in') > 0, `uncut segments taken: ${JSON.stringify(c.counters)}`);
  await logTunnel(t, da, ta, 'A');
}

rootTest('vxlan (b): against a Linux vxlan device on a bridge over IPv4: ping and an 8 MiB file both ways', (t) => againstLinux(t, 4));
rootTest('vxlan (b): against a Linux vxlan device on a bridge over IPv6: ping and an 8 MiB file both ways', (t) => againstLinux(t, 6));
rootTest('vxlan (b): against a Linux vxlan device whose host leaves checksums to the hardware (veth tx offload on): its unfinished TCP checksums are taken as such; ping and an 8 MiB file both ways', (t) => againstLinux(t, 4, true));

// ------------------------------------------------------------------ (c) Open vSwitch

/**
 * containet in host A against an Open vSwitch in host B (userspace datapath):
 * B's underlay veth is a port of bridge "phy" that holds B's address (OVS's
 * userspace tunnels send and receive through a bridge with the address, on
 * the route OVS caches from the kernel's and the neighbor it is told of);
 * bridge "int" has the @kind port to A and a veth to a namespace behind it.
 */
async function againstOvs(t: ExecutionContext, kind: Kind): Promise<void> {
  t.timeout(300000);
  const { hosts, net4 } = await underlay(t, 2);
  const [ha, hb] = hosts as [Host, Host];
  const ovs = await startOvs(t, hb.ns);
  // The netdev datapath reads veths with AF_PACKET, no checksum offload
  // (no userspace TSO): what it reads must carry finished checksums, so the
  // veths toward it have transmit checksum offload off (as MACHINE.md says
  // for TCP over a netdev bridge). Host A's matters: containet's UDP GSO
  // datagrams carry UDP checksums (Linux refuses UDP GSO without), which the
  // kernel leaves to "the hardware" on a veth with offload on; OVS then finds
  // them wrong and drops them (seen: every transfer container -> OVS stalled).
  await run('ip', ['netns', 'exec', ha.ns, 'ethtool', '-K', ha.dev, 'tx', 'off']);
  const phy = uniqueName('ophy');
  const int = uniqueName('oint');
  await run('ip', ['-n', hb.ns, 'addr', 'flush', 'dev', hb.dev]);
  await ovs.vsctl('add-br', phy, '--', 'set', 'bridge', phy, 'datapath_type=netdev', '--', 'add-port', phy, hb.dev);
  await ovs.vsctl('set', 'interface', phy, `mtu_request=${UNDERLAY_MTU}`);
  await waitFor(`OVS's ${phy} device`, async () => (await nsExec(hb.ns, ['ip', 'link', 'show', phy])).exitCode === 0, 30000);
  await run('ip', ['-n', hb.ns, 'addr', 'add', `${hb.v4}/24`, 'dev', phy]);
  await run('ip', ['-n', hb.ns, 'link', 'set', phy, 'up']);
  const routed = await waitFor('OVS to cache the route to the underlay', async () => (await ovs.appctl('ovs/route/show')).includes(`dev ${phy}`), 10000).catch(() => false);
  if (!routed) await ovs.appctl('ovs/route/add', `${hb.v4}/24`, phy);
  await ovs.appctl('tnl/arp/set', phy, ha.v4, await macOf(ha.ns, ha.dev));

  const id = vni();
  const net = innerNet();
  const bns = await netns(t, 'tnb');
  const vb = uniqueName('vb');
  await run('ip', ['-n', hb.ns, 'link', 'add', vb, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', bns]);
  await run('ip', ['-n', hb.ns, 'link', 'set', vb, 'up']);
  await run('ip', ['-n', bns, 'link', 'set', 'lo', 'up']);
  await run('ip', ['-n', bns, 'addr', 'add', `${net}.2/24`, 'dev', 'eth0']);
  await run('ip', ['-n', bns, 'link', 'set', 'eth0', 'up']);
  await run('ip', ['netns', 'exec', bns, 'ethtool', '-K', 'eth0', 'tx', 'off']);
  const tun = uniqueName('otun');
  await ovs.vsctl(
    'add-br', int, '--', 'set', 'bridge', int, 'datapath_type=netdev',
    '--', 'add-port', int, vb,
    '--', 'add-port', int, tun, '--', 'set', 'interface', tun, `type=${kind}`, `options:remote_ip=${ha.v4}`, `options:key=${id}`,
  );
  t.log(`OVS ${kind} port: ${await ovs.vsctl('list', 'interface', tun).then((s) => s.split('\n').filter((l) => /^(options|status|error|ofport)\s/.test(l)).join('; '))}`);

  const da = await startDaemon(t, { netns: ha.ns });
  const ta = uniqueName('tn');
  await add(t, da, kind, ta, '--vni', String(id), '--remote', hb.v4);
  const ca = await container(t, da, `${net}.1`);
  const ob = { ...netnsEndpoint(bns, `${net}.2`), label: `namespace ${bns} behind OVS ${kind}` };
  try {
    t.log(`container -> OVS ${kind}: ${await pingOk(t, ca, ob, 60000)}`);
    t.log(`OVS ${kind} -> container: ${await pingOk(t, ob, ca)}`);
    t.log(await transfer(t, ob, ca));
    t.log(await transfer(t, ca, ob));
  } finally {
    t.log(`OVS route: ${(await ovs.appctl('ovs/route/show').catch((e: Error) => e.message)).split('\n').filter((l) => l.includes(net4)).join('; ')}`);
    await logTunnel(t, da, ta, 'A');
  }
  const c = await portCounters(da, ta);
  for (const bad of [C.badHeader, C.badVni, C.unknownSrc, C.tooBig]) t.is(c.get(bad), 0, `${bad}: ${JSON.stringify(c)}`);
}

ovsTest('vxlan (c): against an Open vSwitch userspace bridge with a VXLAN port: ping and an 8 MiB file both ways', (t) => againstOvs(t, 'vxlan'));
ovsTest('geneve (c): against an Open vSwitch userspace bridge with a Geneve port: ping and an 8 MiB file both ways', (t) => againstOvs(t, 'geneve'));

// ------------------------------------------------------------------ (d) three sites

rootTest('vxlan (d): three sites: broadcast reaches both others (head-end replication); a learned station\'s unicast goes to its site only', async (t) => {
  t.timeout(300000);
  const { hosts } = await underlay(t, 3);
  const id = String(vni());
  const net = innerNet();
  const ds: TestDaemon[] = [];
  const tns: string[] = [];
  const cs: Endpoint[] = [];
  for (const h of hosts) {
    const d = await startDaemon(t, { netns: h.ns });
    const tn = uniqueName('tn');
    const remotes = hosts.filter((o) => o !== h).flatMap((o) => ['--remote', o.v4]);
    await add(t, d, 'vxlan', tn, '--vni', id, ...remotes);
    ds.push(d);
    tns.push(tn);
  }
  for (const [i, d] of ds.entries()) {
    const c = await container(t, d, `${net}.${i + 1}`);
    // No IPv6 in the containers: no router solicitations or MLD reports to count among the test's frames.
    await c.exec(['sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1', 'net.ipv6.conf.eth0.disable_ipv6=1']);
    cs.push(c);
  }
  const [c1, c2, c3] = cs as [Endpoint, Endpoint, Endpoint];
  const [d1, d2, d3] = ds as [TestDaemon, TestDaemon, TestDaemon];
  const [t1, t2, t3] = tns as [string, string, string];
  const BCAST = 0x88b5;
  const UCAST = 0x88b6;
  const END = 0x88b7;
  const w2 = await watchFrames(t, c2, [BCAST, UCAST, END]);
  const w3 = await watchFrames(t, c3, [BCAST, UCAST, END]);

  // Broadcast: every frame reaches both other sites, sent once to each remote.
  const NB = 5;
  let before = await portCounters(d1, t1);
  await sendFrames(c1, 'ff:ff:ff:ff:ff:ff', BCAST, NB, 'broadcast');
  await waitFor('both other sites to see the broadcasts', () => w2.count(BCAST) >= NB && w3.count(BCAST) >= NB, 30000).catch(() => undefined);
  t.is(w2.count(BCAST), NB, `site 2: ${w2.output()}`);
  t.is(w3.count(BCAST), NB, `site 3: ${w3.output()}`);
  let after = await counterRises(d1, t1, before, C.tx, 2 * NB);
  t.true(rise(before, after, C.tx) >= 2 * NB, `site 1 sent each broadcast to both remotes: ${C.tx} +${rise(before, after, C.tx)}`);
  if (C.flooded in after.counters) t.true(rise(before, after, C.flooded) >= NB, `${C.flooded} +${rise(before, after, C.flooded)}`);
  t.log(`broadcast x${NB}: site 1 ${C.tx} +${rise(before, after, C.tx)}, ${C.flooded} +${rise(before, after, C.flooded)}`);

  // Unicast to a station learned behind site 2: site 2 alone gets it.
  t.log(`ping 1 -> 2: ${await pingOk(t, c1, c2)}`);
  const mac2 = /link\/ether ([0-9a-f:]{17})/.exec((await c2.exec(['ip', '-o', 'link', 'show', 'eth0'])).stdout)![1]!;
  const NU = 20;
  before = await portCounters(d1, t1);
  const rx2 = await portCounters(d2, t2);
  const rx3 = await portCounters(d3, t3);
  await sendFrames(c1, mac2, UCAST, NU, 'unicast');
  // A broadcast after them: once site 3 has it, any unicast sent there would have arrived before it.
  await sendFrames(c1, 'ff:ff:ff:ff:ff:ff', END, 1, 'end');
  await waitFor('site 2 to see the unicast frames and both sites the end marker', () => w2.count(UCAST) >= NU && w2.count(END) >= 1 && w3.count(END) >= 1, 30000).catch(() => undefined);
  t.is(w2.count(UCAST), NU, `site 2: ${w2.output()}`);
  t.is(w3.count(END), 1, `site 3: ${w3.output()}`);
  t.is(w3.count(UCAST), 0, `site 3 saw unicast frames for site 2: ${w3.output()}`);
  after = await portCounters(d1, t1);
  const sent = rise(before, after, C.tx);
  t.true(sent >= NU + 2 && sent < 2 * NU, `site 1 sent the unicast frames once each (${C.tx} +${sent}; flooding would be +${2 * NU + 2})`);
  const got2 = rise(rx2, await portCounters(d2, t2), C.rx);
  const got3 = rise(rx3, await portCounters(d3, t3), C.rx);
  t.true(got2 >= NU + 1, `site 2 ${C.rx} +${got2}`);
  t.true(got3 < NU, `site 3 ${C.rx} +${got3}: the unicast frames went there too`);
  t.log(`unicast x${NU} + 1 broadcast: site 1 ${C.tx} +${sent}, site 2 ${C.rx} +${got2}, site 3 ${C.rx} +${got3}`);
  for (const [i, d] of ds.entries()) await logTunnel(t, d, tns[i]!, `site ${i + 1}`);
});

// ------------------------------------------------------------------ (e) bad input

/**
 * Host A: a daemon with a VXLAN tunnel (VNI @id, inner MTU @mtu, @extra) to
 * host B, where a Linux vxlan device on a bridge has a namespace behind it;
 * host C is a third host on the underlay, not a remote. A container on A
 * pings B's namespace before this returns.
 */
async function badInputRig(t: ExecutionContext, extra: string[] = []) {
  t.timeout(300000);
  const u = await underlay(t, 3);
  const [ha, hb, hc] = u.hosts as [Host, Host, Host];
  const d = await startDaemon(t, { netns: ha.ns });
  const id = vni();
  // The container's MTU, given: frames up to MTU + 18 bytes, and too long ones, fit the underlay unfragmented.
  const mtu = 1500;
  const tn = uniqueName('tn');
  await add(t, d, 'vxlan', tn, '--vni', String(id), '--remote', hb.v4, '--mtu', String(mtu), ...extra);
  const net = innerNet();
  const lx = await linuxVtep(t, hb, { vni: id, remote: ha.v4, local: hb.v4, addr: `${net}.2` });
  const ca = await container(t, d, `${net}.1`);
  t.log(`before: ${await pingOk(t, ca, lx)}`);
  return { u, ha, hb, hc, d, id, mtu, tn, net, lx, ca };
}

/** A crafted case: what it is, its datagrams, the counter each of them must raise by one. */
interface BadCase {
  what: string;
  datagrams: Buffer[];
  counter: string;
}

/**
 * Send each case's datagrams from host @from (a remote of tunnel @tn of
 * daemon @d, in host @to) to UDP port @port; the case's counter must rise by
 * exactly their number, the daemon answer, and @pingFrom still ping @pingTo
 * across the tunnel.
 */
async function badCases(t: ExecutionContext, d: TestDaemon, tn: string, from: Host, to: Host, port: number, cases: BadCase[], pingFrom: Endpoint, pingTo: Endpoint): Promise<void> {
  for (const c of cases) {
    const before = await portCounters(d, tn);
    await sendUdp(from.ns, from.v4, to.v4, port, c.datagrams);
    const after = await counterRises(d, tn, before, c.counter, c.datagrams.length);
    t.is(rise(before, after, c.counter), c.datagrams.length, `${c.what}: ${c.counter} rose by ${rise(before, after, c.counter)}; counters ${JSON.stringify(after.counters)} drops ${JSON.stringify(after.drops)}`);
    await alive(t, d, c.what);
    t.log(`${c.what}: ${c.counter} +${rise(before, after, c.counter)}; then ${await pingOk(t, pingFrom, pingTo)}`);
  }
}

rootTest('vxlan (e): malformed datagrams are dropped and counted, each by its reason; the daemon stays up and the tunnel carries on', async (t) => {
  const { ha, hb, d, id, mtu, tn, lx, ca } = await badInputRig(t);
  const src = '02:00:00:00:e0:01';
  const frame = (len: number) => etherFrame('ff:ff:ff:ff:ff:ff', src, 0x88b5, len);
  const cases: BadCase[] = [
    { what: 'a VXLAN header cut short (4 bytes, and 7)', datagrams: [vxlanHeader(id).subarray(0, 4), vxlanHeader(id).subarray(0, 7)], counter: C.badHeader },
    { what: 'the I flag missing', datagrams: [Buffer.concat([vxlanHeader(id, 0x00), frame(60)])], counter: C.badHeader },
    { what: 'a wrong VNI', datagrams: [Buffer.concat([vxlanHeader(id === 1 ? 2 : id - 1), frame(60)]), Buffer.concat([vxlanHeader((id + 7) % 0xffffff), frame(60)])], counter: C.badVni },
    { what: 'an inner frame shorter than an ethernet header (10 bytes, and none)', datagrams: [Buffer.concat([vxlanHeader(id), frame(14).subarray(0, 10)]), vxlanHeader(id)], counter: C.short },
    { what: `an inner frame longer than the MTU + 18 (${mtu + 19} and ${mtu + 40} bytes)`, datagrams: [Buffer.concat([vxlanHeader(id), frame(mtu + 19)]), Buffer.concat([vxlanHeader(id), frame(mtu + 40)])], counter: C.tooBig },
  ];
  await badCases(t, d, tn, hb, ha, 4789, cases, ca, lx);

  // A frame of exactly MTU + 18 (VLAN-tagged, full size) is taken; one byte more is not.
  const before = await portCounters(d, tn);
  const tagged = Buffer.concat([vxlanHeader(id), etherFrame('ff:ff:ff:ff:ff:ff', src, 0x8100, mtu + 18, '\x00\x0a\x88\xb5containet-tagged')]);
  await sendUdp(hb.ns, hb.v4, ha.v4, 4789, [tagged, Buffer.concat([vxlanHeader(id), frame(mtu + 19)])]);
  const after = await counterRises(d, tn, before, C.tooBig, 1);
  t.is(rise(before, after, C.tooBig), 1, `only the frame longer than MTU + 18 is too big: ${JSON.stringify(after)}`);
  await alive(t, d, 'a full-size tagged frame');
  await logTunnel(t, d, tn, 'A');
});

rootTest('geneve (e): malformed Geneve datagrams are dropped and counted (short, options past the end, version, protocol, critical options, OAM, wrong VNI); options are skipped', async (t) => {
  t.timeout(300000);
  const { hosts } = await underlay(t, 2);
  const [ha, hb] = hosts as [Host, Host];
  const [da, db] = [await startDaemon(t, { netns: ha.ns }), await startDaemon(t, { netns: hb.ns })];
  const id = vni();
  const [ta, tb] = [uniqueName('tn'), uniqueName('tn')];
  await add(t, da, 'geneve', ta, '--vni', String(id), '--remote', hb.v4);
  await add(t, db, 'geneve', tb, '--vni', String(id), '--remote', ha.v4);
  const net = innerNet();
  const ca = await container(t, da, `${net}.1`);
  const cb = await container(t, db, `${net}.2`);
  t.log(`before: ${await pingOk(t, ca, cb)}`);
  const frame = (type = 0x88b5) => etherFrame('ff:ff:ff:ff:ff:ff', '02:00:00:00:e0:03', type, 60);
  const opt = geneveOption(0x0102, 0x01, Buffer.from('containet-opt...'));
  const cases: BadCase[] = [
    { what: 'a Geneve header cut short (6 bytes)', datagrams: [geneveHeader(id).subarray(0, 6)], counter: C.badHeader },
    { what: 'options longer than the datagram', datagrams: [Buffer.concat([geneveHeader(id, { optWords: 63 }), frame()])], counter: C.badHeader },
    { what: 'version 1', datagrams: [Buffer.concat([geneveHeader(id, { ver: 1 }), frame()])], counter: C.badHeader },
    { what: 'a protocol other than ethernet (IPv4)', datagrams: [Buffer.concat([geneveHeader(id, { proto: 0x0800 }), frame()])], counter: C.badHeader },
    { what: 'critical options (C bit)', datagrams: [Buffer.concat([geneveHeader(id, { critical: true, options: opt }), frame()])], counter: C.badHeader },
    { what: 'an OAM packet (O bit)', datagrams: [Buffer.concat([geneveHeader(id, { oam: true }), frame()])], counter: 'oam' },
    { what: 'a wrong VNI', datagrams: [Buffer.concat([geneveHeader(id === 1 ? 2 : id - 1), frame()])], counter: C.badVni },
    { what: 'an inner frame shorter than an ethernet header', datagrams: [Buffer.concat([geneveHeader(id, { options: opt }), frame().subarray(0, 13)])], counter: C.short },
  ];
  await badCases(t, da, ta, hb, ha, 6081, cases, ca, cb);

  // A frame behind a (non-critical) option is taken: the option skipped, the frame on the lan.
  const w = await watchFrames(t, ca, [0x88b6]);
  const before = await portCounters(da, ta);
  await sendUdp(hb.ns, hb.v4, ha.v4, 6081, [Buffer.concat([geneveHeader(id, { options: opt }), frame(0x88b6)])]);
  await waitFor('the frame behind an option to reach the container', () => w.count(0x88b6) >= 1, 20000).catch(() => undefined);
  t.is(w.count(0x88b6), 1, w.output());
  const after = await portCounters(da, ta);
  for (const bad of [C.badHeader, C.badVni, C.short, 'oam']) t.is(rise(before, after, bad), 0, `${bad} rose for a good datagram with an option`);
  await logTunnel(t, da, ta, 'A');
});

rootTest('vxlan (e): datagrams from an address that is not a remote are dropped and counted; with --learn the sender is learned and traffic flows', async (t) => {
  const { ha, hb, hc, d, id, tn, net, lx, ca } = await badInputRig(t);
  const frame = Buffer.concat([vxlanHeader(id), etherFrame('ff:ff:ff:ff:ff:ff', '02:00:00:00:e0:02', 0x88b5, 60)]);
  let before = await portCounters(d, tn);
  await sendUdp(hc.ns, hc.v4, ha.v4, 4789, [frame, frame, frame]);
  let after = await counterRises(d, tn, before, C.unknownSrc, 3);
  t.is(rise(before, after, C.unknownSrc), 3, `${C.unknownSrc}: ${JSON.stringify(after)}`);
  await alive(t, d, 'datagrams from a stranger');
  await pingOk(t, ca, lx);

  // A Linux vxlan device on host C, which A does not know: its traffic is dropped.
  const lc = await linuxVtep(t, hc, { vni: id, remote: ha.v4, local: hc.v4, addr: `${net}.3` });
  before = await portCounters(d, tn);
  const p = await lc.exec(['ping', '-c', '3', '-i', '0.3', '-W', '1', ca.addr]);
  t.not(p.exitCode, 0, `a host that is not a remote reached the container: ${p.stdout}`);
  after = await counterRises(d, tn, before, C.unknownSrc, 1);
  t.true(rise(before, after, C.unknownSrc) >= 1, `${C.unknownSrc} +${rise(before, after, C.unknownSrc)}`);
  await alive(t, d, 'traffic from a host that is not a remote');

  // The same tunnel again with --learn: host C is learned as a remote, and traffic flows both ways.
  let r = await d.cli('del', tn);
  t.is(r.exitCode, 0, r.stderr);
  await add(t, d, 'vxlan', tn, '--vni', String(id), '--remote', hb.v4, '--mtu', '1500', '--learn');
  before = await portCounters(d, tn);
  t.log(`learned: ${await pingOk(t, lc, ca)}`);
  t.log(`to the learned host: ${await pingOk(t, ca, lc)}`);
  t.log(`to the configured remote: ${await pingOk(t, ca, lx)}`);
  after = await portCounters(d, tn);
  t.is(rise(before, after, C.unknownSrc), 0, `with --learn nothing is dropped as unknown: ${JSON.stringify(after)}`);
  t.is(after.get('learned_remotes'), 1, `host C learned once: ${JSON.stringify(after.counters)}`);
  t.regex(String((await shown(d, tn))?.state), /\b2 remotes\b.*learning/);
  t.log(await transfer(t, lc, ca, 2 << 20));
  await logTunnel(t, d, tn, 'A');
  r = await d.cli('show');
  t.log(r.stdout);
});

rootTest('vxlan (e): a remote that cannot be reached (no listener; then routed nowhere) counts errors while the other remote forwards on', async (t) => {
  t.timeout(300000);
  const u = await underlay(t, 3);
  const [ha, hb, hc] = u.hosts as [Host, Host, Host];
  const d = await startDaemon(t, { netns: ha.ns });
  const id = vni();
  const tn = uniqueName('tn');
  // Host C is on the underlay with nothing listening on 4789: it answers ICMP port unreachable.
  await add(t, d, 'vxlan', tn, '--vni', String(id), '--remote', hb.v4, '--remote', hc.v4);
  const net = innerNet();
  const lx = await linuxVtep(t, hb, { vni: id, remote: ha.v4, local: hb.v4, addr: `${net}.2` });
  const ca = await container(t, d, `${net}.1`);
  t.log(`with a remote that does not listen: ${await pingOk(t, ca, lx)}`);
  await sendFrames(ca, 'ff:ff:ff:ff:ff:ff', 0x88b5, 10, 'flood');
  await alive(t, d, 'floods to a remote that does not listen');
  t.log(`after floods to a remote that does not listen: ${await pingOk(t, ca, lx)}`);
  await logTunnel(t, d, tn, 'A');

  // Now routed nowhere from host A: sending there fails at once.
  await run('ip', ['-n', ha.ns, 'route', 'add', 'unreachable', `${hc.v4}/32`]);
  const before = await portCounters(d, tn);
  await sendFrames(ca, 'ff:ff:ff:ff:ff:ff', 0x88b5, 10, 'flood');
  const after = await counterRises(d, tn, before, C.unreachable, 1);
  t.true(rise(before, after, C.unreachable) >= 1, `${C.unreachable} +${rise(before, after, C.unreachable)}: ${JSON.stringify(after)}`);
  await alive(t, d, 'floods to a remote routed nowhere');
  t.log(`with a remote routed nowhere: ${await pingOk(t, ca, lx)}`);
  t.log(await transfer(t, lx, ca, 2 << 20));
  await logTunnel(t, d, tn, 'A');
});

// ------------------------------------------------------------------ on the wire

/**
 * What host @h sends to UDP port 4789, as tcpdump -vv prints it, while @fn
 * runs: one entry per datagram, its IPv4 header's line and its UDP line.
 */
async function onTheWire(t: ExecutionContext, h: Host, fn: () => Promise<void>): Promise<{ ip: string; udp: string }[]> {
  const td = spawn('ip', ['netns', 'exec', h.ns, 'tcpdump', '-i', h.dev, '-nn', '-vv', '-l', '-Q', 'out', `udp and dst port 4789 and src host ${h.v4}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  const out = collectOutput(td);
  t.teardown(() => stopChild(td));
  await out.until('tcpdump to listen', () => /listening on/.test(out.output()), 30000);
  await fn();
  // tcpdump prints each datagram as it comes (-l); one still in its socket
  // when it stops is not counted, which the callers' bounds allow.
  await stopChild(td);
  const lines = out.stdout().split('\n');
  const got: { ip: string; udp: string }[] = [];
  for (let i = 0; i + 1 < lines.length; i++) if (/^\d.*IP \(/.test(lines[i]!)) got.push({ ip: lines[i]!, udp: lines[i + 1]!.trim() });
  return got;
}

rootTest('vxlan on the wire: outer source ports from a hash of the inner flow within --srcport-range, --ttl and --tos set, zero UDP checksums over IPv4 (real ones with --udp-csum)', async (t) => {
  t.timeout(300000);
  const { hosts } = await underlay(t, 2);
  const [ha, hb] = hosts as [Host, Host];
  // Checksums computed before tcpdump sees them (not left to "the hardware").
  await run('ip', ['netns', 'exec', ha.ns, 'ethtool', '-K', ha.dev, 'tx', 'off']);
  const [da, db] = [await startDaemon(t, { netns: ha.ns }), await startDaemon(t, { netns: hb.ns })];
  const id = String(vni());
  const [ta, tb] = [uniqueName('tn'), uniqueName('tn')];
  await add(t, da, 'vxlan', ta, '--vni', id, '--remote', hb.v4, '--srcport-range', '40000-40015', '--ttl', '9', '--tos', '0x10');
  await add(t, db, 'vxlan', tb, '--vni', id, '--remote', ha.v4);
  const net = innerNet();
  const ca = await container(t, da, `${net}.1`);
  const cb = await container(t, db, `${net}.2`);
  await pingOk(t, ca, cb);

  // Eight TCP connections (each fetch a flow of its own) and a ping.
  const sent = await onTheWire(t, ha, async () => {
    for (let i = 0; i < 8; i++) await transfer(t, cb, ca, 64 << 10);
    await pingOk(t, ca, cb);
  });
  t.true(sent.length >= 16, `datagrams seen: ${sent.length}`);
  const ports = new Set<number>();
  for (const d of sent) {
    t.regex(d.ip, /tos 0x10, ttl 9,/, d.ip);
    const m = /\.(\d+) > [\d.]+\.4789: \[([^\]]+)\]/.exec(d.udp);
    t.truthy(m, d.udp);
    if (!m) continue;
    const port = Number(m[1]);
    t.true(port >= 40000 && port <= 40015, `source port ${port} within 40000-40015: ${d.udp}`);
    ports.add(port);
    t.is(m[2], 'no cksum', `a single datagram over IPv4 goes with a zero checksum: ${d.udp}`);
  }
  t.true(ports.size >= 2, `eight flows spread over source ports ${[...ports].join(', ')}`);
  t.log(`${sent.length} datagrams from A, source ports ${[...ports].sort().join(', ')}`);

  // --udp-csum: the same datagrams with their checksums.
  t.is((await da.cli('del', ta)).exitCode, 0);
  await add(t, da, 'vxlan', ta, '--vni', id, '--remote', hb.v4, '--udp-csum');
  const summed = await onTheWire(t, ha, async () => {
    await pingOk(t, ca, cb);
  });
  t.true(summed.length >= 1, `datagrams seen: ${summed.length}`);
  for (const d of summed) t.regex(d.udp, /\[udp sum ok\]/, d.udp);
});

