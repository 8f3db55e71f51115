/**
 * The backbone factory: one place that turns an id, a folder, a model.json or a URL into a
 * `Backbone`, and lists what is available.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Backbone, BackboneInfo, BackboneKind, PreprocessSpec } from './types.js';
import { BUNDLED_CUT, BUNDLED_ID, loadBundledBackbone } from './bundled.js';
import { loadLayersBackbone } from './layers.js';
import { loadGraphBackbone } from './graph.js';
import { downloadModel, isDownloaded, verifyDownload } from './download.js';
import { MODEL_JSON, readModelJson } from './io.js';
import { isOnnxBackbone } from './onnx-location.js';
import { resolvePreprocess, type PreprocessOverrides } from './preprocess-options.js';

export * from './types.js';
export { FeatureTap, insertTap, stripTaps, composeModels, reapply, isTap, type TapHook, type TapMixer } from './tap.js';
export { LayersBackbone } from './layers.js';
export { GraphBackbone } from './graph.js';
export { BUNDLED_ID } from './bundled.js';
export { diskSaveHandler, diskLoadHandler } from './io.js';
export { isOnnxBackbone } from './onnx-location.js';
export { NORMALIZE_PRESETS, resolvePreprocess, type PreprocessOverrides } from './preprocess-options.js';

/** The ImageNet MobileNets of @tensorflow-models/mobilenet (GraphModels on TF Hub). */
interface HubModel {
  version: 1 | 2;
  alpha: string;
  url: string;
  featureShape: number[];
}

const HUB = 'https://tfhub.dev/google/imagenet';
export const MOBILENETS: Record<string, HubModel> = {
  'mobilenet-v1-0.25': { version: 1, alpha: '0.25', url: `${HUB}/mobilenet_v1_025_224/classification/1`, featureShape: [7, 7, 256] },
  'mobilenet-v1-0.50': { version: 1, alpha: '0.50', url: `${HUB}/mobilenet_v1_050_224/classification/1`, featureShape: [7, 7, 512] },
  'mobilenet-v1-0.75': { version: 1, alpha: '0.75', url: `${HUB}/mobilenet_v1_075_224/classification/1`, featureShape: [7, 7, 768] },
  'mobilenet-v1-1.0': { version: 1, alpha: '1.00', url: `${HUB}/mobilenet_v1_100_224/classification/1`, featureShape: [7, 7, 1024] },
  'mobilenet-v2-0.50': { version: 2, alpha: '0.50', url: `${HUB}/mobilenet_v2_050_224/classification/2`, featureShape: [7, 7, 1280] },
  'mobilenet-v2-0.75': { version: 2, alpha: '0.75', url: `${HUB}/mobilenet_v2_075_224/classification/2`, featureShape: [7, 7, 1280] },
  'mobilenet-v2-1.0': { version: 2, alpha: '1.00', url: `${HUB}/mobilenet_v2_100_224/classification/2`, featureShape: [7, 7, 1280] },
};

export interface LoadBackboneArgs {
  /** A known id (`mixhead backbones`), a folder or model.json path, an http(s) URL of model.json, or an ONNX file (or a folder holding model.onnx). */
  backbone?: string;
  /** Cut layer for LayersModels. */
  layer?: string;
  /** Cut node for GraphModels and ONNX models (a node or tensor name). */
  node?: string;
  /** Overrides the download URL of a known MobileNet (TF Hub links rot). Also `MIXHEAD_MODEL_URL`. */
  modelUrl?: string;
  /** Where downloaded models live; default `MIXHEAD_MODELS_DIR` or `./models`. */
  modelsDir?: string;
  /** Preprocessing overrides for models that do not declare theirs (size, normalize or range/mean/std, fit). */
  preprocess?: PreprocessOverrides;
  onProgress?: (received: number, total: number | undefined) => void;
  /** Notices (an ONNX model given no preprocessing). */
  log?: (line: string) => void;
}

/** What identifies a backbone's features (what a cache header records of it), without the model. */
export function backboneIdentity(b: Backbone): Pick<Backbone, 'id' | 'weightsHash' | 'cut' | 'kind' | 'featureShape' | 'preprocess'> {
  return { id: b.id, weightsHash: b.weightsHash, cut: b.cut, kind: b.kind, featureShape: b.featureShape, preprocess: b.preprocess };
}

/**
 * How to load again the backbone a cache header or meta.json records: its id without the kind
 * prefix (`layers:`, `graph:`, `onnx:`), its cut as a layer (LayersModel) or a node (GraphModel,
 * ONNX), and the recorded preprocessing.
 */
export function reloadArgs(recorded: { id: string; cut: string; kind: BackboneKind }, preprocess: PreprocessOverrides): LoadBackboneArgs {
  return {
    backbone: recorded.id.replace(/^(layers|graph|onnx):/, ''),
    layer: recorded.kind === 'layers' ? recorded.cut : undefined,
    node: recorded.kind === 'layers' ? undefined : recorded.cut,
    preprocess,
  };
}

export function defaultModelsDir(): string {
  return process.env.MIXHEAD_MODELS_DIR ?? path.resolve('models');
}

function knownIds(): string[] {
  return [BUNDLED_ID, ...Object.keys(MOBILENETS)];
}

/** Normalises `mobilenet-v2` / `mobilenet-v1-1` style ids to the table's spelling. */
function canonicalMobilenet(id: string): string | undefined {
  const m = /^mobilenet-v([12])(?:-([0-9.]+))?$/.exec(id);
  if (!m) return undefined;
  const alpha = m[2] ? Number(m[2]) : 1;
  const key = `mobilenet-v${m[1]}-${alpha === 1 ? '1.0' : alpha.toFixed(2)}`;
  return MOBILENETS[key] ? key : undefined;
}

async function modelFormat(location: string): Promise<'layers' | 'graph'> {
  const file = location.endsWith('.json') ? location : path.join(location, MODEL_JSON);
  const json = await readModelJson(file);
  const topo = json.modelTopology as { node?: unknown; model_config?: unknown; class_name?: unknown };
  if (json.format === 'graph-model' || Array.isArray(topo.node)) return 'graph';
  if (json.format === 'layers-model' || topo.model_config || topo.class_name) return 'layers';
  throw new Error(`${file}: cannot tell whether this is a LayersModel or a GraphModel`);
}

/** Loads a TF.js backbone (ONNX files: `openBackbone` in src/engine/). @throws listing the known ids when the name is neither an id nor a model location. */
export async function loadBackbone(input: LoadBackboneArgs = {}): Promise<Backbone> {
  const spec = input.backbone ?? BUNDLED_ID;
  // ONNX models have no TF.js form: the engine loads them (openBackbone in src/engine/).
  if (await isOnnxBackbone(spec)) throw new Error(`${spec} is an ONNX model: open it with openBackbone (src/engine), which runs it on ONNX Runtime`);
  // A normalisation preset becomes its range, mean and std (preprocess-options.ts).
  const args: Omit<LoadBackboneArgs, 'preprocess'> & { preprocess?: Partial<PreprocessSpec> } = { ...input, preprocess: input.preprocess && resolvePreprocess(input.preprocess) };
  if (spec === BUNDLED_ID) return loadBundledBackbone(args.layer ?? BUNDLED_CUT, args.preprocess);
  const hubId = canonicalMobilenet(spec);
  if (hubId) {
    const modelsDir = args.modelsDir ?? defaultModelsDir();
    const url = args.modelUrl ?? process.env.MIXHEAD_MODEL_URL ?? MOBILENETS[hubId].url;
    const dir = await downloadModel({ id: hubId, url, modelsDir, onProgress: args.onProgress });
    return loadGraphBackbone(dir, args.node, { size: 224, range: [0, 1], fit: 'cover', ...args.preprocess }, hubId);
  }
  if (/^https?:\/\//.test(spec)) {
    // A remote model is downloaded into models/ too, so later runs are offline and hashed alike.
    const id = `url-${Buffer.from(spec).toString('base64url').slice(-24)}`;
    const dir = await downloadModel({ id, url: spec, modelsDir: args.modelsDir ?? defaultModelsDir(), onProgress: args.onProgress });
    return loadLocal(dir, args, spec);
  }
  const local = path.resolve(spec);
  const exists = await fs.stat(local).then(() => true, () => false);
  if (exists) return loadLocal(local, args, spec);
  const inModels = path.join(args.modelsDir ?? defaultModelsDir(), spec);
  if (await isDownloaded(inModels)) return loadLocal(inModels, args, spec);
  throw new Error(`unknown backbone "${spec}": use one of ${knownIds().join(', ')}, a folder or model.json of a TF.js model, an http(s) URL, or an ONNX file`);
}

async function loadLocal(location: string, args: Omit<LoadBackboneArgs, 'preprocess'> & { preprocess?: Partial<PreprocessSpec> }, label: string): Promise<Backbone> {
  await verifyDownload(location.endsWith('.json') ? path.dirname(location) : location);
  const format = await modelFormat(location);
  if (format === 'graph') {
    if (args.layer) throw new Error(`${label} is a GraphModel: name its cut with --node, not --layer`);
    return loadGraphBackbone(location, args.node, args.preprocess, `graph:${label}`);
  }
  if (args.node) throw new Error(`${label} is a LayersModel: name its cut with --layer, not --node`);
  return loadLayersBackbone(location, args.layer, args.preprocess);
}

/**
 * What the bundled backbone is, said plainly wherever it is listed: not an ImageNet classifier but
 * nsfwjs's fine-tuned one, with its weights stored as 8-bit integers.
 */
export const BUNDLED_DESCRIPTION =
  "nsfwjs's MobileNetV2 (Keras, ImageNet start) fine-tuned by nsfwjs on five NSFW classes (Drawing, Hentai, Neutral, Porn, Sexy), weights uint8-quantized; cut at out_relu. Works offline; for other images prefer an ImageNet model (--backbone mobilenet-v2 or an ONNX file, docs/backbones.md)";

/** What `mixhead backbones` prints: the known ids and any model folders found in `modelsDir`. */
export async function listBackbones(modelsDir = defaultModelsDir()): Promise<BackboneInfo[]> {
  const out: BackboneInfo[] = [
    {
      id: BUNDLED_ID,
      description: BUNDLED_DESCRIPTION,
      featureShape: [7, 7, 1280],
      inputSize: 224,
      offline: true,
      where: 'node_modules/nsfwjs',
    },
  ];
  for (const [id, m] of Object.entries(MOBILENETS)) {
    const dir = path.join(modelsDir, id);
    out.push({
      id,
      description: `ImageNet MobileNet v${m.version} α=${m.alpha} (@tensorflow-models/mobilenet GraphModel)`,
      featureShape: m.featureShape,
      inputSize: 224,
      offline: await isDownloaded(dir),
      where: (await isDownloaded(dir)) ? dir : m.url,
    });
  }
  let entries: string[] = [];
  try {
    entries = await fs.readdir(modelsDir);
  } catch {
    entries = [];
  }
  for (const name of entries.sort()) {
    if (MOBILENETS[name] || name.endsWith('.partial') || name === 'onnx') continue;
    const dir = path.join(modelsDir, name);
    if (name.endsWith('.onnx') || (await isOnnxBackbone(dir))) {
      out.push({ id: dir, description: 'ONNX model (runs on ONNX Runtime; mixhead backbones --inspect lists its cut points)', featureShape: [], inputSize: 0, offline: true, where: dir });
      continue;
    }
    if (!(await isDownloaded(dir))) continue;
    let format: string;
    try {
      format = await modelFormat(dir);
    } catch {
      continue;
    }
    out.push({ id: name, description: `${format === 'graph' ? 'GraphModel' : 'LayersModel'} in ${dir}`, featureShape: [], inputSize: 0, offline: true, where: dir });
  }
  return out;
}
