import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { normalize, resizeToSquare, toRgb } from '../../src/preprocess/index.js';
import { decodeToRgb } from '../../src/data/image.js';

interface Case {
  name: string;
  size: number;
  fit: 'cover' | 'contain' | 'fill';
  values: number[];
}
const ref = JSON.parse(readFileSync(new URL('../fixtures/web/resize-reference.json', import.meta.url), 'utf8')) as { width: number; height: number; cases: Case[] };
const pixel = (i: number) => (i * 7919 + 13 * Math.floor(i / 3)) % 256;
const W = ref.width;
const H = ref.height;
const data = Uint8Array.from({ length: W * H * 3 }, (_, i) => pixel(i));

describe('the triangle kernel', () => {
  it.each(ref.cases)("matches Pillow's float bilinear resampler: $name", (c) => {
    const out = resizeToSquare({ data, width: W, height: H, channels: 3 }, { size: c.size, fit: c.fit });
    expect(out.length).toBe(c.values.length);
    let worst = 0;
    for (let i = 0; i < out.length; i++) worst = Math.max(worst, Math.abs(out[i] - c.values[i]));
    // Rounding to bytes costs at most ½; Pillow's float32 planes and the fixture's 4 decimals a little more.
    expect(worst).toBeLessThanOrEqual(0.5 + 2e-3);
  });

  it('flattens alpha onto black as round(c·a/255), grey and grey+alpha expanded', () => {
    const rgba = Uint8Array.from([200, 100, 50, 128, 9, 9, 9, 0, 1, 2, 3, 255]);
    expect(Array.from(toRgb({ data: rgba, width: 3, height: 1, channels: 4 }))).toEqual([100, 50, 25, 0, 0, 0, 1, 2, 3]);
    expect(Array.from(toRgb({ data: Uint8Array.from([7, 255, 255, 51]), width: 2, height: 1, channels: 2 }))).toEqual([7, 7, 7, 51, 51, 51]);
    expect(Array.from(toRgb({ data: Uint8Array.from([7, 200]), width: 2, height: 1, channels: 1 }))).toEqual([7, 7, 7, 200, 200, 200]);
    expect(() => toRgb({ data: new Uint8Array(5), width: 2, height: 1, channels: 3 })).toThrow(/needs 6/);
  });

  it('an image already at size passes through unchanged, and normalize maps bytes to the range', () => {
    const px = Uint8Array.from({ length: 8 * 8 * 3 }, (_, i) => pixel(i));
    expect(Array.from(resizeToSquare({ data: px, width: 8, height: 8, channels: 3 }, { size: 8, fit: 'cover' }))).toEqual(Array.from(px));
    const f = normalize(Uint8Array.from([0, 255, 51]), { range: [-1, 1] });
    expect(Array.from(f)).toEqual([-1, 1, Math.fround(-1 + (2 / 255) * 51)]);
  });

  it('Node decodes with sharp, then runs this kernel: EXIF orientation applied, alpha on black', async () => {
    // 6×4 with a distinct left column; orientation 6 shows it rotated 90° clockwise, so upright it is 4×6.
    const raw = Buffer.alloc(6 * 4 * 3, 40);
    for (let y = 0; y < 4; y++) raw.set([250, 0, 0], y * 6 * 3);
    const png = await sharp(raw, { raw: { width: 6, height: 4, channels: 3 } }).png().toBuffer();
    const rotated = await sharp(png).withMetadata({ orientation: 6 }).jpeg({ quality: 100 }).toBuffer();
    const spec = { size: 4, range: [0, 1] as [number, number], fit: 'fill' as const, kernel: 'triangle' as const };
    const upright = await sharp(rotated).rotate().raw().toBuffer({ resolveWithObject: true });
    expect([upright.info.width, upright.info.height]).toEqual([4, 6]);
    const expected = resizeToSquare({ data: upright.data, width: 4, height: 6, channels: 3 }, spec);
    expect(Array.from(await decodeToRgb(rotated, spec))).toEqual(Array.from(expected));
    const rgba = Buffer.from([255, 255, 255, 128, 10, 20, 30, 255, 0, 0, 0, 0, 90, 90, 90, 255]);
    const alphaPng = await sharp(rgba, { raw: { width: 2, height: 2, channels: 4 } }).png().toBuffer();
    expect(Array.from(await decodeToRgb(alphaPng, { ...spec, size: 2 }))).toEqual([128, 128, 128, 10, 20, 30, 0, 0, 0, 90, 90, 90]);
  });
});
