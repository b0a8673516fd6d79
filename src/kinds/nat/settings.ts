/**
 * NAT settings: the addresses a NAT takes from its network (CIDR), and port
 * forward specs. Pure functions, so the protocol and the CLI check the same way.
 *
 * Defaults (as slirp4netns and QEMU's user networking): network 10.0.2.0/24, the
 * gateway (the NAT itself, the host side) at .2, DNS at .3, DHCP leases from .15;
 * MTU 65520; IPv6 fd00::/64 with the gateway at ::2 and DNS at ::3.
 */
import { ProtocolError } from '../../daemon/fields.js';

/** Default network of a NAT. */
export const NAT_DEFAULT_NET = '10.0.2.0/24';
/** Default MTU of a NAT's lan side (large, for throughput). */
export const NAT_DEFAULT_MTU = 65520;

/** The addresses of a NAT, dotted. */
export interface NatAddresses {
  net: string;
  mask: string;
  prefix: number;
  gateway: string;
  dns: string;
  dhcpStart: string;
}

/** A port forward: host address and port to guest address and port. */
export interface NatForward {
  udp: boolean;
  hostAddr: string;
  hostPort: number;
  guestAddr: string;
  guestPort: number;
}

/** Dotted IPv4 to a 32-bit number, or null. */
function ip4(s: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return null;
  const o = m.slice(1).map(Number);
  if (o.some((x) => x > 255)) return null;
  return ((o[0]! << 24) | (o[1]! << 16) | (o[2]! << 8) | o[3]!) >>> 0;
}

/** A 32-bit number as dotted IPv4. */
function dotted(n: number): string {
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
}

/** The addresses of network @cidr ("10.0.2.0/24"); throws ProtocolError. */
export function natAddresses(cidr: string): NatAddresses {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(cidr);
  const base = m ? ip4(m[1]!) : null;
  const prefix = m ? Number(m[2]) : -1;
  if (base === null || prefix < 8 || prefix > 28)
    throw new ProtocolError(`NAT network "${cidr}" must be an IPv4 CIDR with a prefix from 8 to 28, like ${NAT_DEFAULT_NET}`);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  if ((base & ~mask) >>> 0 !== 0) throw new ProtocolError(`NAT network "${cidr}" has host bits set (did you mean ${dotted(base & mask)}/${prefix}?)`);
  return {
    net: dotted(base),
    mask: dotted(mask),
    prefix,
    gateway: dotted(base + 2),
    dns: dotted(base + 3),
    dhcpStart: dotted(base + 15),
  };
}

/** Parse "tcp|udp:HOSTADDR:HOSTPORT:GUESTADDR:GUESTPORT"; throws ProtocolError. */
export function parseForward(spec: string): NatForward {
  const m = /^(tcp|udp):([\d.]+):(\d{1,5}):([\d.]+):(\d{1,5})$/.exec(spec);
  const bad = () => new ProtocolError(`forward "${spec}" must be tcp|udp:HOSTADDR:HOSTPORT:GUESTADDR:GUESTPORT, like tcp:127.0.0.1:8080:10.0.2.15:80`);
  if (!m) throw bad();
  const [, proto, ha, hp, ga, gp] = m;
  const hostPort = Number(hp);
  const guestPort = Number(gp);
  if (ip4(ha!) === null || ip4(ga!) === null || hostPort < 1 || hostPort > 65535 || guestPort < 1 || guestPort > 65535) throw bad();
  return { udp: proto === 'udp', hostAddr: ha!, hostPort, guestAddr: ga!, guestPort };
}

/** The spec of @f (inverse of parseForward). */
export function forwardSpec(f: NatForward): string {
  return `${f.udp ? 'udp' : 'tcp'}:${f.hostAddr}:${f.hostPort}:${f.guestAddr}:${f.guestPort}`;
}

/** Parse "ADDR[:PORT]" (an IPv4 resolver, port 53 by default); throws ProtocolError. */
export function parseUpstream(spec: string): { addr: string; port: number } {
  const m = /^([\d.]+)(?::(\d{1,5}))?$/.exec(spec);
  const port = m?.[2] === undefined ? 53 : Number(m[2]);
  if (!m || ip4(m[1]!) === null || port < 1 || port > 65535)
    throw new ProtocolError(`DNS upstream "${spec}" must be an IPv4 address with an optional :PORT, like 127.0.0.1:5353`);
  return { addr: m[1]!, port };
}
