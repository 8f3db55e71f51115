import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/base/random.js';
import { balancedOrder, classCounts, classWeights, drawViews, positiveWeights, samplerProbabilities } from '../../src/train/balance.js';
import { batchLoss } from '../../src/train/losses.js';
import { Mixer } from '../../src/mixup/index.js';

const labelsOf = (counts: number[]) => Int32Array.from(counts.flatMap((n, c) => Array.from({ length: n }, () => c)));

describe('class weights (balance: weights)', () => {
  it('w_c = N / (K·n_c) over the classes present, so the weights average 1 over the data', () => {
    const y = labelsOf([50, 5, 20, 0]);
    const counts = classCounts(y, 4);
    expect(Array.from(counts)).toEqual([50, 5, 20, 0]);
    const w = classWeights(counts);
    // scikit-learn's compute_class_weight('balanced') = n_samples / (n_classes · bincount), by hand.
    expect(w[0]).toBeCloseTo(75 / (3 * 50), 6);
    expect(w[1]).toBeCloseTo(75 / (3 * 5), 6);
    expect(w[2]).toBeCloseTo(75 / (3 * 20), 6);
    expect(w[3]).toBe(0);
    const mean = Array.from(y).reduce((a, c) => a + w[c]!, 0) / y.length;
    expect(mean).toBeCloseTo(1, 6);
  });

  it('multi-label positive weights are negatives over positives per label, 1 when undefined', () => {
    // 4 samples × 3 labels: label 0 in 1 of 4, label 1 in all, label 2 in 2 of 4.
    const t = Float32Array.from([1, 1, 0, 0, 1, 1, 0, 1, 0, 0, 1, 1]);
    expect(Array.from(positiveWeights(t, 3))).toEqual([3, 1, 1]);
  });
});

describe('balanced sampler', () => {
  it('q_c ∝ n_c^p: uniform at p = 0, the frequencies at p = 1', () => {
    const counts = Float64Array.from([80, 16, 4, 0]);
    expect(Array.from(samplerProbabilities(counts, 0))).toEqual([1 / 3, 1 / 3, 1 / 3, 0]);
    const q1 = samplerProbabilities(counts, 1);
    expect(Array.from(q1).map((x) => +x.toFixed(6))).toEqual([0.8, 0.16, 0.04, 0]);
    const q5 = samplerProbabilities(counts, 0.5);
    const z = Math.sqrt(80) + 4 + 2;
    expect(q5[0]).toBeCloseTo(Math.sqrt(80) / z, 12);
    expect(() => samplerProbabilities(counts, -1)).toThrow(/≥ 0/);
  });

  it('draws classes with q (within 4 standard errors) and samples within the class; the same stream gives the same order', () => {
    const y = labelsOf([800, 40, 160]);
    const n = 30_000;
    for (const p of [0, 1, 0.5]) {
      const order = balancedOrder(y, 3, p, new Rng(5), n);
      expect(order).toEqual(balancedOrder(y, 3, p, new Rng(5), n));
      const q = samplerProbabilities(classCounts(y, 3), p);
      const seen = classCounts(Int32Array.from(order, (i) => y[i]!), 3);
      for (let c = 0; c < 3; c++) {
        const se = Math.sqrt((q[c]! * (1 - q[c]!)) / n);
        expect(Math.abs(seen[c]! / n - q[c]!)).toBeLessThan(4 * se + 1e-12);
      }
      // Every member of the minority class is drawn (40 members, ~10,000 draws at p = 0).
      if (p === 0) expect(new Set(Array.from(order).filter((i) => y[i] === 1)).size).toBe(40);
    }
    // Default length: one slot per sample.
    expect(balancedOrder(y, 3, 0, new Rng(1)).length).toBe(y.length);
  });

  it('views are drawn uniformly', () => {
    const v = drawViews(new Rng(3), 40_000, 4);
    const counts = [0, 1, 2, 3].map((k) => v.filter((x) => x === k).length / v.length);
    for (const f of counts) expect(Math.abs(f - 0.25)).toBeLessThan(4 * Math.sqrt((0.25 * 0.75) / 40_000));
  });
});

describe('weighted losses against float64 by hand', () => {
  const n = 6;
  const k = 3;
  const rng = new Rng(11);
  const logits = Float32Array.from({ length: n * k }, () => 3 * rng.normal());
  const y = [0, 1, 2, 0, 0, 1];
  const targets = new Float32Array(n * k);
  y.forEach((c, i) => (targets[i * k + c] = 1));
  const w = Float32Array.from([0.5, 2, 1.25]);
  const logSoftmax = (i: number) => {
    const z = Array.from(logits.subarray(i * k, (i + 1) * k));
    const m = Math.max(...z);
    const lse = m + Math.log(z.reduce((a, v) => a + Math.exp(v - m), 0));
    return z.map((v) => v - lse);
  };
  const mixer = new Mixer({ alpha: 1, seed: 4 }, ['a', 'b', 'c']);
  const plan = mixer.plan(Int32Array.from(y), 0, {});

  it('stack: λᵢ·w_{yᵢ}·CE(zᵢ, yᵢ) + (1 − λᵢ)·w_{y_π(i)}·CE(zᵢ, y_π(i)), mean over the batch', () => {
    expect(plan.mode).not.toBe('none');
    const got = tf.tidy(() => batchLoss(tf.tensor2d(logits, [n, k]), { targets, k, multiLabel: false, labelMode: 'stack', labelSmoothing: 0, plan, mixer, classWeights: w }).dataSync()[0]!);
    let want = 0;
    for (let i = 0; i < n; i++) {
      const lp = logSoftmax(i);
      const j = plan.partner[i]!;
      want += plan.lam[i]! * w[y[i]!]! * -lp[y[i]!]! + (1 - plan.lam[i]!) * w[y[j]!]! * -lp[y[j]!]!;
    }
    expect(got).toBeCloseTo(want / n, 5);
  });

  it('blend gives the same value as stack (softmax CE is linear in the targets), weights included', () => {
    const stack = tf.tidy(() => batchLoss(tf.tensor2d(logits, [n, k]), { targets, k, multiLabel: false, labelMode: 'stack', labelSmoothing: 0, plan, mixer, classWeights: w }).dataSync()[0]!);
    const blend = tf.tidy(() => batchLoss(tf.tensor2d(logits, [n, k]), { targets, k, multiLabel: false, labelMode: 'blend', labelSmoothing: 0, plan, mixer, classWeights: w }).dataSync()[0]!);
    expect(blend).toBeCloseTo(stack, 5);
  });

  it('multi-label positive weights: −[pw·t·log σ(z) + (1 − t)·log(1 − σ(z))], mean over cells', () => {
    const t = Float32Array.from({ length: n * k }, (_, i) => ((i * 7) % 3 === 0 ? 1 : 0));
    const pw = Float32Array.from([3, 0.5, 1]);
    const off = new Mixer({ alpha: 0, seed: 4 }, ['a', 'b', 'c']);
    const noMix = off.plan(Int32Array.from(y), 0, {});
    expect(noMix.mode).toBe('none');
    const got = tf.tidy(() => batchLoss(tf.tensor2d(logits, [n, k]), { targets: t, k, multiLabel: true, labelMode: 'blend', labelSmoothing: 0, plan: noMix, mixer: off, posWeights: pw }).dataSync()[0]!);
    let want = 0;
    for (let i = 0; i < n * k; i++) {
      const z = logits[i]!;
      const sig = 1 / (1 + Math.exp(-z));
      want += -(pw[i % k]! * t[i]! * Math.log(sig) + (1 - t[i]!) * Math.log(1 - sig));
    }
    expect(got).toBeCloseTo(want / (n * k), 5);
  });
});
