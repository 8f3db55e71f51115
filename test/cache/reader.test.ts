import { afterAll, describe, expect, it } from 'vitest';
import { CacheReader, FeatureCache, FeatureCodec, type CacheDtype } from '../../src/cache/index.js';
import { cleanTempDirs, makeEntries, prng, tempDir, testHeader } from './helpers.js';

afterAll(cleanTempDirs);

const SHAPE = [3, 3, 8];
const F = 72;

async function filledCache(dtype: CacheDtype, n = 23, seed = 9) {
  const dir = tempDir();
  const h = testHeader({ featureShape: SHAPE }, dtype);
  const cache = FeatureCache.create(dir, h);
  const entries = makeEntries(prng(seed), n, F, h.classes);
  for (let i = 0; i < n; i += 5) cache.putMany(entries.slice(i, i + 5));
  await cache.close();
  return { dir, entries: new Map(entries.map((e) => [e.key, e])) };
}

// What each dtype may lose, per value, for maps in [0, 6].
const bound: Record<CacheDtype, number> = { float32: 0, float16: 6 * 2 ** -11, uint8: 3 / 255 + 1e-6 };

describe('CacheReader', () => {
  for (const dtype of ['float32', 'float16', 'uint8'] as const) {
    it(`readRows returns what was put (${dtype}, within the codec bound)`, async () => {
      const { dir, entries } = await filledCache(dtype);
      const r = CacheReader.open(dir);
      expect(r.size).toBe(23);
      const order = [5, 0, 22, 5, 13];
      const out = new Float32Array(order.length * F);
      r.readRows(order, out);
      order.forEach((row, k) => {
        const e = entries.get(r.keys[row]!)!;
        expect(r.ids[row]).toBe(e.id);
        expect(r.labelsOf(row)).toEqual(e.labels);
        expect(r.classIndicesOf(row)).toEqual([r.header.classes.indexOf(e.labels[0]!)]);
        let worst = 0;
        for (let j = 0; j < F; j++) worst = Math.max(worst, Math.abs(out[k * F + j]! - e.features[j]!));
        expect(worst).toBeLessThanOrEqual(bound[dtype]);
      });
      expect(() => r.readRows([23], out)).toThrow(/outside 0..22/);
      await r.close();
    });
  }

  it('pooled equals the float64 mean over H and W of the decoded map', async () => {
    const { dir } = await filledCache('float16');
    const r = CacheReader.open(dir);
    const rows = [1, 7, 20];
    const pooled = r.pooled(rows, new Float32Array(rows.length * 8));
    const maps = r.readRows(rows, new Float32Array(rows.length * F));
    const codec = new FeatureCodec('float16');
    expect(codec.dtype).toBe('float16');
    rows.forEach((_, k) => {
      for (let c = 0; c < 8; c++) {
        let s = 0;
        for (let p = 0; p < 9; p++) s += maps[k * F + p * 8 + c]!;
        expect(pooled[k * 8 + c]).toBe(Math.fround(s / 9));
      }
    });
    await r.close();
  });

  it('pooling commutes with mixing: pool(λa + (1−λ)b) = λ·pool(a) + (1−λ)·pool(b)', async () => {
    const { dir } = await filledCache('float32');
    const r = CacheReader.open(dir);
    const maps = r.readRows([2, 3], new Float32Array(2 * F));
    const pooled = r.pooled([2, 3], new Float32Array(16));
    const lam = 0.3;
    for (let c = 0; c < 8; c++) {
      let mixedPooled = 0;
      for (let p = 0; p < 9; p++) mixedPooled += lam * maps[p * 8 + c]! + (1 - lam) * maps[F + p * 8 + c]!;
      expect(lam * pooled[c]! + (1 - lam) * pooled[8 + c]!).toBeCloseTo(mixedPooled / 9, 5);
    }
    await r.close();
  });

  it('batches cover a shuffled order exactly once, in order, with bounded buffers', async () => {
    const { dir } = await filledCache('uint8');
    const r = CacheReader.open(dir);
    const order = Int32Array.from({ length: r.size }, (_, i) => i);
    const rand = prng(4);
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    const seen: number[] = [];
    const buffers = new Set<ArrayBufferLike>();
    const single = new Float32Array(F);
    for await (const b of r.batches(order, 5, { prefetch: 2 })) {
      expect(b.x.length).toBe(b.indices.length * F);
      b.indices.forEach((row, k) => {
        r.readRows([row], single);
        expect(Array.from(b.x.subarray(k * F, (k + 1) * F))).toEqual(Array.from(single));
      });
      seen.push(...b.indices);
      buffers.add(b.x.buffer);
    }
    expect(seen).toEqual(Array.from(order));
    expect(buffers.size).toBe(3); // prefetch + 1 buffers, reused
    let dropped = 0;
    for await (const b of r.batches(order, 5, { dropLast: true, pooled: true })) {
      expect(b.x.length).toBe(5 * 8);
      dropped++;
    }
    expect(dropped).toBe(4);
    await r.close();
  });

  it('loadAll for small caches, refusing beyond maxBytes', async () => {
    const { dir } = await filledCache('float32', 6);
    const r = CacheReader.open(dir);
    const all = r.loadAll();
    expect(all.length).toBe(6 * F);
    expect(Array.from(all.subarray(4 * F, 5 * F))).toEqual(Array.from(r.readRows([4], new Float32Array(F))));
    expect(() => r.loadAll({ maxBytes: 100 })).toThrow(/use batches\(\) or raise maxBytes/);
    await r.close();
  });

  it('opens beside a live writer (no lock) and sees a snapshot', async () => {
    const dir = tempDir();
    const h = testHeader({ featureShape: SHAPE });
    const w = FeatureCache.create(dir, h);
    const entries = makeEntries(prng(8), 4, F, h.classes);
    w.putMany(entries.slice(0, 2));
    const r = CacheReader.open(dir);
    w.putMany(entries.slice(2));
    expect(r.size).toBe(2);
    await r.close();
    await w.close();
  });
});
