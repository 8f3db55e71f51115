/**
 * The learning-rate finder: the smoothing is the bias-corrected EMA; on a problem whose good range
 * is known (overlapping blobs: a sweep puts it near 3e-2–1e-1 for the linear head and 1e-3–1e-2 for
 * the mlp under Adam), the suggestion trains it, and rates 100× smaller or larger do worse.
 */
import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { blobs } from '../fixtures/blobs.js';
import { fallbackLr, findLearningRate, readCurve, smoothLosses, steepestIndex } from '../../src/train/lrfind.js';
import { memoryFeatureSet } from '../../src/train/features.js';
import { Rng } from '../../src/base/random.js';
import { trainHead } from '../../src/train/trainer.js';
import { disposeHead } from '../../src/train/heads.js';

describe('lr finder', () => {
  it('smooths with a bias-corrected EMA: a constant stays constant, a step is approached as 1 − βⁿ', () => {
    expect(smoothLosses([2, 2, 2, 2], 0.98).every((v) => Math.abs(v - 2) < 1e-12)).toBe(true);
    const s = smoothLosses([1, 0, 0], 0.5);
    // a = [0.5, 0.25, 0.125]; corrections 1 − 0.5ⁿ = [0.5, 0.75, 0.875].
    expect(s[0]).toBeCloseTo(1, 12);
    expect(s[1]).toBeCloseTo(0.25 / 0.75, 12);
    expect(s[2]).toBeCloseTo(0.125 / 0.875, 12);
  });

  it('the steepest point is the most negative slope against log(lr), before the minimum', () => {
    const lrs = Array.from({ length: 40 }, (_, i) => 10 ** (-6 + i / 5));
    // Falls fastest around index 20 (a logistic step in log lr), minimum at 30, then rises.
    const s = lrs.map((_, i) => (i <= 30 ? 2 - 1 / (1 + Math.exp(-(i - 20))) : 1 + (i - 30) * 0.5));
    expect(steepestIndex(lrs, s)).toBe(20);
  });

  it('reads no rate off a curve without a descent: flat noise, or a minimum among the first points', () => {
    const n = 100;
    const lrs = Array.from({ length: n }, (_, i) => 1e-7 * 1e8 ** (i / (n - 1)));
    const rng = new Rng(3);
    // ln 2 with ±1% noise: the "steepest" point of such a curve is wherever the noise put it.
    const flat = smoothLosses(lrs.map(() => 0.693 * (1 + 0.01 * rng.normal())), 0.98);
    expect(readCurve(lrs, flat, 'steepest').noDescent).toMatch(/fell only \d\.\d% over the ramp|no point .* falls before its minimum/);
    expect(readCurve(lrs, flat, 'steepest').suggestion).toBeUndefined();
    // Only rising: the minimum is the first point, nothing falls before it.
    const rising = lrs.map((_, i) => 1 + i / 50);
    expect(readCurve(lrs, rising, 'steepest').noDescent).toMatch(/no point .* falls before its minimum/);
    expect(readCurve(lrs, rising, 'minimum/10').suggestion).toBeUndefined();
    // A real descent (2.3 → 0.3, fastest at index 60) is read as before.
    const falling = lrs.map((_, i) => 0.3 + 2 / (1 + Math.exp((i - 60) / 4)));
    const read = readCurve(lrs, falling, 'steepest');
    expect(read.noDescent).toBeUndefined();
    expect(read.suggestion).toBe(lrs[60]);
  });

  it('features that say nothing about the labels: the finder falls back to the head\'s fixed rate and says why', async () => {
    // 36 samples, 4 balanced classes, every map zero: the logits are the biases, which start at 0, so
    // the loss starts at ln 4, the best a balanced prior allows, and no rate lowers it.
    const same = memoryFeatureSet({ maps: new Float32Array(36 * 16), featureShape: [1, 1, 16], labels: Array.from({ length: 36 }, (_, i) => [['a', 'b', 'c', 'd'][i % 4]!]), classes: ['a', 'b', 'c', 'd'] });
    for (const head of ['linear', 'mlp'] as const) {
      const f = await findLearningRate(same, { head, seed: 2 });
      expect(f.fallback, `${head}: suggested ${f.suggestion}`).toMatch(/fell only|no point/);
      expect(f.suggestion).toBe(fallbackLr(head, 'adam'));
    }
    expect(fallbackLr('linear', 'adam')).toBe(3e-2);
    expect(fallbackLr('conv', 'adam')).toBe(1e-2);
  });

  const train = blobs(512, 1);
  const valid = blobs(400, 2);
  const budget = { epochs: 5, batchSize: 32, seed: 1, mixup: { alpha: 0 } };
  const validLoss = async (head: 'linear' | 'mlp', lr: number) => {
    const r = await trainHead(train, valid, { ...budget, head, lr });
    disposeHead(r.head);
    return r.best!.loss;
  };

  for (const head of ['linear', 'mlp'] as const) {
    it(`${head}: the suggestion trains the problem; 100× smaller or larger rates do worse`, async () => {
      const before = tf.memory().numTensors;
      const f = await findLearningRate(train, { head, seed: 1, batchSize: 32 });
      expect(tf.memory().numTensors).toBe(before);
      expect(f.rule).toBe('steepest');
      const good = head === 'linear' ? [1e-2, 0.3] : [1e-3, 3e-2];
      expect(f.suggestion).toBeGreaterThan(good[0]);
      expect(f.suggestion).toBeLessThan(good[1]);
      const at = await validLoss(head, f.suggestion);
      expect(at).toBeLessThan(0.45); // a uniform guess is ln 4 = 1.39
      expect(await validLoss(head, f.suggestion / 100)).toBeGreaterThan(at + 0.1);
      expect(await validLoss(head, f.suggestion * 100)).toBeGreaterThan(at + 0.1);
    });
  }

  it('stops when the smoothed loss exceeds 4× its minimum', async () => {
    const f = await findLearningRate(train, { head: 'mlp', seed: 1, batchSize: 32, end: 1000 });
    expect(f.diverged).toBe(true);
    expect(f.lrs.length).toBeLessThan(100);
    const min = Math.min(...f.smoothed);
    expect(f.smoothed.at(-1)!).toBeGreaterThan(4 * min);
    expect(f.smoothed.slice(0, -1).every((v) => v <= 4 * min)).toBe(true);
  });
});

describe("lr and epochs 'auto' (the defaults)", () => {
  it('autoEpochs: about 1,000 optimizer steps, within [5, 150] epochs', async () => {
    const { autoEpochs } = await import('../../src/train/trainer.js');
    expect(autoEpochs(600, 64)).toBe(100); // 10 steps an epoch
    expect(autoEpochs(800, 64)).toBe(77); // 13 steps
    expect(autoEpochs(60000, 64)).toBe(5); // 938 steps: the floor
    expect(autoEpochs(48, 64)).toBe(150); // 1 step: the ceiling
  });

  it('train without lr or epochs: the finder picks the rate, the set size the length; a resumed run keeps both', async () => {
    const { tempDir } = await import('../tmp.js');
    const { autoEpochs } = await import('../../src/train/trainer.js');
    const out = await tempDir('auto');
    const train = blobs(256, 3);
    let seen = 0;
    const args = { batchSize: 128, seed: 2, out, mixup: { alpha: 0 }, checkpointEvery: 0 };
    await expect(
      trainHead(train, null, {
        ...args,
        onEpoch: () => {
          if (++seen === 3) throw new Error('killed');
        },
      }),
    ).rejects.toThrow(/killed/);
    const r = await trainHead(train, null, { ...args, resume: true });
    expect(r.epochs).toBe(autoEpochs(256, 128));
    expect(r.history).toHaveLength(r.epochs);
    expect(r.lrFind).toBeUndefined(); // taken from the checkpoint, not searched again
    const fresh = await trainHead(train, null, { ...args, out: undefined, epochs: 1 });
    expect(fresh.lrFind!.suggestion).toBe(fresh.lr);
    expect(r.lr).toBe(fresh.lr);
    disposeHead(r.head);
    disposeHead(fresh.head);
  });
});
