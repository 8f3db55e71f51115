/**
 * What precompute runs images through: one ONNX Runtime session using every core (engine onnx),
 * or the TF.js worker pool, one backbone per worker (engine tfjs). Both take preprocessed NHWC
 * floats and give NHWC maps; both have the `ExtractorPool` interface.
 */
import * as tf from '@tensorflow/tfjs';
import pLimit from 'p-limit';
import { ExtractorPool, type ExtractorPoolArgs, type PoolBackboneInfo } from '../backbone/pool.js';
import { backboneIdentity, defaultModelsDir, loadBackbone } from '../backbone/index.js';
import { isOnnxBackbone } from '../backbone/onnx-location.js';
import { loadOnnxFileBackbone } from './onnx-file.js';
import { UnsupportedOpError } from './convert/index.js';
import { defaultThreads, onnxModelPath, openBackboneSession, OnnxBackboneSession } from './onnx.js';
import { rememberIdentity, storedIdentity } from './identity.js';
import { resolveEngine, type EngineChoice, type EngineName } from './index.js';

export interface ExtractorInfo extends PoolBackboneInfo {
  engine: EngineName;
  /** What runs the backbone, in words: `onnxruntime 1.30.0 (cpu, 2 threads)` or `TF.js wasm, 2 workers`. */
  runtime: string;
}

export interface Extractor {
  readonly info: ExtractorInfo;
  /** Batches it runs at once (workers for TF.js, 1 for ONNX, whose session uses every core). */
  readonly size: number;
  /** Images run through the backbone so far. */
  readonly imagesExtracted: number;
  /** count × size × size × 3 floats (the buffer may be transferred) → count × feature size floats. */
  extract(pixels: Float32Array, count: number): Promise<Float32Array>;
  close(): Promise<void>;
}

export interface StartExtractorArgs extends ExtractorPoolArgs {
  engine?: EngineChoice;
  /** Where converted ONNX models are stored; default as `loadBackbone`. */
  modelsDir?: string;
  log?: (line: string) => void;
}

class OnnxExtractor implements Extractor {
  readonly size = 1;
  // One run at a time: the session already spreads each batch over every core.
  private readonly one = pLimit(1);
  constructor(
    readonly info: ExtractorInfo,
    private readonly session: OnnxBackboneSession,
  ) {}

  get imagesExtracted(): number {
    return this.session.imagesExtracted;
  }

  extract(pixels: Float32Array, count: number): Promise<Float32Array> {
    return this.one(() => this.session.run(pixels, count));
  }

  close(): Promise<void> {
    return this.session.close();
  }
}

class PoolExtractor implements Extractor {
  readonly info: ExtractorInfo;
  constructor(private readonly pool: ExtractorPool) {
    this.info = { ...pool.info, engine: 'tfjs', runtime: `TF.js ${pool.info.backend}, ${pool.size} worker(s)` };
  }
  get size(): number {
    return this.pool.size;
  }
  get imagesExtracted(): number {
    return this.pool.imagesExtracted;
  }
  extract(pixels: Float32Array, count: number): Promise<Float32Array> {
    return this.pool.extract(pixels, count);
  }
  close(): Promise<void> {
    return this.pool.close();
  }
}

/**
 * Starts the engine asked for. For onnx the backbone is loaded here once (TF.js, to convert it or
 * find its stored conversion) and then freed, unless its identity is remembered (identity.ts: the
 * bundled backbone after its first run); a backbone the converter does not cover falls back to
 * the TF.js pool with one line through `log`.
 */
export async function startExtractor(args: StartExtractorArgs): Promise<Extractor> {
  if (await isOnnxBackbone(args.backbone.backbone)) {
    // An ONNX file runs on ONNX Runtime whatever the engine (it has no TF.js form).
    if (args.engine === 'tfjs') args.log?.(`${args.backbone.backbone} is an ONNX model: it runs on ONNX Runtime (--engine tfjs applies to TF.js backbones)`);
    if (args.backbone.layer) throw new Error(`${args.backbone.backbone} is an ONNX model: name its cut with --node, not --layer`);
    const backbone = await loadOnnxFileBackbone(args.backbone.backbone!, { node: args.backbone.node, preprocess: args.backbone.preprocess, log: args.log }, { threads: args.workers ?? defaultThreads(), spin: false });
    const info = { ...backboneIdentity(backbone), backend: args.backend ?? (await processBackend()), engine: 'onnx' as const, runtime: backbone.session.description };
    return new OnnxExtractor(info, backbone.session);
  }
  const engine = await resolveEngine(args.engine, args.log);
  if (engine === 'onnx') {
    const modelsDir = args.modelsDir ?? args.backbone.modelsDir ?? defaultModelsDir();
    const sessionOptions = { threads: args.workers ?? defaultThreads(), log: args.log, spin: false };
    // The bundled backbone's identity, remembered beside its ONNX file: no TF.js model to build (identity.ts).
    const known = await storedIdentity(args.backbone, modelsDir);
    if (known) {
      const featureSize = known.identity.featureShape.reduce((a, b) => a * b, 1);
      const session = await OnnxBackboneSession.create(known.file, known.identity.preprocess.size, featureSize, sessionOptions).catch(() => undefined);
      // A session that does not open (a damaged file) leaves it to the full path below, which converts again.
      if (session) return new OnnxExtractor({ ...known.identity, backend: args.backend ?? (await processBackend()), engine: 'onnx', runtime: session.description }, session);
    }
    const backbone = await loadBackbone(args.backbone);
    try {
      const session = await openBackboneSession(backbone, modelsDir, sessionOptions);
      const identity = backboneIdentity(backbone);
      await rememberIdentity(args.backbone, modelsDir, identity, onnxModelPath(backbone, modelsDir)).catch(() => undefined); // a read-only models folder only costs the shortcut
      return new OnnxExtractor(
        {
          ...identity,
          // The TF.js backend stays what the process selected (it trains the head); the backbone's runtime is ONNX Runtime.
          backend: args.backend ?? (await processBackend()),
          engine: 'onnx',
          runtime: session.description,
        },
        session,
      );
    } catch (err) {
      if (!(err instanceof UnsupportedOpError)) throw err;
      args.log?.(`${backbone.id}: ${err.message}; this backbone runs on TF.js`);
    } finally {
      backbone.dispose();
    }
  }
  return new PoolExtractor(await ExtractorPool.start(args));
}

/** The process's TF.js backend, initialising the best one if none is yet (as loading a model would). */
async function processBackend(): Promise<string> {
  try {
    return tf.getBackend() ?? 'none';
  } catch {
    await tf.ready();
    return tf.getBackend() ?? 'none';
  }
}
