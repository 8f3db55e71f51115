/**
 * Two floors beside the heads, on the pooled features (docs/architecture.md, "Judging"): what a
 * user gets without training a head at all, so a comparison shows what the heads (and mixup) add.
 *
 * - kNN: cosine similarity of L2-normalised pooled vectors; the k nearest training samples vote,
 *   and the probabilities are the vote fractions (so its NLL and ECE say little: judge it by
 *   accuracy or mAP).
 * - Logistic regression: multinomial softmax (single-label) or one sigmoid per label
 *   (multi-label) on standardised pooled vectors, minimising mean CE + (λ/2)·‖W‖² (bias not
 *   penalised) — scikit-learn's `LogisticRegression(C)` objective divided by C·N, so λ = 1/(C·N);
 *   the default λ = 1/N is its C = 1. Solved on the host in float64 by Nesterov's accelerated
 *   gradient with step 1/L, L = ½·λmax(X̃ᵀX̃)/N + λ (the softmax CE Hessian is at most ½·X̃ᵀX̃/N;
 *   X̃ is X with a column of ones), λmax by power iteration. Deterministic: no seed involved.
 */
import type { FeatureSet } from './features.js';

/** Pooled C-vectors of a set as one N×C float64 array. */
export function pooledMatrix(set: FeatureSet): Float64Array {
  const c = set.featureShape[2];
  const out = new Float32Array(set.size * c);
  const batch = 256;
  for (let s = 0; s < set.size; s += batch) {
    const n = Math.min(batch, set.size - s);
    set.readPooled(Int32Array.from({ length: n }, (_, j) => s + j), out.subarray(s * c, (s + n) * c));
  }
  return Float64Array.from(out);
}

/**
 * kNN probabilities of `query` rows given `train` rows (both N×d): per query, the fraction of its
 * k most cosine-similar training rows holding each class (multi-label: each label).
 */
export function knnProbs(train: Float64Array, trainTargets: Float32Array, query: Float64Array, d: number, k: number, numClasses: number): Float32Array {
  const nt = train.length / d;
  const nq = query.length / d;
  const unit = (m: Float64Array) => {
    const out = new Float64Array(m.length);
    for (let r = 0; r < m.length / d; r++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += m[r * d + j] ** 2;
      const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
      for (let j = 0; j < d; j++) out[r * d + j] = m[r * d + j] * inv;
    }
    return out;
  };
  const t = unit(train);
  const q = unit(query);
  const kk = Math.min(k, nt);
  const probs = new Float32Array(nq * numClasses);
  const sims = new Float64Array(nt);
  const order = new Int32Array(nt);
  for (let i = 0; i < nq; i++) {
    for (let r = 0; r < nt; r++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += q[i * d + j] * t[r * d + j];
      sims[r] = s;
      order[r] = r;
    }
    // Most similar first; equal similarity: the lower training index (deterministic).
    const nearest = Array.from(order).sort((a, b) => sims[b] - sims[a] || a - b).slice(0, kk);
    for (const r of nearest) for (let c = 0; c < numClasses; c++) probs[i * numClasses + c] += trainTargets[r * numClasses + c] / kk;
  }
  return probs;
}

export interface LogisticModel {
  /** d×K weights, row-major. */
  weights: Float64Array;
  bias: Float64Array;
  multiLabel: boolean;
  iterations: number;
}

function logits(x: Float64Array, d: number, m: LogisticModel, k: number, out: Float64Array): void {
  const n = x.length / d;
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < k; c++) out[i * k + c] = m.bias[c];
    for (let j = 0; j < d; j++) {
      const v = x[i * d + j];
      if (v === 0) continue;
      const w = j * k;
      for (let c = 0; c < k; c++) out[i * k + c] += v * m.weights[w + c];
    }
  }
}

/** Probabilities from logits in place: softmax per row, or a sigmoid per entry. */
function activate(z: Float64Array, k: number, multiLabel: boolean): void {
  if (multiLabel) {
    for (let i = 0; i < z.length; i++) z[i] = 1 / (1 + Math.exp(-z[i]));
    return;
  }
  for (let r = 0; r < z.length / k; r++) {
    let max = -Infinity;
    for (let c = 0; c < k; c++) max = Math.max(max, z[r * k + c]);
    let s = 0;
    for (let c = 0; c < k; c++) s += (z[r * k + c] = Math.exp(z[r * k + c] - max));
    for (let c = 0; c < k; c++) z[r * k + c] /= s;
  }
}

/** Fits the L2-regularised logistic regression (see the module comment) on N×d rows and N×K targets. */
export function fitLogistic(x: Float64Array, targets: Float32Array, d: number, k: number, opts: { l2: number; multiLabel: boolean; iterations?: number }): LogisticModel {
  const n = x.length / d;
  const iterations = opts.iterations ?? 500;
  // λmax(X̃ᵀX̃) by power iteration on X̃ᵀX̃ (X̃ = [X, 1]).
  let v = new Float64Array(d + 1).fill(1 / Math.sqrt(d + 1));
  let lambdaMax = 0;
  for (let it = 0; it < 50; it++) {
    const xv = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let s = v[d];
      for (let j = 0; j < d; j++) s += x[i * d + j] * v[j];
      xv[i] = s;
    }
    const w = new Float64Array(d + 1);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < d; j++) w[j] += x[i * d + j] * xv[i];
      w[d] += xv[i];
    }
    const norm = Math.sqrt(w.reduce((a, b) => a + b * b, 0));
    lambdaMax = norm;
    if (norm === 0) break;
    v = w.map((e) => e / norm);
  }
  const lipschitz = ((opts.multiLabel ? 0.25 : 0.5) * lambdaMax) / Math.max(n, 1) + opts.l2;
  const step = 1 / lipschitz;
  const model: LogisticModel = { weights: new Float64Array(d * k), bias: new Float64Array(k), multiLabel: opts.multiLabel, iterations };
  // Nesterov (FISTA-style momentum without a prox): y = w + ((t−1)/t')·(w − w_prev).
  let prevW = new Float64Array(d * k);
  let prevB = new Float64Array(k);
  let t = 1;
  const look: LogisticModel = { weights: new Float64Array(d * k), bias: new Float64Array(k), multiLabel: opts.multiLabel, iterations };
  const z = new Float64Array(n * k);
  const gW = new Float64Array(d * k);
  const gB = new Float64Array(k);
  for (let it = 0; it < iterations; it++) {
    const tNext = (1 + Math.sqrt(1 + 4 * t * t)) / 2;
    const mom = (t - 1) / tNext;
    for (let i = 0; i < d * k; i++) look.weights[i] = model.weights[i] + mom * (model.weights[i] - prevW[i]);
    for (let c = 0; c < k; c++) look.bias[c] = model.bias[c] + mom * (model.bias[c] - prevB[c]);
    logits(x, d, look, k, z);
    activate(z, k, opts.multiLabel);
    // Gradient of mean CE: Xᵀ(P − Y)/N; of the penalty: λ·W.
    gW.fill(0);
    gB.fill(0);
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < k; c++) z[i * k + c] = (z[i * k + c] - targets[i * k + c]) / n;
      for (let j = 0; j < d; j++) {
        const xv = x[i * d + j];
        if (xv === 0) continue;
        for (let c = 0; c < k; c++) gW[j * k + c] += xv * z[i * k + c];
      }
      for (let c = 0; c < k; c++) gB[c] += z[i * k + c];
    }
    prevW = Float64Array.from(model.weights);
    prevB = Float64Array.from(model.bias);
    for (let i = 0; i < d * k; i++) model.weights[i] = look.weights[i] - step * (gW[i] + opts.l2 * look.weights[i]);
    for (let c = 0; c < k; c++) model.bias[c] = look.bias[c] - step * gB[c];
    t = tNext;
  }
  return model;
}

export function logisticProbs(model: LogisticModel, x: Float64Array, d: number, k: number): Float32Array {
  const z = new Float64Array((x.length / d) * k);
  logits(x, d, model, k, z);
  activate(z, k, model.multiLabel);
  return Float32Array.from(z);
}

/** Standardises columns of `train` and `others` by train's mean and sd (a constant column: sd 1). */
export function standardise(train: Float64Array, d: number, ...others: Float64Array[]): Float64Array[] {
  const n = train.length / d;
  const mu = new Float64Array(d);
  const sdv = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mu[j] += train[i * d + j] / n;
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) sdv[j] += (train[i * d + j] - mu[j]) ** 2 / n;
  for (let j = 0; j < d; j++) sdv[j] = sdv[j] > 1e-12 ? Math.sqrt(sdv[j]) : 1;
  return [train, ...others].map((m) => m.map((v, i) => (v - mu[i % d]) / sdv[i % d]));
}

export const KNN_K = 10;

/** Both floors' validation probabilities for a train/valid pair of feature sets. */
export function floorProbs(train: FeatureSet, valid: FeatureSet): { knn: Float32Array; logistic: Float32Array } {
  const d = train.featureShape[2];
  const k = train.classes.length;
  const xt = pooledMatrix(train);
  const xv = pooledMatrix(valid);
  const knn = knnProbs(xt, train.targets, xv, d, KNN_K, k);
  const [st, sv] = standardise(xt, d, xv);
  const model = fitLogistic(st, train.targets, d, k, { l2: 1 / Math.max(train.size, 1), multiLabel: train.multiLabel });
  return { knn, logistic: logisticProbs(model, sv, d, k) };
}
