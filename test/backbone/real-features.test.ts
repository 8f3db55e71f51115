import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadBackbone } from '../../src/backbone/index.js';
import type { Backbone } from '../../src/backbone/types.js';
import { writeFashionSample } from '../../src/data/fashion.js';
import { readClassFolders } from '../../src/data/folder.js';
import { readIdx } from '../../src/data/idx.js';
import { decodeImage } from '../../src/data/image.js';

let dir = '';
let bb: Backbone;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mixhead-real-'));
  // One image of each of 8 classes, as PNG files and as IDX raw pixels.
  await writeFashionSample({ out: dir, perClass: 1, split: 'train', idx: true, classes: [0, 1, 2, 3, 4, 5, 7, 8] });
  bb = await loadBackbone();
});
afterAll(async () => {
  bb.dispose();
  await rm(dir, { recursive: true, force: true });
});

async function features(sources: Parameters<typeof decodeImage>[0][]): Promise<Float32Array> {
  const px = await Promise.all(sources.map((s) => decodeImage(s, bb.preprocess)));
  const batch = new Float32Array(px.length * 224 * 224 * 3);
  px.forEach((p, i) => batch.set(p, i * 224 * 224 * 3));
  return tf.tidy(() => bb.extract(tf.tensor4d(batch, [px.length, 224, 224, 3])).dataSync() as Float32Array);
}

describe('real Fashion-MNIST images through bundled-mobilenet-v2', () => {
  it('8 images give [8,7,7,1280] maps, finite, in ReLU6 range, and different per image', async () => {
    const ds = await readClassFolders(dir);
    expect(ds.items).toHaveLength(8);
    const f = await features(ds.items.map((i) => i.source));
    const d = 7 * 7 * 1280;
    expect(f.length).toBe(8 * d);
    expect(f.every((v) => Number.isFinite(v) && v >= 0 && v <= 6)).toBe(true);
    // Not constant: each pair of images differs clearly (mean absolute difference of their maps).
    for (let a = 0; a < 8; a++) {
      for (let b = a + 1; b < 8; b++) {
        let s = 0;
        for (let j = 0; j < d; j++) s += Math.abs(f[a * d + j] - f[b * d + j]);
        expect(s / d).toBeGreaterThan(0.01);
      }
    }
  });

  it('the same image as PNG and as raw IDX pixels gives the same features (max |Δ| < 1e-4)', async () => {
    const png = await readClassFolders(dir);
    const idx = await readIdx(path.join(dir, 'images-idx3-ubyte'));
    // Both were written in class order 0,1,2,3,4,5,7,8; the folder reader sorts by class name.
    const byClass = new Map(png.items.map((i) => [i.labels[0], i.source]));
    const pairs = idx.items.map((i) => [byClass.get(i.labels[0])!, i.source] as const);
    const a = await features(pairs.map((p) => p[0]));
    const b = await features(pairs.map((p) => p[1]));
    let max = 0;
    for (let j = 0; j < a.length; j++) max = Math.max(max, Math.abs(a[j] - b[j]));
    // Lossless PNG and the raw bytes decode to identical pixels, so the features agree to float noise.
    expect(max).toBeLessThan(1e-4);
  });
});
