import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writeFashionSample } from '../../src/data/fashion.js';
import { precompute, inShard, parseShard } from '../../src/jobs/precompute.js';
import { CacheMismatchError, mergeCaches } from '../../src/cache/index.js';
import { Rng } from '../../src/base/random.js';
import { openKilledCache, precomputeChild } from './killed-precompute.js';

let dir = '';
let data = '';
const VALID = 30; // 3 per class
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mixhead-pre-'));
  data = path.join(dir, 'data');
  await writeFashionSample({ out: data, perClass: 3, split: 'train' });
  await writeFile(path.join(data, 'coat', 'broken.png'), Buffer.from('not a png at all'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

function entries(cacheDir: string) {
  const c = openKilledCache(cacheDir);
  if (!c) return { metas: [], decoded: [] };
  const metas = c.metas();
  const decoded = metas.map((m) => c.get(m.key)!.features);
  void c.close();
  return { metas, decoded };
}


// The kill test runs on the engine under test (onnx, or tfjs under `npm run test:tfjs`) to keep
// npm test's time; resume runs on both engines here.
const KILL_ENGINE = process.env.MIXHEAD_ENGINE === 'tfjs' ? 'tfjs' : 'onnx';
describe.each([KILL_ENGINE])('precompute killed on engine %s', (engine) => {
  it('survives SIGKILL at random moments: whole entries only, no duplicates, and the rerun computes only what is missing', async () => {
    const cache = path.join(dir, `killed-${engine}`);
    const rng = new Rng(2024);
    let killed = 0;
    // A run takes ~1.5 s to start and ~2.5 s for the images; kills land anywhere in 0.5–3.5 s, so
    // some hit start-up, some hit a batch being written.
    for (let k = 0; k < 4; k++) {
      const r = await precomputeChild(['--data', data, '--cache', cache, '--workers', '1', '--batch-size', '2', '--engine', engine], 500 + rng.int(3000));
      if (r.signal === 'SIGKILL') killed++;
      const { metas, decoded } = entries(cache);
      expect(new Set(metas.map((m) => m.id)).size).toBe(metas.length);
      expect(decoded.every((f) => f.length === 7 * 7 * 1280 && f.every(Number.isFinite))).toBe(true);
    }
    expect(killed).toBeGreaterThan(0);
    const before = entries(cache).metas.length;
    const final = await precomputeChild(['--data', data, '--cache', cache, '--workers', '1', '--json', '--engine', engine]);
    expect(final.code).toBe(0);
    const r = JSON.parse(final.out);
    expect(r.engine).toBe(engine);
    expect(r.total).toBe(VALID);
    expect(r.backboneImages).toBe(VALID - before);
    expect(r.computed).toBe(VALID - before);
    expect(r.skipped.map((s: { reason: string }) => s.reason)).toEqual([expect.stringMatching(/not an image|cannot decode/)]);
    const { metas } = entries(cache);
    expect(metas).toHaveLength(VALID);
    expect(new Set(metas.map((m) => m.id)).size).toBe(VALID);
  });

});

describe.each(['onnx', 'tfjs'] as const)('precompute on engine %s', (engine) => {
  it('a rerun on a finished cache runs no image through the backbone; a changed file is recomputed, a deleted one dropped', async () => {
    const cache = path.join(dir, `rerun-${engine}`);
    const first = await precompute({ data, cache, workers: 1, backend: 'wasm', progress: false, engine });
    expect(first.computed).toBe(VALID);
    expect(first.engine).toBe(engine);
    expect(first.header.engine).toBe(engine);
    const again = await precompute({ data, cache, workers: 1, backend: 'wasm', progress: false, engine });
    expect(again.backboneImages).toBe(0);
    expect(again.reused).toBe(VALID);
    // Change one file, delete another.
    const changed = path.join(data, 'bag', '8_0.png');
    const sharp = (await import('sharp')).default;
    await sharp({ create: { width: 28, height: 28, channels: 3, background: 'white' } }).png().toFile(changed);
    await unlink(path.join(data, 'bag', '8_1.png'));
    const third = await precompute({ data, cache, workers: 1, backend: 'wasm', progress: false, engine });
    expect(third.backboneImages).toBe(1);
    expect(third.replaced).toBe(1);
    expect(third.removed).toBe(1);
    expect(third.total).toBe(VALID - 1);
    // Put the sample back for the other tests.
    await writeFashionSample({ out: data, perClass: 3, split: 'train', classes: [8] });
    await unlink(changed);
    await writeFashionSample({ out: data, perClass: 3, split: 'train', classes: [8] });
  });

});

describe('precompute', () => {
  it('a cache made by one engine is resumed by the other (the engine is information, not identity), with the same maps within 1e-3', async () => {
    const byTfjs = path.join(dir, 'by-tfjs');
    const byOnnx = path.join(dir, 'by-onnx');
    // Half the dataset on TF.js, then the whole on ONNX into the same cache: only the rest is computed.
    const half = await precompute({ data, cache: byTfjs, workers: 1, backend: 'wasm', progress: false, engine: 'tfjs', dtype: 'float32', shard: { index: 0, count: 2 } });
    const all = await precompute({ data, cache: byTfjs, workers: 1, backend: 'wasm', progress: false, engine: 'onnx', dtype: 'float32' });
    expect(all.engine).toBe('onnx');
    expect(all.header.engine).toBe('tfjs');
    expect(all.reused).toBe(half.total);
    expect(all.computed).toBe(VALID - half.total);
    await precompute({ data, cache: byOnnx, workers: 1, backend: 'wasm', progress: false, engine: 'onnx', dtype: 'float32' });
    const a = entries(byTfjs);
    const b = entries(byOnnx);
    expect(b.metas.map((m) => m.key)).toEqual(a.metas.map((m) => m.key));
    let max = 0;
    a.decoded.forEach((f, i) => f.forEach((v, j) => (max = Math.max(max, Math.abs(v - b.decoded[i][j])))));
    expect(max).toBeLessThanOrEqual(1e-3);
  });

  it('refuses to write into a cache made with other settings, naming the difference', async () => {
    const cache = path.join(dir, 'mismatch');
    await precompute({ data, cache, workers: 1, backend: 'wasm', progress: false, dtype: 'float16' });
    const err = await precompute({ data, cache, workers: 1, backend: 'wasm', progress: false, dtype: 'uint8' }).catch((e) => e);
    expect(err).toBeInstanceOf(CacheMismatchError);
    expect(err.message).toMatch(/dtype/);
    expect(err.message.split('\n')).toHaveLength(1);
  });

  it('shards are disjoint, cover the dataset, and merge into the unsharded cache entry for entry', async () => {
    expect(() => parseShard('3/2')).toThrow(/0 ≤ i < n/);
    const ids = Array.from({ length: 200 }, (_, i) => `c/${i}.png`);
    const counts = [0, 1, 2].map((i) => ids.filter((id) => inShard(id, { index: i, count: 3 })).length);
    expect(counts.reduce((a, b) => a + b)).toBe(200);
    expect(Math.min(...counts)).toBeGreaterThan(40);

    const whole = path.join(dir, 'whole');
    await precompute({ data, cache: whole, workers: 1, backend: 'wasm', progress: false });
    const shards = [0, 1].map((i) => path.join(dir, `shard-${i}`));
    for (let i = 0; i < 2; i++) await precompute({ data, cache: shards[i], workers: 1, backend: 'wasm', progress: false, shard: { index: i, count: 2 } });
    const merged = path.join(dir, 'merged');
    await mergeCaches(merged, shards);
    const a = entries(whole);
    const b = entries(merged);
    expect(b.metas.map((m) => [m.key, m.id, m.labels])).toEqual(a.metas.map((m) => [m.key, m.id, m.labels]));
    b.decoded.forEach((f, i) => expect(f).toEqual(a.decoded[i]));
  });
});
