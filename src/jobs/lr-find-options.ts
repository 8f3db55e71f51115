/**
 * `lr-find`'s options (`RunLrFindArgs`): one schema and its defaults (docs/architecture.md,
 * "Options"). `runLrFind` parses its argument with it; the CLI's lr-find flags map onto it.
 */
import { z } from 'zod';
import { field } from '../base/options.js';
import { LR_FIND_DEFAULTS as FINDER_DEFAULTS, LR_RULES } from '../train/lrfind.js';
import { trainDataShape } from '../train/options.js';

export const lrFindOptionsSchema = z
  .object({
    /** Training cache directory. */
    cache: field.text(),
    /** Where to write the curve as SVG; none when unset (the CLI defaults to lr-find.svg). */
    plot: field.text(),
    /** Which point of the curve to suggest (src/train/lrfind.ts says why steepest). */
    rule: field.oneOf(LR_RULES),
    head: trainDataShape.head,
    hidden: trainDataShape.hidden,
    dropout: trainDataShape.dropout,
    batchSize: trainDataShape.batchSize,
    optimizer: trainDataShape.optimizer,
    momentum: trainDataShape.momentum,
    poolFirst: trainDataShape.poolFirst,
    seed: trainDataShape.seed,
    /** What runs the ramp's steps (as `train --train-engine`; default auto). */
    trainEngine: trainDataShape.trainEngine,
    /** First and last rate of the exponential ramp (start < end). */
    start: field.positive(),
    end: field.positive(),
    /** Steps of the ramp (≥ 10). */
    steps: field.positiveInt().refine((v) => v >= 10, 'use a whole number ≥ 10'),
    /** Stop once the smoothed loss exceeds this multiple of its minimum (> 1). */
    divergence: field.positive().refine((v) => v > 1, 'use a number > 1'),
    /** EMA factor of the smoothing, in [0, 1). */
    beta: field.halfOpenUnit(),
  })
  .partial()
  .required({ cache: true })
  .strict();

/** The finder's defaults (src/train/lrfind.ts, where they run) and the CLI's plot file. */
export const LR_FIND_DEFAULTS = { ...FINDER_DEFAULTS, plot: 'lr-find.svg' };
