// Readers at scale (docs/scale.md): the reader's flat row table returns what was written, the
// pooled-vector budget switches to per-batch pooling with identical values, and export / inspect
// stream one entry at a time yet write and count exactly what the cache holds.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CacheReader, exportCache, FeatureCache, FeatureCodec, inspectCache, makeHeader, npyHeader } from '../../src/cache/index.js';
import { cacheFeatureSet, encodeLabels } from '../../src/train/features.js';
import { cleanTempDirs, makeEntries, prng, tempDir, testHeader } from '../cache/helpers.js';

afterAll(cleanTempDirs);

const F = 72;

/** A multi-label cache with unicode ids and sources, some rows unlabeled. */
async function multiLabelCache(n: number) {
  const dir = tempDir();
  const h = makeHeader({ ...testHeader(), multiLabel: true, dtype: 'float16' });
  const rand = prng(51);
  const base = makeEntries(rand, n, F, h.classes, 'ünï');
  const entries = base.map((e, i) => ({ ...e, source: `/données/${i} ✓.png`, labels: i % 5 === 0 ? [] : i % 3 === 0 ? ['sneaker', 'bag'] : e.labels }));
  const c = FeatureCache.create(dir, h);
  for (let i = 0; i < n; i += 17) c.putMany(entries.slice(i, i + 17));
  await c.close();
  return { dir, h, entries: [...entries].sort((a, b) => Buffer.compare(Buffer.from(a.key), Buffer.from(b.key))) };
}

describe('CacheReader row table', () => {
  it('keys, ids, sources and labels per row are what was written, in key order', async () => {
    const { dir, h, entries } = await multiLabelCache(61);
    const r = CacheReader.open(dir);
    try {
      expect(r.size).toBe(61);
      entries.forEach((e, i) => {
        expect(r.keyOf(i)).toBe(e.key);
        expect(r.idOf(i)).toBe(e.id);
        expect(r.sourceOf(i)).toBe(e.source);
        expect(r.labelsOf(i)).toEqual(e.labels);
      });
      // The flat label arrays equal the reference encoding from label names.
      const ref = encodeLabels(
        entries.map((e) => e.labels),
        h.classes,
      );
      expect(Array.from(r.firstLabels())).toEqual(Array.from(ref.labelIndex));
      expect(Array.from(r.multiHot())).toEqual(Array.from(ref.targets));
      expect(r.keys).toEqual(entries.map((e) => e.key));
      expect(() => r.idOf(61)).toThrow(/outside 0..60/);
      // Features of a row come from its own key.
      const codec = new FeatureCodec('float16');
      const out = r.readRows([7], new Float32Array(F));
      expect(Array.from(out)).toEqual(Array.from(codec.decode(codec.encode(entries[7]!.features))));
    } finally {
      await r.close();
    }
  });
});

describe('cacheFeatureSet memory budget', () => {
  it('over the pooled budget it pools every batch from the cache, with the same values', async () => {
    const { dir } = await multiLabelCache(40);
    const r = CacheReader.open(dir);
    try {
      const kept = cacheFeatureSet(r); // 40 × 8 × 4 bytes: far under the default budget
      const streamed = cacheFeatureSet(r, { pooledBudgetBytes: 40 * 8 * 4 - 1 });
      const idx = [39, 0, 17, 17, 5];
      const a = new Float32Array(idx.length * 8);
      const b = new Float32Array(idx.length * 8);
      kept.readPooled(idx, a);
      streamed.readPooled(idx, b);
      expect(Array.from(b)).toEqual(Array.from(a));
      // And both are the float64 mean of the maps.
      const maps = new Float32Array(idx.length * F);
      kept.readRows(idx, maps);
      for (let k = 0; k < idx.length; k++) {
        for (let c = 0; c < 8; c++) {
          let s = 0;
          for (let p = 0; p < 9; p++) s += maps[k * F + p * 8 + c]!;
          expect(a[k * 8 + c]).toBe(Math.fround(s / 9));
        }
      }
      expect(kept.item!(3)).toEqual({ id: r.idOf(3), source: r.sourceOf(3), labels: r.labelsOf(3) });
      expect(Array.from(streamed.labelIndex)).toEqual(Array.from(r.firstLabels()));
    } finally {
      await r.close();
    }
  });

  it('MIXHEAD_POOLED_BUDGET_MB is read, and a bad value named', async () => {
    const { dir } = await multiLabelCache(5);
    const r = CacheReader.open(dir);
    const before = process.env.MIXHEAD_POOLED_BUDGET_MB;
    try {
      process.env.MIXHEAD_POOLED_BUDGET_MB = 'lots';
      expect(() => cacheFeatureSet(r)).toThrow('MIXHEAD_POOLED_BUDGET_MB=lots: use a number of MiB ≥ 0');
      process.env.MIXHEAD_POOLED_BUDGET_MB = '0';
      const set = cacheFeatureSet(r);
      const out = new Float32Array(8);
      set.readPooled([2], out);
      expect(Array.from(out)).toEqual(Array.from(r.pooled([2], new Float32Array(8))));
    } finally {
      if (before === undefined) delete process.env.MIXHEAD_POOLED_BUDGET_MB;
      else process.env.MIXHEAD_POOLED_BUDGET_MB = before;
      await r.close();
    }
  });
});

describe('streaming export and inspect', () => {
  it('export writes every entry in key order: NPY rows are the encoded bytes, the manifest the metadata', async () => {
    const { dir, h, entries } = await multiLabelCache(53);
    const out = tempDir();
    const res = await exportCache(dir, out);
    expect(res.count).toBe(53);
    const npy = readFileSync(path.join(out, 'features.npy'));
    const head = npyHeader('float16', [53, 3, 3, 8]);
    expect(npy.subarray(0, head.length).equals(head)).toBe(true);
    expect(npy.length).toBe(head.length + 53 * F * 2);
    const codec = new FeatureCodec('float16');
    entries.forEach((e, i) => {
      const row = npy.subarray(head.length + i * F * 2, head.length + (i + 1) * F * 2);
      expect(Buffer.from(codec.encode(e.features)).equals(row)).toBe(true);
    });
    const manifest = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8'));
    expect(manifest.header).toEqual(h);
    expect(manifest.rows).toEqual(entries.map((e) => ({ key: e.key, id: e.id, source: e.source, labels: e.labels })));
  });

  it('export of an empty cache is a valid empty array', async () => {
    const dir = tempDir();
    await FeatureCache.create(dir, testHeader()).close();
    const out = tempDir();
    expect((await exportCache(dir, out)).count).toBe(0);
    expect(JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8')).rows).toEqual([]);
  });

  it('inspect counts classes and unlabeled rows while streaming', async () => {
    const { dir, entries } = await multiLabelCache(61);
    const s = await inspectCache(dir);
    expect(s.count).toBe(61);
    expect(s.unlabeled).toBe(entries.filter((e) => e.labels.length === 0).length);
    for (const c of s.classes) expect(c.count).toBe(entries.filter((e) => e.labels.includes(c.name)).length);
  });
});

describe('pooling a uint8 cache', () => {
  it('equals the float64 mean of the decoded maps exactly', async () => {
    const dir = tempDir();
    const h = testHeader({}, 'uint8');
    const c = FeatureCache.create(dir, h);
    c.putMany(makeEntries(prng(61), 9, F, h.classes));
    await c.close();
    const r = CacheReader.open(dir);
    try {
      const rows = [8, 0, 4];
      const pooled = r.pooled(rows, new Float32Array(rows.length * 8));
      const maps = r.readRows(rows, new Float32Array(rows.length * F));
      for (let k = 0; k < rows.length; k++) {
        for (let ch = 0; ch < 8; ch++) {
          let s = 0;
          for (let p = 0; p < 9; p++) s += maps[k * F + p * 8 + ch]!;
          expect(pooled[k * 8 + ch]).toBe(Math.fround(s / 9));
        }
      }
    } finally {
      await r.close();
    }
  });
});
