/**
 * `precompute`'s options (`PrecomputeArgs`): one schema and its defaults (docs/architecture.md,
 * "Options"). `precompute()` parses its argument with it; the CLI's precompute flags map onto it.
 */
import { z } from 'zod';
import { field } from '../base/options.js';
import type { LoadBackboneArgs } from '../backbone/index.js';

export const FITS = ['cover', 'contain', 'fill'] as const;
/** Resize kernels (src/preprocess/index.ts): keep in step with `RESIZE_KERNELS` there. */
export const KERNELS = ['triangle', 'sharp-linear'] as const;
/** Keep in step with `CacheDtype` in src/cache/header.ts. */
export const DTYPES = ['float32', 'float16', 'uint8'] as const;

const triple = z.tuple([z.number(), z.number(), z.number()], { invalid_type_error: 'use three numbers (R, G, B)' });

/** Preprocessing overrides for models that do not declare theirs. */
export const preprocessOverridesSchema = z
  .object({
    size: field.positiveInt(),
    range: z.tuple([z.number(), z.number()], { invalid_type_error: 'use two numbers [low, high]' }),
    mean: triple,
    std: triple,
    fit: field.oneOf(FITS),
    kernel: field.oneOf(KERNELS),
  })
  .partial()
  .strict();

/** Which backbone, cut where (as `loadBackbone` takes it). */
export const backboneOptionsSchema = z
  .object({
    /** A known id (`mixhead backbones`), a folder or model.json path, or an http(s) URL of model.json. */
    backbone: field.text(),
    layer: field.text(),
    node: field.text(),
    modelUrl: field.text(),
    modelsDir: field.text(),
    preprocess: preprocessOverridesSchema,
    onProgress: field.fn<NonNullable<LoadBackboneArgs['onProgress']>>(),
  })
  .partial()
  .strict();

const SHARD_ALLOWED = 'use i/n with 0 ≤ i < n, e.g. 0/4';
/** Shard `index` of `count`: one message for any way it is wrong. */
export const shardSchema = z
  .object({ index: z.number(), count: z.number() }, { invalid_type_error: SHARD_ALLOWED })
  .strict()
  .refine((s) => Number.isInteger(s.index) && Number.isInteger(s.count) && s.index >= 0 && s.index < s.count, SHARD_ALLOWED);

/** `i/n` as written on a command line → {index, count}; undefined when the text is not of that form. */
export function shardOfText(text: string): { index: number; count: number } | undefined {
  const m = /^\s*(\d+)\/(\d+)\s*$/.exec(text);
  return m ? { index: Number(m[1]), count: Number(m[2]) } : undefined;
}

export const precomputeOptionsSchema = z
  .object({
    /** Class-folder directory, labels CSV, or IDX images file. */
    data: field.text(),
    /** Cache directory (created when missing). */
    cache: field.text(),
    backbone: backboneOptionsSchema,
    /** Input size override (default: the backbone's). */
    size: field.positiveInt(),
    /** Storage type of the maps; default float16. */
    dtype: field.oneOf(DTYPES),
    /** Worker threads; default: all cores. */
    workers: field.positiveInt(),
    /** Images per backbone call; default 16. */
    batchSize: field.positiveInt(),
    /** Process shard `index` of `count` (0-based). */
    shard: shardSchema,
    /** TF.js backend of the workers (default: automatic, or MIXHEAD_BACKEND). */
    backend: field.text(),
    /** Engine of the backbone (docs/engine.md): onnx (default when onnxruntime-node loads) or tfjs. */
    engine: field.oneOf(['auto', 'onnx', 'tfjs'] as const),
    /** Progress output; default on stderr. */
    progress: field.bool(),
    /** Log lines (notices); default none. */
    log: field.fn<(line: string) => void>(),
  })
  .partial()
  .required({ data: true, cache: true })
  .strict();

export type PrecomputeArgs = z.input<typeof precomputeOptionsSchema>;

export const PRECOMPUTE_DEFAULTS = {
  backbone: { backbone: 'bundled-mobilenet-v2', preprocess: { fit: 'cover' as (typeof FITS)[number] } },
  dtype: 'float16' as (typeof DTYPES)[number],
  batchSize: 16,
  workers: 'all cores',
};
