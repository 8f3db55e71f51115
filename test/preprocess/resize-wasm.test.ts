import { describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { resizeToSquare, resampleInto, planResample, type Pixels } from '../../src/preprocess/index.js';
import { resampleWasm, resamplerKind, fastResampler } from '../../src/preprocess/resize-wasm.js';
import { RESIZE_WASM_BASE64 } from '../../src/preprocess/resize-wasm-bytes.js';
import { assemble } from '../../scripts/build-wasm.js';
import { Rng } from '../../src/base/random.js';

/** Pixels with smooth structure plus noise (the smooth part makes rounding ties and near-ties common). */
function image(rng: Rng, width: number, height: number, channels: number): Pixels {
  const data = new Uint8Array(width * height * channels);
  for (let i = 0; i < data.length; i++) {
    const p = Math.floor(i / channels);
    data[i] = (((p % width) * 3 + Math.floor(p / width) * 5 + (i % channels) * 40) & 255) ^ (rng.int(4) === 0 ? rng.int(256) : 0);
  }
  return { data, width, height, channels };
}

const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;

describe('the triangle resize in WebAssembly SIMD', () => {
  it('runs here (Node has WebAssembly SIMD)', () => {
    expect(resamplerKind()).toBe('wasm-simd');
    expect(fastResampler()).toBe(resampleWasm);
  });

  it('gives the bytes of the JavaScript definition on 400 random images, sizes, channel counts and fits', () => {
    const rng = new Rng(5);
    const fits = ['cover', 'contain', 'fill'] as const;
    const sizes = [1, 2, 7, 31, 224, 299];
    let checked = 0;
    for (let t = 0; t < 400; t++) {
      // Every third image large enough for block means (scale ≥ 4 at size 224: k ≥ 2 per axis).
      const big = t % 3 === 0;
      const width = 1 + rng.int(big ? 1200 : 260);
      const height = 1 + rng.int(big ? 1200 : 260);
      const px = image(rng, width, height, 1 + rng.int(4));
      const spec = { size: sizes[rng.int(sizes.length)], fit: fits[rng.int(3)] };
      const js = resizeToSquare(px, spec, resampleInto);
      const wasm = resizeToSquare(px, spec, resampleWasm);
      if (!same(js, wasm)) throw new Error(`differs: ${width}×${height}×${px.channels} → ${spec.size} ${spec.fit}`);
      checked++;
    }
    expect(checked).toBe(400);
  });

  it('gives the same bytes on edge cases: partial blocks at the right and bottom, one-pixel images, extreme aspect ratios, 5 MP', () => {
    const rng = new Rng(9);
    const cases: [number, number, number, 'cover' | 'contain' | 'fill'][] = [
      [1, 1, 224, 'cover'],
      [1, 500, 224, 'contain'],
      [3000, 1, 7, 'fill'],
      [1001, 997, 224, 'fill'], // 1001 = 4·224 + 105: the last block column is partial
      [2592, 1944, 224, 'cover'],
      [901, 4001, 224, 'contain'],
      [449, 449, 224, 'cover'], // scale just above 2: k = 1
      [896, 896, 224, 'cover'], // scale exactly 4: k = 2
    ];
    for (const [w, h, size, fit] of cases) {
      const px = image(rng, w, h, 3);
      expect(same(resizeToSquare(px, { size, fit }, resampleInto), resizeToSquare(px, { size, fit }, resampleWasm)), `${w}×${h} → ${size} ${fit}`).toBe(true);
    }
  });

  it('writes only its window of the output (contain letterboxes stay black), and reuses its memory across calls of any size', () => {
    const rng = new Rng(3);
    const small = image(rng, 40, 10, 3);
    const large = image(rng, 1600, 1200, 3);
    // Large, then small, then large again: buffers laid out for one call must not leak into the next.
    for (const px of [large, small, large, small]) {
      const plan = planResample(px.width, px.height, { x0: 0, y0: 0, w: px.width, h: px.height }, 50, 20);
      const a = new Uint8Array(64 * 64 * 3).fill(7);
      const b = new Uint8Array(64 * 64 * 3).fill(7);
      resampleInto(px.data as Uint8Array, plan, a, 64, 5, 9);
      resampleWasm(px.data as Uint8Array, plan, b, 64, 5, 9);
      expect(same(a, b)).toBe(true);
      expect(b[0]).toBe(7); // outside the window: untouched
      expect(b[(9 * 64 + 5 + 50) * 3]).toBe(7);
    }
  });

  it('on a real photo decoded by sharp as well', async () => {
    const { data, info } = await sharp({ create: { width: 1280, height: 960, channels: 3, background: { r: 30, g: 120, b: 200 } } })
      .composite([{ input: Buffer.from('<svg width="1280" height="960"><circle cx="600" cy="400" r="300" fill="#e33"/><rect x="100" y="700" width="900" height="40" fill="#fff"/></svg>') }])
      .jpeg({ quality: 85 })
      .toBuffer()
      .then((jpg) => sharp(jpg).raw().toBuffer({ resolveWithObject: true }));
    const px = { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height, channels: info.channels };
    for (const fit of ['cover', 'contain', 'fill'] as const) expect(same(resizeToSquare(px, { size: 224, fit }, resampleInto), resizeToSquare(px, { size: 224, fit }, resampleWasm))).toBe(true);
  });

  it('resize-wasm-bytes.ts is what resize.wat assembles to (run npm run build:wasm after editing the .wat)', async () => {
    expect(Buffer.from(await assemble('resize')).toString('base64')).toBe(RESIZE_WASM_BASE64);
  });
});
