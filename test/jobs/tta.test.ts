/**
 * Test-time augmentation: `eval --tta` averages the probabilities over a cache's views, and
 * `predict --tta` computes the very views precompute cached (the same probabilities from image
 * files as from the cache), with meta.json recording the views the model was trained on.
 */
import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { readdir, readFile } from 'node:fs/promises';
import { tempDir } from '../tmp.js';
import { writeFashionSample } from '../../src/data/fashion.js';
import { precompute } from '../../src/jobs/precompute.js';
import { runPredict } from '../../src/jobs/predict.js';
import { runEval } from '../../src/jobs/eval.js';
import { runTrain } from '../../src/jobs/train.js';
import { CacheReader } from '../../src/cache/reader.js';
import { cacheFeatureSet } from '../../src/train/features.js';
import { predictRows } from '../../src/train/predict.js';
import { loadHead } from '../../src/train/export.js';

describe('test-time augmentation', () => {
  it('eval --tta is the mean over cached views; predict --tta on the files gives the same probabilities', async () => {
    const dir = await tempDir('tta');
    const data = path.join(dir, 'data');
    await writeFashionSample({ out: data, perClass: 2, split: 'train', classes: [0, 1, 8] });
    const cache = path.join(dir, 'cache');
    await precompute({ data, cache, workers: 1, backend: 'wasm', progress: false, engine: 'onnx', views: 3, dtype: 'float32' });
    const model = path.join(dir, 'run');
    await runTrain({ cache, out: model, epochs: 3, batchSize: 3, seed: 1, combined: false, lr: 0.01 });
    const meta = JSON.parse(await readFile(path.join(model, 'meta.json'), 'utf8'));
    expect(meta.views).toEqual({ count: 3, flip: true, scale: [0.35, 1], ratio: [0.75, 4 / 3] });

    // The cached views' probabilities, one view at a time, by row.
    const reader = CacheReader.open(cache);
    const set = cacheFeatureSet(reader, { pooled: false });
    const head = await loadHead(model);
    const k = 3;
    const perView = [0, 1, 2].map((v) => predictRows({ model: head, pooled: false, outputs: 'probabilities', multiLabel: false }, set, k, 4, v));
    head.dispose();
    const mean = perView[0]!.map((_, i) => (perView[0]![i]! + perView[1]![i]! + perView[2]![i]!) / 3);
    const nll = (p: ArrayLike<number>) => -Array.from(set.labelIndex).reduce((s, y, i) => s + Math.log(Math.max(p[i * k + y]!, 1e-12)), 0) / set.size;
    const ids = Array.from({ length: set.size }, (_, i) => reader.idOf(i));
    await reader.close();
    // The views differ, so averaging changes the probabilities.
    expect(Math.max(...perView[0]!.map((p, i) => Math.abs(p - mean[i]!)))).toBeGreaterThan(1e-4);

    const plain = await runEval({ model, cache });
    const tta = await runEval({ model, cache, tta: true });
    expect(plain.views).toBe(1);
    expect(tta.views).toBe(3);
    expect(plain.metrics.loss).toBeCloseTo(nll(perView[0]!), 4);
    expect(tta.metrics.loss).toBeCloseTo(nll(mean), 4);

    // predict --tta on the image files: each image's probabilities are the mean over its cached views.
    const files = ids.map((id) => path.join(data, id));
    const r = await runPredict({ model, images: files, top: 3, engine: 'onnx', tta: true });
    r.forEach((p, i) => {
      expect(p.error).toBeUndefined();
      for (const t of p.top) expect(t.probability).toBeCloseTo(mean[i * k + meta.classes.indexOf(t.label)]!, 4);
    });
    // Without --tta, view 0.
    const r0 = await runPredict({ model, images: files.slice(0, 2), top: 3, engine: 'onnx' });
    r0.forEach((p, i) => {
      for (const t of p.top) expect(t.probability).toBeCloseTo(perView[0]![i * k + meta.classes.indexOf(t.label)]!, 4);
    });

    // A cache of one view cannot be averaged over.
    const one = path.join(dir, 'one');
    await precompute({ data, cache: one, workers: 1, backend: 'wasm', progress: false, engine: 'onnx' });
    await expect(runEval({ model, cache: one, tta: true })).rejects.toThrow(/holds one view per image: --tta/);
    expect((await readdir(model)).includes('meta.json')).toBe(true);
  });
});
