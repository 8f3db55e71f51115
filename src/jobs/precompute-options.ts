/**
 * `precompute`'s options (`PrecomputeArgs`): one schema and its defaults (docs/architecture.md,
 * "Options"). `precompute()` parses its argument with it; the CLI's precompute flags map onto it.
 */
import { z } from 'zod';
import { field } from '../base/options.js';
import type { LoadBackboneArgs } from '../backbone/index.js';
import { FITS, preprocessOverridesSchema } from '../backbone/preprocess-options.js';

/** Keep in step with `CacheDtype` in src/cache/header.ts. */
export const DTYPES = ['float32', 'float16', 'uint8'] as const;

/** Which backbone, cut where (as `loadBackbone` takes it). */
export const backboneOptionsSchema = z
  .object({
    /** A known id (`mixhead backbones`), a folder or model.json path, an http(s) URL of model.json, or an ONNX file (or a folder holding model.onnx). */
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
    /**
     * Views cached per image (src/preprocess/views.ts): view 0 plain, view 1 its mirror (unless
     * `flip` is false), then random resized crops; default 1. Every view goes through the backbone
     * and is stored: the cache grows N×, precompute time up to N× (an image's views share its decode).
     */
    views: field.positiveInt(),
    /** View 1 is the mirror image and crops are mirrored half the time; default true (false for text, digits). */
    flip: field.bool(),
    /** Worker threads; default: all cores. */
    workers: field.positiveInt(),
    /** Images per backbone call (views count as images: 16 at --views 4 are 4 samples); default 16. */
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
  views: 1,
  flip: true,
  workers: 'all cores',
};
