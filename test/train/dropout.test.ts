/**
 * Dropout draws a fresh mask every training step (seeded from the run's Rng, so runs repeat), and
 * keeps about 1 − rate of the units.
 */
import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { synthetic } from '../fixtures/synthetic.js';
import { buildHead, disposeHead } from '../../src/train/heads.js';
import { trainHead } from '../../src/train/trainer.js';

/** The dropout layer's output on a block of ones, in training mode, after reseeding it. */
function mask(head: ReturnType<typeof buildHead>, seed: number): Float32Array {
  head.setDropoutSeed(seed);
  const layer = head.train.getLayer('dropout');
  return tf.tidy(() => (layer.apply(tf.ones([64, 256]), { training: true }) as tf.Tensor).dataSync() as Float32Array);
}

describe('dropout', () => {
  it('a new seed gives a new mask, the same seed the same mask, and about 1 − rate of the units are kept', () => {
    const head = buildHead({ type: 'mlp', featureShape: [1, 1, 8], numClasses: 3, hidden: 256, dropout: 0.3, seed: 1 });
    const a = mask(head, 11);
    const b = mask(head, 12);
    const a2 = mask(head, 11);
    expect(a2).toEqual(a);
    let differ = 0;
    let kept = 0;
    for (let i = 0; i < a.length; i++) {
      if ((a[i] > 0) !== (b[i] > 0)) differ++;
      if (a[i] > 0) {
        kept++;
        expect(a[i]).toBeCloseTo(1 / 0.7, 5); // inverted dropout scales what it keeps
      }
    }
    // 16,384 units: the kept share is 0.7 within 5 standard deviations (sd = √(0.21/16384) ≈ 0.0036).
    expect(Math.abs(kept / a.length - 0.7)).toBeLessThan(0.018);
    // Two independent masks disagree on 2·0.7·0.3 = 42% of the units.
    expect(Math.abs(differ / a.length - 0.42)).toBeLessThan(0.03);
    disposeHead(head);
  });

  it('the trainer draws a fresh mask per step: every hidden unit gets updates, not only those one fixed mask keeps', async () => {
    // Batches of one sample: with one fixed mask, the units it drops would never reach the loss and
    // their rows of the last layer's kernel would never move (Adam moves nothing with zero gradient).
    const train = synthetic(48, [1, 1, 8]);
    const r = await trainHead(train, null, { head: 'mlp', hidden: 32, dropout: 0.5, epochs: 1, batchSize: 1, lr: 0.01, seed: 5, mixup: { alpha: 0 } });
    const start = buildHead({ type: 'mlp', featureShape: [1, 1, 8], numClasses: 3, hidden: 32, dropout: 0.5, seed: 5 });
    const before = start.train.getLayer('logits').getWeights()[0].arraySync() as number[][];
    const after = r.head.train.getLayer('logits').getWeights()[0].arraySync() as number[][];
    const unchanged = before.filter((row, j) => row.every((v, c) => v === after[j][c])).length;
    // A fixed mask leaves about half of the 32 rows untouched; fresh masks leave (almost) none.
    expect(unchanged).toBeLessThanOrEqual(2);
    disposeHead(start);
    disposeHead(r.head);
  });
});
