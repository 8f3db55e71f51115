import { tempDir } from '../tmp.js';
import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import path from 'node:path';
import { FeatureTap, insertTap, stripTaps, isTap } from '../../src/backbone/tap.js';
import { diskLoadHandler, diskSaveHandler } from '../../src/backbone/io.js';

function smallCnn(): tf.LayersModel {
  const input = tf.input({ shape: [6, 6, 3] });
  const c = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', name: 'conv', kernelInitializer: tf.initializers.randomNormal({ seed: 1 }) }).apply(input);
  const r = tf.layers.reLU({ maxValue: 6, name: 'conv_relu' }).apply(c);
  const p = tf.layers.globalAveragePooling2d({ name: 'pool' }).apply(r);
  const d = tf.layers.dense({ units: 3, name: 'logits', kernelInitializer: tf.initializers.randomNormal({ seed: 2 }) }).apply(p) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: d });
}

/** Mixing matrix M = diag(λ) + diag(1−λ)·P_π written out for the test. */
function matrix(lam: number[], partner: number[]): Float32Array {
  const b = lam.length;
  const m = new Float32Array(b * b);
  for (let i = 0; i < b; i++) {
    m[i * b + i] += lam[i];
    m[i * b + partner[i]] += 1 - lam[i];
  }
  return m;
}

describe('FeatureTap (the intercepting layer)', () => {
  it('is the identity at inference: a model with the tap inserted predicts exactly what it did', () => {
    const model = smallCnn();
    const tapped = insertTap(model, 'conv_relu');
    expect(tapped.layers.some(isTap)).toBe(true);
    const x = tf.randomUniform([5, 6, 6, 3], 0, 1, 'float32', 7);
    const a = model.predict(x) as tf.Tensor;
    const b = tapped.predict(x) as tf.Tensor;
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    tf.dispose([x, a, b]);
  });

  it('calls hooks with the activations at the cut, in inference and training', () => {
    const model = smallCnn();
    const tap = new FeatureTap({ name: 'hooked' });
    const tapped = insertTap(model, 'conv_relu', tap);
    const seen: { shape: number[]; training: boolean; sum: number }[] = [];
    const remove = tap.addHook((act, info) => seen.push({ shape: act.shape, training: info.training, sum: act.sum().dataSync()[0] }));
    const x = tf.randomUniform([2, 6, 6, 3], 0, 1, 'float32', 3);
    const ref = tf.model({ inputs: model.inputs, outputs: model.getLayer('conv_relu').getOutputAt(0) as tf.SymbolicTensor });
    const expected = ref.predict(x) as tf.Tensor;
    tf.dispose(tapped.predict(x) as tf.Tensor);
    tf.dispose(tapped.apply(x, { training: true }) as tf.Tensor);
    remove();
    tf.dispose(tapped.predict(x) as tf.Tensor);
    expect(seen.map((s) => s.training)).toEqual([false, true]);
    expect(seen[0].shape).toEqual([2, 6, 6, 4]);
    expect(seen[0].sum).toBeCloseTo(expected.sum().dataSync()[0], 4);
    tf.dispose([x, expected]);
  });

  it('with a mixer, a training call returns the mix computed by hand; inference stays unmixed', () => {
    const input = tf.input({ shape: [5] });
    const h = tf.layers.dense({ units: 4, name: 'h', kernelInitializer: tf.initializers.randomNormal({ seed: 4 }) }).apply(input);
    const model = tf.model({ inputs: input, outputs: h as tf.SymbolicTensor });
    const tap = new FeatureTap({ name: 'mix' });
    const tapped = insertTap(model, 'h', tap);
    const lam = [0.9, 0.6, 1, 0.7];
    const partner = [2, 0, 2, 1];
    tap.attachMixer({ mixMatrix: (b) => (b === 4 ? matrix(lam, partner) : null) });
    const xs = tf.randomNormal([4, 5], 0, 1, 'float32', 11);
    const clean = Array.from((model.predict(xs) as tf.Tensor).dataSync());
    const mixed = Array.from((tapped.apply(xs, { training: true }) as tf.Tensor).dataSync());
    const inference = Array.from((tapped.predict(xs) as tf.Tensor).dataSync());
    for (let i = 0; i < 4; i++) {
      for (let k = 0; k < 4; k++) {
        const want = lam[i] * clean[i * 4 + k] + (1 - lam[i]) * clean[partner[i] * 4 + k];
        expect(mixed[i * 4 + k]).toBeCloseTo(want, 5);
      }
    }
    expect(inference).toEqual(clean);
    xs.dispose();
  });

  it('mixes with a gradient on the wasm backend (MatMul, not gather)', () => {
    const tap = new FeatureTap({ name: 'g' });
    tap.attachMixer({ mixMatrix: () => matrix([0.75, 0.5], [1, 0]) });
    const v = tf.variable(tf.tensor2d([[1, 2], [3, 4]]));
    const grads = tf.grads((a: tf.Tensor) => (tap.apply(a, { training: true }) as tf.Tensor).sum());
    const [g] = grads([v]);
    // d/dX sum(M·X) = column sums of M broadcast over features: M = [[.75,.25],[.5,.5]] → [1.25, .75].
    expect(Array.from(g.dataSync())).toEqual([1.25, 1.25, 0.75, 0.75]);
    tf.dispose([g, v]);
  });

  it('round-trips through model.json on disk and strips to stock layers', async () => {
    const model = smallCnn();
    const tapped = insertTap(model, 'conv_relu');
    const dir = await tempDir('tap');
    await tapped.save(diskSaveHandler(path.join(dir, 'tapped')));
    const loaded = await tf.loadLayersModel(diskLoadHandler(path.join(dir, 'tapped')));
    expect(loaded.layers.filter(isTap).length).toBe(1);
    const stripped = stripTaps(loaded);
    expect(stripped.layers.some(isTap)).toBe(false);
    const x = tf.randomUniform([3, 6, 6, 3], 0, 1, 'float32', 9);
    const want = (model.predict(x) as tf.Tensor).dataSync();
    expect(Array.from((loaded.predict(x) as tf.Tensor).dataSync())).toEqual(Array.from(want));
    expect(Array.from((stripped.predict(x) as tf.Tensor).dataSync())).toEqual(Array.from(want));
    x.dispose();
  });

  it('names the available layers when the cut does not exist', () => {
    expect(() => insertTap(smallCnn(), 'nope')).toThrow(/conv_relu \[null,6,6,4\]/);
  });
});

describe('graph surgery on shared layers', () => {
  it('strips the taps of a model built in this process (layers shared with the original)', () => {
    const model = smallCnn();
    const tapped = insertTap(model, 'conv_relu');
    const stripped = stripTaps(tapped);
    const x = tf.randomUniform([2, 6, 6, 3], 0, 1, 'float32', 4);
    expect(Array.from((stripped.predict(x) as tf.Tensor).dataSync())).toEqual(Array.from((model.predict(x) as tf.Tensor).dataSync()));
    expect(stripped.layers.some(isTap)).toBe(false);
    x.dispose();
  });
});
