import { describe, expect, it } from 'vitest';
import { holmAdjust, judgeFamily, mean, pairedInterval, pairedTest, sd, t975, tTwoSidedP } from '../../src/train/stats.js';
import { Rng } from '../../src/base/random.js';

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

describe('tests and the multiple-comparison correction', () => {
  it("two-sided t p-values match scipy (2·scipy.stats.t.sf(t, df), scipy 1.10)", () => {
    const cases: [number, number, number][] = [
      [0.5, 1, 0.7048327646991336], [2.0, 1, 0.2951672353008664], [1.0, 2, 0.42264973081037427],
      [4.302653, 2, 0.049999994182204466], [3.0, 3, 0.05766888562243731], [2.5, 4, 0.06676654481198813],
      [1.2, 5, 0.28389105670610226], [5.0, 6, 0.002452341760758549], [2.0, 9, 0.07655282377070093],
      [0.1, 10, 0.9223207185644083], [3.5, 19, 0.00239534668968281], [2.0, 40, 0.052322343215049236], [0, 3, 1],
    ];
    for (const [t, df, p] of cases) {
      expect(Math.abs(tTwoSidedP(t, df) - p)).toBeLessThan(1e-10);
      expect(Math.abs(tTwoSidedP(-t, df) - p)).toBeLessThan(1e-10);
    }
    // Consistent with the interval's quantile: |t| = t₀.₉₇₅ gives p = 0.05.
    for (const df of [1, 2, 4, 7, 12, 30]) expect(tTwoSidedP(t975(df), df)).toBeCloseTo(0.05, 5);
  });

  it("Holm's step-down adjustment, worked by hand", () => {
    // Sorted: 0.01 (×4 = 0.04), 0.02 (×3 = 0.06), 0.03 (×2 = 0.06), 0.5 (×1 = 0.5); running max.
    const h = holmAdjust([0.03, 0.5, 0.01, 0.02]);
    [0.06, 0.5, 0.04, 0.06].forEach((v, i) => expect(h[i]).toBeCloseTo(v, 15));
    // Monotone in the sorted order even when (m − j + 1)·p falls: 0.001·3, 0.04·2 = 0.08, 0.045·1 → 0.08.
    const g = holmAdjust([0.045, 0.001, 0.04]);
    [0.08, 0.003, 0.08].forEach((v, i) => expect(g[i]).toBeCloseTo(v, 15));
    // NaN is not a test and does not count in m; values cap at 1.
    const k = holmAdjust([NaN, 0.02, 0.6]);
    expect(k[0]).toBeNaN();
    expect(k[1]).toBeCloseTo(0.04, 15);
    expect(k[2]).toBe(0.6);
    expect(holmAdjust([0.7, 0.8])).toEqual([1, 1]);
  });

  it('a zero-width interval is judged by the sign test: 3 equal gains are not a winner, 6 are (defect 4)', () => {
    const base = [0.8, 0.7, 0.75];
    const gain = base.map((v) => v + 1 / 90);
    const t = pairedTest(gain, base);
    expect(t.test).toBe('sign');
    expect(t.p).toBe(0.25);
    expect(t.hi - t.lo).toBeLessThan(1e-12);
    expect(judgeFamily([gain], base, true)[0].verdict).toBe('no clear difference');
    const base6 = [0.8, 0.7, 0.75, 0.72, 0.78, 0.74];
    expect(judgeFamily([base6.map((v) => v + 1 / 90)], base6, true)[0]).toMatchObject({ test: 'sign', p: 1 / 32, verdict: 'better' });
    // All differences 0: p = 1.
    expect(pairedTest(base, base).p).toBe(1);
  });

  it('lower is better for NLL and ECE: a consistent drop is "better"', () => {
    const base = [0.5, 0.45, 0.52, 0.48];
    const lower = [0.41, 0.37, 0.42, 0.40];
    expect(judgeFamily([lower], base, false)[0].verdict).toBe('better');
    expect(judgeFamily([lower], base, true)[0].verdict).toBe('worse');
  });

  it('no baseline: every setting says so; one seed: "one seed"', () => {
    expect(judgeFamily([[0.8, 0.7, 0.75]], undefined, true)[0].verdict).toBe('no baseline');
    expect(judgeFamily([[0.8]], [0.7], true)[0].verdict).toBe('one seed');
  });

  it('family-wise false winners stay at or below 5% under the null (6 settings, 3 seeds, shared baseline)', () => {
    const rng = new Rng(2026);
    const trials = 4000;
    let corrected = 0;
    let uncorrected = 0;
    for (let t = 0; t < trials; t++) {
      // Seed effects shared by every setting (same split and init), plus each run's own noise.
      const seedEffect = [0, 1, 2].map(() => 0.02 * rng.normal());
      const run = () => seedEffect.map((e) => 0.8 + e + 0.01 * rng.normal());
      const baseline = run();
      const settings = Array.from({ length: 6 }, run);
      if (judgeFamily(settings, baseline, true).some((j) => j.verdict === 'better')) corrected++;
      if (settings.some((s) => pairedInterval(s, baseline).lo > 0)) uncorrected++;
    }
    // Without correction the chance of a false "better" is well above 5% (about 12% with 3 seeds).
    expect(uncorrected / trials).toBeGreaterThan(0.09);
    // Holm: ≤ 2.5% for "better" alone (half of the two-sided 5%), with room for simulation noise.
    expect(corrected / trials).toBeLessThan(0.035);
  });
});
