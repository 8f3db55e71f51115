import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { convertLayersModel, encodeModel, tfPadding, UnsupportedOpError } from '../../src/engine/convert/index.js';
import { OnnxBackboneSession } from '../../src/engine/onnx.js';
import { Rng } from '../../src/base/random.js';
import { maxAbsDiff } from './helpers.js';

// One small random-weight LayersModel per op: ONNX Runtime on the converted model must give
// TF.js's output within 1e-4 (float32 on both sides; the BN fold is the only reordering).

const u = (seed: number, lo = -1, hi = 1) => tf.initializers.randomUniform({ minval: lo, maxval: hi, seed });

/** Random BN statistics (variance well away from 0), so the fold is really exercised. */
function bn(seed: number, name?: string): tf.layers.Layer {
  return tf.layers.batchNormalization({
    name,
    epsilon: 1e-3,
    gammaInitializer: u(seed, 0.5, 1.5),
    betaInitializer: u(seed + 1, -0.5, 0.5),
    movingMeanInitializer: u(seed + 2, -0.5, 0.5),
    movingVarianceInitializer: u(seed + 3, 0.2, 2),
  });
}

async function agree(model: tf.LayersModel, size: number, scale = 1): Promise<{ diff: number; out: Float32Array }> {
  const c = model.inputs[0].shape[3]!;
  const n = 3;
  const rng = new Rng(7);
  const x = Float32Array.from({ length: n * size * size * c }, () => (rng.uniform() * 2 - 1) * scale);
  const want = tf.tidy(() => (model.predict(tf.tensor4d(x, [n, size, size, c])) as tf.Tensor).dataSync() as Float32Array);
  const graph = convertLayersModel(model, size);
  const featureSize = want.length / n;
  const session = await OnnxBackboneSession.create(encodeModel(graph), size, featureSize);
  try {
    // The session takes 3-channel images; these tests feed `c` channels through the same call.
    const got = c === 3 ? await session.run(x.slice(), n) : await runAnyChannels(session, x, n, size, c);
    return { diff: maxAbsDiff(got, want), out: got };
  } finally {
    await session.close();
  }
}

async function runAnyChannels(session: OnnxBackboneSession, x: Float32Array, n: number, size: number, c: number): Promise<Float32Array> {
  const s = session as unknown as { session: { run: (f: object) => Promise<Record<string, { data: Float32Array }>>; inputNames: string[]; outputNames: string[] }; ortModule: typeof import('onnxruntime-node') };
  const out = await s.session.run({ [s.session.inputNames[0]]: new s.ortModule.Tensor('float32', x.slice(), [n, size, size, c]) });
  return out[s.session.outputNames[0]].data;
}

function seq(input: number[], layers: tf.layers.Layer[]): tf.LayersModel {
  const inp = tf.input({ shape: input });
  let y: tf.SymbolicTensor = inp;
  for (const l of layers) y = l.apply(y) as tf.SymbolicTensor;
  return tf.model({ inputs: inp, outputs: y });
}

const conv = (filters: number, k: number, strides: number, padding: 'same' | 'valid', seed: number, extra: Partial<Parameters<typeof tf.layers.conv2d>[0]> = {}) =>
  tf.layers.conv2d({ filters, kernelSize: k, strides, padding, kernelInitializer: u(seed), biasInitializer: u(seed + 1), ...extra });

describe('TF padding as explicit ONNX pads', () => {
  it('same: out = ⌈in/s⌉ and the odd pixel goes at the end; valid: no pad', () => {
    expect(tfPadding('same', 224, 3, 2)).toEqual({ out: 112, begin: 0, end: 1 });
    expect(tfPadding('same', 7, 3, 2)).toEqual({ out: 4, begin: 1, end: 1 });
    expect(tfPadding('same', 10, 4, 1)).toEqual({ out: 10, begin: 1, end: 2 });
    expect(tfPadding('same', 9, 3, 1, 2)).toEqual({ out: 9, begin: 2, end: 2 });
    expect(tfPadding('valid', 9, 3, 2)).toEqual({ out: 4, begin: 0, end: 0 });
  });
});

describe('ONNX conversion agrees with TF.js per op', () => {
  const cases: [string, () => tf.LayersModel, number, number?][] = [
    ['conv valid stride 1', () => seq([9, 9, 3], [conv(5, 3, 1, 'valid', 1)]), 9],
    ['conv same stride 1 (even kernel: asymmetric pads)', () => seq([10, 10, 3], [conv(4, 4, 1, 'same', 2)]), 10],
    ['conv same stride 2 on an even size (extra pixel at the end)', () => seq([10, 10, 3], [conv(6, 3, 2, 'same', 3)]), 10],
    ['conv same stride 2 on an odd size', () => seq([9, 9, 3], [conv(6, 3, 2, 'same', 4)]), 9],
    ['conv valid stride 2, relu activation', () => seq([11, 11, 3], [conv(6, 3, 2, 'valid', 5, { activation: 'relu' })]), 11],
    ['conv same, dilation 2, no bias', () => seq([12, 12, 3], [conv(4, 3, 1, 'same', 6, { dilationRate: 2, useBias: false })]), 12],
    ['depthwise same stride 2, multiplier 2', () => seq([10, 10, 3], [tf.layers.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: 'same', depthMultiplier: 2, depthwiseInitializer: u(7), biasInitializer: u(8) })]), 10],
    ['depthwise valid stride 1, relu6 activation', () => seq([9, 9, 3], [tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'valid', depthwiseInitializer: u(9), activation: 'relu6' })]), 9, 4],
    ['separable conv same stride 2, multiplier 2, then batch norm', () => seq([10, 10, 3], [tf.layers.separableConv2d({ filters: 5, kernelSize: 3, strides: 2, padding: 'same', depthMultiplier: 2, depthwiseInitializer: u(40), pointwiseInitializer: u(41), biasInitializer: u(42) }), bn(43)]), 10],
    ['batch norm folded into a conv', () => seq([9, 9, 3], [conv(5, 3, 1, 'same', 10, { useBias: false }), bn(11)]), 9],
    ['batch norm folded into a biased depthwise conv', () => seq([9, 9, 3], [tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', depthwiseInitializer: u(12), biasInitializer: u(13) }), bn(14)]), 9],
    ['batch norm on the input (not foldable)', () => seq([8, 8, 3], [bn(15)]), 8],
    ['ReLU(maxValue 6) clips at 0 and 6', () => seq([8, 8, 3], [conv(4, 1, 1, 'same', 16), tf.layers.reLU({ maxValue: 6 })]), 8, 10],
    ['LeakyReLU', () => seq([8, 8, 3], [conv(4, 1, 1, 'same', 17), tf.layers.leakyReLU({ alpha: 0.1 })]), 8],
    ['zero padding (asymmetric) then valid stride-2 conv', () => seq([9, 9, 3], [tf.layers.zeroPadding2d({ padding: [[0, 1], [2, 1]] }), conv(4, 3, 2, 'valid', 18)]), 9],
    ['max pool same stride 2 on an odd size', () => seq([9, 9, 3], [tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' })]), 9],
    ['average pool same (padding not counted)', () => seq([9, 9, 3], [tf.layers.averagePooling2d({ poolSize: 3, strides: 2, padding: 'same' })]), 9],
    ['activation layer sigmoid', () => seq([6, 6, 3], [tf.layers.activation({ activation: 'sigmoid' })]), 6],
  ];
  for (const [name, build, size, scale] of cases) {
    it(name, async () => {
      const model = build();
      const { diff, out } = await agree(model, size, scale);
      expect(out.some((v) => v !== 0)).toBe(true);
      expect(diff).toBeLessThanOrEqual(1e-4);
      model.dispose();
    });
  }

  it('add (residual) and concatenate, with a conv output read twice (so its BN is not folded)', async () => {
    const inp = tf.input({ shape: [8, 8, 3] });
    const a = conv(4, 3, 1, 'same', 20).apply(inp) as tf.SymbolicTensor;
    const b = bn(21).apply(a) as tf.SymbolicTensor;
    const sum = tf.layers.add().apply([a, b]) as tf.SymbolicTensor;
    const cat = tf.layers.concatenate().apply([sum, a]) as tf.SymbolicTensor;
    const model = tf.model({ inputs: inp, outputs: cat });
    const { diff } = await agree(model, 8);
    expect(diff).toBeLessThanOrEqual(1e-4);
    model.dispose();
  });

  it('ReLU6 output really reaches both bounds (the clip is exercised)', async () => {
    const model = seq([8, 8, 3], [conv(4, 1, 1, 'same', 16), tf.layers.reLU({ maxValue: 6 })]);
    const { out } = await agree(model, 8, 10);
    expect(out.some((v) => v === 6)).toBe(true);
    expect(out.some((v) => v === 0)).toBe(true);
    model.dispose();
  });

  it('an uncovered layer is one line naming the layer and its class', () => {
    const model = seq([8, 8, 3], [conv(4, 3, 1, 'same', 30), tf.layers.upSampling2d({ size: [2, 2], name: 'grow' })]);
    let err: unknown;
    try {
      convertLayersModel(model, 8);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UnsupportedOpError);
    expect((err as Error).message).toBe('the ONNX converter does not cover layer "grow" (UpSampling2D)');
    model.dispose();
  });
});
