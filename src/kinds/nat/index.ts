/**
 * The "nat" kind: a port that gives a lan its way out through the host's own
 * sockets (libslirp in the dataplane): DHCP, DNS, TCP, UDP, ICMP echo, and port
 * forwards from the host added and removed at run time. Its settings (network,
 * forwards, upstream) are read by ./settings.ts. See docs/nat.md.
 */
import { Option, type Command } from 'commander';

import { ProtocolError, bool, checkName, onlyFields, posInt, str, thread, type Body } from '../../daemon/fields.js';
import { positiveInt, threadIndex } from '../../cli/args.js';
import { newPortChecks, portFields, portHooks, type PortObject } from '../port.js';
import { register } from '../registry.js';
import { field, runVerb, savedOwner, savedThread } from '../saved.js';
import {
  NAT_DEFAULT_MTU,
  NAT_DEFAULT_NET,
  forwardSpec,
  natAddresses,
  parseForward,
  parseUpstream,
  type NatAddresses,
  type NatForward,
} from './settings.js';
import './topology.js';

/** A NAT port: its addresses and the port forwards in place (specs). */
export interface NatObject extends PortObject {
  kind: 'nat';
  nat: {
    net: string;
    gateway: string;
    dns: string;
    dhcpStart: string;
    mtu: number;
    hostLoopback: boolean;
    ipv6: boolean;
    dnsUpstream: string;
    forwards: string[];
  };
  /** the add-nat request's own fields that the above does not show, for the state file */
  asked: { maxConnections?: number | undefined; dnsUpstream?: string | undefined };
}

/** add-nat, validated. */
export interface AddNatRequest {
  verb: 'add-nat';
  name: string;
  lan?: string;
  addresses: NatAddresses;
  forwards: NatForward[];
  hostLoopback: boolean;
  mtu: number;
  ipv6: boolean;
  maxConnections?: number;
  dnsUpstream?: { addr: string; port: number };
  thread?: number;
}

declare module '../kind.js' {
  interface KindRequests {
    'add-nat': AddNatRequest;
  }
  interface SetParts {
    /** a nat's forward to add */
    addForward?: NatForward;
    /** a nat's forward to take away */
    delForward?: NatForward;
  }
}

/** Most host sockets a NAT may be allowed at once. */
const MAX_CONNECTIONS = 4000;

/** Validate an add-nat body. */
function parseAddNat(b: Body): AddNatRequest {
  const verb = 'add-nat';
  onlyFields(b, verb, ['name', 'lan', 'net', 'forward', 'host-loopback', 'mtu', 'ipv6', 'max-connections', 'dns-upstream', 'thread']);
  const forwards = b.forward === undefined ? [] : b.forward;
  if (!Array.isArray(forwards) || forwards.some((f) => typeof f !== 'string')) throw new ProtocolError('add-nat: "forward" must be a list of strings');
  const hostLoopback = bool(b, 'host-loopback', verb);
  const ipv6 = bool(b, 'ipv6', verb);
  const r: AddNatRequest = {
    verb,
    name: checkName(b.name, 'add-nat: "name"'),
    addresses: natAddresses(str(b, 'net', verb, false) ?? NAT_DEFAULT_NET),
    forwards: (forwards as string[]).map(parseForward),
    hostLoopback: hostLoopback !== false,
    mtu: posInt(b, 'mtu', verb, 65520, 576) ?? NAT_DEFAULT_MTU,
    ipv6: ipv6 === true,
  };
  const lan = str(b, 'lan', verb, false);
  if (lan !== undefined) r.lan = lan;
  const max = posInt(b, 'max-connections', verb, MAX_CONNECTIONS);
  if (max !== undefined) r.maxConnections = max;
  const up = str(b, 'dns-upstream', verb, false);
  if (up !== undefined) r.dnsUpstream = parseUpstream(up);
  const t = thread(b, verb);
  if (t !== undefined) r.thread = t;
  return r;
}

/** The engine's settings of a forward to add or (@remove) take away. */
function forwardSettings(f: NatForward, remove: boolean): Record<string, unknown> {
  return { remove, udp: f.udp, hostAddr: f.hostAddr, hostPort: f.hostPort, guestAddr: f.guestAddr, guestPort: f.guestPort };
}

register<NatObject>({
  name: 'nat',
  noun: 'nat',
  ...portHooks((p) => ({ nat: p.nat })),
  // Its settings and forwards; the connections open through it are not kept
  // (they are the host's sockets of this process).
  save: (p) => ({
    lan: p.lan,
    net: p.nat.net,
    forward: p.nat.forwards,
    hostLoopback: p.nat.hostLoopback,
    mtu: p.nat.mtu,
    ipv6: p.nat.ipv6,
    maxConnections: p.asked.maxConnections,
    dnsUpstream: p.asked.dnsUpstream,
    thread: p.thread,
    owner: p.owner,
  }),
  restore(ctx, name, rec) {
    const forward = rec.forward ?? [];
    if (!Array.isArray(forward)) throw new Error('its record\'s "forward" is not a list');
    const body: Body = {
      name,
      lan: field(rec, 'lan', 'string', true)!,
      net: field(rec, 'net', 'string', true)!,
      forward,
      'host-loopback': field(rec, 'hostLoopback', 'boolean', true)!,
      mtu: field(rec, 'mtu', 'number', true)!,
      ipv6: field(rec, 'ipv6', 'boolean', true)!,
    };
    const max = field(rec, 'maxConnections', 'number', false);
    if (max !== undefined) body['max-connections'] = max;
    const up = field(rec, 'dnsUpstream', 'string', false);
    if (up !== undefined) body['dns-upstream'] = up;
    const t = savedThread(ctx, rec);
    if (t !== undefined) body.thread = t;
    runVerb(ctx, 'add-nat', body, savedOwner(rec));
  },
  verbs: [
    {
      name: 'add-nat',
      fds: 0,
      parse: parseAddNat,
      run(ctx, req: AddNatRequest, call) {
        const lan = newPortChecks(ctx, req);
        const a = req.addresses;
        const settings = {
          net: a.net,
          mask: a.mask,
          gateway: a.gateway,
          dns: a.dns,
          dhcpStart: a.dhcpStart,
          mtu: req.mtu,
          ipv6: req.ipv6,
          noHostLoopback: !req.hostLoopback,
          maxSockets: req.maxConnections,
          dnsUpstream: req.dnsUpstream?.addr,
          dnsUpstreamPort: req.dnsUpstream?.port,
        };
        const info = ctx.call((e) => e.addPort('nat', [lan.id], settings, req.thread))[0]!;
        const forwards: string[] = [];
        try {
          for (const f of req.forwards) {
            ctx.engine().setPort(info.id, forwardSettings(f, false));
            forwards.push(forwardSpec(f));
          }
        } catch (e) {
          ctx.engine().delPort(info.id);
          throw new ProtocolError((e as Error).message);
        }
        const port: NatObject = {
          ...portFields(info, lan, call.client),
          kind: 'nat',
          name: req.name,
          nat: {
            net: `${a.net}/${a.prefix}`,
            gateway: a.gateway,
            dns: a.dns,
            dhcpStart: a.dhcpStart,
            mtu: req.mtu,
            hostLoopback: req.hostLoopback,
            ipv6: req.ipv6,
            dnsUpstream: req.dnsUpstream ? `${req.dnsUpstream.addr}:${req.dnsUpstream.port}` : 'host resolvers',
            forwards,
          },
          asked: { maxConnections: req.maxConnections, dnsUpstream: req.dnsUpstream ? `${req.dnsUpstream.addr}:${req.dnsUpstream.port}` : undefined },
        };
        ctx.model.add(port);
        ctx.log.info(`nat ${req.name} on ${lan.name}: network ${a.net}/${a.prefix}, gateway ${a.gateway}, dns ${a.dns}, ${forwards.length} forwards`);
        return {};
      },
    },
  ],
  set: {
    fields: ['add-forward', 'del-forward'],
    keys: ['addForward', 'delForward'],
    what: 'forwards',
    parse(b) {
      const part: { addForward?: NatForward; delForward?: NatForward } = {};
      const add = str(b, 'add-forward', 'set', false);
      if (add !== undefined) part.addForward = parseForward(add);
      const del = str(b, 'del-forward', 'set', false);
      if (del !== undefined) part.delForward = parseForward(del);
      return part;
    },
    apply(ctx, p, req) {
      const nat = p.nat;
      if (req.delForward) {
        const f = req.delForward;
        ctx.call((e) => e.setPort(p.id, forwardSettings(f, true)));
        nat.forwards = nat.forwards.filter((s) => s !== forwardSpec(f));
      }
      if (req.addForward) {
        const f = req.addForward;
        ctx.call((e) => e.setPort(p.id, forwardSettings(f, false)));
        nat.forwards.push(forwardSpec(f));
      }
      ctx.log.info(`nat ${p.name}: forwards ${nat.forwards.join(' ') || 'none'}`);
    },
  },
  cli: {
    add: {
      description: "add a NAT: the lan's way out through the host's sockets (DHCP, DNS, TCP, UDP, ICMP echo)",
      verb: 'add-nat',
      configure(cmd: Command) {
        cmd
          .option('--lan <lan>', "lan to serve (default: the daemon's default lan)")
          .option('--net <cidr>', 'guest network; gateway .2, DNS .3, leases from .15', NAT_DEFAULT_NET)
          .option('--forward <spec...>', 'host-to-guest forward tcp|udp:HOSTADDR:HOSTPORT:GUESTADDR:GUESTPORT (repeatable)')
          .option('--no-host-loopback', "the gateway address does not reach the host's 127.0.0.1")
          .addOption(new Option('--mtu <bytes>', 'MTU of the lan side').default(NAT_DEFAULT_MTU).argParser(positiveInt))
          .option('--ipv6', 'also IPv6 (fd00::/64, gateway ::2, DNS ::3)')
          .addOption(new Option('--max-connections <n>', 'host sockets at once; new TCP connections beyond are refused').argParser(positiveInt))
          .option('--dns-upstream <addr[:port]>', "answer DNS by relaying to this resolver (default: the host's resolvers)")
          .addOption(new Option('--thread <n>', 'worker thread that serves it').argParser(threadIndex));
      },
      body(name, opts) {
        const b: Body = { name, net: opts.net, forward: opts.forward ?? [], 'host-loopback': opts.hostLoopback, mtu: opts.mtu, ipv6: opts.ipv6 === true };
        if (opts.lan !== undefined) b.lan = opts.lan;
        if (opts.maxConnections !== undefined) b['max-connections'] = opts.maxConnections;
        if (opts.dnsUpstream !== undefined) b['dns-upstream'] = opts.dnsUpstream;
        if (opts.thread !== undefined) b.thread = opts.thread;
        return b;
      },
    },
    set: {
      help: "a nat's forwards",
      configure(cmd: Command) {
        cmd
          .option('--add-forward <spec>', 'a nat: add forward tcp|udp:HOSTADDR:HOSTPORT:GUESTADDR:GUESTPORT')
          .option('--del-forward <spec>', 'a nat: remove that forward');
      },
      body(opts) {
        const b: Body = {};
        if (opts.addForward !== undefined) b['add-forward'] = opts.addForward;
        if (opts.delForward !== undefined) b['del-forward'] = opts.delForward;
        return b;
      },
    },
  },
});
