import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LayersBackbone } from '../../src/backbone/layers.js';
import { GraphBackbone } from '../../src/backbone/graph.js';
import type { Backbone } from '../../src/backbone/types.js';
import { writeFashionSample } from '../../src/data/fashion.js';
import { readClassFolders } from '../../src/data/folder.js';
import { decodeImage } from '../../src/data/image.js';
import { engineOf, extractFeatures, onnxModelPath, useEngine } from '../../src/engine/index.js';
import { maxAbsDiff } from './helpers.js';
import { fusedGraphModel, FUSED_CUT } from './fused-graph.js';
import { TINY_CUT, tinyGraphModel } from '../fixtures/tiny-graph.js';
import { precompute } from '../../src/jobs/precompute.js';
import { FeatureCache } from '../../src/cache/index.js';

// Whole backbones other than the bundled one: a generated ResNet-style LayersModel and a
// hand-built GraphModel with the fused ops of the tfjs-models MobileNets, on real images.

let dir = '';
const images: string[] = [];
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mixhead-onnx-bb-'));
  await writeFashionSample({ out: path.join(dir, 'data'), perClass: 1, split: 'train', classes: [0, 3, 5, 7, 9] });
  images.push(...(await readClassFolders(path.join(dir, 'data'))).items.map((i) => i.source as string));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function pixelsFor(bb: Backbone): Promise<Float32Array> {
  const s = bb.preprocess.size;
  const px = await Promise.all(images.map((f) => decodeImage(f, bb.preprocess)));
  const out = new Float32Array(px.length * s * s * 3);
  px.forEach((p, i) => out.set(p, i * s * s * 3));
  return out;
}

/** TF.js maps, then the same backbone on ONNX Runtime: max |Δ|. */
async function compare(bb: Backbone, modelsDir: string): Promise<number> {
  const s = bb.preprocess.size;
  const pixels = await pixelsFor(bb);
  const n = images.length;
  const reference = tf.tidy(() => bb.extract(tf.tensor4d(pixels, [n, s, s, 3])).dataSync() as Float32Array);
  expect(await useEngine(bb, { engine: 'onnx', modelsDir })).toBe('onnx');
  const got = await extractFeatures(bb, pixels.slice(), n);
  expect(got.some((v) => v !== 0)).toBe(true);
  return maxAbsDiff(got, reference);
}

const u = (seed: number, lo = -0.5, hi = 0.5) => tf.initializers.randomUniform({ minval: lo, maxval: hi, seed });
const bnArgs = (seed: number) => ({
  epsilon: 1.001e-5,
  gammaInitializer: u(seed, 0.5, 1.5),
  betaInitializer: u(seed + 1),
  movingMeanInitializer: u(seed + 2),
  movingVarianceInitializer: u(seed + 3, 0.3, 1.5),
});

/** A small ResNet (v1 basic blocks): 7×7/2 stem, BN, ReLU, 3×3/2 max pool, an identity block, a stride-2 projection block. */
function smallResnet(): tf.LayersModel {
  let seed = 100;
  const convBn = (x: tf.SymbolicTensor, filters: number, k: number, s: number, name: string, relu: boolean): tf.SymbolicTensor => {
    let y = tf.layers.conv2d({ filters, kernelSize: k, strides: s, padding: 'same', useBias: false, kernelInitializer: tf.initializers.heNormal({ seed: seed++ }), name: `${name}_conv` }).apply(x) as tf.SymbolicTensor;
    y = tf.layers.batchNormalization({ ...bnArgs((seed += 4)), name: `${name}_bn` }).apply(y) as tf.SymbolicTensor;
    return relu ? (tf.layers.activation({ activation: 'relu', name: `${name}_relu` }).apply(y) as tf.SymbolicTensor) : y;
  };
  const input = tf.input({ shape: [64, 64, 3], name: 'image' });
  let x = convBn(input, 16, 7, 2, 'stem', true);
  x = tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same', name: 'stem_pool' }).apply(x) as tf.SymbolicTensor;
  // Identity block.
  let y = convBn(x, 16, 3, 1, 'b1a', true);
  y = convBn(y, 16, 3, 1, 'b1b', false);
  x = tf.layers.reLU({ name: 'b1_out' }).apply(tf.layers.add({ name: 'b1_add' }).apply([x, y])) as tf.SymbolicTensor;
  // Projection block, stride 2 (TF's asymmetric 'same' pads on a 16×16 map).
  y = convBn(x, 32, 3, 2, 'b2a', true);
  y = convBn(y, 32, 3, 1, 'b2b', false);
  const short = convBn(x, 32, 1, 2, 'b2s', false);
  x = tf.layers.reLU({ name: 'b2_out' }).apply(tf.layers.add({ name: 'b2_add' }).apply([short, y])) as tf.SymbolicTensor;
  const pooled = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(x) as tf.SymbolicTensor;
  const logits = tf.layers.dense({ units: 10, name: 'logits' }).apply(pooled) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: logits, name: 'small_resnet' });
}

describe('backbones on ONNX Runtime agree with TF.js on real images', () => {
  it('a generated small ResNet LayersModel with random weights, cut at its last block (max |Δ| ≤ 1e-3)', async () => {
    const bb = new LayersBackbone({ id: 'small-resnet', model: smallResnet(), weightsHash: 'resnet-test', layer: 'b2_out', preprocess: { size: 64 } });
    const tensors = tf.memory().numTensors;
    const diff = await compare(bb, path.join(dir, 'models'));
    expect(diff).toBeLessThanOrEqual(1e-3);
    expect(bb.featureShape).toEqual([8, 8, 32]);
    expect(tf.memory().numTensors).toBe(tensors);
    expect((await stat(onnxModelPath(bb, path.join(dir, 'models')))).size).toBeGreaterThan(0);
    bb.dispose();
  });

  it('a hand-built GraphModel with _FusedConv2D, FusedDepthwiseConv2dNative, FusedBatchNormV3, AddV2, Pad, MaxPool, AvgPool and Identity (max |Δ| ≤ 1e-3)', async () => {
    const { artifacts } = fusedGraphModel(3);
    const model = await tf.loadGraphModel(tf.io.fromMemory(artifacts));
    const bb = new GraphBackbone({ id: 'graph:fused', model, artifacts, weightsHash: 'fused-test', node: FUSED_CUT, preprocess: { size: 32 } });
    const diff = await compare(bb, path.join(dir, 'models'));
    expect(diff).toBeLessThanOrEqual(1e-3);
    bb.dispose();
  });

  it('the converted model is stored once and reused; a damaged stored file is converted again with one line', async () => {
    const modelsDir = path.join(dir, 'models-reuse');
    const make = () => {
      const input = tf.input({ shape: [16, 16, 3] });
      const c = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', name: 'c1', kernelInitializer: tf.initializers.randomUniform({ minval: -1, maxval: 1, seed: 5 }) }).apply(input) as tf.SymbolicTensor;
      return new LayersBackbone({ id: 'tiny', model: tf.model({ inputs: input, outputs: c }), weightsHash: 'tiny-hash', layer: 'c1', preprocess: { size: 16 } });
    };
    const first = make();
    await useEngine(first, { engine: 'onnx', modelsDir });
    const file = onnxModelPath(first, modelsDir);
    const written = (await stat(file)).mtimeMs;
    first.dispose();
    const second = make();
    await useEngine(second, { engine: 'onnx', modelsDir });
    expect((await stat(file)).mtimeMs).toBe(written);
    second.dispose();
    await writeFile(file, 'not an onnx model');
    const third = make();
    const lines: string[] = [];
    expect(await useEngine(third, { engine: 'onnx', modelsDir, log: (l) => lines.push(l) })).toBe('onnx');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/refused the stored model.*converting again/);
    const px = new Float32Array(16 * 16 * 3).fill(0.25);
    const want = tf.tidy(() => third.extract(tf.tensor4d(px, [1, 16, 16, 3])).dataSync() as Float32Array);
    expect(maxAbsDiff(await extractFeatures(third, px.slice(), 1), want)).toBeLessThanOrEqual(1e-5);
    third.dispose();
  });

  it('a GraphModel folder through precompute: the cut is found, the engine is onnx, and the maps equal the TF.js engine\'s within 1e-3', async () => {
    const { json, weights } = tinyGraphModel(4);
    const model = path.join(dir, 'tiny-graph');
    await mkdir(model, { recursive: true });
    await writeFile(path.join(model, 'model.json'), JSON.stringify(json));
    await writeFile(path.join(model, 'group1-shard1of1.bin'), weights);
    const maps: Record<string, Float32Array[]> = {};
    for (const engine of ['onnx', 'tfjs'] as const) {
      const cache = path.join(dir, `graph-cache-${engine}`);
      const r = await precompute({ data: path.join(dir, 'data'), cache, workers: 1, backend: 'wasm', progress: false, engine, dtype: 'float32', backbone: { backbone: model, modelsDir: path.join(dir, 'models') } });
      expect(r.engine).toBe(engine);
      expect(r.header.backbone.cut).toBe(TINY_CUT);
      const c = FeatureCache.open(cache, { readonly: true });
      maps[engine] = c.metas().map((m) => c.get(m.key)!.features);
      await c.close();
    }
    expect(maps.onnx).toHaveLength(images.length);
    expect(maps.onnx.some((f) => f.some((v) => v > 0))).toBe(true);
    expect(maxAbsDiff(Float32Array.from(maps.onnx.flatMap((f) => [...f])), Float32Array.from(maps.tfjs.flatMap((f) => [...f])))).toBeLessThanOrEqual(1e-3);
  });

  it('a backbone with a layer the converter does not cover stays on TF.js, saying so in one line', async () => {
    const input = tf.input({ shape: [16, 16, 3] });
    const c = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', name: 'c1' }).apply(input) as tf.SymbolicTensor;
    const up = tf.layers.upSampling2d({ size: [2, 2], name: 'up' }).apply(c) as tf.SymbolicTensor;
    const bb = new LayersBackbone({ id: 'odd-one', model: tf.model({ inputs: input, outputs: up }), weightsHash: 'odd', layer: 'up', preprocess: { size: 16 } });
    const lines: string[] = [];
    expect(await useEngine(bb, { engine: 'onnx', modelsDir: path.join(dir, 'models'), log: (l) => lines.push(l) })).toBe('tfjs');
    expect(engineOf(bb)).toBe('tfjs');
    expect(lines).toEqual(['odd-one: the ONNX converter does not cover layer "up" (UpSampling2D); this backbone runs on TF.js']);
    // Still extracts, on TF.js.
    const px = new Float32Array(2 * 16 * 16 * 3).fill(0.5);
    const f = await extractFeatures(bb, px, 2);
    expect(f.length).toBe(2 * 32 * 32 * 4);
    bb.dispose();
  });
});
