/**
 * Walks a TF.js GraphModel from its input to the cut node and emits ONNX for each node on the way:
 * Conv2D, DepthwiseConv2dNative, _FusedConv2D / FusedDepthwiseConv2dNative (with BiasAdd, Relu,
 * Relu6, LeakyRelu), BiasAdd, FusedBatchNorm(V3) (folded into the convolution before it), Add /
 * AddV2 / AddN, Relu, Relu6, LeakyRelu, Sigmoid, Tanh, Pad / PadV2, MaxPool, AvgPool, ConcatV2,
 * Identity. Constants are read from the weights; any other op is an `UnsupportedOpError` naming
 * the node and its op.
 */
import * as tf from '@tensorflow/tfjs';
import { OnnxGraph, UnsupportedOpError, convKernelToOnnx, depthwiseKernelToOnnx, type PadMode, type Value } from './emit.js';
import { emitBatchNorm } from './batchnorm.js';

interface AttrValue {
  s?: string;
  i?: string | number;
  f?: number;
  b?: boolean;
  list?: { i?: (string | number)[]; s?: string[]; f?: number[] };
}

interface GraphNode {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, AttrValue>;
}

interface Constant {
  data: Float32Array | Int32Array;
  shape: number[];
}

type Item = { value: Value } | { constant: Constant };

const PASS_THROUGH = new Set(['Identity', 'StopGradient', 'Snapshot', 'IdentityN']);

function ref(input: string): { node: string; index: number; control: boolean } {
  const control = input.startsWith('^');
  const m = /^(.*?)(?::(\d+))?$/.exec(input.replace(/^\^/, ''))!;
  return { node: m[1], index: m[2] ? Number(m[2]) : 0, control };
}

const str = (a: AttrValue | undefined) => (a?.s != null ? Buffer.from(a.s, 'base64').toString('latin1') : undefined);
const ints = (a: AttrValue | undefined) => a?.list?.i?.map(Number);

export class GraphWalker {
  private readonly g = new OnnxGraph();
  private readonly nodes = new Map<string, GraphNode>();
  private readonly items = new Map<string, Item>();
  private readonly consumers = new Map<string, number>();
  private readonly weights: tf.NamedTensorMap;

  constructor(artifacts: tf.io.ModelArtifacts) {
    const topo = artifacts.modelTopology as { node?: GraphNode[] } | undefined;
    for (const n of topo?.node ?? []) this.nodes.set(n.name, n);
    this.weights = tf.io.decodeWeights(artifacts.weightData!, artifacts.weightSpecs ?? []);
  }

  /** Converts the subgraph that computes `cut`, with the input fixed at `size`. */
  convert(cut: string, size: [number, number]): OnnxGraph {
    try {
      if (!this.nodes.has(cut)) throw new Error(`node "${cut}" is not in the graph`);
      const order = this.order(cut);
      for (const n of order) {
        for (const i of n.input ?? []) {
          const r = ref(i);
          if (!r.control) this.consumers.set(r.node, (this.consumers.get(r.node) ?? 0) + 1);
        }
      }
      for (const n of order) this.items.set(n.name, this.node(n, size));
      const out = this.items.get(cut)!;
      if (!('value' in out)) throw new UnsupportedOpError(`the ONNX converter needs a cut on an activation; node "${cut}" is a constant`);
      this.g.setOutput(out.value, 'features');
      return this.g;
    } finally {
      tf.dispose(Object.values(this.weights));
    }
  }

  /** The nodes `cut` depends on, inputs first (control inputs ignored). */
  private order(cut: string): GraphNode[] {
    const out: GraphNode[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const stack: { name: string; next: number }[] = [{ name: cut, next: 0 }];
    while (stack.length) {
      const top = stack[stack.length - 1];
      const node = this.nodes.get(top.name);
      if (!node) throw new Error(`the graph names an input "${top.name}" that it does not define`);
      state.set(top.name, 'open');
      const inputs = (node.input ?? []).map(ref).filter((r) => !r.control);
      if (top.next < inputs.length) {
        const r = inputs[top.next++];
        if (!state.has(r.node)) stack.push({ name: r.node, next: 0 });
        else if (state.get(r.node) === 'open') throw new UnsupportedOpError(`the ONNX converter does not cover cycles (at node "${r.node}")`);
        continue;
      }
      stack.pop();
      state.set(top.name, 'done');
      out.push(node);
    }
    return out;
  }

  private unsupported(n: GraphNode, why = ''): UnsupportedOpError {
    return new UnsupportedOpError(`the ONNX converter does not cover node "${n.name}" (op ${n.op}${why ? `, ${why}` : ''})`);
  }

  private inputs(n: GraphNode): Item[] {
    return (n.input ?? [])
      .map(ref)
      .filter((r) => !r.control)
      .map((r) => {
        const item = this.items.get(r.node)!;
        if (r.index !== 0) throw this.unsupported(n, `reads output ${r.index} of "${r.node}"`);
        return item;
      });
  }

  private value(n: GraphNode, item: Item | undefined): Value {
    if (!item || !('value' in item)) throw this.unsupported(n, 'a constant where an activation was expected');
    return item.value;
  }

  private constant(n: GraphNode, item: Item | undefined): Constant {
    if (!item || !('constant' in item)) throw this.unsupported(n, 'a computed tensor where a constant was expected');
    return item.constant;
  }

  private sole(n: GraphNode): boolean {
    const first = (n.input ?? []).map(ref).find((r) => !r.control);
    return first != null && this.consumers.get(first.node) === 1;
  }

  private checkNhwc(n: GraphNode): void {
    const f = str(n.attr?.data_format);
    if (f != null && f !== 'NHWC') throw this.unsupported(n, `data_format ${f}`);
  }

  private spatial(n: GraphNode, attr: string, fallback: number): [number, number] {
    const v = ints(n.attr?.[attr]);
    if (!v) return [fallback, fallback];
    if (v.length !== 4 || v[0] !== 1 || v[3] !== 1) throw this.unsupported(n, `${attr} ${JSON.stringify(v)} over batch or channels`);
    return [v[1], v[2]];
  }

  private padding(n: GraphNode): PadMode | { top: number; bottom: number; left: number; right: number } {
    const p = str(n.attr?.padding);
    if (p === 'SAME') return 'same';
    if (p === 'VALID') return 'valid';
    if (p === 'EXPLICIT') {
      const e = ints(n.attr?.explicit_paddings) ?? [];
      if (e.length !== 8 || e[0] || e[1] || e[6] || e[7]) throw this.unsupported(n, 'explicit padding of batch or channels');
      return { top: e[2], bottom: e[3], left: e[4], right: e[5] };
    }
    throw this.unsupported(n, `padding ${p}`);
  }

  private conv(n: GraphNode, depthwise: boolean, x: Value, filter: Constant): Value {
    this.checkNhwc(n);
    const [kh, kw, cin, m] = filter.shape;
    if (filter.shape.length !== 4 || cin !== x.shape[0]) throw this.unsupported(n, `filter ${JSON.stringify(filter.shape)} on ${x.shape[0]} channels`);
    const f = Float32Array.from(filter.data);
    return this.g.conv(
      x,
      {
        weight: depthwise ? depthwiseKernelToOnnx(f, kh, kw, cin, m) : convKernelToOnnx(f, kh, kw, cin, m),
        outChannels: depthwise ? cin * m : m,
        kernel: [kh, kw],
        strides: this.spatial(n, 'strides', 1),
        dilations: this.spatial(n, 'dilations', 1),
        padding: this.padding(n),
        group: depthwise ? cin : 1,
      },
      n.name,
    );
  }

  private activation(n: GraphNode, op: string, x: Value, base: string): Value {
    switch (op) {
      case 'Relu':
        return this.g.relu(x, base);
      case 'Relu6':
        return this.g.clip(x, 0, 6, base);
      case 'LeakyRelu':
        return this.g.leakyRelu(x, n.attr?.alpha?.f ?? n.attr?.leakyrelu_alpha?.f ?? 0.2, base);
      case 'Sigmoid':
        return this.g.unary('Sigmoid', x, base);
      case 'Tanh':
        return this.g.unary('Tanh', x, base);
      default:
        throw this.unsupported(n, `fused ${op}`);
    }
  }

  private node(n: GraphNode, size: [number, number]): Item {
    if (n.op === 'Const') {
      const t = this.weights[n.name];
      if (!t) throw this.unsupported(n, 'no weights stored for it');
      return { constant: { data: t.dataSync() as Float32Array | Int32Array, shape: t.shape } };
    }
    if (n.op === 'Placeholder') {
      const dims = n.attr?.shape as unknown as { shape?: { dim?: { size: string }[] } } | undefined;
      const c = Number(dims?.shape?.dim?.[3]?.size ?? 3);
      return { value: this.g.addInput(n.name, size[0], size[1], c > 0 ? c : 3) };
    }
    const ins = this.inputs(n);
    if (PASS_THROUGH.has(n.op)) {
      if (ins.length !== 1) throw this.unsupported(n, `${ins.length} inputs`);
      return ins[0];
    }
    const x = () => this.value(n, ins[0]);
    switch (n.op) {
      case 'Conv2D':
        return { value: this.conv(n, false, x(), this.constant(n, ins[1])) };
      case 'DepthwiseConv2dNative':
        return { value: this.conv(n, true, x(), this.constant(n, ins[1])) };
      case '_FusedConv2D':
      case 'FusedDepthwiseConv2dNative': {
        const ops = (n.attr?.fused_ops?.list?.s ?? []).map((s) => Buffer.from(s, 'base64').toString('latin1'));
        let y = this.conv(n, n.op !== '_FusedConv2D', x(), this.constant(n, ins[1]));
        let extra = 2;
        for (const op of ops) {
          if (op === 'BiasAdd') y = this.g.biasAdd(y, Float32Array.from(this.constant(n, ins[extra++]).data), `${n.name}/bias`);
          else if (op === 'FusedBatchNorm') {
            const [scale, offset, mean, variance] = [0, 1, 2, 3].map((k) => Float32Array.from(this.constant(n, ins[extra + k]).data));
            extra += 4;
            y = emitBatchNorm(this.g, y, { gamma: scale, beta: offset, mean, variance, epsilon: n.attr?.epsilon?.f ?? 1e-3 }, true, `${n.name}/bn`);
          } else y = this.activation(n, op, y, `${n.name}/${op}`);
        }
        return { value: y };
      }
      case 'BiasAdd':
        this.checkNhwc(n);
        return { value: this.g.biasAdd(x(), Float32Array.from(this.constant(n, ins[1]).data), n.name) };
      case 'FusedBatchNorm':
      case 'FusedBatchNormV3': {
        this.checkNhwc(n);
        const [scale, offset, mean, variance] = [1, 2, 3, 4].map((k) => Float32Array.from(this.constant(n, ins[k]).data));
        return { value: emitBatchNorm(this.g, x(), { gamma: scale, beta: offset, mean, variance, epsilon: n.attr?.epsilon?.f ?? 1e-3 }, this.sole(n), n.name) };
      }
      case 'Add':
      case 'AddV2':
      case 'AddN': {
        const consts = ins.filter((i): i is { constant: Constant } => 'constant' in i);
        const values = ins.filter((i): i is { value: Value } => 'value' in i).map((i) => i.value);
        if (consts.length === 1 && values.length === 1 && consts[0].constant.data.length === values[0].shape[0]) {
          return { value: this.g.biasAdd(values[0], Float32Array.from(consts[0].constant.data), n.name) };
        }
        if (consts.length) throw this.unsupported(n, 'adds a constant that is not a per-channel bias');
        return { value: this.g.add2(values, n.name) };
      }
      case 'Relu':
      case 'Relu6':
      case 'LeakyRelu':
      case 'Sigmoid':
      case 'Tanh':
        return { value: this.activation(n, n.op, x(), n.name) };
      case 'Pad':
      case 'PadV2': {
        const p = Array.from(this.constant(n, ins[1]).data);
        if (p.length !== 8 || p[0] || p[1] || p[6] || p[7]) throw this.unsupported(n, 'pads batch or channels');
        if (n.op === 'PadV2' && ins[2] && this.constant(n, ins[2]).data[0] !== 0) throw this.unsupported(n, 'pads with a value other than 0');
        return { value: this.g.pad(x(), { top: p[2], bottom: p[3], left: p[4], right: p[5] }, n.name) };
      }
      case 'MaxPool':
      case 'AvgPool': {
        this.checkNhwc(n);
        const padding = this.padding(n);
        if (typeof padding !== 'string') throw this.unsupported(n, 'explicit padding');
        return { value: this.g.pool(n.op === 'MaxPool' ? 'max' : 'avg', x(), { kernel: this.spatial(n, 'ksize', 1), strides: this.spatial(n, 'strides', 1), padding }, n.name) };
      }
      case 'ConcatV2': {
        const axis = this.constant(n, ins[ins.length - 1]).data[0];
        if (axis !== 3 && axis !== -1) throw this.unsupported(n, `concatenates over axis ${axis}`);
        return { value: this.g.concat(ins.slice(0, -1).map((i) => this.value(n, i)), n.name) };
      }
      default:
        throw this.unsupported(n);
    }
  }
}

/** The ONNX graph of a GraphModel from its input up to `cut`, at input size `size`×`size`. */
export function convertGraphModel(artifacts: tf.io.ModelArtifacts, cut: string, size: number): OnnxGraph {
  return new GraphWalker(artifacts).convert(cut, [size, size]);
}
