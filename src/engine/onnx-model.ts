/**
 * Surgery on an ONNX model brought from elsewhere (a PyTorch export, most often): find its image
 * input and its layout, cut the graph at one intermediate tensor, and wrap it so that it takes and
 * gives NHWC floats like every other backbone of mixhead (docs/backbones.md).
 *
 * - The cut: the tensor becomes the graph's only output; nodes it does not depend on are dropped
 *   (walked backwards from the tensor), and so are the initializers only they read. ONNX nodes are
 *   stored in topological order, so the kept ones stay in order.
 * - Layout: an NCHW model gets a Transpose (perm 0,2,3,1 → 0,3,1,2) in front of its input and one
 *   (perm 0,2,3,1) after its cut, so ONNX Runtime does the re-layout natively and the cache gets
 *   H×W×C maps as for every backbone (docs/engine.md, "Layout").
 * - The input's spatial size is fixed to the preprocessing size; a symbolic batch axis stays
 *   symbolic, a fixed one (often 1) stays fixed and the caller runs batches of that size.
 *
 * Everything here is pure (bytes in, bytes out); ONNX Runtime runs the result (src/engine/onnx.ts).
 */
import onnxProto from 'onnx-proto';
import { valueInfo } from './convert/proto.js';

const { onnx } = onnxProto;
type Model = onnxProto.onnx.ModelProto;
type Node = onnxProto.onnx.NodeProto;
type Graph = Omit<onnxProto.onnx.GraphProto, 'node'> & { node: Node[] };

/** The decoded graph: protobufjs fills every repeated field with an array, which its types leave optional. */
const graphOf = (model: Model): Graph => model.graph as Graph;
/** The input tensors a node reads, its subgraphs' (If, Loop, Scan) included. */
const readsOf = (n: onnxProto.onnx.INodeProto): string[] => [
  ...(n.input ?? []),
  ...(n.attribute ?? []).flatMap((a) => [a.g, ...(a.graphs ?? [])].flatMap((sub) => (sub?.node ?? []).flatMap((sn) => sn.input ?? []))),
].filter(Boolean);

/** A model that cannot be a backbone: one line naming the file and the reason. */
export class OnnxModelError extends Error {
  override name = 'OnnxModelError';
}

/** `NCHW` (PyTorch) or `NHWC` (TensorFlow exports). */
export type Layout = 'NCHW' | 'NHWC';
export const LAYOUTS: readonly Layout[] = ['NCHW', 'NHWC'];

/** A dimension: a number, or a symbol (`batch`) / unknown for a dynamic one. */
export type Dim = number | string;

export interface ImageInput {
  name: string;
  dims: Dim[];
  layout: Layout;
  /** The fixed batch size, or undefined when the batch axis is dynamic. */
  batch?: number;
  /** Spatial size when fixed (height, width); undefined entries are dynamic. */
  height?: number;
  width?: number;
}

const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v));

function dimsOf(vi: onnxProto.onnx.IValueInfoProto): Dim[] | undefined {
  const shape = vi.type?.tensorType?.shape;
  if (!shape) return undefined;
  return (shape.dim ?? []).map((d) => (d.dimValue != null && num(d.dimValue) > 0 ? num(d.dimValue) : d.dimParam || '?'));
}

const shown = (dims: Dim[]): string => `[${dims.join(', ')}]`;

/** Parses ONNX bytes. @throws OnnxModelError when they are not a model with a graph. */
export function parseOnnx(bytes: Uint8Array, file: string): Model {
  let model: Model;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (err) {
    throw new OnnxModelError(`${file}: not an ONNX model (it does not parse as an ONNX ModelProto: ${String((err as Error).message).split('\n')[0]})`);
  }
  if (!model.graph || !model.graph.node?.length || !model.graph.input?.length || !model.graph.output?.length) {
    throw new OnnxModelError(`${file}: not an ONNX model (no graph with nodes and an input)`);
  }
  return model;
}

/** The model's inputs that are fed (not initializers, which older exports also list as inputs). */
function fedInputs(model: Model): onnxProto.onnx.IValueInfoProto[] {
  const g = graphOf(model);
  const init = new Set(g.initializer.map((t) => t.name));
  return g.input.filter((i) => !init.has(i.name));
}

/**
 * The image input and its layout: rank 4 with 3 channels, at axis 1 (NCHW) or 3 (NHWC); `layout`
 * decides when both could be 3.
 * @throws OnnxModelError for more than one fed input, another rank, or another channel count.
 */
export function imageInput(model: Model, file: string, layout?: Layout): ImageInput {
  const inputs = fedInputs(model);
  if (inputs.length !== 1) throw new OnnxModelError(`${file}: has ${inputs.length} inputs (${inputs.map((i) => i.name).join(', ')}); a backbone takes one image input`);
  const vi = inputs[0];
  const name = vi.name!;
  const elem = vi.type?.tensorType?.elemType;
  if (elem != null && elem !== onnx.TensorProto.DataType.FLOAT) throw new OnnxModelError(`${file}: input ${name} is not float32 (ONNX element type ${elem}); mixhead feeds float32 pixels`);
  const dims = dimsOf(vi);
  if (!dims) throw new OnnxModelError(`${file}: input ${name} has no shape; re-export it with a 4-D input [batch, 3, H, W]`);
  if (dims.length !== 4) throw new OnnxModelError(`${file}: input ${name} has rank ${dims.length} ${shown(dims)}; an image backbone takes [batch, 3, H, W] (NCHW) or [batch, H, W, 3] (NHWC)`);
  const nchw = dims[1] === 3;
  const nhwc = dims[3] === 3;
  let chosen: Layout;
  if (layout) {
    if ((layout === 'NCHW' && !nchw && typeof dims[1] === 'number') || (layout === 'NHWC' && !nhwc && typeof dims[3] === 'number')) {
      throw new OnnxModelError(`${file}: input ${name} is ${shown(dims)}: not ${layout} with 3 channels`);
    }
    chosen = layout;
  } else if (nchw) chosen = 'NCHW';
  else if (nhwc) chosen = 'NHWC';
  else if (typeof dims[1] === 'string' && typeof dims[3] === 'string') chosen = 'NCHW';
  else throw new OnnxModelError(`${file}: input ${name} is ${shown(dims)}: it has ${dims[1]} channels (NCHW) or ${dims[3]} (NHWC), not 3 (RGB)`);
  const [h, w] = chosen === 'NCHW' ? [dims[2], dims[3]] : [dims[1], dims[2]];
  return {
    name,
    dims,
    layout: chosen,
    batch: typeof dims[0] === 'number' ? dims[0] : undefined,
    height: typeof h === 'number' ? h : undefined,
    width: typeof w === 'number' ? w : undefined,
  };
}

/** Every tensor a node produces, in graph order, with the node's name. */
export function nodeOutputs(model: Model): { node: string; op: string; tensor: string }[] {
  return graphOf(model).node.flatMap((n, i) => n.output.filter(Boolean).map((t) => ({ node: n.name || `${n.opType}_${i}`, op: n.opType ?? '?', tensor: t })));
}

/** Edit distance, for naming the closest cut names to a misspelt one. */
function distance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const t = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = t;
    }
  }
  return prev[b.length];
}

/** The `n` names closest to `wanted` (substring matches first, then by edit distance). */
export function closestNames(wanted: string, names: string[], n = 3): string[] {
  const w = wanted.toLowerCase();
  const uniq = [...new Set(names)];
  const score = (s: string) => (s.toLowerCase().includes(w) || w.includes(s.toLowerCase()) ? -1e6 + Math.abs(s.length - w.length) : distance(w, s.toLowerCase()));
  return uniq.sort((a, b) => score(a) - score(b)).slice(0, n);
}

/**
 * The tensor named by `cut`: a node's output tensor, or a node's name (its first output).
 * @throws OnnxModelError naming the closest names when there is no such node or tensor.
 */
export function cutTensor(model: Model, cut: string, file: string): string {
  const outs = nodeOutputs(model);
  if (outs.some((o) => o.tensor === cut)) return cut;
  const byNode = outs.find((o) => o.node === cut);
  if (byNode) return byNode.tensor;
  const near = closestNames(cut, outs.flatMap((o) => [o.node, o.tensor]));
  throw new OnnxModelError(`${file}: no node or tensor named "${cut}"; closest: ${near.map((s) => `"${s}"`).join(', ')} (mixhead backbones --inspect ${file} lists the cut points)`);
}

/** Names the wrapper adds; a model that already uses them keeps working (they are made unique). */
function freshName(model: Model, base: string): string {
  const g = graphOf(model);
  const taken = new Set([...g.node.flatMap((n) => [...n.input, ...n.output]), ...g.input.map((i) => i.name)]);
  let name = base;
  for (let i = 1; taken.has(name); i++) name = `${base}_${i}`;
  return name;
}

export interface CutOptions {
  /** Tensor to cut at (from `cutTensor`). */
  tensor: string;
  input: ImageInput;
  /** Input side in pixels: fixes the input's spatial axes. */
  size: number;
  /** Layout of the cut tensor; default the input's. */
  outputLayout?: Layout;
}

/** Names of the NHWC input and output of a wrapped model. */
export const NHWC_INPUT = 'mixhead_nhwc_input';
export const NHWC_OUTPUT = 'mixhead_nhwc_output';

/**
 * The model cut at `tensor`, taking [batch, size, size, 3] and giving NHWC maps (see the file
 * header). The batch axis keeps the model's own (fixed or symbolic).
 */
export function cutModel(model: Model, options: CutOptions): Uint8Array {
  const g = graphOf(model);
  const { tensor, input, size } = options;
  const outLayout = options.outputLayout ?? input.layout;
  // Backwards from the cut: the nodes whose outputs it needs (subgraphs of If/Loop included by their outer inputs).
  const producer = new Map<string, number>();
  g.node.forEach((n, i) => n.output.forEach((t) => producer.set(t, i)));
  const keep = new Set<number>();
  const stack = [tensor];
  while (stack.length) {
    const t = stack.pop()!;
    const i = producer.get(t);
    if (i === undefined || keep.has(i)) continue;
    keep.add(i);
    stack.push(...readsOf(g.node[i]));
  }
  const nodes = g.node.filter((_, i) => keep.has(i));
  const used = new Set(nodes.flatMap(readsOf));
  const batch: Dim = input.batch ?? (typeof input.dims[0] === 'string' && input.dims[0] !== '?' ? input.dims[0] : 'batch');
  const newNodes: onnxProto.onnx.INodeProto[] = [];
  let inputName = input.name;
  if (input.layout === 'NCHW') {
    inputName = freshName(model, NHWC_INPUT);
    newNodes.push({ name: 'mixhead_to_nchw', opType: 'Transpose', input: [inputName], output: [input.name], attribute: [{ name: 'perm', type: onnx.AttributeProto.AttributeType.INTS, ints: [0, 3, 1, 2] }] });
  }
  newNodes.push(...nodes);
  let outputName = tensor;
  if (outLayout === 'NCHW') {
    outputName = freshName(model, NHWC_OUTPUT);
    newNodes.push({ name: 'mixhead_to_nhwc', opType: 'Transpose', input: [tensor], output: [outputName], attribute: [{ name: 'perm', type: onnx.AttributeProto.AttributeType.INTS, ints: [0, 2, 3, 1] }] });
  }
  const kept = new Set(newNodes.flatMap((n) => [...(n.input ?? []), ...(n.output ?? [])]));
  const out: onnxProto.onnx.IModelProto = {
    ...model,
    graph: {
      ...g,
      node: newNodes,
      initializer: g.initializer.filter((t) => used.has(t.name ?? '')),
      sparseInitializer: (g.sparseInitializer ?? []).filter((t) => used.has(t.values?.name ?? '')),
      input: [valueInfo(inputName, [batch, size, size, 3])],
      output: [{ name: outputName }],
      valueInfo: g.valueInfo.filter((v) => v.name && kept.has(v.name) && v.name !== input.name),
    },
  };
  return onnx.ModelProto.encode(onnx.ModelProto.fromObject(out)).finish();
}

/**
 * The model with every node output as a graph output and the input at `size` (same layout, batch 1
 * when fixed at 1 or dynamic): ONNX Runtime then reports every tensor's shape from one run on
 * zeros, which is how `mixhead backbones --inspect` finds the cut points.
 */
export function exposeAllOutputs(model: Model, input: ImageInput, size: number): Uint8Array {
  const g = graphOf(model);
  const dims: Dim[] = input.layout === 'NCHW' ? [input.batch ?? 1, 3, size, size] : [input.batch ?? 1, size, size, 3];
  const seen = new Set<string>();
  const outputs = g.node.flatMap((n) => n.output).filter((t) => t && !seen.has(t) && seen.add(t)).map((name) => ({ name }));
  const out: onnxProto.onnx.IModelProto = {
    ...model,
    graph: {
      ...g,
      input: g.input.map((i) => (i.name === input.name ? valueInfo(input.name, dims) : i)),
      output: outputs,
    },
  };
  return onnx.ModelProto.encode(onnx.ModelProto.fromObject(out)).finish();
}
