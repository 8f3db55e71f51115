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
 *   the default λ = 1/N is its C = 1. Solved on the host in float64 by L-BFGS, as scikit-learn's
 *   default solver. Deterministic: no seed involved.
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

/**
 * The objective at θ = [W (d×K, row-major), b (K)] and its gradient into `grad`:
 * f = mean CE + (λ/2)·‖W‖², ∂f/∂W = Xᵀ(P − Y)/N + λW, ∂f/∂b = Σᵢ(P − Y)ᵢ/N.
 */
function objective(theta: Float64Array, x: Float64Array, targets: Float32Array, d: number, k: number, l2: number, multiLabel: boolean, z: Float64Array, grad: Float64Array): number {
  const n = x.length / d;
  const model: LogisticModel = { weights: theta.subarray(0, d * k), bias: theta.subarray(d * k), multiLabel, iterations: 0 };
  logits(x, d, model, k, z);
  let f = 0;
  if (multiLabel) {
    for (let i = 0; i < z.length; i++) {
      const t = targets[i];
      // softplus(z) − t·z, written to stay finite for large |z|.
      f += Math.max(z[i], 0) + Math.log1p(Math.exp(-Math.abs(z[i]))) - t * z[i];
    }
  } else {
    for (let r = 0; r < n; r++) {
      let max = -Infinity;
      for (let c = 0; c < k; c++) max = Math.max(max, z[r * k + c]);
      let s = 0;
      for (let c = 0; c < k; c++) s += Math.exp(z[r * k + c] - max);
      const lse = max + Math.log(s);
      for (let c = 0; c < k; c++) f -= targets[r * k + c] * (z[r * k + c] - lse);
    }
  }
  activate(z, k, multiLabel);
  grad.fill(0);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < k; c++) z[i * k + c] = (z[i * k + c] - targets[i * k + c]) / n;
    for (let j = 0; j < d; j++) {
      const xv = x[i * d + j];
      if (xv === 0) continue;
      for (let c = 0; c < k; c++) grad[j * k + c] += xv * z[i * k + c];
    }
    for (let c = 0; c < k; c++) grad[d * k + c] += z[i * k + c];
  }
  let penalty = 0;
  for (let i = 0; i < d * k; i++) {
    penalty += theta[i] * theta[i];
    grad[i] += l2 * theta[i];
  }
  return f / Math.max(n, 1) + (l2 / 2) * penalty;
}

const dot = (a: Float64Array, b: Float64Array) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};

/**
 * Fits the L2-regularised logistic regression (see the module comment) on N×d rows and N×K
 * targets by L-BFGS (Nocedal & Wright 2006, Algorithm 7.4: the two-loop recursion over the last 10
 * steps) with a backtracking Armijo line search; it stops when the largest gradient entry is below
 * `tolerance` or after `iterations` steps. The objective is strictly convex, so the optimum is unique
 * and scikit-learn's lbfgs reaches the same one (the test compares them).
 */
export function fitLogistic(x: Float64Array, targets: Float32Array, d: number, k: number, opts: { l2: number; multiLabel: boolean; iterations?: number; tolerance?: number }): LogisticModel {
  const n = x.length / d;
  const maxIter = opts.iterations ?? 300;
  const tol = opts.tolerance ?? 1e-7;
  const size = d * k + k;
  const memory = 10;
  let theta = new Float64Array(size);
  let grad = new Float64Array(size);
  const z = new Float64Array(n * k);
  let f = objective(theta, x, targets, d, k, opts.l2, opts.multiLabel, z, grad);
  const S: Float64Array[] = [];
  const Y: Float64Array[] = [];
  let it = 0;
  for (; it < maxIter; it++) {
    let gmax = 0;
    for (let i = 0; i < size; i++) gmax = Math.max(gmax, Math.abs(grad[i]));
    if (gmax < tol) break;
    // Two-loop recursion: direction = −H·g with H from the stored (s, y) pairs.
    const q = Float64Array.from(grad);
    const alpha: number[] = [];
    for (let m = S.length - 1; m >= 0; m--) {
      const a = dot(S[m], q) / dot(Y[m], S[m]);
      alpha[m] = a;
      for (let i = 0; i < size; i++) q[i] -= a * Y[m][i];
    }
    const gamma = S.length ? dot(S.at(-1)!, Y.at(-1)!) / dot(Y.at(-1)!, Y.at(-1)!) : 1 / Math.max(1, Math.sqrt(dot(grad, grad)));
    for (let i = 0; i < size; i++) q[i] *= gamma;
    for (let m = 0; m < S.length; m++) {
      const b = dot(Y[m], q) / dot(Y[m], S[m]);
      for (let i = 0; i < size; i++) q[i] += S[m][i] * (alpha[m] - b);
    }
    const slope = -dot(grad, q);
    if (!(slope < 0)) {
      // Not a descent direction (numerical trouble): forget the history, step along −g.
      S.length = 0;
      Y.length = 0;
      continue;
    }
    let step = 1;
    const next = new Float64Array(size);
    const nextGrad = new Float64Array(size);
    let fNext = Infinity;
    for (let tries = 0; tries < 40; tries++) {
      for (let i = 0; i < size; i++) next[i] = theta[i] - step * q[i];
      fNext = objective(next, x, targets, d, k, opts.l2, opts.multiLabel, z, nextGrad);
      if (fNext <= f + 1e-4 * step * slope) break;
      step /= 2;
    }
    if (!(fNext < f)) break; // no progress possible at this precision
    const s = new Float64Array(size);
    const y = new Float64Array(size);
    for (let i = 0; i < size; i++) {
      s[i] = next[i] - theta[i];
      y[i] = nextGrad[i] - grad[i];
    }
    if (dot(s, y) > 1e-12) {
      S.push(s);
      Y.push(y);
      if (S.length > memory) {
        S.shift();
        Y.shift();
      }
    }
    theta = next;
    grad = nextGrad;
    f = fNext;
  }
  return { weights: theta.slice(0, d * k), bias: theta.slice(d * k), multiLabel: opts.multiLabel, iterations: it };
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
