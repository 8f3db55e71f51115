import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { decodeToRgb, normalize, decodeImage, ImageDecodeError } from '../../src/data/image.js';
import type { PreprocessSpec } from '../../src/backbone/types.js';

const spec = (size: number, fit: PreprocessSpec['fit'] = 'cover'): PreprocessSpec => ({ size, range: [0, 1], fit });
let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mixhead-img-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** A w×h RGB image: left half red, right half blue. */
function halves(w: number, h: number): Buffer {
  const px = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) px[(y * w + x) * 3 + (x < w / 2 ? 0 : 2)] = 255;
  return px;
}
const at = (rgb: Uint8Array, size: number, x: number, y: number) => Array.from(rgb.subarray((y * size + x) * 3, (y * size + x) * 3 + 3));

describe('decodeToRgb', () => {
  it('fit: cover crops the centre, contain letterboxes on black, fill stretches', async () => {
    // 40×20, left half red, right half blue.
    const png = await sharp(halves(40, 20), { raw: { width: 40, height: 20, channels: 3 } }).png().toBuffer();
    const cover = await decodeToRgb(png, spec(10, 'cover'));
    const contain = await decodeToRgb(png, spec(10, 'contain'));
    const fill = await decodeToRgb(png, spec(10, 'fill'));
    // cover: the centre 20×20 is kept; its left half is red, right half blue.
    expect(at(cover, 10, 1, 5)).toEqual([255, 0, 0]);
    expect(at(cover, 10, 8, 5)).toEqual([0, 0, 255]);
    // contain: rows 0–1 and 8–9 are black bars (20/40 × 10 = 5 rows of image, centred).
    expect(at(contain, 10, 1, 0)).toEqual([0, 0, 0]);
    expect(at(contain, 10, 1, 9)).toEqual([0, 0, 0]);
    expect(at(contain, 10, 1, 5)).toEqual([255, 0, 0]);
    // fill: full height, left quarter red.
    expect(at(fill, 10, 0, 0)).toEqual([255, 0, 0]);
    expect(at(fill, 10, 9, 9)).toEqual([0, 0, 255]);
  });

  it('applies EXIF orientation: a photo tagged "rotate 90° CW" comes out upright', async () => {
    // Stored sideways (20 wide, 40 tall, top half red) with orientation 6: displayed it is 40×20
    // with the red half on the right.
    const tall = Buffer.alloc(20 * 40 * 3);
    for (let y = 0; y < 40; y++) for (let x = 0; x < 20; x++) tall[(y * 20 + x) * 3 + (y < 20 ? 0 : 2)] = 255;
    const jpg = await sharp(tall, { raw: { width: 20, height: 40, channels: 3 } }).jpeg({ quality: 100 }).withMetadata({ orientation: 6 }).toBuffer();
    const out = await decodeToRgb(jpg, spec(10, 'fill'));
    const right = at(out, 10, 9, 5);
    const left = at(out, 10, 0, 5);
    expect(right[0]).toBeGreaterThan(200); // red on the right
    expect(left[2]).toBeGreaterThan(200); // blue on the left
  });

  it('flattens alpha onto black, and reads 16-bit, greyscale, palette, CMYK and animated images as 8-bit sRGB', async () => {
    const rgba = Buffer.alloc(4 * 4 * 4);
    for (let i = 0; i < 16; i++) rgba.set([255, 255, 255, i < 8 ? 255 : 0], i * 4);
    const cases: [string, Buffer][] = [
      ['rgba', await sharp(rgba, { raw: { width: 4, height: 4, channels: 4 } }).png().toBuffer()],
      ['16-bit', await sharp(halves(8, 8), { raw: { width: 8, height: 8, channels: 3 } }).toColourspace('rgb16').png().toBuffer()],
      ['grey', await sharp(halves(8, 8), { raw: { width: 8, height: 8, channels: 3 } }).greyscale().png().toBuffer()],
      ['palette', await sharp(halves(8, 8), { raw: { width: 8, height: 8, channels: 3 } }).png({ palette: true }).toBuffer()],
      ['cmyk', await sharp(halves(8, 8), { raw: { width: 8, height: 8, channels: 3 } }).toColourspace('cmyk').jpeg().toBuffer()],
      ['gif', await sharp(halves(8, 8), { raw: { width: 8, height: 8, channels: 3 } }).gif().toBuffer()],
    ];
    for (const [name, buf] of cases) {
      const out = await decodeToRgb(buf, spec(4, 'fill'));
      expect(out.length, name).toBe(4 * 4 * 3);
    }
    const flat = await decodeToRgb(cases[0][1], spec(4, 'fill'));
    expect(at(flat, 4, 0, 0)).toEqual([255, 255, 255]); // opaque white stays white
    expect(at(flat, 4, 0, 3)).toEqual([0, 0, 0]); // transparent becomes black
    const cmyk = await decodeToRgb(cases[4][1], spec(8, 'fill'));
    expect(at(cmyk, 8, 0, 0)[0]).toBeGreaterThan(200); // still red after CMYK → sRGB
    // Pure sRGB blue is outside the CMYK gamut; it comes back as a darker blue, still clearly blue.
    const blue = at(cmyk, 8, 7, 0);
    expect(blue[2]).toBeGreaterThan(2 * Math.max(blue[0], blue[1]));
  });

  it('takes the first frame of an animated GIF', async () => {
    const frames = Buffer.concat([Buffer.alloc(4 * 4 * 3, 255), Buffer.alloc(4 * 4 * 3, 0)]);
    const gif = await sharp(frames, { raw: { width: 4, height: 8, channels: 3, pageHeight: 4 } as never }).gif({ loop: 0 }).toBuffer();
    expect((await sharp(gif, { animated: true }).metadata()).pages).toBe(2);
    const out = await decodeToRgb(gif, spec(4, 'fill'));
    expect(at(out, 4, 2, 2)).toEqual([255, 255, 255]);
  });

  it.each([
    ['empty file', Buffer.alloc(0), /empty file/],
    ['random bytes', Buffer.from(Array.from({ length: 500 }, (_, i) => (i * 7919) % 256)), /not an image|cannot decode/],
    ['text', Buffer.from('hello, I am not a PNG'), /not an image|cannot decode/],
  ])('%s is a one-line ImageDecodeError', async (_name, buf, reason) => {
    const err = await decodeToRgb(buf, spec(8)).catch((e) => e);
    expect(err).toBeInstanceOf(ImageDecodeError);
    expect(err.reason).toMatch(reason);
    expect(err.message.split('\n')).toHaveLength(1);
  });

  it('a truncated JPEG and a decompression bomb are refused with a reason naming the file', async () => {
    const jpg = await sharp(halves(64, 64), { raw: { width: 64, height: 64, channels: 3 } }).jpeg().toBuffer();
    const cut = path.join(dir, 'cut.jpg');
    await writeFile(cut, jpg.subarray(0, jpg.length >> 1));
    const e1 = await decodeToRgb(cut, spec(8)).catch((e) => e);
    expect(e1.message).toContain('cut.jpg');
    expect(e1.reason).toMatch(/truncated|corrupt/);
    const wide = path.join(dir, 'wide.png');
    await sharp({ create: { width: 40000, height: 3000, channels: 3, background: 'white' } }).png({ compressionLevel: 9 }).toFile(wide);
    const e2 = await decodeToRgb(wide, spec(8)).catch((e) => e);
    expect(e2.reason).toMatch(/too large.*100 MP/);
    const e3 = await decodeToRgb(path.join(dir, 'missing.png'), spec(8)).catch((e) => e);
    expect(e3.reason).toBe('file not found');
  });
});

describe('normalize', () => {
  it('scales to the range then applies mean/std, as computed in float64', () => {
    const rgb = Uint8Array.from([0, 128, 255, 10, 20, 30]);
    const s: PreprocessSpec = { size: 1, range: [-1, 1], mean: [0.1, 0.2, 0.3], std: [0.5, 0.25, 2], fit: 'cover' };
    const out = normalize(rgb, s);
    rgb.forEach((p, i) => {
      const c = i % 3;
      const want = (-1 + (2 * p) / 255 - s.mean![c]) / s.std![c];
      expect(out[i]).toBeCloseTo(want, 6);
    });
  });

  it('decodeImage = decodeToRgb then normalize', async () => {
    const png = await sharp(halves(8, 8), { raw: { width: 8, height: 8, channels: 3 } }).png().toBuffer();
    const f = await decodeImage(png, spec(8, 'fill'));
    expect(Array.from(f.subarray(0, 3))).toEqual([1, 0, 0]);
  });
});
