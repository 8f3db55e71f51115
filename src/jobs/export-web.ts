/**
 * `mixhead export --web`: a trained model folder → a static folder a browser can use as is:
 *
 *   index.html, web/app.js    a page that classifies a dropped image
 *   web/browser.js            the browser module (ESM, TF.js only)
 *   preprocess/               the preprocessing it shares with Node
 *   tfjs/tf.fesm.min.js       TF.js itself (no CDN needed), named by the page's import map
 *   model/                    the combined model (images → probabilities)
 *   meta.json                 classes and the whole preprocessing recipe (without the training
 *                             options, which name local paths)
 *
 * For an ONNX backbone (a PyTorch export; docs/backbones.md) there is no combined model: instead
 *
 *   backbone.onnx             the backbone cut and wrapped as predict runs it (NHWC in, maps out)
 *   head/                     the head (maps → probabilities), run by TF.js
 *   ort/                      onnxruntime-web's WebAssembly build (no CDN), named `onnxruntime-web`
 *                             by the page's import map
 *
 * The folder is written beside its destination and renamed into place, so an interrupted export
 * leaves no half folder. See docs/architecture.md ("Preprocessing").
 */
import { promises as fs, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { readMeta, type ModelMeta } from '../train/export.js';
import { OnnxFileBackbone } from '../engine/index.js';
import { ONNX_ID_PREFIX } from '../engine/onnx-file.js';
import { loadRecordedBackbone } from './recorded-backbone.js';
import { field, parseOptions } from '../base/options.js';

/** `exportWeb`'s options (the CLI's `export` flags map onto it: `--web` is `out`). */
export const exportWebOptionsSchema = z
  .object({
    /** Folder written by `mixhead train`. */
    model: field.text(),
    /** Folder to write. */
    out: field.text(),
    /** Replace `out` if it exists. */
    overwrite: field.bool().optional(),
  })
  .strict();
export type ExportWebArgs = z.input<typeof exportWebOptionsSchema>;

export interface ExportWebResult {
  out: string;
  files: string[];
  bytes: number;
}

/**
 * The compiled modules the page runs, relative to the compiled `src/`: the page (web/) and the
 * preprocessing it shares with Node (preprocess/). The export keeps these relative paths, so the
 * modules' own imports resolve unchanged.
 */
export const WEB_MODULES = ['preprocess/index.js', 'preprocess/spec.js', 'preprocess/temperature.js', 'web/browser.js', 'web/app.js', 'web/onnx-browser.js'];

/** onnxruntime-web's files an ONNX export ships: the WebAssembly-only ESM build and its runtime. */
export const ORT_WEB_FILES = ['ort.wasm.min.mjs', 'ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.wasm'];
const MODULES = WEB_MODULES;

/** Where the compiled `src/` is: above this file in dist/, or dist/src when run from source. */
export function webModuleDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.join(here, '..'), path.join(here, '..', '..', 'dist', 'src')];
  const found = candidates.find((d) => MODULES.every((m) => existsSync(path.join(d, m))));
  if (!found) throw new Error(`the compiled browser modules are missing (looked in ${candidates.join(', ')}): run npm run build`);
  return found;
}

function page(title: string, onnx: boolean): string {
  const esc = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<script type="importmap">{ "imports": { "@tensorflow/tfjs": "./tfjs/tf.fesm.min.js"${onnx ? ', "onnxruntime-web": "./ort/ort.wasm.min.mjs"' : ''} } }</script>
<style>
  body { font: 16px system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem; }
  #drop { border: 2px dashed #888; border-radius: 8px; padding: 2rem; text-align: center; }
  #drop.over { border-color: #06c; background: #eef5ff; }
  #preview { max-width: 100%; max-height: 16rem; display: block; margin: 1rem auto; }
</style>
</head>
<body>
<h1>${esc(title)}</h1>
<p id="status">loading the model…</p>
<div id="drop">Drop an image here, or <input id="file" type="file" accept="image/*"></div>
<img id="preview" alt="">
<ol id="result"></ol>
<script type="module" src="./web/app.js"></script>
</body>
</html>
`;
}

async function copyJs(from: string, to: string): Promise<void> {
  const text = await fs.readFile(from, 'utf8');
  await fs.writeFile(to, text.replace(/\n\/\/# sourceMappingURL=.*\s*$/, '\n'));
}

/** The cut ONNX backbone a model was trained with: its bytes, file and fixed batch (if any). */
async function onnxBackboneForWeb(model: string, meta: ModelMeta): Promise<{ bytes: Uint8Array; file: string; batch?: number }> {
  const b = await loadRecordedBackbone(meta.backbone, meta.preprocess, (loaded) => `${model}: its backbone ${meta.backbone.id} now has other weights (sha256 ${loaded.weightsHash.slice(0, 12)}… vs ${meta.backbone.weightsHash.slice(0, 12)}…)`);
  try {
    if (!(b instanceof OnnxFileBackbone)) throw new Error(`${model}: its backbone ${meta.backbone.id} did not load as an ONNX model`);
    return { bytes: b.cutModel, file: b.file, batch: b.session.fixedBatch };
  } finally {
    b.dispose();
  }
}

export async function exportWeb(input: ExportWebArgs): Promise<ExportWebResult> {
  const args = parseOptions(exportWebOptionsSchema, input);
  const meta = await readMeta(args.model);
  const onnx = meta.backbone.kind === 'onnx';
  if (!meta.combined && !onnx) {
    throw new Error(`${args.model}: has no combined model (its backbone is a ${meta.backbone.kind} model); export --web needs a LayersModel or an ONNX backbone`);
  }
  if (meta.preprocess.kernel !== 'triangle') {
    throw new Error(
      `${args.model}: trained on images resized with '${meta.preprocess.kernel}', which a browser cannot reproduce; re-run mixhead precompute and train with this version`,
    );
  }
  const out = path.resolve(args.out);
  if (existsSync(out) && !args.overwrite) throw new Error(`${args.out}: already exists (pass --overwrite to replace it)`);
  const webDir = webModuleDir();
  const tfjs = path.join(path.dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs/package.json')), 'dist', 'tf.fesm.min.js');
  // The ONNX backbone as predict runs it (its file checked against the recorded sha256), before anything is written.
  const backbone = onnx ? await onnxBackboneForWeb(args.model, meta) : undefined;
  await fs.mkdir(path.dirname(out), { recursive: true });
  const tmp = await fs.mkdtemp(`${out}.partial-`);
  try {
    await fs.mkdir(path.join(tmp, 'tfjs'));
    if (backbone) {
      await fs.writeFile(path.join(tmp, 'backbone.onnx'), backbone.bytes);
      await fs.mkdir(path.join(tmp, 'head'));
      for (const f of await fs.readdir(path.join(args.model, 'head'))) await fs.copyFile(path.join(args.model, 'head', f), path.join(tmp, 'head', f));
      await fs.mkdir(path.join(tmp, 'ort'));
      const ortDir = path.dirname(createRequire(import.meta.url).resolve('onnxruntime-web'));
      for (const f of ORT_WEB_FILES) await fs.copyFile(path.join(ortDir, f), path.join(tmp, 'ort', f));
    } else {
      await fs.mkdir(path.join(tmp, 'model'));
      for (const f of await fs.readdir(path.join(args.model, 'combined'))) {
        await fs.copyFile(path.join(args.model, 'combined', f), path.join(tmp, 'model', f));
      }
    }
    for (const m of MODULES) {
      await fs.mkdir(path.dirname(path.join(tmp, m)), { recursive: true });
      await copyJs(path.join(webDir, m), path.join(tmp, m));
    }
    await fs.copyFile(tfjs, path.join(tmp, 'tfjs', 'tf.fesm.min.js'));
    // Without `training`: its options name local paths, which a public page should not show.
    // The backbone's id names a local path too: the page needs only its kind.
    const { training: _training, ...pub } = meta;
    const shown = backbone ? { ...pub, backbone: { ...pub.backbone, id: `${ONNX_ID_PREFIX}${path.basename(backbone.file)}` }, onnx: { batch: backbone.batch ?? null } } : pub;
    await fs.writeFile(path.join(tmp, 'meta.json'), JSON.stringify(shown, null, 2));
    await fs.writeFile(path.join(tmp, 'index.html'), page(`mixhead: ${meta.classes.slice(0, 4).join(', ')}${meta.classes.length > 4 ? ', …' : ''}`, onnx));
    if (existsSync(out)) await fs.rm(out, { recursive: true, force: true });
    await fs.rename(tmp, out);
  } catch (err) {
    await fs.rm(tmp, { recursive: true, force: true });
    throw err;
  }
  const files: string[] = [];
  let bytes = 0;
  for (const e of await fs.readdir(out, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const p = path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name);
    files.push(path.relative(out, p));
    bytes += (await fs.stat(p)).size;
  }
  return { out, files: files.sort(), bytes };
}
