/**
 * Reading the fields of a request body: the error type every refusal throws and
 * the checks every verb uses (names, strings, integers, booleans, unknown fields).
 * Shared by the protocol parser and every kind's module; imports nothing, so any
 * module may use it.
 */

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

/** A request body: the object under a verb's key. */
export type Body = Record<string, unknown>;

/** Body of a verb: an object ({} when the verb takes nothing). */
export function body(v: unknown, verb: string): Body {
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    throw new ProtocolError(`${verb}: its value must be an object`);
  return v as Body;
}

/** Field @key of @o as a non-empty string, required or not. */
export function str(o: Body, key: string, verb: string, required: boolean): string | undefined {
  const v = o[key];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string' || v === '') throw new ProtocolError(`${verb}: "${key}" must be a non-empty string`);
  return v;
}

/** Field @key of @o as an integer from @min to @max, if present. */
export function posInt(o: Body, key: string, verb: string, max: number, min = 1): number | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw new ProtocolError(`${verb}: "${key}" must be an integer from ${min} to ${max}`);
  return v;
}

/** Field @key of @o as a boolean, if present. */
export function bool(o: Body, key: string, verb: string): boolean | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw new ProtocolError(`${verb}: "${key}" must be true or false`);
  return v;
}

/** The worker thread a request pins its ports to ("thread"), if present. */
export function thread(o: Body, verb: string): number | undefined {
  return posInt(o, 'thread', verb, 63, 0);
}

/** Refuse fields not in @allowed (a typo must not be ignored silently). */
export function onlyFields(o: Body, verb: string, allowed: readonly string[]): void {
  for (const k of Object.keys(o))
    if (!allowed.includes(k)) throw new ProtocolError(`${verb}: unknown field "${k}" (known: ${allowed.join(', ') || 'none'})`);
}

/** "a" or "an" before @noun. */
export function article(noun: string): string {
  return /^[aeiou]/i.test(noun) ? `an ${noun}` : `a ${noun}`;
}
