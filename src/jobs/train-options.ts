/**
 * `runTrain`'s options (docs/architecture.md, "Options"):
 * - `runTrainOptionsSchema`: `RunTrainArgs`, what `runTrain` takes (trainHead's options plus caches and output).
 * - `trainConfigSchema`: what a `--config` file may hold (the JSON-able fields, all optional).
 * The CLI's flags (src/cli/flags.ts), config files (src/cli/config.ts) and library calls all parse
 * with these, so a value is accepted or refused the same way everywhere.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { UsageError } from '../base/errors.js';
import { field } from '../base/options.js';
import { trainDataShape, trainHooksShape } from '../train/options.js';

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
