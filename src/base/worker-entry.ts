import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * The file piscina should start for the task handler `name` (without extension) in the folder of
 * `importMetaUrl`: `name.js` when built; under tsx or vitest the source is `.ts`, which a worker
 * thread cannot load by itself, so tsx-worker.mjs loads it through tsx, told where by `extra`
 * (to be merged into workerData).
 */
export function workerEntry(importMetaUrl: string, name: string): { filename: string; extra: Record<string, string> } {
  const here = fileURLToPath(importMetaUrl);
  const dir = path.dirname(here);
  if (path.extname(here) !== '.ts') return { filename: path.join(dir, `${name}.js`), extra: {} };
  const tsxApi = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
  const script = pathToFileURL(path.join(dir, `${name}.ts`)).href;
  return { filename: fileURLToPath(new URL('./tsx-worker.mjs', import.meta.url)), extra: { tsxApi, script } };
}
