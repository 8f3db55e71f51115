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

/**
 * Two-sided p-value of Student's t: P(|T| ≥ |t|) with `df` (whole) degrees of freedom, from the
 * finite series of Abramowitz & Stegun 26.7.3–26.7.4 for A(t|ν) = P(|T| ≤ t), θ = atan(t/√ν):
 * ν odd:  A = (2/π)·[θ + sinθ·(cosθ + (2/3)cos³θ + … + (2·4⋯(ν−3))/(1·3⋯(ν−2))·cos^(ν−2)θ)] (ν = 1: (2/π)θ);
 * ν even: A = sinθ·[1 + (1/2)cos²θ + (1·3)/(2·4)cos⁴θ + … + (1·3⋯(ν−3))/(2·4⋯(ν−2))·cos^(ν−2)θ].
 * Exact for whole ν; the series has ν/2 terms, a handful for the seed counts compare uses.
 */
export function tTwoSidedP(t: number, df: number): number {
  if (!(Number.isInteger(df) && df >= 1) || Number.isNaN(t)) return NaN;
  if (!Number.isFinite(t)) return 0;
  const theta = Math.atan(Math.abs(t) / Math.sqrt(df));
  const s = Math.sin(theta);
  const c2 = Math.cos(theta) ** 2;
  let a: number;
  if (df % 2 === 1) {
    let sum = 0;
    if (df > 1) {
      let term = Math.cos(theta);
      sum = term;
      for (let j = 3; j <= df - 2; j += 2) {
        term *= (c2 * (j - 1)) / j;
        sum += term;
      }
    }
    a = (2 / Math.PI) * (theta + s * sum);
  } else {
    let term = 1;
    let sum = 1;
    for (let j = 2; j <= df - 2; j += 2) {
      term *= (c2 * (j - 1)) / j;
      sum += term;
    }
    a = s * sum;
  }
  return Math.min(1, Math.max(0, 1 - a));
}

/**
 * Holm's step-down adjustment (Holm 1979): with the m p-values sorted p₍₁₎ ≤ … ≤ p₍ₘ₎,
 * p̃₍ᵢ₎ = max_{j ≤ i} min(1, (m − j + 1)·p₍ⱼ₎). Rejecting where p̃ ≤ α keeps the family-wise error
 * rate ≤ α under any dependence between the tests (settings sharing one baseline are correlated).
 * NaN p-values are not tests: they stay NaN and do not count in m.
 */
export function holmAdjust(p: readonly number[]): number[] {
  const idx = p.map((_, i) => i).filter((i) => !Number.isNaN(p[i])).sort((a, b) => p[a] - p[b]);
  const m = idx.length;
  const out = p.map(() => NaN);
  let running = 0;
  idx.forEach((i, r) => {
    running = Math.max(running, Math.min(1, (m - r) * p[i]));
    out[i] = running;
  });
  return out;
}

/** The family-wise error rate compare allows per metric and baseline. */
export const FAMILY_ALPHA = 0.05;

export type Verdict = 'better' | 'worse' | 'no clear difference' | 'one seed' | 'no baseline';

export interface Judgement extends PairedInterval {
  /** Two-sided p of "mean difference = 0": the paired t-test, or the sign test when sd = 0. */
  p: number;
  /** p after Holm's adjustment over the family. */
  pAdjusted: number;
  /** Which test gave p. */
  test: 't' | 'sign' | 'none';
  verdict: Verdict;
}

/**
 * The p-value of one paired comparison. The t-test divides by the differences' sd; when every seed
 * moved by exactly the same amount (sd = 0: on a small validation set, "each seed gained the same one
 * image") t is infinite and says nothing about the noise, only that the n signs agree. So then the
 * test is the exact sign test: under "no difference" each sign is a fair coin, p = 2·(1/2)ⁿ = 2^(1−n)
 * (and p = 1 when every difference is 0). A zero-width interval thus needs 6 seeds to reach 0.05 by
 * itself, and more after Holm's correction; with compare's default of 3 seeds it never names a winner.
 */
export function pairedTest(x: readonly number[], y: readonly number[]): PairedInterval & { p: number; test: Judgement['test'] } {
  const d = pairedInterval(x, y);
  const diffs = x.map((v, i) => v - y[i]);
  if (d.n < 2) return { ...d, p: NaN, test: 'none' };
  const s = sd(diffs);
  // Float rounding of equal gains (0.81 − 0.80 vs 0.71 − 0.70) leaves an sd of ~1e-17: below 1e-12
  // of the scale of the differences it is taken as 0.
  const scale = Math.max(...diffs.map(Math.abs));
  if (s <= 1e-12 * scale || scale === 0) return { ...d, p: scale === 0 ? 1 : 2 ** (1 - d.n), test: 'sign' };
  return { ...d, p: tTwoSidedP(d.mean / (s / Math.sqrt(d.n)), d.n - 1), test: 't' };
}

/**
 * Judges every setting of one family against its baseline: paired tests per setting, Holm's
 * adjustment across the family, and a verdict only where the adjusted p ≤ FAMILY_ALPHA.
 * `higherIsBetter`: accuracy and mAP yes, NLL and ECE no. A missing baseline gives 'no baseline';
 * fewer than two seeds 'one seed'.
 */
export function judgeFamily(settings: readonly (readonly number[])[], baseline: readonly number[] | undefined, higherIsBetter: boolean, alpha = FAMILY_ALPHA): Judgement[] {
  if (!baseline) return settings.map((v) => ({ mean: NaN, lo: NaN, hi: NaN, n: v.length, p: NaN, pAdjusted: NaN, test: 'none', verdict: 'no baseline' }));
  const tests = settings.map((v) => pairedTest(v, baseline));
  const adjusted = holmAdjust(tests.map((t) => t.p));
  return tests.map((t, i): Judgement => {
    let verdict: Verdict = 'no clear difference';
    if (t.test === 'none') verdict = 'one seed';
    else if (adjusted[i] <= alpha && t.mean !== 0) verdict = t.mean > 0 === higherIsBetter ? 'better' : 'worse';
    return { ...t, pAdjusted: adjusted[i], verdict };
  });
}
