/**
 * End to end, as root: the phy kind. The daemon runs in a network namespace the
 * test makes; one end of a veth pair there becomes a phy port, the other end is
 * in a second namespace with an address. A container on the same lan pings that
 * address and runs iperf3 to it; del gives the device back as it was (not
 * promiscuous, down again); a device deleted breaks its port alone; bad input
 * is refused with the reason.
 */
import type { ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { execa } from 'execa';

import { collectOutput, containerInitPid, inNetns, netns, rootTest, run, startDaemon, stopChild, tempDir, uniqueName, waitFor, type TestDaemon } from './helpers/env.js';
import { shellContainer } from './helpers/containers.js';

/** Run @args in the network namespace of process @pid. */
function inNet(pid: number, args: string[], timeoutMs = 30000) {
  return execa('nsenter', ['-t', String(pid), '-n', ...args], { reject: false, timeout: timeoutMs });
}

/** A subnet of 10.0.0.0/8 of its own for each test run: "10.X.Y". */
function subnet(): string {
  return `10.${100 + (process.pid % 100)}.${Math.floor(Math.random() * 250)}`;
}

/** Promiscuity count and operational state of @dev in namespace @ns. */
async function devFlags(ns: string, dev: string): Promise<{ promiscuity: number; up: boolean }> {
  const out = await run('ip', ['-d', '-n', ns, 'link', 'show', dev]);
  const m = /promiscuity (\d+)/.exec(out);
  return { promiscuity: m ? Number(m[1]) : -1, up: /<[^>]*\bUP\b[^>]*>/.test(out) };
}

/** A veth pair: @here in namespace @ns (left down), @there in @far with
 *  address @addr/24 and up. */
async function vethTo(ns: string, here: string, far: string, there: string, addr: string): Promise<void> {
  await run('ip', ['-n', ns, 'link', 'add', here, 'type', 'veth', 'peer', 'name', there, 'netns', far]);
  await run('ip', ['-n', far, 'addr', 'add', `${addr}/24`, 'dev', there]);
  await run('ip', ['-n', far, 'link', 'set', there, 'up']);
}

/** Ports of daemon @d as show lists them. */
async function ports(d: TestDaemon): Promise<Record<string, unknown>[]> {
  const r = (await d.request({ show: {} })) as { objects: Record<string, unknown>[] };
  return r.objects.filter((o) => o.kind === 'port');
}

/** Daemon in a namespace of its own, with a veth end there toward namespace
 *  far (address NET.2). */
async function setup(t: ExecutionContext) {
  const dns = await netns(t, 'phyd');
  const far = await netns(t, 'phyf');
  const net = subnet();
  const dev = uniqueName('phy');
  await vethTo(dns, dev, far, 'eth0', `${net}.2`);
  const d = await startDaemon(t, { netns: dns });
  return { dns, far, net, dev, d };
}

/** A container pings and iperf3s the far namespace through a phy with ring
 *  version @tpacket (the default when undefined); del gives the device back. */
async function pingAndIperf(t: ExecutionContext, tpacket: 2 | 3 | undefined): Promise<void> {
  const { dns, far, net, dev, d } = await setup(t);
  const v = tpacket ?? 2;
  t.deepEqual(await devFlags(dns, dev), { promiscuity: 0, up: false });
  const add = await d.cli('add', 'phy', dev, ...(tpacket ? ['--tpacket', String(tpacket)] : []));
  t.is(add.exitCode, 0, add.stderr);
  t.deepEqual(await devFlags(dns, dev), { promiscuity: 1, up: true });
  const p = (await ports(d)).find((o) => o.name === dev)!;
  t.like(p, { type: 'phy', ifname: dev, lan: 'lan0', vnetHdr: true, tpacket: v });
  t.deepEqual(p.offloads, ['csum', 'tso', 'uso']);
  t.regex(String(p.state), new RegExp(`promisc, tpacket v${v}, set up`));
  t.regex(await d.logged(/port \S+ \(phy/), new RegExp(`port ${dev} \\(phy ${dev}, promisc, tpacket v${v}, set up, offloads csum,tso,uso\\) joined lan0`));

  const sc = await shellContainer(t, d, `${net}.1/24`);
  const pid = await containerInitPid(sc.c);
  const ping = await inNet(pid, ['ping', '-c', '3', '-i', '0.2', '-W', '2', `${net}.2`]);
  t.is(ping.exitCode, 0, ping.stdout + ping.stderr);
  t.log(ping.stdout.split('\n').filter((l) => l.startsWith('rtt')).join(''));

  const srv = spawn('ip', ['netns', 'exec', far, 'iperf3', '-s', '-1', '-B', `${net}.2`], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => {
    if (srv.exitCode === null) srv.kill('SIGKILL');
  });
  await collectOutput(srv).until('iperf3 -s to listen', async () => (await inNetns(far, ['ss', '-ltn'])).stdout.includes(`${net}.2:5201`));
  const r = await inNet(pid, ['iperf3', '-c', `${net}.2`, '-t', '3', '-J'], 60000);
  t.is(r.exitCode, 0, r.stderr);
  const bps = (JSON.parse(r.stdout) as { end: { sum_received: { bits_per_second: number } } }).end.sum_received.bits_per_second;
  t.log(`iperf3 TCP container -> phy (tpacket v${v}) -> far namespace: ${(bps / 1e9).toFixed(2)} Gbit/s`);
  t.true(bps > 0);
  const st = (await d.cli('stats')).stdout;
  t.log(st.split('\n').filter((l) => l.startsWith(dev)).join(''));

  const del = await d.cli('del', dev);
  t.is(del.exitCode, 0, del.stderr);
  t.deepEqual(await devFlags(dns, dev), { promiscuity: 0, up: false });
}

rootTest('phy: a container pings and iperf3s a namespace through a veth end the daemon holds; del gives the device back', (t) => pingAndIperf(t, undefined));
rootTest('phy --tpacket 3: the same through a TPACKET_V3 ring', (t) => pingAndIperf(t, 3));

rootTest('phy: a device deleted breaks its port alone (logged), the other ports forward on', async (t) => {
  const { dns, far, net, dev, d } = await setup(t);
  const far2 = await netns(t, 'phyg');
  const far3 = await netns(t, 'phyh');
  const dev2 = uniqueName('phy');
  const dev3 = uniqueName('phy');
  await vethTo(dns, dev2, far2, 'eth0', `${net}.3`);
  await vethTo(dns, dev3, far3, 'eth0', `${net}.4`);
  for (const x of [dev, dev2, dev3]) t.is((await d.cli('add', 'phy', x)).exitCode, 0);
  const ping = async () => (await inNetns(far, ['ping', '-c', '2', '-i', '0.2', '-W', '2', `${net}.3`])).exitCode;
  t.is(await ping(), 0);
  t.is((await inNetns(far, ['ping', '-c', '1', '-W', '2', `${net}.4`])).exitCode, 0);
  await run('ip', ['-n', dns, 'link', 'del', dev3]);
  t.regex(await d.logged(new RegExp(`port ${dev3} removed`), 10000), new RegExp(`port ${dev3} removed from lan0: device ${dev3} is gone`));
  await waitFor('the port to go', async () => !(await ports(d)).some((o) => o.name === dev3));
  t.is(await ping(), 0);
  t.deepEqual((await ports(d)).map((o) => o.name).sort(), [dev, dev2].sort());
});

/** Python that sends 20 broadcast frames tagged VLAN 10 (ethertype 0x88b5
 *  inside) out of eth0, one every 0.1 s. */
const SEND_TAGGED = `
import socket, struct, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(('eth0', 0))
src = bytes.fromhex(open('/sys/class/net/eth0/address').read().strip().replace(':', ''))
frame = b'\\xff' * 6 + src + struct.pack('!HHH', 0x8100, 10, 0x88b5) + b'containet-vlan'.ljust(46, b'\\0')
for i in range(20):
    s.send(frame)
    time.sleep(0.1)
`;

rootTest('phy: VLAN-tagged frames cross with their tag (the kernel keeps it aside; the port puts it back)', async (t) => {
  const { dns, far, net, dev, d } = await setup(t);
  const far2 = await netns(t, 'phyg');
  const dev2 = uniqueName('phy');
  await vethTo(dns, dev2, far2, 'eth0', `${net}.3`);
  for (const x of [dev, dev2]) t.is((await d.cli('add', 'phy', x)).exitCode, 0);
  // This kernel may have no 8021q: the tagged frames are made by hand, and
  // tcpdump (which reads the tag the kernel keeps aside) looks for them.
  const dump = spawn('ip', ['netns', 'exec', far2, 'tcpdump', '-i', 'eth0', '-nn', '-e', '-l', '-c', '1', 'vlan 10'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const out = collectOutput(dump);
  t.teardown(() => stopChild(dump));
  await waitFor('tcpdump to listen', () => /listening on/.test(out.output()), 30000);
  const send = await inNetns(far, ['python3', '-c', SEND_TAGGED]);
  t.is(send.exitCode, 0, send.stderr);
  await waitFor('tcpdump to see a tagged frame', () => /containet-vlan/.test(out.stdout()), 30000).catch(() => undefined);
  t.regex(out.stdout(), /vlan 10, p 0, ethertype Unknown \(0x88b5\)[\s\S]*containet-vlan/, out.output());
  const st = (await d.request({ stats: { name: dev } })) as { ports: { counters?: Record<string, number> }[] };
  t.true((st.ports[0]?.counters?.vlan_frames ?? 0) > 0, JSON.stringify(st));
});

rootTest('phy: a device set down and up again keeps its port; traffic resumes', async (t) => {
  const { dns, far, net, dev, d } = await setup(t);
  const far2 = await netns(t, 'phyg');
  const dev2 = uniqueName('phy');
  await vethTo(dns, dev2, far2, 'eth0', `${net}.3`);
  for (const x of [dev, dev2]) t.is((await d.cli('add', 'phy', x)).exitCode, 0);
  await run('ip', ['-n', dns, 'link', 'set', dev2, 'down']);
  t.not((await inNetns(far, ['ping', '-c', '1', '-W', '1', `${net}.3`])).exitCode, 0);
  await run('ip', ['-n', dns, 'link', 'set', dev2, 'up']);
  await new Promise((r) => setTimeout(r, 300)); // more than a tick of the engine
  t.true((await ports(d)).some((o) => o.name === dev2));
  // The device takes a moment to carry again on a busy machine: ping until it answers.
  const back = await waitFor('a ping through the device brought up again', async () => (await inNetns(far, ['ping', '-c', '1', '-W', '1', `${net}.3`])).exitCode === 0, 30000).catch(() => false);
  t.true(back, 'traffic resumes through the phy');
});

rootTest('phy: bad input is refused with the reason, the daemon forwarding on', async (t) => {
  const { dns, dev, d } = await setup(t);
  t.is((await d.cli('add', 'phy', dev, '--lan', 'lan0')).exitCode, 0);
  const refused = async (args: string[], re: RegExp) => {
    const r = await d.cli('add', 'phy', ...args);
    t.not(r.exitCode, 0, args.join(' '));
    t.regex(r.stderr, re, args.join(' '));
  };
  await refused(['nosuch0'], /no interface nosuch0 in the daemon's network namespace/);
  await refused([dev, '--name', 'again'], new RegExp(`${dev} is already port ${dev} on lan0`));
  await refused([dev], new RegExp(`an object named "${dev}" already exists`));
  await refused(['lo'], /lo is not an ethernet device/);
  await refused(['a/b'], /"ifname" "a\/b" is not an interface name/);
  await refused(['x', '--lan', 'nolan'], /nolan/);
  await refused(['x', '--tpacket', '1'], /--tpacket/);
  const tap = uniqueName('tap');
  await run('ip', ['-n', dns, 'tuntap', 'add', 'mode', 'tap', 'name', tap]);
  await refused([tap], new RegExp(`${tap} is a tap`));
  await t.throwsAsync(d.request({ 'add-phy': { ifname: dev, extra: 1 } }), { message: /unknown field "extra"/ });
  t.deepEqual((await ports(d)).map((o) => o.name), [dev]);
});

/** Stop daemon @d (ours) with SIGTERM and wait until it is gone. */
async function stop(d: TestDaemon): Promise<void> {
  if (d.child.exitCode !== null || d.child.signalCode !== null) return;
  const gone = new Promise<void>((r) => d.child.once('exit', () => r()));
  process.kill(d.pid, 'SIGTERM');
  await gone;
}

rootTest('phy with --state: a restarted daemon takes the interface again, or logs and drops a port whose interface is gone', async (t) => {
  const dns = await netns(t, 'phyd');
  const far = await netns(t, 'phyf');
  const net = subnet();
  const dev = uniqueName('phy');
  const dev2 = uniqueName('phy');
  await vethTo(dns, dev, far, 'eth0', `${net}.2`);
  await vethTo(dns, dev2, far, 'eth1', `${net}.3`);
  const dir = tempDir(t);
  const opts = { netns: dns, sock: path.join(dir, 'switch.sock'), args: ['--state', path.join(dir, 'state.json')] };
  const d1 = await startDaemon(t, opts);
  t.is((await d1.cli('add', 'lan', 'blue')).exitCode, 0);
  t.is((await d1.cli('add', 'phy', dev, '--lan', 'blue')).exitCode, 0);
  t.is((await d1.cli('add', 'phy', dev2, '--name', 'second', '--lan', 'blue')).exitCode, 0);
  await stop(d1);
  await run('ip', ['-n', dns, 'link', 'del', dev2]);
  const d2 = await startDaemon(t, opts);
  t.regex(await d2.logged(/port second not restored/), /port second not restored: no interface \S+ in the daemon's network namespace/);
  t.like((await ports(d2)).find((o) => o.name === dev), { type: 'phy', ifname: dev, lan: 'blue' });
  t.false((await ports(d2)).some((o) => o.name === 'second'));
  t.is((await devFlags(dns, dev)).promiscuity, 1);
});
