/**
 * mixhead in the browser: a file or blob → the same input floats as `mixhead predict` → the
 * exported model's probabilities. ESM; depends on TF.js only (imported as `@tensorflow/tfjs`: the
 * page `mixhead export --web` writes maps that name to its own copy with an import map; a bundler
 * resolves it from node_modules).
 *
 * The browser decodes the file (EXIF orientation applied, ICC profiles converted to sRGB, first
 * frame), a 2D canvas hands back its RGBA pixels, and ./preprocess.js (the code Node runs after
 * sharp's decode) flattens alpha onto black, resizes with the `triangle` kernel and normalises.
 * See docs/architecture.md ("Preprocessing").
 */
import * as tf from '@tensorflow/tfjs';
import { normalize, resizeToSquare, type Pixels } from '../preprocess/index.js';
import type { PreprocessSpec } from '../preprocess/spec.js';

export { normalize, resizeToSquare, toRgb, DECODE_RULES } from '../preprocess/index.js';

/** The parts of meta.json the browser needs. */
export interface WebMeta {
  classes: string[];
  multiLabel: boolean;
  threshold: number;
  preprocess: PreprocessSpec;
  /** `onnx`: the backbone is `backbone.onnx` on onnxruntime-web and the head `head/` (onnx-browser.ts). */
  backbone?: { kind?: string };
  /** ONNX backbones: the model's fixed batch size, or null when dynamic. */
  onnx?: { batch: number | null };
  /** The training cache's views (precompute --views): `flip: false` says a mirror image means something else. */
  views?: { count: number; flip: boolean };
}

/** An exported folder's meta.json. */
export async function loadMeta(base = '.'): Promise<WebMeta> {
  const res = await fetch(`${base}/meta.json`);
  if (!res.ok) throw new Error(`${base}/meta.json: HTTP ${res.status}`);
  return (await res.json()) as WebMeta;
}

export interface ClassifyOptions {
  /**
   * Test-time augmentation: the mean of the probabilities of the image and its mirror (views 0 and
   * 1 of src/preprocess/views.ts: reversing the columns of the input floats is normalising the
   * mirrored pixels, since normalisation is per pixel). Refused for a model whose views had no
   * mirror (`views.flip` false). `mixhead predict --tta` also averages the random crops of a model
   * trained on more views; the page does the mirror only.
   */
  tta?: boolean;
}

/** Decodes an image file in the browser → RGBA pixels, upright and in sRGB. */
export async function decodePixels(source: Blob | ImageBitmapSource): Promise<Pixels> {
  const bitmap = await createImageBitmap(source as ImageBitmapSource, {
    imageOrientation: 'from-image',
    colorSpaceConversion: 'default',
    premultiplyAlpha: 'none',
  });
  try {
    const { width, height } = bitmap;
    const canvas: OffscreenCanvas | HTMLCanvasElement =
      typeof OffscreenCanvas !== 'undefined' ? new OffscreenCanvas(width, height) : Object.assign(document.createElement('canvas'), { width, height });
    const ctx = canvas.getContext('2d', { willReadFrequently: true, colorSpace: 'srgb' }) as CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D | null;
    if (!ctx) throw new Error('no 2D canvas context');
    ctx.drawImage(bitmap, 0, 0);
    const image = ctx.getImageData(0, 0, width, height, { colorSpace: 'srgb' });
    return { data: image.data, width, height, channels: 4 };
  } finally {
    bitmap.close();
  }
}

/** Pixels → the model's input floats (size×size×3), exactly as Node computes them. */
export function preprocessPixels(px: Pixels, spec: PreprocessSpec): Float32Array {
  const kernel = spec.kernel ?? 'sharp-linear';
  if (kernel !== 'triangle') {
    throw new Error(`this model was trained on images resized with '${kernel}', which only Node reproduces; re-run mixhead precompute and train with a current mixhead`);
  }
  return normalize(resizeToSquare(px, spec), spec);
}

/** A file or blob → a [1, size, size, 3] input tensor (the caller disposes it). */
export async function imageToTensor(source: Blob | ImageBitmapSource, spec: PreprocessSpec): Promise<tf.Tensor4D> {
  const x = preprocessPixels(await decodePixels(source), spec);
  return tf.tensor4d(x, [1, spec.size, spec.size, 3]);
}

/** A file or blob → every class with its probability, best first. */
export async function classify(model: tf.LayersModel, meta: WebMeta, source: Blob | ImageBitmapSource, options: ClassifyOptions = {}): Promise<{ label: string; probability: number }[]> {
  if (options.tta && meta.views?.flip === false) throw new Error('this model was trained without mirrored views (a mirror image means something else): classify without tta');
  const input = await imageToTensor(source, meta.preprocess);
  let probs: Float32Array;
  try {
    // [1, H, W, 3] → the image and its mirror (columns reversed) as a batch of two, then their mean.
    const y = options.tta ? tf.tidy(() => tf.mean(model.predict(tf.concat([input, tf.reverse(input, 2)], 0)) as tf.Tensor, 0, true)) : (model.predict(input) as tf.Tensor);
    try {
      probs = (await y.data()) as Float32Array;
    } finally {
      y.dispose();
    }
  } finally {
    input.dispose();
  }
  return Array.from(probs, (probability, c) => ({ label: meta.classes[c], probability })).sort((a, b) => b.probability - a.probability);
}

/** Loads an exported folder's model and meta.json (URLs relative to the page by default). */
export async function loadModel(base = '.'): Promise<{ model: tf.LayersModel; meta: WebMeta }> {
  const meta = await loadMeta(base);
  const model = await tf.loadLayersModel(`${base}/model/model.json`);
  return { model, meta };
}
