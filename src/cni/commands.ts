/**
 * The plugin's commands: ADD (a tap CNI_IFNAME made in CNI_NETNS, given its
 * addresses and routes, handed to the daemon as a port), DEL (the port
 * removed, the addresses released; success when any of it is already gone),
 * CHECK (the port, the device and its addresses still as ADD left them) and
 * VERSION. Each returns the JSON object to print, or null for none.
 */
import { native } from '../native.js';
import { SUPPORTED_VERSIONS, type CniEnv, type PluginConfig } from './config.js';
import { addPort, daemonThreads, nodeId, portName, removePort, shownPort, type DaemonTarget } from './daemon.js';
import { CniCode, CniError } from './errors.js';
import { ipamAdd, ipamCheck, ipamDel, type Delegation } from './ipam.js';
import { addresses, configure, linkInfo, netnsExists, waitLinkGone } from './netns.js';
import { addResult, parseResult, renderResult, type CniResult } from './result.js';

/** What a command is given: the environment, the config, stdin as it came. */
export interface CommandContext {
  env: CniEnv;
  conf: PluginConfig;
  /** the network config as read from stdin (passed to the ipam plugin unchanged) */
  stdin: string;
  /** the whole process environment (passed to the ipam plugin) */
  processEnv: Record<string, string | undefined>;
  /** where diagnostics go (stderr) */
  log: (line: string) => void;
}

/** The daemon of @conf. */
function target(conf: PluginConfig): DaemonTarget {
  return { socket: conf.socket, ...(conf.authtoken !== undefined ? { authtoken: conf.authtoken } : {}) };
}

/** The ipam delegation of @ctx, or undefined when the config has no ipam. */
function delegation(ctx: CommandContext): Delegation | undefined {
  if (!ctx.conf.ipam) return undefined;
  return { type: ctx.conf.ipam.type, dirs: ctx.env.path, stdin: ctx.stdin, env: ctx.processEnv };
}

/** The addresses and routes of a static "address" (and "gateway": a default route). */
export function staticAllocation(conf: PluginConfig): Omit<CniResult, 'interfaces'> {
  if (!conf.address) return { ips: [], routes: [] };
  const a = conf.address;
  if (!conf.gateway) return { ips: [{ address: a }], routes: [] };
  const any = a.family === 4 ? { ip: '0.0.0.0', prefix: 0, family: 4 as const } : { ip: '::', prefix: 0, family: 6 as const };
  return { ips: [{ address: a, gateway: conf.gateway }], routes: [{ dst: any, gw: conf.gateway }] };
}

/** The prevResult of @conf, typed, or undefined. */
function prevResult(conf: PluginConfig): CniResult | undefined {
  return conf.prevResult ? parseResult(conf.prevResult, 'network config: "prevResult"', CniCode.invalidConfig) : undefined;
}

/** ADD: the tap, its addresses and routes, the port; the result. */
export async function cmdAdd(ctx: CommandContext): Promise<Record<string, unknown>> {
  const { env, conf } = ctx;
  const prev = prevResult(conf);
  if (!netnsExists(env.netns)) throw new CniError(CniCode.invalidEnv, `CNI_NETNS ${env.netns} does not exist`);
  if (await linkInfo(env.netns, env.ifname)) throw new CniError(CniCode.interfaceFailure, `an interface ${env.ifname} already exists in ${env.netns}`);
  const deleg = delegation(ctx);
  let alloc: Omit<CniResult, 'interfaces'> = staticAllocation(conf);
  try {
    if (deleg) alloc = await ipamAdd(deleg);
    // A queue per worker of the daemon, so each polls one (docs/fd.md).
    const queues = conf.queues ?? (await daemonThreads(target(conf)));
    let fds: number[];
    try {
      fds = native().tapCreate({ netns: env.netns, ifname: env.ifname, vnetHdr: true, up: true, ...(conf.mtu ? { mtu: conf.mtu } : {}) }, queues);
    } catch (e) {
      throw new CniError(CniCode.interfaceFailure, `cannot make tap ${env.ifname} in ${env.netns}`, (e as Error).message);
    }
    try {
      // The tap lives as long as an fd of it is open: closing ours after the
      // daemon took its copy leaves the daemon's; on any failure it goes.
      await configure(env.netns, env.ifname, alloc.ips, alloc.routes);
      const link = await linkInfo(env.netns, env.ifname);
      if (!link) throw new CniError(CniCode.interfaceFailure, `tap ${env.ifname} vanished from ${env.netns}`);
      await addPort(target(conf), { nodeid: nodeId(env.containerId, env.ifname), ifname: env.ifname, netns: env.netns, ...(conf.lan ? { lan: conf.lan } : {}) }, fds);
      return renderResult(addResult(prev, { name: env.ifname, mac: link.mac, sandbox: env.netns }, alloc), conf.cniVersion);
    } finally {
      for (const fd of fds) native().closeFd(fd);
    }
  } catch (e) {
    // Release what the ipam plugin allocated (the spec: DEL after a failed ADD).
    if (deleg) await ipamDel(deleg).catch((d: Error) => ctx.log(`ipam ${deleg.type} DEL after the failed ADD failed too: ${d.message}`));
    throw e;
  }
}

/** How long DEL waits for a removed port's device to leave the namespace (ms). */
const DEVICE_GONE_MS = 10000;

/** DEL: the port removed (its device gone from the namespace) and the addresses released, whatever is already gone. */
export async function cmdDel(ctx: CommandContext): Promise<null> {
  const { env, conf } = ctx;
  const nodeid = nodeId(env.containerId, env.ifname);
  const how = await removePort(target(conf), nodeid, env.ifname);
  if (how === 'no-daemon') ctx.log(`no containet daemon at ${conf.socket}: port ${portName(nodeid, env.ifname)} is gone with it`);
  // The device leaves the namespace a moment after the port: DEL is done when it has, so an ADD may follow.
  if (how === 'removed' && env.netns && !(await waitLinkGone(env.netns, env.ifname, DEVICE_GONE_MS)))
    ctx.log(`${env.ifname} is still in ${env.netns} ${DEVICE_GONE_MS / 1000} s after its port was removed`);
  const deleg = delegation(ctx);
  if (deleg) await ipamDel(deleg);
  return null;
}

/** CHECK: the port on the daemon (on its lan), the device up in the namespace with ADD's MAC, MTU and addresses; then the ipam plugin's CHECK. */
export async function cmdCheck(ctx: CommandContext): Promise<null> {
  const { env, conf } = ctx;
  const prev = prevResult(conf);
  if (!prev) throw new CniError(CniCode.invalidConfig, 'network config: CHECK needs "prevResult" (the result of ADD)');
  const idx = prev.interfaces.findIndex((i) => i.name === env.ifname && i.sandbox === env.netns);
  if (idx < 0) throw new CniError(CniCode.checkFailed, `prevResult has no interface ${env.ifname} in ${env.netns}`);
  const bad = (msg: string) => new CniError(CniCode.checkFailed, msg);
  const name = portName(nodeId(env.containerId, env.ifname), env.ifname);
  const port = await shownPort(target(conf), name);
  if (!port) throw bad(`the containet daemon at ${conf.socket} has no port ${name}`);
  if (conf.lan && port.lan !== conf.lan) throw bad(`port ${name} is on lan ${String(port.lan)}, not ${conf.lan}`);
  if (!netnsExists(env.netns)) throw bad(`CNI_NETNS ${env.netns} does not exist`);
  const link = await linkInfo(env.netns, env.ifname);
  if (!link) throw bad(`no interface ${env.ifname} in ${env.netns}`);
  if (!link.up) throw bad(`${env.ifname} in ${env.netns} is down`);
  const want = prev.interfaces[idx]!.mac;
  if (want && want.toLowerCase() !== link.mac.toLowerCase()) throw bad(`${env.ifname} has MAC ${link.mac}, not ${want}`);
  if (conf.mtu && link.mtu !== conf.mtu) throw bad(`${env.ifname} has MTU ${link.mtu}, not ${conf.mtu}`);
  const have = await addresses(env.netns, env.ifname);
  for (const ip of prev.ips.filter((i) => i.interface === idx)) {
    if (!have.some((a) => a.ip === ip.address.ip && a.prefix === ip.address.prefix))
      throw bad(`${env.ifname} in ${env.netns} lacks its address ${ip.address.ip}/${ip.address.prefix}`);
  }
  const deleg = delegation(ctx);
  if (deleg) await ipamCheck(deleg);
  return null;
}

/** VERSION: the versions spoken, under the version asked (@asked, "1.0.0" when none). */
export function cmdVersion(asked: string | undefined): Record<string, unknown> {
  return { cniVersion: asked ?? '1.0.0', supportedVersions: [...SUPPORTED_VERSIONS] };
}
