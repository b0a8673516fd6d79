/**
 * The JSON Schema (draft 2020-12) of topology files, for editors
 * (docs/topology.schema.json): made from the same field specs as the
 * validator, so the two take the same fields, types, ranges, choices and
 * defaults. What a spec checks beyond that (an address, a unit) only the
 * validator checks. `containet export --schema` prints it.
 */
import { fileFields } from './validate.js';
import type { FieldSpec, Fields } from './spec.js';

/** A JSON Schema object. */
type Schema = Record<string, unknown>;

/** The schema of an object of @fields: no other properties. */
function objectSchema(fields: Fields, doc?: string): Schema {
  const required = Object.entries(fields).filter(([, f]) => f.required).map(([k]) => k);
  return {
    type: 'object',
    ...(doc ? { description: doc } : {}),
    properties: Object.fromEntries(Object.entries(fields).map(([k, f]) => [k, fieldSchema(f)])),
    ...(required.length ? { required } : {}),
    additionalProperties: false,
  };
}

/** The schema of one field. */
export function fieldSchema(f: FieldSpec): Schema {
  const common: Schema = { description: f.doc, ...(f.default !== undefined ? { default: f.default } : {}) };
  switch (f.type) {
    case 'string':
      return { type: 'string', ...common, ...(f.enum ? { enum: [...f.enum] } : {}), ...(f.pattern ? { pattern: f.pattern.source } : {}) };
    case 'integer':
      return { type: 'integer', ...common, ...(f.min !== undefined ? { minimum: f.min } : {}), ...(f.max !== undefined ? { maximum: f.max } : {}) };
    case 'boolean':
      return { type: 'boolean', ...common };
    case 'unit':
      return { type: ['number', 'string'], ...common };
    case 'list':
      return { type: 'array', ...common, items: fieldSchema(f.items), ...(f.minItems !== undefined ? { minItems: f.minItems } : {}) };
    case 'object':
      return { ...objectSchema(f.fields), ...common };
    case 'map':
      return { type: 'object', ...common, additionalProperties: fieldSchema(f.values) };
  }
}

/** The schema of a topology file. */
export function topologySchema(): Schema {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: 'containet topology file',
    ...objectSchema(fileFields(), 'A lab: lans, links, ports, tunnels, mirrors and nodes, made by `containet apply` (docs/topology.md)'),
  };
}
