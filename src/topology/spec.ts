/**
 * The field specs of a topology file (docs/topology.md): what each field of a
 * section's entries is (type, range, choices, default, a check of its own), as
 * the kinds' modules declare them. One description serves the validator
 * (validate.ts) and the JSON Schema for editors (schema.ts), so the two agree.
 */

/** What every field spec has. */
interface SpecBase {
  /** one line for the docs and the schema's description */
  doc: string;
  /** the entry is refused without it */
  required?: boolean;
  /** its value when absent (stated in the docs and the schema) */
  default?: unknown;
  /** A check of its own beyond the type (an address, a unit): throws an Error
   *  whose message says what is wrong. */
  check?(v: unknown): void;
}

/** A field of a topology entry. */
export type FieldSpec =
  | (SpecBase & { type: 'string'; enum?: readonly string[]; pattern?: RegExp })
  | (SpecBase & { type: 'integer'; min?: number; max?: number })
  | (SpecBase & { type: 'boolean' })
  /** a number, or a string with a unit ("20ms", "10mbit", "1%") */
  | (SpecBase & { type: 'unit' })
  | (SpecBase & { type: 'list'; items: FieldSpec; minItems?: number })
  | (SpecBase & { type: 'object'; fields: Fields })
  /** an object of free keys (an environment), each value of one spec */
  | (SpecBase & { type: 'map'; values: FieldSpec });

/** The fields of an object, by name as written in the file. */
export type Fields = Readonly<Record<string, FieldSpec>>;

/** The spec of an object's "name": an object name as the daemon takes it. */
export const NAME_SPEC: FieldSpec = {
  type: 'string',
  doc: 'unique object name: 1-64 letters, digits and _.:@-, starting with a letter or digit',
  pattern: /^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,63}$/,
  required: true,
};

/** A list of strings, each checked by @check. */
export function stringList(doc: string, check?: (v: unknown) => void): FieldSpec {
  return { type: 'list', doc, items: { type: 'string', doc, ...(check ? { check } : {}) } };
}

/** @fields with every value's default filled in where @v lacks it (one level). */
export function withDefaults(fields: Fields, v: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...v };
  for (const [k, f] of Object.entries(fields)) if (out[k] === undefined && f.default !== undefined) out[k] = structuredClone(f.default);
  return out;
}
