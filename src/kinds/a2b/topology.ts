/**
 * The a2b kind in a topology file (docs/topology.md): the `links:` section. A
 * link joins two lans with each direction's settings in the units of `set`
 * (docs/a2b.md) and an admin state; a change of its settings or state is a
 * `set` in place (the a2b is not made again, no frame is lost).
 */
import { registerSection, type Entry, type Request, type Values } from '../../topology/section.js';
import type { FieldSpec, Fields } from '../../topology/spec.js';
import {
  A2B_DEFAULTS,
  applyChange,
  formatRate,
  formatTime,
  parseBytes,
  parseGe,
  parsePercent,
  parseRate,
  parseTime,
  type A2bSettings,
  type GeLoss,
} from './settings.js';

/** The settings of a direction, by the name a file (and `set`) gives them,
 *  and the A2bSettings key of each. */
const KEYS: Readonly<Record<string, keyof A2bSettings>> = {
  rate: 'rate', delay: 'delay', jitter: 'jitter', distribution: 'distribution', loss: 'loss', 'loss-ge': 'lossGe',
  duplicate: 'duplicate', reorder: 'reorder', corrupt: 'corrupt', limit: 'limit', 'limit-bytes': 'limitBytes', seed: 'seed',
};

/** A unit field checked by @parse. */
function unit(doc: string, parse: (v: string | number) => unknown): FieldSpec {
  return { type: 'unit', doc, check: (v) => parse(v as string | number) };
}

/** The fields of one direction. */
const DIRECTION: Fields = {
  rate: unit('serialization rate: 10mbit, 1gbit, 500kbps (bytes/s); a number is bit/s; 0: unlimited', parseRate),
  delay: unit('one-way delay: 20ms, 150us, 1s; a number is µs', (v) => parseTime(v, 'delay')),
  jitter: unit('delay variation: 5ms; a number is µs', (v) => parseTime(v, 'jitter')),
  distribution: { type: 'string', enum: ['uniform', 'normal'], doc: 'jitter distribution (default uniform)' },
  loss: unit('independent random loss: 1%, 0.5', (v) => parsePercent(v, 'loss')),
  'loss-ge': { type: 'string', doc: 'Gilbert-Elliott burst loss P,R[,1-H[,1-K]] in percent ("0": off)', check: (v) => parseGe(String(v)) },
  duplicate: unit('frames sent twice: 1%', (v) => parsePercent(v, 'duplicate')),
  reorder: unit('frames that skip the delay: 1%', (v) => parsePercent(v, 'reorder')),
  corrupt: unit('frames with one bit flipped: 1%', (v) => parsePercent(v, 'corrupt')),
  limit: { type: 'integer', min: 1, max: 1_000_000, doc: 'queue limit in frames (default 1000)' },
  'limit-bytes': unit('queue limit in bytes: 64k, 16m (default and most 16m)', (v) => parseBytes(v, 'limit-bytes')),
  seed: { type: 'integer', min: 0, doc: 'seed of loss, jitter and the rest (0: random)' },
};

/** A direction's canonical values (every setting, file keys) from @s. */
function fromSettings(s: A2bSettings): Values {
  return Object.fromEntries(Object.entries(KEYS).map(([k, key]) => [k, s[key]]));
}

/** A direction of a file's entry (@v: its fields, as written) in canonical form. */
function direction(v: Values | undefined): Values {
  const c: Partial<A2bSettings> = {};
  for (const [k, raw] of Object.entries(v ?? {})) {
    const key = KEYS[k]!;
    const x = raw as string | number;
    const parsed =
      key === 'rate' ? parseRate(x)
      : key === 'delay' || key === 'jitter' ? parseTime(x, k)
      : key === 'lossGe' ? parseGe(String(x))
      : key === 'limitBytes' ? parseBytes(x, k)
      : key === 'loss' || key === 'duplicate' || key === 'reorder' || key === 'corrupt' ? parsePercent(x, k)
      : x;
    (c as Record<string, unknown>)[key] = parsed;
  }
  return fromSettings(applyChange(A2B_DEFAULTS, c));
}

/** "P,R,1-H,1-K" of a burst loss, "0" for none: as `set` takes it. */
function geText(g: unknown): string {
  const ge = g as GeLoss | null;
  return ge ? `${ge.p},${ge.r},${ge.lossBad},${ge.lossGood}` : '0';
}

/** A setting @k's canonical value @v for people and files. */
function formatSetting(k: string, v: unknown): string | number {
  switch (k) {
    case 'rate':
      return v === 0 ? 0 : formatRate(v as number);
    case 'delay':
    case 'jitter':
      return formatTime(v as number);
    case 'loss':
    case 'duplicate':
    case 'reorder':
    case 'corrupt':
      return `${v as number}%`;
    case 'loss-ge':
      return geText(v);
    default:
      return v as string | number;
  }
}

/** The `set` body fields that give direction settings @keys their values in @d. */
function setFields(d: Values, keys: string[]): Values {
  return Object.fromEntries(keys.map((k) => [k, k === 'loss-ge' ? geText(d[k]) : d[k]]));
}

/** The settings of direction @d that differ from a fresh a2b's. */
function nonDefault(d: Values): string[] {
  const def = fromSettings(A2B_DEFAULTS);
  return Object.keys(KEYS).filter((k) => JSON.stringify(d[k]) !== JSON.stringify(def[k]));
}

/** The sets that give link @name's directions the settings @keysOf names. */
function dirSets(name: string, dirs: Record<'a2b' | 'b2a', Values>, keysOf: (dir: 'a2b' | 'b2a') => string[]): Request[] {
  return (['a2b', 'b2a'] as const).flatMap((dir) => {
    const keys = keysOf(dir);
    return keys.length ? [{ set: { name, dir, ...setFields(dirs[dir], keys) } }] : [];
  });
}

registerSection({
  key: 'links',
  noun: 'link',
  kinds: ['a2b'],
  stage: 1,
  doc: 'a2b link emulators between two lans (docs/a2b.md), each direction shaped on its own',
  fields: {
    a: { type: 'string', required: true, doc: 'the lan on side A' },
    b: { type: 'string', required: true, doc: 'the lan on side B' },
    a2b: { type: 'object', fields: DIRECTION, doc: 'what frames from A to B meet (nothing: they cross as they come)' },
    b2a: { type: 'object', fields: DIRECTION, doc: 'what frames from B to A meet' },
    state: { type: 'string', enum: ['up', 'down'], default: 'up', doc: 'admin state: down drops every frame both ways (changed in place)' },
  },
  canonical: (v) => ({ a: v.a, b: v.b, a2b: direction(v.a2b as Values), b2a: direction(v.b2a as Values), state: v.state }),
  fromShow(s) {
    const l = s.a2b as { a: string; b: string; a2b: A2bSettings; b2a: A2bSettings };
    return { name: String(s.name), values: { a: l.a, b: l.b, a2b: fromSettings(l.a2b), b2a: fromSettings(l.b2a), state: s.admin === 'down' ? 'down' : 'up' } };
  },
  add(e) {
    const v = e.values;
    const dirs = { a2b: v.a2b as Values, b2a: v.b2a as Values };
    return [{ 'add-a2b': { name: e.name, a: v.a, b: v.b } }, ...dirSets(e.name, dirs, (d) => nonDefault(dirs[d])), ...(v.state === 'down' ? [{ set: { name: e.name, state: 'down' } }] : [])];
  },
  change(_cur: Entry, want: Entry, changed: string[]) {
    if (changed.some((p) => p === 'a' || p === 'b')) return undefined;
    const v = want.values;
    const dirs = { a2b: v.a2b as Values, b2a: v.b2a as Values };
    const sets = dirSets(want.name, dirs, (d) => changed.filter((p) => p.startsWith(`${d}.`)).map((p) => p.slice(d.length + 1)));
    return changed.includes('state') ? [...sets, { set: { name: want.name, state: v.state } }] : sets;
  },
  needs: (e) => [e.values.a as string, e.values.b as string],
  format: (path, v) => String(formatSetting(path.split('.').pop()!, v)),
  toFile(e) {
    const v = e.values;
    const dir = (d: Values) => {
      const keys = nonDefault(d);
      return keys.length ? Object.fromEntries(keys.map((k) => [k, formatSetting(k, d[k])])) : undefined;
    };
    return { a: v.a, b: v.b, a2b: dir(v.a2b as Values), b2a: dir(v.b2a as Values), state: v.state === 'down' ? 'down' : undefined };
  },
});
