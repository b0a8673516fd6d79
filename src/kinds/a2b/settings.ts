/**
 * The a2b link emulator's settings: their units (tc style, and cloonix's
 * "dir=0 cmd=delay val=1000" form), their defaults, and what the engine is
 * given. See docs/a2b.md.
 */

/** Gilbert-Elliott burst loss, in percent (netem's gemodel p, r, 1-h, 1-k). */
export interface GeLoss {
  p: number;
  r: number;
  lossBad: number;
  lossGood: number;
}

/** The settings of one direction. Rates in bit/s, times in µs, chances in percent. */
export interface A2bSettings {
  rate: number;
  delay: number;
  jitter: number;
  distribution: 'uniform' | 'normal';
  loss: number;
  lossGe: GeLoss | null;
  duplicate: number;
  reorder: number;
  corrupt: number;
  limit: number;
  limitBytes: number;
  seed: number;
}

/** Directions of a link. */
export type A2bDir = 'a2b' | 'b2a';

/** A direction with nothing set: frames cross as they come. */
export const A2B_DEFAULTS: A2bSettings = {
  rate: 0,
  delay: 0,
  jitter: 0,
  distribution: 'uniform',
  loss: 0,
  lossGe: null,
  duplicate: 0,
  reorder: 0,
  corrupt: 0,
  limit: 1000,
  limitBytes: 16 << 20,
  seed: 0,
};

/** Most bytes a direction may queue (its FIFO's size in the engine). */
export const A2B_MAX_LIMIT_BYTES = 16 << 20;
/** Fewest: one largest frame. */
export const A2B_MIN_LIMIT_BYTES = 65536 + 18;

/** A setting that cannot be taken; the message goes back to the client. */
export class A2bError extends Error {}

/** A number and its unit from @v ("10mbit", "2.5ms", "1%", 42). */
function split(v: string | number, what: string): { n: number; unit: string } {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new A2bError(`${what}: not a number`);
    return { n: v, unit: '' };
  }
  const m = /^\s*(-?\d+(?:\.\d+)?(?:e[+-]?\d+)?)\s*([a-z%]*)\s*$/i.exec(v);
  if (!m) throw new A2bError(`${what}: "${v}" is not a number with a unit`);
  return { n: Number(m[1]), unit: m[2]!.toLowerCase() };
}

/** Check @n is >= 0 (and <= @max when given). */
function range(n: number, what: string, max?: number): number {
  if (n < 0) throw new A2bError(`${what}: must not be negative`);
  if (max !== undefined && n > max) throw new A2bError(`${what}: at most ${max}`);
  return n;
}

/** Bits per second of a tc-style rate: bit, kbit, mbit, gbit (10^3 steps), bps/kbps/mbps/gbps (bytes/s); bare: bit/s. */
export function parseRate(v: string | number): number {
  const { n, unit } = split(v, 'rate');
  const scale: Record<string, number> = {
    '': 1, bit: 1, kbit: 1e3, mbit: 1e6, gbit: 1e9, tbit: 1e12,
    bps: 8, kbps: 8e3, mbps: 8e6, gbps: 8e9,
  };
  if (!(unit in scale)) throw new A2bError(`rate: unknown unit "${unit}" (bit, kbit, mbit, gbit, or bps, kbps, mbps, gbps for bytes/s)`);
  return Math.round(range(n * scale[unit]!, 'rate', 1e12));
}

/** Microseconds of a tc-style time: us, ms, s (bare: µs). */
export function parseTime(v: string | number, what: string): number {
  const { n, unit } = split(v, what);
  const scale: Record<string, number> = { '': 1, us: 1, usec: 1, ms: 1e3, msec: 1e3, s: 1e6, sec: 1e6 };
  if (!(unit in scale)) throw new A2bError(`${what}: unknown unit "${unit}" (us, ms, s)`);
  return range(n * scale[unit]!, what, 3600e6);
}

/** Percent of "1%", "0.5", 3 (bare: percent). */
export function parsePercent(v: string | number, what: string): number {
  const { n, unit } = split(v, what);
  if (unit !== '' && unit !== '%') throw new A2bError(`${what}: a percentage such as 1% or 0.5%`);
  return range(n, what, 100);
}

/** Bytes of "64k", "16m", 100000 (k, m, g: powers of 2^10). */
export function parseBytes(v: string | number, what: string): number {
  const { n, unit } = split(v, what);
  const scale: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, m: 1 << 20, mb: 1 << 20 };
  if (!(unit in scale)) throw new A2bError(`${what}: unknown unit "${unit}" (k, m)`);
  return Math.round(range(n * scale[unit]!, what));
}

/** Gilbert-Elliott model of "P,R[,1-H[,1-K]]" (percents); "0" for none. */
export function parseGe(v: string): GeLoss | null {
  const parts = v.split(',').map((s) => s.trim());
  if (parts.length === 1 && Number(parts[0]) === 0) return null;
  if (parts.length < 2 || parts.length > 4) throw new A2bError('loss-ge: P,R[,1-H[,1-K]] in percent, e.g. 1%,10%');
  const [p, r, bad, good] = parts.map((s, i) => parsePercent(s, `loss-ge ${['P', 'R', '1-H', '1-K'][i]}`));
  return { p: p!, r: r!, lossBad: bad ?? 100, lossGood: good ?? 0 };
}

/** A change of some settings (what is not named keeps its value). */
export type A2bChange = Partial<A2bSettings>;

/**
 * cloonix's form: "dir=0 cmd=delay val=1000" (dir 0: a2b, 1: b2a; delay in ms,
 * loss in 1/10000, rate in kilobytes/s), as one string or as words.
 */
export function parseCloonix(words: string[]): { dirs: A2bDir[]; change: A2bChange } {
  const kv = new Map<string, string>();
  for (const w of words.join(' ').trim().split(/\s+/)) {
    const m = /^(dir|cmd|val)=(\S+)$/.exec(w);
    if (!m) throw new A2bError(`cloonix form: "${w}" is not dir=N, cmd=delay|loss|rate or val=N`);
    kv.set(m[1]!, m[2]!);
  }
  const dir = kv.get('dir'), cmd = kv.get('cmd'), val = kv.get('val');
  if (dir !== '0' && dir !== '1') throw new A2bError('cloonix form: dir=0 (a2b) or dir=1 (b2a)');
  const n = Number(val);
  if (val === undefined || !Number.isFinite(n) || n < 0) throw new A2bError('cloonix form: val= a number >= 0');
  const dirs: A2bDir[] = [dir === '0' ? 'a2b' : 'b2a'];
  switch (cmd) {
    case 'delay':
      return { dirs, change: { delay: range(n, 'delay', 3600e3) * 1000 } };
    case 'loss':
      return { dirs, change: { loss: range(n / 100, 'loss', 100) } };
    case 'rate':
      return { dirs, change: { rate: Math.round(n * 8000) } };
    default:
      throw new A2bError(`cloonix form: cmd=delay, cmd=loss or cmd=rate (not "${cmd ?? ''}")`);
  }
}

/** @base with @change applied, checked as a whole. */
export function applyChange(base: A2bSettings, change: A2bChange): A2bSettings {
  const s: A2bSettings = { ...base, ...change };
  if (!Number.isInteger(s.limit) || s.limit < 1 || s.limit > 1_000_000) throw new A2bError('limit: 1 to 1000000 frames');
  if (s.limitBytes < A2B_MIN_LIMIT_BYTES || s.limitBytes > A2B_MAX_LIMIT_BYTES)
    throw new A2bError(`limit-bytes: ${A2B_MIN_LIMIT_BYTES} to ${A2B_MAX_LIMIT_BYTES} bytes`);
  if (!Number.isSafeInteger(s.seed) || s.seed < 0) throw new A2bError('seed: an integer >= 0');
  return s;
}

/** The engine's form of @s (the a2b kind's set, with "dirs"). */
export function nativeSettings(s: A2bSettings): Record<string, unknown> {
  return {
    rateBps: s.rate,
    delayUs: s.delay,
    jitterUs: s.jitter,
    normal: s.distribution === 'normal',
    lossPct: s.loss,
    ge: s.lossGe,
    duplicatePct: s.duplicate,
    reorderPct: s.reorder,
    corruptPct: s.corrupt,
    limit: s.limit,
    limitBytes: s.limitBytes,
    seed: s.seed,
  };
}

/** A rate for people: "10mbit", "1.5gbit", "0" (unlimited). */
export function formatRate(bps: number): string {
  if (bps === 0) return 'unlimited';
  for (const [u, f] of [['gbit', 1e9], ['mbit', 1e6], ['kbit', 1e3]] as const) if (bps >= f) return `${+(bps / f).toFixed(3)}${u}`;
  return `${bps}bit`;
}

/** A time for people: "20ms", "150us". */
export function formatTime(us: number): string {
  if (us >= 1000 && us % 1000 === 0) return `${us / 1000}ms`;
  return `${us}us`;
}

/** One line of what a direction does ("rate 10mbit delay 20ms loss 1%"), "-" for nothing. */
export function describe(s: A2bSettings): string {
  const out: string[] = [];
  if (s.rate) out.push(`rate ${formatRate(s.rate)}`);
  if (s.delay || s.jitter) out.push(`delay ${formatTime(s.delay)}`);
  if (s.jitter) out.push(`jitter ${formatTime(s.jitter)} ${s.distribution}`);
  if (s.lossGe) out.push(`loss-ge ${s.lossGe.p}%,${s.lossGe.r}%,${s.lossGe.lossBad}%,${s.lossGe.lossGood}%`);
  else if (s.loss) out.push(`loss ${s.loss}%`);
  if (s.duplicate) out.push(`duplicate ${s.duplicate}%`);
  if (s.reorder) out.push(`reorder ${s.reorder}%`);
  if (s.corrupt) out.push(`corrupt ${s.corrupt}%`);
  if (s.limit !== A2B_DEFAULTS.limit) out.push(`limit ${s.limit}`);
  if (s.limitBytes !== A2B_DEFAULTS.limitBytes) out.push(`limit-bytes ${s.limitBytes}`);
  if (s.seed) out.push(`seed ${s.seed}`);
  return out.length ? out.join(' ') : '-';
}
