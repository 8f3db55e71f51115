import { afterAll, describe, expect, it } from 'vitest';
import { CacheMismatchError, FeatureCache, inspectCache, mergeCaches, mergeSorted } from '../../src/cache/index.js';
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

describe('mergeSorted (the k-way merge under mergeCaches)', () => {
  it('groups equal keys across streams in ascending order, as sorting the union would', () => {
    const rand = prng(31);
    const streams = Array.from({ length: 9 }, () => {
      const keys = new Set<string>();
      const n = Math.floor(rand() * 40);
      for (let i = 0; i < n; i++) keys.add(`k${Math.floor(rand() * 60).toString().padStart(2, '0')}`);
      return [...keys].sort().map((k) => Buffer.from(k));
    });
    streams.push([]); // an empty input
    const got = [...mergeSorted(streams, (b) => b)].map((g) => ({ key: g[0]!.item.toString(), srcs: g.map((x) => x.src) }));
    const union = [...new Set(streams.flat().map((b) => b.toString()))].sort();
    expect(got.map((g) => g.key)).toEqual(union);
    for (const g of got) {
      const want = streams.flatMap((s, i) => (s.some((b) => b.toString() === g.key) ? [i] : []));
      expect(g.srcs).toEqual(want);
    }
  });

  it('refuses a stream that is not ascending', () => {
    expect(() => [...mergeSorted([[Buffer.from('b'), Buffer.from('a')]], (b) => b)]).toThrow(/not in ascending order/);
  });
});

describe('mergeCaches at scale', () => {
  it('many shards with overlaps merge into the single cache; listing order does not matter', async () => {
    const h = testHeader({}, 'float16');
    const all = makeEntries(prng(41), 300, 72, h.classes);
    const single = await cacheWith(h, all);
    // 7 shards by i mod 7, and every 10th entry also in the next shard (a rerun that overlapped).
    const shards: string[] = [];
    for (let s = 0; s < 7; s++) shards.push(await cacheWith(h, all.filter((_, i) => i % 7 === s || (i % 10 === 0 && (i + 1) % 7 === s))));
    const out = tempDir();
    const res = await mergeCaches(out, [...shards].reverse(), { batchSize: 16 });
    expect(res.count).toBe(300);
    expect(res.added.reduce((a, b) => a + b, 0)).toBe(300);
    await expectSameEntries(out, single);
  });

  it('an interrupted merge is rerun and completes with whole entries only', async () => {
    const h = testHeader({}, 'uint8');
    const all = makeEntries(prng(42), 120, 72, h.classes);
    const single = await cacheWith(h, all);
    const shards = [await cacheWith(h, all.slice(0, 70)), await cacheWith(h, all.slice(70))];
    const out = tempDir();
    let batches = 0;
    const crash = new Error('simulated crash after 3 batches');
    const err = await mergeCaches(out, shards, {
      batchSize: 10,
      onProgress: () => {
        if (++batches === 3) throw crash;
      },
    }).catch((e: unknown) => e);
    expect(err).toBe(crash);
    const partial = FeatureCache.open(out, { readonly: true });
    expect(partial.count).toBe(30); // three whole batches
    await partial.close();
    const res = await mergeCaches(out, shards, { batchSize: 10 });
    // The first run copied the 30 smallest keys (key order); the rerun copies the other 90.
    const firstThirty = all.map((e, i) => ({ key: e.key, shard: i < 70 ? 0 : 1 })).sort((x, y) => Buffer.compare(Buffer.from(x.key), Buffer.from(y.key))).slice(0, 30);
    const done0 = firstThirty.filter((x) => x.shard === 0).length;
    expect(res).toMatchObject({ count: 120, added: [70 - done0, 50 - (30 - done0)] });
    await expectSameEntries(out, single);
    // A third run finds nothing to do.
    expect((await mergeCaches(out, shards)).added).toEqual([0, 0]);
  });

  it('names the shard whose header differs, among many', async () => {
    const h = testHeader();
    const ok = [await cacheWith(h, []), await cacheWith(h, [])];
    const odd = await cacheWith(testHeader({ classes: ['bag', 'shirt', 'sandal'] }), []);
    const err = await mergeCaches(tempDir(), [...ok, odd]).catch((e: Error) => e);
    expect(err).toBeInstanceOf(CacheMismatchError);
    expect((err as CacheMismatchError).dir).toBe(odd);
    expect((err as Error).message).toBe(`cannot merge: input ${odd} differs from ${ok[0]}: class vocabulary differs: missing 'sneaker', extra 'sandal'`);
  });

  it('refuses a key that holds two ids, an output that disagrees, and the output as an input', async () => {
    const h = testHeader();
    const [e] = makeEntries(prng(43), 1, 72, h.classes);
    const s0 = await cacheWith(h, [e!]);
    const s1 = await cacheWith(h, [{ ...e!, id: 'img/other.png' }]);
    await expect(mergeCaches(tempDir(), [s0, s1])).rejects.toThrow(`key ${e!.key} holds id ${e!.id} in ${s0} but id img/other.png in ${s1}`);
    // The output already maps the id to another key.
    const out = await cacheWith(h, [{ ...e!, key: 'k-in-output' }]);
    await expect(mergeCaches(out, [s0])).rejects.toThrow(`id ${e!.id} has key k-in-output in the output ${out} but key ${e!.key} in ${s0}`);
    await expect(mergeCaches(s0, [s0, s1])).rejects.toThrow(`the output ${s0} is also an input`);
  });

  it('warns about an input that still holds a writer lock', async () => {
    const h = testHeader();
    const s0 = await cacheWith(h, makeEntries(prng(44), 3, 72, h.classes));
    const writer = FeatureCache.open(s0); // a shard still being written
    const notices: string[] = [];
    try {
      await mergeCaches(tempDir(), [s0], { onNotice: (m) => notices.push(m) });
    } finally {
      await writer.close();
    }
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatch(new RegExp(`^input ${s0} holds a writer lock of pid ${process.pid} on `));
  });
});

async function expectSameEntries(got: string, want: string) {
  const a = FeatureCache.open(want, { readonly: true });
  const b = FeatureCache.open(got, { readonly: true });
  try {
    expect(b.keys()).toEqual(a.keys());
    for (const key of a.keys()) {
      const x = Buffer.from(a.rawFeatures(Buffer.from(key))!);
      const y = Buffer.from(b.rawFeatures(Buffer.from(key))!);
      expect(y.equals(x)).toBe(true);
      expect(b.getMeta(key)).toEqual(a.getMeta(key));
    }
  } finally {
    await a.close();
    await b.close();
  }
}
