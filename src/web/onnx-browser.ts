/**
 * mixhead in the browser for an ONNX backbone (a PyTorch export): the cut backbone runs on
 * onnxruntime-web (WebAssembly; its files are in the exported folder, no CDN), the head on TF.js.
 * Pixels are prepared by the same code as for every backbone (browser.ts, ../preprocess/), so the
 * probabilities agree with `mixhead predict`'s.
 *
 * The exported `backbone.onnx` is the model as `predict` runs it: cut at the recorded node and
 * wrapped to take [batch, size, size, 3] and give [batch, H, W, C] (src/engine/onnx-model.ts).
 */
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-web';
import { decodePixels, preprocessPixels, type WebMeta } from './browser.js';

export interface OnnxWebModel {
  session: ort.InferenceSession;
  head: tf.LayersModel;
  /** Images per run the model takes (1 when its batch is dynamic). */
  batch: number;
}

/** Loads `backbone.onnx` and `head/` from an exported folder. */
export async function loadOnnxModel(base: string, meta: WebMeta): Promise<OnnxWebModel> {
  // onnxruntime-web fetches its .wasm and loader from this folder (absolute: it resolves them from its own module).
  ort.env.wasm.wasmPaths = new URL(`${base}/ort/`, location.href).href;
  // Threads need a cross-origin-isolated page (SharedArrayBuffer); a plain static server gives one thread.
  if (!globalThis.crossOriginIsolated) ort.env.wasm.numThreads = 1;
  const session = await ort.InferenceSession.create(`${base}/backbone.onnx`, { executionProviders: ['wasm'] });
  const head = await tf.loadLayersModel(`${base}/head/model.json`);
  return { session, head, batch: meta.onnx?.batch ?? 1 };
}

/** A file or blob → every class with its probability, best first. */
export async function classifyOnnx(m: OnnxWebModel, meta: WebMeta, source: Blob | ImageBitmapSource): Promise<{ label: string; probability: number }[]> {
  const s = meta.preprocess.size;
  const px = preprocessPixels(await decodePixels(source), meta.preprocess);
  // A model with a fixed batch takes exactly that many images: the rest are zeros, and only the first map is read.
  const x = new Float32Array(m.batch * px.length);
  x.set(px);
  const input = new ort.Tensor('float32', x, [m.batch, s, s, 3]);
  const out = await m.session.run({ [m.session.inputNames[0]]: input });
  const maps = out[m.session.outputNames[0]];
  const one = (maps.data as Float32Array).subarray(0, (maps.data as Float32Array).length / m.batch);
  const featureShape = maps.dims.slice(1).map(Number);
  input.dispose();
  const probs = tf.tidy(() => (m.head.predict(tf.tensor(one, [1, ...featureShape])) as tf.Tensor).dataSync() as Float32Array);
  maps.dispose();
  return Array.from(probs, (probability, c) => ({ label: meta.classes[c], probability })).sort((a, b) => b.probability - a.probability);
}
