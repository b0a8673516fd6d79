/**
 * The node kind's request: `add-node` validated field by field, every refusal
 * naming the field (`add-node: "interfaces"[1] "mac" ...`), before anything is
 * started. What the daemon's objects must say (lans there, names free) is
 * checked when it runs (index.ts).
 */
import { isIP } from 'node:net';
import { statSync } from 'node:fs';

import { ProtocolError, checkName, onlyFields, posInt, str, type Body } from '../../daemon/fields.js';
import { checkCidr, checkMac } from '../tap.js';

/** One interface of a node: a tap in its network namespace, a port on a lan. */
export interface NodeInterface {
  /** its name in the node (default eth<i>) */
  ifname: string;
  /** the lan its port joins */
  lan: string;
  /** its addresses, "ADDR/PREFIX", IPv4 or IPv6, as given */
  addrs: string[];
  /** its MTU (containode's default when not given) */
  mtu: number;
  /** its MAC as given (lower case), null: the kernel's random one */
  mac: string | null;
}

/** A route of a node: "default" or a CIDR, through a gateway. */
export interface NodeRoute {
  dst: string;
  via: string;
}

/** An interface as asked for: its lan may be left to the daemon's default. */
export type InterfaceRequest = Omit<NodeInterface, 'lan'> & { lan: string | undefined };

/** add-node, validated. */
export interface AddNodeRequest {
  verb: 'add-node';
  /** the node's name: its hostname, and the first half of its ports' names */
  name: string;
  /** the program and its arguments */
  command: string[];
  /** root filesystem (containode -r), absent: the host's */
  root?: string;
  /** extra environment of the program */
  env: Record<string, string>;
  interfaces: InterfaceRequest[];
  routes: NodeRoute[];
  /** file the node's output (containode's, its program's) is appended to */
  log?: string;
}

declare module '../kind.js' {
  interface KindRequests {
    'add-node': AddNodeRequest;
  }
}

/** The verb. */
const VERB = 'add-node';
/** containode's default MTU (native/containode/options.c), and its range. */
export const NODE_MTU_DEFAULT = 64000;
const MTU_MIN = 68;
const MTU_MAX = 65521;
/** containode's bounds (native/containode/options.h): interfaces, addresses of one, routes. */
const MAX_INTERFACES = 16;
const MAX_ADDRS = 8;
const MAX_ROUTES = 32;
/** A node's name is its hostname: what containode takes as an identity. */
const HOSTNAME_RE = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
/** An interface name the kernel and containode's --net take. */
const IFNAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,14}$/;
/** An environment variable's name. */
const ENV_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A list field of @b (absent: empty), each element checked by @each. */
function list<T>(b: Body, key: string, max: number, each: (v: unknown, what: string, i: number) => T): T[] {
  const v = b[key];
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new ProtocolError(`${VERB}: "${key}" must be a list`);
  if (v.length > max) throw new ProtocolError(`${VERB}: at most ${max} entries in "${key}"`);
  return v.map((x, i) => each(x, `"${key}"[${i}]`, i));
}

/** An object element @v of a list, for @what; throws otherwise. */
function element(v: unknown, what: string, allowed: readonly string[]): Body {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new ProtocolError(`${VERB}: ${what} must be an object`);
  onlyFields(v as Body, `${VERB}: ${what}`, allowed);
  return v as Body;
}

/** Whether the bits of address @addr past @prefix are all zero. */
function hostBitsClear(addr: string, prefix: number): boolean {
  const bytes =
    isIP(addr) === 4
      ? addr.split('.').map(Number)
      : (() => {
          // Expand "::" and read eight groups of two bytes.
          const [head, tail] = addr.includes('::') ? addr.split('::') : [addr, undefined];
          const h = head ? head.split(':') : [];
          const t = tail ? tail.split(':') : [];
          const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
          return groups.flatMap((g) => [parseInt(g, 16) >> 8, parseInt(g, 16) & 255]);
        })();
  return bytes.every((b, i) => {
    const keep = Math.max(0, Math.min(8, prefix - i * 8));
    return (b & ~((0xff << (8 - keep)) & 0xff)) === 0;
  });
}

/** Check one interface @v, number @i. */
function parseInterface(v: unknown, what: string, i: number): InterfaceRequest {
  const b = element(v, what, ['ifname', 'lan', 'addrs', 'mtu', 'mac']);
  const w = `${VERB}: ${what}`;
  const ifname = b.ifname === undefined ? `eth${i}` : str(b, 'ifname', w, true)!;
  if (!IFNAME_RE.test(ifname)) throw new ProtocolError(`${w} "ifname" ${ifname} must fit a device name: 1-15 characters of letters, digits and _.@-`);
  const lan = b.lan === undefined ? undefined : checkName(b.lan, `${w} "lan"`);
  const addrs = list(b, 'addrs', MAX_ADDRS, (x) => checkCidr(x, w, 'addrs'));
  const dup = addrs.find((x, k) => addrs.indexOf(x) !== k);
  if (dup !== undefined) throw new ProtocolError(`${w} "addrs" gives ${dup} twice`);
  const mtu = posInt(b, 'mtu', w, MTU_MAX, MTU_MIN) ?? NODE_MTU_DEFAULT;
  const mac = b.mac === undefined ? null : checkMac(b.mac, w);
  return { ifname, lan, addrs, mtu, mac };
}

/** Check one route @v. */
function parseRoute(v: unknown, what: string): NodeRoute {
  const b = element(v, what, ['dst', 'via']);
  const w = `${VERB}: ${what}`;
  const dst = str(b, 'dst', w, true)!;
  const via = str(b, 'via', w, true)!;
  const family = isIP(via);
  if (!family || via.includes('%')) throw new ProtocolError(`${w} "via" ${via} must be an IPv4 or IPv6 address`);
  if (dst !== 'default') {
    const m = /^([^/]+)\/(\d{1,3})$/.exec(dst);
    const f = m ? isIP(m[1]!) : 0;
    const len = m ? Number(m[2]) : -1;
    if (!f || len > (f === 4 ? 32 : 128)) throw new ProtocolError(`${w} "dst" ${dst} must be "default" or ADDR/PREFIX (10.1.0.0/16, fd01::/64)`);
    if (f !== family) throw new ProtocolError(`${w} "dst" ${dst} and "via" ${via} are not of one family`);
    if (!hostBitsClear(m![1]!, len)) throw new ProtocolError(`${w} "dst" ${dst} has bits set past its prefix length`);
  }
  return { dst, via };
}

/** Validate an add-node body. */
export function parseAddNode(b: Body): AddNodeRequest {
  onlyFields(b, VERB, ['name', 'command', 'root', 'env', 'interfaces', 'routes', 'log']);
  const name = checkName(b.name, `${VERB}: "name"`);
  if (!HOSTNAME_RE.test(name))
    throw new ProtocolError(`${VERB}: "name" ${name} must be 1-63 letters, digits or '-', starting and ending with a letter or digit (it is the node's hostname)`);
  const command = b.command;
  if (!Array.isArray(command) || command.length === 0 || !command.every((c) => typeof c === 'string' && c !== '' && !c.includes('\0')))
    throw new ProtocolError(`${VERB}: "command" must be a non-empty list of non-empty strings (the program and its arguments)`);
  const r: AddNodeRequest = { verb: VERB, name, command: command as string[], env: {}, interfaces: [], routes: [] };
  const root = str(b, 'root', VERB, false);
  if (root !== undefined) {
    if (!root.startsWith('/')) throw new ProtocolError(`${VERB}: "root" must be an absolute path`);
    if (/[,:\\]/.test(root)) throw new ProtocolError(`${VERB}: "root" must not contain ',', ':' or '\\' (overlay options cannot carry them)`);
    let dir = false;
    try {
      dir = statSync(root).isDirectory();
    } catch {
      // not there: said below
    }
    if (!dir) throw new ProtocolError(`${VERB}: "root" ${root} is not a directory`);
    r.root = root;
  }
  if (b.env !== undefined) {
    if (b.env === null || typeof b.env !== 'object' || Array.isArray(b.env)) throw new ProtocolError(`${VERB}: "env" must be an object of strings`);
    for (const [k, v] of Object.entries(b.env as Body)) {
      if (!ENV_RE.test(k)) throw new ProtocolError(`${VERB}: "env" name ${JSON.stringify(k)} must be letters, digits and _, not starting with a digit`);
      if (typeof v !== 'string' || v.includes('\0')) throw new ProtocolError(`${VERB}: "env" ${k} must be a string`);
      r.env[k] = v;
    }
  }
  r.interfaces = list(b, 'interfaces', MAX_INTERFACES, parseInterface);
  const twice = r.interfaces.find((x, i) => r.interfaces.findIndex((y) => y.ifname === x.ifname) !== i);
  if (twice) throw new ProtocolError(`${VERB}: two interfaces are named ${twice.ifname}`);
  r.routes = list(b, 'routes', MAX_ROUTES, parseRoute);
  if (r.routes.length && !r.interfaces.length) throw new ProtocolError(`${VERB}: "routes" need an interface to go through`);
  const log = str(b, 'log', VERB, false);
  if (log !== undefined) {
    if (!log.startsWith('/')) throw new ProtocolError(`${VERB}: "log" must be an absolute path`);
    r.log = log;
  }
  return r;
}
