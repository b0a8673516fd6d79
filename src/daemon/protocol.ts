/**
 * The switch socket protocol.
 *
 * A client connects to the AF_UNIX SOCK_STREAM socket and sends JSON objects, one
 * after another, with no separator needed (the original containet client sends one
 * object with no trailing byte). An object may carry file descriptors in SCM_RIGHTS
 * on the same sendmsg. Each request object has one verb key and optionally an
 * "authtoken"; the daemon answers each with one JSON object: `{}` (done), a result
 * object, or `{"error": "reason"}`.
 *
 * | verb             | fds | fields                                                   | reply            |
 * |------------------|-----|----------------------------------------------------------|------------------|
 * | add-etherfd      | 1   | ifname, nodeid; optional lan, name, pid, thread          | {}               |
 * | remove-etherfd   | 0   | nodeid; optional ifname                                  | {}               |
 * | add-lan          | 0   | name; optional aging (s), mac-table-size                 | {}               |
 * | add-vhost        | 0   | name, socket; optional client, lan, thread               | {}               |
 * | add-nat          | 0   | name; optional lan, net, forward[], host-loopback, mtu,  | {}               |
 * |                  |     | ipv6, max-connections, dns-upstream, thread              |                  |
 * | add-a2b          | 0   | name, a, b (lans); optional thread                       | {}               |
 * | set              | 0   | name; optional aging (s) of a lan; add-forward,          | {}               |
 * |                  |     | del-forward of a nat; dir, rate, delay, jitter,          |                  |
 * |                  |     | distribution, loss, loss-ge, duplicate, reorder,         |                  |
 * |                  |     | corrupt, limit, limit-bytes, seed, cloonix of an a2b     |                  |
 * | del              | 0   | name; optional force                                     | {}               |
 * | show             | 0   | -                                                        | {objects: [...]} |
 * | stats            | 0   | optional name                                            | {lans, ports}    |
 * | version          | 0   | -                                                        | {version}        |
 *
 * add-etherfd and remove-etherfd are the original containet's, unchanged; the rest
 * are this daemon's extensions, as are the optional fields.
 */

import { A2bError, parseBytes, parseCloonix, parseGe, parsePercent, parseRate, parseTime, type A2bChange, type A2bDir } from './a2b.js';
import { NAT_DEFAULT_MTU, NAT_DEFAULT_NET, natAddresses, parseForward, parseUpstream, type NatAddresses, type NatForward } from './nat.js';

/** Longest request accepted, in bytes. */
export const MAX_REQUEST = 1 << 20;

/** A request, validated. */
export type Request =
  | { verb: 'add-etherfd'; ifname: string; nodeid: string; lan?: string; name?: string; pid?: number; thread?: number }
  | { verb: 'remove-etherfd'; nodeid: string; ifname?: string }
  | { verb: 'add-lan'; name: string; aging?: number; macTableSize?: number }
  | { verb: 'add-vhost'; name: string; socket: string; client: boolean; lan?: string; thread?: number }
  | {
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
  | { verb: 'add-a2b'; name: string; a: string; b: string; thread?: number }
  | { verb: 'set'; name: string; aging?: number; addForward?: NatForward; delForward?: NatForward; a2b?: { dirs: A2bDir[]; change: A2bChange } }
  | { verb: 'del'; name: string; force: boolean }
  | { verb: 'show' }
  | { verb: 'stats'; name?: string }
  | { verb: 'version' };

/** Verbs and the number of fds each must carry. */
export const VERB_FDS: Record<Request['verb'], number> = {
  'add-etherfd': 1,
  'remove-etherfd': 0,
  'add-lan': 0,
  'add-vhost': 0,
  'add-nat': 0,
  'add-a2b': 0,
  set: 0,
  del: 0,
  show: 0,
  stats: 0,
  version: 0,
};

/** A request that cannot be carried out; the message goes back to the client. */
export class ProtocolError extends Error {}

/** Names of objects: what `show` prints and `del` takes. */
export const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,63}$/;

/** Check a name; throws ProtocolError naming @what. */
export function checkName(name: unknown, what: string): string {
  if (typeof name !== 'string' || !NAME_RE.test(name))
    throw new ProtocolError(
      `${what} must be 1-64 characters of letters, digits and _.:@- starting with a letter or digit`,
    );
  return name;
}

/**
 * Length of the complete JSON object or array at the start of @text (after
 * whitespace), 0 when incomplete, -1 when it does not start with { or [.
 * Only structure is checked; JSON.parse judges the rest.
 */
export function jsonSpan(text: string): number {
  let i = 0;
  while (i < text.length && ' \t\r\n'.includes(text[i]!)) i++;
  if (i === text.length) return 0;
  if (text[i] !== '{' && text[i] !== '[') return -1;
  let depth = 0;
  let inStr = false;
  let esc = false;
  for (; i < text.length; i++) {
    const ch = text[i];
    if (inStr) {
      if (esc) esc = false;
      else if (ch === '\\') esc = true;
      else if (ch === '"') inStr = false;
    } else if (ch === '"') inStr = true;
    else if (ch === '{' || ch === '[') depth++;
    else if (ch === '}' || ch === ']') {
      if (--depth === 0) return i + 1;
    }
  }
  return 0;
}

/** One message cut from a connection's stream, with the fds that came with it. */
export interface Frame {
  text: string;
  fds: number[];
}

/**
 * Cuts a connection's byte stream into JSON messages and pairs each with the fds
 * that arrived with its bytes (fds arrive with the first byte of a sendmsg).
 */
export class MessageSplitter {
  private buf = '';
  private pendingFds: { at: number; fds: number[] }[] = [];
  private decoder = new TextDecoder('utf-8', { fatal: false });

  /** Add bytes (and the fds that came with them). */
  push(data: Buffer, fds: number[]): void {
    if (fds.length) this.pendingFds.push({ at: this.buf.length, fds });
    this.buf += this.decoder.decode(data, { stream: true });
  }

  /**
   * Next complete message, or null when more bytes are needed. Throws
   * ProtocolError when the stream cannot be a JSON message (the caller answers and
   * closes: there is no way to find the next message boundary).
   */
  next(): Frame | null {
    const span = jsonSpan(this.buf);
    if (span < 0) throw new ProtocolError('malformed request: expected a JSON object');
    if (span === 0) {
      if (this.buf.length > MAX_REQUEST)
        throw new ProtocolError(`request larger than ${MAX_REQUEST} bytes`);
      if (this.buf.trim() === '') this.buf = '';
      return null;
    }
    if (span > MAX_REQUEST) throw new ProtocolError(`request larger than ${MAX_REQUEST} bytes`);
    const text = this.buf.slice(0, span);
    this.buf = this.buf.slice(span);
    const fds: number[] = [];
    const rest: { at: number; fds: number[] }[] = [];
    for (const p of this.pendingFds) {
      if (p.at < span) fds.push(...p.fds);
      else rest.push({ at: p.at - span, fds: p.fds });
    }
    this.pendingFds = rest;
    return { text, fds };
  }

  /** Take every fd not yet handed out (to close them). */
  drainFds(): number[] {
    const fds = this.pendingFds.flatMap((p) => p.fds);
    this.pendingFds = [];
    return fds;
  }
}

/** Field @key of @o as a string, required or not. */
function str(o: Record<string, unknown>, key: string, verb: string, required: boolean): string | undefined {
  const v = o[key];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string' || v === '') throw new ProtocolError(`${verb}: "${key}" must be a non-empty string`);
  return v;
}

/** Field @key of @o as a positive integer, if present. */
function posInt(o: Record<string, unknown>, key: string, verb: string, max: number, min = 1): number | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw new ProtocolError(`${verb}: "${key}" must be an integer from ${min} to ${max}`);
  return v;
}

/** Refuse fields not in @allowed (a typo must not be ignored silently). */
function onlyFields(o: Record<string, unknown>, verb: string, allowed: string[]): void {
  for (const k of Object.keys(o))
    if (!allowed.includes(k)) throw new ProtocolError(`${verb}: unknown field "${k}" (known: ${allowed.join(', ') || 'none'})`);
}

/** Body of a verb: an object ({} when the verb takes nothing). */
function body(v: unknown, verb: string): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    throw new ProtocolError(`${verb}: its value must be an object`);
  return v as Record<string, unknown>;
}

/** Fields of set that belong to an a2b. */
const A2B_FIELDS = ['dir', 'rate', 'delay', 'jitter', 'distribution', 'loss', 'loss-ge', 'duplicate', 'reorder', 'corrupt', 'limit', 'limit-bytes', 'seed', 'cloonix'];

/** A string or a number field (units in strings), if present. */
function strOrNum(o: Record<string, unknown>, key: string): string | number | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' && typeof v !== 'number') throw new ProtocolError(`set: "${key}" must be a string with a unit or a number`);
  return v;
}

/** The a2b part of a set: directions and the settings it changes. */
function a2bChange(b: Record<string, unknown>): { dirs: A2bDir[]; change: A2bChange } {
  try {
    if (b.cloonix !== undefined) {
      if (typeof b.cloonix !== 'string') throw new A2bError('"cloonix" must be a string such as "dir=0 cmd=delay val=1000"');
      if (A2B_FIELDS.some((k) => k !== 'cloonix' && b[k] !== undefined)) throw new A2bError('"cloonix" comes alone');
      return parseCloonix([b.cloonix]);
    }
    const dir = b.dir ?? 'both';
    if (dir !== 'a2b' && dir !== 'b2a' && dir !== 'both') throw new A2bError(`"dir" must be a2b, b2a or both (not ${JSON.stringify(dir)})`);
    const c: A2bChange = {};
    const v = (k: string) => strOrNum(b, k);
    if (v('rate') !== undefined) c.rate = parseRate(v('rate')!);
    if (v('delay') !== undefined) c.delay = parseTime(v('delay')!, 'delay');
    if (v('jitter') !== undefined) c.jitter = parseTime(v('jitter')!, 'jitter');
    if (b.distribution !== undefined) {
      if (b.distribution !== 'uniform' && b.distribution !== 'normal') throw new A2bError('"distribution" must be uniform or normal');
      c.distribution = b.distribution;
    }
    if (v('loss') !== undefined) c.loss = parsePercent(v('loss')!, 'loss');
    if (v('loss-ge') !== undefined) c.lossGe = parseGe(String(v('loss-ge')));
    if (v('duplicate') !== undefined) c.duplicate = parsePercent(v('duplicate')!, 'duplicate');
    if (v('reorder') !== undefined) c.reorder = parsePercent(v('reorder')!, 'reorder');
    if (v('corrupt') !== undefined) c.corrupt = parsePercent(v('corrupt')!, 'corrupt');
    if (v('limit') !== undefined) {
      const n = Number(v('limit'));
      if (!Number.isInteger(n) || n < 1) throw new A2bError('limit: a number of frames >= 1');
      c.limit = n;
    }
    if (v('limit-bytes') !== undefined) c.limitBytes = parseBytes(v('limit-bytes')!, 'limit-bytes');
    if (v('seed') !== undefined) {
      const n = Number(v('seed'));
      if (!Number.isSafeInteger(n) || n < 0) throw new A2bError('seed: an integer >= 0');
      c.seed = n;
    }
    return { dirs: dir === 'both' ? ['a2b', 'b2a'] : [dir], change: c };
  } catch (e) {
    if (e instanceof A2bError) throw new ProtocolError(`set: ${e.message}`);
    throw e;
  }
}

/** Parse and validate one message. @token is the daemon's authtoken, if any. */
export function parseRequest(text: string, token: string | undefined): Request {
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch (e) {
    throw new ProtocolError(`malformed JSON: ${(e as Error).message}`);
  }
  if (msg === null || typeof msg !== 'object' || Array.isArray(msg))
    throw new ProtocolError('malformed request: expected a JSON object');
  const o = msg as Record<string, unknown>;
  if (token !== undefined && o.authtoken !== token) throw new ProtocolError('bad or missing authtoken');
  const verbs = Object.keys(o).filter((k) => k !== 'authtoken');
  if (verbs.length !== 1)
    throw new ProtocolError(
      verbs.length ? `one request per message, got ${verbs.join(', ')}` : 'empty request: no verb',
    );
  const verb = verbs[0]!;
  if (!(verb in VERB_FDS))
    throw new ProtocolError(`unknown request "${verb}" (known: ${Object.keys(VERB_FDS).join(', ')})`);
  const b = body(o[verb], verb);
  switch (verb as Request['verb']) {
    case 'add-etherfd': {
      onlyFields(b, verb, ['ifname', 'nodeid', 'lan', 'name', 'pid', 'thread']);
      const r: Request = { verb: 'add-etherfd', ifname: str(b, 'ifname', verb, true)!, nodeid: str(b, 'nodeid', verb, true)! };
      const lan = str(b, 'lan', verb, false);
      if (lan !== undefined) r.lan = lan;
      if (b.name !== undefined) r.name = checkName(b.name, 'add-etherfd: "name"');
      const pid = posInt(b, 'pid', verb, 2 ** 22);
      if (pid !== undefined) r.pid = pid;
      const thread = posInt(b, 'thread', verb, 63, 0);
      if (thread !== undefined) r.thread = thread;
      return r;
    }
    case 'remove-etherfd': {
      onlyFields(b, verb, ['nodeid', 'ifname']);
      const r: Request = { verb: 'remove-etherfd', nodeid: str(b, 'nodeid', verb, true)! };
      const ifname = str(b, 'ifname', verb, false);
      if (ifname !== undefined) r.ifname = ifname;
      return r;
    }
    case 'add-lan': {
      onlyFields(b, verb, ['name', 'aging', 'mac-table-size']);
      const r: Request = { verb: 'add-lan', name: checkName(b.name, 'add-lan: "name"') };
      const aging = posInt(b, 'aging', verb, 1_000_000);
      if (aging !== undefined) r.aging = aging;
      const size = posInt(b, 'mac-table-size', verb, 1 << 24);
      if (size !== undefined) r.macTableSize = size;
      return r;
    }
    case 'add-vhost': {
      onlyFields(b, verb, ['name', 'socket', 'client', 'lan', 'thread']);
      const socket = str(b, 'socket', verb, true)!;
      if (!socket.startsWith('/') || Buffer.byteLength(socket) > 107)
        throw new ProtocolError('add-vhost: "socket" must be an absolute path of at most 107 bytes');
      if (b.client !== undefined && typeof b.client !== 'boolean') throw new ProtocolError('add-vhost: "client" must be true or false');
      const r: Request = { verb: 'add-vhost', name: checkName(b.name, 'add-vhost: "name"'), socket, client: b.client === true };
      const lan = str(b, 'lan', verb, false);
      if (lan !== undefined) r.lan = lan;
      const thread = posInt(b, 'thread', verb, 63, 0);
      if (thread !== undefined) r.thread = thread;
      return r;
    }
    case 'add-nat': {
      onlyFields(b, verb, ['name', 'lan', 'net', 'forward', 'host-loopback', 'mtu', 'ipv6', 'max-connections', 'dns-upstream', 'thread']);
      const forwards = b.forward === undefined ? [] : b.forward;
      if (!Array.isArray(forwards) || forwards.some((f) => typeof f !== 'string'))
        throw new ProtocolError('add-nat: "forward" must be a list of strings');
      for (const k of ['host-loopback', 'ipv6'])
        if (b[k] !== undefined && typeof b[k] !== 'boolean') throw new ProtocolError(`add-nat: "${k}" must be true or false`);
      const r: Request = {
        verb: 'add-nat',
        name: checkName(b.name, 'add-nat: "name"'),
        addresses: natAddresses(str(b, 'net', verb, false) ?? NAT_DEFAULT_NET),
        forwards: (forwards as string[]).map(parseForward),
        hostLoopback: b['host-loopback'] !== false,
        mtu: posInt(b, 'mtu', verb, 65520, 576) ?? NAT_DEFAULT_MTU,
        ipv6: b.ipv6 === true,
      };
      const lan = str(b, 'lan', verb, false);
      if (lan !== undefined) r.lan = lan;
      const max = posInt(b, 'max-connections', verb, 4000);
      if (max !== undefined) r.maxConnections = max;
      const up = str(b, 'dns-upstream', verb, false);
      if (up !== undefined) r.dnsUpstream = parseUpstream(up);
      const thread = posInt(b, 'thread', verb, 63, 0);
      if (thread !== undefined) r.thread = thread;
      return r;
    }
    case 'add-a2b': {
      onlyFields(b, verb, ['name', 'a', 'b', 'thread']);
      const r: Request = { verb: 'add-a2b', name: checkName(b.name, 'add-a2b: "name"'), a: str(b, 'a', verb, true)!, b: str(b, 'b', verb, true)! };
      const thread = posInt(b, 'thread', verb, 63, 0);
      if (thread !== undefined) r.thread = thread;
      return r;
    }
    case 'set': {
      onlyFields(b, verb, ['name', 'aging', 'add-forward', 'del-forward', ...A2B_FIELDS]);
      const r: Request = { verb: 'set', name: checkName(b.name, 'set: "name"') };
      if (A2B_FIELDS.some((k) => b[k] !== undefined)) r.a2b = a2bChange(b);
      const aging = posInt(b, 'aging', verb, 1_000_000);
      if (aging !== undefined) r.aging = aging;
      const add = str(b, 'add-forward', verb, false);
      if (add !== undefined) r.addForward = parseForward(add);
      const del = str(b, 'del-forward', verb, false);
      if (del !== undefined) r.delForward = parseForward(del);
      return r;
    }
    case 'del':
      onlyFields(b, verb, ['name', 'force']);
      if (b.force !== undefined && typeof b.force !== 'boolean') throw new ProtocolError('del: "force" must be true or false');
      return { verb: 'del', name: checkName(b.name, 'del: "name"'), force: b.force === true };
    case 'show':
      onlyFields(b, verb, []);
      return { verb: 'show' };
    case 'stats': {
      onlyFields(b, verb, ['name']);
      const r: Request = { verb: 'stats' };
      if (b.name !== undefined) r.name = checkName(b.name, 'stats: "name"');
      return r;
    }
    case 'version':
      onlyFields(b, verb, []);
      return { verb: 'version' };
  }
}
