/**
 * `mixhead train`: a head trained on a cache (with a validation cache or split), exported with its
 * meta.json, combined model and report. The CLI is a thin layer over `runTrain`; the library takes
 * the same options object.
 */
import * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { CacheReader } from '../cache/reader.js';
import { compareHeaders, type CacheHeader } from '../cache/header.js';
import { loadRecordedBackbone } from './recorded-backbone.js';
import type { Backbone } from '../backbone/types.js';
import { stratifiedIndices } from '../data/split.js';
import { cacheFeatureSet, subsetFeatureSet, type FeatureSet } from '../train/features.js';
import { predictSet, resolveTrainArgs, trainHead, type TrainResult } from '../train/trainer.js';
import { TRAIN_DEFAULTS } from '../train/options.js';
import { claimRunFolder, runTrainOptionsSchema, type RunTrainArgs } from './train-options.js';
import { parseOptions } from '../base/options.js';
import { disposeHead, HEAD_DEFAULTS } from '../train/heads.js';
import { exportModel, type ModelMeta } from '../train/export.js';
import { LEGACY_KERNEL } from '../preprocess/index.js';
import { calibrateThreshold, crossFitThreshold, multiLabelMetrics, singleLabelMetrics, type CrossFitThreshold, type Metrics, type ThresholdCalibration } from '../train/metrics.js';
import { applyTemperature, temperatureReport } from '../train/calibration.js';
import { resolveMixupArgs } from '../mixup/index.js';
import { renderTrainReport } from '../report/index.js';
import type { TrainReport } from '../report/types.js';
import { writeFileAtomic } from '../base/fs.js';
import { currentBackend } from '../tfjs/backend.js';

// RunTrainArgs: its schema, runTrainOptionsSchema, is in ./train-options.ts.
export type { RunTrainArgs };

export type { TrainReport } from '../report/types.js';

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
  // Nor how many views each holds: training draws among its views, validation reads view 0.
  const diffs = compareHeaders(a, { ...b, dtype: a.dtype, quantization: a.quantization, views: a.views });
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
      backbone = ownBackbone = await loadRecordedBackbone(
        h.backbone,
        preprocess,
        (b) => `backbone ${h.backbone.id} now has other weights than when ${args.cache} was made (weights hash ${b.weightsHash.slice(0, 12)}… vs ${h.backbone.weightsHash.slice(0, 12)}…); re-run precompute`,
      );
    }
    await fs.mkdir(args.out, { recursive: true });
    result = await trainHead(train, valid, { ...args, backbone, log: args.log });
    const evalSet = valid ?? train;
    const k = h.classes.length;
    const probs = predictSet(result.head, evalSet);
    // Multi-label: the decision threshold that maximises micro-F1 on validation (0.5 without one).
    let calibration: ThresholdCalibration | undefined;
    let thresholdCrossFit: CrossFitThreshold | undefined;
    if (h.multiLabel && valid) {
      calibration = calibrateThreshold(probs, valid.targets, k, args.thresholdPerClass === true);
      // The honest F1 of a tuned threshold: fitted on one half of validation, scored on the other.
      thresholdCrossFit = crossFitThreshold(probs, valid.targets, k, args.thresholdPerClass === true, args.seed ?? 0);
    } else if (h.multiLabel) args.log?.('no validation set: the decision threshold stays at 0.5 (give --valid or --valid-split to calibrate it)');
    const threshold = calibration?.threshold ?? 0.5;
    const metrics = h.multiLabel ? multiLabelMetrics(probs, evalSet.targets, k, calibration?.perClass ?? threshold) : singleLabelMetrics(probs, evalSet.labelIndex, h.classes);
    if (metrics.kind === 'multi' && thresholdCrossFit) metrics.crossFitMicroF1 = thresholdCrossFit.microF1;
    // Temperature scaling (docs/architecture.md, "Judging"): fitted on validation only, reported by
    // cross-fitting; without validation the head's probabilities stay as they are (T = 1).
    const temperature = valid ? temperatureReport(probs, h.multiLabel ? { targets: valid.targets } : { labels: valid.labelIndex }, k, args.seed ?? 0) : undefined;
    const T = temperature?.temperature ?? 1;
    // Thresholds were fitted on the head's probabilities; meta.json's apply to the scaled ones.
    // sigmoid(logit(p)/T) is increasing in p, so p ≥ t ⇔ scaled(p) ≥ scaled(t): the same decisions.
    const scaled = (t: number) => (T === 1 ? t : applyTemperature(Float32Array.of(t), 1, T, true)[0]);
    const options = resolvedTrainOptions(args, result, h.classes);
    const meta = await exportModel(
      args.out,
      result.head,
      {
        classes: h.classes,
        multiLabel: h.multiLabel,
        threshold: scaled(threshold),
        ...(calibration?.perClass ? { thresholds: calibration.perClass.map(scaled) } : {}),
        ...(temperature ? { temperature: T } : {}),
        featureShape: h.featureShape,
        backbone: h.backbone,
        preprocess,
        ...(h.views ? { views: h.views } : {}),
        training: { options, engine: result.engine, bestEpoch: result.bestEpoch, metrics: summary(metrics) },
      },
      args.combined === false ? undefined : backbone,
    );
    const report: TrainReport = {
      kind: 'train',
      backend: currentBackend()?.name ?? tf.getBackend(),
      trainEngine: result.engine,
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
      lrFind: result.lrFind && (({ lrs, losses, smoothed, suggestion, minimumLr, steepestLr, rule, diverged, fallback }) => ({ lrs, losses, smoothed, suggestion, minimumLr, steepestLr, rule, diverged, ...(fallback ? { fallback } : {}) }))(result.lrFind),
      threshold: calibration,
      ...(thresholdCrossFit ? { thresholdCrossFit } : {}),
      ...(temperature ? { temperature } : {}),
      // Ids and source files of the evaluated samples the report names (top losses).
      samples: (metrics.kind === 'single' ? metrics.topLosses.map((t) => t.index) : []).map((i) => {
        const item = evalSet.item?.(i);
        // IDX images live in memory (RawImage), not on disk: no file to show.
        return { index: i, id: item?.id ?? String(i), source: typeof item?.source === 'string' ? item.source : '' };
      }),
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
  const mixup = resolveMixupArgs({ ...args.mixup, seed: args.mixup?.seed ?? a.seed }, classes);
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
      cleanSample: args.cleanSample ?? TRAIN_DEFAULTS.cleanSample,
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
  return m.kind === 'single'
    ? { loss: m.loss, accuracy: m.accuracy, top5: m.top5, balancedAccuracy: m.balancedAccuracy, macroF1: m.macroF1, nll: m.nll, ece: m.ece, brier: m.brier }
    : { loss: m.loss, microF1: m.microF1, macroF1: m.macroF1, mAP: m.mAP, nll: m.nll, ece: m.ece, brier: m.brier, ...(m.crossFitMicroF1 != null ? { crossFitMicroF1: m.crossFitMicroF1 } : {}) };
}

