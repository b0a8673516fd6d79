/**
 * The interface inside the container's network namespace, seen and set with
 * iproute2 run through `nsenter --net=CNI_NETNS` (CNI_NETNS is a path, which
 * `ip -n` does not take; this process itself never changes namespace): its
 * addresses and routes (one `ip -batch` run, stopping at the first error), its
 * MAC, its addresses as they are. The tap itself is made by the native
 * tapCreate (src/native.ts), which also sets its MTU and brings it up.
 */
import { statSync } from 'node:fs';

import { runChild, type ChildResult } from './child.js';
import { cidrString, type Cidr } from './config.js';
import { CniCode, CniError } from './errors.js';
import type { ResultIp, ResultRoute } from './result.js';

/** How long one `ip` run may take before it is killed. */
const IP_TIMEOUT_MS = 30000;

/** `ip ARGS` inside the namespace at @netns. */
function ipIn(netns: string, args: string[], stdin = ''): Promise<ChildResult> {
  return runChild('nsenter', [`--net=${netns}`, 'ip', ...args], { stdin, timeoutMs: IP_TIMEOUT_MS });
}

/** True when @netns names something (a namespace file, a bind mount of one). */
export function netnsExists(netns: string): boolean {
  try {
    statSync(netns);
    return true;
  } catch {
    return false;
  }
}

/** A device as `ip -j link` shows it. */
export interface LinkInfo {
  mac: string;
  mtu: number;
  up: boolean;
}

/** Device @ifname in @netns, or null when there is none; CniError when ip cannot tell. */
export async function linkInfo(netns: string, ifname: string): Promise<LinkInfo | null> {
  const r = await ipIn(netns, ['-j', 'link', 'show', 'dev', ifname]);
  if (r.status !== 0) {
    if (/does not exist/.test(r.stderr)) return null;
    throw new CniError(CniCode.interfaceFailure, `cannot look at ${ifname} in ${netns}`, r.stderr.trim());
  }
  try {
    const l = (JSON.parse(r.stdout) as { address: string; mtu: number; flags: string[] }[])[0]!;
    return { mac: l.address, mtu: l.mtu, up: l.flags.includes('UP') };
  } catch {
    throw new CniError(CniCode.interfaceFailure, `ip -j link show ${ifname} printed something unexpected`, r.stdout.slice(0, 300));
  }
}

/**
 * Wait until device @ifname has left @netns, at most @timeoutMs; true when it
 * has. The daemon closes a removed tap off its packet path, and the device
 * goes a moment after the reply (the kernel's grace period).
 */
export async function waitLinkGone(netns: string, ifname: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!netnsExists(netns) || (await linkInfo(netns, ifname).catch(() => null)) === null) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Addresses of @ifname in @netns (link-local IPv6 left out). */
export async function addresses(netns: string, ifname: string): Promise<Cidr[]> {
  const r = await ipIn(netns, ['-j', 'addr', 'show', 'dev', ifname]);
  if (r.status !== 0) throw new CniError(CniCode.interfaceFailure, `cannot list the addresses of ${ifname} in ${netns}`, r.stderr.trim());
  const [l] = JSON.parse(r.stdout) as { addr_info: { family: string; local: string; prefixlen: number; scope: string }[] }[];
  return (l?.addr_info ?? [])
    .filter((a) => a.scope !== 'link')
    .map((a) => ({ ip: a.local, prefix: a.prefixlen, family: a.family === 'inet6' ? 6 : 4 }));
}

/**
 * The `ip -batch` lines that give @ifname addresses @ips and routes @routes;
 * a route without gw goes through the gateway of its family's address, as
 * the spec allows, else straight onto the link. IPv6 addresses skip duplicate
 * address detection (nodad), so that routes through them can be added at once.
 */
export function ipCommands(ifname: string, ips: ResultIp[], routes: ResultRoute[]): string[] {
  const lines = ips.map((ip) => `addr add ${cidrString(ip.address)} dev ${ifname}${ip.address.family === 6 ? ' nodad' : ''}`);
  for (const rt of routes) {
    const gw = rt.gw ?? ips.find((ip) => ip.gateway && ip.address.family === rt.dst.family)?.gateway;
    lines.push(`route add ${cidrString(rt.dst)}${gw ? ` via ${gw}` : ''} dev ${ifname}`);
  }
  return lines;
}

/** Give @ifname in @netns its addresses and routes; CniError naming what ip refused. */
export async function configure(netns: string, ifname: string, ips: ResultIp[], routes: ResultRoute[]): Promise<void> {
  const lines = ipCommands(ifname, ips, routes);
  if (!lines.length) return;
  const r = await ipIn(netns, ['-batch', '-'], lines.join('\n') + '\n');
  if (r.status !== 0) throw new CniError(CniCode.interfaceFailure, `cannot configure ${ifname} in ${netns}`, `${r.stderr.trim()} (commands: ${lines.join('; ')})`);
}
