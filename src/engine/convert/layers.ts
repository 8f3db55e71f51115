/**
 * Walks a TF.js LayersModel (already truncated at its cut) in topological order and emits ONNX for
 * each layer: Conv2D, DepthwiseConv2D, SeparableConv2D, BatchNormalization (folded into the convolution before it),
 * ReLU / ReLU6 / LeakyReLU, Activation, ZeroPadding2D, Add, Concatenate, Max/AveragePooling2D,
 * and the pass-through layers (Dropout, the FeatureTap at the cut). Any other layer is an
 * `UnsupportedOpError` naming it.
 */
import type * as tf from '@tensorflow/tfjs';
import { OnnxGraph, UnsupportedOpError, convKernelToOnnx, depthwiseKernelToOnnx, type PadMode, type Value } from './emit.js';
import { emitBatchNorm } from './batchnorm.js';

interface NodeLike {
  inputTensors: tf.SymbolicTensor[];
  outputTensors: tf.SymbolicTensor[];
}

type Config = Record<string, unknown>;

const PASS_THROUGH = new Set(['Dropout', 'SpatialDropout2D', 'GaussianNoise', 'GaussianDropout', 'FeatureTap']);

function pair(v: unknown, what: string): [number, number] {
  const a = Array.isArray(v) ? v : [v, v];
  if (a.length !== 2 || !a.every((x) => Number.isInteger(x))) throw new Error(`${what}: expected two integers, got ${JSON.stringify(v)}`);
  return [a[0] as number, a[1] as number];
}

function padMode(v: unknown, layer: string): PadMode {
  if (v === 'same' || v === 'valid') return v;
  throw new UnsupportedOpError(`the ONNX converter does not cover padding "${String(v)}" of layer "${layer}"`);
}

/** A layer's weights by their short names (kernel, bias, gamma, moving_mean…). */
function weightsOf(layer: tf.layers.Layer): Map<string, { data: Float32Array; shape: number[] }> {
  const out = new Map<string, { data: Float32Array; shape: number[] }>();
  for (const w of layer.weights) {
    const full = (w as unknown as { originalName?: string }).originalName ?? w.name;
    const short = full.split('/').pop()!.replace(/_\d+$/, '');
    out.set(short, { data: w.read().dataSync() as Float32Array, shape: w.shape as number[] });
  }
  return out;
}

export class LayersWalker {
  private readonly g = new OnnxGraph();
  private readonly values = new Map<number, Value>();
  private readonly consumers = new Map<number, number>();

  constructor(private readonly model: tf.LayersModel) {}

  private nodeOf(layer: tf.layers.Layer): NodeLike {
    const own = (this.model as unknown as { containerNodes: Set<string> }).containerNodes;
    const nodes = (layer as unknown as { inboundNodes: NodeLike[] }).inboundNodes;
    const node = nodes.find((_, j) => own.has(`${layer.name}_ib-${j}`));
    if (!node) throw new Error(`cannot convert ${this.model.name}: layer ${layer.name} has no node in this model`);
    return node;
  }

  /** Converts the model; its single input must be [N, H, W, C] with H and W given by `size`. */
  convert(size: [number, number]): OnnxGraph {
    const m = this.model;
    if (m.inputs.length !== 1 || m.outputs.length !== 1) throw new UnsupportedOpError(`the ONNX converter takes a model with one input and one output (${m.name} has ${m.inputs.length} and ${m.outputs.length})`);
    const inShape = m.inputs[0].shape;
    if (inShape.length !== 4) throw new UnsupportedOpError(`the ONNX converter takes an image input [N, H, W, C]; ${m.name} takes ${JSON.stringify(inShape)}`);
    for (const layer of m.layers) {
      if (layer.getClassName() === 'InputLayer') continue;
      for (const t of this.nodeOf(layer).inputTensors) this.consumers.set(t.id, (this.consumers.get(t.id) ?? 0) + 1);
    }
    for (const t of m.outputs) this.consumers.set(t.id, (this.consumers.get(t.id) ?? 0) + 1);
    this.values.set(m.inputs[0].id, this.g.addInput(m.inputs[0].name, size[0], size[1], inShape[3] ?? 3));
    for (const layer of m.layers) {
      if (layer.getClassName() === 'InputLayer') continue;
      const node = this.nodeOf(layer);
      const ins = node.inputTensors.map((t) => this.values.get(t.id)!);
      if (node.outputTensors.length !== 1) throw new UnsupportedOpError(`the ONNX converter does not cover layer "${layer.name}" (${layer.getClassName()} with ${node.outputTensors.length} outputs)`);
      const sole = node.inputTensors.length === 1 && this.consumers.get(node.inputTensors[0].id) === 1;
      this.values.set(node.outputTensors[0].id, this.layer(layer, ins, sole));
    }
    this.g.setOutput(this.values.get(m.outputs[0].id)!, 'features');
    return this.g;
  }

  /**
   * A Keras depthwise kernel [kh, kw, c, mult] as an ONNX Conv with group = c (stride, dilation and
   * padding from the layer's config; `layer` names the layer in messages).
   */
  private depthwise(x: Value, kernel: { data: Float32Array; shape: number[] }, cfg: Config, name: string, bias?: Float32Array, layer = name): Value {
    const [kh, kw, c, mult] = kernel.shape;
    return this.g.conv(
      x,
      {
        weight: depthwiseKernelToOnnx(kernel.data, kh, kw, c, mult),
        bias,
        outChannels: c * mult,
        kernel: [kh, kw],
        strides: pair(cfg.strides ?? 1, layer),
        dilations: pair(cfg.dilationRate ?? 1, layer),
        padding: padMode(cfg.padding, layer),
        group: c,
      },
      name,
    );
  }

  private activation(x: Value, name: unknown, base: string, layer: tf.layers.Layer): Value {
    switch (name ?? 'linear') {
      case 'linear':
        return x;
      case 'relu':
        return this.g.relu(x, base);
      case 'relu6':
        return this.g.clip(x, 0, 6, base);
      case 'sigmoid':
        return this.g.unary('Sigmoid', x, base);
      case 'tanh':
        return this.g.unary('Tanh', x, base);
      default:
        throw new UnsupportedOpError(`the ONNX converter does not cover activation "${String(name)}" of layer "${layer.name}" (${layer.getClassName()})`);
    }
  }

  private layer(layer: tf.layers.Layer, ins: Value[], soleConsumer: boolean): Value {
    const cls = layer.getClassName();
    const cfg = layer.getConfig() as Config;
    const name = layer.name;
    const x = ins[0];
    if (cfg.dataFormat != null && cfg.dataFormat !== 'channelsLast') {
      throw new UnsupportedOpError(`the ONNX converter does not cover layer "${name}" (${cls} with dataFormat ${String(cfg.dataFormat)})`);
    }
    if (PASS_THROUGH.has(cls)) return x;
    switch (cls) {
      case 'Conv2D': {
        const w = weightsOf(layer);
        const kernel = w.get('kernel');
        if (!kernel) throw new Error(`layer "${name}" (Conv2D) has no kernel`);
        const [kh, kw, cin, cout] = kernel.shape;
        if (cin !== x.shape[0]) throw new UnsupportedOpError(`the ONNX converter does not cover layer "${name}" (grouped Conv2D)`);
        const y = this.g.conv(
          x,
          {
            weight: convKernelToOnnx(kernel.data, kh, kw, cin, cout),
            bias: cfg.useBias === false ? undefined : w.get('bias')?.data.slice(),
            outChannels: cout,
            kernel: [kh, kw],
            strides: pair(cfg.strides ?? 1, name),
            dilations: pair(cfg.dilationRate ?? 1, name),
            padding: padMode(cfg.padding, name),
            group: 1,
          },
          name,
        );
        return this.activation(y, cfg.activation, `${name}_act`, layer);
      }
      case 'DepthwiseConv2D': {
        const w = weightsOf(layer);
        const kernel = w.get('depthwise_kernel');
        if (!kernel) throw new Error(`layer "${name}" (DepthwiseConv2D) has no depthwise_kernel`);
        const y = this.depthwise(x, kernel, cfg, name, cfg.useBias === false ? undefined : w.get('bias')?.data.slice());
        return this.activation(y, cfg.activation, `${name}_act`, layer);
      }
      case 'SeparableConv2D': {
        // A depthwise convolution (no bias) then a 1×1 convolution carrying the bias.
        const w = weightsOf(layer);
        const dk = w.get('depthwise_kernel');
        const pk = w.get('pointwise_kernel');
        if (!dk || !pk) throw new Error(`layer "${name}" (SeparableConv2D) lacks its kernels`);
        const [, , c, mult] = dk.shape;
        const cout = pk.shape[3];
        const d = this.depthwise(x, dk, cfg, `${name}_depthwise`, undefined, name);
        const y = this.g.conv(
          d,
          { weight: convKernelToOnnx(pk.data, 1, 1, c * mult, cout), bias: cfg.useBias === false ? undefined : w.get('bias')?.data.slice(), outChannels: cout, kernel: [1, 1], strides: [1, 1], dilations: [1, 1], padding: 'valid', group: 1 },
          name,
        );
        return this.activation(y, cfg.activation, `${name}_act`, layer);
      }
      case 'BatchNormalization': {
        const axis = cfg.axis;
        if (axis !== -1 && axis !== 3 && !(Array.isArray(axis) && axis.length === 1 && (axis[0] === -1 || axis[0] === 3))) {
          throw new UnsupportedOpError(`the ONNX converter does not cover layer "${name}" (BatchNormalization over axis ${JSON.stringify(axis)})`);
        }
        const w = weightsOf(layer);
        const mean = w.get('moving_mean');
        const variance = w.get('moving_variance');
        if (!mean || !variance) throw new Error(`layer "${name}" (BatchNormalization) has no moving statistics`);
        return emitBatchNorm(
          this.g,
          x,
          { gamma: w.get('gamma')?.data, beta: w.get('beta')?.data, mean: mean.data, variance: variance.data, epsilon: Number(cfg.epsilon ?? 1e-3) },
          soleConsumer,
          name,
        );
      }
      case 'ReLU': {
        const max = cfg.maxValue as number | null | undefined;
        const slope = Number(cfg.negativeSlope ?? 0);
        if (Number(cfg.threshold ?? 0) !== 0 || (slope !== 0 && max != null)) {
          throw new UnsupportedOpError(`the ONNX converter does not cover layer "${name}" (ReLU with a threshold or a slope and a cap)`);
        }
        if (slope !== 0) return this.g.leakyRelu(x, slope, name);
        return max == null ? this.g.relu(x, name) : this.g.clip(x, 0, max, name);
      }
      case 'LeakyReLU':
        return this.g.leakyRelu(x, Number(cfg.alpha ?? 0.3), name);
      case 'Activation':
        return this.activation(x, cfg.activation, name, layer);
      case 'ZeroPadding2D': {
        // tfjs normalises every spelling of the padding to [[top, bottom], [left, right]].
        const [[top, bottom], [left, right]] = cfg.padding as [[number, number], [number, number]];
        return this.g.pad(x, { top, bottom, left, right }, name);
      }
      case 'Add':
        return this.g.add2(ins, name);
      case 'Concatenate': {
        if (cfg.axis !== -1 && cfg.axis !== 3) throw new UnsupportedOpError(`the ONNX converter does not cover layer "${name}" (Concatenate over axis ${String(cfg.axis)})`);
        return this.g.concat(ins, name);
      }
      case 'MaxPooling2D':
      case 'AveragePooling2D': {
        const kernel = pair(cfg.poolSize ?? 2, name);
        return this.g.pool(cls === 'MaxPooling2D' ? 'max' : 'avg', x, { kernel, strides: cfg.strides == null ? kernel : pair(cfg.strides, name), padding: padMode(cfg.padding, name) }, name);
      }
      default:
        throw new UnsupportedOpError(`the ONNX converter does not cover layer "${name}" (${cls})`);
    }
  }
}

/** The ONNX graph of a truncated LayersModel at input size `size`×`size`. */
export function convertLayersModel(model: tf.LayersModel, size: number): OnnxGraph {
  return new LayersWalker(model).convert([size, size]);
}
