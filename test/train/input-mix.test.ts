import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import path from 'node:path';
import { tempDir } from '../tmp.js';
import { writeFashionSample } from '../../src/data/fashion.js';
import { precompute } from '../../src/jobs/precompute.js';
import { runTrain } from '../../src/jobs/train.js';

describe('mix point "input"', () => {
  it('mixes images, reruns the frozen backbone each step, and trains; tensors are released', async () => {
    const dir = await tempDir('input');
    await writeFashionSample({ out: path.join(dir, 'data'), perClass: 2, split: 'train', classes: [1, 5, 8] });
    await precompute({ data: path.join(dir, 'data'), cache: path.join(dir, 'cache'), workers: 1, backend: 'wasm', progress: false });
    const before = tf.memory().numTensors;
    const r = await runTrain({ cache: path.join(dir, 'cache'), out: path.join(dir, 'run'), mixAt: 'input', mixup: { alpha: 1, dominant: false }, epochs: 2, batchSize: 3, seed: 5, combined: false });
    expect(r.result.history).toHaveLength(2);
    expect(r.result.history.every((e) => Number.isFinite(e.mixedLoss))).toBe(true);
    // λ values away from 1 were used: images really were mixed.
    const hist = r.result.lambdaHistogram;
    expect(hist.slice(0, hist.length - 1).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    expect(r.report.options.mixAt).toBe('input');
    expect(tf.memory().numTensors).toBe(before);
  });
});
