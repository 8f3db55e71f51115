import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { bombHeaderPng } from '../fixtures/png.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { decodeReason, decodeToRgb, normalize, decodeImage, ImageDecodeError, hashBytes, readErrorReason, readImageBytes } from '../../src/data/image.js';
import { fashionClassPixels } from '../../src/data/fashion.js';
import type { PreprocessSpec } from '../../src/backbone/types.js';
import type { RawImage } from '../../src/data/types.js';

const spec = (size: number, fit: PreprocessSpec['fit'] = 'cover'): PreprocessSpec => ({ size, range: [0, 1], fit });
let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mixhead-img-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const raw = (data: Uint8Array | Buffer, width: number, height: number, channels: 1 | 3 | 4 = 3) => sharp(Buffer.from(data), { raw: { width, height, channels } });
const at = (rgb: Uint8Array, size: number, x: number, y: number) => Array.from(rgb.subarray((y * size + x) * 3, (y * size + x) * 3 + 3));
const RED = [255, 0, 0];
const GREEN = [0, 255, 0];
const BLUE = [0, 0, 255];
const BLACK = [0, 0, 0];

/** A w×h RGB image made of vertical bands of the given colours, each `band` pixels wide. */
function bands(colours: number[][], band: number, h: number): { data: Buffer; w: number } {
  const w = colours.length * band;
  const data = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data.set(colours[Math.floor(x / band)], (y * w + x) * 3);
  return { data, w };
}

/** A smooth, non-symmetric w×h RGB pattern: every pixel differs from its mirror images. */
function gradient(w: number, h: number): Buffer {
  const data = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data.set([Math.round((255 * x) / (w - 1)), Math.round((255 * y) / (h - 1)), 60], (y * w + x) * 3);
  return data;
}

/** Rotates raw RGB pixels 90° clockwise (w×h → h×w): out(x', y') = in(y', h − 1 − x'). */
function rotateCw(px: Uint8Array, w: number, h: number): Uint8Array {
  const out = new Uint8Array(px.length);
  for (let y2 = 0; y2 < w; y2++) for (let x2 = 0; x2 < h; x2++) out.set(px.subarray((( h - 1 - x2) * w + y2) * 3, ((h - 1 - x2) * w + y2) * 3 + 3), (y2 * h + x2) * 3);
  return out;
}

const maxAbsDiff = (a: Uint8Array, b: Uint8Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

describe('decodeToRgb geometry', () => {
  // Scale factor 1 in cover and contain, so the expected output is exact, pixel for pixel.
  it('cover keeps the centre square of a wide image', async () => {
    const { data, w } = bands([RED, GREEN, BLUE], 10, 10); // 30×10
    const out = await decodeToRgb(await raw(data, w, 10).png().toBuffer(), spec(10, 'cover'));
    expect(Buffer.from(out).equals(Buffer.alloc(10 * 10 * 3).fill(Buffer.from(GREEN)))).toBe(true);
  });

  it('contain letterboxes on black, centred', async () => {
    const { data, w } = bands([RED, BLUE], 10, 10); // 20×10 into 20×20: 5 black rows above and below
    const out = await decodeToRgb(await raw(data, w, 10).png().toBuffer(), spec(20, 'contain'));
    for (let y = 0; y < 20; y++) {
      for (let x = 0; x < 20; x++) {
        const want = y < 5 || y >= 15 ? BLACK : x < 10 ? RED : BLUE;
        expect(at(out, 20, x, y), `(${x}, ${y})`).toEqual(want);
      }
    }
  });

  it('fill stretches: a 40×10 image of four bands becomes four 5-pixel bands on 20×20', async () => {
    const { data, w } = bands([RED, GREEN, BLUE, RED], 10, 10);
    const out = await decodeToRgb(await raw(data, w, 10).png().toBuffer(), spec(20, 'fill'));
    // Away from the band edges the (bilinear) filter sees one colour only.
    for (const y of [0, 7, 19]) {
      expect(at(out, 20, 1, y)).toEqual(RED);
      expect(at(out, 20, 7, y)).toEqual(GREEN);
      expect(at(out, 20, 12, y)).toEqual(BLUE);
      expect(at(out, 20, 18, y)).toEqual(RED);
    }
  });

  it('cover is the default geometry the decoder falls back to, and sizes are honoured', async () => {
    const { data, w } = bands([RED, GREEN, BLUE], 10, 10);
    const png = await raw(data, w, 10).png().toBuffer();
    const out = await decodeToRgb(png, { size: 7, range: [0, 1] } as PreprocessSpec);
    expect(out.length).toBe(7 * 7 * 3);
    expect(at(out, 7, 3, 3)).toEqual(GREEN);
  });
});

describe('decodeToRgb colour and metadata', () => {
  it('applies EXIF orientation 6: equals the stored pixels rotated 90° clockwise by hand', async () => {
    const [w, h] = [24, 16];
    const jpg = await raw(gradient(w, h), w, h).jpeg({ quality: 100 }).withMetadata({ orientation: 6 }).toBuffer();
    expect((await sharp(jpg).metadata()).orientation).toBe(6);
    // The stored (unrotated) pixels, exactly as the JPEG decoder gives them.
    const stored = new Uint8Array(await sharp(jpg).raw().toBuffer());
    const upright: RawImage = { width: h, height: w, channels: 3, data: rotateCw(stored, w, h) };
    const sideways: RawImage = { width: w, height: h, channels: 3, data: stored };
    for (const fit of ['fill', 'cover', 'contain'] as const) {
      const got = await decodeToRgb(jpg, spec(12, fit));
      // Tolerance 1: sharp rotates inside its JPEG pipeline, the reference goes in as 8-bit raw; the
      // two resamples round differently by at most one level.
      expect(maxAbsDiff(got, await decodeToRgb(upright, spec(12, fit))), fit).toBeLessThanOrEqual(1);
      expect(maxAbsDiff(got, await decodeToRgb(sideways, spec(12, fit))), fit).toBeGreaterThan(40);
    }
  });

  it('flattens alpha onto black: opaque stays, transparent is black, half-transparent is halved', async () => {
    const rgba = Buffer.alloc(4 * 4 * 4);
    for (let i = 0; i < 16; i++) rgba.set([255, 255, 255, i < 8 ? 255 : i < 12 ? 128 : 0], i * 4);
    const out = await decodeToRgb(await raw(rgba, 4, 4, 4).png().toBuffer(), spec(4, 'fill'));
    expect(at(out, 4, 0, 0)).toEqual([255, 255, 255]); // rows 0–1 opaque white
    at(out, 4, 0, 2).forEach((v) => expect(Math.abs(v - 128)).toBeLessThanOrEqual(1)); // row 2: α = 128/255
    expect(at(out, 4, 0, 3)).toEqual(BLACK); // row 3 transparent
  });

  it('reads a 16-bit PNG as 8-bit: v16 = 257·v8 maps back to v8', async () => {
    const px = new Uint16Array(2 * 2 * 3);
    const want = [255, 128, 0, 7, 200, 64, 1, 2, 3, 90, 180, 254];
    want.forEach((v, i) => (px[i] = v * 257));
    const png = await sharp(px, { raw: { width: 2, height: 2, channels: 3 } }).toColourspace('rgb16').png().toBuffer();
    expect((await sharp(png).metadata()).depth).toBe('ushort');
    expect(Array.from(await decodeToRgb(png, spec(2, 'fill')))).toEqual(want);
  });

  it('reads greyscale as R = G = B', async () => {
    const grey = Uint8Array.from([0, 50, 100, 250]);
    const png = await raw(grey, 2, 2, 1).toColourspace('b-w').png().toBuffer();
    expect((await sharp(png).metadata()).channels).toBe(1);
    expect(Array.from(await decodeToRgb(png, spec(2, 'fill')))).toEqual([0, 0, 0, 50, 50, 50, 100, 100, 100, 250, 250, 250]);
  });

  it('reads a palette PNG back to its exact colours', async () => {
    const colours = [RED, GREEN, BLUE, [10, 20, 30]].flat();
    const png = await raw(Uint8Array.from(colours), 2, 2).png({ palette: true, dither: 0 }).toBuffer();
    expect((await sharp(png).metadata()).isPalette).toBe(true);
    expect(Array.from(await decodeToRgb(png, spec(2, 'fill')))).toEqual(colours);
  });

  it('converts a CMYK JPEG to sRGB (colours survive, within the CMYK gamut)', async () => {
    const { data, w } = bands([RED, BLUE], 8, 8);
    const jpg = await raw(data, w, 8).toColourspace('cmyk').jpeg({ quality: 100 }).toBuffer();
    expect((await sharp(jpg).metadata()).space).toBe('cmyk');
    const out = await decodeToRgb(jpg, spec(16, 'fill'));
    const red = at(out, 16, 2, 8);
    expect(red[0]).toBeGreaterThan(200);
    expect(red[0]).toBeGreaterThan(3 * Math.max(red[1], red[2]));
    // Pure sRGB blue lies outside the CMYK gamut; it comes back a duller blue, still clearly blue.
    const blue = at(out, 16, 13, 8);
    expect(blue[2]).toBeGreaterThan(2 * Math.max(blue[0], blue[1]));
  });

  it('applies an embedded ICC profile: a Display P3 JPEG comes back in sRGB', async () => {
    const { data, w } = bands([RED], 4, 4);
    const jpg = await raw(data, w, 4).withIccProfile('p3').jpeg({ quality: 100 }).toBuffer();
    // The stored pixels are P3 values (sRGB red is about (234, 51, 35) in P3)…
    const stored = Array.from((await sharp(jpg, { ignoreIcc: true }).raw().toBuffer()).subarray(0, 3));
    expect(stored[1]).toBeGreaterThan(30);
    // …and come back as sRGB red.
    const got = at(await decodeToRgb(jpg, spec(2, 'fill')), 2, 0, 0);
    expect(got[0]).toBeGreaterThanOrEqual(250);
    expect(Math.max(got[1], got[2])).toBeLessThanOrEqual(6);
  });

  it.each(['gif', 'webp'] as const)('takes the first frame of an animated %s', async (format) => {
    // Frame 1 white, frame 2 black.
    const frames = Buffer.concat([Buffer.alloc(4 * 4 * 3, 255), Buffer.alloc(4 * 4 * 3, 0)]);
    const s = sharp(frames, { raw: { width: 4, height: 8, channels: 3, pageHeight: 4 } });
    const anim = await (format === 'gif' ? s.gif({ loop: 0 }) : s.webp({ loop: 0, lossless: true })).toBuffer();
    expect((await sharp(anim, { animated: true }).metadata()).pages).toBe(2);
    const out = await decodeToRgb(anim, spec(4, 'fill'));
    expect(out.length).toBe(4 * 4 * 3);
    expect(out.every((v) => v === 255)).toBe(true);
  });

  it('a Fashion-MNIST image as PNG and as raw IDX pixels gives identical output (tolerance 0)', async () => {
    const pixels = Uint8Array.from(fashionClassPixels(0)[0]);
    const png = await raw(pixels, 28, 28, 1).png().toBuffer();
    const file = path.join(dir, 'fashion.png');
    await writeFile(file, png);
    const rawImage: RawImage = { width: 28, height: 28, channels: 1, data: pixels };
    for (const fit of ['cover', 'contain', 'fill'] as const) {
      const a = await decodeToRgb(file, spec(224, fit));
      const b = await decodeToRgb(rawImage, spec(224, fit));
      expect(maxAbsDiff(a, b), fit).toBe(0);
    }
    // And an RGB raw image against its PNG, non-square.
    const rgb = gradient(30, 18);
    const a = await decodeToRgb(await raw(rgb, 30, 18).png().toBuffer(), spec(50, 'cover'));
    const b = await decodeToRgb({ width: 30, height: 18, channels: 3, data: rgb }, spec(50, 'cover'));
    expect(maxAbsDiff(a, b)).toBe(0);
  });
});


describe('decodeToRgb errors', () => {
  it.each([
    ['empty file', Buffer.alloc(0), /^empty file$/],
    ['random bytes', Buffer.from(Array.from({ length: 500 }, (_, i) => (i * 7919 + 13) % 256)), /^not an image \(unrecognised format\)$/],
    ['text', Buffer.from('hello, I am not a PNG'), /^not an image \(unrecognised format\)$/],
    ['a BMP', Buffer.concat([Buffer.from('BM'), Buffer.alloc(60)]), /^BMP is not supported/],
  ])('%s is a one-line ImageDecodeError', async (_name, buf, reason) => {
    const err = await decodeToRgb(buf, spec(8)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageDecodeError);
    expect((err as ImageDecodeError).reason).toMatch(reason);
    expect((err as Error).message.split('\n')).toHaveLength(1);
  });

  // libvips keeps one error buffer per process: under concurrent decodes the detail after sharp's
  // prefix can be lost or another decode's. Without a known signature the reason is still "not an image".
  it.each([
    ['the full XML detail', 'Input buffer has corrupt header: glib: XML parse error: Error domain 1 code 73'],
    ['the detail lost', 'Input buffer has corrupt header:'],
    ['the detail on its own line', 'Input buffer has corrupt header:\nglib: XML parse error'],
    ['an empty message', ''],
  ])('sharp failing on text with %s gives "not an image"', async (_name, message) => {
    const text = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><rect');
    const reason = await decodeReason(new Error(message), text, 1e8);
    expect(reason).toMatch(/^not an image/);
    expect(reason).not.toMatch(/glib|XML|vips/i);
  });

  it('a truncated JPEG is refused, naming the file', async () => {
    const jpg = await raw(gradient(64, 64), 64, 64).jpeg().toBuffer();
    const cut = path.join(dir, 'cut.jpg');
    await writeFile(cut, jpg.subarray(0, jpg.length >> 1));
    const err = (await decodeToRgb(cut, spec(8)).catch((e: unknown) => e)) as ImageDecodeError;
    expect(err).toBeInstanceOf(ImageDecodeError);
    expect(err.source).toBe(cut);
    expect(err.message).toContain('cut.jpg');
    expect(err.reason).toMatch(/^truncated or corrupt JPEG/);
    expect(err.message.split('\n')).toHaveLength(1);
  });

  it('a decompression bomb is refused from its header, with its dimensions', async () => {
    // 40000×3000 = 120 MP claimed by a 68-byte file: refused before any pixel is decoded.
    const err = (await decodeToRgb(bombHeaderPng(40000, 3000), spec(8)).catch((e: unknown) => e)) as ImageDecodeError;
    expect(err.reason).toMatch(/^image too large: 40000×3000 px exceeds the 100 MP limit/);
    // The limit is configurable, and raw pixels obey it too.
    const small = await raw(gradient(50, 30), 50, 30).png().toBuffer();
    await expect(decodeToRgb(small, spec(8), { maxPixels: 1000 })).rejects.toThrow(/image too large: 50×30 px exceeds the 1000 px limit/);
    expect((await decodeToRgb(small, spec(8), { maxPixels: 1500 })).length).toBe(8 * 8 * 3);
    const line: RawImage = { width: 40000, height: 10, channels: 1, data: new Uint8Array(400000) };
    await expect(decodeToRgb(line, spec(8), { maxPixels: 100_000 })).rejects.toThrow(/image too large: 40000×10 px exceeds the 100000 px limit/);
  });

  it('file-system errors become short reasons', async () => {
    const missing = (await decodeToRgb(path.join(dir, 'missing.png'), spec(8)).catch((e: unknown) => e)) as ImageDecodeError;
    expect(missing.reason).toBe('file not found');
    await expect(readImageBytes(dir)).rejects.toThrow(/is a directory/);
    expect(readErrorReason(Object.assign(new Error('x'), { code: 'EACCES' }))).toBe('permission denied');
    expect(readErrorReason(Object.assign(new Error('x'), { code: 'EPERM' }))).toBe('permission denied');
    expect(readErrorReason(Object.assign(new Error('x'), { code: 'EMFILE' }))).toBe('cannot read (EMFILE)');
  });

  it('raw pixels of the wrong length are refused', async () => {
    await expect(decodeToRgb({ width: 3, height: 3, channels: 1, data: new Uint8Array(8) }, spec(4))).rejects.toThrow(/raw pixels hold 8 bytes, 3×3×1 needs 9/);
  });
});

describe('normalize', () => {
  it('scales to the range then applies mean/std, as computed in float64', () => {
    const rgb = Uint8Array.from({ length: 256 * 3 }, (_, i) => Math.floor(i / 3));
    const s: PreprocessSpec = { size: 1, range: [-1, 1], mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], fit: 'cover' };
    const out = normalize(rgb, s);
    rgb.forEach((p, i) => {
      const c = i % 3;
      const want = (-1 + (2 * p) / 255 - s.mean![c]) / s.std![c];
      // float32 has 24 bits of mantissa: relative error ≤ 2^-23 after one rounding, allow a few.
      expect(Math.abs(out[i] - want)).toBeLessThanOrEqual(4 * 2 ** -23 * Math.max(1, Math.abs(want)));
    });
  });

  it('gives exactly the float32 of the per-pixel formula (it reads a table of it), also for a length that is not a multiple of 3 and into a given array', () => {
    const rgb = Uint8Array.from({ length: 256 * 3 + 2 }, (_, i) => (i * 101) % 256);
    const s: PreprocessSpec = { size: 1, range: [-1, 1], mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], fit: 'cover' };
    const into = new Float32Array(rgb.length + 4).fill(9);
    const out = normalize(rgb, s, into.subarray(2, 2 + rgb.length));
    rgb.forEach((p, i) => expect(out[i]).toBe(Math.fround((-1 + p * (2 / 255) - s.mean![i % 3]) / s.std![i % 3])));
    expect([into[0], into[1], into[rgb.length + 2], into[rgb.length + 3]]).toEqual([9, 9, 9, 9]);
  });

  it('without mean/std it is the range only: [0, 1] is p/255', () => {
    const out = normalize(Uint8Array.from([0, 51, 255]), spec(1));
    expect(Array.from(out)).toEqual([0, Math.fround(0.2), 1]);
  });

  it('decodeImage = decodeToRgb then normalize', async () => {
    const png = await raw(gradient(9, 9), 9, 9).png().toBuffer();
    const s: PreprocessSpec = { size: 6, range: [-1, 1], mean: [0.1, 0.2, 0.3], std: [2, 3, 4], fit: 'contain' };
    expect(Array.from(await decodeImage(png, s))).toEqual(Array.from(normalize(await decodeToRgb(png, s), s)));
  });
});

describe('hashBytes', () => {
  it('is the sha256 hex digest', () => {
    expect(hashBytes(Buffer.from('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});
