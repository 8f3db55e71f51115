/**
 * The policies around the training loop, as small callbacks hooked to named events of one loop
 * (the shape of fastai's `Learner` callbacks and tfjs-layers' `CustomCallback`): the loop in
 * trainer.ts only walks epochs and batches and asks its engine (engines.ts) for optimizer steps, which
 * include decoupled weight decay; everything else — the learning-rate schedule, fresh dropout masks,
 * the divergence guard, best-epoch
 * tracking and restore, early stopping, checkpoints — is one callback each, run in list order; users
 * add theirs through `TrainArgs.callbacks` (fastai's `cbs`).
 *
 * Events, in the order the loop fires them:
 *   beforeBatch (its samples chosen) → beforeStep (after the batch is built) → the optimizer step → afterStep
 *   afterEpoch (after the epoch's evaluation; `fit.record` holds it) → afterFit (once, at the end).
 */
import * as tf from '@tensorflow/tfjs';
import path from 'node:path';
import type { Head } from './heads.js';
import type { Metrics } from './metrics.js';
import { headlineMetric } from './metrics.js';
import { learningRateAt, type ScheduleName } from './schedule.js';
import { loadCheckpoint, saveCheckpoint, saveCheckpointArrays } from './checkpoint.js';
import type { Rng } from '../base/random.js';

/** What the loop and its callbacks share. */
export interface Fit<State extends FitState = FitState> {
  head: Head;
  optimizer: tf.Optimizer;
  state: State;
  /** 0-based epoch being trained. */
  epoch: number;
  /** 0-based batch within the epoch, its samples (indices into the training set), size, and the loss of the last step. */
  batch: number;
  indices?: Int32Array;
  batchSize: number;
  loss: number;
  /** Learning rate of the current step. */
  lr: number;
  /** Seed of the current step's dropout mask (freshDropout). */
  dropoutSeed: number;
  /** This epoch's streams (`dropout-<epoch>` …), forked from the run's seed. */
  rngs: { dropout: Rng };
  /** The finished epoch's metrics (afterEpoch): validation when there is a validation set, else training. */
  watched?: Metrics;
  /** The best epoch's weights, kept on the host by bestEpoch (Head order); checkpoints writes them as `best`. */
  bestWeights?: { epoch: number; values: Float32Array[] };
  /** Set by a callback to end training after this epoch. */
  stop: boolean;
  /** Set by a callback to end the run right after this step, without the epoch's evaluation (the lr finder's stop). */
  cancel?: boolean;
  log?: (line: string) => void;
}

/** The part of the loop state the callbacks read and write (saved in checkpoints). */
export interface FitState {
  epoch: number;
  step: number;
  bestEpoch: number;
  bestValue: number;
  bestLoss?: number;
  best?: Metrics;
  stoppedEarly?: boolean;
  /** Epoch of the newest checkpoint `last` (checkpoints); the divergence guard names it. */
  checkpointEpoch?: number;
}

/**
 * A policy hooked to the loop's events; built-in ones are below, and users add their own through
 * `TrainArgs.callbacks` (run after the built-in ones, in order, and before the checkpoints).
 */
export interface TrainCallback {
  name: string;
  /** Before the batch's mix is planned: `fit.batch` and `fit.indices` say which samples it holds. */
  beforeBatch?(fit: Fit): void;
  /** After the batch is built, before the step: `fit.lr` is the rate the step will use. */
  beforeStep?(fit: Fit): void;
  afterStep?(fit: Fit): void;
  afterEpoch?(fit: Fit): void | Promise<void>;
  afterFit?(fit: Fit): void | Promise<void>;
}

/** Sets each step's learning rate from the schedule (src/train/schedule.ts). */
export function lrSchedule(schedule: ScheduleName, peak: number, totalSteps: number, warmupSteps: number): TrainCallback {
  return {
    name: 'lrSchedule',
    beforeStep(fit) {
      // The engine applies fit.lr at the step (an input of the ONNX graph; the TF.js optimizer's rate).
      fit.lr = learningRateAt(schedule, peak, fit.state.step, totalSteps, warmupSteps);
    },
  };
}

/** A fresh dropout mask per step, seeded from the epoch's `dropout` stream (see Head.setDropoutSeed). */
export function freshDropout(): TrainCallback {
  return {
    name: 'freshDropout',
    beforeStep(fit) {
      fit.dropoutSeed = fit.rngs.dropout.int(2 ** 31);
      fit.head.setDropoutSeed(fit.dropoutSeed);
    },
  };
}

export class TrainingDivergedError extends Error {}

/** Stops with a clear error when a step's loss is not finite, naming the last good checkpoint. */
export function divergenceGuard(ckptDir: string | undefined): TrainCallback {
  return {
    name: 'divergenceGuard',
    afterStep(fit) {
      if (Number.isFinite(fit.loss)) return;
      const at = fit.state.checkpointEpoch;
      const last = at && ckptDir ? ` The last good checkpoint is ${path.join(ckptDir, 'last')} (epoch ${at}).` : '';
      throw new TrainingDivergedError(`training loss became ${fit.loss} at epoch ${fit.epoch + 1}, batch ${fit.batch + 1} (lr ${fit.lr.toExponential(2)}): lower --lr.${last}`);
    },
  };
}

/**
 * Whether an epoch beats the best so far: a higher metric, or the same metric with a validation loss
 * lower by more than 1e-4 of itself (a tie on accuracy is common on small validation sets, and the
 * lower loss is the better-calibrated head; the margin keeps float noise from counting as progress).
 */
export function isBetter(value: number, loss: number, bestValue: number, bestLoss: number | undefined): boolean {
  if (value > bestValue) return true;
  if (value < bestValue) return false;
  return bestLoss == null || !Number.isFinite(bestLoss) ? Number.isFinite(loss) : loss < bestLoss - 1e-4 * Math.abs(bestLoss);
}

/**
 * Tracks the best epoch (metric first, validation loss as the tie-break), keeps its weights on the
 * host (`fit.bestWeights`; the checkpoints callback writes them as `best`), and at the end puts them
 * back: the head returned is always the best epoch's. Says so when the best epoch is the last
 * ("still improving").
 */
export function bestEpoch(ckptDir: string | undefined): TrainCallback {
  return {
    name: 'bestEpoch',
    afterEpoch(fit) {
      const m = fit.watched!;
      const s = fit.state;
      if (s.bestEpoch >= 0 && !isBetter(headlineMetric(m).value, m.loss, s.bestValue, s.bestLoss)) return;
      s.bestValue = headlineMetric(m).value;
      s.bestLoss = m.loss;
      s.bestEpoch = fit.epoch + 1;
      s.best = m;
      fit.bestWeights = { epoch: fit.epoch + 1, values: fit.head.train.trainableWeights.map((v) => Float32Array.from(v.read().dataSync() as Float32Array)) };
    },
    async afterFit(fit) {
      const s = fit.state;
      if (s.bestEpoch === s.epoch) {
        if (s.epoch > 1 && !s.stoppedEarly) fit.log?.(`the best epoch is the last (${s.epoch}): the head is still improving; more epochs or a higher lr may help`);
        return;
      }
      if (fit.bestWeights?.epoch === s.bestEpoch) {
        const values = fit.bestWeights.values;
        fit.head.train.trainableWeights.forEach((v, i) =>
          tf.tidy(() => {
            v.write(tf.tensor(values[i], v.shape as number[]));
          }),
        );
      } else if (ckptDir) {
        // Resumed after the best epoch: its weights are on disk only.
        const best = await loadCheckpoint<FitState>(ckptDir, 'best');
        if (best?.state.bestEpoch === s.bestEpoch) await best.restore(fit.head.train.trainableWeights, null);
        else fit.log?.(`the best epoch's weights (epoch ${s.bestEpoch}) are not in ${ckptDir} (a resume with fewer epochs after a kill?): the head is the last epoch's`);
      }
    },
  };
}

/** Ends training after `patience` epochs without a better epoch. */
export function earlyStopping(patience: number): TrainCallback {
  return {
    name: 'earlyStopping',
    afterEpoch(fit) {
      if (fit.state.epoch - fit.state.bestEpoch >= patience) fit.state.stoppedEarly = fit.stop = true;
    },
  };
}

/**
 * Saves checkpoint `last` (weights, optimizer, loop state) after an epoch when `everySeconds` have
 * passed since the previous save (0: every epoch), and always after the final epoch or a stop; before
 * it, `best` when the best epoch changed since the last save. A resume starts from `last`, and replays
 * the epochs after it exactly (docs/architecture.md, "Checkpoints"), so a best epoch found after it is
 * found again; one at or before it is in `best`. The default interval keeps a default mlp run (63
 * short epochs) to a few saves instead of 63 (~8 MB each: weights and Adam's two moments).
 */
export function checkpoints(ckptDir: string, everySeconds: number, totalEpochs: number): TrainCallback {
  let since = performance.now();
  let bestOnDisk = -1;
  return {
    name: 'checkpoints',
    async afterEpoch(fit) {
      const s = fit.state;
      s.stoppedEarly = fit.stop;
      const due = everySeconds <= 0 || fit.stop || s.epoch >= totalEpochs || performance.now() - since >= everySeconds * 1000;
      if (!due) return;
      const kept = fit.bestWeights;
      if (kept && kept.epoch === s.bestEpoch && kept.epoch !== bestOnDisk) {
        const weights = fit.head.train.trainableWeights;
        await saveCheckpointArrays(ckptDir, 'best', s, kept.values.map((data, i) => ({ name: weights[i]!.name, shape: weights[i]!.shape as number[], data })), []);
        bestOnDisk = kept.epoch;
      }
      s.checkpointEpoch = s.epoch;
      await saveCheckpoint(ckptDir, 'last', s, fit.head.train.trainableWeights, fit.optimizer);
      since = performance.now();
    },
  };
}
