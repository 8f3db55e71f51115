/**
 * `mixhead predict`: image files through the backbone named in a model's meta.json (checked against
 * its weights hash) and the trained head.
 */
import type * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { decodeImage, decodeToRgb, normalize, readImageBytes } from '../data/image.js';
import { viewSpec, type ViewSpec } from '../preprocess/views.js';
import { contentKey } from './precompute.js';
import { loadHead, predictedLabels, readMeta } from '../train/export.js';
import { mapRows, meanOverViews, predictRows } from '../train/predict.js';
import { applyTemperature } from '../train/calibration.js';
import { extractFeatures, sessionOf, useEngine } from '../engine/index.js';
import { parseOptions } from '../base/options.js';
import { predictOptionsSchema, PREDICT_DEFAULTS } from './model-options.js';
import { loadRecordedBackbone } from './recorded-backbone.js';

export interface Prediction {
  file: string;
  /** Labels with probabilities, best first (top-k; for multi-label, those ≥ threshold first). */
  top: { label: string; probability: number }[];
  /** Multi-label: the labels at or above the model's calibrated threshold (meta.json). */
  labels?: string[];
  error?: string;
}

export type RunPredictArgs = z.input<typeof predictOptionsSchema>;

/**
 * Predicts images with a trained model: the combined model when there is one, else the backbone
 * named in meta.json (checked against its weights hash) followed by the head.
 */
export async function runPredict(args: RunPredictArgs): Promise<Prediction[]> {
  parseOptions(predictOptionsSchema, args);
  const meta = await readMeta(args.model);
  const backbone = await loadRecordedBackbone(meta.backbone, meta.preprocess, () => `backbone ${meta.backbone.id} has other weights than the one ${args.model} was trained on`);
  let head: tf.LayersModel | undefined;
  try {
    const engine = await useEngine(backbone, { engine: args.engine, log: args.log });
    args.log?.(`backbone ${backbone.id} on engine ${engine}${engine === 'onnx' ? ` (${sessionOf(backbone)!.description})` : ''}`);
    head = await loadHead(args.model);
  } catch (err) {
    backbone.dispose();
    throw err;
  }
  // Test-time augmentation: the training cache's views (meta.json), else the image and its mirror.
  const tta: ViewSpec | undefined = args.tta ? (meta.views ?? viewSpec(2, true)) : undefined;
  if (tta && !meta.views) args.log?.(`${args.model} was trained on one view per image: --tta averages each image and its mirror`);
  const views = tta?.count ?? 1;
  const top = Math.max(1, Math.min(args.top ?? PREDICT_DEFAULTS.top, meta.classes.length));
  const bs = args.batchSize ?? PREDICT_DEFAULTS.batchSize;
  const out: Prediction[] = [];
  const px = meta.preprocess.size * meta.preprocess.size * 3 * views;
  // The file's bytes (read once: they also seed its views, as precompute seeds them) → RGB of every view → floats.
  const decode = async (file: string): Promise<Float32Array> => {
    if (!tta) return decodeImage(file, meta.preprocess);
    const bytes = await readImageBytes(file);
    return normalize(await decodeToRgb(bytes, meta.preprocess, {}, { spec: tta, contentKey: contentKey(bytes, meta.preprocess) }), meta.preprocess);
  };
  try {
    for (let s = 0; s < args.images.length; s += bs) {
      const files = args.images.slice(s, s + bs);
      const decoded = await Promise.all(
        files.map((f) =>
          decode(f).then(
            (d) => ({ d }),
            (err: Error & { reason?: string }) => ({ error: err.reason ?? err.message }),
          ),
        ),
      );
      const good = decoded.map((d, i) => ('d' in d ? i : -1)).filter((i) => i >= 0);
      let probs: Float32Array = new Float32Array(0);
      if (good.length) {
        const pixels = new Float32Array(good.length * px);
        good.forEach((i, j) => pixels.set((decoded[i] as { d: Float32Array }).d, j * px));
        const maps = await extractFeatures(backbone, pixels, good.length * views);
        probs = predictRows({ model: head!, pooled: false, outputs: 'probabilities', multiLabel: meta.multiLabel }, mapRows(maps, backbone.featureShape), meta.classes.length, bs);
        if (views > 1) probs = meanOverViews(probs, views, meta.classes.length);
        // The temperature of meta.json, on the (view-averaged) probabilities, as eval applies it.
        probs = applyTemperature(probs, meta.classes.length, meta.temperature ?? 1, meta.multiLabel);
      }
      const k = meta.classes.length;
      files.forEach((file, i) => {
        const d = decoded[i];
        if ('error' in d) {
          out.push({ file, top: [], error: d.error });
          return;
        }
        const j = good.indexOf(i);
        const row = Array.from(probs.subarray(j * k, (j + 1) * k), (p, c) => ({ label: meta.classes[c], probability: p }));
        row.sort((a, b) => b.probability - a.probability);
        out.push({ file, top: row.slice(0, top), ...(meta.multiLabel ? { labels: predictedLabels(meta, probs.subarray(j * k, (j + 1) * k)) } : {}) });
      });
    }
  } finally {
    head.dispose();
    backbone.dispose();
  }
  return out;
}
