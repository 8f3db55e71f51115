/**
 * Any ONNX model as the frozen backbone: `--backbone model.onnx`, or a folder holding `model.onnx`
 * and a `backbone.json` sidecar with its preprocessing (docs/backbones.md). This is how models from
 * the PyTorch world (torchvision, timm, Hugging Face; `torch.onnx.export`) become backbones.
 *
 * The model runs directly on ONNX Runtime (no TF.js form exists): it is cut at `--node` (default:
 * its own output) and wrapped to take NHWC pixels and give H×W×C maps (src/engine/onnx-model.ts).
 * Its identity in a cache header is the sha256 of the file's bytes (read once, for parsing too), so a cache made with another
 * file is refused; the cut is the tensor name, the kind `onnx`.
 */
import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { Backbone, PreprocessSpec } from '../backbone/types.js';
import { resolvePreprocess, preprocessOverridesSchema, type PreprocessOverrides } from '../backbone/preprocess-options.js';
import { ONNX_MODEL_FILE, ONNX_SIDECAR } from '../backbone/onnx-location.js';
import { OnnxBackboneSession, loadOrt, type OnnxSessionOptions } from './onnx.js';
import { LAYOUTS, OnnxModelError, cutModel, cutTensor, exposeAllOutputs, imageInput, nodeOutputs, parseOnnx, type ImageInput, type Layout } from './onnx-model.js';

export { OnnxModelError } from './onnx-model.js';

export const ONNX_ID_PREFIX = 'onnx:';

/** What a `backbone.json` beside `model.onnx` may say: preprocessing, the default cut, layouts. */
export const onnxSidecarSchema = preprocessOverridesSchema
  .innerType()
  .extend({
    /** Default cut: a node or tensor name (`--node` overrides it). */
    node: z.string().min(1, 'use a non-empty string'),
    /** Input layout when the shape cannot tell (both axis 1 and axis 3 of size 3). */
    layout: z.enum(LAYOUTS as unknown as [Layout, ...Layout[]], { errorMap: () => ({ message: `use one of ${LAYOUTS.join(', ')}` }) }),
    /** Layout of the cut tensor; default the input's. */
    outputLayout: z.enum(LAYOUTS as unknown as [Layout, ...Layout[]], { errorMap: () => ({ message: `use one of ${LAYOUTS.join(', ')}` }) }),
    /** Free text (where the model came from). */
    description: z.string(),
  })
  .partial()
  .strict();
export type OnnxSidecar = z.infer<typeof onnxSidecarSchema>;

/** The model file and the sidecar (if any) a `--backbone` value names. */
export async function onnxLocation(spec: string): Promise<{ file: string; sidecar?: string }> {
  const abs = path.resolve(spec);
  const st = await fs.stat(abs).catch(() => undefined);
  if (!st) throw new OnnxModelError(`${spec}: no such file or directory`);
  const file = st.isDirectory() ? path.join(abs, ONNX_MODEL_FILE) : abs;
  const sidecar = path.join(path.dirname(file), ONNX_SIDECAR);
  return { file, sidecar: (await fs.stat(sidecar).then((s) => s.isFile(), () => false)) ? sidecar : undefined };
}

/** Reads and checks a sidecar; each problem on one line naming the file. */
export async function readSidecar(file: string): Promise<OnnxSidecar> {
  let value: unknown;
  try {
    value = JSON.parse(await fs.readFile(file, 'utf8'));
  } catch (err) {
    throw new OnnxModelError(`${file}: not valid JSON (${String((err as Error).message).split('\n')[0]})`);
  }
  const r = onnxSidecarSchema.safeParse(value);
  if (!r.success) throw new OnnxModelError(r.error.issues.map((i) => `${file}: ${i.path.join('.') || '(file)'}: ${i.message}`).join('\n'));
  return r.data;
}

/** ONNX Runtime's refusal (an operator it has no kernel for, a broken graph) as one line. */
function ortRefusal(file: string, err: unknown): OnnxModelError {
  const text = String((err as Error)?.message ?? err).replace(/\s+/g, ' ').trim();
  return new OnnxModelError(`${file}: ONNX Runtime cannot run this model: ${text.slice(0, 300)}`);
}

/** The input side: the model's fixed one, or the one asked for (which must then agree). */
function inputSize(file: string, input: ImageInput, asked: number | undefined): number {
  const { height: h, width: w } = input;
  if (h !== undefined && w !== undefined && h !== w) throw new OnnxModelError(`${file}: input ${input.name} is ${h}×${w}; mixhead feeds square images (export it with a square input, or dynamic height and width and --size)`);
  const fixed = h ?? w;
  if (asked !== undefined && fixed !== undefined && asked !== fixed) throw new OnnxModelError(`${file}: input ${input.name} is fixed at ${fixed}×${fixed}; --size ${asked} does not fit it (export with dynamic height and width to choose the size)`);
  const size = asked ?? fixed;
  if (size === undefined) throw new OnnxModelError(`${file}: input ${input.name} has a dynamic size; give --size (e.g. 224)`);
  return size;
}

export interface OnnxCutPoint {
  node: string;
  op: string;
  tensor: string;
  /** Shape as ONNX Runtime gives it at the input size (NCHW for PyTorch exports). */
  shape: number[];
  /** The same as H×W×C (what the cache would hold). */
  featureShape: number[];
}

export interface OnnxInspection {
  file: string;
  sha256: string;
  input: ImageInput;
  size: number;
  /** The model's own outputs. */
  outputs: string[];
  /** Nodes with a 4-D output, in graph order. */
  cutPoints: OnnxCutPoint[];
  /** Every tensor's shape at the input size (batch 1 unless fixed otherwise). */
  shapes: Record<string, number[]>;
}

const mapShape = (dims: number[], layout: Layout): number[] => (layout === 'NCHW' ? [dims[2], dims[3], dims[1]] : [dims[1], dims[2], dims[3]]);

/**
 * Every node with a 4-D output and its shape at the input size: the model with every tensor as an
 * output, run once on zeros (`mixhead backbones --inspect`).
 */
export async function inspectOnnx(spec: string, options: { size?: number; layout?: Layout } = {}): Promise<OnnxInspection> {
  const { file, sidecar } = await onnxLocation(spec);
  const side = sidecar ? await readSidecar(sidecar) : {};
  const bytes = await readModel(file);
  const model = parseOnnx(bytes, file);
  const input = imageInput(model, file, options.layout ?? side.layout);
  const size = inputSize(file, input, options.size ?? side.size);
  const m = await ortModule();
  let session;
  try {
    session = await m.InferenceSession.create(exposeAllOutputs(model, input, size), { graphOptimizationLevel: 'disabled' });
  } catch (err) {
    throw ortRefusal(file, err);
  }
  try {
    const dims = input.layout === 'NCHW' ? [input.batch ?? 1, 3, size, size] : [input.batch ?? 1, size, size, 3];
    const x = new m.Tensor('float32', new Float32Array(dims.reduce((a, b) => a * b, 1)), dims);
    let out;
    try {
      out = await session.run({ [input.name]: x });
    } catch (err) {
      throw ortRefusal(file, err);
    }
    const cutPoints: OnnxCutPoint[] = [];
    const shapes: Record<string, number[]> = {};
    for (const [name, t] of Object.entries(out)) shapes[name] = t.dims.map(Number);
    for (const o of nodeOutputs(model)) {
      const t = out[o.tensor];
      if (!t || t.dims.length !== 4 || t.type !== 'float32') continue;
      const shape = t.dims.map(Number);
      cutPoints.push({ ...o, shape, featureShape: mapShape(shape, side.outputLayout ?? input.layout) });
    }
    for (const t of Object.values(out)) t.dispose();
    return { file, sha256: createHash('sha256').update(bytes).digest('hex'), input, size, outputs: (model.graph?.output ?? []).map((o) => o.name ?? '?'), cutPoints, shapes };
  } finally {
    await session.release();
  }
}

/** A cut that is not a 4-D map, naming the last 4-D cut points (or saying there is none). */
function notFourD(file: string, spec: string, where: string, cutPoints: OnnxCutPoint[], dims: number[] | undefined): OnnxModelError {
  const shape = dims ? `${dims.length}-D [${dims.join(', ')}]` : 'not a float tensor';
  if (!cutPoints.length) return new OnnxModelError(`${file}: no node has a 4-D output (${where} is ${shape}): not a convolutional image backbone`);
  const last = cutPoints.slice(-3).map((c) => `${c.node} (${c.featureShape.join('×')})`);
  return new OnnxModelError(`${file}: ${where} is ${shape}, not a 4-D map; cut with --node, e.g. ${last.join(', ')} (mixhead backbones --inspect ${spec} lists all)`);
}

async function readModel(file: string): Promise<Uint8Array> {
  try {
    return await fs.readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new OnnxModelError(`${file}: cannot read (${code === 'ENOENT' ? 'no such file' : code ?? (err as Error).message})`);
  }
}

async function ortModule() {
  const m = await loadOrt();
  if ('error' in m) throw new Error(`ONNX backbones need onnxruntime-node, which does not load: ${m.error}`);
  return m;
}

export interface LoadOnnxArgs {
  /** Cut: a node or tensor name; default the sidecar's, else the model's first output. */
  node?: string;
  /** Preprocessing from the command line or options; they override the sidecar's. */
  preprocess?: PreprocessOverrides;
  /** Notices (no preprocessing given, the engine choice ignored). */
  log?: (line: string) => void;
}

/** A frozen ONNX model cut at one tensor, on its own ONNX Runtime session. */
export class OnnxFileBackbone implements Backbone {
  readonly kind = 'onnx' as const;
  constructor(
    readonly id: string,
    readonly weightsHash: string,
    readonly cut: string,
    readonly preprocess: PreprocessSpec,
    readonly featureShape: number[],
    readonly session: OnnxBackboneSession,
    /** The model file. */
    readonly file: string,
    readonly layout: Layout,
    /** The cut model's bytes (NHWC in, NHWC maps out): what the session runs, and what `export --web` ships. */
    readonly cutModel: Uint8Array,
  ) {}

  /** Preprocessed NHWC floats (count × size × size × 3) → count × H×W×C maps. */
  extractPixels(pixels: Float32Array, count: number): Promise<Float32Array> {
    return this.session.run(pixels, count);
  }

  /** No synchronous TF.js path exists (ONNX Runtime runs asynchronously): extractFeatures uses extractPixels. */
  extract(): tf.Tensor {
    throw new Error(`${this.id} runs on ONNX Runtime only: use extractFeatures (src/engine) or extractPixels`);
  }

  dispose(): void {
    void this.session.close();
  }
}

/**
 * Loads an ONNX backbone: reads the sidecar, hashes and parses the file, checks its input, cuts it,
 * opens a session (which refuses operators ONNX Runtime lacks) and runs zeros once to learn the
 * maps' shape. Every refusal is one OnnxModelError line naming the file.
 */
export async function loadOnnxFileBackbone(spec: string, args: LoadOnnxArgs = {}, session: OnnxSessionOptions = {}): Promise<OnnxFileBackbone> {
  const { file, sidecar } = await onnxLocation(spec);
  const side = sidecar ? await readSidecar(sidecar) : {};
  const { node: sideNode, layout, outputLayout, description: _description, ...sidePre } = side;
  const given = { ...sidePre, ...args.preprocess };
  const bytes = await readModel(file);
  const weightsHash = createHash('sha256').update(bytes).digest('hex');
  const model = parseOnnx(bytes, file);
  const input = imageInput(model, file, layout);
  const pre = resolvePreprocess(given);
  const size = inputSize(file, input, pre.size);
  if (pre.range === undefined && pre.mean === undefined && pre.std === undefined) {
    args.log?.(`${file}: no preprocessing given (--normalize, --range, --mean/--std or ${ONNX_SIDECAR}): pixels go in as [0, 1]; torchvision and timm models want --normalize imagenet`);
  }
  const preprocess: PreprocessSpec = { size, range: [0, 1], fit: 'cover', ...pre };
  const cutName = args.node ?? sideNode;
  const tensor = cutName ? cutTensor(model, cutName, file) : model.graph?.output?.[0]?.name;
  if (!tensor) throw new OnnxModelError(`${file}: the graph has no output; name a cut with --node`);
  const cut = cutModel(model, { tensor, input, size, outputLayout });
  const where = cutName ? `the cut ${cutName}` : `its output ${tensor}`;
  let s: OnnxBackboneSession;
  try {
    s = await OnnxBackboneSession.create(cut, size, 'probe', session, input.batch);
  } catch (err) {
    if (/onnxruntime-node does not load/.test(String((err as Error)?.message))) throw err;
    // The NHWC wrapper's Transpose refuses a cut that is not 4-D: the inspection (no wrapper) says which.
    const seen = await inspectOnnx(spec, { size, layout: input.layout }).catch(() => undefined);
    if (seen && !seen.cutPoints.some((c) => c.tensor === tensor)) throw notFourD(file, spec, where, seen.cutPoints, seen.shapes[tensor]);
    throw ortRefusal(file, err);
  }
  if (s.outputDims.length !== 4) {
    await s.close();
    const seen = await inspectOnnx(spec, { size, layout: input.layout }).catch(() => undefined);
    throw notFourD(file, spec, where, seen?.cutPoints ?? [], s.outputDims);
  }
  const dims = s.outputDims;
  return new OnnxFileBackbone(`${ONNX_ID_PREFIX}${file}`, weightsHash, tensor, preprocess, dims.slice(1), s, file, input.layout, cut);
}
