/**
 * `mixhead eval`: a trained model's metrics on a feature cache made like its training data.
 */
import { z } from 'zod';
import { CacheReader } from '../cache/reader.js';
import { compareHeaders, type CacheHeader } from '../cache/header.js';
import { cacheFeatureSet } from '../train/features.js';
import { predictRows, predictRowsOverViews } from '../train/predict.js';
import { loadHead, readMeta } from '../train/export.js';
import { multiLabelMetrics, singleLabelMetrics, type Metrics } from '../train/metrics.js';
import { parseOptions } from '../base/options.js';
import { evalOptionsSchema } from './model-options.js';

export type RunEvalArgs = z.input<typeof evalOptionsSchema>;

/**
 * Metrics of a trained model on a cache; refuses a cache made with another backbone or classes.
 * `tta`: the probabilities are the mean over the cache's views (it must hold several).
 */
export async function runEval(args: RunEvalArgs): Promise<{ metrics: Metrics; size: number; views: number }> {
  parseOptions(evalOptionsSchema, args);
  const meta = await readMeta(args.model);
  const reader = CacheReader.open(args.cache);
  try {
    const h = reader.header;
    // The model's data as a cache header (storage type taken from the cache: it does not matter here).
    const trainedOn: CacheHeader = { ...h, backbone: meta.backbone, preprocess: meta.preprocess, featureShape: meta.featureShape, classes: meta.classes, multiLabel: meta.multiLabel };
    const diffs = compareHeaders(trainedOn, h);
    if (diffs.length) throw new Error(`${args.cache} was not made like the data ${args.model} was trained on: ${diffs.join('; ')}`);
    if (args.tta && reader.views < 2) throw new Error(`${args.cache} holds one view per image: --tta averages over cached views; precompute it with --views N (N ≥ 2)`);
    const head = await loadHead(args.model);
    try {
      const set = cacheFeatureSet(reader, { pooled: false });
      const k = meta.classes.length;
      const scorer = { model: head, pooled: false, outputs: 'probabilities', multiLabel: meta.multiLabel } as const;
      const views = args.tta ? reader.views : 1;
      const probs = views > 1 ? predictRowsOverViews(scorer, set, k, views, 64) : predictRows(scorer, set, k, 64);
      // The threshold(s) calibrated at training time (meta.json).
      const metrics = meta.multiLabel ? multiLabelMetrics(probs, set.targets, k, meta.thresholds ?? meta.threshold) : singleLabelMetrics(probs, set.labelIndex, meta.classes);
      return { metrics, size: set.size, views };
    } finally {
      head.dispose();
    }
  } finally {
    await reader.close();
  }
}

