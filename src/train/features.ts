/**
 * What the trainer reads: feature maps (or their pooled vectors) and targets, by index. Backed by a
 * feature cache (streamed, memory-mapped) or by arrays in memory (tests, small sets).
 */
import type { DataItem } from '../data/types.js';
import type { CacheReader } from '../cache/reader.js';

export interface FeatureSet {
  /** Number of samples. */
  readonly size: number;
  /** [H, W, C] of one map. */
  readonly featureShape: number[];
  readonly classes: string[];
  readonly multiLabel: boolean;
  /** First label's class index per sample (what `stack` mode and stratification use). */
  readonly labelIndex: Int32Array;
  /** size×K multi-hot targets. */
  readonly targets: Float32Array;
  /**
   * Views per sample (a cache made with `precompute --views N`); 1 when absent. View 0 is the plain
   * image: what validation, evaluation and prediction read unless asked for another.
   */
  readonly views?: number;
  /** Copies the maps of `indices` into `out` (indices.length × H·W·C); `views[j]` picks the view of row j (default 0). */
  readRows(indices: ArrayLike<number>, out: Float32Array, views?: ArrayLike<number>): void;
  /** Copies the global-average-pooled C-vectors of `indices` into `out`; `views` as for readRows. */
  readPooled(indices: ArrayLike<number>, out: Float32Array, views?: ArrayLike<number>): void;
  /** The image of sample i, for the `input` mix point (which reruns the backbone). */
  item?(i: number): DataItem;
}

/** Turns label names into a first-label index and a multi-hot row per sample. */
export function encodeLabels(labels: string[][], classes: string[]): { labelIndex: Int32Array; targets: Float32Array } {
  const k = classes.length;
  const index = new Map(classes.map((c, i) => [c, i]));
  const labelIndex = new Int32Array(labels.length).fill(-1);
  const targets = new Float32Array(labels.length * k);
  labels.forEach((ls, i) => {
    ls.forEach((name, j) => {
      const c = index.get(name);
      if (c == null) throw new Error(`label "${name}" is not in the class vocabulary (${classes.join(', ')})`);
      if (j === 0) labelIndex[i] = c;
      targets[i * k + c] = 1;
    });
  });
  return { labelIndex, targets };
}

/** Mean over the H·W positions of each channel of an H×W×C map, in float64. */
export function poolRow(map: Float32Array, hw: number, c: number, out: Float32Array, outOffset: number): void {
  const acc = new Float64Array(c);
  for (let p = 0; p < hw; p++) {
    const base = p * c;
    for (let j = 0; j < c; j++) acc[j] += map[base + j];
  }
  for (let j = 0; j < c; j++) out[outOffset + j] = acc[j] / hw;
}

/** Checks a view choice against the views a set holds. */
function viewAt(views: ArrayLike<number> | undefined, j: number, count: number): number {
  if (!views) return 0;
  const v = views[j];
  if (!(v >= 0 && v < count && Number.isInteger(v))) throw new RangeError(`view ${v} outside 0..${count - 1}`);
  return v;
}

/** A FeatureSet over maps held in memory: size × H·W·C, or size × views × H·W·C with `views`. */
export function memoryFeatureSet(args: {
  maps: Float32Array;
  featureShape: number[];
  labels: string[][];
  classes: string[];
  multiLabel?: boolean;
  items?: DataItem[];
  /** Views per sample, one after the other in `maps` (default 1). */
  views?: number;
}): FeatureSet {
  const [h, w, c] = args.featureShape;
  const d = h * w * c;
  const views = args.views ?? 1;
  const size = args.maps.length / d / views;
  if (!Number.isInteger(size) || size !== args.labels.length) {
    throw new Error(`memoryFeatureSet: ${args.maps.length} floats do not make ${args.labels.length} × ${views} view(s) of [${args.featureShape}]`);
  }
  const { labelIndex, targets } = encodeLabels(args.labels, args.classes);
  const pooled = new Float32Array(size * views * c);
  for (let i = 0; i < size * views; i++) poolRow(args.maps.subarray(i * d, (i + 1) * d), h * w, c, pooled, i * c);
  return {
    size,
    featureShape: args.featureShape,
    classes: args.classes,
    multiLabel: args.multiLabel ?? args.labels.some((l) => l.length !== 1),
    labelIndex,
    targets,
    ...(views > 1 ? { views } : {}),
    readRows(indices, out, vs) {
      for (let j = 0; j < indices.length; j++) {
        const r = indices[j] * views + viewAt(vs, j, views);
        out.set(args.maps.subarray(r * d, (r + 1) * d), j * d);
      }
    },
    readPooled(indices, out, vs) {
      for (let j = 0; j < indices.length; j++) {
        const r = indices[j] * views + viewAt(vs, j, views);
        out.set(pooled.subarray(r * c, (r + 1) * c), j * c);
      }
    },
    item: args.items ? (i) => args.items![i] : undefined,
  };
}

/** The samples `indices` of another set (a validation split), without copying maps. */
export function subsetFeatureSet(set: FeatureSet, indices: Int32Array): FeatureSet {
  const k = set.classes.length;
  const map = (idx: ArrayLike<number>) => Int32Array.from({ length: idx.length }, (_, j) => indices[idx[j]]);
  const targets = new Float32Array(indices.length * k);
  indices.forEach((src, j) => targets.set(set.targets.subarray(src * k, (src + 1) * k), j * k));
  return {
    size: indices.length,
    featureShape: set.featureShape,
    classes: set.classes,
    multiLabel: set.multiLabel,
    labelIndex: Int32Array.from(indices, (i) => set.labelIndex[i]),
    targets,
    ...(set.views ? { views: set.views } : {}),
    readRows: (idx, out, views) => set.readRows(map(idx), out, views),
    readPooled: (idx, out, views) => set.readPooled(map(idx), out, views),
    item: set.item ? (i) => set.item!(indices[i]) : undefined,
  };
}

/** Default memory for the pooled vectors of a cache: 1 GiB (209,715 entries of 1,280 channels). */
export const DEFAULT_POOLED_BUDGET_BYTES = 2 ** 30;

/** The pooled-vector budget: `MIXHEAD_POOLED_BUDGET_MB` when set, else the default. */
function pooledBudget(given: number | undefined): number {
  if (given != null) return given;
  const env = process.env.MIXHEAD_POOLED_BUDGET_MB;
  if (env != null && env !== '') {
    const mb = Number(env);
    if (!(Number.isFinite(mb) && mb >= 0)) throw new Error(`MIXHEAD_POOLED_BUDGET_MB=${env}: use a number of MiB ≥ 0`);
    return mb * 2 ** 20;
  }
  return DEFAULT_POOLED_BUDGET_BYTES;
}

export interface CacheFeatureSetArgs {
  /**
   * false: pool every batch from the cache, never keep pooled vectors. Default: keep them in
   * memory when they fit `pooledBudgetBytes`, else pool every batch from the cache.
   */
  pooled?: boolean;
  /**
   * Most bytes the pooled vectors (size × C float32) may take in memory; above it, pooled rows are
   * computed per batch from the memory-mapped maps (bounded memory, slower epochs). Default 1 GiB,
   * or MIXHEAD_POOLED_BUDGET_MB.
   */
  pooledBudgetBytes?: number;
}

/**
 * A FeatureSet over a feature cache. Maps are read from the memory-mapped cache per batch (nothing
 * whole in memory). Pooled vectors, H·W times smaller, are computed once, when first asked for, and
 * kept when they fit the budget; labels and targets are flat typed arrays. Memory is therefore
 * bounded by the budget plus about (K·4 + 4) bytes per entry for targets and labels, and the
 * reader's row table (docs/scale.md, "Readers at scale").
 */
export function cacheFeatureSet(reader: CacheReader, args: CacheFeatureSetArgs = {}): FeatureSet {
  const header = reader.header;
  if (header.featureShape.length !== 3) {
    throw new Error(`cache ${reader.dir}: heads train on H×W×C maps; this cache holds [${header.featureShape}]`);
  }
  const labelIndex = reader.firstLabels();
  const targets = reader.multiHot();
  const c = reader.channels;
  const views = reader.views;
  // Every view's pooled vector is kept (views × the memory of one view).
  const keepPooled = args.pooled !== false && reader.size * views * c * 4 <= pooledBudget(args.pooledBudgetBytes);
  // Pooled on first use: a head that reads full maps (conv, CutMix, eval) never pays for it.
  let pooled: Float32Array | undefined;
  return {
    size: reader.size,
    featureShape: header.featureShape,
    classes: header.classes,
    multiLabel: header.multiLabel,
    labelIndex,
    targets,
    ...(views > 1 ? { views } : {}),
    readRows: (idx, out, vs) => void reader.readRows(idx, out, vs),
    readPooled: (idx, out, vs) => {
      if (!keepPooled) return void reader.pooled(idx, out, vs);
      pooled ??= reader.loadAll({ pooled: true, maxBytes: Infinity, allViews: true });
      for (let j = 0; j < idx.length; j++) {
        const r = idx[j] * views + viewAt(vs, j, views);
        out.set(pooled.subarray(r * c, (r + 1) * c), j * c);
      }
    },
    item: (i) => ({ id: reader.idOf(i), source: reader.sourceOf(i), labels: reader.labelsOf(i) }),
  };
}
