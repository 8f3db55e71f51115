/**
 * `trainHead`'s options: the zod schema `trainOptionsSchema` (`TrainArgs`: data fields and hooks),
 * its enum arrays and its defaults (docs/architecture.md, "Options"). The run's own options (caches,
 * output folder, config files) are in src/jobs/train-options.ts.
 */
import { z } from 'zod';
import { ALLOWED, field } from '../base/options.js';
import { mixupShape } from '../mixup/options.js';
import type { Backbone } from '../backbone/types.js';
import type { MixPlan } from '../mixup/index.js';
import type { EpochRecord } from './history.js';
import { BALANCE_MODES, type BalanceMode } from './balance.js';

export const HEAD_TYPES = ['linear', 'mlp', 'conv'] as const;
export type HeadType = (typeof HEAD_TYPES)[number];
export const MIX_POINTS = ['features', 'hidden', 'input'] as const;
export type MixPoint = (typeof MIX_POINTS)[number];
export const OPTIMIZERS = ['adam', 'adamw', 'sgd'] as const;
export type OptimizerName = (typeof OPTIMIZERS)[number];
export const LABEL_MODES = ['auto', 'stack', 'blend'] as const;
export type LabelMode = (typeof LABEL_MODES)[number];
export const SCHEDULES = ['constant', 'cosine', 'onecycle'] as const;
export const TRAIN_ENGINES = ['auto', 'onnx', 'tfjs'] as const;
export type TrainEngineChoice = (typeof TRAIN_ENGINES)[number];
export type ScheduleName = (typeof SCHEDULES)[number];

/** The mixing options as training takes them: `seed` (default: the training seed) seeds the mix draws. */
const trainMixupSchema = z.object(mixupShape).partial().strict();

/** The JSON-able training options (what a config file may set), each with its check. */
export const trainDataShape = {
  /** Head architecture; default `linear`. */
  head: field.oneOf(HEAD_TYPES),
  /** Hidden width of `mlp` (default 512) / channels of `conv` (default 256). */
  hidden: field.positiveInt(),
  /** Dropout before the last dense layer (head default when unset). */
  dropout: field.halfOpenUnit(),
  /** Where to mix; default `features`. */
  mixAt: field.oneOf(MIX_POINTS),
  /** Mixing options (α, CutMix, policies); α defaults to 0.4. */
  mixup: trainMixupSchema,
  /**
   * `stack` mixes the loss of integer targets, `blend` mixes soft targets; `auto` (default) picks
   * stack for single-label and blend for multi-label data, as fastai decides from the loss.
   */
  labels: field.oneOf(LABEL_MODES),
  /** Epochs, or 'auto' (default): enough for about AUTO_EPOCH_STEPS optimizer steps (trainer.ts, `autoEpochs`). */
  epochs: field.orWords(field.positiveInt(), ALLOWED.positiveInt, ['auto'] as const),
  batchSize: field.positiveInt(),
  /**
   * Peak learning rate, or 'auto' (default): the suggestion of the lr finder (src/train/lrfind.ts),
   * run on the training set before training; a resumed run keeps the rate it started with.
   */
  lr: field.orWords(field.positive(), ALLOWED.positive, ['auto'] as const),
  optimizer: field.oneOf(OPTIMIZERS),
  /** SGD momentum; default 0.9. */
  momentum: field.halfOpenUnit(),
  /** Decoupled weight decay (Loshchilov & Hutter); default 0.01 for adamw, else 0. */
  weightDecay: field.nonNegative(),
  schedule: field.oneOf(SCHEDULES),
  /** Warm-up length in epochs (fractional allowed); default 0 (one-cycle: 30% of the steps). */
  warmupEpochs: field.nonNegative(),
  /**
   * The clean training loss is measured each epoch on at most this many training samples (a fixed
   * seeded subset; default 2,048), so that on large sets it costs a bounded share of the epoch.
   */
  cleanSample: field.positiveInt(),
  /** Stop after this many epochs without a better validation metric; default: never. */
  patience: field.positiveInt(),
  seed: field.wholeNonNegative(),
  /**
   * What runs the training steps and evaluations (src/train/engines.ts): `onnx` (ONNX Runtime, all
   * cores), `tfjs` (TF.js autodiff on its backend), or `auto` (default): onnx when onnxruntime-node
   * loads, else tfjs.
   */
  trainEngine: field.oneOf(TRAIN_ENGINES),
  /**
   * Skewed data (balance.ts): `sampler` draws each slot's class uniformly (or ∝ frequency^balancePower),
   * `weights` scales the loss by N/(K·n_class) (multi-label: positive weights (N − P)/P); default none.
   */
  balance: field.oneOf(BALANCE_MODES),
  /** The sampler's q_c ∝ n_c^p: 0 (default) uniform over classes, 1 the data's own frequencies. */
  balancePower: field.nonNegative(),
  /** Output folder for checkpoints (trainHead) or the whole run (runTrain). */
  out: field.text(),
  /** Continue from `out/checkpoints/last` when present. */
  resume: field.bool(),
  /**
   * Write `out/checkpoints/` (default true: what `resume` and a killed run need), every
   * `checkpointEvery` seconds. `compare` turns it off for its runs: it reruns a setting whole.
   */
  checkpoints: field.bool(),
  /**
   * Seconds between checkpoints `last` (default 30; 0: after every epoch). The final epoch, an early
   * stop and the best epoch's weights are always saved; a killed run loses at most this much work.
   */
  checkpointEvery: field.nonNegative(),
  /**
   * Feed pooled vectors to heads that start with average pooling (default true; exact, since mixing
   * commutes with the pooling). Off, the head pools full maps itself (tests compare the two).
   */
  poolFirst: field.bool(),
};

/**
 * The shape of a `TrainCallback` (src/train/callbacks.ts, where `fit` is a `Fit`), restated here so
 * that the options do not import the loop's types (callbacks.ts imports the heads, which import these
 * options).
 */
/* eslint-disable @typescript-eslint/no-explicit-any */
export interface TrainCallbackShape {
  name: string;
  beforeBatch?(fit: any): void;
  beforeStep?(fit: any): void;
  afterStep?(fit: any): void;
  afterEpoch?(fit: any): void | Promise<void>;
  afterFit?(fit: any): void | Promise<void>;
}
/* eslint-enable @typescript-eslint/no-explicit-any */

/** What only a library caller can pass: objects and callbacks. */
export const trainHooksShape = {
  /** Needed for `mixAt: 'input'`: the backbone whose features the sets hold. */
  backbone: z.custom<Backbone>((v) => v != null && typeof v === 'object', 'use a loaded Backbone'),
  /** Engine of the backbone at the `input` mix point (docs/engine.md); default auto (MIXHEAD_ENGINE, else onnx when it loads). */
  engine: field.oneOf(['auto', 'onnx', 'tfjs'] as const),
  /** Notices (e.g. resume found no checkpoint); default: none. */
  log: field.fn<(line: string) => void>(),
  /** Per-epoch callback (progress lines, reports). */
  onEpoch: field.fn<(record: EpochRecord) => void>(),
  /**
   * Policies added to the loop's own (src/train/callbacks.ts `TrainCallback`: beforeBatch,
   * beforeStep, afterStep, afterEpoch, afterFit), run after them in this order (the checkpoints last, so that they save a stop set here).
   */
  callbacks: z.array(z.custom<TrainCallbackShape>((v) => v != null && typeof v === 'object' && typeof (v as { name?: unknown }).name === 'string', 'a callback is an object with a name and event methods (TrainCallback)')),
  /** Per-batch callback: batches done in this epoch, their total, and the batch's samples and mix plan. */
  onBatch: field.fn<(done: number, total: number, batch?: { indices: Int32Array; plan: MixPlan }) => void>(),
  /**
   * lr finder results shared by runs on the same training set (compare's runs): the finder is a
   * deterministic function of the set and its own arguments (head, width, dropout, batch, optimizer,
   * seed, engine), none of which α or the mix point change, so equal keys reuse one result.
   */
  lrFindMemo: z.custom<Map<string, unknown>>((v) => v instanceof Map, 'a Map'),
};

/** `trainHead`'s options. */
export const trainOptionsSchema = z.object({ ...trainDataShape, ...trainHooksShape }).partial().strict();
export type TrainArgs = z.input<typeof trainOptionsSchema>;

/** The defaults `resolveTrainArgs` fills in (those that depend on another option are functions). */
export const TRAIN_DEFAULTS = {
  head: 'linear' as HeadType,
  mixAt: 'features' as MixPoint,
  labels: 'auto' as LabelMode,
  epochs: 'auto' as number | 'auto',
  batchSize: 64,
  optimizer: 'adam' as OptimizerName,
  lr: 'auto' as number | 'auto',
  momentum: 0.9,
  weightDecay: (optimizer: OptimizerName) => (optimizer === 'adamw' ? 0.01 : 0),
  schedule: 'cosine' as ScheduleName,
  warmupEpochs: 0,
  cleanSample: 2048,
  checkpoints: true,
  checkpointEvery: 30,
  seed: 0,
  trainEngine: 'auto' as TrainEngineChoice,
  balance: 'none' as BalanceMode,
  balancePower: 0,
  combined: true,
};
