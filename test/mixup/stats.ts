/**
 * Moments and tolerances for the statistical tests.
 *
 * For N iid draws with mean μ, variance σ² and fourth central moment μ₄:
 *   SE(sample mean)     = σ/√N
 *   SE(sample variance) = √((μ₄ − σ⁴·(N − 3)/(N − 1))/N) ≈ √((μ₄ − σ⁴)/N)
 * (the variance of s², e.g. Casella & Berger ex. 5.8; with μ₄ = σ⁴(3 + κ), κ the excess kurtosis).
 * A check passes within k = 5 standard errors: for a correct sampler the CLT puts that at a two-sided
 * tail of about 6·10⁻⁷ per check, so a fixed seed that passes says nothing lucky, while the bugs we
 * guard against (Gamma with rate α, a wrong shape < 1 boost) miss by hundreds of standard errors.
 */
export const K_SE = 5;

export interface Moments {
  n: number;
  mean: number;
  /** Unbiased sample variance. */
  variance: number;
}

export function moments(xs: ArrayLike<number>): Moments {
  const n = xs.length;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += xs[i];
  const mean = sum / n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (xs[i] - mean) ** 2;
  return { n, mean, variance: ss / (n - 1) };
}

/** Standard error of the sample variance, from σ² and the excess kurtosis κ of the distribution. */
export function seOfVariance(sigma2: number, excessKurtosis: number, n: number): number {
  const mu4 = sigma2 * sigma2 * (3 + excessKurtosis);
  return Math.sqrt((mu4 - (sigma2 * sigma2 * (n - 3)) / (n - 1)) / n);
}

/** Mean and variance of a sample agree with (mean, σ², κ) within K_SE standard errors each. */
export function expectMoments(
  xs: ArrayLike<number>,
  mean: number,
  sigma2: number,
  excessKurtosis: number,
): { ok: boolean; detail: string } {
  const m = moments(xs);
  const seMean = Math.sqrt(sigma2 / m.n);
  const seVar = seOfVariance(sigma2, excessKurtosis, m.n);
  const zMean = (m.mean - mean) / seMean;
  const zVar = (m.variance - sigma2) / seVar;
  const ok = Math.abs(zMean) < K_SE && Math.abs(zVar) < K_SE;
  const detail =
    `mean ${m.mean.toFixed(5)} vs ${mean.toFixed(5)} (z = ${zMean.toFixed(2)}), ` +
    `variance ${m.variance.toFixed(5)} vs ${sigma2.toFixed(5)} (z = ${zVar.toFixed(2)})`;
  return { ok, detail };
}

/** Excess kurtosis of Beta(a, b). */
export function betaExcessKurtosis(a: number, b: number): number {
  const s = a + b;
  return (6 * ((a - b) ** 2 * (s + 1) - a * b * (s + 2))) / (a * b * (s + 2) * (s + 3));
}
