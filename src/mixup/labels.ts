/**
 * Targets under mixup (Zhang et al., 2018; Verma et al., 2019) and CutMix (Yun et al., 2019), in the
 * two forms fastai names:
 *
 * - stack (single-label, integer targets): loss = meanᵢ[λᵢ·CE(zᵢ, yᵢ) + (1 − λᵢ)·CE(zᵢ, y_π(i))].
 * - blend (soft or multi-label targets):   ỹᵢ = λᵢ·yᵢ + (1 − λᵢ)·y_π(i), then soft CE or sigmoid BCE.
 *
 * Cross-entropy is linear in the target, CE(z, t) = −Σₖ tₖ·log softmax(z)ₖ, so the two agree for
 * softmax CE (`stackedCrossEntropy` == `softmaxCrossEntropy` on blended one-hots; a test shows it).
 * Label smoothing y = (1 − ε)·y + ε/K is applied before blending.
 *
 * The losses here are float64 references for tests and for the trainer's reporting (e.g. the clean,
 * unmixed training loss beside the mixed one), not the differentiable training losses.
 */
import { mixRows, type FloatArray } from './mix.js';

/** B×K one-hot rows. Labels must lie in [0, K). */
export function oneHot(labels: Int32Array, numClasses: number): Float32Array {
  checkClasses(numClasses);
  const out = new Float32Array(labels.length * numClasses);
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i];
    if (!(y >= 0 && y < numClasses)) throw new Error(`label ${y} at ${i} is outside [0, ${numClasses})`);
    out[i * numClasses + y] = 1;
  }
  return out;
}

/**
 * Label smoothing (Szegedy et al., 2016): y ← (1 − ε)·y + ε/K on every row; a new array.
 * ε = 0 returns an exact copy.
 */
export function smoothTargets(targets: Float32Array, numClasses: number, eps: number): Float32Array;
export function smoothTargets<T extends FloatArray>(targets: T, numClasses: number, eps: number): T;
export function smoothTargets(targets: FloatArray, numClasses: number, eps: number): FloatArray {
  checkClasses(numClasses);
  if (!(eps >= 0 && eps <= 1)) throw new Error(`label smoothing must be in [0, 1], got ${eps}`);
  if (targets.length % numClasses !== 0) {
    throw new Error(`targets have ${targets.length} values, not a multiple of K = ${numClasses}`);
  }
  const out = targets.slice();
  if (eps === 0) return out;
  const keep = 1 - eps;
  const add = eps / numClasses;
  for (let j = 0; j < out.length; j++) out[j] = keep * targets[j] + add;
  return out;
}

/** ỹᵢ = λᵢ·yᵢ + (1 − λᵢ)·y_π(i) on B×K targets (K = targets.length / B): `mixRows` on label rows. */
export function blendTargets(targets: FloatArray, lam: ArrayLike<number>, partner: Int32Array): Float32Array;
export function blendTargets<T extends FloatArray>(
  targets: FloatArray,
  lam: ArrayLike<number>,
  partner: Int32Array,
  out: T,
): T;
export function blendTargets(
  targets: FloatArray,
  lam: ArrayLike<number>,
  partner: Int32Array,
  out?: FloatArray,
): FloatArray {
  const b = lam.length;
  if (b === 0) return out ?? new Float32Array(0);
  if (targets.length % b !== 0) throw new Error(`targets have ${targets.length} values, not a multiple of B = ${b}`);
  const k = targets.length / b;
  return out ? mixRows(targets, k, lam, partner, out) : mixRows(targets, k, lam, partner);
}

/** The partner's label of each sample, y_π(i): the second target of the stacked loss. */
export function partnerLabels(labels: Int32Array, partner: Int32Array): Int32Array {
  if (partner.length !== labels.length) throw new Error(`labels has ${labels.length} entries, partner ${partner.length}`);
  const out = new Int32Array(labels.length);
  for (let i = 0; i < labels.length; i++) out[i] = labels[partner[i]];
  return out;
}

/** log softmax of row i, in float64 via log-sum-exp (shifted by the row max, so no overflow). */
function logSoftmaxRow(logits: ArrayLike<number>, i: number, k: number, out: Float64Array): void {
  let max = -Infinity;
  for (let c = 0; c < k; c++) max = Math.max(max, logits[i * k + c]);
  let sum = 0;
  for (let c = 0; c < k; c++) sum += Math.exp(logits[i * k + c] - max);
  const lse = max + Math.log(sum);
  for (let c = 0; c < k; c++) out[c] = logits[i * k + c] - lse;
}

/** Soft-target cross-entropy, meanᵢ[−Σₖ tᵢₖ·log softmax(zᵢ)ₖ], in float64. */
export function softmaxCrossEntropy(logits: ArrayLike<number>, targets: ArrayLike<number>, numClasses: number): number {
  checkClasses(numClasses);
  if (logits.length !== targets.length || logits.length % numClasses !== 0) {
    throw new Error(`logits (${logits.length}) and targets (${targets.length}) must both be B×${numClasses}`);
  }
  const b = logits.length / numClasses;
  if (b === 0) return 0;
  const ls = new Float64Array(numClasses);
  let total = 0;
  for (let i = 0; i < b; i++) {
    logSoftmaxRow(logits, i, numClasses, ls);
    for (let c = 0; c < numClasses; c++) {
      const t = targets[i * numClasses + c];
      if (t !== 0) total -= t * ls[c];
    }
  }
  return total / b;
}

/**
 * The stacked mixup loss, meanᵢ[λᵢ·CE(zᵢ, yᵢ) + (1 − λᵢ)·CE(zᵢ, y_π(i))], in float64, with optional
 * label smoothing ε: CE_ε(z, y) = (1 − ε)·(−log pᵧ) + ε·meanₖ(−log pₖ), which is CE against the
 * smoothed one-hot, so this still equals `softmaxCrossEntropy` on smoothed-then-blended targets.
 */
export function stackedCrossEntropy(
  logits: ArrayLike<number>,
  labels: Int32Array,
  partnerLabel: Int32Array,
  lam: ArrayLike<number>,
  numClasses: number,
  eps = 0,
): number {
  checkClasses(numClasses);
  const b = labels.length;
  if (partnerLabel.length !== b || lam.length !== b || logits.length !== b * numClasses) {
    throw new Error(`stackedCrossEntropy: need logits B×K, labels, partner labels and λ for the same B (${b})`);
  }
  if (!(eps >= 0 && eps <= 1)) throw new Error(`label smoothing must be in [0, 1], got ${eps}`);
  if (b === 0) return 0;
  const ls = new Float64Array(numClasses);
  let total = 0;
  for (let i = 0; i < b; i++) {
    logSoftmaxRow(logits, i, numClasses, ls);
    let meanNll = 0;
    for (let c = 0; c < numClasses; c++) meanNll -= ls[c];
    meanNll /= numClasses;
    const ce = (y: number): number => {
      if (!(y >= 0 && y < numClasses)) throw new Error(`label ${y} is outside [0, ${numClasses})`);
      return (1 - eps) * -ls[y] + eps * meanNll;
    };
    total += lam[i] * ce(labels[i]) + (1 - lam[i]) * ce(partnerLabel[i]);
  }
  return total / b;
}

/**
 * Sigmoid binary cross-entropy averaged over all B×K entries (Keras' mean over classes, then over the
 * batch, is the same number): max(z, 0) − z·t + log(1 + e^(−|z|)), the overflow-free form of
 * −t·log σ(z) − (1 − t)·log(1 − σ(z)).
 */
export function sigmoidBce(logits: ArrayLike<number>, targets: ArrayLike<number>): number {
  if (logits.length !== targets.length) {
    throw new Error(`logits (${logits.length}) and targets (${targets.length}) differ in size`);
  }
  if (logits.length === 0) return 0;
  let total = 0;
  for (let j = 0; j < logits.length; j++) {
    const z = logits[j];
    total += Math.max(z, 0) - z * targets[j] + Math.log1p(Math.exp(-Math.abs(z)));
  }
  return total / logits.length;
}

function checkClasses(k: number): void {
  if (!Number.isInteger(k) || k < 1) throw new Error(`number of classes must be an integer ≥ 1, got ${k}`);
}
