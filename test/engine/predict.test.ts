import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { readdir } from 'node:fs/promises';
import { tempDir } from '../tmp.js';
import { writeFashionSample } from '../../src/data/fashion.js';
import { precompute } from '../../src/jobs/precompute.js';
import { runPredict } from '../../src/jobs/predict.js';
import { runTrain } from '../../src/jobs/train.js';
import { maxAbsDiff } from './helpers.js';

describe('predict on either engine', () => {
  it('names the engine that ran and gives the same probabilities on onnx and tfjs (within 1e-4)', async () => {
    const dir = await tempDir('predict-engine');
    const data = path.join(dir, 'data');
    await writeFashionSample({ out: data, perClass: 2, split: 'train', classes: [0, 1, 8] });
    await precompute({ data, cache: path.join(dir, 'cache'), workers: 1, backend: 'wasm', progress: false, engine: 'onnx' });
    await runTrain({ cache: path.join(dir, 'cache'), out: path.join(dir, 'run'), epochs: 2, batchSize: 3, seed: 1, combined: false });
    const images: string[] = [];
    for (const cls of await readdir(data)) for (const f of await readdir(path.join(data, cls))) images.push(path.join(data, cls, f));
    images.sort();
    const probs: Record<string, number[]> = {};
    for (const engine of ['onnx', 'tfjs'] as const) {
      const lines: string[] = [];
      const r = await runPredict({ model: path.join(dir, 'run'), images, top: 3, engine, log: (l) => lines.push(l) });
      expect(lines.some((l) => l.includes(`on engine ${engine}`))).toBe(true);
      expect(r.every((p) => !p.error && p.top.length === 3)).toBe(true);
      probs[engine] = r.flatMap((p) => [...p.top].sort((a, b) => (a.label < b.label ? -1 : 1)).map((t) => t.probability));
    }
    expect(maxAbsDiff(probs.onnx, probs.tfjs)).toBeLessThanOrEqual(1e-4);
  });
});
