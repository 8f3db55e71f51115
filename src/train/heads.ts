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
import { OptionError } from '../base/errors.js';

import { HEAD_TYPES, type HeadType } from './options.js';

export { HEAD_TYPES, type HeadType };

export interface HeadArgs {
  type: HeadType;
  /** Shape of one feature map, [H, W, C]. */
  featureShape: number[];
  numClasses: number;
  /** Width of the hidden layer: mlp (default 512) or conv (channels of the 1×1 conv, default 256). */
  hidden?: number;
  /** Dropout before the last dense layer; default 0 (linear), 0.3 (mlp), 0.2 (conv). */
  dropout?: number;
  /** Sigmoid outputs (multi-label) instead of softmax. */
  multiLabel?: boolean;
  /** Feed pooled vectors to the training graph when the head starts with pooling. Default true. */
  poolFirst?: boolean;
  /** Seeds the weight initialisers. */
  seed?: number;
}

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

export function validateHeadArgs(args: HeadArgs): void {
  if (!(HEAD_TYPES as readonly string[]).includes(args.type)) {
    throw new OptionError(`unknown head "${args.type}": use one of ${HEAD_TYPES.join(', ')}`);
  }
  if (args.featureShape.length !== 3 || args.featureShape.some((d) => !(d > 0))) {
    throw new OptionError(`heads take an H×W×C feature map; got shape [${args.featureShape.join(', ')}]`);
  }
  if (!Number.isInteger(args.numClasses) || args.numClasses < 2) throw new OptionError(`a head needs at least 2 classes; got ${args.numClasses}`);
  if (args.dropout != null && !(args.dropout >= 0 && args.dropout < 1)) throw new OptionError(`dropout must be in [0, 1); got ${args.dropout}`);
  if (args.hidden != null && !(Number.isInteger(args.hidden) && args.hidden > 0)) throw new OptionError(`hidden must be a positive integer; got ${args.hidden}`);
}

export function buildHead(args: HeadArgs): Head {
  validateHeadArgs(args);
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
