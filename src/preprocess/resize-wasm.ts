/**
 * The `triangle` resize in WebAssembly SIMD (resize.wat): a `Resampler` that gives the same bytes as
 * preprocess.ts's `resampleInto`, about 5× faster here (2.2 vs 12 ms per 1280×960 photo). It was
 * the precompute's hot spot on photos: a CPU profile of `mixhead precompute` over 1280×960 JPEGs
 * put `blockMeans` and `resampleInto` at 18 ms per image on the main thread, more than sharp's
 * decode or the backbone, and the JavaScript loops cost 2–5 ns per value on this machine. See docs/architecture.md
 * ("Preprocessing").
 *
 * Plain ECMAScript (WebAssembly and atob only), like preprocess.ts, so a browser can use it too.
 * Where WebAssembly SIMD is missing (or the host is big-endian), `fastResampler()` returns the
 * JavaScript one.
 */
import { RESIZE_WASM_BASE64 } from './resize-wasm-bytes.js';
import { resampleInto, type Resampler, type ResamplePlan } from './index.js';

interface ResizeExports {
  memory: WebAssembly.Memory;
  resample(...args: number[]): void;
}

// Every buffer is followed by this much slack: the SIMD loops read and write up to a vector past ends.
const PAD = 64;
const align = (n: number) => (n + PAD + 15) & ~15;

let instance: ResizeExports | null | undefined;

function load(): ResizeExports | null {
  if (instance !== undefined) return instance;
  instance = null;
  const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  if (!littleEndian || typeof WebAssembly === 'undefined') return null;
  try {
    const bytes = Uint8Array.from(atob(RESIZE_WASM_BASE64), (c) => c.charCodeAt(0));
    instance = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports as unknown as ResizeExports;
  } catch {
    instance = null; // no SIMD in this runtime
  }
  return instance;
}

/** Which resampler `fastResampler()` gives in this runtime. */
export function resamplerKind(): 'wasm-simd' | 'javascript' {
  return load() ? 'wasm-simd' : 'javascript';
}

/**
 * Runs a plan in WebAssembly: copies the source rows and columns the plan reads, and the weights,
 * into the module's memory (growing it when needed), resamples, and copies the rows out.
 */
export const resampleWasm: Resampler = (rgb: Uint8Array, plan: ResamplePlan, out: Uint8Array, outStride: number, ox: number, oy: number) => {
  const m = load();
  if (!m) return resampleInto(rgb, plan, out, outStride, ox, oy);
  const { width, height, outW, outH, kx, ky, hx, vy, cLo, cHi, rLo, rHi } = plan;
  const xFrom = cLo * kx;
  const xEnd = Math.min(width, cHi * kx);
  const yBase = rLo * ky;
  const yEnd = Math.min(height, rHi * ky);
  const stride = (xEnd - xFrom) * 3;
  const line = outW * 3;
  // Layout: src, then the weights, then the work buffers (byte offsets, 16-aligned).
  let at = 0;
  const take = (bytes: number) => {
    const p = at;
    at += align(bytes);
    return p;
  };
  const src = take((yEnd - yBase) * stride);
  const hFirst = take(outW * 4);
  const hCount = take(outW * 4);
  const hW = take(hx.weights.length * 8);
  const vFirst = take(outH * 4);
  const vCount = take(outH * 4);
  const vW = take(vy.weights.length * 8);
  const sums = take(stride * 4);
  const sub = take((cHi - cLo) * 3 * 8);
  const mid = take((rHi - rLo) * line * 8);
  const dst = take(outH * line);
  const need = at - m.memory.buffer.byteLength;
  if (need > 0) m.memory.grow(Math.ceil(need / 65536));
  const buf = m.memory.buffer;
  const bytes = new Uint8Array(buf);
  if (xFrom === 0 && xEnd === width) {
    bytes.set(rgb.subarray(yBase * stride, yEnd * stride), src);
  } else {
    for (let y = yBase, p = src; y < yEnd; y++, p += stride) bytes.set(rgb.subarray((y * width + xFrom) * 3, (y * width + xEnd) * 3), p);
  }
  new Int32Array(buf, hFirst, outW).set(hx.first);
  new Int32Array(buf, hCount, outW).set(hx.count);
  new Float64Array(buf, hW, hx.weights.length).set(hx.weights);
  new Int32Array(buf, vFirst, outH).set(vy.first);
  new Int32Array(buf, vCount, outH).set(vy.count);
  new Float64Array(buf, vW, vy.weights.length).set(vy.weights);
  m.resample(src, stride, stride, width, height, yBase, kx, ky, cLo, cHi, rLo, rHi, outW, outH, hFirst, hCount, hW, hx.taps, vFirst, vCount, vW, vy.taps, sums, sub, mid, dst);
  if (ox === 0 && outW === outStride) {
    out.set(bytes.subarray(dst, dst + outH * line), oy * outStride * 3);
  } else {
    for (let j = 0; j < outH; j++) out.set(bytes.subarray(dst + j * line, dst + (j + 1) * line), ((oy + j) * outStride + ox) * 3);
  }
};

/** The fastest resampler this runtime has: WebAssembly SIMD, else the JavaScript definition. */
export function fastResampler(): Resampler {
  return load() ? resampleWasm : resampleInto;
}
