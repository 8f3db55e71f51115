/**
 * Training losses on logits, as TF.js graphs (gradients flow through them). Evaluation metrics are
 * computed on the host in metrics.ts instead.
 *
 * - softmax cross-entropy with soft targets: −meanᵢ Σₖ yᵢₖ·log softmax(zᵢ)ₖ (blended or smoothed targets);
 * - sigmoid binary cross-entropy, stable form: max(z, 0) − z·t + log(1 + e^(−|z|)), mean over all cells;
 * - stacked mixup loss (Zhang et al., 2018, §2): meanᵢ[λᵢ·CE(zᵢ, yᵢ) + (1 − λᵢ)·CE(zᵢ, y_π(i))], the
 *   two targets kept apart (fastai's "stack" for integer targets).
 * - class weights w (`balance: 'weights'`, balance.ts): every cross-entropy above becomes
 *   −Σₖ wₖ·yᵢₖ·log softmax(zᵢ)ₖ, i.e. the target columns are scaled by w, so each (blended, smoothed
 *   or stacked) target carries its own class's weight; still a mean over the batch.
 * - positive weights pw (multi-label `weights`), PyTorch's BCEWithLogitsLoss pos_weight:
 *   (1 − t)·z + (1 + (pw − 1)·t)·(log(1 + e^(−|z|)) + max(−z, 0)), which is the form above when pw = 1.
 */
import * as tf from '@tensorflow/tfjs';
import { smoothTargets, type MixPlan, type Mixer } from '../mixup/index.js';

export function softCrossEntropy(logits: tf.Tensor, targets: tf.Tensor): tf.Scalar {
  return tf.neg(tf.mean(tf.sum(tf.mul(targets, tf.logSoftmax(logits)), -1))) as tf.Scalar;
}

export function sigmoidCrossEntropy(logits: tf.Tensor, targets: tf.Tensor, posWeights?: Float32Array): tf.Scalar {
  if (posWeights) {
    const pw = tf.tensor1d(posWeights);
    const scale = tf.add(1, tf.mul(tf.sub(pw, 1), targets));
    const softplusNeg = tf.add(tf.log1p(tf.exp(tf.neg(tf.abs(logits)))), tf.relu(tf.neg(logits)));
    return tf.mean(tf.add(tf.mul(tf.sub(1, targets), logits), tf.mul(scale, softplusNeg))) as tf.Scalar;
  }
  return tf.mean(tf.add(tf.sub(tf.relu(logits), tf.mul(logits, targets)), tf.log1p(tf.exp(tf.neg(tf.abs(logits)))))) as tf.Scalar;
}

/** Copies rows `idx` of a size×k matrix. */
export function gatherRows(m: Float32Array, k: number, idx: ArrayLike<number>): Float32Array {
  const out = new Float32Array(idx.length * k);
  for (let j = 0; j < idx.length; j++) out.set(m.subarray(idx[j] * k, (idx[j] + 1) * k), j * k);
  return out;
}

export function stackedCrossEntropy(logits: tf.Tensor, own: Float32Array, partner: Float32Array, lam: Float32Array, k: number): tf.Scalar {
  const n = lam.length;
  const logp = tf.logSoftmax(logits);
  const ce1 = tf.neg(tf.sum(tf.mul(tf.tensor2d(own, [n, k]), logp), -1));
  const ce2 = tf.neg(tf.sum(tf.mul(tf.tensor2d(partner, [n, k]), logp), -1));
  const l = tf.tensor1d(lam);
  return tf.mean(tf.add(tf.mul(l, ce1), tf.mul(tf.sub(1, l), ce2))) as tf.Scalar;
}

export interface BatchLossArgs {
  /** The batch's unmixed multi-hot (or one-hot) targets, B×K. */
  targets: Float32Array;
  k: number;
  multiLabel: boolean;
  /** `stack` mixes the loss, `blend` the targets (multi-label data always blends). */
  labelMode: 'stack' | 'blend';
  labelSmoothing: number;
  plan: MixPlan;
  mixer: Mixer;
  /** Single-label: per-class loss weights (K), balance.ts `classWeights`. */
  classWeights?: Float32Array;
  /** Multi-label: per-label positive weights (K), balance.ts `positiveWeights`. */
  posWeights?: Float32Array;
}

/** Target rows (n × k) with column c scaled by w[c]; the rows themselves when there are no weights. */
export function weighted(t: Float32Array, k: number, w: Float32Array | undefined): Float32Array {
  if (!w) return t;
  const out = new Float32Array(t.length);
  for (let i = 0; i < t.length; i++) out[i] = t[i]! * w[i % k]!;
  return out;
}

/** The loss of one (mixed) batch from its logits: the rule of the file header for each case. */
export function batchLoss(logits: tf.Tensor, a: BatchLossArgs): tf.Scalar {
  const n = a.plan.lam.length;
  // applyToTargets smooths (ε) then blends; a plan of mode 'none' only smooths.
  if (a.multiLabel) return sigmoidCrossEntropy(logits, tf.tensor2d(a.mixer.applyToTargets(a.plan, a.targets), [n, a.k]), a.posWeights);
  if (a.labelMode === 'blend' || a.plan.mode === 'none') return softCrossEntropy(logits, tf.tensor2d(weighted(a.mixer.applyToTargets(a.plan, a.targets), a.k, a.classWeights), [n, a.k]));
  const own = smoothTargets(a.targets, a.k, a.labelSmoothing);
  return stackedCrossEntropy(logits, weighted(own, a.k, a.classWeights), weighted(gatherRows(own, a.k, a.plan.partner), a.k, a.classWeights), a.plan.lam, a.k);
}
