/**
 * `compare`'s own options (the settings to sweep; the shared training options are `base`, parsed
 * with the train schema): one schema and its defaults (docs/architecture.md, "Options").
 */
import { z } from 'zod';
import { field } from '../base/options.js';
import { HEAD_TYPES, MIX_POINTS } from '../train/options.js';
import { runTrainOptionsSchema } from './train-options.js';

export const compareSweepShape = {
  /** α values to compare. */
  alphas: z.array(field.nonNegative()).min(1, 'give at least one'),
  /** Mix points to compare. */
  mixAts: z.array(field.oneOf(MIX_POINTS)).min(1, 'give at least one'),
  /** Heads to compare (default: the base's head). */
  heads: z.array(field.oneOf(HEAD_TYPES)).min(1, 'give at least one'),
  /** Seeds per setting (base.seed, base.seed + 1, …): 3 is the fewest that give a paired interval some power. */
  seeds: field.positiveInt(),
  /** Output folder: one subfolder per setting, report.json and report.html. */
  out: field.text(),
};

/** The sweep alone, all optional (what the CLI's compare flags set). */
export const compareSweepSchema = z.object(compareSweepShape).partial().strict();

/** `runCompare`'s options. */
export const compareOptionsSchema = z
  .object({
    ...compareSweepShape,
    base: z.lazy(() => runTrainOptionsSchema.innerType().partial({ out: true })),
    log: field.fn<(line: string) => void>(),
  })
  .partial({ log: true })
  .strict();

/** The sweep's defaults (`heads` defaults to the base's head, so it is not here). */
export const COMPARE_DEFAULTS = {
  alphas: [0, 0.2, 0.4],
  mixAts: ['features'] as (typeof MIX_POINTS)[number][],
  seeds: 3,
};
