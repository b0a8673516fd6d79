/**
 * CNI results: the typed form of a result (what ADD prints, what an IPAM
 * plugin answers, a prevResult), read from JSON of either spec version and
 * rendered for the version the config asks (0.4.0 tags every IP with its
 * "version", 1.0.0 does not).
 */
import { isIP } from 'node:net';

import { parseCidr, type Cidr, type CniVersion } from './config.js';
import { CniError } from './errors.js';

/** An interface of a result. */
export interface ResultInterface {
  name: string;
  mac?: string;
  /** the namespace path for an interface in the container, absent on the host */
  sandbox?: string;
}

/** An address of a result. */
export interface ResultIp {
  address: Cidr;
  gateway?: string;
  /** index into the result's interfaces (absent in an IPAM plugin's answer) */
  interface?: number;
}

/** A route of a result; fields other than dst and gw are carried through as they came. */
export interface ResultRoute {
  dst: Cidr;
  gw?: string;
  /** mtu, priority, table, scope ... (passed on, not applied) */
  other?: Record<string, unknown>;
}

/** A result of any version, typed. */
export interface CniResult {
  interfaces: ResultInterface[];
  ips: ResultIp[];
  routes: ResultRoute[];
  /** the dns section, passed through as it came */
  dns?: Record<string, unknown>;
}

/** A list field @k of @o (absent: empty), or throw @fail. */
function list(o: Record<string, unknown>, k: string, fail: (m: string) => CniError): unknown[] {
  const v = o[k];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw fail(`"${k}" is not a list`);
  return v;
}

/** An object (else throw @fail naming @what). */
function obj(v: unknown, what: string, fail: (m: string) => CniError): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw fail(`${what} is not an object`);
  return v as Record<string, unknown>;
}

/**
 * Read result JSON @o (0.4.0 or 1.0.0; @what names it in messages: "the ipam
 * plugin's result", "prevResult"); a malformed one throws CniError @code.
 */
export function parseResult(o: Record<string, unknown>, what: string, code: number): CniResult {
  const fail = (m: string) => new CniError(code, `${what}: ${m}`);
  const interfaces = list(o, 'interfaces', fail).map((v, i): ResultInterface => {
    const e = obj(v, `interfaces[${i}]`, fail);
    if (typeof e.name !== 'string') throw fail(`interfaces[${i}] has no name`);
    return {
      name: e.name,
      ...(typeof e.mac === 'string' ? { mac: e.mac } : {}),
      ...(typeof e.sandbox === 'string' ? { sandbox: e.sandbox } : {}),
    };
  });
  const ips = list(o, 'ips', fail).map((v, i): ResultIp => {
    const e = obj(v, `ips[${i}]`, fail);
    const address = typeof e.address === 'string' ? parseCidr(e.address) : null;
    if (!address) throw fail(`ips[${i}].address is not an address with a prefix length`);
    const ip: ResultIp = { address };
    if (e.gateway !== undefined && e.gateway !== '') {
      if (typeof e.gateway !== 'string' || !isIP(e.gateway)) throw fail(`ips[${i}].gateway is not an address`);
      ip.gateway = e.gateway;
    }
    if (e.interface !== undefined && e.interface !== null) {
      if (typeof e.interface !== 'number' || !Number.isInteger(e.interface) || e.interface < 0) throw fail(`ips[${i}].interface is not an index`);
      ip.interface = e.interface;
    }
    return ip;
  });
  const routes = list(o, 'routes', fail).map((v, i): ResultRoute => {
    const { dst, gw, ...other } = obj(v, `routes[${i}]`, fail);
    const d = typeof dst === 'string' ? parseCidr(dst) : null;
    if (!d) throw fail(`routes[${i}].dst is not a network with a prefix length`);
    const r: ResultRoute = { dst: d };
    if (gw !== undefined && gw !== '') {
      if (typeof gw !== 'string' || !isIP(gw)) throw fail(`routes[${i}].gw is not an address`);
      r.gw = gw;
    }
    if (Object.keys(other).length) r.other = other;
    return r;
  });
  const out: CniResult = { interfaces, ips, routes };
  if (o.dns !== undefined && o.dns !== null) out.dns = obj(o.dns, 'dns', fail);
  return out;
}

/** @r as the JSON object of spec version @version. */
export function renderResult(r: CniResult, version: CniVersion): Record<string, unknown> {
  const out: Record<string, unknown> = {
    cniVersion: version,
    interfaces: r.interfaces.map((i) => ({ ...i })),
    ips: r.ips.map((ip) => ({
      ...(version === '0.4.0' ? { version: String(ip.address.family) } : {}),
      address: `${ip.address.ip}/${ip.address.prefix}`,
      ...(ip.gateway ? { gateway: ip.gateway } : {}),
      ...(ip.interface !== undefined ? { interface: ip.interface } : {}),
    })),
  };
  if (r.routes.length) out.routes = r.routes.map((rt) => ({ dst: `${rt.dst.ip}/${rt.dst.prefix}`, ...(rt.gw ? { gw: rt.gw } : {}), ...rt.other }));
  out.dns = r.dns ?? {};
  return out;
}

/**
 * ADD's result: @prev (a chained plugin's prevResult, if any) with our interface
 * @iface appended, and our addresses (pointing at it), routes and dns added.
 */
export function addResult(prev: CniResult | undefined, iface: ResultInterface, ours: Omit<CniResult, 'interfaces'>): CniResult {
  const base: CniResult = prev ?? { interfaces: [], ips: [], routes: [] };
  const index = base.interfaces.length;
  const out: CniResult = {
    interfaces: [...base.interfaces, iface],
    ips: [...base.ips, ...ours.ips.map((ip) => ({ ...ip, interface: index }))],
    routes: [...base.routes, ...ours.routes],
  };
  const dns = ours.dns && Object.keys(ours.dns).length ? ours.dns : base.dns;
  if (dns) out.dns = dns;
  return out;
}
