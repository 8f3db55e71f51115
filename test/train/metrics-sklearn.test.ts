/**
 * Our metrics against scikit-learn's on the cases of scripts/sklearn-reference.py (ties, a class
 * with no positive, all correct, all wrong, top-k ties, thresholds), to 1e-9.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { averagePrecision, calibrateThreshold, multiLabelMetrics, singleLabelMetrics } from '../../src/train/metrics.js';

interface Diagnostics { precision: number[]; recall: number[]; f1: number[]; macroF1: number; balancedAccuracy: number; confusion: number[][]; nll?: number; brier?: number; brierBinaryTimes2?: number }
interface SingleCase extends Diagnostics { name: string; k: number; probs: number[]; labels: number[]; accuracy: number; top5: number }
interface MultiCase { name: string; k: number; threshold: number; probs: number[]; targets: number[]; microF1: number; macroF1: number; perClassF1: number[]; ap: number[]; mAP: number; nll: number; brier: number }
const ref = JSON.parse(readFileSync(new URL('../fixtures/sklearn-metrics.json', import.meta.url), 'utf8')) as { single: SingleCase[]; binary: (Diagnostics & { name: string; k: number; probs: number[]; labels: number[] })[]; multi: MultiCase[] };

/** Per-class P/R/F1, macro-F1, balanced accuracy, confusion matrix, NLL and Brier against the fixture. */
function checkDiagnostics(c: Diagnostics & { k: number; probs: number[]; labels: number[] }) {
  const classes = Array.from({ length: c.k }, (_, i) => `c${i}`);
  const m = singleLabelMetrics(Float32Array.from(c.probs), Int32Array.from(c.labels), classes);
  m.perClass.forEach((p, i) => {
    expect(Math.abs(p.precision - c.precision[i])).toBeLessThan(1e-12);
    expect(Math.abs(p.recall - c.recall[i])).toBeLessThan(1e-12);
    expect(Math.abs(p.f1 - c.f1[i])).toBeLessThan(1e-12);
  });
  expect(Math.abs(m.macroF1 - c.macroF1)).toBeLessThan(1e-12);
  expect(Math.abs(m.balancedAccuracy - c.balancedAccuracy)).toBeLessThan(1e-12);
  expect(m.confusion).toEqual(c.confusion);
  // log_loss renormalises float32 rows that sum to 1 ± 1e-7: agreement to 1e-6.
  if (c.nll != null) {
    expect(Math.abs(m.nll - c.nll)).toBeLessThan(1e-6);
    expect(Math.abs(m.loss - c.nll)).toBeLessThan(1e-6);
  }
  if (c.brier != null) expect(Math.abs(m.brier - c.brier)).toBeLessThan(1e-9);
  // Twice the binary score equals the sum over both classes only when p₀ + p₁ = 1 exactly; the
  // float32 rows miss it by ~1e-8.
  if (c.brierBinaryTimes2 != null) expect(Math.abs(m.brier - c.brierBinaryTimes2)).toBeLessThan(1e-7);
}

describe('metrics agree with scikit-learn', () => {
  for (const c of ref.single) {
    it(`accuracy and top-k: ${c.name}`, () => {
      const classes = Array.from({ length: c.k }, (_, i) => `c${i}`);
      const m = singleLabelMetrics(Float32Array.from(c.probs), Int32Array.from(c.labels), classes);
      expect(Math.abs(m.accuracy - c.accuracy)).toBeLessThan(1e-9);
      expect(Math.abs(m.top5 - c.top5)).toBeLessThan(1e-9);
    });
    it(`precision/recall/F1, balanced accuracy, confusion, NLL, Brier: ${c.name}`, () => checkDiagnostics(c));
  }
  for (const c of ref.binary) it(`two classes: Brier is twice brier_score_loss, and the rest: ${c.name}`, () => checkDiagnostics(c));
  for (const c of ref.multi) {
    it(`micro/macro F1, AP and mAP: ${c.name}`, () => {
      const probs = Float32Array.from(c.probs);
      const targets = Float32Array.from(c.targets);
      const m = multiLabelMetrics(probs, targets, c.k, c.threshold);
      expect(Math.abs(m.microF1 - c.microF1)).toBeLessThan(1e-9);
      expect(Math.abs(m.macroF1 - c.macroF1)).toBeLessThan(1e-9);
      expect(Math.abs(m.mAP - c.mAP)).toBeLessThan(1e-9);
      expect(Math.abs(m.nll - c.nll)).toBeLessThan(1e-9);
      expect(Math.abs(m.brier - c.brier)).toBeLessThan(1e-9);
      const n = targets.length / c.k;
      c.ap.forEach((want, cls) => {
        const s = Array.from({ length: n }, (_, i) => probs[i * c.k + cls]);
        const t = Array.from({ length: n }, (_, i) => targets[i * c.k + cls]);
        expect(Math.abs(averagePrecision(s, t) - want)).toBeLessThan(1e-9);
      });
    });
  }
});

describe('threshold calibration', () => {
  const c = ref.multi.find((m) => m.name === 'random, threshold 0.5')!;
  const c3 = ref.multi.find((m) => m.name === 'random, threshold 0.3')!;
  const probs = Float32Array.from(c.probs);
  const targets = Float32Array.from(c.targets);

  it("the micro-F1 curve agrees with scikit-learn's f1_score at 0.3 and 0.5; the pick is its maximum", () => {
    const cal = calibrateThreshold(probs, targets, c.k);
    const at = (t: number) => cal.curve.find((p) => Math.abs(p.threshold - t) < 1e-9)!.microF1;
    expect(Math.abs(at(0.5) - c.microF1)).toBeLessThan(1e-9);
    expect(Math.abs(at(0.3) - c3.microF1)).toBeLessThan(1e-9);
    expect(Math.abs(cal.microF1At05 - c.microF1)).toBeLessThan(1e-9);
    expect(cal.microF1).toBe(Math.max(...cal.curve.map((p) => p.microF1)));
    expect(cal.microF1).toBeGreaterThanOrEqual(c.microF1);
    // The metrics at the chosen threshold say the same.
    expect(multiLabelMetrics(probs, targets, c.k, cal.threshold).microF1).toBeCloseTo(cal.microF1, 12);
  });

  it('per class: each threshold maximises that class F1 over the grid', () => {
    const cal = calibrateThreshold(probs, targets, c.k, true);
    const perClassF1 = (t: number[]) => {
      const m = multiLabelMetrics(probs, targets, c.k, t);
      return m.macroF1;
    };
    // Macro-F1 is the mean of per-class F1s, so per-class optima maximise it: no single grid value does better.
    const best = perClassF1(cal.perClass!);
    for (const t of [0.2, 0.35, 0.5, 0.65]) expect(best).toBeGreaterThanOrEqual(perClassF1(new Array(c.k).fill(t)));
    expect(best).toBeGreaterThanOrEqual(perClassF1(new Array(c.k).fill(cal.threshold)));
  });
});
