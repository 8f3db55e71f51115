/**
 * Which engine runs the frozen backbone: ONNX Runtime (`onnx`, the default when onnxruntime-node
 * loads) or TF.js (`tfjs`, the fallback and the reference the converter is tested against). The
 * head always trains on TF.js. See docs/engine.md.
 */
import * as tf from '@tensorflow/tfjs';
import type { Backbone } from '../backbone/types.js';
import { defaultModelsDir, isOnnxBackbone, loadBackbone, type LoadBackboneArgs } from '../backbone/index.js';
import { OnnxFileBackbone, loadOnnxFileBackbone } from './onnx-file.js';
import { OptionError } from '../base/errors.js';
import { UnsupportedOpError } from './convert/index.js';
import { OnnxBackboneSession, loadOrt, openBackboneSession, type OnnxSessionOptions } from './onnx.js';

export type EngineName = 'onnx' | 'tfjs';
export type EngineChoice = EngineName | 'auto';
export const ENGINES: readonly EngineChoice[] = ['auto', 'onnx', 'tfjs'];

export { OnnxBackboneSession, ensureOnnxModel, onnxModelPath, loadOrt } from './onnx.js';
export { UnsupportedOpError, convertBackbone } from './convert/index.js';
export { OnnxFileBackbone, OnnxModelError, inspectOnnx, loadOnnxFileBackbone, type OnnxInspection, type OnnxCutPoint } from './onnx-file.js';

/**
 * Any backbone: an ONNX file (or a folder holding model.onnx) on its own ONNX Runtime session
 * (onnx-file.ts), anything else by `loadBackbone` (TF.js; `useEngine` may then move it to ONNX
 * Runtime). The one loader for jobs that take whatever `--backbone` names.
 */
export async function openBackbone(args: LoadBackboneArgs = {}): Promise<Backbone> {
  if (await isOnnxBackbone(args.backbone)) {
    if (args.layer) throw new Error(`${args.backbone} is an ONNX model: name its cut with --node, not --layer`);
    return loadOnnxFileBackbone(args.backbone!, { node: args.node, preprocess: args.preprocess, log: args.log });
  }
  return loadBackbone(args);
}

export function parseEngine(text: string, what = '--engine'): EngineChoice {
  if ((ENGINES as readonly string[]).includes(text)) return text as EngineChoice;
  throw new OptionError(`${what} ${text}: use one of ${ENGINES.join(', ')}`);
}

/** The engine asked for: the argument, else `MIXHEAD_ENGINE`, else auto. */
export function requestedEngine(choice?: EngineChoice): EngineChoice {
  return choice ?? (process.env.MIXHEAD_ENGINE ? parseEngine(process.env.MIXHEAD_ENGINE, 'MIXHEAD_ENGINE') : 'auto');
}

/**
 * The engine that will run: `auto` is onnx when onnxruntime-node loads, else tfjs with a notice.
 * An explicit `onnx` that cannot load is an error.
 */
export async function resolveEngine(choice?: EngineChoice, log?: (line: string) => void): Promise<EngineName> {
  const want = requestedEngine(choice);
  if (want === 'tfjs') return 'tfjs';
  const m = await loadOrt();
  if ('error' in m) {
    if (want === 'onnx') throw new Error(`--engine onnx: onnxruntime-node does not load (${m.error})`);
    log?.(`onnxruntime-node does not load (${m.error}); the backbone runs on TF.js`);
    return 'tfjs';
  }
  return 'onnx';
}

const sessions = new WeakMap<Backbone, OnnxBackboneSession>();
/** Backbones left on TF.js (asked for, or not covered by the converter): decided once. */
const onTfjs = new WeakSet<Backbone>();

export interface UseEngineOptions extends OnnxSessionOptions {
  engine?: EngineChoice;
  /** Where converted models are stored (`<modelsDir>/onnx/`); default as `loadBackbone`. */
  modelsDir?: string;
  log?: (line: string) => void;
}

/**
 * Puts `backbone` on the chosen engine and says which one it runs on. For onnx the backbone is
 * converted (or its stored conversion loaded); a layer or op the converter does not cover is one
 * line through `log` and the backbone stays on TF.js. Disposing the backbone closes its session.
 */
export async function useEngine(backbone: Backbone, options: UseEngineOptions = {}): Promise<EngineName> {
  if (backbone instanceof OnnxFileBackbone) {
    // An ONNX file has no TF.js form: it runs on its own session whatever the engine asked for.
    if (requestedEngine(options.engine) === 'tfjs') options.log?.(`${backbone.id} is an ONNX model: it runs on ONNX Runtime (--engine tfjs applies to TF.js backbones)`);
    return 'onnx';
  }
  if (sessions.has(backbone)) return 'onnx';
  if (onTfjs.has(backbone)) return 'tfjs';
  const engine = await resolveEngine(options.engine, options.log);
  if (engine === 'tfjs') {
    onTfjs.add(backbone);
    return 'tfjs';
  }
  let session: OnnxBackboneSession;
  try {
    session = await openBackboneSession(backbone, options.modelsDir ?? defaultModelsDir(), options);
  } catch (err) {
    if (!(err instanceof UnsupportedOpError)) throw err;
    (options.log ?? ((l: string) => process.stderr.write(`${l}\n`)))(`${backbone.id}: ${err.message}; this backbone runs on TF.js`);
    onTfjs.add(backbone);
    return 'tfjs';
  }
  sessions.set(backbone, session);
  const dispose = backbone.dispose.bind(backbone);
  backbone.dispose = () => {
    sessions.delete(backbone);
    void session.close();
    dispose();
  };
  return 'onnx';
}

/** The engine `backbone` runs on. */
export function engineOf(backbone: Backbone): EngineName {
  return sessions.has(backbone) || backbone instanceof OnnxFileBackbone ? 'onnx' : 'tfjs';
}

/** The ONNX session of a backbone on the onnx engine. */
export function sessionOf(backbone: Backbone): OnnxBackboneSession | undefined {
  return backbone instanceof OnnxFileBackbone ? backbone.session : sessions.get(backbone);
}

/**
 * The backbone's maps for `count` preprocessed NHWC images, on whichever engine it runs:
 * count × (product of featureShape) floats.
 */
export async function extractFeatures(backbone: Backbone, pixels: Float32Array, count: number): Promise<Float32Array> {
  if (backbone.extractPixels) return backbone.extractPixels(pixels, count);
  const session = sessions.get(backbone);
  if (session) return session.run(pixels, count);
  const s = backbone.preprocess.size;
  return tf.tidy(() => backbone.extract(tf.tensor4d(pixels, [count, s, s, 3])).dataSync() as Float32Array);
}
