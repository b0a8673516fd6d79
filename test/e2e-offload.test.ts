/**
 * The offload path end to end: a vnet-header tap with TSO (whose kernel hands
 * the switch 64 KiB TCP segments with partial checksums) talks to a plain
 * packet-info tap (which can take neither), so every large frame is segmented
 * and checksummed in software on its way out. Files cross both ways over IPv4,
 * IPv6 and inside an 802.1Q VLAN, and must arrive byte for byte (sha256); the
 * port counters must show that large frames came in and were cut up on the way out.
 */
import { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import path from 'node:path';

import { native, packageRoot } from '../src/native.js';
import { collectOutput, inNetns, netns, rootTest, startDaemon, stopChild, uniqueName, waitFor, type TestDaemon } from './helpers/env.js';
import { portStats, readyChild, tapPort, transfer } from './helpers/traffic.js';

/** Two namespaces on one switch: "vnet" (vnet header + TSO) and "pi" (packet info). */
interface Pair {
  d: TestDaemon;
  vnet: string;
  pi: string;
  vnetPort: string;
  piPort: string;
}

/** Start a daemon and attach a vnet tap and a packet-info tap, each in its own netns. */
async function pair(t: ExecutionContext): Promise<Pair> {
  const d = await startDaemon(t);
  const v = await tapPort(t, d, { framing: 'vnet', ipv4: '10.8.0.1', ipv6: 'fd00:8::1' });
  const p = await tapPort(t, d, { framing: 'pi', ipv4: '10.8.0.2', ipv6: 'fd00:8::2' });
  return { d, vnet: v.ns, pi: p.ns, vnetPort: v.name, piPort: p.name };
}

rootTest('TCP over IPv4 from a TSO vnet tap to a packet-info tap and back: segmented, checksummed, intact', async (t) => {
  const p = await pair(t);
  const show = (await p.d.request({ show: {} })) as { objects: { name: string; offloads?: string[] }[] };
  t.deepEqual(show.objects.find((o) => o.name === p.vnetPort)?.offloads?.slice(0, 2), ['csum', 'tso'], 'the vnet tap was given offloads');
  t.deepEqual(show.objects.find((o) => o.name === p.piPort)?.offloads, [], 'the packet-info tap takes none');
  const before = await portStats(p.d, p.vnetPort);
  await transfer(t, p.vnet, p.pi, '10.8.0.2', 8 << 20, 'vnet -> pi, IPv4');
  const vin = await portStats(p.d, p.vnetPort);
  const pout = await portStats(p.d, p.piPort);
  const rxPk = vin.rxPackets - before.rxPackets;
  // GSO frames came in (far larger than the MTU) and left as MTU-sized segments.
  t.true((vin.rxBytes - before.rxBytes) / rxPk > 3000, `average frame in from the vnet tap: ${(vin.rxBytes - before.rxBytes) / rxPk} bytes`);
  t.true(pout.txPackets > rxPk * 2, `segments out (${pout.txPackets}) outnumber GSO frames in (${rxPk})`);
  t.true(pout.txBytes / pout.txPackets <= 1514, 'no frame over the MTU left for the packet-info tap');
  t.is(pout.drops.gso ?? 0, 0);
  t.is(pout.drops.bad_vnet ?? 0, 0);
  await transfer(t, p.pi, p.vnet, '10.8.0.1', 8 << 20, 'pi -> vnet, IPv4');
});

rootTest('TCP over IPv6 between a TSO vnet tap and a packet-info tap, both ways, intact', async (t) => {
  const p = await pair(t);
  await waitFor('IPv6 neighbours', async () => (await inNetns(p.vnet, ['ping', '-6', '-c', '1', '-W', '1', 'fd00:8::2'])).exitCode === 0);
  const before = await portStats(p.d, p.piPort);
  await transfer(t, p.vnet, p.pi, 'fd00:8::2', 6 << 20, 'vnet -> pi, IPv6');
  await transfer(t, p.pi, p.vnet, 'fd00:8::1', 6 << 20, 'pi -> vnet, IPv6');
  const after = await portStats(p.d, p.piPort);
  t.true(after.txPackets - before.txPackets > (6 << 20) / 1500, 'the IPv6 stream reached the packet-info tap as MTU segments');
});

/**
 * This kernel has no VLAN devices (no 8021q, no bridge VLAN filtering), so the
 * tagged GSO frames a guest would send are made by hand: an AF_PACKET socket
 * with PACKET_VNET_HDR sends one tagged TCP GSO frame out of the vnet tap, and
 * a capture on the packet-info side checks every segment that arrives.
 */
async function vlanGso(t: ExecutionContext, v6: boolean) {
  const p = await pair(t);
  const fixture = path.join(packageRoot, 'test', 'fixtures', 'vlan_gso.py');
  const piMac = (await inNetns(p.pi, ['cat', '/sys/class/net/eth0/address'])).stdout.trim();
  const rx = await readyChild(t, p.pi, ['python3', fixture, 'recv', 'eth0', '1'], 'the capture');
  const payload = 40000;
  const mss = v6 ? 1400 : 1420;
  const tx = await inNetns(p.vnet, ['python3', fixture, 'send', 'eth0', piMac, v6 ? '1' : '0', String(payload), String(mss), '7']);
  t.is(tx.exitCode, 0, tx.stderr);
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([rx.done, new Promise((r) => (timer = setTimeout(r, 40000)))]);
  clearTimeout(timer); // a pending timer would keep the test worker alive
  const [hash, bytes, frames, largest, bad] = (rx.out().split('\n')[1] ?? '').split(' ');
  t.is(hash, tx.stdout.trim(), `payload put back together from the segments (${rx.out()} ${rx.err()})`);
  t.is(Number(bytes), payload);
  t.is(Number(frames), Math.ceil(payload / mss), 'one frame per MSS');
  t.is(Number(bad), 0, 'every segment has correct IP and TCP checksums');
  t.true(Number(largest) <= 18 + (v6 ? 40 : 20) + 20 + mss, `largest frame ${largest}`);
  const st = await portStats(p.d, p.piPort);
  t.true(st.txPackets >= Math.ceil(payload / mss), 'the switch counted the segments');
}

rootTest('a tagged (802.1Q) TCP/IPv4 GSO frame from a vnet tap reaches a packet-info tap as checked segments', (t) => vlanGso(t, false));
rootTest('a tagged (802.1Q) TCP/IPv6 GSO frame from a vnet tap reaches a packet-info tap as checked segments', (t) => vlanGso(t, true));

rootTest('iperf3 runs across the switch between two vnet taps (smoke, no timing asserted)', async (t) => {
  const d = await startDaemon(t);
  const spaces: string[] = [];
  for (let i = 0; i < 2; i++) {
    const ns = await netns(t, 'ipf');
    const fd = native().tapCreate({ netns: `/run/netns/${ns}`, ifname: 'eth0', vnetHdr: true, ipv4: `10.9.0.${i + 1}`, prefix: 24, mtu: 1500, up: true, loUp: true });
    try {
      await d.request({ 'add-etherfd': { ifname: 'eth0', nodeid: uniqueName('ipf') } }, fd);
    } finally {
      native().closeFd(fd);
    }
    spaces.push(ns);
  }
  const srv = spawn('ip', ['netns', 'exec', spaces[1]!, 'iperf3', '-s', '-1', '-B', '10.9.0.2'], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => stopChild(srv));
  await collectOutput(srv).until('iperf3 -s to listen', async () => (await inNetns(spaces[1]!, ['ss', '-ltn'])).stdout.includes('10.9.0.2:5201'));
  const r = await inNetns(spaces[0]!, ['iperf3', '-c', '10.9.0.2', '-t', '2', '-J'], { timeout: 60000 });
  t.is(r.exitCode, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { end: { sum_received: { bytes: number } } };
  t.true(j.end.sum_received.bytes > 1 << 20, `bytes received: ${j.end.sum_received.bytes}`);
  t.log(`iperf3 smoke: ${(j.end.sum_received.bytes * 8 / 2 / 1e9).toFixed(2)} Gbit/s (not asserted)`);
});
