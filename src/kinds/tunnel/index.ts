/**
 * The tunnel kinds: a lan stretched to other hosts over UDP. "vxlan" (RFC
 * 7348) and "geneve" (RFC 8926) are ports of the engine kinds of the same
 * names (native/kinds/tunnel/); "c2c" (cloonix's name for a link between two
 * daemons) is a vxlan port whose VNI is derived from its lan's name, so two
 * daemons join lans of one name with one command each. Their settings are read
 * by ./settings.ts. See docs/tunnel.md.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';

import { ProtocolError, type Body } from '../../daemon/fields.js';
import { positiveInt, threadIndex } from '../../cli/args.js';
import type { Call, KindContext } from '../kind.js';
import { newPortChecks, portFields, portHooks, type PortObject } from '../port.js';
import { register } from '../registry.js';
import { field, runVerb, savedOwner, savedThread } from '../saved.js';
import {
  DEFAULT_DSTPORT,
  ENGINE_KIND,
  VNI_MAX,
  c2cVni,
  endpointsClash,
  engineSettings,
  parseAddTunnel,
  stateMtu,
  tunnelFamily,
  type AddTunnelRequest,
  type Endpoint,
  type TunnelKind,
} from './settings.js';
import './topology.js';

/** A tunnel port: its settings as asked (the remotes it learns are the
 *  engine's). */
export interface TunnelObject extends PortObject {
  kind: TunnelKind;
  /** its VNI: as given, or (c2c) derived from its lan's name */
  vni: number;
  /** the configured remotes, canonical */
  remotes: string[];
  /** the underlay's family: the remotes', else the local address's, else 4 */
  family: 4 | 6;
  /** the local address, if one was given (else any) */
  local: string | undefined;
  /** the UDP port it listens on and sends to */
  dstport: number;
  /** the UDP source ports, if given (else the kernel's ephemeral range) */
  srcportRange: [number, number] | undefined;
  /** the inner MTU asked for, if any (show says the engine's) */
  mtu: number | undefined;
  ttl: number | undefined;
  tos: number | undefined;
  learn: boolean;
  udpCsum: boolean;
}

declare module '../kind.js' {
  interface KindRequests {
    'add-vxlan': AddTunnelRequest<'add-vxlan'>;
    'add-geneve': AddTunnelRequest<'add-geneve'>;
    'add-c2c': AddTunnelRequest<'add-c2c'>;
  }
}

/** The kinds this module registers. */
const TUNNEL_KINDS: readonly TunnelKind[] = ['vxlan', 'geneve', 'c2c'];

/** Every tunnel port of the daemon, of the three kinds. */
function tunnels(ctx: KindContext): TunnelObject[] {
  return TUNNEL_KINDS.flatMap((k) => ctx.model.ofKind<TunnelObject>(k));
}

/** "10.0.0.1 port 4789" or "any IPv4 address port 4789", for messages. */
function endpointText(e: Endpoint): string {
  return `${e.local ?? `any IPv${e.family} address`} port ${e.dstport}`;
}

/** add-KIND: refuse an endpoint another tunnel receives on, make the engine
 *  port, then the object. */
function addTunnel(ctx: KindContext, kind: TunnelKind, req: AddTunnelRequest, call: Call): void {
  const lan = newPortChecks(ctx, req);
  const dstport = req.dstport ?? DEFAULT_DSTPORT[kind];
  const at: Endpoint = { family: tunnelFamily(req), local: req.local, dstport };
  const clash = tunnels(ctx).find((t) => endpointsClash(t, at));
  if (clash)
    throw new ProtocolError(
      `${req.verb}: UDP ${endpointText(at)} is taken by ${clash.kind} ${clash.name} (${endpointText(clash)}): ` +
        'one port per UDP endpoint (a port lists all its remotes); give this one another "dstport", or both ports a different "local"',
    );
  const vni = kind === 'c2c' ? c2cVni(lan.name) : req.vni!;
  const info = ctx.call((e) => e.addPort(ENGINE_KIND[kind], [lan.id], engineSettings(req, vni, dstport), req.thread))[0]!;
  const port: TunnelObject = {
    ...portFields(info, lan, call.client),
    kind,
    name: req.name,
    vni,
    remotes: req.remotes,
    family: at.family,
    local: req.local,
    dstport,
    srcportRange: req.srcportRange,
    mtu: req.mtu,
    ttl: req.ttl,
    tos: req.tos,
    learn: req.learn,
    udpCsum: req.udpCsum,
  };
  ctx.model.add(port);
  const to = req.remotes.length ? `to ${req.remotes.join(',')}` : 'no remote yet';
  ctx.log.info(`port ${req.name} (${kind}${kind === 'c2c' ? ', its VNI from the lan name' : ''}, ${to}: ${info.state || '-'}) joined ${lan.name}`);
}

/** Make saved tunnel @name of @kind again through its add verb. The remotes
 *  it had learned are not kept: they are learned again. */
function restoreTunnel(ctx: KindContext, kind: TunnelKind, name: string, rec: Record<string, unknown>): void {
  const remotes = rec.remotes ?? [];
  if (!Array.isArray(remotes) || remotes.some((x) => typeof x !== 'string')) throw new Error('its record\'s "remotes" is not a list of strings');
  const body: Body = { name, lan: field(rec, 'lan', 'string', true)!, remotes, dstport: field(rec, 'dstport', 'number', true)! };
  if (kind !== 'c2c') body.vni = field(rec, 'vni', 'number', true)!;
  const range = rec.srcportRange;
  if (range !== undefined && range !== null) body['srcport-range'] = range;
  const local = field(rec, 'local', 'string', false);
  if (local !== undefined) body.local = local;
  for (const k of ['mtu', 'ttl', 'tos'] as const) {
    const v = field(rec, k, 'number', false);
    if (v !== undefined) body[k] = v;
  }
  for (const [k, wire] of [['learn', 'learn'], ['udpCsum', 'udp-csum']] as const) {
    const v = field(rec, k, 'boolean', false);
    if (v !== undefined) body[wire] = v;
  }
  const t = savedThread(ctx, rec);
  if (t !== undefined) body.thread = t;
  runVerb(ctx, `add-${kind}`, body, savedOwner(rec));
}

/** A CLI parser of an integer from @lo to @hi. */
function intFrom(lo: number, hi: number): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isInteger(n) || n < lo || n > hi) throw new InvalidArgumentError(`must be an integer from ${lo} to ${hi}`);
    return n;
  };
}

/** --remote: each value adds its addresses (comma-separated) to the list. */
export function collectRemotes(v: string, prev: string[] = []): string[] {
  return [...prev, ...v.split(',').map((s) => s.trim()).filter(Boolean)];
}

/** The request body of `containet add KIND NAME` from its parsed options. */
export function tunnelBody(kind: TunnelKind, name: string, opts: Record<string, unknown>): Body {
  const b: Body = { name, remotes: opts.remote ?? [] };
  if (kind !== 'c2c') b.vni = opts.vni;
  // commander's camelCase option names, and the wire's names of the fields.
  const wire: Record<string, string> = { srcportRange: 'srcport-range', udpCsum: 'udp-csum' };
  for (const k of ['lan', 'local', 'dstport', 'srcportRange', 'mtu', 'ttl', 'tos', 'learn', 'udpCsum', 'thread']) if (opts[k] !== undefined) b[wire[k] ?? k] = opts[k];
  return b;
}

/** Declare the options of `containet add KIND` on @cmd. */
function configureCli(kind: TunnelKind, cmd: Command): void {
  cmd.option('--lan <lan>', "lan to join (default: the daemon's default lan)");
  if (kind !== 'c2c') cmd.addOption(new Option('--vni <n>', `the VNI, 0 to ${VNI_MAX}`).argParser(intFrom(0, VNI_MAX)).makeOptionMandatory());
  cmd
    .option('--remote <addr>', 'an underlay address of a far end, IPv4 or IPv6 (repeatable, or comma-separated); all of one family', collectRemotes)
    .option('--local <addr>', "the daemon's address to send from and receive on (default: any)")
    .addOption(new Option('--dstport <port>', `UDP port of both ends (default ${DEFAULT_DSTPORT[kind]})`).argParser(intFrom(1, 65535)))
    .option('--srcport-range <lo-hi>', "UDP source ports, chosen per inner flow (default: the kernel's ip_local_port_range)")
    .addOption(new Option('--mtu <bytes>', "inner MTU, the largest IP packet carried (default: the underlay route's MTU minus 50 over IPv4, 70 over IPv6)").argParser(positiveInt))
    .addOption(new Option('--ttl <n>', 'TTL or hop limit of the outer packets, 0 to 255 (0: the system default)').argParser(intFrom(0, 255)))
    .addOption(new Option('--tos <n>', 'TOS or traffic class of the outer packets, 0 to 255').argParser(intFrom(0, 255)))
    .option('--learn', 'take datagrams from addresses that are not remotes, and add them as remotes')
    .option('--udp-csum', 'send UDP checksums over IPv4 too (default: zero, as Linux; IPv6 always has them)')
    .addOption(new Option('--thread <n>', 'worker thread that polls it').argParser(threadIndex));
}

/** What the CLI says each kind is. */
const DESCRIPTION: Readonly<Record<TunnelKind, string>> = {
  vxlan: 'add a VXLAN port: the lan extended over UDP to other hosts (containet, Linux vxlan, Open vSwitch, VTEPs)',
  geneve: 'add a Geneve port: the lan extended over UDP to other hosts (containet, Linux geneve, Open vSwitch)',
  c2c: "add a c2c: a VXLAN port whose VNI comes from the lan's name, to join a lan of the same name in another containet",
};

/** What every port kind shares, with the tunnel's own show fields. */
const hooks = portHooks<TunnelObject>((p) => ({
  vni: p.vni,
  remotes: p.remotes,
  local: p.local ?? null,
  dstport: p.dstport,
  srcportRange: p.srcportRange ?? null,
  ttl: p.ttl ?? null,
  tos: p.tos ?? null,
  learn: p.learn,
  udpCsum: p.udpCsum,
}));

for (const kind of TUNNEL_KINDS) {
  const verb = `add-${kind}` as const;
  register<TunnelObject>({
    name: kind,
    noun: 'port',
    ...hooks,
    // The inner MTU the engine uses (from the underlay route, unless asked),
    // as its state says; the one asked for when it says none.
    show(ctx, p) {
      const { state, created, ...rest } = hooks.show(ctx, p);
      return { ...rest, mtu: stateMtu(String(state ?? '')) ?? p.mtu ?? null, state, created };
    },
    save: (p) => ({
      lan: p.lan,
      ...(kind === 'c2c' ? {} : { vni: p.vni }),
      remotes: p.remotes,
      local: p.local,
      dstport: p.dstport,
      srcportRange: p.srcportRange,
      mtu: p.mtu,
      ttl: p.ttl,
      tos: p.tos,
      learn: p.learn,
      udpCsum: p.udpCsum,
      thread: p.thread,
      owner: p.owner,
    }),
    restore: (ctx, name, rec) => restoreTunnel(ctx, kind, name, rec),
    verbs: [
      {
        name: verb,
        fds: 0,
        parse: (b: Body) => parseAddTunnel(b, kind),
        run(ctx, req: AddTunnelRequest, call) {
          addTunnel(ctx, kind, req, call);
          return {};
        },
      },
    ],
    cli: {
      add: {
        description: DESCRIPTION[kind],
        verb,
        configure: (cmd: Command) => configureCli(kind, cmd),
        body: (name, opts) => tunnelBody(kind, name, opts),
      },
    },
  });
}
