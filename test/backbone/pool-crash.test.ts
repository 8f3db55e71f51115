// Worker threads dying mid-run (the MIXHEAD_TEST_WORKER_CRASH hook in extract-worker.ts): the pool
// replaces the thread and retries the batch once, so a run either finishes with the right features
// or fails with one line; it never hangs (each test is bounded by its timeout) and, through
// precompute, never leaves a partial cache entry.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { ExtractorPool } from '../../src/backbone/pool.js';
import { writeFashionSample } from '../../src/data/fashion.js';
import { precompute } from '../../src/jobs/precompute.js';
import { FeatureCache } from '../../src/cache/index.js';
import { Rng } from '../../src/base/random.js';
import { tempDir } from '../tmp.js';

const SIZE = 224 * 224 * 3;
const FEATURES = 7 * 7 * 1280;

function batch(seed: number, n: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n * SIZE }, () => rng.uniform());
}

function withCrash(mode: string | undefined): void {
  if (mode) process.env.MIXHEAD_TEST_WORKER_CRASH = mode;
  else delete process.env.MIXHEAD_TEST_WORKER_CRASH;
}
afterEach(() => withCrash(undefined));

describe('ExtractorPool when a worker thread dies', () => {
  const inputs = [1, 2, 3, 4].map((s) => batch(s, 1));
  let reference: Float32Array[] = [];

  beforeAll(async () => {
    const pool = await ExtractorPool.start({ backbone: {}, workers: 1, backend: 'wasm' });
    reference = [];
    for (const x of inputs) reference.push(await pool.extract(x, 1));
    expect(pool.workerDeaths).toBe(0);
    await pool.close();
  }, 60_000);

  it.each([
    { how: 'exit', workers: 2 },
    { how: 'throw', workers: 1 },
  ])(
    'a thread that dies ($how, $workers worker(s)) on the 2nd batch: the batch is retried on a fresh thread and every result is right',
    async ({ how, workers }) => {
      withCrash(`${how}:2`);
      const pool = await ExtractorPool.start({ backbone: {}, workers, backend: 'wasm' });
      try {
        const outs = await Promise.all(inputs.map((x) => pool.extract(x, 1)));
        expect(pool.workerDeaths).toBe(1);
        expect(pool.imagesExtracted).toBe(4);
        outs.forEach((o, i) => {
          expect(o.length).toBe(FEATURES);
          let worst = 0;
          for (let k = 0; k < FEATURES; k++) worst = Math.max(worst, Math.abs(o[k]! - reference[i]![k]!));
          expect(worst, `batch ${i}`).toBeLessThan(1e-5);
        });
        // The replacement thread keeps serving.
        expect((await pool.extract(inputs[0]!, 1)).length).toBe(FEATURES);
      } finally {
        await pool.close();
      }
    },
    60_000,
  );

  it('a batch that kills its thread every time fails with one line after one retry', async () => {
    withCrash('exit-from:2');
    const pool = await ExtractorPool.start({ backbone: {}, workers: 1, backend: 'wasm' });
    try {
      expect((await pool.extract(inputs[0]!, 1)).length).toBe(FEATURES);
      const err = await pool.extract(inputs[1]!, 1).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(err?.message).toMatch(/^feature extraction failed: the worker thread died 2 times on the same batch of 1 images \(last: worker exited with code: 70\)/);
      expect(err?.message).not.toContain('\n');
      expect(pool.workerDeaths).toBe(2);
      expect(pool.imagesExtracted).toBe(1);
    } finally {
      await pool.close();
    }
  }, 60_000);
});

describe('precompute when a worker thread dies', () => {
  let data = '';
  let root = '';
  beforeAll(async () => {
    root = await tempDir('pool-crash');
    data = path.join(root, 'data');
    await writeFashionSample({ out: data, perClass: 1, split: 'train' }); // 10 images
  }, 60_000);

  function wholeEntries(cacheDir: string): number {
    const c = FeatureCache.open(cacheDir, { readonly: true });
    try {
      const metas = c.metas();
      for (const m of metas) {
        const f = c.get(m.key)!.features;
        expect(f.length).toBe(FEATURES);
        expect(f.every(Number.isFinite)).toBe(true);
      }
      return metas.length;
    } finally {
      void c.close();
    }
  }

  it('deaths that persist: one-line failure, only whole entries kept, and a rerun completes the rest', async () => {
    withCrash('exit-from:3');
    const cache = path.join(root, 'persistent');
    const err = await precompute({ data, cache, workers: 1, batchSize: 2, backend: 'wasm', engine: 'tfjs', progress: false }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/^feature extraction failed: the worker thread died 2 times/);
    expect(err?.message).not.toContain('\n');
    const kept = wholeEntries(cache);
    expect(kept).toBe(4); // batches 1 and 2
    withCrash(undefined);
    const r = await precompute({ data, cache, workers: 1, batchSize: 2, backend: 'wasm', engine: 'tfjs', progress: false });
    expect(r.reused).toBe(kept);
    expect(r.computed).toBe(10 - kept);
    expect(wholeEntries(cache)).toBe(10);
  }, 120_000);
});
