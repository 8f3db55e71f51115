/**
 * Whole jobs on caches and model folders: train (with validation split, export and report), eval
 * and predict. The CLI is a thin layer over these; each takes the same options object.
 */
import * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { CacheReader } from './cache/reader.js';
import { compareHeaders, type CacheHeader } from './cache/header.js';
import { loadBackbone, reloadArgs } from './backbone/index.js';
import type { Backbone } from './backbone/types.js';
import { decodeImage } from './data/image.js';
import { stratifiedIndices } from './data/split.js';
import { cacheFeatureSet, subsetFeatureSet, type FeatureSet } from './train/features.js';
import { evaluateSet, predictSet, resolveTrainArgs, trainHead, type EpochRecord, type TrainArgs, type TrainResult } from './train/trainer.js';
import { claimRunFolder, runTrainOptionsSchema, type RunTrainArgs } from './train/options.js';
import { parseOptions } from './options/fields.js';
import { evalOptionsSchema, predictOptionsSchema } from './options/model.js';
import { lrFindOptionsSchema } from './options/lrfind.js';
import { disposeHead, HEAD_DEFAULTS } from './train/heads.js';
import { exportModel, loadHead, predictedLabels, readMeta, type ModelMeta } from './train/export.js';
import { LEGACY_KERNEL } from './web/preprocess.js';
import { calibrateThreshold, multiLabelMetrics, singleLabelMetrics, type Metrics, type ThresholdCalibration } from './train/metrics.js';
import { resolveMixupArgs } from './mixup/index.js';
import { lrFindChart, renderTrainReport } from './report/index.js';
import { findLearningRate, type LrFindArgs, type LrFindResult } from './train/lrfind.js';
import type { TrainReport } from './report/types.js';
import { writeFileAtomic } from './util/fs.js';
import { currentBackend } from './backend.js';
import { readTidy } from './tensors.js';
import { extractFeatures, sessionOf, useEngine, type EngineChoice } from './engine/index.js';

// RunTrainArgs: its schema, runTrainOptionsSchema, is in ./train/options.ts.
export type { RunTrainArgs };

export type { TrainReport } from './report/types.js';

export interface RunTrainResult {
  out: string;
  meta: ModelMeta;
  result: TrainResult;
  /** Validation metrics of the exported (best) head, or training metrics without validation. */
  metrics: Metrics;
  report: TrainReport;
  /** Path of report.html (absent with `report: false`). */
  reportHtml?: string;
}

/** Stratified by first label, deterministic by seed (the same split as `split` in src/data). */
export function stratifiedSplit(labelIndex: Int32Array, fraction: number, seed: number): { train: Int32Array; valid: Int32Array } {
  if (!(fraction > 0 && fraction < 1)) throw new Error(`validSplit must be in (0, 1); got ${fraction}`);
  return stratifiedIndices(labelIndex, fraction, seed);
}

/** Refuses caches that do not match: the message names the caches and each difference. */
export function assertSameFeatures(a: CacheHeader, aDir: string, b: CacheHeader, bDir: string): void {
  // How values are stored does not matter here (the reader decodes to float32): compare the rest.
  const diffs = compareHeaders(a, { ...b, dtype: a.dtype, quantization: a.quantization });
  if (diffs.length) throw new Error(`${bDir} does not match ${aDir}: ${diffs.join('; ')}`);
}

export async function runTrain(input: RunTrainArgs): Promise<RunTrainResult> {
  const t0 = performance.now();
  const args = parseOptions(runTrainOptionsSchema, input) as RunTrainArgs;
  await claimRunFolder(args);
  const reader = CacheReader.open(args.cache);
  let validReader: CacheReader | undefined;
  let ownBackbone: Backbone | undefined;
  let result: TrainResult | undefined;
  try {
    if (reader.size === 0) throw new Error(`${args.cache}: the cache holds no entries; run mixhead precompute first`);
    const all = cacheFeatureSet(reader);
    let train: FeatureSet = all;
    let valid: FeatureSet | null = null;
    if (args.valid) {
      validReader = CacheReader.open(args.valid);
      assertSameFeatures(reader.header, args.cache, validReader.header, args.valid);
      valid = cacheFeatureSet(validReader);
    } else if (args.validSplit) {
      const split = stratifiedSplit(all.labelIndex, args.validSplit, args.seed ?? 0);
      train = subsetFeatureSet(all, split.train);
      valid = subsetFeatureSet(all, split.valid);
    }
    let backbone: Backbone | undefined = args.backbone;
    const h = reader.header;
    // A header naming no kernel predates kernels: its features were resized with sharp's.
    const preprocess = { ...h.preprocess, kernel: h.preprocess.kernel ?? LEGACY_KERNEL };
    const needBackbone = args.mixAt === 'input' || (args.combined !== false && h.backbone.kind === 'layers');
    if (!backbone && needBackbone) {
      backbone = ownBackbone = await loadBackbone(reloadArgs(h.backbone, preprocess));
      if (backbone.weightsHash !== h.backbone.weightsHash) {
        throw new Error(`backbone ${h.backbone.id} now has other weights than when ${args.cache} was made (weights hash ${backbone.weightsHash.slice(0, 12)}… vs ${h.backbone.weightsHash.slice(0, 12)}…); re-run precompute`);
      }
    }
    await fs.mkdir(args.out, { recursive: true });
    result = await trainHead(train, valid, { ...args, backbone, log: args.log });
    const evalSet = valid ?? train;
    // Single-label with validation: the trainer already measured the returned (best) head on it.
    const reuse = !h.multiLabel && valid && result.best;
    const probs = reuse ? new Float32Array(0) : predictSet(result.head, evalSet);
    // Multi-label: the decision threshold that maximises micro-F1 on validation (0.5 without one).
    let calibration: ThresholdCalibration | undefined;
    if (h.multiLabel && valid) calibration = calibrateThreshold(probs, valid.targets, h.classes.length, args.thresholdPerClass === true);
    else if (h.multiLabel) args.log?.('no validation set: the decision threshold stays at 0.5 (give --valid or --valid-split to calibrate it)');
    const threshold = calibration?.threshold ?? 0.5;
    const metrics = h.multiLabel
      ? multiLabelMetrics(probs, evalSet.targets, h.classes.length, calibration?.perClass ?? threshold)
      : reuse || singleLabelMetrics(probs, evalSet.labelIndex, h.classes);
    const options = resolvedTrainOptions(args, result, h.classes);
    const meta = await exportModel(
      args.out,
      result.head,
      {
        classes: h.classes,
        multiLabel: h.multiLabel,
        threshold,
        ...(calibration?.perClass ? { thresholds: calibration.perClass } : {}),
        featureShape: h.featureShape,
        backbone: h.backbone,
        preprocess,
        training: { options, bestEpoch: result.bestEpoch, metrics: summary(metrics) },
      },
      args.combined === false ? undefined : backbone,
    );
    const report: TrainReport = {
      kind: 'train',
      backend: currentBackend()?.name ?? tf.getBackend(),
      cache: path.resolve(args.cache),
      valid: args.valid ? path.resolve(args.valid) : args.validSplit ? `${args.validSplit} of the training cache` : 'none',
      trainSize: train.size,
      validSize: valid?.size ?? 0,
      classes: h.classes,
      options,
      history: result.history,
      bestEpoch: result.bestEpoch,
      stoppedEarly: result.stoppedEarly,
      stillImproving: result.stillImproving,
      lambdaHistogram: result.lambdaHistogram,
      metrics,
      lrFind: result.lrFind && (({ lrs, losses, smoothed, suggestion, minimumLr, steepestLr, rule, diverged }) => ({ lrs, losses, smoothed, suggestion, minimumLr, steepestLr, rule, diverged }))(result.lrFind),
      threshold: calibration,
      seconds: (performance.now() - t0) / 1000,
    };
    await writeFileAtomic(path.join(args.out, 'report.json'), JSON.stringify(report, null, 2));
    const reportHtml = args.report === false ? undefined : await renderTrainReport(report, args.out);
    return { out: path.resolve(args.out), meta, result, metrics, report, reportHtml };
  } finally {
    ownBackbone?.dispose();
    if (result) disposeHead(result.head);
    await reader.close();
    await validReader?.close();
  }
}

/**
 * Every option the run used, for meta.json and the reports: the given values, the defaults of the
 * rest, and 'auto' replaced by what it resolved to (the requested value kept beside it).
 */
export function resolvedTrainOptions(args: RunTrainArgs, result: Pick<TrainResult, 'epochs' | 'lr'>, classes: string[]): Record<string, unknown> {
  const a = resolveTrainArgs(args);
  const mixup = resolveMixupArgs({ alpha: 0.4, ...args.mixup, seed: args.mixup?.seed ?? a.seed }, classes);
  const alphaSchedule = typeof mixup.alphaSchedule === 'function' ? 'function' : mixup.alphaSchedule ?? null;
  return JSON.parse(
    JSON.stringify({
      cache: args.cache,
      valid: args.valid ?? null,
      validSplit: args.validSplit ?? null,
      out: args.out,
      ...a,
      epochs: result.epochs,
      epochsRequested: a.epochs,
      lr: result.lr,
      lrRequested: a.lr,
      hidden: args.hidden ?? HEAD_DEFAULTS[a.head].hidden,
      dropout: args.dropout ?? HEAD_DEFAULTS[a.head].dropout,
      patience: args.patience ?? null,
      cleanSample: args.cleanSample ?? 2048,
      poolFirst: args.poolFirst !== false,
      resume: args.resume === true,
      combined: args.combined !== false,
      thresholdPerClass: args.thresholdPerClass === true,
      mixup: { ...mixup, excludeClasses: mixup.excludeClasses.map((c) => classes[c]), alphaSchedule },
    }),
  );
}

/** The few numbers worth printing. */
export function summary(m: Metrics): Record<string, number> {
  return m.kind === 'single' ? { loss: m.loss, accuracy: m.accuracy, top5: m.top5 } : { loss: m.loss, microF1: m.microF1, macroF1: m.macroF1, mAP: m.mAP };
}

export interface RunLrFindArgs extends LrFindArgs {
  /** Training cache directory. */
  cache: string;
  /** Where to write the curve as SVG; none when unset. */
  plot?: string;
}

/** The lr finder on a cache: the suggested rate and, with `plot`, the curve as an SVG file. */
export async function runLrFind(args: RunLrFindArgs): Promise<{ result: LrFindResult; plot?: string }> {
  parseOptions(lrFindOptionsSchema, args);
  const reader = CacheReader.open(args.cache);
  try {
    if (reader.size === 0) throw new Error(`${args.cache}: the cache holds no entries; run mixhead precompute first`);
    const { cache: _c, plot, ...finder } = args;
    const result = await findLearningRate(cacheFeatureSet(reader), finder);
    if (!plot) return { result };
    await fs.mkdir(path.dirname(path.resolve(plot)), { recursive: true });
    await writeFileAtomic(plot, lrFindChart(result));
    return { result, plot: path.resolve(plot) };
  } finally {
    await reader.close();
  }
}

export interface RunEvalArgs {
  model: string;
  cache: string;
}

/** Metrics of a trained model on a cache; refuses a cache made with another backbone or classes. */
export async function runEval(args: RunEvalArgs): Promise<{ metrics: Metrics; size: number }> {
  parseOptions(evalOptionsSchema, args);
  const meta = await readMeta(args.model);
  const reader = CacheReader.open(args.cache);
  try {
    const h = reader.header;
    // The model's data as a cache header (storage type taken from the cache: it does not matter here).
    const trainedOn: CacheHeader = { ...h, backbone: meta.backbone, preprocess: meta.preprocess, featureShape: meta.featureShape, classes: meta.classes, multiLabel: meta.multiLabel };
    const diffs = compareHeaders(trainedOn, h);
    if (diffs.length) throw new Error(`${args.cache} was not made like the data ${args.model} was trained on: ${diffs.join('; ')}`);
    const head = await loadHead(args.model);
    try {
      const set = cacheFeatureSet(reader, { pooled: false });
      const k = meta.classes.length;
      const probs = new Float32Array(set.size * k);
      const [hh, ww, cc] = meta.featureShape;
      const bs = 64;
      const buf = new Float32Array(bs * hh * ww * cc);
      for (let s = 0; s < set.size; s += bs) {
        const n = Math.min(bs, set.size - s);
        const idx = Int32Array.from({ length: n }, (_, j) => s + j);
        set.readRows(idx, buf);
        const p = readTidy(() => head.apply(tf.tensor4d(buf.subarray(0, n * hh * ww * cc), [n, hh, ww, cc]), { training: false }) as tf.Tensor);
        probs.set(p, s * k);
      }
      // The threshold(s) calibrated at training time (meta.json).
      const metrics = meta.multiLabel ? multiLabelMetrics(probs, set.targets, k, meta.thresholds ?? meta.threshold) : singleLabelMetrics(probs, set.labelIndex, meta.classes);
      return { metrics, size: set.size };
    } finally {
      head.dispose();
    }
  } finally {
    await reader.close();
  }
}

export interface Prediction {
  file: string;
  /** Labels with probabilities, best first (top-k; for multi-label, those ≥ threshold first). */
  top: { label: string; probability: number }[];
  /** Multi-label: the labels at or above the model's calibrated threshold (meta.json). */
  labels?: string[];
  error?: string;
}

export interface RunPredictArgs {
  model: string;
  images: string[];
  top?: number;
  batchSize?: number;
  /** Engine of the backbone (default: onnx when onnxruntime-node loads, see docs/engine.md). */
  engine?: EngineChoice;
  /** Notices, and one line naming the engine that ran. */
  log?: (line: string) => void;
}

/**
 * Predicts images with a trained model: the combined model when there is one, else the backbone
 * named in meta.json (checked against its weights hash) followed by the head.
 */
export async function runPredict(args: RunPredictArgs): Promise<Prediction[]> {
  parseOptions(predictOptionsSchema, args);
  const meta = await readMeta(args.model);
  const backbone = await loadBackbone(reloadArgs(meta.backbone, meta.preprocess));
  if (backbone.weightsHash !== meta.backbone.weightsHash) {
    backbone.dispose();
    throw new Error(`backbone ${meta.backbone.id} has other weights than the one ${args.model} was trained on`);
  }
  let head: tf.LayersModel | undefined;
  try {
    const engine = await useEngine(backbone, { engine: args.engine, log: args.log });
    args.log?.(`backbone ${backbone.id} on engine ${engine}${engine === 'onnx' ? ` (${sessionOf(backbone)!.description})` : ''}`);
    head = await loadHead(args.model);
  } catch (err) {
    backbone.dispose();
    throw err;
  }
  const top = Math.max(1, Math.min(args.top ?? 5, meta.classes.length));
  const bs = args.batchSize ?? 16;
  const out: Prediction[] = [];
  const px = meta.preprocess.size * meta.preprocess.size * 3;
  try {
    for (let s = 0; s < args.images.length; s += bs) {
      const files = args.images.slice(s, s + bs);
      const decoded = await Promise.all(
        files.map((f) =>
          decodeImage(f, meta.preprocess).then(
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
        const maps = await extractFeatures(backbone, pixels, good.length);
        probs = readTidy(() => head!.apply(tf.tensor(maps, [good.length, ...backbone.featureShape]), { training: false }) as tf.Tensor);
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
