/**
 * The floors: the logistic regression (L-BFGS) reaches scikit-learn's optimum (same objective, λ = 1/(C·N)),
 * and kNN votes by cosine similarity, checked by hand.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fitLogistic, knnProbs, logisticProbs, standardise } from '../../src/train/floors.js';

interface Case { x: number[]; d: number; k: number; C: number; query: number[]; probs: number[]; coef: number[]; intercept: number[] }
const ref = JSON.parse(readFileSync(new URL('../fixtures/sklearn-logistic.json', import.meta.url), 'utf8')) as { single: Case & { y: number[] }; multi: Case & { targets: number[] } };

describe('logistic-regression floor', () => {
  it("multinomial: coefficients and probabilities match scikit-learn's LogisticRegression(C = 1)", () => {
    const c = ref.single;
    const n = c.y.length;
    const targets = new Float32Array(n * c.k);
    c.y.forEach((y, i) => (targets[i * c.k + y] = 1));
    const model = fitLogistic(Float64Array.from(c.x), targets, c.d, c.k, { l2: 1 / (c.C * n), multiLabel: false });
    const probs = logisticProbs(model, Float64Array.from(c.query), c.d, c.k);
    probs.forEach((p, i) => expect(Math.abs(p - c.probs[i])).toBeLessThan(1e-4));
    // Softmax weights are defined up to a per-feature constant across classes; scikit-learn's and
    // ours are both the minimum-norm ones (the penalty), so they agree directly.
    model.weights.forEach((w, i) => expect(Math.abs(w - c.coef[i])).toBeLessThan(1e-3));
    // L-BFGS converged (gradient below tolerance) well before its iteration limit.
    expect(model.iterations).toBeLessThan(300);
  });

  it('one sigmoid per label: matches a binary LogisticRegression(C = 0.5) per label', () => {
    const c = ref.multi;
    const n = c.targets.length / c.k;
    const model = fitLogistic(Float64Array.from(c.x), Float32Array.from(c.targets), c.d, c.k, { l2: 1 / (c.C * n), multiLabel: true });
    const probs = logisticProbs(model, Float64Array.from(c.query), c.d, c.k);
    probs.forEach((p, i) => expect(Math.abs(p - c.probs[i])).toBeLessThan(1e-4));
    model.bias.forEach((b, i) => expect(Math.abs(b - c.intercept[i])).toBeLessThan(1e-3));
  });

  it('standardise: train columns get mean 0 and sd 1; others use train\'s statistics; constant columns stay finite', () => {
    const train = Float64Array.from([1, 5, 3, 5, 5, 5]);
    const [t, q] = standardise(train, 2, Float64Array.from([3, 7]));
    // Column 0: mean 3, population sd √(8/3).
    expect(t[0]).toBeCloseTo(-2 / Math.sqrt(8 / 3), 12);
    expect(q[0]).toBeCloseTo(0, 12);
    expect(t[1]).toBe(0);
    expect(q[1]).toBe(2);
  });
});

describe('kNN floor', () => {
  it('cosine similarity, not distance: a scaled copy is the nearest; votes are fractions of k', () => {
    // Training rows: directions (1,0) class 0, (0,1) class 1, (1,1) class 1.
    const train = Float64Array.from([10, 0, 0, 1, 1, 1]);
    const targets = Float32Array.from([1, 0, 0, 1, 0, 1]);
    // Query (0.1, 0): nearest by angle is row 0 even though it is far in distance.
    const p1 = knnProbs(train, targets, Float64Array.from([0.1, 0]), 2, 1, 2);
    expect(Array.from(p1)).toEqual([1, 0]);
    // k = 2 for (1, 0.9): the two most similar are (1,1) and (10,0): one vote each.
    const p2 = knnProbs(train, targets, Float64Array.from([1, 0.9]), 2, 2, 2);
    expect(Array.from(p2)).toEqual([0.5, 0.5]);
    // k above the training size uses every row.
    const p3 = knnProbs(train, targets, Float64Array.from([1, 0]), 2, 10, 2);
    expect(p3[1]).toBeCloseTo(2 / 3, 6);
  });
});
