/**
 * Preprocessing options for every backbone: `normalize` (a named preset), `range`, `mean`, `std`,
 * `size`, `fit`, `kernel`. They end in the `PreprocessSpec` (types.ts), which the cache header and
 * meta.json record and which predict and the browser export apply: x = lo + (hi − lo)·p/255, then
 * (x − mean[c]) / std[c] (src/preprocess/index.ts, `normalize`).
 *
 * `normalize: 'imagenet'` is the convention of torchvision and timm models: range [0, 1], then the
 * ImageNet channel statistics mean (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225). It is resolved
 * into those numbers here (the spec records the numbers), and it cannot be combined with an explicit
 * range, mean or std (which would silently win or lose).
 */
import { z } from 'zod';
import { field } from '../base/options.js';
import { OptionError } from '../base/errors.js';
import type { PreprocessSpec } from './types.js';

export const FITS = ['cover', 'contain', 'fill'] as const;
/** Resize kernels (src/preprocess/index.ts): keep in step with `RESIZE_KERNELS` there. */
export const KERNELS = ['triangle', 'sharp-linear'] as const;

type Triple = [number, number, number];

/** Named normalisations. */
export const NORMALIZE_PRESETS = {
  imagenet: { range: [0, 1] as [number, number], mean: [0.485, 0.456, 0.406] as Triple, std: [0.229, 0.224, 0.225] as Triple },
} as const;
export type NormalizePreset = keyof typeof NORMALIZE_PRESETS;
const PRESETS = Object.keys(NORMALIZE_PRESETS) as [NormalizePreset, ...NormalizePreset[]];

const TRIPLE = 'use three numbers r,g,b';
const triple = (positive: boolean) =>
  z
    .tuple([z.number({ invalid_type_error: TRIPLE }), z.number({ invalid_type_error: TRIPLE }), z.number({ invalid_type_error: TRIPLE })], { errorMap: () => ({ message: TRIPLE }) })
    .refine((t) => t.every((v) => Number.isFinite(v) && (!positive || v > 0)), positive ? 'use three numbers > 0 (r,g,b)' : TRIPLE);

const RANGE = 'use two numbers low,high with low < high, e.g. 0,1 or -1,1 or 0,255';
const range = z
  .tuple([z.number({ invalid_type_error: RANGE }), z.number({ invalid_type_error: RANGE })], { errorMap: () => ({ message: RANGE }) })
  .refine(([lo, hi]) => Number.isFinite(lo) && Number.isFinite(hi) && lo < hi, RANGE);

/** What a `normalize` preset would conflict with, or undefined when nothing does. */
export function presetConflict(o: { normalize?: string; range?: unknown; mean?: unknown; std?: unknown }): string | undefined {
  if (!o.normalize) return undefined;
  const clash = (['range', 'mean', 'std'] as const).filter((k) => o[k] !== undefined);
  return clash.length ? `normalize ${o.normalize} sets range, mean and std itself: give it or ${clash.join(' and ')}, not both` : undefined;
}

/** Preprocessing overrides (any backbone), before a preset is resolved. */
export const preprocessOverridesSchema = z
  .object({
    size: field.positiveInt(),
    /** A named normalisation: `imagenet` = range [0, 1], ImageNet mean and std. */
    normalize: field.oneOf(PRESETS),
    range,
    mean: triple(false),
    std: triple(true),
    fit: field.oneOf(FITS),
    kernel: field.oneOf(KERNELS),
  })
  .partial()
  .strict()
  .superRefine((o, ctx) => {
    const why = presetConflict(o);
    if (why) ctx.addIssue({ code: z.ZodIssueCode.custom, message: why, params: { plain: true } });
  });

export type PreprocessOverrides = z.input<typeof preprocessOverridesSchema>;

/** The overrides with a preset expanded into range, mean and std. @throws OptionError on a conflict or an unknown preset. */
export function resolvePreprocess(o: PreprocessOverrides = {}): Partial<PreprocessSpec> {
  const { normalize, ...rest } = o;
  if (!normalize) return rest;
  const why = presetConflict(o);
  if (why) throw new OptionError(why);
  const preset = NORMALIZE_PRESETS[normalize];
  if (!preset) throw new OptionError(`normalize ${normalize}: use one of ${PRESETS.join(', ')}`);
  return { ...rest, range: [...preset.range], mean: [...preset.mean], std: [...preset.std] };
}
