/**
 * The one training loop (docs/architecture.md, "The trainer's loop"): epochs of batches — choose the
 * samples, plan the mix, build the batch, ask the engine for a step — then ask the engine for an
 * evaluation. Every policy is a callback (callbacks.ts). Training (trainer.ts) and the learning-rate
 * finder (lrfind.ts) are two modes of it: the finder's ramp, loss record and stop are its callbacks,
 * and it skips the evaluation.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../base/random.js';
import { Mixer, type LambdaHistory, type ResolvedMixupArgs } from '../mixup/index.js';
import type { Fit, FitState, TrainCallback } from './callbacks.js';
import type { BatchSource } from './batches.js';
import type { TrainEngine } from './engines.js';
import { subsetFeatureSet, type FeatureSet } from './features.js';
import { gatherRows } from './losses.js';
import { headlineMetric, lossOf, metricsOf, type Metrics } from './metrics.js';
import type { EpochRecord } from './history.js';
import type { MixPlan } from '../mixup/index.js';
import { balancedOrder, classCounts, classWeights as balanceClassWeights, drawViews, positiveWeights, type BalanceMode } from './balance.js';

/** What the loop keeps across epochs (saved in checkpoints with the run's own fields). */
export interface LoopState extends FitState {
  history: EpochRecord[];
  /** Validation loss (training loss without validation) of the best epoch: the tie-break. */
  bestLoss?: number;
  best?: Metrics;
  lambdaHistogram: number[];
}

export const LAMBDA_BINS = 20;

/** A fresh state: no epoch done, no best yet. */
export function initialLoopState(): LoopState {
  return { epoch: 0, step: 0, history: [], bestEpoch: -1, bestValue: -Infinity, lambdaHistogram: new Array(LAMBDA_BINS).fill(0) };
}

export interface LoopInputs {
  train: FeatureSet;
  valid: FeatureSet | null;
  /** Seeds the per-epoch streams (order, taps, dropout, clean sample). */
  seed: number;
  batchSize: number;
  /** The clean training loss is measured on at most this many samples. */
  cleanSample: number;
  mixupArgs: ResolvedMixupArgs;
  cutmix: boolean;
  stepsPerEpoch: number;
  epochs: number;
  /** Evaluate after every epoch (training); the lr finder does not. */
  evaluate: boolean;
  /** Skewed data (balance.ts): the class-balanced sampler, or loss weights; default none. */
  balance?: BalanceMode;
  balancePower?: number;
  onBatch?: (done: number, total: number, batch?: { indices: Int32Array; plan: MixPlan }) => void;
  onEpoch?: (record: EpochRecord) => void;
}

/** The classes of each sample of `idx`, from its multi-hot row. */
export function labelSetsOf(targets: Float32Array, k: number, idx: ArrayLike<number>): number[][] {
  return Array.from(idx, (i) => {
    const set: number[] = [];
    for (let c = 0; c < k; c++) if (targets[i * k + c] > 0.5) set.push(c);
    return set;
  });
}


function addHistogram(into: number[], hist: LambdaHistory): void {
  const bins = hist.counts;
  // Re-bin to LAMBDA_BINS when the mixer keeps another resolution.
  bins.forEach((count, i) => {
    const j = Math.min(LAMBDA_BINS - 1, Math.floor((i / bins.length) * LAMBDA_BINS));
    into[j] += count;
  });
}

/**
 * Runs epochs `fit.state.epoch … p.epochs − 1`. Ends early when a callback sets `fit.stop` (after
 * that epoch) or `fit.cancel` (right after that step, without the epoch's evaluation).
 */
export async function runLoop<S extends LoopState>(fit: Fit<S>, callbacks: TrainCallback[], source: BatchSource, engine: TrainEngine, p: LoopInputs): Promise<void> {
  const { train, valid } = p;
  const [h, w] = train.featureShape;
  const k = train.classes.length;
  const state = fit.state;
  const views = train.views ?? 1;
  // balance.ts: loss weights are fixed for the run; the sampler and the views draw per epoch.
  const classWeights = p.balance === 'weights' && !train.multiLabel ? balanceClassWeights(classCounts(train.labelIndex, k)) : undefined;
  const posWeights = p.balance === 'weights' && train.multiLabel ? positiveWeights(train.targets, k) : undefined;
  const cleanSet = !p.evaluate || train.size <= p.cleanSample ? train : subsetFeatureSet(train, Int32Array.from(new Rng(p.seed).fork('clean-sample').permutation(train.size).subarray(0, p.cleanSample)).sort());
  for (let epoch = state.epoch; epoch < p.epochs && !fit.stop; epoch++) {
    const t0 = performance.now();
    // One stream per epoch and purpose: resuming at epoch e replays exactly what a full run does.
    const root = new Rng(p.seed);
    const order = p.balance === 'sampler' ? balancedOrder(train.labelIndex, k, p.balancePower ?? 0, root.fork(`balanced-order-${epoch}`)) : root.fork(`order-${epoch}`).permutation(train.size);
    // One cached view per sample and epoch; validation and the clean loss read view 0.
    const viewOf = views > 1 ? drawViews(root.fork(`views-${epoch}`), train.size, views) : undefined;
    const tapRng = root.fork(`tap-${epoch}`);
    fit.rngs = { dropout: root.fork(`dropout-${epoch}`) };
    fit.epoch = epoch;
    const mixer = Mixer.resolved({ ...p.mixupArgs, seed: new Rng(p.mixupArgs.seed!).fork(`mix-${epoch}`).int(2 ** 31) }, train.classes);
    let lossSum = 0;
    let seen = 0;
    for (let b = 0; b < p.stepsPerEpoch; b++) {
      const idx = order.subarray(b * p.batchSize, Math.min(train.size, (b + 1) * p.batchSize));
      const n = idx.length;
      fit.batch = b;
      fit.indices = idx;
      for (const cb of callbacks) cb.beforeBatch?.(fit);
      const labels = Int32Array.from(idx, (i) => train.labelIndex[i]);
      // Multi-label samples: exclusion and differentClass look at every label (labelSetsOf).
      const plan = mixer.plan(labels, epoch, { spatial: p.cutmix ? [h, w] : undefined, labelSets: train.multiLabel ? labelSetsOf(train.targets, k, idx) : undefined });
      const targets = gatherRows(train.targets, k, idx);
      const x = await source.rows(idx, plan, mixer, tapRng, viewOf && Int32Array.from(idx, (i) => viewOf[i]!));
      fit.batchSize = n;
      for (const cb of callbacks) cb.beforeStep?.(fit);
      fit.loss = await engine.step({ x, n, plan, mixer, mix: source.mix(), targets, lr: fit.lr, dropoutSeed: fit.dropoutSeed, classWeights, posWeights });
      source.done();
      for (const cb of callbacks) cb.afterStep?.(fit);
      lossSum += fit.loss * n;
      seen += n;
      state.step++;
      p.onBatch?.(b + 1, p.stepsPerEpoch, { indices: idx, plan });
      if (fit.cancel) return;
    }
    addHistogram(state.lambdaHistogram, mixer.lambdaHistory());
    state.epoch = epoch + 1;
    if (!p.evaluate) {
      for (const cb of callbacks) await cb.afterEpoch?.(fit);
      continue;
    }
    // With a validation set only the clean loss of the training sample is read: no other metric of it.
    const cleanProbs = await engine.predict(cleanSet);
    const validMetrics = valid ? metricsOf(valid, await engine.predict(valid)) : undefined;
    const cleanMetrics = validMetrics ? undefined : metricsOf(cleanSet, cleanProbs);
    // Best-epoch tracking and checkpoints read the TF.js head and optimizer.
    await engine.toTfjs();
    const seconds = (performance.now() - t0) / 1000;
    const record: EpochRecord = {
      epoch: epoch + 1,
      lr: fit.lr,
      mixedLoss: lossSum / seen,
      cleanLoss: cleanMetrics ? cleanMetrics.loss : lossOf(cleanSet, cleanProbs),
      validLoss: validMetrics?.loss,
      metric: validMetrics ? headlineMetric(validMetrics) : undefined,
      seconds,
      samplesPerSecond: seen / seconds,
      numTensors: tf.memory().numTensors,
    };
    state.history.push(record);
    fit.watched = validMetrics ?? cleanMetrics!;
    for (const cb of callbacks) await cb.afterEpoch?.(fit);
    p.onEpoch?.(record);
  }
}
