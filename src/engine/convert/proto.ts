/**
 * Serialises an `OnnxGraph` as an ONNX ModelProto with the ONNX schema compiled for protobufjs
 * (the `onnx-proto` package, schema of ONNX 1.10, IR version 8). Opset 13: Clip and Pad take their
 * bounds as inputs, which is how the emitters write them.
 */
import onnxProto from 'onnx-proto';
import type { OnnxGraph } from './emit.js';

const { onnx } = onnxProto;

export const OPSET = 13;
export const IR_VERSION = 8;

function attribute(name: string, value: number | number[] | string): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof value === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(value) };
  if (Array.isArray(value)) return { name, type: T.INTS, ints: value };
  // Integral values of integer attributes (group, count_include_pad) vs float ones (epsilon, alpha).
  if (name === 'epsilon' || name === 'alpha') return { name, type: T.FLOAT, f: value };
  return { name, type: T.INT, i: value };
}

/** A float32 tensor's value info; a string dimension is symbolic (e.g. `batch`). */
export function valueInfo(name: string, dims: (number | string)[]): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
      },
    },
  };
}

/** The model's bytes. The batch axis is symbolic (`batch`); the spatial size is fixed at conversion. */
export function encodeModel(g: OnnxGraph, docString = ''): Uint8Array {
  if (!g.input || !g.output) throw new Error('ONNX graph has no input or output');
  const DT = onnx.TensorProto.DataType;
  const model: onnxProto.onnx.IModelProto = {
    irVersion: IR_VERSION,
    producerName: 'mixhead',
    docString,
    opsetImport: [{ domain: '', version: OPSET }],
    graph: {
      name: 'backbone',
      node: g.nodes.map((n) => ({
        name: n.name,
        opType: n.op,
        input: n.inputs,
        output: n.outputs,
        attribute: Object.entries(n.attrs).map(([k, v]) => attribute(k, v)),
      })),
      initializer: g.initializers.map((t) => ({
        name: t.name,
        dims: t.dims,
        dataType: t.data instanceof BigInt64Array ? DT.INT64 : DT.FLOAT,
        // raw_data is little-endian, as typed arrays are on every platform Node runs on.
        rawData: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength),
      })),
      input: [valueInfo(g.input.name, ['batch', g.input.size[0], g.input.size[1], g.input.channels])],
      output: [valueInfo(g.output.name, ['batch', ...g.output.shape])],
    },
  };
  return onnx.ModelProto.encode(onnx.ModelProto.fromObject(model)).finish();
}
