/**
 * The one inference loop: feature rows in, probabilities out, in batches, never mixed. Training
 * (validation after each epoch), `eval`, `predict`, threshold calibration and the reports all read
 * probabilities through `predictRows` (TF.js) or, on the ONNX training engine, `predictRowsWith`.
 */
import * as tf from '@tensorflow/tfjs';
import { readTidy } from '../tfjs/tensors.js';
import type { FeatureSet } from './features.js';
import type { Head } from './heads.js';

/** A model that scores feature rows: a head being trained (logits) or an exported one (probabilities). */
export interface Scorer {
  model: tf.LayersModel;
  /** True when `model` takes pooled C-vectors rather than H×W×C maps. */
  pooled: boolean;
  /** `logits` (a training graph: softmax or sigmoid is applied here) or `probabilities` (an exported head). */
  outputs: 'logits' | 'probabilities';
  /** Sigmoid (multi-label) rather than softmax when `outputs` is `logits`. */
  multiLabel: boolean;
}

/** What the loop reads: a count, the map shape, and rows (or their pooled vectors) by index. */
export type Rows = Pick<FeatureSet, 'size' | 'featureShape' | 'readRows' | 'readPooled'>;

/** The training graph of a head as a scorer. */
export function scorerOf(head: Head, multiLabel: boolean): Scorer {
  return { model: head.train, pooled: head.pooled, outputs: 'logits', multiLabel };
}

/** Rows start…start+n of `rows` (pooled C-vectors or full maps) into the front of `buf`, in view `view`. */
export function readBatch(rows: Rows, pooled: boolean, start: number, n: number, buf: Float32Array, view = 0): Float32Array {
  const [h, w, c] = rows.featureShape;
  const x = buf.subarray(0, n * (pooled ? c : h * w * c));
  const idx = Int32Array.from({ length: n }, (_, j) => start + j);
  const views = view ? new Int32Array(n).fill(view) : undefined;
  if (pooled) rows.readPooled(idx, x, views);
  else rows.readRows(idx, x, views);
  return x;
}

/** A batch buffer for `rows`: `batchSize` rows (fewer when the set is smaller), reused from `scratch` when large enough. */
function batchBuffer(rows: Rows, pooled: boolean, batchSize: number, scratch: { buf?: Float32Array } = {}): Float32Array {
  const [h, w, c] = rows.featureShape;
  const need = Math.min(batchSize, Math.max(1, rows.size)) * (pooled ? c : h * w * c);
  if (!scratch.buf || scratch.buf.length < need) scratch.buf = new Float32Array(need);
  return scratch.buf;
}

/**
 * size × k probabilities of every row of `rows`, in `batchSize` batches (inference mode); `view`
 * picks which cached view every row is read in (default 0, the plain image).
 */
export function predictRows(scorer: Scorer, rows: Rows, k: number, batchSize = 256, view = 0): Float32Array {
  const [h, w, c] = rows.featureShape;
  const out = new Float32Array(rows.size * k);
  const buf = batchBuffer(rows, scorer.pooled, batchSize);
  for (let start = 0; start < rows.size; start += batchSize) {
    const n = Math.min(batchSize, rows.size - start);
    const x = readBatch(rows, scorer.pooled, start, n, buf, view);
    const probs = readTidy(() => {
      const input = tf.tensor(x, scorer.pooled ? [n, c] : [n, h, w, c]);
      // apply, not predict: predict re-slices its input into batches of 32, copying all of it each time.
      const y = scorer.model.apply(input, { training: false }) as tf.Tensor;
      if (scorer.outputs === 'probabilities') return y;
      return scorer.multiLabel ? tf.sigmoid(y) : tf.softmax(y);
    });
    out.set(probs, start * k);
  }
  return out;
}

/**
 * The same loop with another runtime's scorer (the ONNX training engine's inference graph): `run`
 * gives the n × k probabilities of n rows. `scratch` keeps the batch buffer between calls.
 */
export async function predictRowsWith(run: (x: Float32Array, n: number) => Promise<Float32Array>, rows: Rows, pooled: boolean, k: number, batchSize = 256, scratch?: { buf?: Float32Array }): Promise<Float32Array> {
  const out = new Float32Array(rows.size * k);
  const buf = batchBuffer(rows, pooled, batchSize, scratch);
  for (let start = 0; start < rows.size; start += batchSize) {
    const n = Math.min(batchSize, rows.size - start);
    out.set(await run(readBatch(rows, pooled, start, n, buf), n), start * k);
  }
  return out;
}

/**
 * Test-time augmentation over cached views: the mean over views 0..views−1 of each row's
 * probabilities, pᵢ = (1/V)·Σᵥ p(xᵢ⁽ᵛ⁾), one pass over the rows per view.
 */
export function predictRowsOverViews(scorer: Scorer, rows: Rows, k: number, views: number, batchSize = 256): Float32Array {
  const sum = new Float64Array(rows.size * k);
  for (let v = 0; v < views; v++) predictRows(scorer, rows, k, batchSize, v).forEach((p, i) => (sum[i] += p));
  return Float32Array.from(sum, (s) => s / views);
}

/** The mean over each group of `views` consecutive rows of a (n·views) × k probability matrix. */
export function meanOverViews(probs: Float32Array, views: number, k: number): Float32Array {
  const n = probs.length / (views * k);
  if (!Number.isInteger(n)) throw new RangeError(`${probs.length} probabilities are not a multiple of ${views} views × ${k} classes`);
  const out = new Float32Array(n * k);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < k; c++) {
      let s = 0;
      for (let v = 0; v < views; v++) s += probs[(i * views + v) * k + c];
      out[i * k + c] = s / views;
    }
  }
  return out;
}

/** Probabilities for every sample of `set` from a head being trained (inference mode, never mixed). */
export function predictSet(head: Head, set: FeatureSet, batchSize = 256): Float32Array {
  return predictRows(scorerOf(head, set.multiLabel), set, set.classes.length, batchSize);
}

/** Rows over maps held in memory (n × H·W·C), e.g. a batch of images just run through the backbone. */
export function mapRows(maps: Float32Array, featureShape: number[]): Rows {
  const d = featureShape.reduce((a, b) => a * b, 1);
  return {
    size: maps.length / d,
    featureShape,
    readRows(indices, out) {
      for (let j = 0; j < indices.length; j++) out.set(maps.subarray(indices[j] * d, (indices[j] + 1) * d), j * d);
    },
    readPooled() {
      throw new Error('mapRows: an exported head takes maps, not pooled vectors');
    },
  };
}
