/**
 * Small-packet rate: trafgen (netsniff-ng) in A sends 64-byte UDP frames to B
 * as fast as one CPU can; the rate is what B's interface received over a timed
 * window, from its rx_packets counter.
 *
 * Frame: 14 B ethernet + 20 B IPv4 + 8 B UDP + 18 B zero payload = 60 B, the
 * minimum ethernet frame without its 4-byte FCS: "64 bytes" on a wire. Sent from
 * A's address to B's address, UDP port 9 to 9, with B's interface MAC as the
 * destination; B has no socket on port 9, so its kernel drops each packet after
 * counting it (its ICMP port-unreachable answers are rate-limited to about one a
 * second).
 *
 * Beside what B received, the window gives what the generator offered (A's
 * interface's tx_packets + tx_dropped over the same window, from trafgen's own
 * /proc/PID/net/dev: every frame trafgen put on the device, taken or dropped)
 * and, on a userspace switch, its threads' CPU nanoseconds per frame received.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';

import { procNetDev, readCounter, readNetAttr } from './netns.js';
import type { Endpoints } from './paths.js';
import { sleep, start, threadsCpuNs } from './proc.js';

/** What one timed window gave. */
export interface UdpRun {
  /** Packets B's interface received per second over the window. */
  rxPps: number;
  /** Packets trafgen says it sent per second of its own run (null if it did not say). */
  sentPps: number | null;
  /** Frames the generator put on A's interface per second over the window (tx_packets + tx_dropped). */
  offeredPps: number;
  /** CPU ns the switch's threads spent per frame B received in the window; null on kernel paths. */
  cpuNsPerFrame: number | null;
  /** Length of the window in seconds. */
  windowS: number;
}

/** "aa:bb:..." as trafgen bytes "0xaa, 0xbb, ...". */
function macBytes(mac: string): string {
  const parts = mac.split(':');
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-f]{2}$/i.test(p))) throw new Error(`not a MAC address: ${mac}`);
  return parts.map((p) => `0x${p}`).join(', ');
}

/** "10.77.0.1" as trafgen bytes "10, 77, 0, 1". */
function ipBytes(ip: string): string {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((n) => !Number.isInteger(n) || n < 0 || n > 255)) throw new Error(`not an IPv4 address: ${ip}`);
  return parts.join(', ');
}

/** The trafgen config of the 60-byte UDP frame described at the top of this file. */
export function trafgenConfig(dstMac: string, srcMac: string, srcIp: string, dstIp: string): string {
  return [
    '{',
    `  ${macBytes(dstMac)},`,
    `  ${macBytes(srcMac)},`,
    '  c16(0x0800),',
    '  /* IPv4: version/ihl, tos, total length 46, id, DF, ttl 64, UDP, header checksum */',
    '  0x45, 0x00, c16(46), c16(0), c16(0x4000), 64, 17, csumip(14, 33),',
    `  ${ipBytes(srcIp)},`,
    `  ${ipBytes(dstIp)},`,
    '  /* UDP: ports 9 -> 9, length 26, no checksum */',
    '  c16(9), c16(9), c16(26), c16(0),',
    '  fill(0x00, 18)',
    '}',
    '',
  ].join('\n');
}

/** Packets and seconds trafgen reports on exit ("N sec, U usec on CPUx (P packets)"), summed over its workers. */
function trafgenSent(output: string): { packets: number; seconds: number } | null {
  let packets = 0;
  let seconds = 0;
  let found = false;
  for (const m of output.matchAll(/(\d+) sec, (\d+) usec on CPU\d+ \((\d+) packets\)/g)) {
    found = true;
    seconds = Math.max(seconds, Number(m[1]) + Number(m[2]) / 1e6);
    packets += Number(m[3]);
  }
  return found ? { packets, seconds } : null;
}

/**
 * Run trafgen in A (`--cpus 1`, its own process group) for @warmupMs plus a
 * window of @seconds, and count what B's interface received in the window.
 * The config file goes in @dir.
 */
export async function udp64(ep: Endpoints, seconds: number, dir: string, warmupMs = 500): Promise<UdpRun> {
  const dstMac = await readNetAttr(ep.b.ns, ep.b.ifname, 'address');
  const srcMac = await readNetAttr(ep.a.ns, ep.a.ifname, 'address');
  const conf = path.join(dir, 'udp64.trafgen');
  writeFileSync(conf, trafgenConfig(dstMac, srcMac, ep.a.ip, ep.b.ip));
  // --no-sock-mem and --notouch-irq: leave the host's sysctls and IRQ affinity alone.
  const gen = start(
    'ip',
    ['netns', 'exec', ep.a.ns, 'trafgen', '--dev', ep.a.ifname, '--conf', conf, '--cpus', '1', '--no-sock-mem', '--notouch-irq'],
    { group: true },
  );
  try {
    await sleep(warmupMs);
    if (gen.hasExited()) throw new Error(`trafgen exited: ${gen.output().trim()}`);
    const pid = ep.switchPid?.() ?? null;
    const c0 = pid === null ? null : threadsCpuNs(pid);
    const a0 = procNetDev(gen.pid, ep.a.ifname);
    const r0 = await readCounter(ep.b.ns, ep.b.ifname, 'rx_packets');
    await sleep(seconds * 1000);
    const c1 = pid === null ? null : threadsCpuNs(pid);
    const a1 = procNetDev(gen.pid, ep.a.ifname);
    const r1 = await readCounter(ep.b.ns, ep.b.ifname, 'rx_packets');
    if (gen.hasExited()) throw new Error(`trafgen exited early: ${gen.output().trim()}`);
    await gen.stop('SIGINT', 3000);
    const windowS = (r1.atMs - r0.atMs) / 1000;
    const received = r1.value - r0.value;
    const sent = trafgenSent(gen.output());
    return {
      rxPps: received / windowS,
      offeredPps: (a1.txPackets + a1.txDropped - a0.txPackets - a0.txDropped) / (a1.t - a0.t),
      cpuNsPerFrame: c0 === null || c1 === null || received <= 0 ? null : (c1 - c0) / received,
      sentPps: sent && sent.seconds > 0 ? sent.packets / sent.seconds : null,
      windowS,
    };
  } finally {
    await gen.stop('SIGKILL', 1000);
  }
}
