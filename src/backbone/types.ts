import type * as tf from '@tensorflow/tfjs';

export type { PreprocessSpec } from '../preprocess/spec.js';
import type { PreprocessSpec } from '../preprocess/spec.js';

export type BackboneKind = 'layers' | 'graph' | 'onnx';

/** A frozen feature extractor cut at one layer or node. */
export interface Backbone {
  /** Stable id, e.g. `bundled-mobilenet-v2` or `layers:/path/to/model.json`. */
  readonly id: string;
  /** sha256 over the topology and weight bytes: two caches agree only if this agrees. */
  readonly weightsHash: string;
  /** Layer name (LayersModel) or node name (GraphModel) whose activations are taken. */
  readonly cut: string;
  /**
   * `layers` when the backbone is a LayersModel (a combined model can be exported), `graph` for a
   * GraphModel, `onnx` for an ONNX file run by ONNX Runtime directly (onnx-file.ts).
   */
  readonly kind: BackboneKind;
  readonly preprocess: PreprocessSpec;
  /** Feature shape of one image, e.g. [7, 7, 1280]. */
  readonly featureShape: number[];
  /** Runs the backbone on a [B, size, size, 3] float batch (already preprocessed); returns [B, ...featureShape]. */
  extract(batch: tf.Tensor4D): tf.Tensor;
  /**
   * Backbones with their own native session (ONNX files): count×size×size×3 preprocessed floats →
   * count × feature size floats. The engine's extractFeatures prefers it.
   */
  extractPixels?(pixels: Float32Array, count: number): Promise<Float32Array>;
  /** The LayersModel truncated at the cut, for LayersModel backbones (used to build a combined model). */
  truncated?(): tf.LayersModel;
  dispose(): void;
}

/** What `mixhead backbones` lists. */
export interface BackboneInfo {
  id: string;
  description: string;
  featureShape: number[];
  inputSize: number;
  offline: boolean;
  where: string;
}
