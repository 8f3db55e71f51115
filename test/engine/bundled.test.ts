import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadBackbone } from '../../src/backbone/index.js';
import type { Backbone } from '../../src/backbone/types.js';
import { writeFashionSample } from '../../src/data/fashion.js';
import { readClassFolders } from '../../src/data/folder.js';
import { decodeImage } from '../../src/data/image.js';
import { engineOf, extractFeatures, onnxModelPath, useEngine } from '../../src/engine/index.js';
import { maxAbsDiff } from './helpers.js';

// The bundled MobileNetV2 on ONNX Runtime against TF.js, on real Fashion-MNIST images.
let dir = '';
let bb: Backbone;
let pixels: Float32Array;
const n = 8;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mixhead-onnx-'));
  await writeFashionSample({ out: path.join(dir, 'data'), perClass: 1, split: 'train', classes: [0, 1, 2, 3, 4, 5, 7, 8] });
  bb = await loadBackbone();
  const ds = await readClassFolders(path.join(dir, 'data'));
  const px = await Promise.all(ds.items.map((i) => decodeImage(i.source, bb.preprocess)));
  pixels = new Float32Array(n * 224 * 224 * 3);
  px.forEach((p, i) => pixels.set(p, i * 224 * 224 * 3));
});
afterAll(async () => {
  bb?.dispose();
  await rm(dir, { recursive: true, force: true });
});

describe('bundled-mobilenet-v2 on ONNX Runtime', () => {
  it('gives the TF.js maps within 1e-3 on 8 real images, and stores the converted model once', async () => {
    const modelsDir = path.join(dir, 'models');
    const tensors = tf.memory().numTensors;
    const reference = tf.tidy(() => bb.extract(tf.tensor4d(pixels, [n, 224, 224, 3])).dataSync() as Float32Array);
    expect(await useEngine(bb, { engine: 'onnx', modelsDir })).toBe('onnx');
    expect(engineOf(bb)).toBe('onnx');
    const file = onnxModelPath(bb, modelsDir);
    const first = await stat(file);
    expect(first.size).toBeGreaterThan(1e6);
    const got = await extractFeatures(bb, pixels.slice(), n);
    expect(got.length).toBe(n * 7 * 7 * 1280);
    // Real activations, not zeros: a good share of the ReLU6 maps is positive.
    expect(got.filter((v) => v > 0).length).toBeGreaterThan(got.length / 50);
    expect(maxAbsDiff(got, reference)).toBeLessThanOrEqual(1e-3);
    expect(tf.memory().numTensors).toBe(tensors);
  });
});
