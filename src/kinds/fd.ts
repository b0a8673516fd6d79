/**
 * The "fd" kind: a port on a file descriptor a client hands over with the
 * original containet's `add-etherfd` (a tap of any framing, or a unix datagram
 * or seqpacket socket carrying one frame per message), taken away with
 * `remove-etherfd`, or when the process it names exits, or (naming none) when
 * the client that handed it over does, unless the request says to keep it: the
 * fd the daemon holds would keep a container's network namespace alive, so a
 * port tied to nothing would outlive its container. containode and the
 * original's clients make these. See docs/fd.md.
 */
import { readFileSync, statSync } from 'node:fs';

import { ProtocolError, bool, checkName, onlyFields, posInt, str, thread, type Body } from '../daemon/fields.js';
import { native } from '../native.js';
import type { Call, KindContext } from './kind.js';
import { lanNamed } from './lan.js';
import { checkThread, portFields, portHooks, unpersist, type PortObject } from './port.js';
import { register } from './registry.js';
import { field, runVerb, savedOwner, savedThread } from './saved.js';

/** A port on an fd handed over, with what a restarted daemon needs to find
 *  its tap again (docs/state.md). */
export interface FdObject extends PortObject {
  kind: 'fd';
  /** its tap was made persistent (--state): removing the port must undo it */
  persist: boolean;
  /** the network namespace the tap is in (device and inode numbers), when known */
  netnsId?: { dev: number; ino: number } | undefined;
  /** start time of process pid (field 22 of /proc/PID/stat): tells it from a
   *  later process that got the same pid */
  pidStart?: string | undefined;
  /** queues of a multi-queue tap the port polls (1: a single-queue tap or a socket) */
  queues: number;
}

/** The most fds add-etherfd takes: a multi-queue tap's queues, one per worker
 *  thread the engine can run (CTN_MAX_WORKERS). */
const MAX_QUEUES = 8;

/** add-etherfd, validated: the original's ifname and nodeid, and our extensions. */
export interface AddEtherFdRequest {
  verb: 'add-etherfd';
  ifname: string;
  nodeid: string;
  lan?: string;
  name?: string;
  pid?: number;
  /** keep the port after the client that sent the request exits */
  keep?: boolean;
  /** path of the network namespace the tap is in (a CNI runtime's CNI_NETNS):
   *  where a restarted daemon finds the tap again when no pid says it */
  netns?: string;
  thread?: number;
}

/** remove-etherfd, validated. */
export interface RemoveEtherFdRequest {
  verb: 'remove-etherfd';
  nodeid: string;
  ifname?: string;
}

declare module './kind.js' {
  interface KindRequests {
    'add-etherfd': AddEtherFdRequest;
    'remove-etherfd': RemoveEtherFdRequest;
  }
}

/** Highest pid Linux hands out (pid_max's ceiling). */
const PID_MAX = 2 ** 22;

/** State (R, S, Z ...: field 3 of /proc/PID/stat) and start time (clock
 *  ticks since boot) of process @pid, or undefined when it does not exist. */
export function processStat(pid: number): { state: string; start: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count from the last ")".
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: f[0]!, start: f[19]! };
  } catch {
    return undefined;
  }
}

/** Start time of process @pid (clock ticks since boot), or undefined when it
 *  does not exist. */
export function processStart(pid: number): string | undefined {
  return processStat(pid)?.start;
}

/** Device and inode numbers of namespace file @file, or undefined. */
function nsId(file: string): { dev: number; ino: number } | undefined {
  try {
    const st = statSync(file);
    return { dev: st.dev, ino: st.ino };
  } catch {
    return undefined;
  }
}

/** add-etherfd: make a port of the request's fd. */
function addEtherFd(ctx: KindContext, req: AddEtherFdRequest, call: Call): void {
  const fd = call.fds[0]!;
  // A multi-queue tap's other queues ("queue1".. for the engine); those beyond
  // its workers it closes.
  const queues = Object.fromEntries(call.fds.slice(1).map((q, i) => [`queue${i + 1}`, q]));
  const lan = lanNamed(ctx, req.lan ?? ctx.defaults.lan);
  const name = req.name ?? `${req.nodeid}.${req.ifname}`;
  checkName(name, `port name "${name}" (from nodeid and ifname; pass "name" to choose one)`);
  if (ctx.model.has(name)) throw new ProtocolError(`an object named "${name}" already exists`);
  checkThread(ctx, req.verb, req.thread);
  // Where the tap is, asked of the kernel while the fd is ours (null: a socket,
  // or a kernel before 5.2).
  const where = ctx.persistent ? native().tapNetns(fd) : null;
  const info = ctx.call((e) => e.addPort('fd', [lan.id], { fd, ...queues, persist: ctx.persistent }, req.thread))[0]!;
  for (const q of call.fds) call.unused.delete(q);
  // The process whose exit removes the port: the one named, else the client
  // itself (0 when it is in a pid namespace the daemon cannot see).
  const owner = req.pid ?? (req.keep || !call.client.pid ? undefined : call.client.pid);
  if (owner !== undefined) {
    try {
      ctx.engine().watchPid(info.id, owner);
    } catch (e) {
      ctx.engine().delPort(info.id);
      throw new ProtocolError((e as Error).message);
    }
  }
  const tap = info.kind === 'tap';
  const port: FdObject = {
    ...portFields(info, lan, call.client),
    kind: 'fd',
    name,
    ifname: info.ifname || req.ifname,
    nodeid: req.nodeid,
    pid: owner,
    netns: req.netns,
    persist: ctx.persistent && tap,
    netnsId: !ctx.persistent || !tap ? undefined : (where ?? (req.netns ? nsId(req.netns) : owner !== undefined ? nsId(`/proc/${owner}/ns/net`) : undefined)),
    pidStart: ctx.persistent && owner !== undefined ? processStart(owner) : undefined,
    queues: info.counters.queues ?? 1,
  };
  ctx.model.add(port);
  const how = [info.kind, info.vnetHdr ? 'vnet-hdr' : '', info.packetInfo ? 'packet-info' : '', info.offloads.length ? `offloads ${info.offloads.join(',')}` : '', port.queues > 1 ? `${port.queues} queues` : ''].filter(Boolean).join(' ');
  const tie = owner === undefined ? 'kept until removed' : owner === req.pid ? `until pid ${owner} exits` : `until its client (pid ${owner}) exits`;
  ctx.log.info(`port ${name} (${how} ${port.ifname}) joined ${lan.name}, from pid ${call.client.pid}, ${tie}`);
}

/**
 * Find the saved tap @rec of port @name again and make its port: the process
 * that owns it must be the same one (pid and start time), its network
 * namespace the same (the pid's, the saved netns path's or the daemon's own,
 * checked by inode), and the device there; it is opened as it is, never made.
 */
function restoreFd(ctx: KindContext, name: string, rec: Record<string, unknown>): void {
  const ifname = field(rec, 'ifname', 'string', true)!;
  const pid = field(rec, 'pid', 'number', false);
  const netns = field(rec, 'netns', 'string', false);
  const id = field(rec, 'netnsId', 'object', false) as { dev: number; ino: number } | undefined;
  const same = (f: string) => {
    const got = nsId(f);
    return got !== undefined && (id ? got.dev === id.dev && got.ino === id.ino : f !== '/proc/self/ns/net');
  };
  // A multi-queue tap is opened with a queue per worker it had, as far as
  // this daemon runs workers.
  const queues = Math.max(1, Math.min(field(rec, 'queues', 'number', false) ?? 1, ctx.engine().threads()));
  const open = (where: string, unpersist: boolean) =>
    native().tapCreate(
      {
        netns: where,
        ifname,
        vnetHdr: field(rec, 'vnetHdr', 'boolean', false) === true,
        packetInfo: field(rec, 'packetInfo', 'boolean', false) === true,
        attach: true,
        unpersist,
      },
      queues,
    );
  if (pid !== undefined) {
    const start = processStart(pid);
    if (start === undefined || start !== field(rec, 'pidStart', 'string', false)) {
      // Its owner ended while no daemon ran: its tap goes too, if it is still
      // there (a namespace someone else keeps, found by its path).
      let left = '';
      if (netns !== undefined && same(netns)) {
        try {
          for (const q of open(netns, true)) native().closeFd(q);
          left = `; its tap ${ifname} in ${netns} removed`;
        } catch {
          // gone already
        }
      }
      throw new Error(`its process ${pid} is gone${start === undefined ? '' : ' (the pid is another process\'s now)'}${left}`);
    }
  }
  const candidates = [pid !== undefined ? `/proc/${pid}/ns/net` : undefined, netns, '/proc/self/ns/net'].filter((x): x is string => x !== undefined);
  const ns = candidates.find(same);
  if (!ns) throw new Error(`the network namespace of its tap ${ifname} is gone${netns ? ` (netns ${netns})` : ''}`);
  const fds = open(ns, false);
  const body: Body = { ifname, nodeid: field(rec, 'nodeid', 'string', true)!, lan: field(rec, 'lan', 'string', true)!, name };
  if (pid !== undefined) body.pid = pid;
  else body.keep = true;
  if (netns !== undefined) body.netns = netns;
  const t = savedThread(ctx, rec);
  if (t !== undefined) body.thread = t;
  runVerb(ctx, 'add-etherfd', body, savedOwner(rec), fds, (x) => native().closeFd(x));
}

/** What every port kind shares (its show says the queues); the fd kind's
 *  remove wraps its remove. */
const hooks = portHooks<FdObject>((p) => ({ queues: p.queues }));

register<FdObject>({
  name: 'fd',
  noun: 'port',
  ...hooks,
  remove(ctx, p) {
    unpersist(ctx, p, `port ${p.name}: tap ${p.ifname}`);
    hooks.remove(ctx, p);
  },
  save(p) {
    if (!p.persist) return undefined; // a socket, or a tap that dies with the daemon
    return {
      lan: p.lan,
      ifname: p.ifname,
      nodeid: p.nodeid,
      pid: p.pid,
      pidStart: p.pidStart,
      netns: p.netns,
      netnsId: p.netnsId,
      vnetHdr: p.vnetHdr,
      packetInfo: p.packetInfo,
      thread: p.thread,
      owner: p.owner,
      ...(p.queues > 1 ? { queues: p.queues } : {}),
    };
  },
  restore: restoreFd,
  verbs: [
    {
      name: 'add-etherfd',
      fds: 1,
      maxFds: MAX_QUEUES,
      parse(b: Body): AddEtherFdRequest {
        const verb = 'add-etherfd';
        onlyFields(b, verb, ['ifname', 'nodeid', 'lan', 'name', 'pid', 'keep', 'netns', 'thread']);
        const r: AddEtherFdRequest = { verb, ifname: str(b, 'ifname', verb, true)!, nodeid: str(b, 'nodeid', verb, true)! };
        const lan = str(b, 'lan', verb, false);
        if (lan !== undefined) r.lan = lan;
        if (b.name !== undefined) r.name = checkName(b.name, 'add-etherfd: "name"');
        const pid = posInt(b, 'pid', verb, PID_MAX);
        if (pid !== undefined) r.pid = pid;
        const keep = bool(b, 'keep', verb);
        if (keep !== undefined) r.keep = keep;
        const netns = str(b, 'netns', verb, false);
        if (netns !== undefined) {
          if (!netns.startsWith('/')) throw new ProtocolError(`${verb}: "netns" must be an absolute path`);
          r.netns = netns;
        }
        const t = thread(b, verb);
        if (t !== undefined) r.thread = t;
        return r;
      },
      run(ctx, req: AddEtherFdRequest, call) {
        addEtherFd(ctx, req, call);
        return {};
      },
    },
    {
      name: 'remove-etherfd',
      fds: 0,
      parse(b: Body): RemoveEtherFdRequest {
        const verb = 'remove-etherfd';
        onlyFields(b, verb, ['nodeid', 'ifname']);
        const r: RemoveEtherFdRequest = { verb, nodeid: str(b, 'nodeid', verb, true)! };
        const ifname = str(b, 'ifname', verb, false);
        if (ifname !== undefined) r.ifname = ifname;
        return r;
      },
      run(ctx, req: RemoveEtherFdRequest) {
        const ports = ctx.model.ofKind<PortObject>('fd').filter((p) => p.nodeid === req.nodeid && (!req.ifname || p.ifname === req.ifname));
        if (!ports.length) throw new ProtocolError(`no port of node "${req.nodeid}"${req.ifname ? ` with ifname ${req.ifname}` : ''}`);
        for (const p of ports) ctx.remove(p, 'removed by its node');
        return {};
      },
    },
  ],
});
