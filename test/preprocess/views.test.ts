import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/base/random.js';
import { mirrorRgb, randomResizedCropBox, renderViews, roundHalfEven, viewPlan, viewSeed, viewSpec, VIEW_DEFAULTS } from '../../src/preprocess/views.js';
import { resizeToSquare } from '../../src/preprocess/index.js';
import { fastResampler } from '../../src/preprocess/resize-wasm.js';

const KEY = 'a3f1c2d4e5b60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9.0011223344556677';
const KEY2 = '0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c.0011223344556677';

/** A w×h RGB image with a gradient and some texture, so crops and mirrors differ from each other. */
function image(w: number, h: number) {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      data[i] = (x * 255) / (w - 1);
      data[i + 1] = (y * 255) / (h - 1);
      data[i + 2] = ((x * 7 + y * 13) % 32) * 8;
    }
  }
  return { data, width: w, height: h, channels: 3 };
}

describe('roundHalfEven (Python round)', () => {
  it('rounds ties to the even neighbour and everything else to nearest', () => {
    expect([0.5, 1.5, 2.5, 3.5, -1.5, 2.4999, 2.5001, 7].map(roundHalfEven)).toEqual([0, 2, 2, 4, -2, 2, 3, 7]);
  });
});

describe('randomResizedCropBox: torchvision RandomResizedCrop.get_params', () => {
  it('replays the definition: area s·W·H, ratio exp(U[ln r0, ln r1]), rounded, then the position', () => {
    const [W, H] = [640, 480];
    for (let seed = 0; seed < 50; seed++) {
      const got = randomResizedCropBox(W, H, [0.35, 1], [3 / 4, 4 / 3], new Rng(seed));
      // The same draws, followed by hand in float64.
      const r = new Rng(seed);
      let want: { top: number; left: number; height: number; width: number } | undefined;
      for (let t = 0; t < 10 && !want; t++) {
        const s = 0.35 + 0.65 * r.uniform();
        const ar = Math.exp(Math.log(3 / 4) + (Math.log(4 / 3) - Math.log(3 / 4)) * r.uniform());
        const w = roundHalfEven(Math.sqrt(W * H * s * ar));
        const h = roundHalfEven(Math.sqrt((W * H * s) / ar));
        if (w > 0 && w <= W && h > 0 && h <= H) want = { top: r.int(H - h + 1), left: r.int(W - w + 1), height: h, width: w };
      }
      expect(got.fallback).toBe(!want);
      if (want) expect(got.box).toEqual(want);
    }
  });

  it('keeps every accepted crop inside the image, with area and ratio in range (up to rounding)', () => {
    const [W, H] = [500, 333];
    const rng = new Rng(7);
    let accepted = 0;
    for (let n = 0; n < 2000; n++) {
      const { box, fallback } = randomResizedCropBox(W, H, [0.35, 1], [3 / 4, 4 / 3], rng);
      expect(box.top).toBeGreaterThanOrEqual(0);
      expect(box.left).toBeGreaterThanOrEqual(0);
      expect(box.top + box.height).toBeLessThanOrEqual(H);
      expect(box.left + box.width).toBeLessThanOrEqual(W);
      if (fallback) continue;
      accepted++;
      // Rounding w and h moves each by at most ½ pixel.
      const areaLo = (Math.sqrt(0.35 * W * H * (3 / 4)) - 0.5) * (Math.sqrt((0.35 * W * H) / (4 / 3)) - 0.5);
      expect(box.width * box.height).toBeGreaterThanOrEqual(areaLo);
      expect(box.width / box.height).toBeGreaterThanOrEqual((3 / 4) * (1 - 0.01));
      expect(box.width / box.height).toBeLessThanOrEqual((4 / 3) * (1 + 0.01));
    }
    expect(accepted).toBeGreaterThan(1900);
  });

  it('falls back to the central crop with the ratio clamped when 10 tries fail', () => {
    // A 1000×10 strip: any area ≥ 0.35 of it needs h ≥ 51 > 10, so every try fails.
    const wide = randomResizedCropBox(1000, 10, [0.35, 1], [3 / 4, 4 / 3], new Rng(1));
    expect(wide).toEqual({ fallback: true, box: { height: 10, width: 13, top: 0, left: Math.floor((1000 - 13) / 2) } });
    const tall = randomResizedCropBox(10, 1000, [0.35, 1], [3 / 4, 4 / 3], new Rng(1));
    expect(tall).toEqual({ fallback: true, box: { width: 10, height: 13, left: 0, top: Math.floor((1000 - 13) / 2) } });
  });
});

describe('views of an image', () => {
  const prep = { size: 32, fit: 'cover' as const };
  const px = image(90, 60);

  it('view 0 is the plain resize and view 1 its mirror', () => {
    const v = renderViews(px, prep, viewSpec(2), KEY);
    const plain = resizeToSquare(px, prep);
    expect(Buffer.from(v.subarray(0, 32 * 32 * 3)).equals(Buffer.from(plain))).toBe(true);
    expect(Buffer.from(v.subarray(32 * 32 * 3)).equals(Buffer.from(mirrorRgb(plain, 32, 32)))).toBe(true);
    // The mirror of a mirror is the image.
    expect(Buffer.from(mirrorRgb(mirrorRgb(plain, 32, 32), 32, 32)).equals(Buffer.from(plain))).toBe(true);
  });

  it('the same key and view give identical bytes; another key gives other crops', () => {
    const a = renderViews(px, prep, viewSpec(6), KEY);
    const b = renderViews(px, prep, viewSpec(6), KEY);
    const c = renderViews(px, prep, viewSpec(6), KEY2);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    const one = 32 * 32 * 3;
    expect(Buffer.from(a.subarray(0, 2 * one)).equals(Buffer.from(c.subarray(0, 2 * one)))).toBe(true);
    expect(Buffer.from(a.subarray(2 * one)).equals(Buffer.from(c.subarray(2 * one)))).toBe(false);
    // View v does not depend on how many views are asked for.
    const fewer = renderViews(px, prep, viewSpec(3), KEY);
    expect(Buffer.from(fewer).equals(Buffer.from(a.subarray(0, 3 * one)))).toBe(true);
  });

  it('the WebAssembly resampler gives the same views as the JavaScript definition', () => {
    const js = renderViews(px, prep, viewSpec(5), KEY);
    const wasm = renderViews(px, prep, viewSpec(5), KEY, fastResampler());
    expect(Buffer.from(wasm).equals(Buffer.from(js))).toBe(true);
  });

  it('without flip, view 1 is a crop and no crop is mirrored', () => {
    const spec = viewSpec(8, false);
    expect(viewPlan(1, spec, 90, 60, KEY).kind).toBe('crop');
    for (let v = 1; v < 8; v++) {
      const p = viewPlan(v, spec, 90, 60, KEY);
      expect(p.kind === 'crop' && !p.flip).toBe(true);
    }
    // With flip, crops are mirrored about half the time.
    const flips = Array.from({ length: 400 }, (_, v) => viewPlan(v + 2, viewSpec(402), 90, 60, KEY)).filter((p) => p.kind === 'crop' && p.flip).length;
    expect(flips).toBeGreaterThan(160);
    expect(flips).toBeLessThan(240);
  });

  it('a crop view is the crop window resized: a crop of a one-colour region is that colour', () => {
    // Left half red, right half blue; a crop wholly inside one half is that colour only.
    const w = 800;
    const h = 300;
    const data = new Uint8Array(w * h * 3);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data.set(x < 400 ? [255, 0, 0] : [0, 0, 255], (y * w + x) * 3);
    const halves = { data, width: w, height: h, channels: 3 };
    let checked = 0;
    for (let v = 2; v < 200; v++) {
      const p = viewPlan(v, viewSpec(200, false), w, h, KEY);
      if (p.kind !== 'crop' || p.box.left + p.box.width > 390) continue; // the tent reaches a few pixels past the window
      const out = renderViews(halves, prep, viewSpec(v + 1, false), KEY).subarray(v * 32 * 32 * 3);
      for (let i = 0; i < out.length; i += 3) expect([out[i], out[i + 1], out[i + 2]]).toEqual([255, 0, 0]);
      checked++;
    }
    expect(checked).toBeGreaterThan(0);
  });

  it('refuses a key that is not hex and a view count below 1', () => {
    expect(() => viewSeed('zz')).toThrow(/12 hex digits/);
    expect(() => viewSpec(0)).toThrow(/whole number ≥ 1/);
    expect(VIEW_DEFAULTS.scale).toEqual([0.35, 1]);
  });
});
