/**
 * OVS lans end to end, with a real Open vSwitch (Debian's
 * openvswitch-switch-dpdk, without hugepages) and real DPDK testpmd: the
 * daemon runs in a network namespace the test made, with a private OVS-DPDK
 * (--ovs-rundir), so OVS's taps are in that namespace. Two testpmd frontends on
 * OVS vhost ports exchange traffic; a container on the containet side pings a
 * testpmd on the OVS side across the join; a dpdk port on a net_af_packet vdev
 * whose kernel side is a veth end in another namespace; OVS killed under
 * traffic is reported and nothing is left behind; bad input is refused with
 * OVS's reason. OVS's own state is read with `ovs-vsctl --format=json`.
 */
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

import { dpdkPrefix, privateOvsMissing } from '../src/ovs/instance.js';
import { decodeTable, type OvsRecord } from '../src/ovs/vsctl.js';
import { cliWords, inNetns, isRoot, netns, pipeline, run, startDaemon, stopChild, tempDir, uniqueName, waitFor, type TestDaemon } from './helpers/env.js';
import { shell, shellContainer } from './helpers/containers.js';
import { testpmd, whyNoTestpmd } from './helpers/peers.js';

/** Why these tests cannot run here, or undefined. */
function whyNot(): string | undefined {
  if (!isRoot) return 'needs root';
  return privateOvsMissing() ?? whyNoTestpmd();
}

/** A serial test, or a skipped one saying what is missing. */
function ovsTest(title: string, fn: (t: ExecutionContext) => Promise<void>): void {
  const why = whyNot();
  if (why === undefined) (anyTest as TestFn).serial(title, fn);
  else (anyTest as TestFn).skip(`${title} [skipped: ${why}]`, fn);
}

/** A daemon with a private OVS in a namespace of the test's own. */
interface OvsRig {
  d: TestDaemon;
  /** the daemon's (and OVS's) network namespace */
  ns: string;
  /** the OVS run directory */
  rundir: string;
  dir: string;
  /** ovs-vsctl against its database */
  vsctl(...args: string[]): Promise<string>;
  /** Table @table as records (`--format=json list`). */
  list(table: string): Promise<OvsRecord[]>;
}

/** Start a daemon with a private OVS (@extra: more daemon options) in a new
 *  namespace, or in @reuse's namespace and directories (a restart). */
async function ovsRig(t: ExecutionContext, extra: string[] = [], reuse?: OvsRig): Promise<OvsRig> {
  const ns = reuse?.ns ?? (await netns(t, 'ctnovs'));
  if (!reuse) await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  const dir = reuse?.dir ?? tempDir(t);
  const rundir = path.join(dir, 'ovs');
  const d = await startDaemon(t, { netns: ns, args: ['--ovs-rundir', rundir, ...extra] });
  const vsctl = (...args: string[]) => run('ovs-vsctl', [`--db=unix:${path.join(rundir, 'db.sock')}`, '--timeout=20', ...args]);
  return { d, ns, rundir, dir, vsctl, list: async (table) => decodeTable(await vsctl('--format=json', 'list', table)) };
}

/** `containet add ...`, asserted to succeed. */
async function add(t: ExecutionContext, d: TestDaemon, ...args: string[]): Promise<void> {
  const r = await d.cli('add', ...args);
  t.is(r.exitCode, 0, `add ${args.join(' ')}: ${r.stderr}`);
}

/** Port @name's entry in show. */
async function shownPort(d: TestDaemon, name: string): Promise<Record<string, unknown> | undefined> {
  const r = (await d.request({ show: {} })) as { objects: Record<string, unknown>[] };
  return r.objects.find((o) => o.name === name);
}

/** Port @name's counters. */
async function counters(d: TestDaemon, name: string) {
  const r = (await d.request({ stats: { name } })) as { ports: { rxPackets: number | null; txPackets: number | null; type: string; counters?: Record<string, number> }[] };
  return r.ports[0]!;
}

/** Devices of namespace @ns. */
async function links(ns: string): Promise<string[]> {
  const r = await inNetns(ns, ['ip', '-o', 'link', 'show']);
  return r.stdout.split('\n').map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1] ?? '').filter(Boolean);
}

/** The pid in @rundir/@name.pid. */
function pidOf(rundir: string, name: string): number {
  return Number(readFileSync(path.join(rundir, `${name}.pid`), 'utf8').trim());
}

/** True when process @pid is there and not a zombie. */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) [ZX]/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** Stop the daemon and check that nothing of OVS is left: its processes,
 *  its taps, DPDK's runtime files, its run files (the logs stay). */
async function stopAndCheckClean(t: ExecutionContext, rig: OvsRig, pids: number[]): Promise<void> {
  await stopChild(rig.d.child, 25000);
  t.regex(rig.d.log(), /Open vSwitch in .* stopped/);
  for (const pid of pids) t.false(alive(pid), `OVS process ${pid} is gone`);
  const left = (await links(rig.ns)).filter((l) => l === 'ovs-netdev' || l.startsWith('_b_'));
  t.deepEqual(left, [], 'no ovs-netdev tap, no bridge tap');
  t.false(existsSync(path.join('/var/run/dpdk', dpdkPrefix(rig.rundir))), 'no DPDK runtime files');
  const files = readdirSync(rig.rundir).filter((f) => !f.endsWith('.log'));
  t.deepEqual(files, [], `only logs in the run directory: ${files.join(' ')}`);
}

/** A daemon with OVS lan @lan, a vhost port @port on it served by a testpmd
 *  answering pings (icmpecho, as 10.x.0.99 of any subnet), and a container at
 *  @ip on the lan. */
async function echoLan(t: ExecutionContext, lan: string, ip: string, port = 'echo') {
  const rig = await ovsRig(t);
  await add(t, rig.d, 'lan', lan, '--ovs');
  const sock = path.join(rig.dir, `${lan}.sock`);
  await add(t, rig.d, 'vhost', port, '--lan', lan, '--socket', sock);
  const pmd = await testpmd(t, { socket: sock, mode: 'icmpecho' });
  await pmd.ready;
  const c = await shellContainer(t, rig.d, ip, ['-l', lan]);
  return { rig, d: rig.d, pmd, c };
}

ovsTest('an OVS lan: its bridge and join in OVS; two testpmd frontends on its vhost ports exchange traffic; show, stats and del read and change OVS', async (t) => {
  const rig = await ovsRig(t);
  const { d } = rig;
  await add(t, d, 'lan', 'ol', '--ovs');
  const bridges = await rig.list('Bridge');
  const br = bridges.find((b) => b.name === '_b_ol');
  t.truthy(br, JSON.stringify(bridges));
  t.is(br!.datapath_type, 'netdev');
  const ifaces = await rig.list('Interface');
  const join = ifaces.find((i) => i.name === '_j_ol')!;
  t.is(join.type, 'dpdk');
  t.regex(String((join.options as Record<string, string>)['dpdk-devargs']), /^net_virtio_user_j_ol,path=/);
  t.is(join.link_state, 'up');
  const lan = (await d.request({ show: {} })) as { objects: Record<string, unknown>[] };
  t.like(lan.objects.find((o) => o.name === 'ol'), { ovs: { bridge: '_b_ol', join: '_j_ol', state: 'joined' } });

  const s1 = path.join(rig.dir, 'v1.sock');
  const s2 = path.join(rig.dir, 'v2.sock');
  await add(t, d, 'vhost', 'v1', '--lan', 'ol', '--socket', s1);
  await add(t, d, 'vhost', 'v2', '--lan', 'ol', '--socket', s2, '--client');
  const ports = (await rig.list('Interface')).filter((i) => String(i.name).startsWith('_k_'));
  t.deepEqual(ports.map((p) => [p.name, p.type]).sort(), [['_k_v1_0', 'dpdkvhostuser'], ['_k_v2_0', 'dpdkvhostuserclient']]);
  t.is((ports.find((p) => p.name === '_k_v2_0')!.options as Record<string, string>)['vhost-server-path'], s2);

  // B listens (server=1) at v2's path, OVS connects to it; A connects to v1's (OVS listens).
  const macB = '02:00:00:00:0b:02';
  const b = await testpmd(t, { socket: s2, server: true, mode: 'rxonly', mac: macB });
  await b.ready;
  const a = await testpmd(t, { socket: s1, mode: 'txonly', ethPeer: macB, txpkts: 64, autoStart: false });
  await a.ready;
  await waitFor('both OVS vhost ports up', async () => /link up/.test(String((await shownPort(d, 'v1'))?.state)) && /link up/.test(String((await shownPort(d, 'v2'))?.state)), 30000);
  await a.start();
  await waitFor('B to receive 10000 frames', async () => (await b.stats()).rxPackets >= 10000, 30000);
  await a.stopForwarding();
  const sent = (await a.stats()).txPackets;
  const got = (await b.stats()).rxPackets;
  t.log(`testpmd A sent ${sent} frames through OVS lan ol, B received ${got}`);
  t.true(got >= 10000, `B got ${got}`);
  // containet's stats of these ports are OVS's: its type, and its counts where
  // OVS gives them (OVS 3.1 with DPDK 22.11 gives none for vhost-user ports).
  const c1 = await counters(d, 'v1');
  t.is(c1.type, 'dpdkvhostuser');
  t.true(c1.rxPackets === null || c1.rxPackets >= 0, JSON.stringify(c1));
  t.is((await counters(d, 'v2')).type, 'dpdkvhostuserclient');
  const shown = (await d.cli('show')).stdout;
  t.regex(shown, /v1\s+ol\s+dpdkvhostuser\s+_k_v1_0/);
  t.regex(shown, /_b_ol \(joined\)/);

  // An OVS port has no link state of containet's (docs/linkstate.md).
  const down = await d.cli('set', 'v1', '--down');
  t.is(down.exitCode, 1);
  t.regex(down.stderr, /"v1" is a port Open vSwitch runs \(docs\/ovs\.md\): containet cannot take it down; use ovs-ofctl mod-port/);
  t.is((await shownPort(d, 'v1'))?.admin, undefined);

  // del removes the OVS port (and the link containet made to its socket).
  t.is((await d.cli('del', 'v1')).exitCode, 0);
  t.false((await rig.list('Interface')).some((i) => i.name === '_k_v1_0'));
  t.false(existsSync(s1));
  // del --force of the lan removes its bridge.
  t.is((await d.cli('del', 'ol', '--force')).exitCode, 0);
  t.false((await rig.list('Bridge')).some((x) => x.name === '_b_ol'));
  await a.stop();
  await b.stop();
  await stopAndCheckClean(t, rig, [pidOf(rig.rundir, 'ovs-vswitchd'), pidOf(rig.rundir, 'ovsdb-server')]);
});

ovsTest('across the join: a container on the containet side of an OVS lan pings a testpmd (icmpecho) on an OVS vhost port', async (t) => {
  const { d, pmd, c } = await echoLan(t, 'oj', '10.41.0.1/24');
  t.is(await shell(c.c, 'ping -c 5 -i 0.2 -W 5 10.41.0.99'), 0, c.c.output());
  const st = await pmd.stats();
  t.true(st.rxPackets >= 5 && st.txPackets >= 5, `testpmd counted ${JSON.stringify(st)}`);
  // OVS counted the join's frames (its database's counters lag up to 5 s).
  const join = await waitFor('the join counters in OVS', async () => {
    const r = (await d.request({ stats: { name: 'oj' } })) as { lans: { ovs: { join: { rxPackets: number; txPackets: number } } }[] };
    const j = r.lans[0]!.ovs.join;
    return j.rxPackets >= 5 && j.txPackets >= 5 ? j : undefined;
  }, 15000);
  t.log(`the join counted ${JSON.stringify(join)}`);
  const rtt = /rtt min\/avg\/max\/mdev = [\d.]+\/([\d.]+)/.exec(c.c.stdout());
  t.log(`ping across the join: avg ${rtt?.[1] ?? '?'} ms`);
});

ovsTest('a dpdk port: a net_af_packet vdev on a veth whose other end is in a namespace of the test, pinged from a container', async (t) => {
  const rig = await ovsRig(t);
  const { d } = rig;
  await add(t, d, 'lan', 'od', '--ovs');
  const peer = await netns(t, 'ctnpeer');
  const a = uniqueName('vd');
  const b = uniqueName('vp');
  await run('ip', ['-n', rig.ns, 'link', 'add', a, 'type', 'veth', 'peer', 'name', b, 'netns', peer]);
  await run('ip', ['-n', rig.ns, 'link', 'set', a, 'up']);
  await run('ip', ['-n', peer, 'addr', 'add', '10.42.0.2/24', 'dev', b]);
  await run('ip', ['-n', peer, 'link', 'set', b, 'up']);
  // The kernel's checksums of frames leaving through AF_PACKET stay undone otherwise.
  await inNetns(peer, ['ethtool', '-K', b, 'tx', 'off']);
  await inNetns(rig.ns, ['ethtool', '-K', a, 'tx', 'off']);
  await add(t, d, 'dpdk', 'd1', '--lan', 'od', '--devargs', `net_af_packet_d1,iface=${a}`);
  const iface = (await rig.list('Interface')).find((i) => i.name === '_k_d1_0')!;
  t.is(iface.type, 'dpdk');
  t.deepEqual(iface.error, []);
  const c = await shellContainer(t, d, '10.42.0.1/24', ['-l', 'od']);
  t.is(await shell(c.c, 'ping -c 3 -W 5 10.42.0.2'), 0, c.c.output());
  // OVS's counters (its database's lag up to 5 s).
  const st = await waitFor('OVS to count d1', async () => {
    const x = await counters(d, 'd1');
    return (x.rxPackets ?? 0) >= 3 && (x.txPackets ?? 0) >= 3 ? x : undefined;
  }, 15000);
  t.is(st!.type, 'dpdk');
  t.regex(String((await shownPort(d, 'd1'))?.devargs), /net_af_packet_d1/);
  t.is((await d.cli('del', 'd1')).exitCode, 0);
  t.false((await rig.list('Interface')).some((i) => i.name === '_k_d1_0'));
});

ovsTest('OVS killed under traffic: the daemon reports it and marks its lans broken; at exit nothing is left behind', async (t) => {
  const { rig, d, pmd, c } = await echoLan(t, 'ok', '10.43.0.1/24', 'kv');
  t.is(await shell(c.c, 'ping -c 1 -W 5 10.43.0.99'), 0, c.c.output());
  // Traffic on: a flood ping in the background.
  t.is(await shell(c.c, 'ping -i 0.01 -W 1 10.43.0.99 > /dev/null 2>&1 & true'), 0);
  const before = (await pmd.stats()).rxPackets;
  await waitFor('traffic through OVS', async () => (await pmd.stats()).rxPackets > before + 50, 20000);
  // Before: OVS has the bridge, and its taps are in the namespace.
  t.true((await rig.list('Bridge')).some((b) => b.name === '_b_ok'));
  t.true((await links(rig.ns)).includes('ovs-netdev'));
  const vswitchd = pidOf(rig.rundir, 'ovs-vswitchd');
  const dbserver = pidOf(rig.rundir, 'ovsdb-server');
  process.kill(vswitchd, 'SIGKILL');
  const log = await d.logged(/ovs-vswitchd \(pid \d+\) died/);
  t.regex(log, new RegExp(`ovs-vswitchd \\(pid ${vswitchd}\\) died \\(killed by SIGKILL\\).*OVS lans broken: ok`));
  t.regex(String((await shownPort(d, 'kv'))?.state), /^broken: ovs-vswitchd/);
  const lan = (await d.request({ show: {} })) as { objects: Record<string, unknown>[] };
  t.regex(String((lan.objects.find((o) => o.name === 'ok')!.ovs as { state: string }).state), /^broken/);
  // A new OVS object is refused; containet's own lans forward on.
  const r = await d.cli('add', 'lan', 'ok2', '--ovs');
  t.not(r.exitCode, 0);
  t.regex(r.stderr, /Open vSwitch is broken: ovs-vswitchd/);
  await stopAndCheckClean(t, rig, [vswitchd, dbserver]);
});

ovsTest('bad input: --ovs without OVS, an OVS not installed, unknown devargs, dpdk on a containet lan, a bridge name that exists in a shared OVS', async (t) => {
  // No OVS given to the daemon.
  const plain = await startDaemon(t);
  let r = await plain.cli('add', 'lan', 'x', '--ovs');
  t.not(r.exitCode, 0);
  t.regex(r.stderr, /no Open vSwitch: start the daemon with --ovs-rundir DIR .* or --ovs-db unix:PATH/);
  // An ovs-vswitchd without DPDK (or none at all): the daemon does not start, saying why.
  const noDpdk = await startDaemon(t, { args: ['--ovs-rundir', path.join(tempDir(t), 'ovs'), '--ovs-vswitchd', '/nonexistent/ovs-vswitchd'] }).then(
    () => undefined,
    (e: Error) => e.message,
  );
  t.regex(String(noDpdk), /cannot start Open vSwitch: \/nonexistent\/ovs-vswitchd is not an ovs-vswitchd with DPDK/);

  const rig = await ovsRig(t);
  const { d } = rig;
  await add(t, d, 'lan', 'ob', '--ovs');
  // Unknown devargs: OVS's own error, nothing left in OVS.
  r = await d.cli('add', 'dpdk', 'bad', '--lan', 'ob', '--devargs', 'net_bogus0,x=1');
  t.not(r.exitCode, 0);
  t.regex(r.stderr, /Open vSwitch: Error attaching device 'net_bogus0,x=1' to DPDK/);
  t.false((await rig.list('Interface')).some((i) => i.name === '_k_bad_0'));
  t.is(await shownPort(d, 'bad'), undefined);
  // dpdk on a lan of containet's own; a name too long for a bridge device.
  r = await d.cli('add', 'dpdk', 'd2', '--devargs', 'net_null0');
  t.regex(r.stderr, /lan lan0 is not an OVS lan/);
  r = await d.cli('add', 'lan', 'averylongname', '--ovs');
  t.regex(r.stderr, /an OVS lan's name is 1-12 letters/);
  // A bridge someone else made in the OVS.
  await rig.vsctl('add-br', '_b_hand', '--', 'set', 'bridge', '_b_hand', 'datapath_type=netdev');
  r = await d.cli('add', 'lan', 'hand', '--ovs');
  t.not(r.exitCode, 0);
  t.regex(r.stderr, /a bridge named _b_hand already exists/);
  t.is((await d.request({ show: {} }) as { objects: { name: string }[] }).objects.find((o) => o.name === 'hand'), undefined);

  // A second containet sharing this OVS (--ovs-db): the clash is refused; it
  // removes only what it made when it stops.
  const other = await startDaemon(t, { netns: rig.ns, args: ['--ovs-db', `unix:${path.join(rig.rundir, 'db.sock')}`] });
  r = await other.cli('add', 'lan', 'ob', '--ovs');
  t.regex(r.stderr, /a bridge named _b_ob already exists/);
  await add(t, other, 'lan', 'os', '--ovs');
  const mine = (await rig.list('Bridge')).find((b) => b.name === '_b_os')!;
  t.is((mine.external_ids as Record<string, string>)['containet-owner'], other.sock);
  await stopChild(other.child, 25000);
  const names = (await rig.list('Bridge')).map((b) => b.name).sort();
  t.deepEqual(names, ['_b_hand', '_b_ob']);
  // The first still forwards across its join.
  t.is((await d.cli('show')).exitCode, 0);
  await rig.vsctl('del-br', '_b_hand');
});

ovsTest('--state: an OVS lan and its vhost port are made again in a new private OVS when the daemon restarts, also after a SIGKILL (its taps removed)', async (t) => {
  const first = await ovsRig(t);
  const state = path.join(first.dir, 'state.json');
  await stopChild(first.d.child, 25000);
  const rig = await ovsRig(t, ['--state', state], first);
  await add(t, rig.d, 'lan', 'os', '--ovs');
  const sock = path.join(rig.dir, 's.sock');
  await add(t, rig.d, 'vhost', 'sv', '--lan', 'os', '--socket', sock);
  // Killed without a chance to stop its OVS: the OVS daemons die with it
  // (pdeathsig) and leave their taps; the next daemon removes them.
  const exited = new Promise((r) => rig.d.child.once('exit', r));
  process.kill(rig.d.pid, 'SIGKILL');
  await exited;
  await waitFor('its OVS to die with it', async () => (await links(rig.ns)).includes('ovs-netdev') && !existsSync(path.join(rig.rundir, 'ovs-vswitchd.pid')), 10000);
  t.true((await links(rig.ns)).includes('_b_os'), 'the bridge tap is left');
  const again = await ovsRig(t, ['--state', state], rig);
  t.regex(again.d.log(), /deleted tap ovs-netdev, left by the instance that ran in/);
  t.regex(again.d.log(), /deleted tap _b_os, left by/);
  t.regex(again.d.log(), /restored \d+ of \d+ objects/);
  t.true((await again.list('Bridge')).some((b) => b.name === '_b_os'));
  t.is((await again.list('Interface')).find((i) => i.name === '_k_sv_0')?.type, 'dpdkvhostuser');
  const pmd = await testpmd(t, { socket: sock, mode: 'icmpecho' });
  await pmd.ready;
  const c = await shellContainer(t, again.d, '10.44.0.1/24', ['-l', 'os']);
  t.is(await shell(c.c, 'ping -c 2 -W 5 10.44.0.99'), 0, c.c.output());
});

ovsTest('a mirror of an OVS vhost port, to a dpdk port whose kernel side is in a namespace of the test: tcpdump there sees the copies; del removes the OVS mirror', async (t) => {
  const { rig, d, c } = await echoLan(t, 'om', '10.45.0.1/24');
  const peer = await netns(t, 'ctnspan');
  const a = uniqueName('sd');
  const b = uniqueName('sp');
  await run('ip', ['-n', rig.ns, 'link', 'add', a, 'type', 'veth', 'peer', 'name', b, 'netns', peer]);
  await run('ip', ['-n', rig.ns, 'link', 'set', a, 'up']);
  await run('ip', ['-n', peer, 'link', 'set', b, 'up']);
  await add(t, d, 'dpdk', 'span', '--lan', 'om', '--devargs', `net_af_packet_span,iface=${a}`);
  // A mirror of a containet port to an OVS port is refused.
  let r = await d.cli('add', 'mirror', 'bad', '--select', `${c.id}.eth0`, '--to', 'span');
  t.regex(r.stderr, /is not a port of the same OVS lan/);
  await add(t, d, 'mirror', 'm1', '--select', 'echo', '--to', 'span');
  const m = (await rig.list('Mirror')).find((x) => x.name === 'm_m1')!;
  const ports = await rig.list('Port');
  const uuid = (n: string) => ports.find((p) => p.name === n)!._uuid;
  t.is(m.output_port, uuid('_k_span_0'));
  t.deepEqual(m.select_src_port, uuid('_k_echo_0'));
  t.deepEqual(m.select_dst_port, uuid('_k_echo_0'));
  t.true(((await rig.list('Bridge')).find((x) => x.name === '_b_om')!.mirrors as unknown) === m._uuid);

  const pcap = path.join(tempDir(t), 'span.pcap');
  const dump = inNetns(peer, ['timeout', '30', 'tcpdump', '-i', b, '-n', '-U', '-c', '6', '-w', pcap, 'icmp'], { timeout: 40000 });
  await waitFor('tcpdump to listen', () => existsSync(pcap), 20000);
  t.is(await shell(c.c, 'ping -c 3 -i 0.2 -W 5 10.45.0.99'), 0, c.c.output());
  const done = await dump;
  const read = await inNetns(peer, ['tcpdump', '-r', pcap, '-n']);
  const lines = read.stdout.split('\n').filter((l) => /ICMP echo/.test(l));
  t.true(lines.filter((l) => /echo request/.test(l)).length >= 3 && lines.filter((l) => /echo reply/.test(l)).length >= 3, `tcpdump (${done.exitCode}) saw: ${read.stdout} ${read.stderr}`);
  t.regex((await d.cli('show')).stdout, /m1\s+echo\s+both\s+span/);
  t.is((await d.cli('del', 'm1')).exitCode, 0);
  t.deepEqual(await rig.list('Mirror'), []);
});

ovsTest('captures of ports OVS runs: `containet capture` of an OVS lan and of its vhost port (through sinks: OVS mirrors to containet), and of a mirror of that port to a host tap, read by tshark with each frame\'s port and direction; the sinks go with the capture and the mirror', async (t) => {
  const { rig, d, c } = await echoLan(t, 'oc', '10.46.0.1/24');
  const cport = `${c.id}.eth0`;
  // ARP settled, so the captures see only the pings below.
  t.is(await shell(c.c, 'ping -c 1 -W 5 10.46.0.99 >/dev/null'), 0, c.c.output());
  const fields = 'tshark -r - -T fields -e frame.interface_name -e frame.packet_flags_direction -e icmp.type 2>/dev/null';
  /** tshark's rows as "PORT DIRECTION ICMP-TYPE" (1 inbound: the port received it, 2 outbound). */
  const rows = (out: string) => out.trim().split('\n').map((l) => l.split('\t')).map(([ifname, flags, type]) => `${ifname} ${Number(flags) & 3} ${type}`);
  const count = (rs: string[], row: string) => rs.filter((r) => r === row).length;
  const capturing = (name: string) => waitFor(`capture ${name} to run`, async () => ((await d.request({ show: {} })) as { objects: { name: string }[] }).objects.some((o) => o.name === name), 30000);
  const sinksOf = async (obj: string) => (await rig.list('Port')).map((p) => String(p.name)).filter((n) => n.startsWith(`s_k_${obj}_`)).sort();

  // The lan: the container's port (containet's) and echo (OVS's, through two sinks).
  const lan = pipeline(t, `${cliWords(d)} capture oc --name lc --filter icmp -c 12 -w - | ${fields}`);
  await capturing('lc');
  t.deepEqual(await sinksOf('lc'), ['s_k_lc_0', 's_k_lc_1']);
  t.is(await shell(c.c, 'ping -c 3 -i 0.2 -W 5 10.46.0.99 >/dev/null'), 0, c.c.output());
  t.is(await lan.done, 0, lan.out.output());
  let rs = rows(lan.out.stdout());
  t.is(count(rs, `${cport} 1 8`), 3, lan.out.stdout()); // the container sends the requests
  t.is(count(rs, 'echo 2 8'), 3, lan.out.stdout()); // OVS sends them to testpmd
  t.is(count(rs, 'echo 1 0'), 3, lan.out.stdout()); // testpmd answers
  t.is(count(rs, `${cport} 2 0`), 3, lan.out.stdout());
  await waitFor('the lan capture\'s sinks to go', async () => (await sinksOf('lc')).length === 0, 20000);

  // A mirror of echo to a host tap of containet's, and a capture of that tap.
  await add(t, d, 'tap', 'mt', '--lan', 'oc');
  await add(t, d, 'mirror', 'm2', '--select', 'echo', '--to', 'mt');
  t.deepEqual(await sinksOf('m2'), ['s_k_m2_0', 's_k_m2_1']);
  const ports = await rig.list('Port');
  const uuid = (n: string) => ports.find((p) => p.name === n)!._uuid;
  const mirrors = await rig.list('Mirror');
  const m0 = mirrors.find((m) => m.name === 'm_m2_0');
  const m1 = mirrors.find((m) => m.name === 'm_m2_1');
  t.truthy(m0 && m1, JSON.stringify(mirrors));
  t.is(m0!.output_port, uuid('s_k_m2_0'));
  t.is(m0!.select_src_port, uuid('_k_echo_0'));
  t.is(m1!.output_port, uuid('s_k_m2_1'));
  t.is(m1!.select_dst_port, uuid('_k_echo_0'));
  const tap = pipeline(t, `${cliWords(d)} capture mt echo --name tc --filter icmp -c 12 -w - | ${fields}`);
  await capturing('tc');
  t.is(await shell(c.c, 'ping -c 3 -i 0.2 -W 5 10.46.0.99 >/dev/null'), 0, c.c.output());
  t.is(await tap.done, 0, tap.out.output());
  rs = rows(tap.out.stdout());
  t.is(count(rs, 'mt 2 8'), 3, tap.out.stdout()); // the copies leave mt
  t.is(count(rs, 'mt 2 0'), 3, tap.out.stdout());
  t.is(count(rs, 'echo 2 8'), 3, tap.out.stdout());
  t.is(count(rs, 'echo 1 0'), 3, tap.out.stdout());
  const st = (await d.request({ stats: { name: 'm2' } })) as { mirrors: { frames: number }[] };
  t.true(st.mirrors[0]!.frames >= 6, JSON.stringify(st));
  t.is((await d.cli('del', 'm2')).exitCode, 0);
  t.deepEqual(await sinksOf('m2'), []);
  await waitFor('every capture sink to go', async () => (await sinksOf('')).length === 0, 20000);
  t.deepEqual(await rig.list('Mirror'), []);
});
