/**
 * Evaluation metrics, computed on the host from probabilities (float64 sums), with scikit-learn's
 * definitions, which is what users check them against (test/train/metrics-sklearn.test.ts compares
 * with values from scripts/sklearn-reference.py):
 * Single-label: loss (softmax CE, = `log_loss` with probabilities clamped at 1e-7), accuracy (argmax,
 * lowest index among ties), top-5 (`top_k_accuracy_score`: among tied scores the higher class index
 * ranks first), per-class precision, recall and F1 (`precision_recall_fscore_support` with
 * labels = every class, zero_division = 0), macro-F1 (their mean over every class), balanced
 * accuracy (`balanced_accuracy_score`: mean recall over the classes present in the targets),
 * confusion matrix (`confusion_matrix`), the samples with the largest loss ("top losses").
 * Multi-label: loss (sigmoid BCE), micro/macro F1 at a threshold (`f1_score`, zero_division = 0,
 * macro over all labels), mAP (mean over all classes of `average_precision_score`: tied scores are
 * one threshold; a class with no positive has AP 0).
 * Both: NLL, ECE and Brier score (src/train/calibration.ts has their definitions).
 */
import { crossFitHalves, multiLabelCalibration, pickRows, singleLabelCalibration, type ReliabilityBin } from './calibration.js';

/** How many of the worst validation samples a report lists. */
export const TOP_LOSSES = 12;

export interface TopLoss {
  /** Row of the evaluated set. */
  index: number;
  /** True class index (single-label) and the predicted one. */
  label: number;
  predicted: number;
  /** Probability given to the true class. */
  probability: number;
  /** −log of it. */
  loss: number;
}

export interface SingleLabelMetrics {
  kind: 'single';
  loss: number;
  accuracy: number;
  top5: number;
  /** Per class: accuracy = recall (kept under its old name), precision, F1, support. */
  perClass: { name: string; accuracy: number; precision: number; recall: number; f1: number; count: number }[];
  /** Mean F1 over every class. */
  macroF1: number;
  /** Mean recall over the classes present in the targets. */
  balancedAccuracy: number;
  /** confusion[true][predicted] counts. */
  confusion: number[][];
  /** Mean −log p(true class): the loss without regard to how it is named. */
  nll: number;
  /** Expected calibration error, 15 bins over the top-1 probability. */
  ece: number;
  /** meanᵢ Σₖ (pᵢₖ − yᵢₖ)². */
  brier: number;
  reliability: ReliabilityBin[];
  /** The samples with the largest loss, worst first. */
  topLosses: TopLoss[];
}

export interface MultiLabelMetrics {
  kind: 'multi';
  loss: number;
  microF1: number;
  macroF1: number;
  mAP: number;
  /** The decision threshold (NaN when per class). */
  threshold: number;
  /** Per-class thresholds, when used. */
  thresholds?: number[];
  /** Classes with no positive in the targets: their AP and F1 count as 0 (scikit-learn warns). */
  noPositive: number[];
  /** Mean binary NLL over samples × labels (equal to `loss`). */
  nll: number;
  /** Classwise ECE averaged over labels. */
  ece: number;
  /** Mean (p − t)² over samples × labels. */
  brier: number;
  reliability: ReliabilityBin[];
  /**
   * micro-F1 with the threshold cross-fitted on validation (fitted on one half, scored on the other,
   * both ways, pooled): set by the training run, where the threshold was fitted on this very set.
   */
  crossFitMicroF1?: number;
}

export type Metrics = SingleLabelMetrics | MultiLabelMetrics;

const EPS = 1e-7;

/** What metricsOf reads of a set: its labels (single-label) or multi-hot targets (multi-label). */
export interface LabelledSet {
  multiLabel: boolean;
  classes: string[];
  labelIndex: Int32Array;
  targets: Float32Array;
}

/** The metrics of a set's probabilities, single- or multi-label as the set is. */
export function metricsOf(set: LabelledSet, probs: Float32Array): Metrics {
  return set.multiLabel ? multiLabelMetrics(probs, set.targets, set.classes.length) : singleLabelMetrics(probs, set.labelIndex, set.classes);
}

/** The `loss` of metricsOf alone (mean NLL, or mean binary NLL over samples × labels), the same number. */
export function lossOf(set: LabelledSet, probs: Float32Array): number {
  return set.multiLabel ? multiLabelLoss(probs, set.targets) : singleLabelLoss(probs, set.labelIndex, set.classes.length);
}

function singleLabelLoss(probs: Float32Array, labels: Int32Array, k: number): number {
  let loss = 0;
  for (let i = 0; i < labels.length; i++) loss -= Math.log(Math.max(probs[i * k + labels[i]], EPS));
  return labels.length ? loss / labels.length : NaN;
}

function multiLabelLoss(probs: Float32Array, targets: Float32Array): number {
  let loss = 0;
  for (let i = 0; i < targets.length; i++) {
    const p = Math.min(Math.max(probs[i], EPS), 1 - EPS);
    loss -= targets[i] * Math.log(p) + (1 - targets[i]) * Math.log(1 - p);
  }
  return targets.length ? loss / targets.length : NaN;
}

/** probs: N×K row-major softmax outputs; labels: class index per sample. */
export function singleLabelMetrics(probs: Float32Array, labels: Int32Array, classes: string[]): SingleLabelMetrics {
  const k = classes.length;
  const n = labels.length;
  const confusion = classes.map(() => new Array<number>(k).fill(0));
  let loss = 0;
  let top1 = 0;
  let top5 = 0;
  const topK = Math.min(5, k);
  for (let i = 0; i < n; i++) {
    const row = probs.subarray(i * k, (i + 1) * k);
    const y = labels[i];
    loss -= Math.log(Math.max(row[y], EPS));
    let best = 0;
    // Classes ranked above y: higher scores, and equal scores of a higher index (sklearn's order).
    let higher = 0;
    for (let j = 0; j < k; j++) {
      if (row[j] > row[best]) best = j;
      if (row[j] > row[y] || (row[j] === row[y] && j > y)) higher++;
    }
    confusion[y][best]++;
    if (best === y) top1++;
    if (higher < topK) top5++;
  }
  const perClass = classes.map((name, c) => {
    const count = confusion[c].reduce((a, b) => a + b, 0);
    let predicted = 0;
    for (let r = 0; r < k; r++) predicted += confusion[r][c];
    const tp = confusion[c][c];
    const recall = count ? tp / count : 0;
    return { name, accuracy: count ? tp / count : NaN, precision: predicted ? tp / predicted : 0, recall, f1: f1(tp, predicted - tp, count - tp), count };
  });
  const present = perClass.filter((p) => p.count > 0);
  const cal = singleLabelCalibration(probs, labels, k);
  return {
    kind: 'single',
    loss: n ? loss / n : NaN,
    accuracy: n ? top1 / n : NaN,
    top5: n ? top5 / n : NaN,
    perClass,
    macroF1: k ? perClass.reduce((a, p) => a + p.f1, 0) / k : NaN,
    balancedAccuracy: present.length ? present.reduce((a, p) => a + p.recall, 0) / present.length : NaN,
    confusion,
    nll: cal.nll,
    ece: cal.ece,
    brier: cal.brier,
    reliability: cal.reliability,
    topLosses: topLosses(probs, labels, k),
  };
}

/**
 * The `count` samples with the largest −log p(true class), worst first (ties: lower index first).
 * Kept as a small sorted list while scanning (insertion into at most `count` places): it runs on
 * every epoch's evaluation, where sorting an object per sample was most of the metrics' garbage.
 */
export function topLosses(probs: Float32Array, labels: Int32Array, k: number, count = TOP_LOSSES): TopLoss[] {
  const top: TopLoss[] = [];
  for (let i = 0; i < labels.length; i++) {
    const p = probs[i * k + labels[i]];
    const loss = -Math.log(Math.max(p, EPS));
    // Later samples lose ties, so one that does not beat the last kept loss cannot enter a full list.
    if (top.length === count && !(loss > top[count - 1].loss)) continue;
    let best = 0;
    for (let j = 1; j < k; j++) if (probs[i * k + j] > probs[i * k + best]) best = j;
    let at = top.length;
    while (at > 0 && loss > top[at - 1].loss) at--;
    top.splice(at, 0, { index: i, label: labels[i], predicted: best, probability: p, loss });
    if (top.length > count) top.pop();
  }
  return top;
}

/**
 * Average precision of one class: AP = Σₜ (Rₜ − Rₜ₋₁)·Pₜ over the distinct scores t, highest first
 * (all samples tied at a score enter together, as one threshold). 0 when the class has no positive.
 */
export function averagePrecision(scores: ArrayLike<number>, positive: ArrayLike<number>): number {
  const n = scores.length;
  const idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[b] - scores[a]);
  let total = 0;
  for (let i = 0; i < n; i++) if (positive[i] > 0.5) total++;
  if (total === 0) return 0;
  let tp = 0;
  let seen = 0;
  let sum = 0;
  for (let r = 0; r < n; ) {
    const s = scores[idx[r]];
    let groupTp = 0;
    for (; r < n && scores[idx[r]] === s; r++, seen++) if (positive[idx[r]] > 0.5) groupTp++;
    tp += groupTp;
    if (groupTp > 0) sum += (groupTp / total) * (tp / seen);
  }
  return sum;
}

/** F1 = 2·tp / (2·tp + fp + fn), and 0 when there is nothing to count (zero_division = 0). */
function f1(tp: number, fp: number, fn: number): number {
  return 2 * tp + fp + fn > 0 ? (2 * tp) / (2 * tp + fp + fn) : 0;
}

/**
 * probs and targets: N×K row-major; targets are 0/1. `threshold`: one for every class, or one per
 * class (a label is predicted when its probability is ≥ its threshold).
 */
export function multiLabelMetrics(probs: Float32Array, targets: Float32Array, k: number, threshold: number | readonly number[] = 0.5): MultiLabelMetrics {
  const n = targets.length / k;
  let loss = 0;
  const tp = new Array<number>(k).fill(0);
  const fp = new Array<number>(k).fill(0);
  const fn = new Array<number>(k).fill(0);
  for (let i = 0; i < n * k; i++) {
    const p = Math.min(Math.max(probs[i], EPS), 1 - EPS);
    const t = targets[i];
    loss -= t * Math.log(p) + (1 - t) * Math.log(1 - p);
    const c = i % k;
    const pred = probs[i] >= (typeof threshold === 'number' ? threshold : threshold[c]);
    if (pred && t > 0.5) tp[c]++;
    else if (pred) fp[c]++;
    else if (t > 0.5) fn[c]++;
  }
  const sum = (v: number[]) => v.reduce((a, b) => a + b, 0);
  const perClassF1 = tp.map((_, c) => f1(tp[c], fp[c], fn[c]));
  const aps: number[] = [];
  for (let c = 0; c < k; c++) {
    const s = new Float64Array(n);
    const t = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      s[i] = probs[i * k + c];
      t[i] = targets[i * k + c];
    }
    aps.push(averagePrecision(s, t));
  }
  const cal = multiLabelCalibration(probs, targets, k);
  return {
    kind: 'multi',
    loss: n ? loss / (n * k) : NaN,
    nll: cal.nll,
    ece: cal.ece,
    brier: cal.brier,
    reliability: cal.reliability,
    microF1: f1(sum(tp), sum(fp), sum(fn)),
    macroF1: k ? sum(perClassF1) / k : NaN,
    mAP: k ? sum(aps) / k : NaN,
    threshold: typeof threshold === 'number' ? threshold : NaN,
    ...(typeof threshold === 'number' ? {} : { thresholds: [...threshold] }),
    noPositive: tp.map((_, c) => c).filter((c) => tp[c] + fn[c] === 0),
  };
}

/** The number early stopping and "best checkpoint" watch: higher is better. */
export function headlineMetric(m: Metrics): { name: string; value: number } {
  return m.kind === 'single' ? { name: 'accuracy', value: m.accuracy } : { name: 'mAP', value: m.mAP };
}

/** Candidate thresholds of the calibration: 0.01, 0.02, …, 0.99. */
export const THRESHOLD_GRID = Array.from({ length: 99 }, (_, i) => (i + 1) / 100);

/** tp, fp, fn of class `c` (or of all classes when c is null) at threshold t. */
function counts(probs: Float32Array, targets: Float32Array, k: number, t: number, c: number | null): [number, number, number] {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (let i = c ?? 0; i < probs.length; i += c == null ? 1 : k) {
    const pred = probs[i] >= t;
    const pos = targets[i] > 0.5;
    if (pred && pos) tp++;
    else if (pred) fp++;
    else if (pos) fn++;
  }
  return [tp, fp, fn];
}

export interface ThresholdCalibration {
  /** The global threshold that maximises micro-F1 on the calibration set (ties: the one nearest 0.5). */
  threshold: number;
  microF1: number;
  /** micro-F1 at 0.5, for comparison. */
  microF1At05: number;
  /** micro-F1 at each threshold of THRESHOLD_GRID. */
  curve: { threshold: number; microF1: number }[];
  /** Per class: the threshold maximising that class's F1 (classes without a positive keep the global one). */
  perClass?: number[];
}

/**
 * Picks the multi-label decision threshold on a validation set: the value of THRESHOLD_GRID that
 * maximises micro-F1 (and, with `perClass`, each class's own F1). A grid of 0.01 rather than every
 * distinct probability: the optimum of a small validation set is flat and noisy, and a grid keeps
 * the choice stable.
 */
export function calibrateThreshold(probs: Float32Array, targets: Float32Array, k: number, perClass = false): ThresholdCalibration {
  const pick = (c: number | null) => {
    let best = { threshold: 0.5, f1: -1 };
    const curve = THRESHOLD_GRID.map((t) => {
      const value = f1(...counts(probs, targets, k, t, c));
      if (value > best.f1 || (value === best.f1 && Math.abs(t - 0.5) < Math.abs(best.threshold - 0.5))) best = { threshold: t, f1: value };
      return { threshold: t, microF1: value };
    });
    return { best, curve };
  };
  const global = pick(null);
  const result: ThresholdCalibration = {
    threshold: global.best.threshold,
    microF1: global.best.f1,
    microF1At05: f1(...counts(probs, targets, k, 0.5, null)),
    curve: global.curve,
  };
  if (perClass) {
    result.perClass = Array.from({ length: k }, (_, c) => {
      const [tp, , fn] = counts(probs, targets, k, 0.5, c);
      return tp + fn === 0 ? global.best.threshold : pick(c).best.threshold;
    });
  }
  return result;
}

export interface CrossFitThreshold {
  /** micro-F1 of every sample at the threshold fitted on the other half (tp, fp, fn pooled). */
  microF1: number;
  /** The threshold fitted on each half. */
  folds: [number, number];
}

/**
 * The honest figure for a calibrated threshold: a threshold chosen to maximise F1 on a set and
 * scored on that same set is optimistic. Split validation in two (`crossFitHalves`), fit on one
 * half, count tp/fp/fn on the other, both ways, and pool the counts. The saved threshold is still
 * the one fitted on all of validation.
 */
export function crossFitThreshold(probs: Float32Array, targets: Float32Array, k: number, perClass = false, seed = 0): CrossFitThreshold {
  const n = targets.length / k;
  const [a, b] = crossFitHalves(n, seed);
  let tp = 0;
  let fp = 0;
  let fn = 0;
  const folds: number[] = [];
  for (const [fit, score] of [[a, b], [b, a]] as const) {
    const cal = calibrateThreshold(pickRows(probs, fit, k), pickRows(targets, fit, k), k, perClass);
    folds.push(cal.threshold);
    const p = pickRows(probs, score, k);
    const t = pickRows(targets, score, k);
    for (let i = 0; i < p.length; i++) {
      const pred = p[i] >= (cal.perClass ? cal.perClass[i % k] : cal.threshold);
      if (pred && t[i] > 0.5) tp++;
      else if (pred) fp++;
      else if (t[i] > 0.5) fn++;
    }
  }
  return { microF1: f1(tp, fp, fn), folds: [folds[0], folds[1]] };
}
