/**
 * The portable half of preprocessing: decoded 8-bit pixels → size×size RGB → the backbone's floats.
 *
 * This file is plain ECMAScript with no imports at run time, so the very same code runs in Node
 * (src/data/image.ts, after sharp has decoded the file) and in a browser (src/web/browser.ts, after
 * the browser has decoded it). Every step uses only +, −, ×, ÷, floor, round, min, max and abs on
 * IEEE doubles, which ECMAScript defines exactly: two engines given the same decoded pixels give
 * the same bytes. Node runs the resize's arithmetic in WebAssembly SIMD (resize-wasm.ts: the same
 * operations in the same order, so the same bytes, tested); `resampleInto` here is the definition
 * and what browsers run. See docs/architecture.md ("Preprocessing").
 *
 * The resize kernel, `triangle`:
 * - Output pixel i on an axis samples the source window [start, start + len) at the centre
 *   c = start + (i + ½)·len/m (pixel j covers [j, j + 1), centre j + ½).
 * - Weight of source pixel j: max(0, 1 − |j + ½ − c| / r) with r = max(1, len/m): a tent of radius
 *   one pixel when enlarging (bilinear interpolation) and widened to the scale when shrinking, so
 *   every source pixel contributes (an area-aware average, no aliasing on large photos).
 * - Pixels outside the image are left out and the remaining weights are renormalised to sum to 1
 *   (the border behaves like edge clamping).
 * - Shrinking by a scale of 4 or more first averages k×k blocks, k = ⌊scale/2⌋ per axis (the
 *   tent then spans 2–4 blocks; Pillow's `reducing_gap = 2`): far less arithmetic on large photos,
 *   the same picture to within rounding.
 * - Separable: rows first (only the rows and columns the output reads), then columns, in doubles;
 *   the result is rounded half up and clamped to 0…255.
 * Fit: `cover` samples the centred size/s × size/s window of the image, s = max(size/w, size/h);
 * `contain` resizes the whole image to round(w·s) × round(h·s), s = min(size/w, size/h), placed at
 * (floor((size − w')/2), floor((size − h')/2)) on black; `fill` resizes the whole image to size×size.
 * Alpha is flattened onto black first: c ← round(c·a/255).
 */
import type { PreprocessSpec } from './spec.js';

/**
 * `triangle`: the kernel above, the same in Node and in browsers (the default since it exists).
 * `sharp-linear`: libvips' linear reduce with JPEG shrink-on-load, what mixhead used before; Node
 * only (a browser cannot reproduce it). Caches and models that do not name a kernel were made with it.
 */
export type ResizeKernel = 'triangle' | 'sharp-linear';
export const RESIZE_KERNELS: readonly ResizeKernel[] = ['triangle', 'sharp-linear'];
export const PORTABLE_KERNEL: ResizeKernel = 'triangle';
/** What a spec held in memory means when it names no kernel. */
export const DEFAULT_KERNEL: ResizeKernel = PORTABLE_KERNEL;
/** What a cache header or meta.json on disk means when it names no kernel (written before kernels had names). */
export const LEGACY_KERNEL: ResizeKernel = 'sharp-linear';

/** How files become pixels, the same for every model; meta.json records it beside the spec. */
export const DECODE_RULES = Object.freeze({
  orientation: 'exif',
  alpha: 'flatten onto black: c = round(c·a/255)',
  colourSpace: 'sRGB (embedded ICC profiles applied)',
  frames: 'first frame only',
  depth: 8,
});

/** Decoded pixels, row-major, 1 to 4 interleaved 8-bit channels (grey, grey+alpha, RGB, RGBA). */
export interface Pixels {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
  channels: number;
}

/** Pixels with any alpha flattened onto black, as RGB. */
export function toRgb(px: Pixels): Uint8Array {
  const { data, width, height, channels } = px;
  const n = width * height;
  if (!(channels >= 1 && channels <= 4) || data.length !== n * channels) {
    throw new RangeError(`pixels hold ${data.length} bytes, ${width}×${height}×${channels} needs ${n * channels}`);
  }
  if (channels === 3) return data instanceof Uint8Array ? data : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = new Uint8Array(n * 3);
  const hasAlpha = channels === 2 || channels === 4;
  const colour = channels >= 3 ? 3 : 1;
  for (let p = 0; p < n; p++) {
    const s = p * channels;
    const a = hasAlpha ? data[s + channels - 1] : 255;
    for (let c = 0; c < 3; c++) {
      const v = data[s + (colour === 3 ? c : 0)];
      out[p * 3 + c] = a === 255 ? v : Math.round((v * a) / 255);
    }
  }
  return out;
}

/** One axis' resampling: for output i, `count[i]` weights from source index `first[i]` on. */
export interface AxisWeights {
  first: Int32Array;
  count: Int32Array;
  taps: number;
  weights: Float64Array;
}

function axisWeights(n: number, start: number, len: number, m: number): AxisWeights {
  const scale = len / m;
  const r = Math.max(1, scale);
  const taps = Math.floor(2 * r) + 2;
  const first = new Int32Array(m);
  const count = new Int32Array(m);
  const weights = new Float64Array(m * taps);
  for (let i = 0; i < m; i++) {
    const centre = start + (i + 0.5) * scale;
    const lo = Math.max(0, Math.floor(centre - r));
    const hi = Math.min(n - 1, Math.floor(centre + r));
    let sum = 0;
    let k = 0;
    let from = -1;
    for (let j = lo; j <= hi; j++) {
      const w = 1 - Math.abs(j + 0.5 - centre) / r;
      if (w <= 0) {
        if (from < 0) continue;
        break;
      }
      if (from < 0) from = j;
      weights[i * taps + k++] = w;
      sum += w;
    }
    if (k === 0) {
      // The window lies wholly outside the image (cannot happen for the fits above): nearest pixel.
      from = Math.min(n - 1, Math.max(0, Math.floor(centre)));
      weights[i * taps] = 1;
      k = 1;
      sum = 1;
    }
    for (let t = 0; t < k; t++) weights[i * taps + t] /= sum;
    first[i] = from;
    count[i] = k;
  }
  return { first, count, taps, weights };
}

/**
 * Means of kx×ky blocks (block (bx, by) covers source columns [bx·kx, min(W, (bx+1)·kx)) and rows
 * likewise; blocks at the right and bottom edges may be partial), for block columns [cLo, cHi) and
 * rows [rLo, rHi), as doubles. kx = ky = 1 is a plain copy.
 */
function blockMeans(rgb: Uint8Array, width: number, height: number, kx: number, ky: number, cLo: number, cHi: number, rLo: number, rHi: number): Float64Array {
  const sw = cHi - cLo;
  const sub = new Float64Array(sw * (rHi - rLo) * 3);
  // Integer sums (at most 255·kx·ky): exact, and kept in small-integer arithmetic by the engine.
  const sums = new Int32Array(sw * 3);
  const xEnd = Math.min(width, cHi * kx);
  for (let by = rLo, dst = 0; by < rHi; by++) {
    const y0 = by * ky;
    const y1 = Math.min(height, y0 + ky);
    sums.fill(0);
    for (let y = y0; y < y1; y++) {
      const row = y * width * 3;
      let t = 0;
      let c = 0;
      let r = 0;
      let g = 0;
      let b = 0;
      for (let s = row + cLo * kx * 3, end = row + xEnd * 3; s < end; s += 3) {
        r += rgb[s];
        g += rgb[s + 1];
        b += rgb[s + 2];
        if (++c === kx) {
          sums[t] += r;
          sums[t + 1] += g;
          sums[t + 2] += b;
          t += 3;
          c = r = g = b = 0;
        }
      }
      if (c) {
        sums[t] += r;
        sums[t + 1] += g;
        sums[t + 2] += b;
      }
    }
    for (let bx = cLo, t = 0; bx < cHi; bx++, t += 3, dst += 3) {
      const n = (Math.min(width, (bx + 1) * kx) - bx * kx) * (y1 - y0);
      sub[dst] = sums[t] / n;
      sub[dst + 1] = sums[t + 1] / n;
      sub[dst + 2] = sums[t + 2] / n;
    }
  }
  return sub;
}

/**
 * What one resize of the window (x0, y0, w, h) of a width×height image to outW×outH reads, and with
 * which weights: block means by the whole factor k = max(1, ⌊scale/2⌋) per axis, then the triangle
 * kernel on those means (remaining scale below 4, so the tent still covers every block). The same
 * two steps as Pillow's resize with reducing_gap = 2. Block columns [cLo, cHi) and block rows
 * [rLo, rHi) are the ones the outputs read (they read blocks in increasing order, so the first and
 * last outputs bound them).
 */
export interface ResamplePlan {
  width: number;
  height: number;
  outW: number;
  outH: number;
  kx: number;
  ky: number;
  hx: AxisWeights;
  vy: AxisWeights;
  cLo: number;
  cHi: number;
  rLo: number;
  rHi: number;
}

export function planResample(width: number, height: number, win: { x0: number; y0: number; w: number; h: number }, outW: number, outH: number): ResamplePlan {
  const kx = Math.max(1, Math.floor(win.w / outW / 2));
  const ky = Math.max(1, Math.floor(win.h / outH / 2));
  const hx = axisWeights(Math.ceil(width / kx), win.x0 / kx, win.w / kx, outW);
  const vy = axisWeights(Math.ceil(height / ky), win.y0 / ky, win.h / ky, outH);
  const cLo = hx.first[0];
  const cHi = hx.first[outW - 1] + hx.count[outW - 1];
  const rLo = vy.first[0];
  const rHi = vy.first[outH - 1] + vy.count[outH - 1];
  return { width, height, outW, outH, kx, ky, hx, vy, cLo, cHi, rLo, rHi };
}

/**
 * Runs a plan on RGB bytes, writing the outW×outH result into `out` (stride `outStride` pixels) at
 * (ox, oy). `resampleInto` below is the definition; Node runs an equivalent in WebAssembly SIMD
 * (src/preprocess/resize-wasm.ts) that gives the same bytes.
 */
export type Resampler = (rgb: Uint8Array, plan: ResamplePlan, out: Uint8Array, outStride: number, ox: number, oy: number) => void;

/** The triangle kernel in plain JavaScript, as the file's header describes it. */
export const resampleInto: Resampler = (rgb, plan, out, outStride, ox, oy) => {
  const { width, height, outW, outH, kx, ky, hx, vy, cLo, cHi, rLo, rHi } = plan;
  const sub = blockMeans(rgb, width, height, kx, ky, cLo, cHi, rLo, rHi);
  const sw = cHi - cLo;
  const hFirst = hx.first;
  const hCount = hx.count;
  const hW = hx.weights;
  const hTaps = hx.taps;
  const line = outW * 3;
  // Horizontal pass.
  const mid = new Float64Array((rHi - rLo) * line);
  for (let y = 0, dst = 0; y < rHi - rLo; y++) {
    const src = y * sw * 3;
    for (let i = 0; i < outW; i++, dst += 3) {
      let s = src + (hFirst[i] - cLo) * 3;
      let wi = i * hTaps;
      const end = wi + hCount[i];
      let r = 0;
      let g = 0;
      let b = 0;
      for (; wi < end; wi++, s += 3) {
        const w = hW[wi];
        r += sub[s] * w;
        g += sub[s + 1] * w;
        b += sub[s + 2] * w;
      }
      mid[dst] = r;
      mid[dst + 1] = g;
      mid[dst + 2] = b;
    }
  }
  // Vertical pass (each sum in the same order, tap 0 first), rounding half up into bytes.
  const acc = new Float64Array(line);
  const vFirst = vy.first;
  const vCount = vy.count;
  const vW = vy.weights;
  for (let j = 0; j < outH; j++) {
    acc.fill(0);
    const w0 = j * vy.taps;
    for (let t = 0, k = vCount[j]; t < k; t++) {
      const w = vW[w0 + t];
      const base = (vFirst[j] - rLo + t) * line;
      for (let x = 0; x < line; x++) acc[x] += mid[base + x] * w;
    }
    const dst = ((oy + j) * outStride + ox) * 3;
    for (let x = 0; x < line; x++) {
      const v = Math.floor(acc[x] + 0.5);
      out[dst + x] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
};

/** Decoded pixels → size×size×3 8-bit RGB by the spec's fit, with the triangle kernel. */
export function resizeToSquare(px: Pixels, spec: Pick<PreprocessSpec, 'size' | 'fit'>, resample: Resampler = resampleInto): Uint8Array {
  const { width: w, height: h } = px;
  const size = spec.size;
  if (!(Number.isInteger(w) && Number.isInteger(h) && w > 0 && h > 0)) throw new RangeError(`bad image size ${w}×${h}`);
  if (!(Number.isInteger(size) && size > 0)) throw new RangeError(`bad target size ${size}`);
  const rgb = toRgb(px);
  const out = new Uint8Array(size * size * 3);
  if (spec.fit === 'fill') {
    resample(rgb, planResample(w, h, { x0: 0, y0: 0, w, h }, size, size), out, size, 0, 0);
  } else if (spec.fit === 'contain') {
    const s = Math.min(size / w, size / h);
    const cw = Math.min(size, Math.max(1, Math.round(w * s)));
    const ch = Math.min(size, Math.max(1, Math.round(h * s)));
    resample(rgb, planResample(w, h, { x0: 0, y0: 0, w, h }, cw, ch), out, size, Math.floor((size - cw) / 2), Math.floor((size - ch) / 2));
  } else {
    const s = Math.max(size / w, size / h);
    const ww = size / s;
    const wh = size / s;
    resample(rgb, planResample(w, h, { x0: (w - ww) / 2, y0: (h - wh) / 2, w: ww, h: wh }, size, size), out, size, 0, 0);
  }
  return out;
}

/**
 * 8-bit RGB → the backbone's floats, the one place this formula lives:
 *   x = lo + (hi − lo)·p/255, then x ← (x − mean[c]) / std[c] when the spec has them (c = i mod 3).
 */
export function normalize(rgb: Uint8Array, spec: Pick<PreprocessSpec, 'range' | 'mean' | 'std'>, out = new Float32Array(rgb.length)): Float32Array {
  const [lo, hi] = spec.range;
  const scale = (hi - lo) / 255;
  const mean = spec.mean ?? [0, 0, 0];
  const std = spec.std ?? [1, 1, 1];
  // The formula takes 256 values per channel: computed once into a table (the same float32s as
  // computing each pixel, a third of the precompute's per-pixel JavaScript before).
  const table = new Float32Array(768);
  for (let c = 0; c < 3; c++) for (let p = 0; p < 256; p++) table[c * 256 + p] = (lo + p * scale - mean[c]) / std[c];
  const n = rgb.length;
  const whole = n - (n % 3);
  for (let i = 0; i < whole; i += 3) {
    out[i] = table[rgb[i]];
    out[i + 1] = table[256 + rgb[i + 1]];
    out[i + 2] = table[512 + rgb[i + 2]];
  }
  for (let i = whole; i < n; i++) out[i] = table[(i % 3) * 256 + rgb[i]];
  return out;
}
