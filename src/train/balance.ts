/**
 * Training on skewed data, and on cached views: the per-epoch draws and weights the loop uses.
 *
 * - `sampler`: each slot of an epoch (as many as samples) first draws a class c with probability
 *   q_c ∝ n_c^p over the classes present (p = 0, the default: uniform over classes; p = 1: the data's
 *   own frequencies), then a sample of that class uniformly, with replacement. Classes are those of
 *   the first label (multi-label data: the first label named for each sample).
 * - `weights` (single-label): the loss of a sample of class c is scaled by w_c = N / (K·n_c), K the
 *   classes present (scikit-learn's `class_weight='balanced'`): Σᵢ w_{yᵢ} = N, so the mean weight
 *   over the data is 1 and the learning rate keeps its meaning. With mixup's stacked loss each
 *   target keeps its own class's weight: λᵢ·w_{yᵢ}·CE(zᵢ, yᵢ) + (1 − λᵢ)·w_{y_π(i)}·CE(zᵢ, y_π(i)).
 * - `weights` (multi-label): per-label positive weights pw_c = (N − P_c)/P_c on the positive term
 *   of the binary cross-entropy (P_c positives of label c; PyTorch's BCEWithLogitsLoss `pos_weight`),
 *   1 for a label with no positives or no negatives.
 * - Views: each epoch draws one view per sample uniformly from the cached ones.
 * Every draw comes from a stream the loop forks per epoch, so a resumed run repeats it exactly.
 */
import type { Rng } from '../base/random.js';

export const BALANCE_MODES = ['none', 'sampler', 'weights'] as const;
export type BalanceMode = (typeof BALANCE_MODES)[number];

/** Samples per class (first label; unlabeled samples, −1, are not counted). */
export function classCounts(labelIndex: Int32Array, k: number): Float64Array {
  const counts = new Float64Array(k);
  for (const c of labelIndex) if (c >= 0) counts[c]++;
  return counts;
}

/** q_c ∝ n_c^p over the classes with n_c > 0 (0 elsewhere); sums to 1. */
export function samplerProbabilities(counts: Float64Array, power: number): Float64Array {
  if (!(power >= 0 && Number.isFinite(power))) throw new RangeError(`balance power must be a number ≥ 0, got ${power}`);
  const q = counts.map((n) => (n > 0 ? n ** power : 0));
  const sum = q.reduce((a, b) => a + b, 0);
  if (!(sum > 0)) throw new Error('the balanced sampler needs at least one labelled sample');
  return q.map((x) => x / sum);
}

/**
 * An epoch's sample order for the balanced sampler: `n` slots (default: every sample once in
 * number), each a class drawn from q (samplerProbabilities), then a uniform sample of that class.
 */
export function balancedOrder(labelIndex: Int32Array, k: number, power: number, rng: Rng, n = labelIndex.length): Int32Array {
  const q = samplerProbabilities(classCounts(labelIndex, k), power);
  const members: number[][] = Array.from({ length: k }, () => []);
  labelIndex.forEach((c, i) => c >= 0 && members[c]!.push(i));
  const cdf = new Float64Array(k);
  let acc = 0;
  for (let c = 0; c < k; c++) cdf[c] = acc += q[c]!;
  const order = new Int32Array(n);
  for (let s = 0; s < n; s++) {
    // u < acc = cdf[k−1], so some class has u < cdf[c]; the first such has q_c > 0 (cdf is flat over empty classes).
    const u = rng.uniform() * acc;
    let c = 0;
    while (u >= cdf[c]!) c++;
    const m = members[c]!;
    order[s] = m[rng.int(m.length)]!;
  }
  return order;
}

/** w_c = N / (K·n_c) over the K classes present (0 for absent classes): Σᵢ w_{yᵢ} = N. */
export function classWeights(counts: Float64Array): Float32Array {
  const total = counts.reduce((a, b) => a + b, 0);
  const present = counts.filter((n) => n > 0).length;
  return Float32Array.from(counts, (n) => (n > 0 ? total / (present * n) : 0));
}

/** pw_c = (N − P_c) / P_c from the multi-hot targets (size × k); 1 where a label has no positives or no negatives. */
export function positiveWeights(targets: Float32Array, k: number): Float32Array {
  const size = targets.length / k;
  const pos = new Float64Array(k);
  for (let i = 0; i < size; i++) for (let c = 0; c < k; c++) if (targets[i * k + c]! > 0.5) pos[c]++;
  return Float32Array.from(pos, (p) => (p > 0 && p < size ? (size - p) / p : 1));
}

/** One view per sample, uniform over 0..views−1. */
export function drawViews(rng: Rng, size: number, views: number): Int32Array {
  const out = new Int32Array(size);
  for (let i = 0; i < size; i++) out[i] = rng.int(views);
  return out;
}
