/**
 * The head trainer: one short loop over epochs and batches (`loop`) that asks the mixer (src/mixup)
 * for the arithmetic, a batch source per mix point for its inputs (batches.ts), losses.ts for the
 * loss, and hands every policy — lr schedule, fresh dropout masks, weight decay, divergence guard,
 * best-epoch restore, early stopping, checkpoints — to callbacks with named events (callbacks.ts),
 * as fastai's Learner and tfjs-layers' callbacks divide the work.
 *
 * Mix points (docs/architecture.md, "Mixup semantics"):
 * - `features`: mix the cached maps (or their pooled vectors, which is the same thing for heads that
 *   start with average pooling) on the host, before the head.
 * - `hidden`: manifold mixup (Verma et al., 2019): per batch, pick one of the head's taps (the
 *   features included) uniformly; that tap mixes with one MatMul inside the training graph.
 * - `input`: mix the images, run the frozen backbone on the mix, train on the result (slow).
 * Never mixed at evaluation or prediction. Every random choice comes from `seed`.
 */
import * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { Rng } from '../base/random.js';
import { Mixer, resolveMixupArgs, type MixPlan } from '../mixup/index.js';
import type { Backbone } from '../backbone/types.js';
import { buildHead, disposeHead, type Head } from './heads.js';
import { TRAIN_DEFAULTS, trainOptionsSchema, type OptimizerName, type ScheduleName, type TrainArgs } from './options.js';
import { OptionError } from '../base/errors.js';
import { parseOptions } from '../base/options.js';
import { predictSet } from './predict.js';
import { metricsOf, type Metrics } from './metrics.js';
import { loadCheckpoint } from './checkpoint.js';
import { bestEpoch, checkpoints, divergenceGuard, earlyStopping, freshDropout, lrSchedule, type Fit, type TrainCallback } from './callbacks.js';
import { createTrainEngine, type TrainEngine } from './engines.js';
import { featureBatches, hiddenBatches, inputBatches, type BatchSource } from './batches.js';
import { poolRow, type FeatureSet } from './features.js';

// The options (their schema, enum arrays and defaults) live in ./options.ts; re-exported here.
export { MIX_POINTS, OPTIMIZERS, LABEL_MODES, type MixPoint, type OptimizerName, type LabelMode, type TrainArgs } from './options.js';
import { findLearningRate, type LrFindResult } from './lrfind.js';
import { initialLoopState, runLoop, type LoopState } from './loop.js';

export type { EpochRecord } from './history.js';
import type { EpochRecord } from './history.js';

export interface TrainResult {
  head: Head;
  history: EpochRecord[];
  bestEpoch: number;
  best?: Metrics;
  /** Histogram of the λ values used (20 bins over [0, 1]). */
  lambdaHistogram: number[];
  stoppedEarly: boolean;
  /** The best epoch is the last one: more epochs (or a higher lr) would likely help. */
  stillImproving: boolean;
  /** The number of epochs planned (resolved when 'auto'). */
  epochs: number;
  /** The peak learning rate used (resolved when 'auto'). */
  lr: number;
  /** The lr finder's curve, when `lr` was 'auto' (and not taken from a resumed run). */
  lrFind?: LrFindResult;
  resumedFrom?: number;
  /** The engine that ran the steps, e.g. `onnx (onnxruntime 1.30.0 (cpu, 2 threads))` (engines.ts). */
  engine: string;
}

/** What the learning-rate schedule depends on: a resumed run must keep all of it. */
interface SchedulePlan {
  epochs: number;
  batchSize: number;
  lr: number;
  schedule: ScheduleName;
  warmupEpochs: number;
}

/** The loop's state and the schedule it runs (kept in checkpoints: a resumed run must keep it). */
interface RunState extends LoopState {
  plan?: SchedulePlan;
}

export { isBetter, TrainingDivergedError } from './callbacks.js';

/**
 * Checks the arguments with `trainOptionsSchema` (errors name the field, the value and what is
 * allowed) and fills the defaults of ./options.ts. Keys it does not know are left to the caller
 * (runTrain passes its own through).
 */
export function resolveTrainArgs(args: TrainArgs) {
  const o = parseOptions(trainOptionsSchema.passthrough(), args);
  const d = TRAIN_DEFAULTS;
  const optimizer = o.optimizer ?? d.optimizer;
  return {
    head: o.head ?? d.head,
    mixAt: o.mixAt ?? d.mixAt,
    labels: o.labels ?? d.labels,
    epochs: o.epochs ?? d.epochs,
    batchSize: o.batchSize ?? d.batchSize,
    optimizer,
    lr: o.lr ?? d.lr,
    momentum: o.momentum ?? d.momentum,
    weightDecay: o.weightDecay ?? d.weightDecay(optimizer),
    schedule: o.schedule ?? d.schedule,
    warmupEpochs: o.warmupEpochs ?? d.warmupEpochs,
    seed: o.seed ?? d.seed,
    trainEngine: o.trainEngine ?? d.trainEngine,
    balance: o.balance ?? d.balance,
    balancePower: o.balancePower ?? d.balancePower,
  };
}

/** The default training length aims at this many optimizer steps… */
export const AUTO_EPOCH_STEPS = 1000;
/** …within these bounds on the number of epochs. */
export const AUTO_EPOCH_RANGE = [5, 150] as const;

/**
 * Default number of epochs: ceil(AUTO_EPOCH_STEPS / steps per epoch), clamped to AUTO_EPOCH_RANGE.
 * A fixed number of epochs under-trains small sets (20 epochs of 600 images are 200 steps, and the
 * weights of a fresh head move by about Σlr); counting steps gives a small set as many updates as a
 * large one gets in a few epochs, and the best-epoch restore guards against training too long.
 */
export function autoEpochs(size: number, batchSize: number): number {
  const steps = Math.ceil(size / batchSize);
  return Math.min(AUTO_EPOCH_RANGE[1], Math.max(AUTO_EPOCH_RANGE[0], Math.ceil(AUTO_EPOCH_STEPS / steps)));
}

function makeOptimizer(name: OptimizerName, lr: number, momentum: number): tf.Optimizer {
  if (name === 'sgd') return tf.train.momentum(lr, momentum);
  return tf.train.adam(lr);
}

export { setLearningRate } from './engines.js';

/** Disposes an optimizer; MomentumOptimizer.dispose (tfjs-core 4.22) forgets its SGD parent's `c`. */
function disposeOptimizer(opt: tf.Optimizer): void {
  opt.dispose();
  const c = (opt as unknown as { c?: tf.Tensor }).c;
  if (c && !c.isDisposed) c.dispose();
}

export { labelSetsOf } from './loop.js';
export { predictSet } from './predict.js';

export function evaluateSet(head: Head, set: FeatureSet): Metrics {
  return metricsOf(set, predictSet(head, set));
}

/** Trains a head on `train`, validating on `valid` after every epoch. */
export async function trainHead(train: FeatureSet, valid: FeatureSet | null, args: TrainArgs = {}): Promise<TrainResult> {
  const a = resolveTrainArgs(args);
  const { labelMode, mixupArgs, cutmix } = checkData(train, valid, args, a);
  const head = buildHead({
    type: a.head,
    featureShape: train.featureShape,
    numClasses: train.classes.length,
    hidden: args.hidden,
    dropout: args.dropout,
    multiLabel: train.multiLabel,
    // CutMix pastes spatial boxes, which does not commute with pooling.
    poolFirst: !cutmix && args.poolFirst !== false,
    seed: a.seed,
  });
  const ckptDir = args.out && (args.checkpoints ?? TRAIN_DEFAULTS.checkpoints) ? path.join(args.out, 'checkpoints') : undefined;
  let optimizer: tf.Optimizer | undefined;
  let source: BatchSource | undefined;
  let engine: TrainEngine | undefined;
  try {
    const start = await startRun(train, head, args, a, ckptDir, !cutmix && args.poolFirst !== false);
    optimizer = start.optimizer;
    const { plan, state, lrFind } = start;
    // After startRun: a resumed run's weights and optimizer state are in TF.js, where the engine reads them.
    engine = await createTrainEngine(
      a.trainEngine,
      { head, optimizer, optimizerName: a.optimizer, momentum: a.momentum, weightDecay: a.weightDecay, featureShape: train.featureShape, numClasses: train.classes.length, multiLabel: train.multiLabel, labelMode, labelSmoothing: mixupArgs.labelSmoothing ?? 0, positiveWeighted: a.balance === 'weights' && train.multiLabel },
      args.log,
    );
    args.log?.(`train engine: ${engine.description}`);
    const stepsPerEpoch = Math.ceil(train.size / a.batchSize);
    const callbacks: TrainCallback[] = [
      lrSchedule(a.schedule, plan.lr, stepsPerEpoch * plan.epochs, Math.round(a.warmupEpochs * stepsPerEpoch)),
      freshDropout(),
      divergenceGuard(ckptDir),
      bestEpoch(ckptDir),
      ...(args.patience != null ? [earlyStopping(args.patience)] : []),
      // The user's policies run after the built-in ones (a beforeStep of theirs may still change fit.lr)…
      ...((args.callbacks ?? []) as TrainCallback[]),
      // …and before the checkpoints, which save after the final epoch or a stop, whoever set it.
      ...(ckptDir ? [checkpoints(ckptDir, args.checkpointEvery ?? TRAIN_DEFAULTS.checkpointEvery, plan.epochs)] : []),
    ];
    source =
      a.mixAt === 'input'
        ? inputBatches((idx, p, mixer) => mixedInputFeatures(train, args.backbone!, idx, p, mixer, head.pooled, args.engine))
        : a.mixAt === 'hidden'
          ? hiddenBatches(train, head, a.batchSize)
          : featureBatches(train, head, a.batchSize, { inGraph: engine.mixesMapsInGraph && !head.pooled });
    const fit: Fit<RunState> = { head, optimizer, state, epoch: state.epoch, batch: 0, batchSize: 0, loss: 0, lr: plan.lr, dropoutSeed: a.seed, rngs: { dropout: new Rng(a.seed) }, stop: state.stoppedEarly ?? false, log: args.log };
    await runLoop(fit, callbacks, source, engine, {
      train,
      valid,
      seed: a.seed,
      batchSize: a.batchSize,
      cleanSample: args.cleanSample ?? TRAIN_DEFAULTS.cleanSample,
      mixupArgs,
      cutmix,
      stepsPerEpoch,
      epochs: plan.epochs,
      evaluate: true,
      balance: a.balance,
      balancePower: a.balancePower,
      onBatch: args.onBatch,
      onEpoch: args.onEpoch,
    });
    for (const cb of callbacks) await cb.afterFit?.(fit);
    return {
      head,
      history: state.history,
      bestEpoch: state.bestEpoch,
      best: state.best,
      lambdaHistogram: state.lambdaHistogram,
      stoppedEarly: state.stoppedEarly ?? false,
      stillImproving: state.bestEpoch === state.epoch && state.epoch > 1,
      resumedFrom: start.resumedFrom,
      epochs: plan.epochs,
      lr: plan.lr,
      lrFind,
      engine: engine.description,
    };
  } catch (err) {
    // A failed run hands back no head: free its weights here.
    disposeHead(head);
    throw err;
  } finally {
    source?.close();
    await engine?.close();
    // The exported config keeps the seed the head was built with, not the last step's.
    head.setDropoutSeed(a.seed);
    if (optimizer) disposeOptimizer(optimizer);
  }
}

type Resolved = ReturnType<typeof resolveTrainArgs>;

/** Checks the data against the options before any work; returns what the loop derives from them. */
function checkData(train: FeatureSet, valid: FeatureSet | null, args: TrainArgs, a: Resolved) {
  if (train.size < 1) throw new Error('the training set is empty');
  if (valid && valid.classes.join('\u0000') !== train.classes.join('\u0000')) {
    throw new Error(`the validation classes differ from the training classes: ${valid.classes.join(', ')} vs ${train.classes.join(', ')}`);
  }
  const labelMode = a.labels === 'auto' ? (train.multiLabel ? 'blend' : 'stack') : a.labels;
  if (train.multiLabel && labelMode === 'stack') {
    throw new Error('labels: "stack" needs one label per image; multi-label data mixes its targets: use blend');
  }
  if (a.mixAt === 'input' && (!args.backbone || !train.item)) {
    throw new Error('mixAt "input" reruns the backbone on mixed images: it needs the backbone and the image sources');
  }
  // The mix draws follow the user's mixup seed when one is given, else the training seed.
  // Resolved once (defaults from MIXUP_DEFAULTS, every field checked) before any work starts.
  const mixupArgs = resolveMixupArgs({ ...args.mixup, seed: args.mixup?.seed ?? a.seed }, train.classes);
  const cutmix = mixupArgs.cutmixAlpha > 0;
  if (cutmix && a.mixAt !== 'features') throw new Error(`cutmixAlpha > 0 pastes boxes of feature-map cells: it needs mixAt "features", not "${a.mixAt}"`);
  return { labelMode, mixupArgs, cutmix };
}

/**
 * Resolves 'auto' lr and epochs (a resumed run keeps those it started with; a new one runs the lr
 * finder and counts steps), makes the optimizer and restores a checkpoint when resuming.
 */
async function startRun(train: FeatureSet, head: Head, args: TrainArgs, a: Resolved, ckptDir: string | undefined, poolFirst: boolean) {
  if (ckptDir) await fs.mkdir(ckptDir, { recursive: true });
  const ck = args.resume && ckptDir ? await loadCheckpoint<RunState>(ckptDir, 'last') : undefined;
  const epochs = a.epochs !== 'auto' ? a.epochs : (ck?.state.plan?.epochs ?? autoEpochs(train.size, a.batchSize));
  let lr = a.lr !== 'auto' ? a.lr : ck?.state.plan?.lr;
  let lrFind: LrFindResult | undefined;
  if (lr === undefined) {
    const finder = { head: a.head, hidden: args.hidden, dropout: args.dropout, batchSize: a.batchSize, optimizer: a.optimizer, momentum: a.momentum, poolFirst, seed: a.seed, trainEngine: a.trainEngine };
    const memo = args.lrFindMemo as Map<string, LrFindResult> | undefined;
    // The set enters the key by its size and labels: a library caller may share one memo across sets.
    const key = JSON.stringify({ ...finder, size: train.size, labels: createHash('sha1').update(new Uint8Array(train.labelIndex.buffer, train.labelIndex.byteOffset, train.labelIndex.byteLength)).digest('hex') });
    const reused = memo?.get(key);
    lrFind = reused ?? (await findLearningRate(train, finder));
    memo?.set(key, lrFind);
    lr = lrFind.suggestion;
    const how = reused ? 'the same finder run as an earlier setting' : `${lrFind.seconds.toFixed(1)} s`;
    args.log?.(
      lrFind.fallback
        ? `lr-find: no rate to read off the curve (${lrFind.fallback} in ${lrFind.lrs.length} steps): using lr ${lr.toExponential(2)}, the ${a.head} head's usual rate; pass --lr to choose one`
        : `lr-find: lr ${lr.toExponential(2)} (${lrFind.rule} of the smoothed loss over ${lrFind.lrs.length} steps, ${how})`,
    );
  }
  const plan: SchedulePlan = { epochs, batchSize: a.batchSize, lr, schedule: a.schedule, warmupEpochs: a.warmupEpochs };
  const optimizer = makeOptimizer(a.optimizer, lr, a.momentum);
  let state: RunState = { ...initialLoopState(), plan };
  let resumedFrom: number | undefined;
  if (ck && ckptDir) {
    assertSamePlan(ck.state.plan, plan, path.join(ckptDir, 'last'));
    await ck.restore(head.train.trainableWeights, optimizer);
    state = ck.state;
    resumedFrom = state.epoch;
    args.log?.(`resuming after epoch ${state.epoch} from ${path.join(ckptDir, 'last')}`);
  } else if (args.resume && ckptDir) {
    args.log?.(`resume: no whole checkpoint in ${ckptDir}; starting from epoch 1`);
  }
  return { optimizer, plan, state, lrFind, resumedFrom };
}

/** Resuming with another schedule would silently train a different run: refuse, naming the change. */
function assertSamePlan(saved: SchedulePlan | undefined, now: SchedulePlan, where: string): void {
  if (!saved) return;
  // A constant rate does not depend on the run's length: such a run may be extended.
  const keys = (Object.keys(now) as (keyof SchedulePlan)[]).filter((k) => !(k === 'epochs' && now.schedule === 'constant' && saved.schedule === 'constant'));
  for (const key of keys) {
    if (saved[key] !== now[key]) {
      throw new OptionError(`resume: ${key} was ${saved[key]} in the run at ${where} and is ${now[key]} now; the learning-rate schedule depends on it: resume with ${key} ${saved[key]}, or start a new run`);
    }
  }
}

/**
 * Mix point `input`: decode the batch's images, mix the pixels, run the frozen backbone on the mix
 * (on ONNX Runtime unless the engine is tfjs or the converter does not cover it; docs/engine.md).
 */
async function mixedInputFeatures(set: FeatureSet, backbone: Backbone, idx: Int32Array, plan: MixPlan, mixer: Mixer, pooled: boolean, engine: TrainArgs['engine']): Promise<Float32Array> {
  const spec = backbone.preprocess;
  const px = spec.size * spec.size * 3;
  const pixels = new Float32Array(idx.length * px);
  const { decodeImage } = await import('../data/image.js');
  const { extractFeatures, useEngine } = await import('../engine/index.js');
  await useEngine(backbone, { engine });
  const decoded: Float32Array[] = await Promise.all(Array.from(idx, (i) => decodeImage(set.item!(i).source, spec)));
  decoded.forEach((d, j) => pixels.set(d, j * px));
  const mixed = plan.mode === 'none' ? pixels : mixer.applyToRows(plan, pixels, [spec.size, spec.size, 3]);
  const [h, w, c] = set.featureShape;
  const maps = await extractFeatures(backbone, mixed, idx.length);
  if (!pooled) return maps;
  const out = new Float32Array(idx.length * c);
  for (let j = 0; j < idx.length; j++) poolRow(maps.subarray(j * h * w * c, (j + 1) * h * w * c), h * w, c, out, j * c);
  return out;
}
