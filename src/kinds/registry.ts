/**
 * The registry of kinds: each module in src/kinds/ registers its Kind when it
 * is loaded (index.ts loads them all, one line each, in the order show and
 * stats list them). Lookups by object, by verb and by set field.
 */
import type { Kind, ModelObject, Section, Verb } from './kind.js';

const registered: Kind<any>[] = [];

/** Add @k to the registry; its name and verbs must be new. */
export function register<O extends ModelObject>(k: Kind<O>): Kind<O> {
  if (registered.some((r) => r.name === k.name)) throw new Error(`kind ${k.name} registered twice`);
  for (const v of k.verbs) if (verbNamed(v.name)) throw new Error(`verb ${v.name} registered twice`);
  registered.push(k);
  return k;
}

/** Every kind, in registration order. */
export function kinds(): readonly Kind[] {
  return registered;
}

/** The kind that answers for @o. */
export function kindOf(o: ModelObject): Kind {
  const k = registered.find((r) => r.name === o.kind);
  if (!k) throw new Error(`no kind ${o.kind} is registered (object ${o.name})`);
  return k;
}

/** The verb named @name of any kind, if one has it. */
export function verbNamed(name: string): Verb | undefined {
  for (const k of registered) for (const v of k.verbs) if (v.name === name) return v;
  return undefined;
}

/** Every kind's verbs, in registration order. */
export function kindVerbs(): Verb[] {
  return registered.flatMap((k) => k.verbs);
}

/** The sections of show and stats, in the order of the first kind of each. */
export function sections(): Section[] {
  const out: Section[] = [];
  for (const k of registered) if (!out.includes(k.section)) out.push(k.section);
  return out;
}

/** Every field `set` takes, of any kind. */
export function setFields(): string[] {
  return registered.flatMap((k) => k.set?.fields ?? []);
}

/** The kind whose set fills key @key of a parsed set request. */
export function setKeyOwner(key: string): Kind | undefined {
  return registered.find((k) => (k.set?.keys as readonly string[] | undefined)?.includes(key));
}
