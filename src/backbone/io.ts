/**
 * Model files on disk without tfjs-node.
 *
 * TF.js only gets a `file://` router from tfjs-node, which cannot be installed offline. These
 * handlers read and write the same plain layout (`model.json` + weight shards) that
 * `tf.loadLayersModel` / `tf.loadGraphModel` read over HTTP or from tfjs-node, so a saved model
 * loads anywhere. Writes go to temporary names first and are renamed into place, weights before
 * `model.json`, so a crash never leaves a `model.json` that points at missing or partial weights.
 */
import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../base/fs.js';

export const MODEL_JSON = 'model.json';
const WEIGHTS_FILE = 'weights.bin';

function toArrayBuffer(data: tf.io.WeightData | undefined): ArrayBuffer {
  if (data == null) return new ArrayBuffer(0);
  return tf.io.concatenateArrayBuffers(data as ArrayBuffer | ArrayBuffer[]);
}

/** A save handler writing `dir/model.json` + `dir/weights.bin` (the layout of tfjs-node's file://). */
export function diskSaveHandler(dir: string): tf.io.IOHandler {
  return tf.io.withSaveHandler(async (artifacts) => {
    await fs.mkdir(dir, { recursive: true });
    const weights = new Uint8Array(toArrayBuffer(artifacts.weightData));
    await writeFileAtomic(path.join(dir, WEIGHTS_FILE), weights);
    const json: tf.io.ModelJSON = {
      modelTopology: artifacts.modelTopology as object,
      format: artifacts.format,
      generatedBy: artifacts.generatedBy,
      convertedBy: artifacts.convertedBy ?? null,
      weightsManifest: [{ paths: [`./${WEIGHTS_FILE}`], weights: artifacts.weightSpecs ?? [] }],
    };
    if (artifacts.trainingConfig != null) json.trainingConfig = artifacts.trainingConfig;
    if (artifacts.userDefinedMetadata != null) json.userDefinedMetadata = artifacts.userDefinedMetadata;
    await writeFileAtomic(path.join(dir, MODEL_JSON), JSON.stringify(json));
    return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
  });
}

/** Reads and parses `model.json`, with the file named in every error. */
export async function readModelJson(file: string): Promise<tf.io.ModelJSON> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    throw new Error(`${file}: cannot read model.json (${(err as NodeJS.ErrnoException).code ?? err})`);
  }
  let json: tf.io.ModelJSON;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`${file}: model.json is not valid JSON (${(err as Error).message})`);
  }
  if (json == null || typeof json !== 'object' || json.modelTopology == null) {
    throw new Error(`${file}: not a TF.js model.json (no modelTopology)`);
  }
  return json;
}

/** Bytes the weight specs of a manifest need, from shapes and (quantized) dtypes. */
export function expectedWeightBytes(manifest: tf.io.WeightsManifestConfig): number {
  const size: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2, string: 0 };
  let total = 0;
  for (const group of manifest) {
    for (const w of group.weights) {
      const n = w.shape.reduce((a, b) => a * b, 1);
      const dtype = w.quantization?.dtype ?? w.dtype;
      total += n * (size[dtype] ?? 4);
    }
  }
  return total;
}

/**
 * A load handler for `dir/model.json` (or a path to a model.json) and the shards it names.
 * Works for LayersModels and GraphModels alike.
 */
export function diskLoadHandler(location: string): tf.io.IOHandler {
  const file = location.endsWith('.json') ? location : path.join(location, MODEL_JSON);
  const dir = path.dirname(file);
  return {
    load: async () => {
      const json = await readModelJson(file);
      return tf.io.getModelArtifactsForJSON(json, async (manifest) => {
        const buffers: ArrayBuffer[] = [];
        for (const group of manifest) {
          for (const p of group.paths) {
            const shard = path.join(dir, decodeURIComponent(p));
            let bytes: Buffer;
            try {
              bytes = await fs.readFile(shard);
            } catch (err) {
              throw new Error(`${shard}: weight shard named in ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? err})`);
            }
            buffers.push(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
          }
        }
        const data = tf.io.concatenateArrayBuffers(buffers);
        const want = expectedWeightBytes(manifest);
        if (want > 0 && data.byteLength !== want) {
          throw new Error(`${file}: weight shards hold ${data.byteLength} bytes but the manifest needs ${want} (truncated or mismatched download?)`);
        }
        return [tf.io.getWeightSpecs(manifest), data];
      });
    },
  };
}

/** sha256 over a model's topology JSON and its weight bytes: identifies the weights a cache was made with. */
export function hashArtifacts(topology: unknown, weightData: ArrayBuffer | ArrayBuffer[] | undefined): string {
  const h = createHash('sha256');
  h.update(JSON.stringify(topology ?? null));
  const buffers = weightData == null ? [] : Array.isArray(weightData) ? weightData : [weightData];
  for (const b of buffers) h.update(new Uint8Array(b));
  return h.digest('hex');
}

/** Loads a LayersModel from a directory or model.json path, or an http(s) URL. */
export async function loadLayersModelFrom(location: string): Promise<{ model: tf.LayersModel; weightsHash: string }> {
  const artifacts = await loadArtifacts(location);
  const model = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
  return { model, weightsHash: hashArtifacts(artifacts.modelTopology, artifacts.weightData as ArrayBuffer) };
}

/** Loads a GraphModel from a directory or model.json path, or an http(s) URL. */
export async function loadGraphModelFrom(location: string): Promise<{ model: tf.GraphModel; weightsHash: string; artifacts: tf.io.ModelArtifacts }> {
  const artifacts = await loadArtifacts(location);
  const model = await tf.loadGraphModel(tf.io.fromMemory(artifacts));
  return { model, weightsHash: hashArtifacts(artifacts.modelTopology, artifacts.weightData as ArrayBuffer), artifacts };
}

/** Model artifacts from disk or http(s). */
export async function loadArtifacts(location: string): Promise<tf.io.ModelArtifacts> {
  if (/^https?:\/\//.test(location)) {
    const handler = tf.io.http(location);
    return handler.load!();
  }
  const local = location.startsWith('file://') ? location.slice('file://'.length) : location;
  return diskLoadHandler(local).load!();
}
