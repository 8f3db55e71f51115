import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { ExtractorPool } from '../../src/backbone/pool.js';
import { loadBackbone } from '../../src/backbone/index.js';

describe('ExtractorPool (one backbone per worker thread)', () => {
  it('gives the same features as extraction in this thread, from every worker', async () => {
    const pool = await ExtractorPool.start({ backbone: {}, workers: 2, backend: 'wasm' });
    expect(pool.size).toBe(2);
    expect(pool.info).toMatchObject({ id: 'bundled-mobilenet-v2', cut: 'out_relu', featureShape: [7, 7, 1280], backend: 'wasm' });
    const n = 2;
    const size = 224 * 224 * 3;
    const make = (seed: number) => {
      const p = new Float32Array(n * size);
      let s = seed;
      for (let i = 0; i < p.length; i++) p[i] = ((s = (s * 1103515245 + 12345) >>> 0) % 1000) / 1000;
      return p;
    };
    const inputs = [make(1), make(2)];
    const copies = inputs.map((p) => p.slice());
    // Two jobs at once: both workers busy.
    const outs = await Promise.all(inputs.map((p) => pool.extract(p, n)));
    expect(pool.imagesExtracted).toBe(4);
    await pool.close();
    const bb = await loadBackbone();
    for (let j = 0; j < 2; j++) {
      const ref = tf.tidy(() => bb.extract(tf.tensor4d(copies[j], [n, 224, 224, 3])).dataSync());
      expect(outs[j].length).toBe(n * 7 * 7 * 1280);
      let maxDiff = 0;
      for (let i = 0; i < ref.length; i++) maxDiff = Math.max(maxDiff, Math.abs(ref[i] - outs[j][i]));
      expect(maxDiff).toBeLessThan(1e-5);
    }
    bb.dispose();
  });

  it('a backbone that cannot load fails the pool start with its message', async () => {
    await expect(ExtractorPool.start({ backbone: { backbone: 'no-such-backbone' }, workers: 1, backend: 'wasm' })).rejects.toThrow(/unknown backbone "no-such-backbone"/);
  });
});
