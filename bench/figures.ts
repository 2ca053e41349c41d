/**
 * Pure arithmetic of the bench figures (unit-tested in test/unit/bench-figures.test.ts).
 *
 * @module
 */

/** Median of `values`, rounded to 0.1 (0 for none). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const value =
    sorted.length % 2 === 0 ? ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2 : (sorted[mid] ?? 0);
  return Math.round(value * 10) / 10;
}

/**
 * How a cost grows with size compared with linear growth: `(cost(large) / cost(small)) / (large / small)`.
 * 1 = exactly linear; < 1 = sublinear (a fixed part, or parallelism); > 1 = worse than linear. Rounded to 0.01.
 * @param small - `{ size, cost }` at the small size (size > 0, cost > 0).
 * @param large - `{ size, cost }` at the large size.
 * @throws RangeError when a size or the small cost is not positive.
 */
export function growthVsLinear(
  small: { readonly size: number; readonly cost: number },
  large: { readonly size: number; readonly cost: number },
): number {
  if (small.size <= 0 || large.size <= 0 || small.cost <= 0) {
    throw new RangeError('sizes and the small cost must be positive');
  }
  return Math.round((large.cost / small.cost / (large.size / small.size)) * 100) / 100;
}
