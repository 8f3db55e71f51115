/**
 * CutMix (Yun et al., "CutMix: Regularization Strategy to Train Strong Classifiers with Localizable
 * Features", ICCV 2019) on feature maps: paste a box of the partner's map into each sample's map.
 *
 * Box: for λ ~ Beta(α, α), cut ratio r = √(1 − λ), so an unclipped box of (r·H)×(r·W) covers 1 − λ of
 * the grid; here its sides are rounded to whole cells (h = round(r·H), w = round(r·W)), its centre is a
 * uniformly random cell and it is clipped to the grid (the paper's and timm's `rand_bbox`). Clipping
 * makes the true area smaller than 1 − λ on average (on a 7×7 grid, markedly so), which is why
 * λ is corrected to the true area, λ = 1 − area/(H·W) (timm's `correct_lam`).
 * Layout: NHWC (TF.js' default), row-major.
 */
import type { Rng } from '../base/random.js';
import { overlaps, type FloatArray } from './mix.js';

/** Half-open box of whole cells: rows y0 ≤ y < y1, columns x0 ≤ x < x1. */
export interface CutmixBox {
  y0: number;
  x0: number;
  y1: number;
  x1: number;
}

function checkGrid(h: number, w: number): void {
  if (!Number.isInteger(h) || !Number.isInteger(w) || h < 1 || w < 1) {
    throw new Error(`CutMix grid must be positive integers H×W, got ${h}×${w}`);
  }
}

/** The standard CutMix box in whole cells (see the file header); may be empty when λ is near 1. */
export function cutmixBox(rng: Rng, height: number, width: number, lam: number): CutmixBox {
  checkGrid(height, width);
  if (!(lam >= 0 && lam <= 1)) throw new Error(`CutMix λ must be in [0, 1], got ${lam}`);
  const r = Math.sqrt(1 - lam);
  const h = Math.round(height * r);
  const w = Math.round(width * r);
  const cy = rng.int(height);
  const cx = rng.int(width);
  // Centre cell c and size s: rows c − ⌊s/2⌋ … c − ⌊s/2⌋ + s − 1, then clipped.
  const clip = (v: number, hi: number): number => Math.min(Math.max(v, 0), hi);
  const ya = cy - Math.floor(h / 2);
  const xa = cx - Math.floor(w / 2);
  return { y0: clip(ya, height), x0: clip(xa, width), y1: clip(ya + h, height), x1: clip(xa + w, width) };
}

/** Cells in the box. */
export function boxArea(box: CutmixBox): number {
  return Math.max(0, box.y1 - box.y0) * Math.max(0, box.x1 - box.x0);
}

/** λ = 1 − area/(H·W): the share of each map that is still its own (timm's `correct_lam`). */
export function correctedLambda(box: CutmixBox, height: number, width: number): number {
  checkGrid(height, width);
  return 1 - boxArea(box) / (height * width);
}

/**
 * Copies x (B×H×W×C, NHWC) and pastes, for every i with π(i) ≠ i, the partner's cells inside `box`
 * over sample i's. `out` must not share memory with x (partners are read from x).
 */
export function applyCutmix<T extends FloatArray = Float32Array>(
  x: FloatArray,
  shape: readonly [number, number, number, number],
  partner: Int32Array,
  box: CutmixBox,
  out?: T,
): T {
  const [b, h, w, c] = shape;
  checkGrid(h, w);
  if (!Number.isInteger(b) || !Number.isInteger(c) || b < 0 || c < 1) throw new Error(`bad NHWC shape [${shape.join(', ')}]`);
  if (x.length !== b * h * w * c) throw new Error(`x has ${x.length} values, shape [${shape.join(', ')}] needs ${b * h * w * c}`);
  if (partner.length !== b) throw new Error(`partner has ${partner.length} entries for a batch of ${b}`);
  if (!(box.y0 >= 0 && box.x0 >= 0 && box.y1 <= h && box.x1 <= w)) {
    throw new Error(`box [${box.y0}, ${box.y1})×[${box.x0}, ${box.x1}) is outside the ${h}×${w} grid`);
  }
  const result = (out ?? new Float32Array(x.length)) as T;
  if (result.length !== x.length) throw new Error(`out has ${result.length} values, x has ${x.length}`);
  if (overlaps(result, x)) throw new Error('applyCutmix: out must not share memory with x');
  result.set(x);
  const sample = h * w * c;
  const span = Math.max(0, box.x1 - box.x0) * c;
  for (let i = 0; i < b; i++) {
    const p = partner[i];
    if (!(p >= 0 && p < b)) throw new Error(`partner[${i}] = ${p} is outside the batch [0, ${b})`);
    if (p === i || span === 0) continue;
    for (let y = box.y0; y < box.y1; y++) {
      const row = (y * w + box.x0) * c;
      result.set(x.subarray(p * sample + row, p * sample + row + span), i * sample + row);
    }
  }
  return result;
}
