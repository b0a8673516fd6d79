/**
 * Tunnel port settings (vxlan, geneve, c2c): reading an add request's body,
 * checking the underlay addresses, the VNI a c2c derives from its lan's name,
 * the engine's settings, and whether two tunnels would need the same UDP
 * socket. Pure functions (no engine, no model), so the protocol, the CLI and
 * the unit tests check the same way. See docs/tunnel.md.
 */
import { BlockList, SocketAddress, isIP } from 'node:net';

import { ProtocolError, bool, checkName, onlyFields, posInt, str, thread, type Body } from '../../daemon/fields.js';

/** The three tunnel kinds: two encapsulations, and c2c (a vxlan whose VNI
 *  comes from its lan's name). */
export type TunnelKind = 'vxlan' | 'geneve' | 'c2c';

/** The add verb of each tunnel kind. */
export type TunnelVerb = `add-${TunnelKind}`;

/** Largest VNI: 24 bits. */
export const VNI_MAX = 0xffffff;

/** Most remotes one tunnel takes, given and learned together (the engine's
 *  MAX_REMOTES in native/kinds/tunnel/tunnel_port.c). */
export const MAX_REMOTES = 64;

/** Most bytes of the remotes written out, comma-separated (the engine's
 *  "remotes" setting is a string of at most this many). */
export const REMOTES_MAX_BYTES = 1023;

/** The UDP port each kind sends to and listens on when "dstport" is left out:
 *  IANA's (RFC 7348, RFC 8926), never Linux's 8472. */
export const DEFAULT_DSTPORT: Readonly<Record<TunnelKind, number>> = { vxlan: 4789, geneve: 6081, c2c: 4789 };

/** The engine kind that carries each tunnel kind's frames. */
export const ENGINE_KIND: Readonly<Record<TunnelKind, 'vxlan' | 'geneve'>> = { vxlan: 'vxlan', geneve: 'geneve', c2c: 'vxlan' };

/** Smallest inner MTU taken (IPv4's floor, as a tap's). */
export const MTU_MIN = 68;

/** Largest inner MTU taken: the engine's bound (a UDP GSO run's payload),
 *  under what one datagram could carry (65485 over IPv4, 65505 over IPv6). */
export const MTU_MAX = 65000;

/** Fields of an add request, as on the wire; c2c takes all but vni. */
export const TUNNEL_FIELDS = ['name', 'lan', 'thread', 'vni', 'remotes', 'local', 'dstport', 'srcport-range', 'mtu', 'ttl', 'tos', 'learn', 'udp-csum'] as const;

/** An add-vxlan, add-geneve or add-c2c request, validated. */
export interface AddTunnelRequest<V extends TunnelVerb = TunnelVerb> {
  verb: V;
  name: string;
  lan?: string;
  thread?: number;
  /** the VXLAN/Geneve network identifier; absent in add-c2c (derived from
   *  the lan's name when it runs: the lan may be the daemon's default) */
  vni?: number;
  /** the far ends' underlay addresses, canonical (IPv6 compressed, lower
   *  case), all of one family; empty only with learn */
  remotes: string[];
  /** the address to send from and receive on (absent: any), canonical */
  local?: string;
  /** UDP port of the far ends and of this end (absent: DEFAULT_DSTPORT) */
  dstport?: number;
  /** UDP source ports to spread flows over, [lo, hi] (absent: the kernel's
   *  ip_local_port_range) */
  srcportRange?: [number, number];
  /** inner MTU (absent: the engine's, from the underlay route's MTU) */
  mtu?: number;
  /** outer TTL or hop limit (0: the system's default) */
  ttl?: number;
  /** outer TOS or traffic class */
  tos?: number;
  /** take datagrams from addresses that are not remotes, and add them */
  learn: boolean;
  /** send UDP checksums over IPv4 too */
  udpCsum: boolean;
}

/** IPv4 and IPv6 multicast (224.0.0.0/4, ff00::/8). */
const MULTICAST = new BlockList();
MULTICAST.addSubnet('224.0.0.0', 4, 'ipv4');
MULTICAST.addSubnet('ff00::', 8, 'ipv6');

/** IPv6 link-local (fe80::/10): meaningless without an interface. */
const LINK_LOCAL6 = new BlockList();
LINK_LOCAL6.addSubnet('fe80::', 10, 'ipv6');

/** An underlay address, checked and canonical. */
export interface UnderlayAddr {
  addr: string;
  family: 4 | 6;
}

/**
 * Check underlay address @v, given as @what (`"remotes"[1]`, `"local"`) of
 * @verb, and return it canonical with its family. Refused: not an address (a
 * name, brackets, a port), an IPv6 zone or link-local address, the
 * unspecified, broadcast and multicast addresses, IPv4-mapped IPv6.
 */
export function underlayAddr(v: unknown, what: string, verb: string): UnderlayAddr {
  const at = `${verb}: ${what}`;
  if (typeof v !== 'string' || v === '') throw new ProtocolError(`${at} must be an IPv4 or IPv6 address as a string`);
  if (v.includes('%'))
    throw new ProtocolError(`${at} ${JSON.stringify(v)} has a zone: link-local IPv6 addresses are not taken (use a global or unique-local address)`);
  const family = isIP(v);
  if (family !== 4 && family !== 6)
    throw new ProtocolError(`${at} ${JSON.stringify(v)} is not an IPv4 or IPv6 address (no host names, brackets or ports)`);
  const addr = new SocketAddress({ address: v, family: family === 4 ? 'ipv4' : 'ipv6' }).address;
  const type = family === 4 ? 'ipv4' : 'ipv6';
  if (addr === '0.0.0.0' || addr === '::') throw new ProtocolError(`${at} ${addr} is the unspecified address`);
  if (addr === '255.255.255.255') throw new ProtocolError(`${at} ${addr} is the broadcast address`);
  if (MULTICAST.check(addr, type))
    throw new ProtocolError(`${at} ${addr} is a multicast address: a tunnel sends to each remote's unicast address itself (head-end replication)`);
  if (family === 6 && /^::ffff:\d+\.\d+\.\d+\.\d+$/.test(addr))
    throw new ProtocolError(`${at} ${addr} is an IPv4-mapped IPv6 address: write it as IPv4 (${addr.slice(7)})`);
  if (family === 6 && LINK_LOCAL6.check(addr, type))
    throw new ProtocolError(`${at} ${addr} is link-local: it needs an interface, which a tunnel cannot name (use a global or unique-local address)`);
  return { addr, family };
}

/** Check the remotes list @v of @verb: canonical addresses, one family, none
 *  twice; returns them and their family (undefined when the list is empty). */
export function parseRemotes(v: unknown, verb: string): { remotes: string[]; family: 4 | 6 | undefined } {
  if (v === undefined) return { remotes: [], family: undefined };
  if (!Array.isArray(v)) throw new ProtocolError(`${verb}: "remotes" must be a list of IPv4 or IPv6 addresses`);
  if (v.length > MAX_REMOTES) throw new ProtocolError(`${verb}: "remotes" lists ${v.length} addresses; at most ${MAX_REMOTES}`);
  const list = v.map((x, i) => underlayAddr(x, `"remotes"[${i}]`, verb));
  const first = list[0];
  const other = list.find((x) => x.family !== first!.family);
  if (other) {
    const [v4, v6] = first!.family === 4 ? [first!, other] : [other, first!];
    throw new ProtocolError(`${verb}: "remotes" mixes IPv4 (${v4.addr}) and IPv6 (${v6.addr}): a tunnel's underlay is one family`);
  }
  const remotes = list.map((x) => x.addr);
  const twice = remotes.find((x, i) => remotes.indexOf(x) !== i);
  if (twice !== undefined) throw new ProtocolError(`${verb}: "remotes" gives ${twice} twice`);
  const bytes = remotes.join(',').length;
  if (bytes > REMOTES_MAX_BYTES)
    throw new ProtocolError(`${verb}: "remotes" written out take ${bytes} bytes (comma-separated); at most ${REMOTES_MAX_BYTES}: list fewer remotes`);
  return { remotes, family: first?.family };
}

/** UDP port @n is 1 to 65535. */
function isPort(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 65535;
}

/** Check a source port range, "LO-HI" or [LO, HI] (@verb names the request). */
export function parsePortRange(v: unknown, verb: string): [number, number] {
  const bad = () => new ProtocolError(`${verb}: "srcport-range" must be "LO-HI" (like "49152-65535") or [LO, HI], ports from 1 to 65535`);
  let lo: unknown;
  let hi: unknown;
  if (typeof v === 'string') {
    const m = /^\s*(\d{1,5})\s*-\s*(\d{1,5})\s*$/.exec(v);
    if (!m) throw bad();
    [lo, hi] = [Number(m[1]), Number(m[2])];
  } else if (Array.isArray(v) && v.length === 2) {
    [lo, hi] = v;
  } else throw bad();
  if (!isPort(lo) || !isPort(hi)) throw bad();
  if (lo > hi) throw new ProtocolError(`${verb}: "srcport-range" ${lo}-${hi}: LO is above HI`);
  return [lo, hi];
}

/**
 * Validate the body of add-@kind: every field of TUNNEL_FIELDS (add-c2c: but
 * vni), each refused with the field named and the reason.
 */
export function parseAddTunnel<K extends TunnelKind>(b: Body, kind: K): AddTunnelRequest<`add-${K}`> {
  const verb = `add-${kind}` as `add-${K}`;
  if (kind === 'c2c' && b.vni !== undefined)
    throw new ProtocolError(`${verb}: "vni" is not taken: a c2c's VNI comes from its lan's name, the same in both daemons (add-vxlan takes a VNI of your choice)`);
  onlyFields(b, verb, TUNNEL_FIELDS.filter((f) => kind !== 'c2c' || f !== 'vni'));
  const learn = bool(b, 'learn', verb) ?? false;
  const r: AddTunnelRequest<`add-${K}`> = {
    verb,
    name: checkName(b.name, `${verb}: "name"`),
    remotes: [],
    learn,
    udpCsum: bool(b, 'udp-csum', verb) ?? false,
  };
  const lan = str(b, 'lan', verb, false);
  if (lan !== undefined) r.lan = checkName(lan, `${verb}: "lan"`);
  const t = thread(b, verb);
  if (t !== undefined) r.thread = t;
  if (kind !== 'c2c') {
    if (b.vni === undefined) throw new ProtocolError(`${verb}: "vni" is required (an integer from 0 to ${VNI_MAX})`);
    r.vni = posInt(b, 'vni', verb, VNI_MAX, 0)!;
  }
  const { remotes, family } = parseRemotes(b.remotes, verb);
  if (remotes.length === 0 && !learn)
    throw new ProtocolError(`${verb}: "remotes" must list at least one address (or set "learn" to take the remotes from what arrives)`);
  r.remotes = remotes;
  if (b.local !== undefined) {
    const local = underlayAddr(b.local, '"local"', verb);
    if (family !== undefined && local.family !== family)
      throw new ProtocolError(`${verb}: "local" ${local.addr} is IPv${local.family} but "remotes" are IPv${family}`);
    if (remotes.includes(local.addr)) throw new ProtocolError(`${verb}: ${local.addr} is both "local" and a remote`);
    r.local = local.addr;
  }
  const dstport = posInt(b, 'dstport', verb, 65535);
  if (dstport !== undefined) r.dstport = dstport;
  if (b['srcport-range'] !== undefined) r.srcportRange = parsePortRange(b['srcport-range'], verb);
  const mtu = posInt(b, 'mtu', verb, MTU_MAX, MTU_MIN);
  if (mtu !== undefined) r.mtu = mtu;
  const ttl = posInt(b, 'ttl', verb, 255, 0);
  if (ttl !== undefined) r.ttl = ttl;
  const tos = posInt(b, 'tos', verb, 255, 0);
  if (tos !== undefined) r.tos = tos;
  return r;
}

/** FNV-1a, 32 bits, of @s's UTF-8 bytes (offset basis 2166136261, prime
 *  16777619). */
export function fnv1a32(s: string): number {
  let h = 2166136261;
  for (const byte of Buffer.from(s, 'utf8')) h = Math.imul(h ^ byte, 16777619) >>> 0;
  return h;
}

/** The VNI of a c2c on lan @lan: 1 to 16777214, computed the same by every
 *  daemon from the lan's name alone, so two daemons whose lans share a name
 *  meet on one VNI. */
export function c2cVni(lan: string): number {
  return (fnv1a32(lan) % (VNI_MAX - 1)) + 1;
}

/** The underlay family of tunnel @req: its remotes', else its local
 *  address's, else IPv4 (as the engine takes a learning port with neither). */
export function tunnelFamily(req: { remotes: string[]; local?: string | undefined }): 4 | 6 {
  const a = req.remotes[0] ?? req.local;
  return a !== undefined && isIP(a) === 6 ? 6 : 4;
}

/** The engine's settings of tunnel @req with VNI @vni (add-c2c's derived)
 *  and UDP port @dstport (the default filled in): the C side's names, absent
 *  ones left out (no remote: no "remotes", which the engine takes only
 *  non-empty). */
export function engineSettings(req: AddTunnelRequest, vni: number, dstport: number): Record<string, unknown> {
  const s: Record<string, unknown> = { vni, dstport, learn: req.learn, udpcsum: req.udpCsum };
  if (req.remotes.length) s.remotes = req.remotes.join(',');
  if (req.local !== undefined) s.local = req.local;
  if (req.srcportRange) [s.srcport_lo, s.srcport_hi] = req.srcportRange;
  if (req.mtu !== undefined) s.mtu = req.mtu;
  if (req.ttl !== undefined) s.ttl = req.ttl;
  if (req.tos !== undefined) s.tos = req.tos;
  return s;
}

/** Where a tunnel receives: its underlay family, its local address
 *  (undefined: any of that family) and UDP port. */
export interface Endpoint {
  family: 4 | 6;
  local: string | undefined;
  dstport: number;
}

/**
 * Would tunnels receiving at @a and @b need the same UDP socket? Yes when
 * family and port are the same and the addresses are too, or either is "any"
 * (a socket bound to any address takes the port on every address of its
 * family; the engine's IPv6 sockets are IPV6_V6ONLY, so the families do not
 * meet). Two sockets on one endpoint would share its datagrams by hash
 * (SO_REUSEPORT) or fail (EADDRINUSE): one port per endpoint.
 */
export function endpointsClash(a: Endpoint, b: Endpoint): boolean {
  return a.family === b.family && a.dstport === b.dstport && (a.local === undefined || b.local === undefined || a.local === b.local);
}

/** The inner MTU the engine states in a tunnel port's state ("vni 42,
 *  dstport 4789, mtu 1450, ..."), if it does. */
export function stateMtu(state: string): number | undefined {
  const m = /\bmtu (\d+)\b/.exec(state);
  return m ? Number(m[1]) : undefined;
}
