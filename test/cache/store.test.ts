import { afterAll, describe, expect, it } from 'vitest';
import { FeatureCache } from '../../src/cache/index.js';
import { cleanTempDirs, makeEntries, prng, randomMap, tempDir, testHeader } from './helpers.js';

afterAll(cleanTempDirs);

describe('FeatureCache', () => {
  it('puts, gets, lists, indexes and deletes entries', async () => {
    const dir = tempDir();
    const h = testHeader();
    const cache = FeatureCache.create(dir, h);
    const entries = makeEntries(prng(2), 10, 72, h.classes);
    expect(cache.putMany(entries)).toEqual({ written: 10, replaced: [] });
    expect(cache.count).toBe(10);
    for (const e of entries) {
      expect(cache.has(e.key)).toBe(true);
      const got = cache.get(e.key)!;
      expect(got).toMatchObject({ key: e.key, id: e.id, source: e.source, labels: e.labels });
      expect(Array.from(got.features)).toEqual(Array.from(e.features));
    }
    expect(cache.has('nope')).toBe(false);
    expect(cache.get('nope')).toBeUndefined();
    expect(cache.keys()).toEqual(entries.map((e) => e.key).sort());
    const index = cache.index();
    expect(index.get(entries[3]!.id)).toEqual({ key: entries[3]!.key, source: entries[3]!.source });

    expect(cache.delete([entries[0]!.key, entries[1]!.key, 'nope'])).toBe(2);
    expect(cache.count).toBe(8);
    expect(cache.has(entries[0]!.key)).toBe(false);
    expect(cache.index().has(entries[0]!.id)).toBe(false);
    await cache.close();

    const ro = FeatureCache.open(dir, { readonly: true });
    expect(ro.count).toBe(8);
    expect(() => ro.putMany(entries.slice(0, 1))).toThrow(/read-only/);
    await ro.close();
  });

  it('replaces the old entry in the same transaction when an id gets a new key (file changed)', async () => {
    const dir = tempDir();
    const h = testHeader();
    const cache = FeatureCache.create(dir, h);
    const [a, b] = makeEntries(prng(3), 2, 72, h.classes);
    cache.putMany([a!, b!]);
    const changed = { ...a!, key: 'k-changed', features: randomMap(prng(4), 72) };
    expect(cache.putMany([changed]).replaced).toEqual([{ id: a!.id, oldKey: a!.key }]);
    expect(cache.has(a!.key)).toBe(false);
    expect(cache.count).toBe(2);
    expect(cache.index().get(a!.id)!.key).toBe('k-changed');
    // Re-putting an unchanged entry (a resumed run) is a no-op overwrite.
    expect(cache.putMany([b!]).replaced).toEqual([]);
    expect(cache.count).toBe(2);
    await cache.close();
  });

  it('rejects a batch whole: wrong size, unknown label, one key under two ids', async () => {
    const dir = tempDir();
    const h = testHeader();
    const cache = FeatureCache.create(dir, h);
    const [a, b, c] = makeEntries(prng(5), 3, 72, h.classes);
    expect(() => cache.putMany([a!, { ...b!, features: new Float32Array(5) }])).toThrow(/72 values \(3×3×8\), got 5/);
    expect(() => cache.putMany([a!, { ...b!, labels: ['boot'] }])).toThrow(/unknown label 'boot'; classes are bag, shirt, sneaker/);
    expect(() => cache.putMany([a!, { ...b!, labels: ['bag', 'shirt'] }])).toThrow(/single-label/);
    expect(cache.count).toBe(0);
    cache.putMany([a!]);
    // Identical content under another id: the failing entry aborts the whole transaction.
    expect(() => cache.putMany([c!, { ...b!, key: a!.key }])).toThrow(/already holds id img\/0.png/);
    expect(cache.count).toBe(1);
    expect(cache.has(c!.key)).toBe(false);
    await cache.close();
  });

  it('persists the skipped list, replaced by the next writer session', async () => {
    const dir = tempDir();
    const cache = FeatureCache.create(dir, testHeader());
    cache.recordSkipped([{ source: 'a.png', reason: 'corrupt' }]);
    cache.recordSkipped([{ source: 'b.png', reason: 'too small' }]);
    expect(cache.skipped()).toEqual([
      { source: 'a.png', reason: 'corrupt' },
      { source: 'b.png', reason: 'too small' },
    ]);
    await cache.close();
    const next = FeatureCache.open(dir);
    expect(next.skipped()).toHaveLength(2);
    next.recordSkipped([{ source: 'c.png', reason: 'unreadable' }]);
    expect(next.skipped()).toEqual([{ source: 'c.png', reason: 'unreadable' }]);
    await next.close();
  });

  it('keeps uint8 clip statistics', async () => {
    const dir = tempDir();
    const h = testHeader({}, 'uint8');
    const cache = FeatureCache.create(dir, h);
    const [e] = makeEntries(prng(6), 1, 72, h.classes);
    e!.features[0] = 9;
    cache.putMany([e!]);
    expect(cache.quantizationStats()).toEqual({ values: 72, clipped: 1, maxError: expect.closeTo(3, 5) });
    await cache.close();
  });

  it('stores keys as their plain UTF-8 bytes (what docs/cache.md promises other tools)', async () => {
    const dir = tempDir();
    const h = testHeader();
    const cache = FeatureCache.create(dir, h);
    const key = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'; // sha256 hex, 64 chars
    cache.putMany([{ key, id: 'dir/ü.png', source: 's', labels: [], features: new Float32Array(72) }]);
    await cache.close();
    // Open the same sub-databases with lmdb-js's own default key encoding switched off.
    const { open } = await import('lmdb');
    const env = open({ path: dir, readOnly: true, maxDbs: 8 });
    const raw = (name: string) => env.openDB<Buffer, Buffer>(name, { encoding: 'binary', keyEncoding: 'binary' });
    expect([...raw('features').getKeys()].map((k) => Buffer.from(k).toString('hex'))).toEqual([Buffer.from(key).toString('hex')]);
    expect([...raw('ids').getKeys()].map((k) => Buffer.from(k).toString('utf8'))).toEqual(['dir/ü.png']);
    expect(JSON.parse(raw('entries').getBinary(Buffer.from(key))!.toString('utf8'))).toEqual({ id: 'dir/ü.png', source: 's', labels: [] });
    expect(raw('features').getBinary(Buffer.from(key))!.length).toBe(72 * 4);
    expect(JSON.parse(raw('meta').getBinary(Buffer.from('header'))!.toString('utf8')).format).toBe('mixhead-cache');
    // The root database lists exactly the four sub-databases by name.
    const names = [...env.getKeys()].map((k) => String(k)).sort();
    expect(names).toEqual(['entries', 'features', 'ids', 'meta']);
    await env.close();
  });
});
