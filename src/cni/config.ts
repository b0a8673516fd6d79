/**
 * What the runtime hands the plugin: the CNI_* environment variables and the
 * network config JSON on stdin, read and validated into typed values. Every
 * failure is a CniError with the spec's code (4 for the environment, 1 for the
 * version, 2 for an unknown field, 6 for bad JSON, 7 for a bad config).
 */
import { isIP } from 'node:net';

import { CniCode, CniError } from './errors.js';

/** The spec versions this plugin speaks (results are rendered for each). */
export const SUPPORTED_VERSIONS = ['0.4.0', '1.0.0'] as const;

/** One of SUPPORTED_VERSIONS. */
export type CniVersion = (typeof SUPPORTED_VERSIONS)[number];

/** The commands of the spec that the plugin carries out. */
export type CniCommand = 'ADD' | 'DEL' | 'CHECK' | 'VERSION';

/** The CNI_* variables, validated for the command. */
export interface CniEnv {
  command: CniCommand;
  /** CNI_CONTAINERID ('' only for VERSION) */
  containerId: string;
  /** CNI_NETNS: the namespace's path ('' for VERSION, and for a DEL without one) */
  netns: string;
  /** CNI_IFNAME ('' only for VERSION) */
  ifname: string;
  /** CNI_PATH split into directories (where delegated plugins are looked for) */
  path: string[];
}

/** An address with its prefix length ("10.0.0.2/24"). */
export interface Cidr {
  ip: string;
  prefix: number;
  family: 4 | 6;
}

/** The "ipam" section: its type names the delegated plugin; the rest is its own. */
export interface IpamConfig {
  type: string;
  [field: string]: unknown;
}

/** The plugin's network config, validated. */
export interface PluginConfig {
  cniVersion: CniVersion;
  /** the network's name */
  name: string;
  type: string;
  /** the daemon's switch socket */
  socket: string;
  /** the lan the port joins (default: the daemon's default lan) */
  lan?: string;
  /** the interface's MTU (default: the kernel's, 1500) */
  mtu?: number;
  /** queues of the tap, 1 to 8 (default: one per worker thread of the daemon) */
  queues?: number;
  /** sent with every request to a daemon started with --authtoken */
  authtoken?: string;
  /** delegated address management, or none */
  ipam?: IpamConfig;
  /** a static address instead of ipam */
  address?: Cidr;
  /** with address: the default route's next hop */
  gateway?: string;
  /** the result of the previous plugin (ADD in a chain), or of ADD (CHECK, DEL) */
  prevResult?: Record<string, unknown>;
}

/** Fields the spec reserves (a runtime may add them) and the plugin's own. */
const KNOWN_FIELDS = new Set([
  // the spec's
  'cniVersion', 'name', 'type', 'args', 'ipMasq', 'ipam', 'dns', 'runtimeConfig', 'capabilities', 'prevResult',
  // ours
  'socket', 'lan', 'mtu', 'queues', 'authtoken', 'address', 'gateway',
]);

/** Characters of a container id (the spec: alphanumeric first, then [A-Za-z0-9_.-]). */
const CONTAINER_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Read and check the CNI_* variables of @env (process.env) for its command. */
export function parseEnv(env: Record<string, string | undefined>): CniEnv {
  const command = env.CNI_COMMAND;
  if (!command) throw new CniError(CniCode.invalidEnv, 'CNI_COMMAND is not set');
  if (command !== 'ADD' && command !== 'DEL' && command !== 'CHECK' && command !== 'VERSION')
    throw new CniError(CniCode.invalidEnv, `CNI_COMMAND "${command}" is not one of ADD, DEL, CHECK, VERSION`);
  const path = (env.CNI_PATH ?? '').split(':').filter((d) => d !== '');
  if (command === 'VERSION') return { command, containerId: '', netns: '', ifname: '', path };
  const containerId = env.CNI_CONTAINERID ?? '';
  if (!CONTAINER_ID.test(containerId))
    throw new CniError(CniCode.invalidEnv, containerId ? `CNI_CONTAINERID "${containerId}" has characters other than [A-Za-z0-9_.-] or does not start with a letter or digit` : 'CNI_CONTAINERID is not set');
  const ifname = env.CNI_IFNAME ?? '';
  if (!ifname) throw new CniError(CniCode.invalidEnv, 'CNI_IFNAME is not set');
  if (ifname.length > 15 || !/^[A-Za-z0-9_.:@-]+$/.test(ifname) || ifname === '.' || ifname === '..')
    throw new CniError(CniCode.invalidEnv, `CNI_IFNAME "${ifname}" is not an interface name (1 to 15 of [A-Za-z0-9_.:@-])`);
  const netns = env.CNI_NETNS ?? '';
  if (!netns && command !== 'DEL') throw new CniError(CniCode.invalidEnv, 'CNI_NETNS is not set');
  if (netns && !netns.startsWith('/')) throw new CniError(CniCode.invalidEnv, `CNI_NETNS "${netns}" is not an absolute path`);
  return { command, containerId, netns, ifname, path };
}

/** Parse "ADDR/PREFIX" (IPv4 or IPv6); null when it is not one. */
export function parseCidr(s: string): Cidr | null {
  const slash = s.lastIndexOf('/');
  if (slash < 0) return null;
  const ip = s.slice(0, slash);
  const fam = isIP(ip);
  const p = s.slice(slash + 1);
  if (!fam || !/^\d{1,3}$/.test(p)) return null;
  const prefix = Number(p);
  if (prefix > (fam === 4 ? 32 : 128)) return null;
  return { ip, prefix, family: fam as 4 | 6 };
}

/** "ADDR/PREFIX" of @c. */
export function cidrString(c: Cidr): string {
  return `${c.ip}/${c.prefix}`;
}

/** The JSON object on stdin, or a CniError (6) saying why it is not one. */
export function parseJsonObject(text: string, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new CniError(CniCode.decodeFailure, `${what} is not JSON`, (e as Error).message);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new CniError(CniCode.decodeFailure, `${what} is not a JSON object`);
  return v as Record<string, unknown>;
}

/** The cniVersion of @conf when it is one we speak; CniError 1 otherwise (or 7 when absent). */
export function configVersion(conf: Record<string, unknown>): CniVersion {
  const v = conf.cniVersion;
  if (typeof v !== 'string' || !v) throw new CniError(CniCode.invalidConfig, 'network config: "cniVersion" is missing');
  if (!(SUPPORTED_VERSIONS as readonly string[]).includes(v))
    throw new CniError(CniCode.incompatibleVersion, `incompatible CNI version ${v}`, `this plugin supports ${SUPPORTED_VERSIONS.join(', ')}`);
  return v as CniVersion;
}

/** A string field @k of @conf: undefined when absent, CniError 7 when not a non-empty string. */
function optString(conf: Record<string, unknown>, k: string): string | undefined {
  const v = conf[k];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !v) throw new CniError(CniCode.invalidConfig, `network config: "${k}" must be a non-empty string`);
  return v;
}

/** Validate the network config @conf (already a JSON object) into a PluginConfig. */
export function parseConfig(conf: Record<string, unknown>): PluginConfig {
  const cniVersion = configVersion(conf);
  for (const k of Object.keys(conf))
    if (!KNOWN_FIELDS.has(k)) throw new CniError(CniCode.unsupportedField, `network config: unsupported field "${k}": ${JSON.stringify(conf[k])}`);
  const bad = (msg: string) => new CniError(CniCode.invalidConfig, `network config: ${msg}`);
  const name = optString(conf, 'name');
  if (!name) throw bad('"name" is missing');
  const type = optString(conf, 'type');
  if (!type) throw bad('"type" is missing');
  const socket = optString(conf, 'socket');
  if (!socket) throw bad('"socket" (the path of the containet daemon\'s socket) is missing');
  if (!socket.startsWith('/')) throw bad(`"socket" must be an absolute path, not "${socket}"`);
  const out: PluginConfig = { cniVersion, name, type, socket };
  const lan = optString(conf, 'lan');
  if (lan !== undefined) out.lan = lan;
  const authtoken = optString(conf, 'authtoken');
  if (authtoken !== undefined) out.authtoken = authtoken;
  if (conf.mtu !== undefined) {
    const m = conf.mtu;
    if (typeof m !== 'number' || !Number.isInteger(m) || m < 68 || m > 65535) throw bad(`"mtu" must be an integer from 68 to 65535, not ${JSON.stringify(m)}`);
    out.mtu = m;
  }
  if (conf.queues !== undefined) {
    const q = conf.queues;
    if (typeof q !== 'number' || !Number.isInteger(q) || q < 1 || q > 8) throw bad(`"queues" must be an integer from 1 to 8, not ${JSON.stringify(q)}`);
    out.queues = q;
  }
  if (conf.ipam !== undefined) {
    const ipam = conf.ipam;
    if (ipam === null || typeof ipam !== 'object' || Array.isArray(ipam)) throw bad('"ipam" must be an object');
    const t = (ipam as Record<string, unknown>).type;
    // An empty ipam section ({}) means none, as the reference plugins read it.
    if (t !== undefined || Object.keys(ipam).length) {
      if (typeof t !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(t)) throw bad('"ipam.type" must name a plugin (letters, digits, _ . -)');
      out.ipam = ipam as IpamConfig;
    }
  }
  const address = optString(conf, 'address');
  if (address !== undefined) {
    if (out.ipam) throw bad('give either "ipam" or a static "address", not both');
    const c = parseCidr(address);
    if (!c) throw bad(`"address" must be an address with its prefix length (10.0.0.2/24, fd00::2/64), not "${address}"`);
    out.address = c;
  }
  const gateway = optString(conf, 'gateway');
  if (gateway !== undefined) {
    if (!out.address) throw bad('"gateway" goes with a static "address"');
    const fam = isIP(gateway);
    if (!fam) throw bad(`"gateway" must be an address, not "${gateway}"`);
    if (fam !== out.address.family) throw bad(`"gateway" ${gateway} is not of the family of "address" ${address}`);
    out.gateway = gateway;
  }
  if (conf.prevResult !== undefined) {
    const p = conf.prevResult;
    if (p === null || typeof p !== 'object' || Array.isArray(p)) throw bad('"prevResult" must be an object');
    out.prevResult = p as Record<string, unknown>;
  }
  return out;
}
