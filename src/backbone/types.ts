import type * as tf from '@tensorflow/tfjs';

/**
 * How raw RGB pixels become the backbone's input. Pixels are first scaled to `range`
 * (0..255 → range[0]..range[1]); then, if given, `(x − mean[c]) / std[c]` per channel.
 */
export interface PreprocessSpec {
  /** Square input side in pixels (224 for the MobileNets). */
  size: number;
  /** Pixel value range after scaling, e.g. [0, 1] or [-1, 1]. */
  range: [number, number];
  /** Per-channel mean subtracted after scaling (RGB order). */
  mean?: [number, number, number];
  /** Per-channel standard deviation divided after the mean. */
  std?: [number, number, number];
  /**
   * How the image is brought to size×size: `cover` (default) resizes the shorter side and crops the
   * centre; `contain` letterboxes on black; `fill` stretches.
   */
  fit: 'cover' | 'contain' | 'fill';
  /**
   * Resize kernel (src/web/preprocess.ts): `triangle` (the default in memory; the same code runs in
   * browsers) or `sharp-linear` (libvips', what caches and models that name no kernel were made with).
   */
  kernel?: 'triangle' | 'sharp-linear';
}

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
