import { describe, expect, it } from 'vitest';
import { mean, pairedInterval, sd, t975 } from '../../src/train/stats.js';

describe('compare statistics', () => {
  it('mean and sample sd by hand', () => {
    expect(mean([1, 2, 3, 6])).toBe(3);
    // Σ(x − 3)² = 4 + 1 + 0 + 9 = 14; /3.
    expect(sd([1, 2, 3, 6])).toBeCloseTo(Math.sqrt(14 / 3), 12);
    expect(sd([5])).toBeNaN();
  });

  it("t quantiles match Student's table (scipy.stats.t.ppf(0.975, df))", () => {
    expect(t975(1)).toBeCloseTo(12.7062, 3);
    expect(t975(2)).toBeCloseTo(4.302653, 5);
    expect(t975(4)).toBeCloseTo(2.776445, 5);
    expect(t975(30)).toBeCloseTo(2.042272, 5);
    expect(t975(60)).toBeCloseTo(2.000298, 3);
    expect(t975(120)).toBeCloseTo(1.979930, 3);
  });

  it('the paired interval: d̄ ± t·s/√n over the differences', () => {
    const x = [0.81, 0.8, 0.83];
    const y = [0.78, 0.79, 0.8];
    // d = [0.03, 0.01, 0.03]: mean 0.07/3, sd √(((0.03−d̄)²·2 + (0.01−d̄)²)/2).
    const d = [0.03, 0.01, 0.03];
    const m = 0.07 / 3;
    const s = Math.sqrt(d.reduce((a, v) => a + (v - m) ** 2, 0) / 2);
    const r = pairedInterval(x, y);
    expect(r.mean).toBeCloseTo(m, 12);
    expect(r.hi - r.mean).toBeCloseTo((4.302653 * s) / Math.sqrt(3), 6);
    expect(r.lo).toBeGreaterThan(-0.03); // about −0.0054: includes 0
    expect(r.lo).toBeLessThan(0);
  });
});
