/**
 * The frozen backbone on ONNX Runtime (onnxruntime-node). The backbone is converted once
 * (src/engine/convert) and the model stored under `<models>/onnx/`, keyed by the backbone's weights
 * hash and by what else shapes the graph (cut, input size, converter version); later runs load the
 * stored file. Sessions use all cores for intra-op parallelism (one session replaces the TF.js
 * worker pool). See docs/engine.md.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type * as Ort from 'onnxruntime-node';
import type { Backbone } from '../backbone/types.js';
import { writeFileAtomic } from '../base/fs.js';
import { CONVERTER_VERSION, convertBackbone } from './convert/index.js';

type OrtModule = typeof Ort;
let ort: Promise<OrtModule | { error: string }> | undefined;

/** onnxruntime-node, or why it did not load (a missing or broken native binary). */
export function loadOrt(): Promise<OrtModule | { error: string }> {
  ort ??= import('onnxruntime-node').then(
    (m) => ((m as unknown as { default?: OrtModule }).default ?? m) as OrtModule,
    (err: unknown) => ({ error: String((err as Error)?.message ?? err).split('\n')[0] }),
  );
  return ort;
}

export function ortVersion(m: OrtModule): string {
  return m.env.versions?.node ?? m.env.versions?.common ?? '?';
}

/** The stored model's path: `<modelsDir>/onnx/<weightsHash>-<cut, size, converter version>.onnx`. */
export function onnxModelPath(backbone: Backbone, modelsDir: string): string {
  const variant = createHash('sha256').update(JSON.stringify([backbone.cut, backbone.preprocess.size, CONVERTER_VERSION])).digest('hex').slice(0, 12);
  return path.join(modelsDir, 'onnx', `${backbone.weightsHash}-${variant}.onnx`);
}

/**
 * The backbone's ONNX model file, converted and written (atomically) when it is not stored yet.
 * @throws UnsupportedOpError when the backbone has a layer or op the converter does not cover.
 */
export async function ensureOnnxModel(backbone: Backbone, modelsDir: string): Promise<{ file: string; converted: boolean }> {
  const file = onnxModelPath(backbone, modelsDir);
  const exists = await fs.stat(file).then((s) => s.size > 0, () => false);
  if (exists) return { file, converted: false };
  const bytes = convertBackbone(backbone);
  await fs.mkdir(path.dirname(file), { recursive: true });
  await writeFileAtomic(file, bytes);
  return { file, converted: true };
}

/**
 * A session on the backbone's stored ONNX model, converting it first when needed. A stored file that
 * ONNX Runtime refuses (damaged on disk) is converted again once, with a line through `log`.
 */
export async function openBackboneSession(backbone: Backbone, modelsDir: string, options: OnnxSessionOptions & { log?: (line: string) => void } = {}): Promise<OnnxBackboneSession> {
  const featureSize = backbone.featureShape.reduce((a, b) => a * b, 1);
  const { file, converted } = await ensureOnnxModel(backbone, modelsDir);
  try {
    return await OnnxBackboneSession.create(file, backbone.preprocess.size, featureSize, options);
  } catch (err) {
    if (converted || /does not load/.test((err as Error).message)) throw err;
    options.log?.(`${file}: ONNX Runtime refused the stored model (${String((err as Error).message).split('\n')[0].slice(0, 120)}); converting again`);
    await fs.rm(file, { force: true });
    const again = await ensureOnnxModel(backbone, modelsDir);
    return OnnxBackboneSession.create(again.file, backbone.preprocess.size, featureSize, options);
  }
}

export interface OnnxSessionOptions {
  /** Intra-op threads; default: the number of cores. */
  threads?: number;
  /**
   * Execution providers in order of preference; default `MIXHEAD_ORT_PROVIDERS` (comma-separated,
   * e.g. `cuda,cpu`) or `cpu`.
   */
  providers?: string[];
  /**
   * Let idle intra-op threads spin-wait for the next parallel section (ONNX Runtime's default).
   * Precompute turns it off: its decode threads share the cores, and it measured 3% faster so.
   */
  spin?: boolean;
}

export function defaultThreads(): number {
  return Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
}

/** One ONNX Runtime session running a converted backbone: NHWC floats in, NHWC maps out. */
export class OnnxBackboneSession {
  /** Images run so far. */
  imagesExtracted = 0;
  private constructor(
    private readonly session: Ort.InferenceSession,
    private readonly ortModule: OrtModule,
    readonly size: number,
    readonly featureSize: number,
    /** `onnxruntime 1.30.0 (cpu, 2 threads)`. */
    readonly description: string,
    /** The model's fixed batch size (often 1, from exports without a dynamic batch axis); undefined: any batch. */
    readonly fixedBatch?: number,
    /** The output's shape for one batch of zeros, when the session was created with featureSize `probe`. */
    readonly outputDims: number[] = [],
  ) {}

  /**
   * A session on a model taking [batch, size, size, 3] floats and giving [batch, featureSize] floats.
   * `fixedBatch`: the model takes only batches of that size; `run` then feeds it in pieces of that
   * size, the last one padded with zeros. `featureSize: 'probe'` runs one batch of zeros to learn it
   * (the output's shape is then `outputDims`).
   */
  static async create(model: string | Uint8Array, size: number, featureSize: number | 'probe', options: OnnxSessionOptions = {}, fixedBatch?: number): Promise<OnnxBackboneSession> {
    const m = await loadOrt();
    if ('error' in m) throw new Error(`onnxruntime-node does not load: ${m.error}`);
    const threads = options.threads ?? defaultThreads();
    const providers = options.providers ?? (process.env.MIXHEAD_ORT_PROVIDERS ?? 'cpu').split(',').map((s) => s.trim()).filter(Boolean);
    const opts: Ort.InferenceSession.SessionOptions = {
      executionProviders: providers,
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      executionMode: 'sequential',
      // Idle intra-op threads spin by default; beside other busy threads that only burns their cores.
      ...(options.spin === false ? { extra: { session: { intra_op: { allow_spinning: '0' } } } } : {}),
    };
    const session = typeof model === 'string' ? await m.InferenceSession.create(model, opts) : await m.InferenceSession.create(model, opts);
    const description = `onnxruntime ${ortVersion(m)} (${providers.join('+')}, ${threads} threads)`;
    if (featureSize !== 'probe') return new OnnxBackboneSession(session, m, size, featureSize, description, fixedBatch);
    const n = fixedBatch ?? 1;
    let dims: number[];
    try {
      const x = new m.Tensor('float32', new Float32Array(n * size * size * 3), [n, size, size, 3]);
      const y = (await session.run({ [session.inputNames[0]]: x }))[session.outputNames[0]];
      dims = y.dims.map(Number);
      x.dispose();
      y.dispose();
    } catch (err) {
      await session.release();
      throw err;
    }
    return new OnnxBackboneSession(session, m, size, dims.slice(1).reduce((a, b) => a * b, 1), description, fixedBatch, dims);
  }

  /** Runs `count` preprocessed images (count×size×size×3 floats, NHWC); resolves with count×featureSize floats. */
  async run(pixels: Float32Array, count: number): Promise<Float32Array> {
    const s = this.size;
    if (pixels.length !== count * s * s * 3) throw new Error(`ONNX backbone: ${pixels.length} floats is not ${count} images of ${s}×${s}×3`);
    if (this.fixedBatch !== undefined && count !== this.fixedBatch) return this.runPieces(pixels, count, this.fixedBatch);
    return this.runFixed(pixels, count);
  }

  /** Runs a model of fixed batch `b` over `count` images, `b` at a time (the last piece padded with zeros). */
  private async runPieces(pixels: Float32Array, count: number, b: number): Promise<Float32Array> {
    const px = this.size * this.size * 3;
    const out = new Float32Array(count * this.featureSize);
    for (let i = 0; i < count; i += b) {
      const n = Math.min(b, count - i);
      let piece = pixels.subarray(i * px, (i + n) * px);
      if (n < b) {
        const padded = new Float32Array(b * px);
        padded.set(piece);
        piece = padded;
      }
      const maps = await this.runFixed(piece, b);
      out.set(maps.subarray(0, n * this.featureSize), i * this.featureSize);
      this.imagesExtracted -= b - n; // padding is not an image
    }
    return out;
  }

  private async runFixed(pixels: Float32Array, count: number): Promise<Float32Array> {
    const s = this.size;
    const input = new this.ortModule.Tensor('float32', pixels, [count, s, s, 3]);
    const out = await this.session.run({ [this.session.inputNames[0]]: input });
    const data = out[this.session.outputNames[0]].data as Float32Array;
    if (data.length !== count * this.featureSize) throw new Error(`ONNX backbone returned ${data.length} values for ${count} images of ${this.featureSize}`);
    this.imagesExtracted += count;
    input.dispose();
    return data;
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}
