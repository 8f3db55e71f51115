/**
 * `--config run.json`: the same options as the train flags, validated with a schema so a bad value
 * gets one line naming the field, the value and what is allowed.
 */
import { promises as fs } from 'node:fs';
import { z } from 'zod';
import { OptionError } from './errors.js';
import { HEAD_TYPES } from './train/heads.js';
import { LABEL_MODES, MIX_POINTS, OPTIMIZERS } from './train/trainer.js';
import { SCHEDULES } from './train/schedule.js';
import type { RunTrainArgs } from './run.js';

/** A mistake in how the command was called (exit code 2). */
export class UsageError extends OptionError {}

const positiveInt = z.number().int().min(1);
const mixupSchema = z
  .object({
    alpha: z.number().min(0),
    cutmixAlpha: z.number().min(0),
    switchProb: z.number().min(0).max(1),
    prob: z.number().min(0).max(1),
    lambda: z.enum(['sample', 'batch']),
    dominant: z.boolean(),
    pairing: z.enum(['permutation', 'flip']),
    pairs: z.enum(['any', 'differentClass']),
    excludeClasses: z.array(z.string()),
    labelSmoothing: z.number().min(0).max(1),
    offAfterEpoch: positiveInt,
    correctLambda: z.boolean(),
  })
  .partial()
  .strict();

export const trainConfigSchema = z
  .object({
    cache: z.string(),
    valid: z.string(),
    validSplit: z.number().gt(0).lt(1),
    out: z.string(),
    head: z.enum(HEAD_TYPES),
    hidden: positiveInt,
    dropout: z.number().min(0).lt(1),
    mixAt: z.enum(MIX_POINTS),
    mixup: mixupSchema,
    labels: z.enum(LABEL_MODES),
    epochs: z.union([positiveInt, z.literal('auto')], { errorMap: () => ({ message: 'Expected a whole number ≥ 1 or "auto"' }) }),
    batchSize: positiveInt,
    lr: z.union([z.number().gt(0), z.literal('auto')], { errorMap: () => ({ message: 'Expected a number > 0 or "auto"' }) }),
    optimizer: z.enum(OPTIMIZERS),
    momentum: z.number().min(0).lt(1),
    weightDecay: z.number().min(0),
    schedule: z.enum(SCHEDULES),
    warmupEpochs: z.number().min(0),
    patience: positiveInt,
    cleanSample: positiveInt,
    seed: z.number().int().min(0),
    resume: z.boolean(),
    combined: z.boolean(),
    thresholdPerClass: z.boolean(),
  })
  .partial()
  .strict();

/** One line per problem: `run.json: mixup.alpha = -1: must be ≥ 0`. */
export function describeIssues(file: string, value: unknown, error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const field = issue.path.join('.') || '(top level)';
      let got: unknown = value;
      for (const k of issue.path) got = (got as Record<string | number, unknown> | undefined)?.[k];
      const shown = issue.code === 'unrecognized_keys' ? '' : ` = ${JSON.stringify(got)}`;
      return `${file}: ${field}${shown}: ${issue.message}`;
    })
    .join('\n');
}

export function parseTrainConfig(value: unknown, file = 'config'): Partial<RunTrainArgs> {
  const r = trainConfigSchema.safeParse(value);
  if (!r.success) throw new UsageError(describeIssues(file, value, r.error));
  return r.data as Partial<RunTrainArgs>;
}

export async function loadConfig(file: string): Promise<Partial<RunTrainArgs>> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${file}: not valid JSON (${(err as Error).message})`);
  }
  return parseTrainConfig(value, file);
}
