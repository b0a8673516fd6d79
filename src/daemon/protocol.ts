/**
 * The switch socket protocol.
 *
 * A client connects to the AF_UNIX SOCK_STREAM socket and sends JSON objects, one
 * after another, with no separator needed (the original containet client sends one
 * object with no trailing byte). An object may carry file descriptors in SCM_RIGHTS
 * on the same sendmsg. Each request object has one verb key and optionally an
 * "authtoken"; the daemon answers each with one JSON object: `{}` (done), a result
 * object, or `{"error": "reason"}`. A request may also carry "lab": the
 * objects it makes are marked as that lab's (`containet apply`, docs/topology.md).
 *
 * The daemon's own verbs are parsed here: set (its fields belong to the kind of
 * the object named, each kind's part parsed by that kind, but for "state",
 * the link state of any object with engine ports: linkstate.ts), del, show, stats and
 * version. Every other verb belongs to a kind and is parsed by its module
 * (src/kinds/): add-etherfd and remove-etherfd, the original containet's,
 * unchanged; add-lan, add-vhost, add-nat, add-a2b ... The whole table of verbs,
 * fields and replies is docs/protocol.md.
 */

import { ProtocolError, body, checkName, onlyFields, type Body } from './fields.js';
import { kindVerbs, kinds, setFields, verbNamed } from '../kinds/index.js';
import { LINK_STATE_FIELD, parseLinkState } from './linkstate.js';
import type { KindRequests, SetRequest } from '../kinds/kind.js';

export { NAME_RE, ProtocolError, checkName } from './fields.js';
export type { SetRequest } from '../kinds/kind.js';

/** Longest request accepted, in bytes. */
export const MAX_REQUEST = 1 << 20;

/** A request of the daemon's own verbs, validated. */
export type CoreRequest =
  | SetRequest
  | { verb: 'del'; name: string; force: boolean }
  | { verb: 'show' }
  | { verb: 'stats'; name?: string }
  | { verb: 'version' };

/** A request, validated: one of the daemon's own verbs or of a kind's, and
 *  the lab (docs/topology.md) whose objects it makes, if it names one. */
export type Request = (CoreRequest | KindRequests[keyof KindRequests]) & { lab?: string };

/** The daemon's own verbs: validation of their bodies. */
const CORE_VERBS: Record<CoreRequest['verb'], (b: Body) => CoreRequest> = {
  set: parseSet,
  del(b) {
    onlyFields(b, 'del', ['name', 'force']);
    if (b.force !== undefined && typeof b.force !== 'boolean') throw new ProtocolError('del: "force" must be true or false');
    return { verb: 'del', name: checkName(b.name, 'del: "name"'), force: b.force === true };
  },
  show(b) {
    onlyFields(b, 'show', []);
    return { verb: 'show' };
  },
  stats(b) {
    onlyFields(b, 'stats', ['name']);
    const r: CoreRequest = { verb: 'stats' };
    if (b.name !== undefined) r.name = checkName(b.name, 'stats: "name"');
    return r;
  },
  version(b) {
    onlyFields(b, 'version', []);
    return { verb: 'version' };
  },
};

/** Verbs and the number of fds each must carry: every kind's, then the daemon's own. */
export const VERB_FDS: Record<string, number> = {
  ...Object.fromEntries(kindVerbs().map((v) => [v.name, v.fds])),
  ...Object.fromEntries(Object.keys(CORE_VERBS).map((v) => [v, 0])),
};

/** Verbs that may carry more fds than VERB_FDS says, and how many at most
 *  (add-etherfd: a multi-queue tap's queues, docs/fd.md). */
export const VERB_MAX_FDS: Record<string, number> = Object.fromEntries(
  kindVerbs()
    .filter((v) => v.maxFds !== undefined)
    .map((v) => [v.name, v.maxFds!]),
);

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

/** set: the object's name, its link state if given, and, for each kind whose
 *  fields are in it, its part. */
function parseSet(b: Body): SetRequest {
  onlyFields(b, 'set', ['name', LINK_STATE_FIELD, ...setFields()]);
  const r: SetRequest = { verb: 'set', name: checkName(b.name, 'set: "name"') };
  const state = parseLinkState(b);
  if (state) r.state = state;
  for (const k of kinds()) if (k.set?.fields.some((f) => b[f] !== undefined)) Object.assign(r, k.set.parse(b));
  return r;
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
  const verbs = Object.keys(o).filter((k) => k !== 'authtoken' && k !== 'lab');
  if (verbs.length !== 1)
    throw new ProtocolError(
      verbs.length ? `one request per message, got ${verbs.join(', ')}` : 'empty request: no verb',
    );
  const verb = verbs[0]!;
  if (!(verb in VERB_FDS))
    throw new ProtocolError(`unknown request "${verb}" (known: ${Object.keys(VERB_FDS).join(', ')})`);
  const b = body(o[verb], verb);
  const core = CORE_VERBS[verb as CoreRequest['verb']];
  const req: Request = core ? core(b) : (verbNamed(verb)!.parse(b) as Request);
  if (o.lab !== undefined) req.lab = checkName(o.lab, '"lab"');
  return req;
}
