/**
 * Deterministic augmented views of one image, for caching several views per sample
 * (`precompute --views N`) and for test-time augmentation (`predict --tta`).
 *
 * View v of an image:
 * - v = 0: the plain view, exactly what precompute caches without views (the spec's fit, size×size);
 * - v = 1: its mirror image (columns reversed), unless `flip` is off (text, digits);
 * - every further view: a random resized crop as torchvision's `RandomResizedCrop` defines it
 *   (`get_params`): up to 10 tries of an area s·W·H with s ~ U[scale₀, scale₁] and an aspect ratio
 *   r = exp(U[ln ratio₀, ln ratio₁]), w = round(√(area·r)), h = round(√(area/r)) (Python's round:
 *   half to even), accepted when 0 < w ≤ W and 0 < h ≤ H, placed at top ~ U{0..H−h}, left ~ U{0..W−w};
 *   after 10 failures the central crop whose ratio is clamped to [ratio₀, ratio₁]. The crop is
 *   resized (stretched) to size×size with the triangle kernel, on the decoded pixels, and mirrored
 *   with probability ½ when `flip` is on (torchvision's usual RandomResizedCrop + RandomHorizontalFlip).
 *
 * The draws of view v come from a generator seeded by the image's content key (sha256 of its bytes
 * and the preprocessing spec, the first half of precompute's entry key) and v, so a rerun, a resumed
 * run, a shard and `predict --tta` on the same file all compute the same views. The id is left out
 * on purpose: the same bytes under another path get the same views.
 *
 * Plain ECMAScript over decoded pixels (no Node imports), like the resize it calls: the browser
 * page mirrors with the same function.
 */
import { Rng } from '../base/random.js';
import { planResample, resampleInto, resizeToSquare, toRgb, type Pixels, type Resampler } from './index.js';
import type { PreprocessSpec } from './spec.js';

/** How the views of a cache (or of test-time augmentation) are made; the cache header records it. */
export interface ViewSpec {
  /** Views per sample, view 0 the plain one. */
  count: number;
  /** View 1 is the mirror image, and crops are mirrored half the time. */
  flip: boolean;
  /** Crop area as a fraction of the image, [min, max]. */
  scale: [number, number];
  /** Crop aspect ratio w/h, [min, max], drawn log-uniformly. */
  ratio: [number, number];
}

export const VIEW_DEFAULTS: Readonly<ViewSpec> = Object.freeze({ count: 1, flip: true, scale: [0.35, 1] as [number, number], ratio: [3 / 4, 4 / 3] as [number, number] });

/** A full spec from a count and flip (scale and ratio at their defaults). */
export function viewSpec(count: number, flip = true): ViewSpec {
  if (!(Number.isInteger(count) && count >= 1)) throw new RangeError(`views must be a whole number ≥ 1, got ${count}`);
  return { count, flip, scale: [...VIEW_DEFAULTS.scale], ratio: [...VIEW_DEFAULTS.ratio] };
}

/** A crop window in source pixels, named as torchvision's get_params returns it (i, j, h, w). */
export interface CropBox {
  top: number;
  left: number;
  height: number;
  width: number;
}

export type ViewPlan = { kind: 'plain' } | { kind: 'flip' } | { kind: 'crop'; box: CropBox; flip: boolean; fallback: boolean };

/** Python's round(): to nearest, ties to even (torchvision's int(round(…))). */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** torchvision RandomResizedCrop.get_params, from `rng`; `fallback` says the central crop was taken. */
export function randomResizedCropBox(width: number, height: number, scale: readonly [number, number], ratio: readonly [number, number], rng: Rng): { box: CropBox; fallback: boolean } {
  const area = width * height;
  const logLo = Math.log(ratio[0]);
  const logHi = Math.log(ratio[1]);
  for (let attempt = 0; attempt < 10; attempt++) {
    const targetArea = area * (scale[0] + (scale[1] - scale[0]) * rng.uniform());
    const aspect = Math.exp(logLo + (logHi - logLo) * rng.uniform());
    const w = roundHalfEven(Math.sqrt(targetArea * aspect));
    const h = roundHalfEven(Math.sqrt(targetArea / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const top = rng.int(height - h + 1);
      const left = rng.int(width - w + 1);
      return { box: { top, left, height: h, width: w }, fallback: false };
    }
  }
  // Central crop with the ratio clamped to the allowed range.
  const inRatio = width / height;
  let w: number;
  let h: number;
  if (inRatio < Math.min(ratio[0], ratio[1])) {
    w = width;
    h = roundHalfEven(w / Math.min(ratio[0], ratio[1]));
  } else if (inRatio > Math.max(ratio[0], ratio[1])) {
    h = height;
    w = roundHalfEven(h * Math.max(ratio[0], ratio[1]));
  } else {
    w = width;
    h = height;
  }
  return { box: { top: Math.floor((height - h) / 2), left: Math.floor((width - w) / 2), height: h, width: w }, fallback: true };
}

/** The seed of an image's views: the first 48 bits of its content key (hex). */
export function viewSeed(contentKey: string): number {
  const hex = contentKey.slice(0, 12);
  if (!/^[0-9a-f]{12}$/i.test(hex)) throw new Error(`view seed: the content key must start with 12 hex digits, got ${JSON.stringify(contentKey.slice(0, 16))}`);
  return parseInt(hex, 16);
}

/** What view `index` of a width×height image is (see the file header). */
export function viewPlan(index: number, spec: ViewSpec, width: number, height: number, contentKey: string): ViewPlan {
  if (index === 0) return { kind: 'plain' };
  if (index === 1 && spec.flip) return { kind: 'flip' };
  const rng = new Rng(viewSeed(contentKey)).fork(`view-${index}`);
  const { box, fallback } = randomResizedCropBox(width, height, spec.scale, spec.ratio, rng);
  const flip = spec.flip && rng.uniform() < 0.5;
  return { kind: 'crop', box, flip, fallback };
}

/** Reverses the columns of a width×height×3 image into `out` (a new array unless given; never `rgb` itself). */
export function mirrorRgb(rgb: Uint8Array, width: number, height: number, out = new Uint8Array(rgb.length)): Uint8Array {
  if (rgb.length !== width * height * 3) throw new RangeError(`mirror: ${rgb.length} bytes are not ${width}×${height}×3`);
  for (let y = 0; y < height; y++) {
    const row = y * width * 3;
    for (let x = 0; x < width; x++) {
      const s = row + x * 3;
      const d = row + (width - 1 - x) * 3;
      out[d] = rgb[s];
      out[d + 1] = rgb[s + 1];
      out[d + 2] = rgb[s + 2];
    }
  }
  return out;
}

/**
 * The views of one decoded image, each size×size×3 8-bit RGB, concatenated (view v at v·size²·3).
 * View 0 is resizeToSquare's output, so a cache of one view holds the same bytes as before.
 */
export function renderViews(px: Pixels, prep: Pick<PreprocessSpec, 'size' | 'fit'>, spec: ViewSpec, contentKey: string, resample: Resampler = resampleInto): Uint8Array {
  const size = prep.size;
  const one = size * size * 3;
  const out = new Uint8Array(spec.count * one);
  const plain = resizeToSquare(px, prep, resample);
  out.set(plain, 0);
  let rgb: Uint8Array | undefined;
  for (let v = 1; v < spec.count; v++) {
    const plan = viewPlan(v, spec, px.width, px.height, contentKey);
    const dst = out.subarray(v * one, (v + 1) * one);
    if (plan.kind === 'flip') {
      mirrorRgb(plain, size, size, dst);
    } else if (plan.kind === 'crop') {
      rgb ??= toRgb(px);
      const { top, left, height, width } = plan.box;
      resample(rgb, planResample(px.width, px.height, { x0: left, y0: top, w: width, h: height }, size, size), dst, size, 0, 0);
      if (plan.flip) dst.set(mirrorRgb(dst, size, size));
    }
  }
  return out;
}
