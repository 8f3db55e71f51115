/**
 * Classifier heads on a backbone's H×W×C feature map.
 *
 * - `linear`: global average pool → (dropout) → dense K
 * - `mlp`:    global average pool → dense → ReLU → dropout → dense K
 * - `conv`:   1×1 conv → ReLU → global average pool → (dropout) → dense K
 *
 * The 1×1 convolution is a Dense layer over the channel axis of the map: the same function
 * (y[h,w,:] = W·x[h,w,:] + b), but with a MatMul gradient, which the wasm backend has, where Conv2D's
 * filter gradient is missing there. It stays a stock layer, so exported models load anywhere.
 *
 * Each head is built twice over the same layer objects (so the same weights):
 * - the training graph, with a `FeatureTap` at every point where manifold mixup may mix, whose input
 *   is the pooled C-vector when the head starts by pooling and `poolFirst` is on (mixing is linear and
 *   so commutes with average pooling: mixing the pooled vectors gives exactly the pooled mix, with
 *   H·W times less data);
 * - the export graph: input H×W×C, stock layers only, ending in softmax (or sigmoid for multi-label).
 */
import * as tf from '@tensorflow/tfjs';
import { FeatureTap } from '../backbone/tap.js';
import { z } from 'zod';
import { field, parseOptions } from '../base/options.js';
import { HEAD_TYPES, trainDataShape, type HeadType } from './options.js';

export { HEAD_TYPES, type HeadType };

/** `buildHead`'s options, checked with the same field rules as the training options (one-line errors). */
export const headOptionsSchema = z
  .object({
    type: trainDataShape.head,
    /** Shape of one feature map, [H, W, C]. */
    featureShape: z.array(field.positiveInt()).length(3, 'use an H×W×C shape, e.g. [7, 7, 1280]'),
    numClasses: field.positiveInt().refine((k) => k >= 2, 'a head needs at least 2 classes'),
    /** Width of the hidden layer: mlp (default 512) or conv (channels of the 1×1 conv, default 256). */
    hidden: trainDataShape.hidden.optional(),
    /** Dropout before the last dense layer; default 0 (linear), 0.3 (mlp), 0.2 (conv). */
    dropout: trainDataShape.dropout.optional(),
    /** Sigmoid outputs (multi-label) instead of softmax. */
    multiLabel: field.bool().optional(),
    /** Feed pooled vectors to the training graph when the head starts with pooling. Default true. */
    poolFirst: field.bool().optional(),
    /** Seeds the weight initialisers. */
    seed: field.safeInt().optional(),
  })
  .strict();
export type HeadArgs = z.input<typeof headOptionsSchema>;

export interface Head {
  type: HeadType;
  /** Training graph: outputs logits; its taps are the eligible mix points, `taps[0]` at the features. */
  train: tf.LayersModel;
  taps: FeatureTap[];
  /** True when `train` takes pooled C-vectors rather than H×W×C maps. */
  pooled: boolean;
  /** Export graph: H×W×C in, probabilities out, stock layers only. */
  export: tf.LayersModel;
  /** Weights to train (shared by both graphs). */
  variables: tf.LayerVariable[];
  /**
   * Seeds the dropout mask of the next training step. TF.js's dropout builds a fresh generator from
   * its seed on every call, so a fixed seed drops the same units at every step: the trainer sets a
   * new seed per step (drawn from the run's Rng, so runs repeat). A no-op without dropout.
   */
  setDropoutSeed(seed: number | undefined): void;
}

/** Hidden width and dropout of each head type when not given. */
export const HEAD_DEFAULTS: Record<HeadType, { hidden: number | null; dropout: number }> = {
  linear: { hidden: null, dropout: 0 },
  mlp: { hidden: 512, dropout: 0.3 },
  conv: { hidden: 256, dropout: 0.2 },
};

function init(seed: number | undefined, k: number) {
  return tf.initializers.glorotUniform({ seed: seed == null ? undefined : seed * 7919 + k });
}

export function buildHead(input: HeadArgs): Head {
  const args = parseOptions(headOptionsSchema, input);
  const [h, w, c] = args.featureShape;
  const k = args.numClasses;
  const startsWithPool = args.type !== 'conv';
  const pooled = startsWithPool && args.poolFirst !== false;
  const dropoutRate = args.dropout ?? HEAD_DEFAULTS[args.type].dropout;
  const finalAct = args.multiLabel ? 'sigmoid' : 'softmax';

  const pool = tf.layers.globalAveragePooling2d({ name: 'pool' });
  const logits = tf.layers.dense({ units: k, name: 'logits', kernelInitializer: init(args.seed, 1) });
  const dropout = dropoutRate > 0 ? tf.layers.dropout({ rate: dropoutRate, name: 'dropout', seed: args.seed }) : null;
  const probs = tf.layers.activation({ activation: finalAct, name: 'probabilities' });
  const hiddenUnits = args.hidden ?? HEAD_DEFAULTS[args.type].hidden ?? 0;
  const hiddenDense =
    args.type === 'linear'
      ? null
      : tf.layers.dense({
          units: hiddenUnits,
          activation: 'relu',
          name: args.type === 'conv' ? 'conv1x1' : 'hidden',
          kernelInitializer: init(args.seed, 2),
        });
  const taps: FeatureTap[] = [new FeatureTap({ name: 'mix_features' })];
  if (hiddenDense) taps.push(new FeatureTap({ name: `mix_${hiddenDense.name}` }));

  /** Applies the head from `x`; `withTaps` adds the mix points; `fromPooled` skips the pooling. */
  const chain = (x: tf.SymbolicTensor, withTaps: boolean, fromPooled: boolean): tf.SymbolicTensor => {
    const tap = (i: number, t: tf.SymbolicTensor) => (withTaps ? (taps[i].apply(t) as tf.SymbolicTensor) : t);
    let t = tap(0, x);
    if (args.type === 'conv') {
      t = tap(1, hiddenDense!.apply(t) as tf.SymbolicTensor);
      t = pool.apply(t) as tf.SymbolicTensor;
    } else {
      if (!fromPooled) t = pool.apply(t) as tf.SymbolicTensor;
      if (hiddenDense) t = tap(1, hiddenDense.apply(t) as tf.SymbolicTensor);
    }
    if (dropout) t = dropout.apply(t) as tf.SymbolicTensor;
    return logits.apply(t) as tf.SymbolicTensor;
  };

  const trainInput = tf.input({ shape: pooled ? [c] : [h, w, c], name: pooled ? 'pooled_features' : 'features' });
  const train = tf.model({ inputs: trainInput, outputs: chain(trainInput, true, pooled), name: `head_${args.type}_train` });
  const exportInput = tf.input({ shape: [h, w, c], name: 'features' });
  const exported = tf.model({
    inputs: exportInput,
    outputs: probs.apply(chain(exportInput, false, false)) as tf.SymbolicTensor,
    name: `head_${args.type}`,
  });
  const setDropoutSeed = (seed: number | undefined) => {
    // Dropout keeps its seed as a plain field read in `call` (tfjs-layers 4.22, layers/core).
    if (dropout) (dropout as unknown as { seed: number | undefined }).seed = seed;
  };
  return { type: args.type, train, taps, pooled, export: exported, variables: train.trainableWeights, setDropoutSeed };
}

/**
 * Frees a head's weights. Both graphs hold every layer, and TF.js frees a layer's weights only when
 * the last model using it is disposed, so both are disposed.
 */
export function disposeHead(head: Head): void {
  head.train.dispose();
  head.export.dispose();
}
