/**
 * The mixing options (`MixupArgs`): one zod schema, its enum arrays and its defaults. The CLI's
 * flags, config files and library calls (`new Mixer`, `trainHead`, `runTrain`) all parse with it
 * (docs/architecture.md, "Options"; the semantics are in "Mixup semantics").
 */
import { z } from 'zod';
import { field, ALLOWED } from '../base/options.js';

/** 'sample': one λ per sample (fastai, timm's elem mode); 'batch': one λ shared by the batch (the paper). */
export const LAMBDA_MODES = ['sample', 'batch'] as const;
export type LambdaMode = (typeof LAMBDA_MODES)[number];
/** 'permutation': partners from a random permutation; 'flip': the reversed batch. */
export const PAIRINGS = ['permutation', 'flip'] as const;
export type Pairing = (typeof PAIRINGS)[number];
/** 'any', or 'differentClass': pair with another class wherever the batch has one. */
export const PAIRS_POLICIES = ['any', 'differentClass'] as const;
export type PairsPolicy = (typeof PAIRS_POLICIES)[number];
export const ALPHA_SCHEDULE_TYPES = ['constant', 'linear', 'cosine'] as const;

/**
 * α as a function of the epoch, or its object form (see `alphaAt` in mixer.ts). With
 * t = min(epoch/epochs, 1): constant α = from; linear α = from + (to − from)·t;
 * cosine α = from + (to − from)·(1 − cos(π·t))/2.
 */
export const alphaScheduleSpecSchema = z
  .object({
    type: field.oneOf(ALPHA_SCHEDULE_TYPES),
    /** α at epoch 0 (and always, for 'constant'). */
    from: field.nonNegative(),
    /** α from `epochs` on; required for 'linear' and 'cosine'. */
    to: field.nonNegative().optional(),
    /** Length of the ramp in epochs (> 0); required for 'linear' and 'cosine'. */
    epochs: field.positive().optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.type === 'constant') return;
    if (s.to === undefined) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['to'], message: `${ALLOWED.nonNegative}; '${s.type}' needs it` });
    if (s.epochs === undefined) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['epochs'], message: `${ALLOWED.positive}; '${s.type}' needs it` });
  });
export type AlphaScheduleSpec = z.infer<typeof alphaScheduleSpecSchema>;
export type AlphaSchedule = ((epoch: number) => number) | AlphaScheduleSpec;

const alphaScheduleSchema = z.custom<AlphaSchedule>().superRefine((v, ctx) => {
  if (typeof v === 'function') return;
  const r = alphaScheduleSpecSchema.safeParse(v);
  if (!r.success) for (const issue of r.error.issues) ctx.addIssue(issue);
});

export const mixupShape = {
  /** Beta(α, α) concentration of mixup's λ; 0 turns mixup off. Default 0.4. */
  alpha: field.nonNegative(),
  /** Beta(α, α) concentration of CutMix's λ on feature maps; 0 (default) turns CutMix off. */
  cutmixAlpha: field.nonNegative(),
  /** When both mixup and CutMix can run, the chance a batch uses CutMix. Default 0.5. */
  switchProb: field.probability(),
  /** Chance that a batch is mixed at all. Default 1. */
  prob: field.probability(),
  /** 'sample' (default): one λ per sample; 'batch': one λ for the batch. CutMix is always per batch. */
  lambda: field.oneOf(LAMBDA_MODES),
  /** λ ← max(λ, 1 − λ) for mixup, so each sample stays the larger part of its mix (fastai). Default true. */
  dominant: field.bool(),
  /** 'permutation' (default) or 'flip'. */
  pairing: field.oneOf(PAIRINGS),
  /** 'any' (default), or 'differentClass'. */
  pairs: field.oneOf(PAIRS_POLICIES),
  /** Classes (names, or indices into `classes`) whose samples are never mixed nor used as partners. */
  excludeClasses: z
    .array(z.union([z.string(), field.wholeNonNegative()], { errorMap: () => ({ message: 'use class names or indices' }) }), {
      invalid_type_error: 'use a list of class names or indices',
    })
    .readonly(),
  /** Label smoothing ε ∈ [0, 1): y = (1 − ε)·onehot + ε/K, applied before blending. Default 0. */
  labelSmoothing: field.halfOpenUnit(),
  /**
   * Mixing stops from this (0-based) epoch on: epochs 0 … offAfterEpoch − 1 are mixed, so with
   * 1-based epoch numbers "stop after epoch n". 0 means never mix. Default: never stops.
   */
  offAfterEpoch: field.wholeNonNegative(),
  /** α per epoch, replacing `alpha` (see `AlphaSchedule`). Default: none (α constant). */
  alphaSchedule: alphaScheduleSchema,
  /** CutMix: use λ = 1 − box area/(H·W) rather than the drawn λ (timm's correct_lam). Default true. */
  correctLambda: field.bool(),
  /** Seed of all mix randomness (a safe integer). Default 0. */
  seed: field.safeInt(),
};

/** Every mixing option, all optional; unknown keys are refused. */
export const mixupOptionsSchema = z.object(mixupShape).partial().strict();
export type MixupArgs = z.input<typeof mixupOptionsSchema>;

/** The defaults `resolveMixupArgs` fills in. */
export const MIXUP_DEFAULTS = {
  alpha: 0.4,
  cutmixAlpha: 0,
  switchProb: 0.5,
  prob: 1,
  lambda: 'sample' as LambdaMode,
  dominant: true,
  pairing: 'permutation' as Pairing,
  pairs: 'any' as PairsPolicy,
  labelSmoothing: 0,
  offAfterEpoch: undefined as number | undefined,
  alphaSchedule: undefined as AlphaSchedule | undefined,
  correctLambda: true,
  seed: 0,
};
