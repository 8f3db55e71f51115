import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CacheMismatchError, CacheReader, compareHeaders, exportCache, FeatureCache, inspectCache, makeHeader, mergeCaches } from '../../src/cache/index.js';
import { viewSpec } from '../../src/preprocess/views.js';
import { formatInspect } from '../../src/report/format.js';
import { cleanTempDirs, makeEntries, prng, randomMap, tempDir, testHeader } from './helpers.js';

afterAll(cleanTempDirs);

const SIZE = 72; // 3×3×8

/** Entries of a cache of `views` views: each sample's features are its views one after the other. */
function viewEntries(seed: number, n: number, views: number, classes: string[], prefix = 'img') {
  const rand = prng(seed);
  return makeEntries(rand, n, SIZE, classes, prefix).map((e) => ({ ...e, features: randomMap(rand, SIZE * views) }));
}

async function cacheWith(h: ReturnType<typeof testHeader>, entries: ReturnType<typeof viewEntries>) {
  const dir = tempDir();
  const c = FeatureCache.create(dir, h);
  if (entries.length) c.putMany(entries);
  await c.close();
  return dir;
}

describe('cache header: views', () => {
  it('one view is recorded as none: the header is what it was before views existed', () => {
    const t = '2026-12-03T00:00:00.000Z';
    const plain = testHeader({ createdAt: t });
    const one = testHeader({ createdAt: t, views: viewSpec(1) });
    expect(JSON.stringify(one)).toBe(JSON.stringify(plain));
    expect('views' in one).toBe(false);
  });

  it('records count, flip, scale and ratio, and names each difference', () => {
    const four = testHeader({ views: viewSpec(4) });
    expect(four.views).toEqual({ count: 4, flip: true, scale: [0.35, 1], ratio: [3 / 4, 4 / 3] });
    expect(compareHeaders(four, testHeader())).toEqual(['views differ: 4 vs 1']);
    expect(compareHeaders(four, testHeader({ views: viewSpec(4, false) }))).toEqual(['view flip differs: flip vs no flip']);
    expect(compareHeaders(four, testHeader({ views: { ...viewSpec(4), scale: [0.08, 1] } }))).toEqual(['view crop scale differs: [0.35,1] vs [0.08,1]']);
  });

  it('refuses an impossible view spec', () => {
    expect(() => makeHeader({ ...testHeader(), views: { count: 3, flip: true, scale: [0.5, 2], ratio: [0.75, 1.5] } })).toThrow(/views must be/);
  });
});

describe('a cache of several views', () => {
  it('holds one entry per sample with every view, reads any view, and counts samples', async () => {
    for (const dtype of ['float32', 'float16', 'uint8'] as const) {
      const h = testHeader({ views: viewSpec(3) }, dtype);
      const entries = viewEntries(1, 7, 3, h.classes);
      const dir = await cacheWith(h, entries);
      const r = CacheReader.open(dir);
      expect(r.size).toBe(7);
      expect(r.views).toBe(3);
      const order = Array.from({ length: 7 }, (_, i) => entries.findIndex((e) => e.key === r.keyOf(i)));
      const tol = dtype === 'float32' ? 0 : dtype === 'float16' ? 6 * 2 ** -11 : 3 / 255 + 1e-6;
      for (let v = 0; v < 3; v++) {
        const out = r.readRows([0, 1, 2, 3, 4, 5, 6], new Float32Array(7 * SIZE), [v, v, v, v, v, v, v]);
        for (let i = 0; i < 7; i++) {
          const want = entries[order[i]!]!.features.subarray(v * SIZE, (v + 1) * SIZE);
          for (let j = 0; j < SIZE; j++) expect(Math.abs(out[i * SIZE + j]! - want[j]!)).toBeLessThanOrEqual(tol);
        }
        // Pooled rows of view v are the mean of that view's map, per channel.
        const pooled = r.pooled([2], new Float32Array(8), [v]);
        const map = r.readRows([2], new Float32Array(SIZE), [v]);
        for (let c = 0; c < 8; c++) {
          let s = 0;
          for (let p = 0; p < 9; p++) s += map[p * 8 + c]!;
          expect(pooled[c]).toBeCloseTo(s / 9, 5);
        }
      }
      // Without views given, every row reads view 0 (what validation uses).
      const v0 = r.readRows([0, 1], new Float32Array(2 * SIZE));
      expect(Array.from(v0)).toEqual(Array.from(r.readRows([0, 1], new Float32Array(2 * SIZE), [0, 0])));
      expect(() => r.readRows([0], new Float32Array(SIZE), [3])).toThrow(/view 3 outside 0..2/);
      // loadAll with allViews: [size, views, C] pooled.
      const all = r.loadAll({ pooled: true, allViews: true });
      expect(all.length).toBe(7 * 3 * 8);
      expect(Array.from(all.subarray((4 * 3 + 2) * 8, (4 * 3 + 3) * 8))).toEqual(Array.from(r.pooled([4], new Float32Array(8), [2])));
      await r.close();

      const info = await inspectCache(dir);
      expect(info).toMatchObject({ count: 7, views: 3, flip: true });
      expect(info.bytesPerEntry).toBe(3 * SIZE * (dtype === 'float32' ? 4 : dtype === 'float16' ? 2 : 1));
      expect(info.classes.reduce((a, c) => a + c.count, 0)).toBe(7);
      expect(formatInspect(info, [])).toMatch(/^entries {4}7 \(single-label\)\nviews {6}3 per sample \(view 0 plain, view 1 mirrored, then random resized crops\)$/m);
    }
  });

  it('refuses an entry with the views of another count', async () => {
    const h = testHeader({ views: viewSpec(2) });
    const c = FeatureCache.create(tempDir(), h);
    const [e] = viewEntries(2, 1, 3, h.classes);
    expect(() => c.putMany([e!])).toThrow(/2 views × 72 values \(3×3×8\), got 216/);
    expect(c.count).toBe(0);
    await c.close();
  });

  it('exports features.npy as [N, views, H, W, C]', async () => {
    const h = testHeader({ views: viewSpec(2) }, 'uint8');
    const dir = await cacheWith(h, viewEntries(3, 5, 2, h.classes));
    const out = tempDir();
    await exportCache(dir, out);
    const npy = readFileSync(join(out, 'features.npy'));
    const headerLen = npy.readUInt16LE(8);
    expect(npy.subarray(10, 10 + headerLen).toString('latin1')).toContain("'shape': (5, 2, 3, 3, 8)");
    expect(npy.length - 10 - headerLen).toBe(5 * 2 * SIZE);
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
    expect(manifest.rows).toHaveLength(5);
    expect(manifest.header.views.count).toBe(2);
  });

  it('shards merge into what a single cache holds, views included; other views refuse', async () => {
    const h = testHeader({ views: viewSpec(4) }, 'float16');
    const all = viewEntries(4, 10, 4, h.classes);
    const single = await cacheWith(h, all);
    const s0 = await cacheWith(h, all.filter((_, i) => i % 3 === 0));
    const s1 = await cacheWith(h, all.filter((_, i) => i % 3 !== 0));
    const out = tempDir();
    const res = await mergeCaches(out, [s0, s1]);
    expect(res.count).toBe(10);
    const a = FeatureCache.open(single, { readonly: true });
    const b = FeatureCache.open(out, { readonly: true });
    expect(b.keys()).toEqual(a.keys());
    for (const k of a.keys()) expect(Buffer.from(b.rawFeatures(Buffer.from(k))!).equals(Buffer.from(a.rawFeatures(Buffer.from(k))!))).toBe(true);
    await a.close();
    await b.close();
    const other = await cacheWith(testHeader({ views: viewSpec(2) }, 'float16'), []);
    const err = await mergeCaches(tempDir(), [s0, other]).catch((e: Error) => e);
    expect(err).toBeInstanceOf(CacheMismatchError);
    expect((err as Error).message).toMatch(/views differ: 4 vs 2/);
  });
});
