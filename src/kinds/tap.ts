/**
 * The "tap" kind (cloonix's `tap`): a tap device the daemon makes in its own
 * network namespace, up, with the addresses, MTU and MAC asked for, so that the
 * host's own stack is a station on a lan. Its dataplane side is a port of the
 * engine's "fd" kind on the tap's fd (vnet header, offloads): the tap is an
 * object of its own to the control plane, not a new engine port kind. `del`
 * answers once the device is gone. See docs/tap.md.
 */
import { isIPv4, isIPv6 } from 'node:net';

import { Option, type Command } from 'commander';

import { ProtocolError, checkName, onlyFields, posInt, str, thread, type Body } from '../daemon/fields.js';
import { positiveInt, threadIndex } from '../cli/args.js';
import { native } from '../native.js';
import type { Call, KindContext } from './kind.js';
import type { LanObject } from './lan.js';
import { newPortChecks, portFields, portHooks, unpersist, type PortObject } from './port.js';
import { register } from './registry.js';
import { field, runVerb, savedOwner, savedThread } from './saved.js';
import { registerSection } from '../topology/section.js';
import { stringList } from '../topology/spec.js';

/** A host tap: the device's settings as given, and whether it outlives the daemon. */
export interface TapObject extends PortObject {
  kind: 'tap';
  /** its addresses, "ADDR/PREFIX", as given */
  addrs: string[];
  /** its MTU, if one was given */
  mtu: number | undefined;
  /** its MAC, if one was given (lower case) */
  mac: string | undefined;
  /** the tap is persistent (--state): a restarted daemon opens it again, and
   *  removing the object must clear it */
  persist: boolean;
}

/** add-tap, validated. */
export interface AddTapRequest {
  verb: 'add-tap';
  /** the object's name and the device's */
  name: string;
  lan?: string;
  /** addresses, "ADDR/PREFIX", IPv4 or IPv6 */
  ip: string[];
  mtu?: number;
  mac?: string;
  thread?: number;
}

declare module './kind.js' {
  interface KindRequests {
    'add-tap': AddTapRequest;
  }
}

/** A device name: what the kernel takes (under IFNAMSIZ, no "/", ":" or
 *  spaces) that is also an object name. */
const IFNAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,14}$/;
/** MTU range: the kernel's IPv4 floor, and the largest frame the switch carries. */
const MTU_MIN = 68;
const MTU_MAX = 65521;
/** Most addresses on one tap (native/client/tapdev.c's bound). */
const MAX_ADDRS = 32;
/** How long `del` waits for the device to go (the engine closes its fd on
 *  the closer thread; a tap's device goes a few ms after its port). */
const GONE_WAIT_MS = 3000;

/** Check CIDR @v ("10.0.0.1/24", "fd00::1/64") and return it; throws naming
 *  @verb and its field @key. */
export function checkCidr(v: unknown, verb: string, key = 'ip'): string {
  const m = typeof v === 'string' ? /^([^/]+)\/(\d{1,3})$/.exec(v) : null;
  const ok4 = m !== null && isIPv4(m[1]!) && Number(m[2]) >= 1 && Number(m[2]) <= 32;
  const ok6 = m !== null && isIPv6(m[1]!) && !m[1]!.includes('%') && Number(m[2]) >= 1 && Number(m[2]) <= 128;
  if (!ok4 && !ok6)
    throw new ProtocolError(`${verb}: "${key}" ${JSON.stringify(v)} must be an address with its prefix length: IPv4 ADDR/1-32 (10.0.0.1/24) or IPv6 ADDR/1-128 (fd00::1/64)`);
  if (/^(0\.0\.0\.0|::)$/.test(m![1]!) || (ok4 && Number(m![1]!.split('.')[0]) >= 224) || (ok6 && /^ff/i.test(m![1]!)))
    throw new ProtocolError(`${verb}: "${key}" ${v as string} is not a unicast address`);
  return v as string;
}

/** Check MAC @v ("02:00:00:00:00:01": unicast, not all zero) and return it
 *  in lower case; throws naming @verb. */
export function checkMac(v: unknown, verb: string): string {
  if (typeof v !== 'string' || !/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(v))
    throw new ProtocolError(`${verb}: "mac" must be six hex bytes like 02:00:00:00:00:01`);
  const mac = v.toLowerCase();
  if (parseInt(mac.slice(0, 2), 16) & 1 || mac === '00:00:00:00:00:00') throw new ProtocolError(`${verb}: "mac" ${mac} is not a unicast address`);
  return mac;
}

/** Validate an add-tap body. */
export function parseAddTap(b: Body): AddTapRequest {
  const verb = 'add-tap';
  onlyFields(b, verb, ['name', 'lan', 'ip', 'mtu', 'mac', 'thread']);
  const name = checkName(b.name, `${verb}: "name"`);
  if (!IFNAME_RE.test(name)) throw new ProtocolError(`${verb}: "name" ${name} must fit a device name: 1-15 characters of letters, digits and _.@- (no ":")`);
  const ips = b.ip === undefined ? [] : Array.isArray(b.ip) ? (b.ip as unknown[]) : [b.ip];
  if (ips.length > MAX_ADDRS) throw new ProtocolError(`${verb}: at most ${MAX_ADDRS} addresses in "ip"`);
  const ip = ips.map((v) => checkCidr(v, verb));
  const dup = ip.find((x, i) => ip.indexOf(x) !== i);
  if (dup !== undefined) throw new ProtocolError(`${verb}: "ip" gives ${dup} twice`);
  const r: AddTapRequest = { verb, name, ip };
  const lan = str(b, 'lan', verb, false);
  if (lan !== undefined) r.lan = lan;
  const mtu = posInt(b, 'mtu', verb, MTU_MAX, MTU_MIN);
  if (mtu !== undefined) r.mtu = mtu;
  if (b.mac !== undefined) r.mac = checkMac(b.mac, verb);
  const t = thread(b, verb);
  if (t !== undefined) r.thread = t;
  return r;
}

/** Sleep @ms on this thread (the daemon's loop waits with it: del's reply
 *  must come after the device is gone). */
function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Wait, bounded, until device @ifname is gone from the daemon's namespace;
 *  false if it is still there after GONE_WAIT_MS. */
function waitGone(ifname: string): boolean {
  const deadline = Date.now() + GONE_WAIT_MS;
  while (native().ifIndex(ifname) !== 0) {
    if (Date.now() > deadline) return false;
    sleepSync(2);
  }
  return true;
}

/** Make the port of tap fd @fd (ours: closed here whatever happens; the engine
 *  works on its own copy) on lan @lan, and the object; @how says for the log
 *  whether the device was made or found. */
function tapPort(ctx: KindContext, req: AddTapRequest, lan: LanObject, fd: number, call: Call, how: string): void {
  let info;
  try {
    info = ctx.call((e) => e.addPort('fd', [lan.id], { fd, persist: ctx.persistent }, req.thread))[0]!;
  } finally {
    native().closeFd(fd);
  }
  const port: TapObject = {
    ...portFields(info, lan, call.client),
    kind: 'tap',
    name: req.name,
    addrs: req.ip,
    mtu: req.mtu,
    mac: req.mac,
    persist: ctx.persistent,
  };
  ctx.model.add(port);
  const what = [req.ip.join(' '), req.mtu ? `mtu ${req.mtu}` : '', req.mac ? `mac ${req.mac}` : '', `offloads ${info.offloads.join(',') || 'none'}`].filter(Boolean).join(', ');
  ctx.log.info(`tap ${req.name} (${how}${what ? `: ${what}` : ''}) joined ${lan.name}`);
}

/** add-tap: make the device (never open one that exists) and its port. */
function addTap(ctx: KindContext, req: AddTapRequest, call: Call): void {
  const lan = newPortChecks(ctx, req);
  // The native side refuses a name in use too (race-free); this says it first.
  if (native().ifIndex(req.name) !== 0) throw new ProtocolError(`add-tap: tap name in use: a device named ${req.name} exists in the daemon's network namespace`);
  let fd: number;
  try {
    fd = native().tapCreate({ ifname: req.name, vnetHdr: true, exclusive: true, up: true, addrs: req.ip, ...(req.mtu ? { mtu: req.mtu } : {}), ...(req.mac ? { mac: req.mac } : {}) });
  } catch (e) {
    throw new ProtocolError(`add-tap: ${(e as Error).message}`);
  }
  try {
    tapPort(ctx, req, lan, fd, call, 'made');
  } catch (e) {
    // The engine's copy of the fd may be closed on its closer thread: the
    // device is gone when the refusal is sent, so the name is free again.
    waitGone(req.name);
    throw e;
  }
}

/** Make saved tap @name again: open the device if it outlived the daemon
 *  (persistent, with its addresses and whatever was set on it since), else
 *  make it again with the saved settings. */
function restoreTap(ctx: KindContext, name: string, rec: Record<string, unknown>): void {
  const ip = rec.addrs;
  if (ip !== undefined && (!Array.isArray(ip) || ip.some((x) => typeof x !== 'string'))) throw new Error('its record\'s "addrs" is not a list of strings');
  const body: Body = { name, lan: field(rec, 'lan', 'string', true)!, ip: ip ?? [] };
  const mtu = field(rec, 'mtu', 'number', false);
  if (mtu !== undefined) body.mtu = mtu;
  const mac = field(rec, 'mac', 'string', false);
  if (mac !== undefined) body.mac = mac;
  const t = savedThread(ctx, rec);
  if (t !== undefined) body.thread = t;
  if (native().ifIndex(name) === 0) {
    runVerb(ctx, 'add-tap', body, savedOwner(rec));
    return;
  }
  try {
    const req = parseAddTap(body);
    const lan = newPortChecks(ctx, req);
    const fd = native().tapCreate({ ifname: name, vnetHdr: true, attach: true });
    tapPort(ctx, req, lan, fd, { client: savedOwner(rec), fds: [], unused: new Set() }, 'found again');
  } catch (e) {
    // Not restored: a persistent tap of ours must not stay behind with no port.
    try {
      native().closeFd(native().tapCreate({ ifname: name, vnetHdr: true, attach: true, unpersist: true }));
      waitGone(name);
    } catch {
      // not a tap we can open: not ours to remove
    }
    throw e;
  }
}

/** What every port kind shares; the tap's remove wraps its remove. */
const hooks = portHooks<TapObject>((p) => ({ addresses: p.addrs, mtu: p.mtu ?? null, mac: p.mac ?? null }));

register<TapObject>({
  name: 'tap',
  noun: 'tap',
  ...hooks,
  remove(ctx, p) {
    unpersist(ctx, p, `tap ${p.name}`);
    hooks.remove(ctx, p);
    const t0 = Date.now();
    if (!waitGone(p.ifname)) ctx.log.warn(`tap ${p.name}: the device is still there ${GONE_WAIT_MS} ms after its port was removed`);
    else ctx.log.debug(`tap ${p.name}: its device went ${Date.now() - t0} ms after its port was removed`);
  },
  save(p) {
    if (!p.persist) return undefined;
    return { lan: p.lan, addrs: p.addrs, mtu: p.mtu, mac: p.mac, thread: p.thread, owner: p.owner };
  },
  restore: restoreTap,
  verbs: [
    {
      name: 'add-tap',
      fds: 0,
      parse: parseAddTap,
      run(ctx, req: AddTapRequest, call) {
        addTap(ctx, req, call);
        return {};
      },
    },
  ],
  cli: {
    add: {
      description: "add a tap in the daemon's network namespace: the host's own stack as a station on a lan",
      verb: 'add-tap',
      configure(cmd: Command) {
        cmd
          .option('--lan <lan>', "lan to join (default: the daemon's default lan)")
          .option('--ip <cidr>', 'an address of the device, IPv4 or IPv6, ADDR/PREFIX (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
          .addOption(new Option('--mtu <bytes>', `MTU of the device (${MTU_MIN} to ${MTU_MAX})`).argParser(positiveInt))
          .option('--mac <mac>', 'MAC address of the device (default: a random one)')
          .addOption(new Option('--thread <n>', 'worker thread that polls it').argParser(threadIndex));
      },
      body(name, opts) {
        const b: Body = { name };
        if (opts.lan !== undefined) b.lan = opts.lan;
        if (opts.ip !== undefined) b.ip = opts.ip;
        if (opts.mtu !== undefined) b.mtu = opts.mtu;
        if (opts.mac !== undefined) b.mac = opts.mac;
        if (opts.thread !== undefined) b.thread = opts.thread;
        return b;
      },
    },
  },
});

registerSection({
  key: 'taps',
  noun: 'tap',
  kinds: ['tap'],
  stage: 1,
  doc: "taps in the daemon's network namespace (docs/tap.md): the host's own stack as a station on a lan; the name is the device's (1-15 characters)",
  fields: {
    lan: { type: 'string', required: true, doc: 'the lan it joins' },
    addrs: stringList('its addresses, IPv4 or IPv6 with their prefix length: 10.0.0.1/24, fd00::1/64', (v) => checkCidr(v, 'tap')),
    mtu: { type: 'integer', min: MTU_MIN, max: MTU_MAX, doc: "the device's MTU (default: the kernel's, 1500)" },
    mac: { type: 'string', doc: "the device's MAC (default: a random one)", check: (v) => checkMac(v, 'tap') },
  },
  canonical: (v) => ({ ...v, addrs: (v.addrs as string[] | undefined) ?? [], mac: v.mac === undefined ? undefined : checkMac(v.mac, 'tap') }),
  fromShow: (s) => ({ name: String(s.name), values: { lan: s.lan, addrs: s.addresses, mtu: s.mtu ?? undefined, mac: s.mac ?? undefined } }),
  add: (e) => [{ 'add-tap': { name: e.name, lan: e.values.lan, ip: e.values.addrs, ...(e.values.mtu ? { mtu: e.values.mtu } : {}), ...(e.values.mac ? { mac: e.values.mac } : {}) } }],
  needs: (e) => [e.values.lan as string],
  toFile: (e) => ({ ...e.values, addrs: (e.values.addrs as string[]).length ? e.values.addrs : undefined }),
});
