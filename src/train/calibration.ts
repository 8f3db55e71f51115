/**
 * Calibration: how far predicted probabilities are from observed frequencies, and temperature
 * scaling to mend it (docs/architecture.md, "Judging"). Mixup acts on calibration at least as much
 * as on accuracy (Verma et al. 2019, Table 1; Thulasidasan et al. 2019), so these sit beside the
 * accuracy everywhere metrics appear.
 *
 * - NLL: mean −log p(true class) (single-label), mean binary −[t·log p + (1−t)·log(1−p)] over
 *   samples × labels (multi-label); probabilities clamped to [1e-7, 1 − 1e-7] as the losses are.
 * - ECE (Guo et al. 2017, §2): M = 15 equal-width bins Bₘ = ((m−1)/M, m/M] over the top-1
 *   probability (a confidence of exactly 0 joins the first bin); ECE = Σₘ |Bₘ|/n · |acc(Bₘ) − conf(Bₘ)|.
 *   Multi-label: each label is a binary problem binned over p(label) with |mean target − mean p|
 *   per bin (classwise ECE, Kull et al. 2019), averaged over the labels.
 * - Brier score (Brier 1950): single-label meanᵢ Σₖ (pᵢₖ − yᵢₖ)², in [0, 2] (for K = 2 it is twice
 *   scikit-learn's binary `brier_score_loss`); multi-label the mean over samples × labels of
 *   (p − t)², i.e. the mean over labels of `brier_score_loss`.
 * - Temperature scaling (Guo et al. 2017, §4.2): logits z/T with one T > 0 fitted on validation by
 *   minimising the NLL. The heads export probabilities, so logits are recovered on the host:
 *   z = log p for softmax (softmax is shift-invariant, so log p are the logits up to a per-row
 *   constant) and z = log(p/(1−p)) for sigmoid. The NLL is convex in β = 1/T (a log-sum-exp of
 *   functions linear in β), so a golden-section search over β finds the minimum.
 */
import { Rng } from '../base/random.js';
import { applyTemperature } from '../preprocess/temperature.js';

export { applyTemperature };

export const ECE_BINS = 15;
const EPS = 1e-7;
const clamp = (p: number) => Math.min(Math.max(p, EPS), 1 - EPS);

export interface ReliabilityBin {
  lo: number;
  hi: number;
  count: number;
  /** Mean confidence of the bin's samples (NaN when empty). */
  confidence: number;
  /** Fraction correct (single-label) or positive (a multi-label label) in the bin (NaN when empty). */
  accuracy: number;
}

/** The bin of a confidence: ((m−1)/M, m/M], with 0 in the first. */
export function binOf(confidence: number, bins = ECE_BINS): number {
  return Math.min(bins - 1, Math.max(0, Math.ceil(confidence * bins) - 1));
}

/** Reliability bins of (confidence, outcome) pairs; outcome 1 = correct (or positive). */
export function reliabilityBins(confidence: ArrayLike<number>, outcome: ArrayLike<number>, bins = ECE_BINS): ReliabilityBin[] {
  const count = new Float64Array(bins);
  const conf = new Float64Array(bins);
  const hit = new Float64Array(bins);
  for (let i = 0; i < confidence.length; i++) {
    const b = binOf(confidence[i], bins);
    count[b]++;
    conf[b] += confidence[i];
    hit[b] += outcome[i];
  }
  return Array.from({ length: bins }, (_, b) => ({ lo: b / bins, hi: (b + 1) / bins, count: count[b], confidence: count[b] ? conf[b] / count[b] : NaN, accuracy: count[b] ? hit[b] / count[b] : NaN }));
}

/** ECE = Σₘ |Bₘ|/n · |acc(Bₘ) − conf(Bₘ)| over reliability bins. */
export function eceOfBins(bins: readonly ReliabilityBin[]): number {
  const n = bins.reduce((a, b) => a + b.count, 0);
  if (!n) return NaN;
  return bins.reduce((a, b) => (b.count ? a + (b.count / n) * Math.abs(b.accuracy - b.confidence) : a), 0);
}

export interface SingleLabelCalibration {
  nll: number;
  ece: number;
  brier: number;
  /** The top-1 reliability diagram (ECE's bins). */
  reliability: ReliabilityBin[];
}

/** NLL, ECE and Brier of N×K softmax probabilities against class indices. */
export function singleLabelCalibration(probs: Float32Array | Float64Array, labels: Int32Array, k: number): SingleLabelCalibration {
  const n = labels.length;
  const top = new Float64Array(n);
  const correct = new Float64Array(n);
  let nll = 0;
  let brier = 0;
  for (let i = 0; i < n; i++) {
    const y = labels[i];
    let best = 0;
    for (let j = 0; j < k; j++) {
      const p = probs[i * k + j];
      if (p > probs[i * k + best]) best = j;
      brier += (p - (j === y ? 1 : 0)) ** 2;
    }
    nll -= Math.log(clamp(probs[i * k + y]));
    top[i] = probs[i * k + best];
    correct[i] = best === y ? 1 : 0;
  }
  const reliability = reliabilityBins(top, correct);
  return { nll: n ? nll / n : NaN, ece: eceOfBins(reliability), brier: n ? brier / n : NaN, reliability };
}

export interface MultiLabelCalibration {
  /** Mean binary NLL over samples × labels. */
  nll: number;
  /** Classwise ECE averaged over labels. */
  ece: number;
  /** Mean over samples × labels of (p − t)². */
  brier: number;
  /** Every label's (p, t) pairs pooled into one diagram: bins over p, the fraction positive. */
  reliability: ReliabilityBin[];
}

export function multiLabelCalibration(probs: Float32Array | Float64Array, targets: Float32Array, k: number): MultiLabelCalibration {
  const n = targets.length / k;
  let nll = 0;
  let brier = 0;
  for (let i = 0; i < n * k; i++) {
    const p = clamp(probs[i]);
    const t = targets[i];
    nll -= t * Math.log(p) + (1 - t) * Math.log(1 - p);
    brier += (probs[i] - t) ** 2;
  }
  let ece = 0;
  const p = new Float64Array(n);
  const t = new Float64Array(n);
  for (let c = 0; c < k; c++) {
    for (let i = 0; i < n; i++) {
      p[i] = probs[i * k + c];
      t[i] = targets[i * k + c] > 0.5 ? 1 : 0;
    }
    ece += eceOfBins(reliabilityBins(p, t));
  }
  const all = Float64Array.from(probs);
  const hits = Float64Array.from(targets, (v) => (v > 0.5 ? 1 : 0));
  return { nll: n ? nll / (n * k) : NaN, ece: n && k ? ece / k : NaN, brier: n ? brier / (n * k) : NaN, reliability: reliabilityBins(all, hits) };
}

/** The NLL of the probabilities after temperature 1/β, in float64 (what the fit minimises). */
export function temperedNll(probs: Float32Array, targets: { labels?: Int32Array; targets?: Float32Array }, k: number, beta: number): number {
  if (targets.targets) {
    const t = targets.targets;
    let s = 0;
    for (let i = 0; i < probs.length; i++) {
      const p = clamp(probs[i]);
      const z = beta * Math.log(p / (1 - p));
      // −[t·log σ(z) + (1−t)·log(1 − σ(z))] = softplus(z) − t·z, written to stay finite for large |z|.
      s += Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z))) - t[i] * z;
    }
    return probs.length ? s / probs.length : NaN;
  }
  const labels = targets.labels!;
  let s = 0;
  for (let r = 0; r < labels.length; r++) {
    let max = -Infinity;
    for (let j = 0; j < k; j++) max = Math.max(max, beta * Math.log(Math.max(probs[r * k + j], 1e-38)));
    let sum = 0;
    for (let j = 0; j < k; j++) sum += Math.exp(beta * Math.log(Math.max(probs[r * k + j], 1e-38)) - max);
    s += max + Math.log(sum) - beta * Math.log(Math.max(probs[r * k + labels[r]], 1e-38));
  }
  return labels.length ? s / labels.length : NaN;
}

/** The range searched for T: [0.05, 20] (β = 1/T in [0.05, 20]); a fit at an end says so. */
export const TEMPERATURE_RANGE: [number, number] = [0.05, 20];

/**
 * The temperature minimising the validation NLL: golden-section search over β = 1/T (convex, so
 * unimodal) to a relative width of 1e-6, from the range's ends.
 */
export function fitTemperature(probs: Float32Array, targets: { labels?: Int32Array; targets?: Float32Array }, k: number): number {
  const f = (beta: number) => temperedNll(probs, targets, k, beta);
  const g = (Math.sqrt(5) - 1) / 2;
  let a = 1 / TEMPERATURE_RANGE[1];
  let b = 1 / TEMPERATURE_RANGE[0];
  let c = b - g * (b - a);
  let d = a + g * (b - a);
  let fc = f(c);
  let fd = f(d);
  while (b - a > 1e-6 * (a + b)) {
    if (fc <= fd) {
      b = d;
      d = c;
      fd = fc;
      c = b - g * (b - a);
      fc = f(c);
    } else {
      a = c;
      c = d;
      fc = fd;
      d = a + g * (b - a);
      fd = f(d);
    }
  }
  return 2 / (a + b);
}

/**
 * Two halves of 0…n−1 for cross-fitting, from a seeded permutation (stratification is not needed:
 * both directions are scored and pooled, so every sample is scored once, by a fit that never saw it).
 */
export function crossFitHalves(n: number, seed: number): [Int32Array, Int32Array] {
  const perm = new Rng(seed).fork('cross-fit').permutation(n);
  const half = Math.floor(n / 2);
  return [Int32Array.from(perm.subarray(0, half)).sort(), Int32Array.from(perm.subarray(half)).sort()];
}

/** Rows `idx` of an N×k array. */
export function pickRows<T extends Float32Array | Int32Array>(a: T, idx: Int32Array, k: number): T {
  const out = new (a.constructor as { new (n: number): T })(idx.length * k);
  idx.forEach((r, i) => out.set(a.subarray(r * k, (r + 1) * k), i * k));
  return out;
}

export interface TemperatureReport {
  /** Fitted on the whole validation set: what meta.json stores and eval/predict apply. */
  temperature: number;
  /** The two cross-fitted temperatures (fitted on one half, each used on the other). */
  folds: [number, number];
  before: { nll: number; ece: number; brier: number; reliability: ReliabilityBin[] };
  /** Every validation sample scored by the temperature fitted on the other half (out-of-fold). */
  after: { nll: number; ece: number; brier: number; reliability: ReliabilityBin[] };
}

/**
 * Temperature scaling, reported honestly: T is fitted on all of validation (the one saved), and
 * the "after" figures come from cross-fitting, since a T scored on the data it was fitted on can
 * only look better (halves from `crossFitHalves(seed)`).
 */
export function temperatureReport(probs: Float32Array, targets: { labels?: Int32Array; targets?: Float32Array }, k: number, seed = 0): TemperatureReport {
  const multi = targets.targets != null;
  const n = multi ? targets.targets!.length / k : targets.labels!.length;
  const calib = (p: Float32Array) => (multi ? multiLabelCalibration(p, targets.targets!, k) : singleLabelCalibration(p, targets.labels!, k));
  const temperature = n ? fitTemperature(probs, targets, k) : 1;
  const [a, b] = crossFitHalves(n, seed);
  const sub = (idx: Int32Array) => ({ probs: pickRows(probs, idx, k), t: multi ? { targets: pickRows(targets.targets!, idx, k) } : { labels: pickRows(targets.labels!, idx, 1) } });
  const A = sub(a);
  const B = sub(b);
  const tA = a.length ? fitTemperature(A.probs, A.t, k) : 1;
  const tB = b.length ? fitTemperature(B.probs, B.t, k) : 1;
  const oof = new Float32Array(probs.length);
  const put = (idx: Int32Array, p: Float32Array) => idx.forEach((r, i) => oof.set(p.subarray(i * k, (i + 1) * k), r * k));
  put(b, applyTemperature(B.probs, k, tA, multi));
  put(a, applyTemperature(A.probs, k, tB, multi));
  const pick = (c: SingleLabelCalibration | MultiLabelCalibration) => ({ nll: c.nll, ece: c.ece, brier: c.brier, reliability: c.reliability });
  return { temperature, folds: [tA, tB], before: pick(calib(probs)), after: pick(calib(oof)) };
}
