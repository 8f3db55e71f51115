/**
 * The ONNX graph under construction, and one emitter per op the converter writes.
 *
 * Inside the graph every activation is NCHW (what ONNX convolutions take); the model's edges are
 * NHWC so callers feed and receive the same layout as TF.js. Each value carries its static
 * per-image shape [C, H, W]: the input side is fixed at conversion time, which is what lets TF's
 * 'same' padding be written as explicit ONNX pads (see `tfPadding`).
 */

/** Thrown for a layer or op the converter does not cover; the message is one line naming it. */
export class UnsupportedOpError extends Error {
  override name = 'UnsupportedOpError';
}

/** An activation in the graph: its ONNX name and its per-image NCHW shape [C, H, W]. */
export interface Value {
  name: string;
  shape: [number, number, number];
}

export interface Initializer {
  name: string;
  dims: number[];
  data: Float32Array | BigInt64Array;
}

export interface OnnxNode {
  op: string;
  inputs: string[];
  outputs: string[];
  name: string;
  attrs: Record<string, number | number[] | string>;
}

/** A convolution's weights, kept by reference so a following BatchNormalization can be folded in. */
export interface ConvWeights {
  /** [Cout, Cin/group, kh, kw]. */
  weight: Float32Array;
  /** [Cout]. */
  bias: Float32Array;
  outChannels: number;
}

export type PadMode = 'same' | 'valid';

/**
 * Output size and explicit pads of one spatial axis under TF's rules:
 * valid: out = ⌊(in − k_eff)/s⌋ + 1, no pad;
 * same:  out = ⌈in/s⌉, total = max((out − 1)·s + k_eff − in, 0), begin = ⌊total/2⌋, end = total − begin
 * with k_eff = (k − 1)·d + 1. TF puts the odd pixel at the end, so stride 2 pads asymmetrically.
 */
export function tfPadding(mode: PadMode, size: number, k: number, s: number, d = 1): { out: number; begin: number; end: number } {
  const kEff = (k - 1) * d + 1;
  if (mode === 'valid') return { out: Math.floor((size - kEff) / s) + 1, begin: 0, end: 0 };
  const out = Math.ceil(size / s);
  const total = Math.max((out - 1) * s + kEff - size, 0);
  const begin = Math.floor(total / 2);
  return { out, begin, end: total - begin };
}

export interface ConvArgs {
  /** [Cout, Cin/group, kh, kw] in ONNX order. */
  weight: Float32Array;
  bias?: Float32Array;
  outChannels: number;
  kernel: [number, number];
  strides: [number, number];
  dilations: [number, number];
  padding: PadMode | { top: number; bottom: number; left: number; right: number };
  group: number;
}

export interface PoolArgs {
  kernel: [number, number];
  strides: [number, number];
  padding: PadMode;
}

export class OnnxGraph {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: Initializer[] = [];
  /** Convolution outputs → their weights (BN folding looks them up). */
  private readonly convs = new Map<string, ConvWeights>();
  private readonly used = new Set<string>();
  /** Multiply-adds of one image through the convolutions (for GFLOP/s in the bench). */
  macs = 0;
  input?: { name: string; size: [number, number]; channels: number };
  output?: { name: string; shape: [number, number, number] };

  /** A fresh ONNX name from a model's layer or node name. */
  fresh(base: string): string {
    const clean = base.replace(/[^A-Za-z0-9_./-]/g, '_') || 'v';
    let name = clean;
    for (let i = 1; this.used.has(name); i++) name = `${clean}_${i}`;
    this.used.add(name);
    return name;
  }

  private add(op: string, inputs: string[], outBase: string, attrs: OnnxNode['attrs'] = {}): string {
    const out = this.fresh(outBase);
    this.nodes.push({ op, inputs, outputs: [out], name: this.fresh(`${outBase}/${op}`), attrs });
    return out;
  }

  private init(base: string, dims: number[], data: Float32Array | BigInt64Array): string {
    const name = this.fresh(base);
    this.initializers.push({ name, dims, data });
    return name;
  }

  /** The NHWC graph input [N, H, W, C], transposed to NCHW. */
  addInput(name: string, height: number, width: number, channels: number): Value {
    const input = this.fresh(name);
    this.input = { name: input, size: [height, width], channels };
    const out = this.add('Transpose', [input], `${name}_nchw`, { perm: [0, 3, 1, 2] });
    return { name: out, shape: [channels, height, width] };
  }

  /** Marks `v` as the graph output, transposed back to NHWC. */
  setOutput(v: Value, name: string): void {
    const out = this.add('Transpose', [v.name], name, { perm: [0, 2, 3, 1] });
    this.output = { name: out, shape: [v.shape[1], v.shape[2], v.shape[0]] };
  }

  conv(x: Value, a: ConvArgs, base: string): Value {
    const [, h, w] = x.shape;
    let top: number, bottom: number, left: number, right: number, outH: number, outW: number;
    const keff = (k: number, d: number) => (k - 1) * d + 1;
    if (typeof a.padding === 'string') {
      const ph = tfPadding(a.padding, h, a.kernel[0], a.strides[0], a.dilations[0]);
      const pw = tfPadding(a.padding, w, a.kernel[1], a.strides[1], a.dilations[1]);
      [top, bottom, left, right, outH, outW] = [ph.begin, ph.end, pw.begin, pw.end, ph.out, pw.out];
    } else {
      ({ top, bottom, left, right } = a.padding);
      outH = Math.floor((h + top + bottom - keff(a.kernel[0], a.dilations[0])) / a.strides[0]) + 1;
      outW = Math.floor((w + left + right - keff(a.kernel[1], a.dilations[1])) / a.strides[1]) + 1;
    }
    if (outH < 1 || outW < 1) throw new UnsupportedOpError(`${base}: kernel larger than its ${h}×${w} input`);
    const bias = a.bias ?? new Float32Array(a.outChannels);
    const cinPerGroup = a.weight.length / (a.outChannels * a.kernel[0] * a.kernel[1]);
    const wName = this.init(`${base}/W`, [a.outChannels, cinPerGroup, a.kernel[0], a.kernel[1]], a.weight);
    const bName = this.init(`${base}/B`, [a.outChannels], bias);
    const out = this.add('Conv', [x.name, wName, bName], base, {
      kernel_shape: a.kernel,
      strides: a.strides,
      dilations: a.dilations,
      pads: [top, left, bottom, right],
      group: a.group,
    });
    this.convs.set(out, { weight: a.weight, bias, outChannels: a.outChannels });
    this.macs += outH * outW * a.weight.length;
    return { name: out, shape: [a.outChannels, outH, outW] };
  }

  /** The weights of the convolution that produced `v`, if it did. */
  convOf(v: Value): ConvWeights | undefined {
    return this.convs.get(v.name);
  }

  /** y = scale·x + shift per channel, as ONNX BatchNormalization (mean 0, var 1, ε 0) when it cannot be folded. */
  affine(x: Value, scale: Float32Array, shift: Float32Array, base: string): Value {
    const c = x.shape[0];
    const s = this.init(`${base}/scale`, [c], scale);
    const b = this.init(`${base}/shift`, [c], shift);
    const m = this.init(`${base}/mean`, [c], new Float32Array(c));
    const v = this.init(`${base}/var`, [c], new Float32Array(c).fill(1));
    return { name: this.add('BatchNormalization', [x.name, s, b, m, v], base, { epsilon: 0 }), shape: x.shape };
  }

  /** Per-channel bias (TF BiasAdd on a value that is not a fresh convolution). */
  biasAdd(x: Value, bias: Float32Array, base: string): Value {
    const conv = this.convOf(x);
    if (conv) {
      for (let i = 0; i < bias.length; i++) conv.bias[i] += bias[i];
      return x;
    }
    const b = this.init(`${base}/bias`, [bias.length, 1, 1], bias);
    return { name: this.add('Add', [x.name, b], base), shape: x.shape };
  }

  relu(x: Value, base: string): Value {
    return { name: this.add('Relu', [x.name], base), shape: x.shape };
  }

  /** min(max(x, lo), hi): ReLU6 is clip(x, 0, 6). */
  clip(x: Value, lo: number, hi: number, base: string): Value {
    const l = this.init(`${base}/min`, [], new Float32Array([lo]));
    const h = this.init(`${base}/max`, [], new Float32Array([hi]));
    return { name: this.add('Clip', [x.name, l, h], base), shape: x.shape };
  }

  leakyRelu(x: Value, alpha: number, base: string): Value {
    return { name: this.add('LeakyRelu', [x.name], base, { alpha }), shape: x.shape };
  }

  unary(op: 'Sigmoid' | 'Tanh' | 'Identity', x: Value, base: string): Value {
    return { name: this.add(op, [x.name], base), shape: x.shape };
  }

  /** Element-wise sum of same-shaped values. */
  add2(xs: Value[], base: string): Value {
    for (const x of xs) {
      if (x.shape.join() !== xs[0].shape.join()) throw new UnsupportedOpError(`${base}: Add of differently shaped inputs (${xs.map((v) => v.shape.join('×')).join(' + ')})`);
    }
    let acc = xs[0];
    for (let i = 1; i < xs.length; i++) acc = { name: this.add('Add', [acc.name, xs[i].name], base), shape: acc.shape };
    return acc;
  }

  /** Zero padding of the spatial axes. */
  pad(x: Value, p: { top: number; bottom: number; left: number; right: number }, base: string): Value {
    const pads = this.init(`${base}/pads`, [8], BigInt64Array.from([0, 0, p.top, p.left, 0, 0, p.bottom, p.right].map(BigInt)));
    const [c, h, w] = x.shape;
    return { name: this.add('Pad', [x.name, pads], base, { mode: 'constant' }), shape: [c, h + p.top + p.bottom, w + p.left + p.right] };
  }

  /**
   * Max or average pooling. TF's average pool divides by the number of real (unpadded) pixels,
   * which is ONNX's count_include_pad = 0; max pooling ignores pads in both.
   */
  pool(kind: 'max' | 'avg', x: Value, a: PoolArgs, base: string): Value {
    const [c, h, w] = x.shape;
    const ph = tfPadding(a.padding, h, a.kernel[0], a.strides[0]);
    const pw = tfPadding(a.padding, w, a.kernel[1], a.strides[1]);
    const attrs: OnnxNode['attrs'] = { kernel_shape: a.kernel, strides: a.strides, pads: [ph.begin, pw.begin, ph.end, pw.end] };
    if (kind === 'avg') attrs.count_include_pad = 0;
    return { name: this.add(kind === 'max' ? 'MaxPool' : 'AveragePool', [x.name], base, attrs), shape: [c, ph.out, pw.out] };
  }

  concat(xs: Value[], base: string): Value {
    const [, h, w] = xs[0].shape;
    if (xs.some((x) => x.shape[1] !== h || x.shape[2] !== w)) throw new UnsupportedOpError(`${base}: Concatenate of maps of different sizes`);
    const c = xs.reduce((s, x) => s + x.shape[0], 0);
    return { name: this.add('Concat', xs.map((x) => x.name), base, { axis: 1 }), shape: [c, h, w] };
  }
}

/** TF conv kernel [kh, kw, Cin, Cout] → ONNX [Cout, Cin, kh, kw]. */
export function convKernelToOnnx(k: Float32Array, kh: number, kw: number, cin: number, cout: number): Float32Array {
  const out = new Float32Array(k.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let i = 0; i < cin; i++)
        for (let o = 0; o < cout; o++) out[((o * cin + i) * kh + y) * kw + x] = k[((y * kw + x) * cin + i) * cout + o];
  return out;
}

/**
 * TF depthwise kernel [kh, kw, C, M] → ONNX grouped conv weight [C·M, 1, kh, kw] with group = C.
 * TF's output channel c·M + m is input channel c times multiplier m, which is the order of ONNX
 * groups (output channel o belongs to group ⌊o/M⌋).
 */
export function depthwiseKernelToOnnx(k: Float32Array, kh: number, kw: number, c: number, m: number): Float32Array {
  // [kh, kw, C, M] read as [kh, kw, 1, C·M]: the conv permutation with one input channel.
  return convKernelToOnnx(k, kh, kw, 1, c * m);
}
