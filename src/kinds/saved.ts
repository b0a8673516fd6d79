/**
 * Helpers of the kinds' save and restore hooks (docs/state.md): reading a saved
 * record's fields with their types checked, and making an object again through
 * its kind's own add verb, so a restored object passes the checks a new one does.
 */
import type { Call, KindContext, Reply } from './kind.js';
import { verbNamed } from './registry.js';

/** A field of a saved record: of type @type, or undefined when absent and not
 *  @required; throws naming the field otherwise. */
export function field<T extends 'string' | 'number' | 'boolean' | 'object'>(
  rec: Record<string, unknown>,
  key: string,
  type: T,
  required: boolean,
): (T extends 'string' ? string : T extends 'number' ? number : T extends 'boolean' ? boolean : Record<string, unknown>) | undefined {
  const v = rec[key];
  if (v === undefined || v === null) {
    if (required) throw new Error(`its record has no "${key}"`);
    return undefined;
  }
  if (typeof v !== type || (type === 'object' && Array.isArray(v))) throw new Error(`its record's "${key}" is not a ${type}`);
  return v as never;
}

/** The saved worker thread, if the daemon still runs that many (else the
 *  engine chooses). */
export function savedThread(ctx: KindContext, rec: Record<string, unknown>): number | undefined {
  const t = field(rec, 'thread', 'number', false);
  return t !== undefined && Number.isInteger(t) && t >= 0 && t < ctx.engine().threads() ? t : undefined;
}

/** The saved owner (who asked for the object), else the daemon itself. */
export function savedOwner(rec: Record<string, unknown>): { pid: number; uid: number } {
  const o = field(rec, 'owner', 'object', false);
  if (o && typeof o.pid === 'number' && typeof o.uid === 'number') return { pid: o.pid, uid: o.uid };
  return { pid: process.pid, uid: process.getuid?.() ?? 0 };
}

/** Carry out add verb @verb with request body @body as @owner sent it, with
 *  fds @fds (those it does not take are closed by @close). */
export function runVerb(ctx: KindContext, verb: string, body: Record<string, unknown>, owner: { pid: number; uid: number }, fds: number[] = [], close?: (fd: number) => void): Reply {
  const v = verbNamed(verb);
  if (!v) throw new Error(`no verb ${verb}`);
  const call: Call = { client: owner, fds, unused: new Set(fds) };
  try {
    return v.run(ctx, v.parse(body), call);
  } finally {
    if (close) for (const fd of call.unused) close(fd);
  }
}
