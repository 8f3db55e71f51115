// Targets under mixup: stack vs blend, label smoothing, reference losses (docs/architecture.md, "Mixup semantics": Labels).
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/base/random.js';
import {
  blendTargets,
  oneHot,
  partnerLabels,
  sigmoidBce,
  smoothTargets,
  softmaxCrossEntropy,
  stackedCrossEntropy,
} from '../../src/mixup/labels.js';
import { sampleLambda } from '../../src/mixup/lambda.js';

function randomBatch(seed: number, b: number, k: number) {
  const rng = new Rng(seed);
  const logits = new Float64Array(b * k).map(() => rng.normal() * 4);
  const y = new Int32Array(b).map(() => rng.int(k));
  const lam = sampleLambda(rng, b, { alpha: 0.4, mode: 'sample', dominant: false });
  const partner = rng.permutation(b);
  return { logits, y, lam, partner };
}

describe('oneHot and smoothTargets', () => {
  it('one-hot rows have a single 1 at the label', () => {
    expect([...oneHot(Int32Array.of(2, 0), 3)]).toEqual([0, 0, 1, 1, 0, 0]);
    expect(() => oneHot(Int32Array.of(3), 3)).toThrow(/outside \[0, 3\)/);
    expect(() => oneHot(Int32Array.of(-1), 3)).toThrow(/outside/);
  });

  it('label smoothing is y = (1 − ε)·y + ε/K and keeps rows summing to 1', () => {
    const k = 5;
    const eps = 0.1;
    const t = smoothTargets(oneHot(Int32Array.of(1, 4), k), k, eps);
    for (let j = 0; j < t.length; j++) {
      const y = j === 1 || j === 9 ? 1 : 0;
      expect(t[j]).toBeCloseTo((1 - eps) * y + eps / k, 7);
    }
    expect(t[0] + t[1] + t[2] + t[3] + t[4]).toBeCloseTo(1, 6);
    expect(smoothTargets(Float32Array.of(0, 1), 2, 0)).toEqual(Float32Array.of(0, 1));
    expect(() => smoothTargets(Float32Array.of(0, 1), 2, 1.5)).toThrow(/\[0, 1\]/);
  });
});

describe('stack equals blend under softmax cross-entropy', () => {
  it('stackedCrossEntropy(z, y, y_π, λ) == softmaxCrossEntropy(z, blend(onehot(y))) to 1e-9', () => {
    for (const seed of [1, 2, 3]) {
      const k = 7;
      const b = 32;
      const { logits, y, lam, partner } = randomBatch(seed, b, k);
      // Blend in float64 so that 1 − λ is not rounded to float32 (that alone would differ by ~1e-7).
      const blended = blendTargets(oneHot(y, k), lam, partner, new Float64Array(b * k));
      const stacked = stackedCrossEntropy(logits, y, partnerLabels(y, partner), lam, k);
      const soft = softmaxCrossEntropy(logits, blended, k);
      expect(Math.abs(stacked - soft)).toBeLessThan(1e-9);
      expect(stacked).toBeGreaterThan(0);
    }
  });

  it('still holds with label smoothing applied before blending', () => {
    const k = 6;
    const b = 20;
    const eps = 0.1;
    const { logits, y, lam, partner } = randomBatch(9, b, k);
    const smoothed = smoothTargets(Float64Array.from(oneHot(y, k)), k, eps);
    const blended = blendTargets(smoothed, lam, partner, new Float64Array(b * k));
    const stacked = stackedCrossEntropy(logits, y, partnerLabels(y, partner), lam, k, eps);
    expect(Math.abs(stacked - softmaxCrossEntropy(logits, blended, k))).toBeLessThan(1e-9);
  });

  it('blended targets are λ·y + (1 − λ)·y_π and sum to 1 per row', () => {
    const t = blendTargets(oneHot(Int32Array.of(0, 2), 3), Float32Array.of(0.75, 0.5), Int32Array.of(1, 0));
    expect([...t]).toEqual([0.75, 0, 0.25, 0.5, 0, 0.5]);
  });
});

describe('reference losses', () => {
  it('softmaxCrossEntropy on one-hots is −log softmax(z)_y, stable for large logits', () => {
    const z = [1, 2, 3];
    const lse = Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3));
    expect(softmaxCrossEntropy(z, [0, 0, 1], 3)).toBeCloseTo(lse - 3, 12);
    expect(softmaxCrossEntropy([1000, 0], [1, 0], 2)).toBeCloseTo(0, 12);
    expect(softmaxCrossEntropy([1000, 0], [0, 1], 2)).toBeCloseTo(1000, 9);
  });

  it('sigmoidBce matches −t·log σ(z) − (1 − t)·log(1 − σ(z)) and stays finite for large |z|', () => {
    const z = [0.3, -1.2, 2.5, 0];
    const t = [1, 0, 0.25, 0.5];
    const sig = (v: number) => 1 / (1 + Math.exp(-v));
    const naive = z.reduce((s, v, j) => s - t[j] * Math.log(sig(v)) - (1 - t[j]) * Math.log(1 - sig(v)), 0) / z.length;
    expect(sigmoidBce(z, t)).toBeCloseTo(naive, 12);
    expect(sigmoidBce([100], [1])).toBeCloseTo(0, 12);
    expect(sigmoidBce([-100], [1])).toBeCloseTo(100, 9);
  });

  it('partnerLabels gives y_π(i)', () => {
    expect([...partnerLabels(Int32Array.of(5, 6, 7), Int32Array.of(2, 1, 0))]).toEqual([7, 6, 5]);
  });
});
