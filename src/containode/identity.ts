/** containode identities and IPv4 arguments, as the original containode takes them. */
import { randomBytes } from 'node:crypto';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** 64 random bits as 11 base62 digits (the original's default identity). */
export function randomIdentity(): string {
  let n = randomBytes(8).readBigUInt64BE();
  let s = '';
  for (let i = 0; i < 11; i++) {
    s = BASE62[Number(n % 62n)] + s;
    n /= 62n;
  }
  return s;
}

/** An identity must work as a hostname and inside a port name. */
export function checkIdentity(id: string): string {
  if (!/^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(id))
    throw new Error(`identity "${id}" must be 1-63 letters, digits or '-', starting and ending with a letter or digit`);
  return id;
}

/** An IPv4 address with its prefix length. */
export interface Ipv4 {
  addr: string;
  prefix: number;
}

/**
 * Parse `a.b.c.d[/mask]`. Without a mask the prefix follows the address class,
 * as the original did: A (0-127) /8, B (128-191) /16, C (192-223) /24.
 */
export function parseIpv4(arg: string): Ipv4 {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:\/(\d{1,2}))?$/.exec(arg);
  if (!m) throw new Error(`"${arg}" is not an IPv4 address (a.b.c.d or a.b.c.d/len)`);
  const octets = m.slice(1, 5).map(Number);
  if (octets.some((o) => o > 255)) throw new Error(`"${arg}": each part of an IPv4 address is 0 to 255`);
  const addr = octets.join('.');
  if (m[5] !== undefined) {
    const prefix = Number(m[5]);
    if (prefix > 32) throw new Error(`"${arg}": prefix length must be 0 to 32`);
    return { addr, prefix };
  }
  const first = octets[0]!;
  if (first < 128) return { addr, prefix: 8 };
  if (first < 192) return { addr, prefix: 16 };
  if (first < 224) return { addr, prefix: 24 };
  throw new Error(`"${arg}" is class D/E: give a prefix length`);
}
