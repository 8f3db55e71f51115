/**
 * The few statistics `compare` needs to say whether a setting beats its baseline across seeds:
 * mean, sample standard deviation, and the paired t-interval of the differences (Student, 1908): with
 * dᵢ = xᵢ − yᵢ over n seeds, d̄ ± t₀.₉₇₅,ₙ₋₁ · s_d/√n covers the true mean difference 95% of the time
 * when the dᵢ are roughly normal. Pairing (same seed: same initial weights, data order and split)
 * removes the seed-to-seed variation both runs share.
 */

export function mean(v: readonly number[]): number {
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : NaN;
}

/** Sample standard deviation (n − 1 in the denominator); NaN below two values. */
export function sd(v: readonly number[]): number {
  if (v.length < 2) return NaN;
  const m = mean(v);
  return Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - 1));
}

/** t₀.₉₇₅ for 1…30 degrees of freedom (standard tables; e.g. scipy.stats.t.ppf(0.975, df)). */
const T975 = [
  12.706205, 4.302653, 3.182446, 2.776445, 2.570582, 2.446912, 2.364624, 2.306004, 2.262157, 2.228139,
  2.200985, 2.178813, 2.160369, 2.144787, 2.13145, 2.119905, 2.109816, 2.100922, 2.093024, 2.085963,
  2.079614, 2.073873, 2.068658, 2.063899, 2.059539, 2.055529, 2.051831, 2.048407, 2.04523, 2.042272,
];

/** The 97.5% quantile of Student's t with `df` degrees of freedom. */
export function t975(df: number): number {
  if (!(Number.isInteger(df) && df >= 1)) return NaN;
  if (df <= 30) return T975[df - 1];
  // Beyond the table, the Cornish–Fisher expansion to second order (Abramowitz & Stegun 26.7.5):
  // z + (z³ + z)/(4·df) + (5z⁵ + 16z³ + 3z)/(96·df²), within 1e-4 for df > 30.
  const z = 1.959964;
  return z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df * df);
}

export interface PairedInterval {
  /** Mean of the paired differences. */
  mean: number;
  /** The 95% interval; NaN bounds with fewer than two pairs. */
  lo: number;
  hi: number;
  n: number;
}

/** 95% t-interval of mean(x − y) over paired samples. */
export function pairedInterval(x: readonly number[], y: readonly number[]): PairedInterval {
  if (x.length !== y.length) throw new Error(`pairedInterval: ${x.length} values against ${y.length}`);
  const d = x.map((v, i) => v - y[i]);
  const m = mean(d);
  const half = t975(d.length - 1) * (sd(d) / Math.sqrt(d.length));
  return { mean: m, lo: m - half, hi: m + half, n: d.length };
}
