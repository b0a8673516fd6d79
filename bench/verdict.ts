/**
 * What a figure may be read as: whether the load generator, not the path, set
 * a packet rate, and whether a target is met over the whole spread of the
 * repetitions or only by its median. Pure functions of the samples.
 */

/**
 * Share of the offered rate a path must receive for its figure to be the
 * generator's, not the path's: the path took (almost) all it was given, so
 * how much more it could take is unknown.
 */
export const GENERATOR_LIMITED_SHARE = 0.95;

/**
 * Whether a received rate @received (any unit) was set by the generator that
 * offered @offered (the same unit) over the same window: true when the path
 * received at least GENERATOR_LIMITED_SHARE of it, false when it dropped
 * more, null when either is unknown.
 */
export function generatorLimited(received: number | null, offered: number | null): boolean | null {
  if (received === null || offered === null || offered <= 0) return null;
  return received >= GENERATOR_LIMITED_SHARE * offered;
}

/** A target's verdict over the spread of the repetitions. */
export interface SpreadVerdict {
  /** true: met by every repetition; false: missed by every repetition; null: the spread straddles the target, or nothing was measured. */
  met: boolean | null;
  /** The ratio of the medians, null when not measured. */
  ratio: number | null;
  /** The worst and the best ratio the repetitions allow (worst of the path against best of the baseline and back), null when not measured. */
  low: number | null;
  high: number | null;
}

/**
 * The target "@path's figure >= @min times @base's" (higher is better) over
 * the samples of both: met only when even the path's worst repetition against
 * the baseline's best reaches @min, not met when even its best against the
 * baseline's worst falls short, undecided (met null, with the spread) in between.
 */
export function ratioVerdict(path: number[], base: number[], min: number, medianRatio: number | null): SpreadVerdict {
  const p = path.filter(Number.isFinite);
  const b = base.filter((x) => Number.isFinite(x) && x > 0);
  if (p.length === 0 || b.length === 0) return { met: null, ratio: medianRatio, low: null, high: null };
  const low = Math.min(...p) / Math.max(...b);
  const high = Math.max(...p) / Math.min(...b);
  return { met: low >= min ? true : high < min ? false : null, ratio: medianRatio, low, high };
}

/**
 * @v with the generator limits of its two sides taken into account: a rate the
 * generator set is a floor of what that path can do, so a "met" against a
 * generator-limited baseline (which could do more) and a "not met" of a
 * generator-limited path (which could do more) are not shown; returns the
 * verdict and, when it was withdrawn, why.
 */
export function withGeneratorLimits<V extends { met: boolean | null }>(v: V, pathLimited: boolean, baseLimited: boolean, path: string, base: string): V & { why: string | null } {
  if (v.met === true && baseLimited) return { ...v, met: null, why: `${base} was generator-limited` };
  if (v.met === false && pathLimited) return { ...v, met: null, why: `${path} was generator-limited` };
  return { ...v, why: null };
}

/** How a verdict reads in a table: "1.21x (met)", "0.80x (NOT met)", "1.02x: not shown (spread 0.71-1.40x)" or "...: not shown (WHY)". */
export function verdictText(v: { met: boolean | null; low: number | null; high: number | null; why?: string | null }, value: string | null, unit = 'x'): string {
  if (value === null) return 'not measured';
  if (v.met === true) return `${value} (met)`;
  if (v.met === false) return `${value} (NOT met)`;
  if (v.why) return `${value}: not shown (${v.why})`;
  if (v.low === null || v.high === null) return value;
  return `${value}: not shown (spread ${v.low.toFixed(2)}-${v.high.toFixed(2)}${unit})`;
}
