/**
 * The training options: one zod schema per options object, its enum arrays and its defaults
 * (docs/architecture.md, "Options").
 * - `trainOptionsSchema`: `TrainArgs`, what `trainHead` takes (data fields and hooks).
 * - `runTrainOptionsSchema`: `RunTrainArgs`, what `runTrain` takes (adds caches and output).
 * - `trainConfigSchema`: what a `--config` file may hold (the JSON-able fields, all optional).
 * The CLI's flags (src/options/flags.ts), config files (src/config.ts) and library calls all parse
 * with these, so a value is accepted or refused the same way everywhere.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { UsageError } from '../errors.js';
import { ALLOWED, field } from '../options/fields.js';
import { mixupShape } from '../mixup/options.js';
import type { Backbone } from '../backbone/types.js';
import type { MixPlan } from '../mixup/index.js';
import type { EpochRecord } from './trainer.js';

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
  /** Output folder for checkpoints (trainHead) or the whole run (runTrain). */
  out: field.text(),
  /** Continue from `out/checkpoints/last` when present. */
  resume: field.bool(),
  /**
   * Feed pooled vectors to heads that start with average pooling (default true; exact, since mixing
   * commutes with the pooling). Off, the head pools full maps itself (tests compare the two).
   */
  poolFirst: field.bool(),
};

/** What only a library caller can pass: objects and callbacks. */
const trainHooksShape = {
  /** Needed for `mixAt: 'input'`: the backbone whose features the sets hold. */
  backbone: z.custom<Backbone>((v) => v != null && typeof v === 'object', 'use a loaded Backbone'),
  /** Notices (e.g. resume found no checkpoint); default: none. */
  log: field.fn<(line: string) => void>(),
  /** Per-epoch callback (progress lines, reports). */
  onEpoch: field.fn<(record: EpochRecord) => void>(),
  /** Per-batch callback: batches done in this epoch, their total, and the batch's samples and mix plan. */
  onBatch: field.fn<(done: number, total: number, batch?: { indices: Int32Array; plan: MixPlan }) => void>(),
};

/** `trainHead`'s options. */
export const trainOptionsSchema = z.object({ ...trainDataShape, ...trainHooksShape }).partial().strict();
export type TrainArgs = z.input<typeof trainOptionsSchema>;

/** What `runTrain` adds: where the data comes from and what happens to the output folder. */
export const runDataShape = {
  /** Training cache directory. */
  cache: field.text(),
  /** Validation cache directory (same backbone and classes). */
  valid: field.text(),
  /** Fraction of the training cache held out for validation when no `valid` cache is given. */
  validSplit: field.openUnit(),
  /** Also export images → probabilities as one LayersModel (LayersModel backbones); default true. */
  combined: field.bool(),
  /** Replace a finished run in `out` (without it, and without `resume`, runTrain refuses). */
  overwrite: field.bool(),
  /**
   * Multi-label: also calibrate one threshold per class on the validation set (default false: one
   * global threshold, which a small validation set estimates far more reliably).
   */
  thresholdPerClass: field.bool(),
  /** Write report.html with its plots (default true). */
  report: field.bool(),
};

const notBoth = (o: { valid?: string; validSplit?: number }, ctx: z.RefinementCtx) => {
  if (o.valid !== undefined && o.validSplit !== undefined) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['validSplit'], message: 'give valid or validSplit, not both', params: { plain: true } });
  }
};

/** `runTrain`'s options: `cache` and `out` are required. */
export const runTrainOptionsSchema = z
  .object({ ...trainDataShape, ...trainHooksShape, ...runDataShape })
  .partial()
  .required({ cache: true, out: true })
  .strict()
  .superRefine(notBoth);
export type RunTrainArgs = z.input<typeof runTrainOptionsSchema>;

/** A `--config` file: any JSON-able train option (flags given beside it override it). */
export const trainConfigSchema = z.object({ ...trainDataShape, ...runDataShape }).partial().strict().superRefine(notBoth);
export type TrainConfig = z.output<typeof trainConfigSchema>;

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
  seed: 0,
  trainEngine: 'auto' as TrainEngineChoice,
  combined: true,
};

/** Files that mark a folder as holding a run. */
const RUN_MARKERS = ['meta.json', 'report.json', 'checkpoints'];

/**
 * Refuses to train into a folder that holds another run, unless `overwrite` (its checkpoints and
 * combined model are removed first, so nothing of the old run leaks into the new one) or `resume`.
 */
export async function claimRunFolder(args: { out: string; overwrite?: boolean; resume?: boolean }): Promise<void> {
  if (args.resume) return;
  const found: string[] = [];
  for (const m of RUN_MARKERS) {
    if (await fs.access(path.join(args.out, m)).then(() => true, () => false)) found.push(m);
  }
  if (!found.length) return;
  if (!args.overwrite) {
    throw new UsageError(`${args.out} holds a run already (${found.join(', ')}): pass --overwrite (overwrite: true) to replace it, or --resume to continue it`);
  }
  for (const sub of ['checkpoints', 'combined']) await fs.rm(path.join(args.out, sub), { recursive: true, force: true });
}
