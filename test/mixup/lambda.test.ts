// What λ must satisfy (docs/architecture.md, "Mixup semantics"): λ ~ Beta(α, α) in [0, 1], mean 1/2, variance
// 1/(4(2α + 1)); α ≤ 0 → 1; dominant → max(λ, 1 − λ); 'batch' → one λ for all.
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/base/random.js';
import { sampleLambda } from '../../src/mixup/lambda.js';
import { betaExcessKurtosis, expectMoments } from './stats.js';

// Sample size of the moment checks. Beta(α, α) has σ² = 1/(4(2α+1)) and excess kurtosis
// −6/(2α+3), so μ₄ = σ⁴(3 − 6/(2α+3)) and SE(s²) ≈ σ²·√((2 − 6/(2α+3))/N) (see stats.ts); at
// N = 100 000 and 5 SE that is a relative tolerance of about 1.6% (α = 0.2) to 2% (α = 2) on the
// variance, and ±0.004–0.006 on the mean. The common bug (Gamma with rate α) does not even stay in [0, 1].
const N = 100_000;

describe('sampleLambda', () => {
  it('always lies in [0, 1]', () => {
    const rng = new Rng(1);
    for (const alpha of [0.01, 0.2, 0.4, 1, 2, 50]) {
      for (const dominant of [false, true]) {
        const lam = sampleLambda(rng, 5000, { alpha, mode: 'sample', dominant });
        expect(lam.every((l) => l >= 0 && l <= 1 && !Number.isNaN(l))).toBe(true);
      }
    }
  });

  for (const alpha of [0.2, 0.4, 1, 2]) {
    it(`Beta(${alpha}, ${alpha}) without dominant: mean 1/2, variance 1/(4(2α+1))`, () => {
      const lam = sampleLambda(new Rng(Math.round(alpha * 1000)), N, { alpha, mode: 'sample', dominant: false });
      const check = expectMoments(lam, 0.5, 1 / (4 * (2 * alpha + 1)), betaExcessKurtosis(alpha, alpha));
      expect(check.ok, check.detail).toBe(true);
    });
  }

  it('dominant keeps λ ≥ 1/2, and is exactly max(λ, 1 − λ) of the same draws', () => {
    for (const alpha of [0.2, 0.4, 1, 2]) {
      const plain = sampleLambda(new Rng(9), 2000, { alpha, mode: 'sample', dominant: false });
      const dom = sampleLambda(new Rng(9), 2000, { alpha, mode: 'sample', dominant: true });
      expect(dom.every((l) => l >= 0.5 && l <= 1)).toBe(true);
      // Up to float32 rounding: 1 − fround(λ) and fround(1 − λ) may differ in the last bit.
      const worst = dom.reduce((w, l, i) => Math.max(w, Math.abs(l - Math.max(plain[i], 1 - plain[i]))), 0);
      expect(worst).toBeLessThan(1e-7);
    }
  });

  it('α ≤ 0 means no mixing: λ = 1', () => {
    for (const alpha of [0, -1]) {
      const lam = sampleLambda(new Rng(2), 17, { alpha, mode: 'sample', dominant: false });
      expect(lam.every((l) => l === 1)).toBe(true);
    }
  });

  it("'batch' gives one λ for the whole batch", () => {
    const lam = sampleLambda(new Rng(3), 33, { alpha: 0.4, mode: 'batch', dominant: false });
    expect(new Set(lam).size).toBe(1);
    expect(lam[0]).toBeLessThan(1);
    const perSample = sampleLambda(new Rng(3), 33, { alpha: 0.4, mode: 'sample', dominant: false });
    expect(new Set(perSample).size).toBeGreaterThan(1);
  });

  it('is deterministic per seed and handles n = 0', () => {
    const opts = { alpha: 1, mode: 'sample', dominant: true } as const;
    expect(sampleLambda(new Rng(4), 10, opts)).toEqual(sampleLambda(new Rng(4), 10, opts));
    expect(sampleLambda(new Rng(4), 0, opts).length).toBe(0);
  });

  it('rejects a NaN α, an infinite α and an unknown mode', () => {
    expect(() => sampleLambda(new Rng(5), 3, { alpha: Number.NaN, mode: 'sample', dominant: true })).toThrow(/alpha/);
    expect(() => sampleLambda(new Rng(5), 3, { alpha: Infinity, mode: 'sample', dominant: true })).toThrow(/alpha/);
    expect(() => sampleLambda(new Rng(5), 3, { alpha: 1, mode: 'each' as never, dominant: true })).toThrow(
      /'sample', 'batch'/,
    );
  });
});
