/**
 * A backbone from any TF.js LayersModel, cut at a named layer. The truncated model ends in a
 * `FeatureTap`, so hooks see every batch of activations that `extract` produces.
 */
import * as tf from '@tensorflow/tfjs';
import type { Backbone, PreprocessSpec } from './types.js';
import { FeatureTap, describeLayers, isTap } from './tap.js';
import { loadLayersModelFrom } from './io.js';
import { OptionError } from '../base/errors.js';

export interface LayersBackboneArgs {
  id: string;
  model: tf.LayersModel;
  weightsHash: string;
  /** Layer whose output is the feature map; defaults to the last layer with a 4-D output. */
  layer?: string;
  preprocess?: Partial<PreprocessSpec>;
}

export const DEFAULT_PREPROCESS: PreprocessSpec = { size: 224, range: [0, 1], fit: 'cover' };

export class LayersBackbone implements Backbone {
  readonly id: string;
  readonly weightsHash: string;
  readonly cut: string;
  readonly kind = 'layers' as const;
  readonly preprocess: PreprocessSpec;
  readonly featureShape: number[];
  /** The intercepting layer at the cut. */
  readonly tap: FeatureTap;
  private readonly full: tf.LayersModel;
  private readonly model: tf.LayersModel;

  constructor(args: LayersBackboneArgs) {
    this.id = args.id;
    this.full = args.model;
    this.weightsHash = args.weightsHash;
    const layerName = args.layer ?? lastSpatialLayer(args.model);
    let layer: tf.layers.Layer;
    try {
      layer = args.model.getLayer(layerName);
    } catch {
      throw new Error(`layer "${layerName}" is not in ${args.id}; its layers are:\n${describeLayers(args.model)}`);
    }
    const out = layer.output;
    if (Array.isArray(out)) throw new Error(`layer "${layerName}" of ${args.id} has several outputs; pick a layer with one`);
    this.cut = layerName;
    this.tap = new FeatureTap({ name: `tap_${layerName}` });
    this.model = tf.model({ inputs: args.model.inputs, outputs: this.tap.apply(out) as tf.SymbolicTensor, name: `${args.model.name}_to_${layerName}` });
    freeze(this.model);
    this.featureShape = (out.shape.slice(1) as number[]).map((d) => d ?? -1);
    const inShape = args.model.inputs[0].shape;
    const size = args.preprocess?.size ?? (inShape[1] ?? DEFAULT_PREPROCESS.size);
    if (inShape[1] != null && (inShape[1] !== size || inShape[2] !== size)) {
      throw new OptionError(`${args.id} takes ${inShape[1]}×${inShape[2]} px input; --size ${size} is not possible with it`);
    }
    this.preprocess = { ...DEFAULT_PREPROCESS, ...args.preprocess, size };
  }

  extract(batch: tf.Tensor4D): tf.Tensor {
    return this.model.predict(batch) as tf.Tensor;
  }

  /** The model from the input to the cut, ending in the intercepting layer. */
  truncated(): tf.LayersModel {
    return this.model;
  }

  /** The whole model as loaded (past the cut too). */
  fullModel(): tf.LayersModel {
    return this.full;
  }

  dispose(): void {
    this.full.dispose();
  }
}

/**
 * Freezes a model the way Keras 2 (TF2) does and TF.js does not: no trainable weights, and every
 * layer runs in inference mode even inside a training call. Without the second part a
 * BatchNormalization layer called with `training: true` normalises with batch statistics and
 * overwrites its moving mean and variance, so a "frozen" backbone would drift (seen in a test here).
 */
export function freeze(model: tf.LayersModel): void {
  model.trainable = false;
  for (const layer of model.layers) {
    // The tap stays live: it is how a training call mixes at the cut.
    if (isTap(layer) || (layer as { frozenInference?: boolean }).frozenInference) continue;
    const call = layer.call.bind(layer);
    layer.call = (inputs, kwargs) => call(inputs, { ...kwargs, training: false });
    (layer as { frozenInference?: boolean }).frozenInference = true;
  }
}

/** The last layer whose output is a 4-D map (the last conv activation of a CNN). */
export function lastSpatialLayer(model: tf.LayersModel): string {
  for (let i = model.layers.length - 1; i >= 0; i--) {
    const shape = model.layers[i].outputShape;
    if (!Array.isArray(shape[0]) && (shape as (number | null)[]).length === 4) return model.layers[i].name;
  }
  throw new Error(`${model.name} has no layer with a 4-D output; name one with --layer. Its layers are:\n${describeLayers(model)}`);
}

/** A LayersModel from a directory, a model.json path or an http(s) URL, cut at `layer`. */
export async function loadLayersBackbone(location: string, layer?: string, preprocess?: Partial<PreprocessSpec>): Promise<LayersBackbone> {
  const { model, weightsHash } = await loadLayersModelFrom(location);
  return new LayersBackbone({ id: `layers:${location}`, model, weightsHash, layer, preprocess });
}
