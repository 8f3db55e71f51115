/**
 * Whether a `--backbone` value names an ONNX model: a `.onnx` file, or a folder holding
 * `model.onnx` (and optionally the `backbone.json` sidecar). ONNX models are loaded by the engine
 * (src/engine/onnx-file.ts), which runs them on ONNX Runtime; this file only recognises them.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';

export const ONNX_MODEL_FILE = 'model.onnx';
export const ONNX_SIDECAR = 'backbone.json';

/** True when `spec` names an ONNX file or a folder holding `model.onnx`. */
export async function isOnnxBackbone(spec: string | undefined): Promise<boolean> {
  if (!spec) return false;
  if (/\.onnx$/i.test(spec)) return true;
  return fs.stat(path.join(path.resolve(spec), ONNX_MODEL_FILE)).then((s) => s.isFile(), () => false);
}
