/**
 * Long training does not leak: 30 epochs for every head × mix point, with tf.memory()'s tensor count
 * and bytes read after each epoch (identical from the first epoch on) and the process RSS compared
 * between epoch 5 and epoch 30 (allowed slack: RSS_SLACK_MB, for allocator and GC noise; a leak of
 * one 16×16 batch per step would be ~1 MB per epoch here, far more over 25 epochs of the bigger runs).
 * Behind `npm run test:slow`.
 */
import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { tempDir } from '../tmp.js';
import { memoryFeatureSet, type FeatureSet } from '../../src/train/features.js';
import { trainHead, MIX_POINTS } from '../../src/train/trainer.js';
import { HEAD_TYPES, disposeHead } from '../../src/train/heads.js';
import type { Backbone } from '../../src/backbone/types.js';
import type { DataItem } from '../../src/data/types.js';
import { decodeImage } from '../../src/data/image.js';
import { CacheReader, FeatureCache, makeHeader } from '../../src/cache/index.js';
import { cacheFeatureSet } from '../../src/train/features.js';

const EPOCHS = 30;
const RSS_SLACK_MB = 40;
const SHAPE = [4, 4, 16];

/** A frozen "backbone" for the input mix point: 16×16 images → 4×4 average pool → 16 channels (fixed projection). */
function tinyBackbone(): Backbone {
  const proj = tf.tensor2d(Array.from({ length: 3 * 16 }, (_, i) => Math.sin(i + 1)), [3, 16]);
  return {
    id: 'tiny-pool',
    weightsHash: 'tiny',
    cut: 'pool',
    kind: 'graph',
    preprocess: { size: 16, range: [0, 1], fit: 'fill' },
    featureShape: SHAPE,
    extract: (batch) =>
      tf.tidy(() => {
        const pooled = tf.avgPool(batch, 4, 4, 'valid') as tf.Tensor4D; // [B, 4, 4, 3]
        const [b] = pooled.shape;
        return tf.relu(tf.matMul(pooled.reshape([b * 16, 3]), proj)).reshape([b, 4, 4, 16]);
      }),
    dispose: () => proj.dispose(),
  };
}

async function dataset(backbone: Backbone, n: number): Promise<FeatureSet> {
  const dir = await tempDir('leaks');
  const classes = ['a', 'b', 'c'];
  const items: DataItem[] = [];
  for (let i = 0; i < n; i++) {
    const file = path.join(dir, `${i}.png`);
    const c = i % 3;
    const px = Buffer.alloc(16 * 16 * 3).map((_, j) => (j % 3 === c ? 150 + ((i * 37 + j) % 100) : (i * 13 + j) % 60));
    await writeFile(file, await sharp(px, { raw: { width: 16, height: 16, channels: 3 } }).png().toBuffer());
    items.push({ id: `${i}.png`, source: file, labels: [classes[c]] });
  }
  const pixels = new Float32Array(n * 16 * 16 * 3);
  for (let i = 0; i < n; i++) pixels.set(await decodeImage(items[i].source, backbone.preprocess), i * 16 * 16 * 3);
  const maps = tf.tidy(() => backbone.extract(tf.tensor4d(pixels, [n, 16, 16, 3]))).dataSync() as Float32Array;
  const set = memoryFeatureSet({ maps: Float32Array.from(maps), featureShape: SHAPE, labels: items.map((it) => it.labels), classes, items });
  return { ...set, item: (i: number) => items[i] } as FeatureSet;
}

describe.skipIf(!process.env.MIXHEAD_SLOW)(`${EPOCHS} epochs of every head and mix point`, () => {
  it('tf.memory() tensors and bytes stay flat epoch after epoch and return to the baseline; RSS stays within the slack', async () => {
    const backbone = tinyBackbone();
    const train = await dataset(backbone, 48);
    const valid = await dataset(backbone, 18);
    const baseline = tf.memory();
    const rows: string[] = [];
    for (const head of HEAD_TYPES) {
      for (const mixAt of MIX_POINTS) {
        const tensors: number[] = [];
        const bytes: number[] = [];
        const rss: number[] = [];
        const r = await trainHead(train, valid, {
          head,
          mixAt,
          hidden: 16,
          epochs: EPOCHS,
          batchSize: 16,
          lr: 0.01,
          seed: 4,
          backbone,
          mixup: { alpha: 0.4 },
          onEpoch: () => {
            const m = tf.memory();
            tensors.push(m.numTensors);
            bytes.push(m.numBytes);
            rss.push(process.memoryUsage().rss);
          },
        });
        expect(r.history).toHaveLength(EPOCHS);
        expect(r.history.every((e) => Number.isFinite(e.mixedLoss))).toBe(true);
        expect(new Set(tensors).size, `${head}/${mixAt} tensors ${tensors.join(',')}`).toBe(1);
        expect(new Set(bytes).size, `${head}/${mixAt} bytes`).toBe(1);
        const growth = (rss[EPOCHS - 1] - rss[4]) / 2 ** 20;
        rows.push(`${head}/${mixAt}: ${tensors[0]} tensors, ${bytes[0]} bytes; RSS ${(rss[4] / 2 ** 20).toFixed(0)} → ${(rss[EPOCHS - 1] / 2 ** 20).toFixed(0)} MB`);
        expect(growth, `${head}/${mixAt} RSS grew ${growth.toFixed(1)} MB from epoch 5 to ${EPOCHS}`).toBeLessThan(RSS_SLACK_MB);
        disposeHead(r.head);
        // Everything the run made is gone with its head.
        expect(tf.memory().numTensors, `${head}/${mixAt} after dispose`).toBe(baseline.numTensors);
        expect(tf.memory().numBytes).toBe(baseline.numBytes);
      }
    }
    console.log(rows.join('\n'));
    backbone.dispose();
  }, 600_000);

  it('reading full 7×7×256 maps from a feature cache for 30 epochs (conv head, no pooling first): flat tensors, RSS within the slack', async () => {
    const dir = await tempDir('leaks-cache');
    const shape = [7, 7, 256];
    const size = shape.reduce((a, b) => a * b);
    const classes = ['a', 'b', 'c', 'd'];
    const c = FeatureCache.create(dir, makeHeader({ backbone: { id: 't', weightsHash: 'h', cut: 'c', kind: 'graph' }, preprocess: { size: 224, range: [0, 1], fit: 'cover' }, featureShape: shape, dtype: 'float16', classes, multiLabel: false }));
    for (let b = 0; b < 4; b++) {
      c.putMany(
        Array.from({ length: 32 }, (_, j) => {
          const i = b * 32 + j;
          return { key: `k${i}`, id: `i${i}`, source: `s${i}`, labels: [classes[i % 4]], features: Float32Array.from({ length: size }, (_, v) => ((v % 256) >> 6 === i % 4 ? 1 : 0) + ((i * 31 + v) % 17) / 40) };
        }),
      );
    }
    await c.close();
    const reader = CacheReader.open(dir);
    const set = cacheFeatureSet(reader, { pooled: false });
    const baseline = tf.memory().numTensors;
    const tensors: number[] = [];
    const rss: number[] = [];
    const r = await trainHead(set, null, {
      head: 'conv',
      hidden: 16,
      poolFirst: false,
      epochs: EPOCHS,
      batchSize: 16,
      lr: 0.005,
      seed: 2,
      mixup: { alpha: 0.4, cutmixAlpha: 1, switchProb: 0.5 },
      onEpoch: () => {
        tensors.push(tf.memory().numTensors);
        rss.push(process.memoryUsage().rss);
      },
    });
    expect(new Set(tensors).size, tensors.join(',')).toBe(1);
    const growth = (rss[EPOCHS - 1] - rss[4]) / 2 ** 20;
    console.log(`cache/conv/features+cutmix: ${tensors[0]} tensors; RSS ${(rss[4] / 2 ** 20).toFixed(0)} → ${(rss[EPOCHS - 1] / 2 ** 20).toFixed(0)} MB`);
    expect(growth, `RSS grew ${growth.toFixed(1)} MB from epoch 5 to ${EPOCHS}`).toBeLessThan(RSS_SLACK_MB);
    disposeHead(r.head);
    expect(tf.memory().numTensors).toBe(baseline);
    await reader.close();
  }, 600_000);
});
