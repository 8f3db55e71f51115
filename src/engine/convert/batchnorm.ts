/**
 * Batch normalization at inference is a per-channel affine map:
 *   y = γ·(x − μ)/√(σ² + ε) + β = s·x + (β − s·μ),  s = γ/√(σ² + ε).
 * Right after a convolution it folds into the convolution's weights and bias:
 *   W'[o] = s[o]·W[o],  b'[o] = s[o]·(b[o] − μ[o]) + β[o],
 * so the converted graph has no BatchNormalization node (computed in float64, stored as float32).
 */
import type { ConvWeights, OnnxGraph, Value } from './emit.js';

export interface BatchNormParams {
  gamma?: Float32Array;
  beta?: Float32Array;
  mean: Float32Array;
  variance: Float32Array;
  epsilon: number;
}

/** The affine form (scale s, shift β − s·μ) of an inference-mode batch normalization. */
export function batchNormAffine(p: BatchNormParams): { scale: Float32Array; shift: Float32Array } {
  const c = p.mean.length;
  const scale = new Float32Array(c);
  const shift = new Float32Array(c);
  for (let i = 0; i < c; i++) {
    const s = (p.gamma ? p.gamma[i] : 1) / Math.sqrt(p.variance[i] + p.epsilon);
    scale[i] = s;
    shift[i] = (p.beta ? p.beta[i] : 0) - s * p.mean[i];
  }
  return { scale, shift };
}

/** Folds the affine map into the convolution's weights and bias in place (W'[o] = s·W[o], b' = s·b + shift). */
export function foldIntoConv(conv: ConvWeights, scale: Float32Array, shift: Float32Array): void {
  const per = conv.weight.length / conv.outChannels;
  for (let o = 0; o < conv.outChannels; o++) {
    const s = scale[o];
    for (let j = o * per; j < (o + 1) * per; j++) conv.weight[j] = conv.weight[j] * s;
    conv.bias[o] = conv.bias[o] * s + shift[o];
  }
}

/**
 * Batch normalization of `x`: folded into the convolution that produced it when nothing else reads
 * that convolution's output (`soleConsumer`), else a BatchNormalization node.
 */
export function emitBatchNorm(g: OnnxGraph, x: Value, p: BatchNormParams, soleConsumer: boolean, base: string): Value {
  const { scale, shift } = batchNormAffine(p);
  if (scale.length !== x.shape[0]) throw new Error(`${base}: batch normalization over ${scale.length} channels of a ${x.shape[0]}-channel map`);
  const conv = soleConsumer ? g.convOf(x) : undefined;
  if (conv) {
    foldIntoConv(conv, scale, shift);
    return x;
  }
  return g.affine(x, scale, shift, base);
}
