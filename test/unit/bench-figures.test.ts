import { describe, expect, it } from 'vitest';
import { growthVsLinear, median } from '../../bench/figures.ts';

describe('bench figures', () => {
  it.each([
    [[], 0],
    [[5], 5],
    [[3, 1, 2], 2],
    [[4, 1, 3, 2], 2.5],
    [[1.04, 1.06, 1.05], 1.1],
  ])('median of %j is %d', (values, expected) => {
    expect(median(values)).toBe(expected);
  });

  it.each([
    // size 50 → 500 (×10): cost ×10 is linear, ×2 sublinear (fixed part / parallelism), ×20 worse than linear.
    [{ size: 50, cost: 100 }, { size: 500, cost: 1000 }, 1],
    [{ size: 50, cost: 100 }, { size: 500, cost: 200 }, 0.2],
    [{ size: 50, cost: 100 }, { size: 500, cost: 2000 }, 2],
    [{ size: 100, cost: 30 }, { size: 500, cost: 60 }, 0.4],
  ])('growth from %j to %j is %d × linear', (small, large, expected) => {
    expect(growthVsLinear(small, large)).toBe(expected);
  });

  it.each([
    [
      { size: 0, cost: 1 },
      { size: 5, cost: 1 },
    ],
    [
      { size: 5, cost: 0 },
      { size: 50, cost: 1 },
    ],
    [
      { size: 5, cost: 1 },
      { size: -1, cost: 1 },
    ],
  ])('refuses non-positive sizes or small cost: %j → %j', (small, large) => {
    expect(() => growthVsLinear(small, large)).toThrow(RangeError);
  });
});
