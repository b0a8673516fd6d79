/**
 * Network namespaces and links for the paths: every name starts with the run's
 * unique prefix, every namespace and link made here is deleted by the scope that
 * made it, and commands run inside a namespace only by `ip netns exec`.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

import { exec, run, sleep, type ExecResult } from './proc.js';
import type { Scope } from './scope.js';

/** A prefix unique to this run: "cb" and 6 hex digits (8 characters). */
export function makeRunId(): string {
  return `cb${randomBytes(3).toString('hex')}`;
}

/**
 * Make network namespace @name (deleted when @scope closes), with IPv6 off so
 * that no neighbour discovery or MLD adds packets to the counters, and lo up.
 */
export async function addNetns(scope: Scope, name: string): Promise<string> {
  if (name.length > 15) throw new Error(`namespace name ${name} is too long`);
  scope.defer(`delete namespace ${name}`, () => delNetns(name));
  await run('ip', ['netns', 'add', name]);
  await run('ip', ['netns', 'exec', name, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
  await run('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  return name;
}

/** Delete namespace @name if it exists (links inside it go with it). */
async function delNetns(name: string): Promise<void> {
  if (!(await listNetns()).includes(name)) return;
  await run('ip', ['netns', 'del', name]);
}

/** Names of the named network namespaces (`ip netns list`). */
export async function listNetns(): Promise<string[]> {
  const out = await run('ip', ['netns', 'list']);
  return out
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => n !== '');
}

/** Names of the links of the root namespace (`ip -o link`), without the "@peer" part. */
export async function listRootLinks(): Promise<string[]> {
  const out = await run('ip', ['-o', 'link', 'show']);
  return out
    .split('\n')
    .map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1] ?? '')
    .filter((n) => n !== '');
}

/** Run @args inside namespace @ns (`ip netns exec`); never throws on failure. */
export function nsExec(ns: string, args: string[], timeoutMs = 30000): Promise<ExecResult> {
  return exec('ip', ['netns', 'exec', ns, ...args], { timeoutMs });
}

/** Run an `ip` command on namespace @ns (`ip -n NS ...`), throwing on failure. */
export async function ipIn(ns: string, ...args: string[]): Promise<void> {
  await run('ip', ['-n', ns, ...args]);
}

/** One end of a veth pair: its name inside namespace ns. */
export interface VethEnd {
  ns: string;
  name: string;
}

/**
 * Make a veth pair with MTU @mtu whose ends are created directly inside their
 * namespaces (never in the root namespace), and set both up. The pair goes with
 * either namespace.
 */
export async function addVeth(a: VethEnd, b: VethEnd, mtu = 1500): Promise<void> {
  for (const e of [a, b]) if (e.name.length > 15) throw new Error(`link name ${e.name} is too long`);
  await run('ip', ['link', 'add', a.name, 'netns', a.ns, 'mtu', String(mtu), 'type', 'veth', 'peer', 'name', b.name, 'netns', b.ns, 'mtu', String(mtu)]);
  await ipIn(a.ns, 'link', 'set', a.name, 'up');
  await ipIn(b.ns, 'link', 'set', b.name, 'up');
}

/** Give @ifname in @ns the address @ip/@prefix and set it up. */
export async function setAddress(ns: string, ifname: string, ip: string, prefix = 24): Promise<void> {
  await ipIn(ns, 'addr', 'add', `${ip}/${prefix}`, 'dev', ifname);
  await ipIn(ns, 'link', 'set', ifname, 'up');
}

/** Read /sys/class/net/@ifname/@attr as seen inside @ns, trimmed. */
export async function readNetAttr(ns: string, ifname: string, attr: string): Promise<string> {
  const r = await nsExec(ns, ['cat', `/sys/class/net/${ifname}/${attr}`], 10000);
  if (r.code !== 0) throw new Error(`cannot read ${attr} of ${ifname} in ${ns}: ${r.stderr.trim()}`);
  return r.stdout.trim();
}

/**
 * A counter of @ifname in @ns (statistics/@name) and the time it was read: the
 * midpoint of the read, in ms of performance.now(), so the cost of
 * `ip netns exec` splits evenly between two reads of a window.
 */
export async function readCounter(ns: string, ifname: string, name: string): Promise<{ value: number; atMs: number }> {
  const before = performance.now();
  const text = await readNetAttr(ns, ifname, `statistics/${name}`);
  const after = performance.now();
  const value = Number(text);
  if (!Number.isFinite(value)) throw new Error(`${name} of ${ifname} in ${ns} is not a number: ${text}`);
  return { value, atMs: (before + after) / 2 };
}

/** The counters of one interface in /proc/PID/net/dev. */
export interface NetDevCounters {
  rxBytes: number;
  rxPackets: number;
  txPackets: number;
  txDropped: number;
  /** When they were read, s of performance.now(). */
  t: number;
}

/**
 * The counters of @ifname in the namespace of process @pid, from
 * /proc/PID/net/dev: read in microseconds from here, where `ip netns exec cat`
 * takes 4-14 ms.
 */
export function procNetDev(pid: number, ifname: string): NetDevCounters {
  const text = readFileSync(`/proc/${pid}/net/dev`, 'utf8');
  const t = performance.now() / 1000;
  const line = text.split('\n').find((l) => l.trimStart().startsWith(`${ifname}:`));
  if (line === undefined) throw new Error(`no ${ifname} in /proc/${pid}/net/dev`);
  // rx: bytes packets errs drop fifo frame compressed multicast; tx: bytes packets errs drop ...
  const f = line.slice(line.indexOf(':') + 1).trim().split(/\s+/).map(Number);
  return { rxBytes: f[0]!, rxPackets: f[1]!, txPackets: f[9]!, txDropped: f[11]!, t };
}

/**
 * Wait until @ns can ping @ip (one echo a try, up to @timeoutMs), which also
 * fills both ARP caches and lets switches learn both stations.
 */
export async function waitReachable(ns: string, ip: string, timeoutMs = 15000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const r = await nsExec(ns, ['ping', '-n', '-c', '1', '-W', '1', ip], 5000);
    if (r.code === 0) return;
    last = (r.stdout + r.stderr).trim().split('\n').slice(-2).join(' / ');
    if (Date.now() > deadline) throw new Error(`${ip} does not answer ping from ${ns} after ${timeoutMs} ms (${last})`);
    await sleep(200);
  }
}
