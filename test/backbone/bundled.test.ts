import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { loadBackbone, LayersBackbone, insertTap, isTap } from '../../src/backbone/index.js';
import { loadBundledModel } from '../../src/backbone/bundled.js';

describe('bundled-mobilenet-v2', () => {
  it('loads offline and cuts at out_relu: 7×7×1280 at 224 px, [0,1] input', async () => {
    const bb = await loadBackbone();
    expect(bb.id).toBe('bundled-mobilenet-v2');
    expect(bb.cut).toBe('out_relu');
    expect(bb.featureShape).toEqual([7, 7, 1280]);
    expect(bb.preprocess).toMatchObject({ size: 224, range: [0, 1] });
    expect(bb.weightsHash).toMatch(/^[0-9a-f]{64}$/);
    bb.dispose();
  });

  it('inserting the tap at out_relu leaves the full model\'s predictions unchanged', async () => {
    const { model } = await loadBundledModel();
    const tapped = insertTap(model, 'out_relu');
    const x = tf.randomUniform([2, 224, 224, 3], 0, 1, 'float32', 1);
    const a = model.predict(x) as tf.Tensor;
    const b = tapped.predict(x) as tf.Tensor;
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    tf.dispose([x, a, b]);
    model.dispose();
  });

  it('stays frozen: a training step of a head on top changes the head and leaves every backbone weight bit-identical', async () => {
    const bb = (await loadBackbone()) as LayersBackbone;
    const trunk = bb.truncated();
    const before = trunk.weights.map((w) => w.read().dataSync().slice());
    const pooled = tf.layers.globalAveragePooling2d({}).apply(trunk.outputs[0]);
    const logits = tf.layers.dense({ units: 3, activation: 'softmax' }).apply(pooled) as tf.SymbolicTensor;
    const combined = tf.model({ inputs: trunk.inputs, outputs: logits });
    combined.compile({ optimizer: tf.train.adam(0.1), loss: 'categoricalCrossentropy' });
    const headBefore = combined.trainableWeights.map((w) => w.read().dataSync().slice());
    expect(combined.trainableWeights.length).toBe(2); // dense kernel and bias only
    const x = tf.randomUniform([2, 224, 224, 3], 0, 1, 'float32', 2);
    const y = tf.oneHot(tf.tensor1d([0, 2], 'int32'), 3);
    await combined.trainOnBatch(x, y);
    const headAfter = combined.trainableWeights.map((w) => w.read().dataSync());
    expect(headAfter.some((w, i) => w.some((v, j) => v !== headBefore[i][j]))).toBe(true);
    const after = trunk.weights.map((w) => w.read().dataSync());
    for (let i = 0; i < before.length; i++) expect(after[i]).toEqual(before[i]);
    expect(trunk.layers.some(isTap)).toBe(true);
    tf.dispose([x, y]);
    bb.dispose();
  });

  it('a wrong --layer lists the layers with their output shapes', async () => {
    await expect(loadBackbone({ layer: 'not_a_layer' })).rejects.toThrow(/out_relu \[null,7,7,1280\]/);
  });
});

describe('bundled-mobilenet-v2 input size', () => {
  it('refuses another input size with a clear message (its Keras input is fixed at 224)', async () => {
    await expect(loadBackbone({ preprocess: { size: 160 } })).rejects.toThrow(/takes 224×224 px input; --size 160 is not possible/);
  });
});
