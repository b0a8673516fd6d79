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
import { ProtocolError, bool, checkName, onlyFields, posInt, str, thread, type Body } from '../daemon/fields.js';
import type { Call, KindContext } from './kind.js';
import { lanNamed } from './lan.js';
import { checkThread, portFields, portHooks, type PortObject } from './port.js';
import { register } from './registry.js';

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

/** add-etherfd: make a port of the request's fd. */
function addEtherFd(ctx: KindContext, req: AddEtherFdRequest, call: Call): void {
  const fd = call.fds[0]!;
  const lan = lanNamed(ctx, req.lan ?? ctx.defaults.lan);
  const name = req.name ?? `${req.nodeid}.${req.ifname}`;
  checkName(name, `port name "${name}" (from nodeid and ifname; pass "name" to choose one)`);
  if (ctx.model.has(name)) throw new ProtocolError(`an object named "${name}" already exists`);
  checkThread(ctx, req.verb, req.thread);
  const info = ctx.call((e) => e.addPort('fd', [lan.id], { fd }, req.thread))[0]!;
  call.unused.delete(fd);
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
  const port: PortObject = {
    ...portFields(info, lan, call.client),
    kind: 'fd',
    name,
    ifname: info.ifname || req.ifname,
    nodeid: req.nodeid,
    pid: owner,
    netns: req.netns,
  };
  ctx.model.add(port);
  const how = [info.kind, info.vnetHdr ? 'vnet-hdr' : '', info.packetInfo ? 'packet-info' : '', info.offloads.length ? `offloads ${info.offloads.join(',')}` : ''].filter(Boolean).join(' ');
  const tie = owner === undefined ? 'kept until removed' : owner === req.pid ? `until pid ${owner} exits` : `until its client (pid ${owner}) exits`;
  ctx.log.info(`port ${name} (${how} ${port.ifname}) joined ${lan.name}, from pid ${call.client.pid}, ${tie}`);
}

register<PortObject>({
  name: 'fd',
  noun: 'port',
  ...portHooks(),
  verbs: [
    {
      name: 'add-etherfd',
      fds: 1,
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
