/**
 * Calibration metrics and temperature scaling: ECE against a float64 reference written from Guo et
 * al. 2017's definition (explicit bin edges, not the implementation's ceil), the temperature against
 * a brute-force grid of the NLL, cross-fitting that never scores a sample with a fit that saw it, the
 * multi-label threshold's cross-fitted F1, and top losses.
 */
import { describe, expect, it } from 'vitest';
import {
  applyTemperature,
  binOf,
  crossFitHalves,
  fitTemperature,
  multiLabelCalibration,
  singleLabelCalibration,
  temperatureReport,
  temperedNll,
} from '../../src/train/calibration.js';
import { calibrateThreshold, crossFitThreshold, multiLabelMetrics, singleLabelMetrics, topLosses } from '../../src/train/metrics.js';
import { Rng } from '../../src/base/random.js';

/** Guo et al. 2017, eq. (3): Bₘ = {i : conf ∈ ((m−1)/M, m/M]}, ECE = Σ |Bₘ|/n |acc − conf|. */
function referenceEce(conf: number[], correct: boolean[], M = 15): number {
  const n = conf.length;
  let ece = 0;
  for (let m = 1; m <= M; m++) {
    const lo = (m - 1) / M;
    const hi = m / M;
    const members = conf.map((c, i) => i).filter((i) => (conf[i] > lo || (m === 1 && conf[i] === 0)) && conf[i] <= hi);
    if (!members.length) continue;
    const acc = members.filter((i) => correct[i]).length / members.length;
    const avg = members.reduce((a, i) => a + conf[i], 0) / members.length;
    ece += (members.length / n) * Math.abs(acc - avg);
  }
  return ece;
}

/** Softmax rows of random logits scaled by `sharp` (sharp > 1: overconfident), with labels drawn from a calibrated model. */
function overconfident(n: number, k: number, sharp: number, seed: number): { probs: Float32Array; labels: Int32Array } {
  const rng = new Rng(seed);
  const probs = new Float32Array(n * k);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const z = Array.from({ length: k }, () => 1.5 * rng.normal());
    const soft = (s: number) => {
      const e = z.map((v) => Math.exp(s * v));
      const t = e.reduce((a, b) => a + b, 0);
      return e.map((v) => v / t);
    };
    // The truth follows softmax(z); the model reports softmax(sharp · z).
    const truth = soft(1);
    let u = rng.uniform();
    labels[i] = k - 1;
    for (let j = 0; j < k; j++) if ((u -= truth[j]) < 0) { labels[i] = j; break; }
    probs.set(soft(sharp), i * k);
  }
  return { probs, labels };
}

describe('ECE, NLL and Brier', () => {
  it('bins are ((m−1)/M, m/M]: the edges fall in the lower bin, 0 in the first', () => {
    expect(binOf(0)).toBe(0);
    expect(binOf(1 / 15)).toBe(0);
    expect(binOf(1 / 15 + 1e-12)).toBe(1);
    expect(binOf(1)).toBe(14);
  });

  it('ECE agrees with a float64 reference of the definition on random and tied confidences', () => {
    for (const seed of [1, 2, 3]) {
      const { probs, labels } = overconfident(400, 6, 2.5, seed);
      const m = singleLabelCalibration(probs, labels, 6);
      const conf: number[] = [];
      const correct: boolean[] = [];
      for (let i = 0; i < labels.length; i++) {
        const row = Array.from(probs.subarray(i * 6, i * 6 + 6));
        const best = row.indexOf(Math.max(...row));
        conf.push(row[best]);
        correct.push(best === labels[i]);
      }
      expect(Math.abs(m.ece - referenceEce(conf, correct))).toBeLessThan(1e-12);
      expect(m.reliability.reduce((a, b) => a + b.count, 0)).toBe(400);
    }
    // Confidences exactly on bin edges (k/15 in float32) and ties between classes.
    const k = 3;
    const probs = new Float32Array(30 * k);
    const labels = new Int32Array(30);
    for (let i = 0; i < 30; i++) {
      const top = Math.fround(Math.max(1 / 3, ((i % 15) + 1) / 15));
      probs.set([top, (1 - top) / 2, (1 - top) / 2], i * k);
      labels[i] = i % 3;
    }
    const m = singleLabelCalibration(probs, labels, k);
    const conf = Array.from({ length: 30 }, (_, i) => probs[i * k]);
    expect(Math.abs(m.ece - referenceEce(conf, Array.from(labels, (y) => y === 0)))).toBeLessThan(1e-12);
  });

  it('a perfectly calibrated model has a small ECE, an overconfident one a large ECE', () => {
    const calibrated = overconfident(4000, 5, 1, 7);
    const over = overconfident(4000, 5, 3, 7);
    const a = singleLabelCalibration(calibrated.probs, calibrated.labels, 5);
    const b = singleLabelCalibration(over.probs, over.labels, 5);
    expect(a.ece).toBeLessThan(0.03);
    expect(b.ece).toBeGreaterThan(0.1);
    expect(b.nll).toBeGreaterThan(a.nll);
  });

  it('multi-label: classwise ECE averaged over labels, NLL and Brier as means over samples × labels', () => {
    const rng = new Rng(11);
    const n = 300;
    const k = 4;
    const probs = new Float32Array(n * k);
    const targets = new Float32Array(n * k);
    for (let i = 0; i < n * k; i++) {
      probs[i] = rng.uniform();
      targets[i] = rng.uniform() < probs[i] ** 2 ? 1 : 0;
    }
    const m = multiLabelCalibration(probs, targets, k);
    let ece = 0;
    let brier = 0;
    let nll = 0;
    for (let c = 0; c < k; c++) {
      const conf = Array.from({ length: n }, (_, i) => probs[i * k + c]);
      // Per label: bins over p, |fraction positive − mean p|: the reference with "correct" = positive.
      ece += referenceEce(conf, conf.map((_, i) => targets[i * k + c] === 1));
    }
    for (let i = 0; i < n * k; i++) {
      const p = Math.min(Math.max(probs[i], 1e-7), 1 - 1e-7);
      brier += (probs[i] - targets[i]) ** 2;
      nll -= targets[i] * Math.log(p) + (1 - targets[i]) * Math.log(1 - p);
    }
    expect(Math.abs(m.ece - ece / k)).toBeLessThan(1e-12);
    expect(Math.abs(m.brier - brier / (n * k))).toBeLessThan(1e-12);
    expect(Math.abs(m.nll - nll / (n * k))).toBeLessThan(1e-12);
    const metrics = multiLabelMetrics(probs, targets, k);
    expect(metrics.ece).toBe(m.ece);
    expect(metrics.nll).toBeCloseTo(metrics.loss, 12);
  });
});

describe('temperature scaling', () => {
  /** Brute force: the NLL on a fine grid of T in float64, straight from softmax(log p / T). */
  function gridBest(probs: Float32Array, labels: Int32Array, k: number): number {
    let best = { t: 1, nll: Infinity };
    for (let t = 0.2; t <= 6; t += 0.0005) {
      let s = 0;
      for (let i = 0; i < labels.length; i++) {
        const z = Array.from(probs.subarray(i * k, (i + 1) * k), (p) => Math.log(p) / t);
        const max = Math.max(...z);
        const lse = max + Math.log(z.reduce((a, v) => a + Math.exp(v - max), 0));
        s += lse - z[labels[i]];
      }
      if (s < best.nll) best = { t, nll: s };
    }
    return best.t;
  }

  it('the fitted T minimises the NLL: it matches a brute-force grid, and T > 1 for an overconfident model', () => {
    const { probs, labels } = overconfident(300, 4, 2, 5);
    const t = fitTemperature(probs, { labels }, 4);
    expect(Math.abs(t - gridBest(probs, labels, 4))).toBeLessThan(0.001);
    expect(t).toBeGreaterThan(1.4);
    const under = overconfident(300, 4, 0.5, 5);
    expect(fitTemperature(under.probs, { labels: under.labels }, 4)).toBeLessThan(0.8);
  });

  it('applying T: rows still sum to 1, argmax unchanged, NLL as temperedNll says', () => {
    const { probs, labels } = overconfident(100, 5, 2, 9);
    const scaled = applyTemperature(probs, 5, 1.7, false);
    for (let i = 0; i < 100; i++) {
      const row = Array.from(scaled.subarray(i * 5, i * 5 + 5));
      const orig = Array.from(probs.subarray(i * 5, i * 5 + 5));
      expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
      expect(row.indexOf(Math.max(...row))).toBe(orig.indexOf(Math.max(...orig)));
    }
    expect(singleLabelCalibration(scaled, labels, 5).nll).toBeCloseTo(temperedNll(probs, { labels }, 5, 1 / 1.7), 5);
    expect(applyTemperature(probs, 5, 1, false)).toEqual(probs);
  });

  it('multi-label: sigmoid(logit(p) / T), fitted against a brute-force grid', () => {
    const rng = new Rng(3);
    const n = 200;
    const k = 3;
    const probs = new Float32Array(n * k);
    const targets = new Float32Array(n * k);
    for (let i = 0; i < n * k; i++) {
      const z = 2 * rng.normal();
      targets[i] = rng.uniform() < 1 / (1 + Math.exp(-z)) ? 1 : 0;
      probs[i] = 1 / (1 + Math.exp(-2.5 * z)); // overconfident by 2.5
    }
    const t = fitTemperature(probs, { targets }, k);
    let best = { t: 1, nll: Infinity };
    for (let tt = 0.5; tt <= 6; tt += 0.0005) {
      const nll = multiLabelCalibration(applyTemperature(probs, k, tt, true), targets, k).nll;
      if (nll < best.nll) best = { t: tt, nll };
    }
    expect(Math.abs(t - best.t)).toBeLessThan(0.005);
    expect(t).toBeGreaterThan(1.8);
  });

  it('cross-fitting: two disjoint halves covering every sample; "after" is scored out of fold and improves an overconfident model', () => {
    const [a, b] = crossFitHalves(101, 4);
    expect(a.length + b.length).toBe(101);
    expect(new Set([...a, ...b]).size).toBe(101);
    const { probs, labels } = overconfident(600, 4, 2.5, 12);
    const r = temperatureReport(probs, { labels }, 4, 0);
    expect(r.after.nll).toBeLessThan(r.before.nll);
    expect(r.after.ece).toBeLessThan(r.before.ece);
    // The out-of-fold NLL is no better than the in-sample one (T fitted on all and scored there).
    const inSample = singleLabelCalibration(applyTemperature(probs, 4, r.temperature, false), labels, 4).nll;
    expect(r.after.nll).toBeGreaterThanOrEqual(inSample - 1e-12);
    expect(r.folds[0]).not.toBe(r.folds[1]);
  });
});

describe('multi-label threshold by cross-fitting (defect 6)', () => {
  it('the cross-fitted micro-F1 is scored on the half the threshold never saw, and is not above the in-sample figure on noise', () => {
    // Pure noise: no threshold generalises, yet the in-sample optimum over 99 thresholds finds one.
    const rng = new Rng(21);
    const n = 120;
    const k = 5;
    const probs = Float32Array.from({ length: n * k }, () => rng.uniform());
    const targets = Float32Array.from({ length: n * k }, () => (rng.uniform() < 0.2 ? 1 : 0));
    const inSample = calibrateThreshold(probs, targets, k);
    const cross = crossFitThreshold(probs, targets, k, false, 0);
    expect(cross.microF1).toBeLessThan(inSample.microF1);
    // By hand: fit on half A, count on half B with A's threshold, and the reverse.
    const [a, b] = crossFitHalves(n, 0);
    const rows = (idx: Int32Array, src: Float32Array) => Float32Array.from(Array.from(idx).flatMap((r) => Array.from(src.subarray(r * k, (r + 1) * k))));
    const tA = calibrateThreshold(rows(a, probs), rows(a, targets), k).threshold;
    const tB = calibrateThreshold(rows(b, probs), rows(b, targets), k).threshold;
    expect(cross.folds).toEqual([tA, tB]);
    let tp = 0;
    let fp = 0;
    let fn = 0;
    for (const [idx, t] of [[b, tA], [a, tB]] as const) {
      for (const r of idx) for (let c = 0; c < k; c++) {
        const pred = probs[r * k + c] >= t;
        const pos = targets[r * k + c] === 1;
        if (pred && pos) tp++;
        else if (pred) fp++;
        else if (pos) fn++;
      }
    }
    expect(cross.microF1).toBeCloseTo((2 * tp) / (2 * tp + fp + fn), 12);
  });
});

describe('top losses', () => {
  it('the samples with the lowest probability on the true class, worst first', () => {
    const probs = Float32Array.from([0.9, 0.1, 0.2, 0.8, 0.5, 0.5, 0.01, 0.99]);
    const labels = Int32Array.from([0, 0, 1, 0]);
    const top = topLosses(probs, labels, 2, 3);
    expect(top.map((t) => t.index)).toEqual([3, 1, 2]);
    expect(top[0]).toMatchObject({ label: 0, predicted: 1 });
    expect(top[0].loss).toBeCloseTo(-Math.log(0.01), 5);
    const m = singleLabelMetrics(probs, labels, ['a', 'b']);
    expect(m.topLosses[0].index).toBe(3);
  });

  it('equals sorting every sample by loss (ties: lower index first), on data with many ties', () => {
    const rng = new Rng(5);
    const n = 500;
    const k = 4;
    // Probabilities on a coarse grid, so that many losses tie exactly.
    const probs = Float32Array.from({ length: n * k }, () => rng.int(6) / 5);
    const labels = Int32Array.from({ length: n }, () => rng.int(k));
    const reference = Array.from(labels, (y, i) => ({ index: i, loss: -Math.log(Math.max(probs[i * k + y]!, 1e-7)) })).sort((a, b) => b.loss - a.loss || a.index - b.index);
    for (const count of [1, 12, 40, n + 3]) {
      expect(topLosses(probs, labels, k, count).map((t) => t.index)).toEqual(reference.slice(0, count).map((r) => r.index));
    }
  });
});
