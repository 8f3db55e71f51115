/**
 * `bundled-mobilenet-v2`: the Keras MobileNetV2 that the `nsfwjs` npm package ships inside its
 * JavaScript (ImageNet start, fine-tuned by nsfwjs), cut at `out_relu` (7×7×1280 at 224 px).
 * It needs no download, so it is the default backbone and the one tests and the demo use.
 * Preprocessing is what nsfwjs feeds it: RGB / 255, 224×224.
 */
import * as tf from '@tensorflow/tfjs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { LayersBackbone } from './layers.js';
import { hashArtifacts } from './io.js';
import type { PreprocessSpec } from './types.js';

export const BUNDLED_ID = 'bundled-mobilenet-v2';
export const BUNDLED_CUT = 'out_relu';

const require = createRequire(import.meta.url);

/** Where nsfwjs keeps its model files (its package `exports` hide them from plain specifiers). */
export function bundledModelDir(): string {
  return path.join(path.dirname(require.resolve('nsfwjs')), '..', 'models', 'mobilenet_v2');
}

/** The model JSON and weight bytes as nsfwjs ships them (UMD modules exporting an object / base64). */
export function bundledArtifacts(): tf.io.ModelArtifacts {
  const dir = bundledModelDir();
  let json: tf.io.ModelJSON;
  let weightsB64: string;
  try {
    json = require(path.join(dir, 'model.min.js'));
    weightsB64 = require(path.join(dir, 'group1-shard1of1.min.js'));
  } catch (err) {
    throw new Error(`bundled-mobilenet-v2 needs the nsfwjs package (npm install nsfwjs): ${(err as Error).message.split('\n')[0]}`);
  }
  const bytes = Buffer.from(weightsB64, 'base64');
  return {
    modelTopology: json.modelTopology,
    weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
    weightData: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer,
    format: json.format,
  };
}

export async function loadBundledModel(): Promise<{ model: tf.LayersModel; weightsHash: string }> {
  const artifacts = bundledArtifacts();
  const model = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
  return { model, weightsHash: hashArtifacts(artifacts.modelTopology, artifacts.weightData as ArrayBuffer) };
}

export async function loadBundledBackbone(layer = BUNDLED_CUT, preprocess: Partial<PreprocessSpec> = {}): Promise<LayersBackbone> {
  const { model, weightsHash } = await loadBundledModel();
  return new LayersBackbone({
    id: BUNDLED_ID,
    model,
    weightsHash,
    layer,
    // nsfwjs feeds RGB / 255 at 224×224; how the image is fitted is the user's choice.
    preprocess: { size: 224, range: [0, 1], fit: 'cover', ...preprocess },
  });
}
