/**
 * The bundled backbone's identity, remembered beside its converted ONNX model, so that a precompute
 * on ONNX Runtime need not build the TF.js model only to learn what it already knows.
 *
 * Why: once the ONNX file is stored, the TF.js model is loaded only to hash its weights and read its
 * cut's shape (a cache header records both). That load was the largest part of precompute's
 * start-up, 135 ms alone and ~230 ms beside the starting decode threads, out of 0.4 s on a 2.8 s
 * run of 160 photos (docs/engine.md, "Threads and the precompute pipeline").
 *
 * Only the bundled backbone (the default) is remembered: its files are in an installed package, so
 * their sizes and modification times, with the package's version, fingerprint them cheaply. The
 * fingerprint also covers the cut, the preprocessing overrides and the converter version. A missing,
 * unreadable or mismatched record means the full path: load, convert or find the ONNX file, then
 * write the record (atomically).
 */
import { createHash } from 'node:crypto';
import { promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { BUNDLED_CUT, BUNDLED_ID, bundledModelDir } from '../backbone/bundled.js';
import type { LoadBackboneArgs } from '../backbone/index.js';
import type { Backbone } from '../backbone/types.js';
import { writeFileAtomic } from '../base/fs.js';
import { CONVERTER_VERSION } from './convert/index.js';

export type BackboneIdentity = Pick<Backbone, 'id' | 'weightsHash' | 'cut' | 'kind' | 'featureShape' | 'preprocess'>;

interface IdentityRecord {
  fingerprint: string;
  identity: BackboneIdentity;
  /** The ONNX model's file name, in the same folder. */
  model: string;
}

const BUNDLED_FILES = ['model.min.js', 'group1-shard1of1.min.js'];
/** Bump when what loadBundledBackbone makes of the same files and arguments changes (its preprocessing defaults, its id). */
const RECORD_VERSION = 1;

/** The version in the nearest package.json above `dir` (nsfwjs' `exports` hide its package.json from require). */
function packageVersion(dir: string): string | undefined {
  for (let d = dir; path.dirname(d) !== d; d = path.dirname(d)) {
    try {
      return (JSON.parse(readFileSync(path.join(d, 'package.json'), 'utf8')) as { version?: string }).version;
    } catch {
      // not here: one folder up
    }
  }
  return undefined;
}

/** The fingerprint of what the bundled backbone would load with these arguments; undefined for any other backbone. */
export async function bundledFingerprint(args: LoadBackboneArgs): Promise<string | undefined> {
  if ((args.backbone ?? BUNDLED_ID) !== BUNDLED_ID) return undefined;
  try {
    const dir = bundledModelDir();
    const files = await Promise.all(BUNDLED_FILES.map(async (f) => {
      const s = await fs.stat(path.join(dir, f));
      return [f, s.size, s.mtimeMs];
    }));
    const version = packageVersion(dir);
    const key = { record: RECORD_VERSION, converter: CONVERTER_VERSION, version, files, layer: args.layer ?? BUNDLED_CUT, preprocess: args.preprocess ?? {} };
    return createHash('sha256').update(JSON.stringify(key)).digest('hex');
  } catch {
    return undefined; // nsfwjs missing or moved: the full path says so in its own words
  }
}

const recordPath = (modelsDir: string, fingerprint: string) => path.join(modelsDir, 'onnx', `identity-${fingerprint.slice(0, 24)}.json`);

/** The remembered identity and ONNX file for these arguments, when a record exists and its model file does. */
export async function storedIdentity(args: LoadBackboneArgs, modelsDir: string): Promise<{ identity: BackboneIdentity; file: string } | undefined> {
  const fingerprint = await bundledFingerprint(args);
  if (!fingerprint) return undefined;
  try {
    const record = JSON.parse(await fs.readFile(recordPath(modelsDir, fingerprint), 'utf8')) as IdentityRecord;
    const id = record.identity;
    if (record.fingerprint !== fingerprint || typeof id?.weightsHash !== 'string' || !Array.isArray(id.featureShape) || typeof record.model !== 'string') return undefined;
    const file = path.join(modelsDir, 'onnx', path.basename(record.model));
    const ok = await fs.stat(file).then((s) => s.size > 0, () => false);
    return ok ? { identity: id, file } : undefined;
  } catch {
    return undefined;
  }
}

/** Remembers a bundled backbone's identity and ONNX file (other backbones: nothing is written). */
export async function rememberIdentity(args: LoadBackboneArgs, modelsDir: string, identity: BackboneIdentity, file: string): Promise<void> {
  const fingerprint = await bundledFingerprint(args);
  if (!fingerprint) return;
  const record: IdentityRecord = { fingerprint, identity, model: path.basename(file) };
  await writeFileAtomic(recordPath(modelsDir, fingerprint), JSON.stringify(record, null, 1));
}
