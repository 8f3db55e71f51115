import { describe, expect, it } from 'vitest';
import { averagePrecision, multiLabelMetrics, singleLabelMetrics, headlineMetric } from '../../src/train/metrics.js';
import { learningRateAt } from '../../src/train/schedule.js';

describe('single-label metrics', () => {
  it('accuracy, top-5, loss, per-class accuracy and confusion match a hand count', () => {
    // 3 classes, 4 samples (rows are probabilities).
    const probs = Float32Array.from([0.7, 0.2, 0.1, 0.1, 0.3, 0.6, 0.2, 0.5, 0.3, 0.05, 0.05, 0.9]);
    const labels = Int32Array.from([0, 1, 1, 2]);
    const m = singleLabelMetrics(probs, labels, ['a', 'b', 'c']);
    expect(m.accuracy).toBe(0.75); // sample 1 predicted c
    expect(m.top5).toBe(1);
    expect(m.loss).toBeCloseTo(-(Math.log(0.7) + Math.log(0.3) + Math.log(0.5) + Math.log(0.9)) / 4, 6);
    expect(m.confusion).toEqual([
      [1, 0, 0],
      [0, 1, 1],
      [0, 0, 1],
    ]);
    expect(m.perClass.map((p) => p.accuracy)).toEqual([1, 0.5, 1]);
    expect(headlineMetric(m)).toEqual({ name: 'accuracy', value: 0.75 });
  });

  it('top-5 counts a label ranked fifth of seven but not sixth', () => {
    const k = 7;
    const row = [0.3, 0.2, 0.15, 0.12, 0.1, 0.08, 0.05];
    const probs = Float32Array.from([...row, ...row]);
    const m = singleLabelMetrics(probs, Int32Array.from([4, 5]), Array.from({ length: k }, (_, i) => `c${i}`));
    expect(m.top5).toBe(0.5);
  });
});

describe('multi-label metrics', () => {
  it('average precision is the mean precision at each positive, ranked by score', () => {
    // Ranked: pos, neg, pos, neg → precisions at positives 1/1 and 2/3.
    expect(averagePrecision([0.9, 0.8, 0.7, 0.1], [1, 0, 1, 0])).toBeCloseTo((1 + 2 / 3) / 2, 10);
    // No positive: 0, as scikit-learn (it warns); tied scores are one threshold.
    expect(averagePrecision([0.5], [0])).toBe(0);
    expect(averagePrecision([0.9, 0.5, 0.5], [0, 0, 1])).toBeCloseTo(1 / 3, 12);
  });

  it('micro/macro F1 and mAP from hand counts', () => {
    // 3 samples × 2 classes. Predictions at 0.5: [1,0],[1,1],[0,1]; targets [1,0],[0,1],[0,1].
    const probs = Float32Array.from([0.9, 0.2, 0.6, 0.7, 0.1, 0.8]);
    const targets = Float32Array.from([1, 0, 0, 1, 0, 1]);
    const m = multiLabelMetrics(probs, targets, 2);
    // class 0: tp1 fp1 fn0 → F1 2/3; class 1: tp2 fp0 fn0 → F1 1. micro: tp3 fp1 fn0 → 6/7.
    expect(m.macroF1).toBeCloseTo((2 / 3 + 1) / 2, 10);
    expect(m.microF1).toBeCloseTo(6 / 7, 10);
    // AP class 0: scores .9(pos) .6 .1 → 1; class 1: .8(pos) .7(pos) .2 → 1.
    expect(m.mAP).toBeCloseTo(1, 10);
    let bce = 0;
    probs.forEach((p, i) => (bce -= targets[i] * Math.log(p) + (1 - targets[i]) * Math.log(1 - p)));
    expect(m.loss).toBeCloseTo(bce / 6, 6);
  });
});

describe('learning-rate schedules', () => {
  it('cosine: linear warm-up, then lr·½(1 + cos(π·t))', () => {
    expect(learningRateAt('cosine', 1, 0, 100, 10)).toBeCloseTo(0.1, 12);
    expect(learningRateAt('cosine', 1, 9, 100, 10)).toBeCloseTo(1, 12);
    expect(learningRateAt('cosine', 1, 10, 100, 10)).toBeCloseTo(1, 12);
    expect(learningRateAt('cosine', 1, 55, 100, 10)).toBeCloseTo(0.5 * (1 + Math.cos(Math.PI * 0.5)), 12);
    expect(learningRateAt('cosine', 1, 100, 100, 10)).toBeCloseTo(0, 12);
  });

  it('one-cycle rises from lr/25 to lr over 30% of the steps, then falls to lr/25/1e4', () => {
    expect(learningRateAt('onecycle', 1, 0, 100, 0)).toBeCloseTo(1 / 25, 12);
    expect(learningRateAt('onecycle', 1, 30, 100, 0)).toBeCloseTo(1, 12);
    expect(learningRateAt('onecycle', 1, 100, 100, 0)).toBeCloseTo(1 / 25 / 1e4, 12);
    const up = [0, 10, 20, 30].map((s) => learningRateAt('onecycle', 1, s, 100, 0));
    expect(up).toEqual([...up].sort((a, b) => a - b));
  });

  it('constant stays at lr after warm-up', () => {
    expect(learningRateAt('constant', 0.3, 0, 10, 2)).toBeCloseTo(0.15, 12);
    expect(learningRateAt('constant', 0.3, 7, 10, 2)).toBe(0.3);
  });
});

describe('lossOf', () => {
  it('is the loss of metricsOf, bit for bit, without the other metrics (single- and multi-label)', async () => {
    const { lossOf, metricsOf } = await import('../../src/train/metrics.js');
    const { Rng } = await import('../../src/base/random.js');
    const rng = new Rng(8);
    const n = 300;
    const k = 5;
    const probs = Float32Array.from({ length: n * k }, () => (rng.int(20) === 0 ? 0 : rng.uniform()));
    const labelIndex = Int32Array.from({ length: n }, () => rng.int(k));
    const targets = Float32Array.from({ length: n * k }, () => rng.int(2));
    const classes = ['a', 'b', 'c', 'd', 'e'];
    for (const multiLabel of [false, true]) {
      const set = { multiLabel, classes, labelIndex, targets };
      expect(lossOf(set, probs)).toBe(metricsOf(set, probs).loss);
      expect(Number.isFinite(lossOf(set, probs))).toBe(true);
    }
  });
});
