/**
 * Evaluation metrics, computed on the host from probabilities (float64 sums).
 * Single-label: loss (softmax CE), accuracy, top-5, per-class accuracy, confusion matrix.
 * Multi-label: loss (sigmoid BCE), micro/macro F1 at a threshold, mAP (mean over classes of
 * average precision, the area under the precision–recall step curve).
 */

export interface SingleLabelMetrics {
  kind: 'single';
  loss: number;
  accuracy: number;
  top5: number;
  perClass: { name: string; accuracy: number; count: number }[];
  /** confusion[true][predicted] counts. */
  confusion: number[][];
}

export interface MultiLabelMetrics {
  kind: 'multi';
  loss: number;
  microF1: number;
  macroF1: number;
  mAP: number;
  threshold: number;
}

export type Metrics = SingleLabelMetrics | MultiLabelMetrics;

const EPS = 1e-7;

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
    let higher = 0;
    for (let j = 0; j < k; j++) {
      if (row[j] > row[best]) best = j;
      if (row[j] > row[y]) higher++;
    }
    confusion[y][best]++;
    if (best === y) top1++;
    if (higher < topK) top5++;
  }
  const perClass = classes.map((name, c) => {
    const count = confusion[c].reduce((a, b) => a + b, 0);
    return { name, accuracy: count ? confusion[c][c] / count : NaN, count };
  });
  return { kind: 'single', loss: n ? loss / n : NaN, accuracy: n ? top1 / n : NaN, top5: n ? top5 / n : NaN, perClass, confusion };
}

/** Average precision of one class: mean of precision at each positive, ranked by score (ties by order). */
export function averagePrecision(scores: ArrayLike<number>, positive: ArrayLike<number>): number {
  const idx = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[b] - scores[a]);
  let hits = 0;
  let sum = 0;
  idx.forEach((i, rank) => {
    if (positive[i] > 0.5) {
      hits++;
      sum += hits / (rank + 1);
    }
  });
  return hits ? sum / hits : NaN;
}

/** probs and targets: N×K row-major; targets are 0/1. */
export function multiLabelMetrics(probs: Float32Array, targets: Float32Array, k: number, threshold = 0.5): MultiLabelMetrics {
  const n = targets.length / k;
  let loss = 0;
  const tp = new Array<number>(k).fill(0);
  const fp = new Array<number>(k).fill(0);
  const fn = new Array<number>(k).fill(0);
  for (let i = 0; i < n * k; i++) {
    const p = Math.min(Math.max(probs[i], EPS), 1 - EPS);
    const t = targets[i];
    loss -= t * Math.log(p) + (1 - t) * Math.log(1 - p);
    const pred = probs[i] >= threshold;
    const c = i % k;
    if (pred && t > 0.5) tp[c]++;
    else if (pred) fp[c]++;
    else if (t > 0.5) fn[c]++;
  }
  const f1 = (a: number, b: number, c: number) => (2 * a + b + c > 0 ? (2 * a) / (2 * a + b + c) : NaN);
  const sum = (v: number[]) => v.reduce((a, b) => a + b, 0);
  const perClassF1 = tp.map((_, c) => f1(tp[c], fp[c], fn[c])).filter((v) => !Number.isNaN(v));
  const aps: number[] = [];
  for (let c = 0; c < k; c++) {
    const s = new Float64Array(n);
    const t = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      s[i] = probs[i * k + c];
      t[i] = targets[i * k + c];
    }
    const ap = averagePrecision(s, t);
    if (!Number.isNaN(ap)) aps.push(ap);
  }
  return {
    kind: 'multi',
    loss: n ? loss / (n * k) : NaN,
    microF1: f1(sum(tp), sum(fp), sum(fn)),
    macroF1: perClassF1.length ? sum(perClassF1) / perClassF1.length : NaN,
    mAP: aps.length ? sum(aps) / aps.length : NaN,
    threshold,
  };
}

/** The number early stopping and "best checkpoint" watch: higher is better. */
export function headlineMetric(m: Metrics): { name: string; value: number } {
  return m.kind === 'single' ? { name: 'accuracy', value: m.accuracy } : { name: 'mAP', value: m.mAP };
}
