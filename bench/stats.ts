/** Small statistics over samples. */

/** The median of @xs (mean of the middle two for an even count); null when empty. */
export function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** The @p-th percentile of @xs by nearest rank (p in 0..100); null when empty. */
export function percentile(xs: number[], p: number): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * s.length));
  return s[Math.min(rank, s.length) - 1]!;
}

/** @x / @base, or null when either is missing or the base is zero. */
export function ratio(x: number | null, base: number | null): number | null {
  if (x === null || base === null || base === 0) return null;
  return x / base;
}

/** The least and the greatest of @xs, or null when empty: a median's spread. */
export function spread(xs: number[]): { min: number; max: number } | null {
  if (xs.length === 0) return null;
  return { min: Math.min(...xs), max: Math.max(...xs) };
}
