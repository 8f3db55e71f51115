import { afterAll, describe, expect, it } from 'vitest';
import { CacheMismatchError, FeatureCache, inspectCache, mergeCaches } from '../../src/cache/index.js';
import { cleanTempDirs, makeEntries, prng, tempDir, testHeader } from './helpers.js';

afterAll(cleanTempDirs);

async function cacheWith(h: ReturnType<typeof testHeader>, entries: ReturnType<typeof makeEntries>, skipped: string[] = []) {
  const dir = tempDir();
  const c = FeatureCache.create(dir, h);
  if (entries.length) c.putMany(entries);
  if (skipped.length) c.recordSkipped(skipped.map((s) => ({ source: s, reason: 'corrupt' })));
  await c.close();
  return dir;
}

describe('mergeCaches', () => {
  it('two shards merge into what a single cache would hold, entry for entry', async () => {
    const h = testHeader({}, 'uint8');
    const all = makeEntries(prng(21), 12, 72, h.classes);
    const single = await cacheWith(h, all);
    const shard0 = await cacheWith(h, all.filter((_, i) => i % 2 === 0), ['x.png']);
    // shard 1 also holds one of shard 0's entries (same id, same key): unioned, not duplicated.
    const shard1 = await cacheWith(h, all.filter((_, i) => i % 2 === 1 || i === 4), ['y.png']);
    const out = tempDir();
    const res = await mergeCaches(out, [shard0, shard1]);
    expect(res).toMatchObject({ count: 12, added: [6, 6], skipped: 2 });

    const a = FeatureCache.open(single, { readonly: true });
    const b = FeatureCache.open(out, { readonly: true });
    expect(b.keys()).toEqual(a.keys());
    for (const key of a.keys()) {
      const x = a.get(key)!;
      const y = b.get(key)!;
      expect({ ...y, features: Array.from(y.features) }).toEqual({ ...x, features: Array.from(x.features) });
    }
    expect(b.skipped().map((s) => s.source)).toEqual(['x.png', 'y.png']);
    expect(b.quantizationStats()!.values).toBe(72 * 13);
    await a.close();
    await b.close();

    const info = await inspectCache(out);
    expect(info).toMatchObject({ count: 12, dtype: 'uint8', bytesPerEntry: 72, featureShape: [3, 3, 8], skipped: 2, cut: 'out_relu' });
    expect(info.classes).toEqual([
      { name: 'bag', count: 4 },
      { name: 'shirt', count: 4 },
      { name: 'sneaker', count: 4 },
    ]);
    expect(info.diskBytes).toBeGreaterThan(0);
  });

  it('refuses shards whose headers differ, naming the input and the difference', async () => {
    const s0 = await cacheWith(testHeader(), []);
    const s1 = await cacheWith(testHeader({ preprocess: { size: 192, range: [0, 1], fit: 'cover' } }), []);
    const out = tempDir();
    const err = await mergeCaches(out, [s0, s1]).catch((e: Error) => e);
    expect(err).toBeInstanceOf(CacheMismatchError);
    expect((err as Error).message).toBe(`cannot merge: input ${s1} differs from ${s0}: input size differs: 224 vs 192`);
  });

  it('refuses an id that has different keys in two shards, naming both', async () => {
    const h = testHeader();
    const [e] = makeEntries(prng(22), 1, 72, h.classes);
    const s0 = await cacheWith(h, [e!]);
    const s1 = await cacheWith(h, [{ ...e!, key: 'k-other' }]);
    const out = tempDir();
    await expect(mergeCaches(out, [s0, s1])).rejects.toThrow(`id ${e!.id} has key ${e!.key} in ${s0} but key k-other in ${s1}`);
    expect(() => FeatureCache.open(out, { readonly: true })).toThrow(/no feature cache/); // nothing written
  });
});
