/**
 * The output folder of a training run:
 *
 *   <out>/head/model.json (+ weights.bin)      H×W×C features → probabilities, stock layers only
 *   <out>/combined/model.json (+ weights.bin)  images → probabilities (LayersModel backbones only)
 *   <out>/meta.json                            labels, backbone id and weights hash, cut, preprocessing
 *
 * meta.json's `preprocess` is the whole recipe from file to input floats: size, fit, range,
 * mean/std, the resize `kernel`, and `decode` (orientation, alpha, colour space, frames), so a
 * client in another language or a browser (src/web/) can reproduce it.
 *
 * Both models load with plain `tf.loadLayersModel` (over HTTP in a browser, or with tfjs-node's
 * file:// or our disk handler in Node). The combined model is the frozen backbone up to the cut
 * followed by the head's layers: the intercepting layer is the identity at inference and is left out.
 * For GraphModel backbones, `predict` composes the backbone and the head from meta.json instead.
 */
import * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { composeModels, type Backbone } from '../backbone/index.js';
import { LayersBackbone } from '../backbone/layers.js';
import { diskLoadHandler, diskSaveHandler } from '../backbone/io.js';
import { writeFileAtomic } from '../base/fs.js';
import type { PreprocessSpec } from '../backbone/types.js';
import type { Head, HeadType } from './heads.js';
import { DECODE_RULES, DEFAULT_KERNEL, LEGACY_KERNEL, RESIZE_KERNELS, type ResizeKernel } from '../preprocess/index.js';

export const META_FILE = 'meta.json';

export interface ModelMeta {
  format: 'mixhead-model';
  version: 1;
  classes: string[];
  multiLabel: boolean;
  /** Probability at or above which a label is predicted (multi-label): calibrated on validation, else 0.5. */
  threshold: number;
  /** Per-class thresholds, when calibrated per class (they replace `threshold`). */
  thresholds?: number[];
  head: HeadType;
  featureShape: number[];
  backbone: { id: string; weightsHash: string; cut: string; kind: 'layers' | 'graph' | 'onnx' };
  /** How images become input floats; `kernel` is always present (src/preprocess/index.ts). */
  preprocess: PreprocessSpec & { kernel: ResizeKernel };
  /** How files become pixels before `preprocess` (the same for every model). */
  decode?: typeof DECODE_RULES;
  /** Whether `combined/` exists. */
  combined: boolean;
  createdAt: string;
  /** Free-form: the options and metrics of the run that made it. */
  training?: unknown;
  /**
   * The views of the training cache (precompute --views; src/preprocess/views.ts), absent for one
   * view: `predict --tta` recomputes exactly these views of an image and averages their
   * probabilities; the browser page averages the plain view and its mirror when `flip` is true.
   */
  views?: { count: number; flip: boolean; scale: [number, number]; ratio: [number, number] };
}

export async function readMeta(modelDir: string): Promise<ModelMeta> {
  const file = path.join(modelDir, META_FILE);
  let meta: ModelMeta;
  try {
    meta = JSON.parse(await fs.readFile(file, 'utf8'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(`${file}: ${code === 'ENOENT' ? 'not found: is this a folder written by mixhead train?' : `unreadable (${(err as Error).message})`}`);
  }
  if (meta.format !== 'mixhead-model') throw new Error(`${file}: not a mixhead model (format ${meta.format})`);
  // Written before kernels had names: made with sharp's.
  meta.preprocess = { ...meta.preprocess, kernel: meta.preprocess.kernel ?? LEGACY_KERNEL };
  if (!RESIZE_KERNELS.includes(meta.preprocess.kernel)) {
    throw new Error(`${file}: unknown resize kernel ${JSON.stringify(meta.preprocess.kernel)} (this mixhead knows ${RESIZE_KERNELS.join(', ')}): made by a newer version?`);
  }
  return meta;
}

/** Writes head/, combined/ (when the backbone is a LayersModel) and meta.json, meta last. */
export async function exportModel(
  out: string,
  head: Head,
  meta: Omit<ModelMeta, 'format' | 'version' | 'combined' | 'createdAt' | 'head' | 'preprocess' | 'decode'> & { preprocess: PreprocessSpec },
  backbone?: Backbone,
): Promise<ModelMeta> {
  await fs.mkdir(out, { recursive: true });
  await head.export.save(diskSaveHandler(path.join(out, 'head')));
  let combined = false;
  if (backbone instanceof LayersBackbone) {
    if (backbone.weightsHash !== meta.backbone.weightsHash) {
      throw new Error(`backbone ${backbone.id} has other weights than the cache the head was trained on`);
    }
    const model = composeModels(backbone.truncated(), head.export, `mixhead_${head.type}`);
    await model.save(diskSaveHandler(path.join(out, 'combined')));
    combined = true;
  }
  // A spec in memory naming no kernel means the default (runTrain names the legacy one for old caches).
  const preprocess = { ...meta.preprocess, kernel: meta.preprocess.kernel ?? DEFAULT_KERNEL };
  const full: ModelMeta = { format: 'mixhead-model', version: 1, head: head.type, combined, createdAt: new Date().toISOString(), ...meta, preprocess, decode: DECODE_RULES };
  await writeFileAtomic(path.join(out, META_FILE), JSON.stringify(full, null, 2));
  return full;
}

/** Multi-label: the labels whose probability reaches the model's threshold (per class when calibrated so). */
export function predictedLabels(meta: Pick<ModelMeta, 'classes' | 'threshold' | 'thresholds'>, probs: ArrayLike<number>): string[] {
  return meta.classes.filter((_, c) => probs[c] >= (meta.thresholds?.[c] ?? meta.threshold));
}

/** Loads `<modelDir>/head` (features → probabilities). */
export async function loadHead(modelDir: string): Promise<tf.LayersModel> {
  return tf.loadLayersModel(diskLoadHandler(path.join(modelDir, 'head')));
}
