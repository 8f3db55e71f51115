/**
 * A small ONNX graph writer for the head's training step and inference graphs (docs/architecture.md,
 * "Training engines"): named float inputs with a symbolic batch axis, ops by name, scalar and int64
 * constants, several outputs. The backbone converter (src/engine/convert) writes one NHWC input and
 * one output; a training step takes and returns every weight and optimizer moment, hence this writer.
 * Serialised with `onnx-proto` (ONNX 1.10 schema), opset 13.
 */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

export const STEP_OPSET = 13;

type Dim = number | string;
type Attr = number | number[] | string | { float: number };

interface Node {
  op: string;
  inputs: string[];
  outputs: string[];
  attrs: Record<string, Attr>;
}

export class StepGraph {
  private readonly nodes: Node[] = [];
  private readonly inits: { name: string; dims: number[]; data: Float32Array | BigInt64Array }[] = [];
  private readonly inputs: { name: string; dims: Dim[] }[] = [];
  private readonly outputs: { name: string; dims: Dim[] }[] = [];
  private count = 0;
  private readonly consts = new Map<string, string>();

  constructor(readonly name: string) {}

  input(name: string, dims: Dim[]): string {
    this.inputs.push({ name, dims });
    return name;
  }

  /**
   * Marks `value` as the graph output `name`. A value made by a node is renamed (an Identity would
   * copy it: measured 9% of an mlp step's node time when every weight and moment went through one);
   * a graph input or constant gets an Identity.
   */
  output(value: string, name: string, dims: Dim[]): void {
    const producer = this.nodes.find((n) => n.outputs.includes(value));
    if (value === name) {
      // already named
    } else if (producer && !this.outputs.some((o) => o.name === value)) {
      for (const n of this.nodes) {
        n.outputs = n.outputs.map((o) => (o === value ? name : o));
        n.inputs = n.inputs.map((i) => (i === value ? name : i));
      }
    } else {
      this.nodes.push({ op: 'Identity', inputs: [value], outputs: [name], attrs: {} });
    }
    this.outputs.push({ name, dims });
  }

  op(op: string, inputs: string[], attrs: Record<string, Attr> = {}): string {
    const out = `${op.toLowerCase()}_${this.count++}`;
    this.nodes.push({ op, inputs, outputs: [out], attrs });
    return out;
  }

  /** A float32 scalar constant (one initializer per distinct value). */
  scalar(v: number): string {
    const key = `f${Math.fround(v)}`;
    let name = this.consts.get(key);
    if (!name) {
      name = `const_${this.count++}`;
      this.inits.push({ name, dims: [], data: Float32Array.of(v) });
      this.consts.set(key, name);
    }
    return name;
  }

  /** An int64 vector constant (shapes, axes). */
  ints(v: number[]): string {
    const key = `i${v.join(',')}`;
    let name = this.consts.get(key);
    if (!name) {
      name = `const_${this.count++}`;
      this.inits.push({ name, dims: [v.length], data: BigInt64Array.from(v.map(BigInt)) });
      this.consts.set(key, name);
    }
    return name;
  }

  // Shorthands for the ops the step graphs use.
  add = (a: string, b: string) => this.op('Add', [a, b]);
  sub = (a: string, b: string) => this.op('Sub', [a, b]);
  mul = (a: string, b: string) => this.op('Mul', [a, b]);
  div = (a: string, b: string) => this.op('Div', [a, b]);
  matmul = (a: string, b: string) => this.op('MatMul', [a, b]);
  /** α·op(A)·op(B) (+ C), with op = transpose when asked. */
  gemm = (a: string, b: string, c: string | null, transA = 0, transB = 0) => this.op('Gemm', c ? [a, b, c] : [a, b], { transA, transB });
  reshape = (x: string, shape: number[]) => this.op('Reshape', [x, this.ints(shape)]);
  /** Sum over `axes`, dropping them (opset 13 takes the axes as an input). */
  sumOver = (x: string, axes: number[], keep = 0) => this.op('ReduceSum', [x, this.ints(axes)], { keepdims: keep });

  encode(): Uint8Array {
    const T = onnx.AttributeProto.AttributeType;
    const DT = onnx.TensorProto.DataType;
    const attribute = (name: string, v: Attr): onnxProto.onnx.IAttributeProto => {
      if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
      if (Array.isArray(v)) return { name, type: T.INTS, ints: v };
      if (typeof v === 'object') return { name, type: T.FLOAT, f: v.float };
      return { name, type: T.INT, i: v };
    };
    const info = (name: string, dims: Dim[]): onnxProto.onnx.IValueInfoProto => ({
      name,
      type: { tensorType: { elemType: DT.FLOAT, shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) } } },
    });
    const model: onnxProto.onnx.IModelProto = {
      irVersion: 8,
      producerName: 'mixhead',
      opsetImport: [{ domain: '', version: STEP_OPSET }],
      graph: {
        name: this.name,
        node: this.nodes.map((n, i) => ({ name: `n${i}`, opType: n.op, input: n.inputs, output: n.outputs, attribute: Object.entries(n.attrs).map(([k, v]) => attribute(k, v)) })),
        initializer: this.inits.map((t) => ({
          name: t.name,
          dims: t.dims,
          dataType: t.data instanceof BigInt64Array ? DT.INT64 : DT.FLOAT,
          rawData: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength),
        })),
        input: this.inputs.map((i) => info(i.name, i.dims)),
        output: this.outputs.map((o) => info(o.name, o.dims)),
      },
    };
    return onnx.ModelProto.encode(onnx.ModelProto.fromObject(model)).finish();
  }
}
