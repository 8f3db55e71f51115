/**
 * The learning-rate finder (Smith, "Cyclical Learning Rates for Training Neural Networks", 2017,
 * §3.3; fastai's `lr_find`): train a fresh head for about 100 steps while the learning rate grows
 * exponentially from `start` to `end`, record the loss of each step, and read a good rate off the
 * curve. On cached features this takes seconds.
 *
 * - Ramp: lrᵢ = start·(end/start)^(i/(steps − 1)).
 * - Smoothing: an exponential moving average with bias correction, sᵢ = aᵢ/(1 − βⁱ⁺¹) where
 *   aᵢ = β·aᵢ₋₁ + (1 − β)·lossᵢ (β = 0.98, as fastai), so the first points are not pulled to 0.
 * - Stop: when the smoothed loss exceeds `divergence` (4) × its minimum, or a loss is not finite.
 * - Suggestion ("steepest"): the rate where the smoothed loss falls fastest against log(lr), before
 *   its minimum. That is where a step of this size makes the most progress while the loss is still
 *   stable. The alternative "minimum/10" (fastai's old lr_min) fails on heads that start far from a
 *   good solution: with Adam the loss keeps falling through rates that are already too large, simply
 *   because progress accumulates over the ramp, so the minimum lands at the end of the ramp (on the
 *   4-class blob problem of test/train/lrfind.test.ts the linear head's minimum is at lr 8, and
 *   minimum/10 = 0.8 trains to a loss of 1.2 where 0.1 reaches 0.35; steepest picks 0.11). fastai's
 *   "valley" sits between the two. Both rules are in the result; measured against hand sweeps in
 *   README ("Defaults").
 *
 * When the curve holds no descent to read (the smoothed loss never falls 5% below where it stood once
 * the average had settled, or no point falls before the minimum), the suggestion would be noise: a
 * head on features that say little about the labels (a backbone with random weights, a tiny set)
 * gave rates from 1e-8 to 4 across seeds. The finder then returns a fixed rate per head instead
 * (`fallback` says why): the best of the README's hand sweeps with Adam (linear 3e-2, mlp and conv
 * 1e-2); 1e-1 for momentum SGD, a common choice, not measured here.
 *
 * The finder trains its own throw-away head (same architecture and seed) on unmixed batches with the
 * training loss; the head that is then trained starts from the untouched initial weights. It is a
 * mode of the training loop (src/train/loop.ts): the ramp, the loss record and the stop are callbacks,
 * and the steps run on the same engine as training.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../base/random.js';
import { resolveMixupArgs } from '../mixup/index.js';
import { buildHead, disposeHead, type HeadType } from './heads.js';
import type { FeatureSet } from './features.js';
import { OptionError } from '../base/errors.js';
import { featureBatches } from './batches.js';
import { freshDropout, type Fit, type TrainCallback } from './callbacks.js';
import { createTrainEngine, type TrainEngine } from './engines.js';
import { initialLoopState, runLoop, type LoopState } from './loop.js';
import type { TrainEngineChoice } from './options.js';

export const LR_RULES = ['steepest', 'minimum/10'] as const;
export type LrRule = (typeof LR_RULES)[number];

export interface LrFindArgs {
  /** Which point of the curve to suggest; default see the file header. */
  rule?: LrRule;
  head?: HeadType;
  hidden?: number;
  dropout?: number;
  batchSize?: number;
  /** 'sgd' uses momentum SGD, anything else Adam (adamw's decay does not matter over 100 steps). */
  optimizer?: 'adam' | 'adamw' | 'sgd';
  momentum?: number;
  /** Feed pooled vectors when the head starts with pooling (as training does); default true. */
  poolFirst?: boolean;
  /** First rate of the ramp; default 1e-7. */
  start?: number;
  /** Last rate of the ramp; default 10. */
  end?: number;
  /** Steps of the ramp; default 100. */
  steps?: number;
  /** Stop once the smoothed loss exceeds this multiple of its minimum; default 4. */
  divergence?: number;
  /** EMA factor of the smoothing; default 0.98. */
  beta?: number;
  seed?: number;
  /** The engine the ramp's steps run on (src/train/engines.ts); default auto. */
  trainEngine?: TrainEngineChoice;
}

export interface LrFindResult {
  /** Rate of each step taken. */
  lrs: number[];
  /** Raw loss of each step. */
  losses: number[];
  /** Bias-corrected EMA of the losses. */
  smoothed: number[];
  /** Rate at the minimum of the smoothed loss. */
  minimumLr: number;
  /** Rate where the smoothed loss falls fastest against log(lr) (before the minimum). */
  steepestLr: number;
  /** The rate to train with (see the file header for the rule). */
  suggestion: number;
  rule: LrRule;
  /** Set when the curve held no descent and `suggestion` is the head's fixed rate: why. */
  fallback?: string;
  /** The engine that ran the ramp's steps (TrainEngine.description). */
  engine: string;
  /** Whether the ramp was cut short by a diverging loss. */
  diverged: boolean;
  seconds: number;
}

/** The finder's defaults: the values that run, and what `--help` shows (src/jobs/lr-find-options.ts). */
export const LR_FIND_DEFAULTS = {
  rule: 'steepest' as LrRule,
  head: 'linear' as const,
  batchSize: 64,
  optimizer: 'adam' as const,
  seed: 0,
  start: 1e-7,
  end: 10,
  steps: 100,
  divergence: 4,
  beta: 0.98,
};

export function resolveLrFindArgs(args: LrFindArgs) {
  const d = LR_FIND_DEFAULTS;
  const r = {
    start: args.start ?? d.start,
    end: args.end ?? d.end,
    steps: args.steps ?? d.steps,
    divergence: args.divergence ?? d.divergence,
    beta: args.beta ?? d.beta,
    batchSize: args.batchSize ?? d.batchSize,
  };
  if (!(r.start > 0 && r.end > r.start && Number.isFinite(r.end))) throw new OptionError(`lr-find: the ramp needs 0 < start < end; got ${r.start} … ${r.end}`);
  if (!(Number.isInteger(r.steps) && r.steps >= 10)) throw new OptionError(`lr-find: steps ${r.steps} is not allowed; use a whole number ≥ 10`);
  if (!(r.divergence > 1)) throw new OptionError(`lr-find: divergence ${r.divergence} is not allowed; use a number > 1`);
  if (!(r.beta >= 0 && r.beta < 1)) throw new OptionError(`lr-find: beta ${r.beta} is not allowed; use a number in [0, 1)`);
  return r;
}

/** Least relative fall of the smoothed loss that counts as a descent (see the file header). */
export const MIN_DESCENT = 0.05;

/** The rate used when the curve holds no descent (see the file header). */
export function fallbackLr(head: HeadType, optimizer: LrFindArgs['optimizer']): number {
  if (optimizer === 'sgd') return 0.1;
  return head === 'linear' ? 3e-2 : 1e-2;
}

/**
 * Reads the suggestion off a smoothed curve by `rule`, or says why the curve cannot give one: the
 * fall from the first trusted point (as in steepestIndex) to the minimum is under MIN_DESCENT of it,
 * or no point descends before the minimum.
 */
export function readCurve(lrs: number[], smoothed: number[], rule: LrRule): { minimumLr: number; steepestLr: number; suggestion?: number; noDescent?: string } {
  const at = argmin(smoothed);
  const minimumLr = lrs[Math.max(0, at)];
  const steep = steepestIndex(lrs, smoothed);
  const steepestLr = steep >= 0 ? lrs[steep] : minimumLr / 10;
  const first = Math.min(smoothed.length - 1, Math.max(5, Math.floor(lrs.length / 10)));
  const level = smoothed[first];
  const fall = at >= 0 && Number.isFinite(level) && level > 0 ? (level - smoothed[at]) / level : 0;
  if (steep < 0) return { minimumLr, steepestLr, noDescent: 'no point of the smoothed loss falls before its minimum' };
  if (!(fall >= MIN_DESCENT)) return { minimumLr, steepestLr, noDescent: `the smoothed loss fell only ${(100 * Math.max(0, fall)).toFixed(1)}% over the ramp` };
  return { minimumLr, steepestLr, suggestion: rule === 'steepest' ? steepestLr : minimumLr / 10 };
}

/** The smoothed curve (see the file header). */
export function smoothLosses(losses: number[], beta: number): number[] {
  let avg = 0;
  return losses.map((l, i) => {
    avg = beta * avg + (1 - beta) * l;
    return avg / (1 - beta ** (i + 1));
  });
}

/** Index of the smallest value, ignoring non-finite ones (−1 when there is none). */
function argmin(v: number[]): number {
  let best = -1;
  v.forEach((x, i) => {
    if (Number.isFinite(x) && (best < 0 || x < v[best])) best = i;
  });
  return best;
}

/**
 * Index of the steepest descent of the smoothed loss against log(lr): the most negative central
 * difference (s[i+1] − s[i−1]) / (log lr[i+1] − log lr[i−1]), up to the minimum (after it the curve
 * only rises). The first tenth of the points (at least 5) is skipped: the bias-corrected average
 * rests on a handful of losses there.
 */
export function steepestIndex(lrs: number[], smoothed: number[]): number {
  const end = argmin(smoothed);
  let best = -1;
  let slope = 0;
  for (let i = Math.max(5, Math.floor(lrs.length / 10)); i < end; i++) {
    const g = (smoothed[i + 1] - smoothed[i - 1]) / (Math.log(lrs[i + 1]) - Math.log(lrs[i - 1]));
    if (g < slope) {
      slope = g;
      best = i;
    }
  }
  return best;
}

/**
 * The finder's policy as callbacks of the training loop: each step's rate from the ramp, its loss
 * recorded and smoothed, and the run cancelled once the ramp ends or the smoothed loss diverges.
 */
function rampCallbacks(r: ReturnType<typeof resolveLrFindArgs>, record: { lrs: number[]; losses: number[]; smoothed: number[]; diverged: boolean }): TrainCallback[] {
  let avg = 0;
  let min = Infinity;
  return [
    {
      name: 'lrRamp',
      beforeStep(fit) {
        const i = record.lrs.length;
        fit.lr = r.start * (r.end / r.start) ** (i / (r.steps - 1));
      },
    },
    {
      name: 'lossRecord',
      afterStep(fit) {
        record.lrs.push(fit.lr);
        record.losses.push(fit.loss);
        // smoothLosses, one point at a time.
        const i = record.losses.length - 1;
        avg = r.beta * avg + (1 - r.beta) * fit.loss;
        const s = avg / (1 - r.beta ** (i + 1));
        record.smoothed.push(s);
        if (Number.isFinite(s)) min = Math.min(min, s);
        if (!Number.isFinite(fit.loss) || !Number.isFinite(s) || s > r.divergence * min) {
          record.diverged = true;
          fit.cancel = true;
        } else if (record.lrs.length >= r.steps) {
          fit.cancel = true;
        }
      },
    },
  ];
}

/**
 * Runs the ramp on `train` and suggests a learning rate (see the file header): a mode of the training
 * loop (loop.ts) on a throw-away head, with unmixed batches, the ramp as its schedule and no
 * evaluation, on the engine the run trains with.
 */
export async function findLearningRate(train: FeatureSet, args: LrFindArgs = {}): Promise<LrFindResult> {
  const t0 = performance.now();
  const r = resolveLrFindArgs(args);
  if (train.size < 1) throw new Error('lr-find: the training set is empty');
  const seed = args.seed ?? LR_FIND_DEFAULTS.seed;
  const head = buildHead({
    type: args.head ?? LR_FIND_DEFAULTS.head,
    featureShape: train.featureShape,
    numClasses: train.classes.length,
    hidden: args.hidden,
    dropout: args.dropout,
    multiLabel: train.multiLabel,
    poolFirst: args.poolFirst !== false,
    seed,
  });
  const optimizer = args.optimizer === 'sgd' ? tf.train.momentum(r.start, args.momentum ?? 0.9) : tf.train.adam(r.start);
  const record = { lrs: [] as number[], losses: [] as number[], smoothed: [] as number[], diverged: false };
  const bs = Math.min(r.batchSize, train.size);
  let engine: TrainEngine | undefined;
  let engineName = '';
  const source = featureBatches(train, head, bs);
  try {
    engine = await createTrainEngine(args.trainEngine ?? 'auto', {
      head,
      optimizer,
      optimizerName: args.optimizer ?? LR_FIND_DEFAULTS.optimizer,
      momentum: args.momentum ?? 0.9,
      weightDecay: 0,
      featureShape: train.featureShape,
      numClasses: train.classes.length,
      multiLabel: train.multiLabel,
      labelMode: 'blend',
      labelSmoothing: 0,
    });
    engineName = engine.description;
    const stepsPerEpoch = Math.ceil(train.size / bs);
    const fit: Fit<LoopState> = { head, optimizer, state: initialLoopState(), epoch: 0, batch: 0, batchSize: 0, loss: 0, lr: r.start, dropoutSeed: seed, rngs: { dropout: new Rng(seed) }, stop: false };
    // Unmixed batches: α = 0 only hands the targets through.
    const mixupArgs = resolveMixupArgs({ alpha: 0, seed: new Rng(seed).fork('lr-find').int(2 ** 31) }, train.classes);
    await runLoop(fit, [...rampCallbacks(r, record), freshDropout()], source, engine, {
      train,
      valid: null,
      seed: new Rng(seed).fork('lr-find').int(2 ** 31),
      batchSize: bs,
      cleanSample: 0,
      mixupArgs,
      cutmix: false,
      stepsPerEpoch,
      epochs: Math.ceil(r.steps / stepsPerEpoch),
      evaluate: false,
    });
  } finally {
    source.close();
    await engine?.close();
    disposeHead(head);
    optimizer.dispose();
    const cTensor = (optimizer as unknown as { c?: tf.Tensor }).c;
    if (cTensor && !cTensor.isDisposed) cTensor.dispose();
  }
  const { lrs, losses, smoothed, diverged } = record;
  const rule = args.rule ?? LR_FIND_DEFAULTS.rule;
  const read = readCurve(lrs, smoothed, rule);
  const result: LrFindResult = { lrs, losses, smoothed, minimumLr: read.minimumLr, steepestLr: read.steepestLr, suggestion: read.suggestion ?? fallbackLr(args.head ?? LR_FIND_DEFAULTS.head, args.optimizer), rule, diverged, engine: engineName, seconds: (performance.now() - t0) / 1000 };
  if (read.noDescent) result.fallback = read.noDescent;
  return result;
}
