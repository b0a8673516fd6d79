/**
 * A containet daemon of the bench's own (started by pid, stopped by that pid)
 * and taps made inside a namespace with the addon and handed to it, as
 * containode does.
 */
import path from 'node:path';

import { request } from '../src/client.js';
import { native, packageRoot } from '../src/native.js';
import { start, sleep, type Proc } from './proc.js';
import type { Scope } from './scope.js';

/** A running daemon. */
export interface Containet {
  proc: Proc;
  /** Its switch socket. */
  sock: string;
}

/**
 * Start `containet -s DIR/sw.sock --log-level warn ...@extraArgs` and wait until
 * it answers `version`; @scope stops it (SIGTERM, then SIGKILL, by its pid).
 * With @o.cpus (a taskset list, e.g. "0") the daemon and all its threads run on
 * those CPUs only (`taskset -c`); with @o.netns it runs inside that namespace
 * (`ip netns exec`). Both exec: the pid is the daemon's.
 */
export async function startContainet(scope: Scope, dir: string, extraArgs: string[], o: { cpus?: string; netns?: string } = {}): Promise<Containet> {
  const sock = path.join(dir, 'sw.sock');
  const bin = path.join(packageRoot, 'bin', 'containet.js');
  let proc: Proc | undefined;
  scope.defer('stop the containet daemon', () => proc?.stop('SIGTERM', 5000));
  const argv = [process.execPath, bin, '-s', sock, '--log-level', 'warn', ...extraArgs];
  if (o.cpus !== undefined) argv.unshift('taskset', '-c', o.cpus);
  if (o.netns !== undefined) argv.unshift('ip', 'netns', 'exec', o.netns);
  proc = start(argv[0]!, argv.slice(1));
  const deadline = Date.now() + 15000;
  for (;;) {
    if (proc.hasExited()) throw new Error(`containet exited at start: ${proc.output().trim().split('\n').slice(-3).join(' / ')}`);
    const ok = await request(sock, { version: {} }, -1, 1000).then(
      () => true,
      () => false,
    );
    if (ok) return { proc, sock };
    if (Date.now() > deadline) throw new Error(`containet does not answer on ${sock}: ${proc.output().trim()}`);
    await sleep(100);
  }
}

/** What a tap handed to the daemon is made of. */
export interface TapSpec {
  /** Namespace the tap lives in (as eth0). */
  ns: string;
  ip: string;
  /** IFF_VNET_HDR (offloads) or plain frames. */
  vnetHdr: boolean;
  /** Node id of the port (the port is named NODEID.eth0). */
  nodeid: string;
  /** MTU of the tap (default 1500). */
  mtu?: number;
  /** Lan to join (default: the daemon's default lan). */
  lan?: string;
  /** Queues of the tap (default: one per worker thread of the daemon, as containode makes them). */
  queues?: number;
}

/**
 * Make tap eth0 (MTU @spec.mtu, default 1500, up, with @spec.ip/24; a queue per
 * worker thread of the daemon unless @spec.queues says) in @spec.ns with the addon and
 * add it to the daemon's default lan (`add-etherfd`); our copy of the fd is
 * closed whatever happens. The tap goes when the daemon or the namespace does.
 */
export async function attachTap(d: Containet, spec: TapSpec): Promise<void> {
  const threads = Number((await request(d.sock, { version: {} })).threads ?? 1);
  const fds = native().tapCreate({
    netns: `/run/netns/${spec.ns}`,
    ifname: 'eth0',
    vnetHdr: spec.vnetHdr,
    packetInfo: false,
    ipv4: spec.ip,
    prefix: 24,
    mtu: spec.mtu ?? 1500,
    up: true,
    loUp: true,
  }, spec.queues ?? threads);
  try {
    await request(d.sock, { 'add-etherfd': { ifname: 'eth0', nodeid: spec.nodeid, ...(spec.lan ? { lan: spec.lan } : {}) } }, fds);
  } finally {
    for (const fd of fds) native().closeFd(fd);
  }
}
