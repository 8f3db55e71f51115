/**
 * precompute --views N: the views are deterministic (identical bytes on a rerun, with or without
 * decode threads), a kill -9 leaves whole samples with all their views and resumes, shards merge
 * into the unsharded cache, and view 0 is the cache of one view.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writeFashionSample } from '../../src/data/fashion.js';
import { precompute } from '../../src/jobs/precompute.js';
import { CacheMismatchError, inspectCache, mergeCaches } from '../../src/cache/index.js';
import { Rng } from '../../src/base/random.js';
import { openKilledCache, precomputeChild } from './killed-precompute.js';

let dir = '';
let data = '';
const N = 20; // 2 per class
const MAP_BYTES = 7 * 7 * 1280 * 2; // float16
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mixhead-views-'));
  data = path.join(dir, 'data');
  await writeFashionSample({ out: data, perClass: 2, split: 'train' });
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** key → raw entry bytes, id and labels, in key order. */
function raw(cacheDir: string): { key: string; id: string; labels: string[]; bytes: Buffer }[] {
  const c = openKilledCache(cacheDir);
  if (!c) return [];
  const out = c.metas().map((m) => ({ key: m.key, id: m.id, labels: m.labels, bytes: Buffer.from(c.rawFeatures(Buffer.from(m.key))!) }));
  void c.close();
  return out;
}

const run = (cache: string, extra: Record<string, unknown> = {}) => precompute({ data, cache, workers: 1, backend: 'wasm', progress: false, ...extra });


describe('precompute --views', () => {
  let reference: ReturnType<typeof raw> = [];

  it('caches N views per sample as one entry; a rerun elsewhere gives identical bytes, decode threads or not; view 0 is the plain cache', async () => {
    const a = path.join(dir, 'views-a');
    const first = await run(a, { views: 3 });
    expect(first.total).toBe(N);
    expect(first.computed).toBe(N);
    expect(first.backboneImages).toBe(3 * N);
    expect(first.header.views).toEqual({ count: 3, flip: true, scale: [0.35, 1], ratio: [0.75, 4 / 3] });
    reference = raw(a);
    expect(reference.every((e) => e.bytes.length === 3 * MAP_BYTES)).toBe(true);
    // The views differ from each other (a mirror and a crop are not the plain view).
    expect(reference[0]!.bytes.subarray(0, MAP_BYTES).equals(reference[0]!.bytes.subarray(MAP_BYTES, 2 * MAP_BYTES))).toBe(false);
    expect(reference[0]!.bytes.subarray(0, MAP_BYTES).equals(reference[0]!.bytes.subarray(2 * MAP_BYTES))).toBe(false);

    // A rerun into the same cache computes nothing.
    const again = await run(a, { views: 3 });
    expect(again.backboneImages).toBe(0);
    expect(again.reused).toBe(N);

    // Another cache, decoded in worker threads this time: the same bytes.
    const b = path.join(dir, 'views-b');
    const before = process.env.MIXHEAD_DECODE_THREADS;
    process.env.MIXHEAD_DECODE_THREADS = '2';
    try {
      await run(b, { views: 3 });
    } finally {
      if (before === undefined) delete process.env.MIXHEAD_DECODE_THREADS;
      else process.env.MIXHEAD_DECODE_THREADS = before;
    }
    const other = raw(b);
    expect(other.map((e) => e.key)).toEqual(reference.map((e) => e.key));
    other.forEach((e, i) => expect(e.bytes.equals(reference[i]!.bytes)).toBe(true));

    // One view: no views in the header, and the entry is view 0 of the cache of three.
    const plain = path.join(dir, 'plain');
    const one = await run(plain);
    expect('views' in one.header).toBe(false);
    const p = raw(plain);
    expect(p.map((e) => e.key)).toEqual(reference.map((e) => e.key));
    p.forEach((e, i) => expect(e.bytes.equals(reference[i]!.bytes.subarray(0, MAP_BYTES))).toBe(true));

    const info = await inspectCache(a);
    expect(info).toMatchObject({ count: N, views: 3, flip: true, bytesPerEntry: 3 * MAP_BYTES });

    // A cache of other views is refused, naming the difference.
    const err = await run(plain, { views: 3 }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(CacheMismatchError);
    expect((err as Error).message).toMatch(/views differ: 1 vs 3/);
  });

  it('--no-flip makes view 1 a crop, not the mirror', async () => {
    const c = path.join(dir, 'noflip');
    const r = await run(c, { views: 2, flip: false });
    expect(r.header.views?.flip).toBe(false);
    const nf = raw(c);
    // View 0 is the same plain view; view 1 differs from the flipped cache's view 1.
    nf.forEach((e, i) => expect(e.bytes.subarray(0, MAP_BYTES).equals(reference[i]!.bytes.subarray(0, MAP_BYTES))).toBe(true));
    expect(nf.some((e, i) => !e.bytes.subarray(MAP_BYTES).equals(reference[i]!.bytes.subarray(MAP_BYTES, 2 * MAP_BYTES)))).toBe(true);
  });

  it('refuses views with the sharp-linear kernel in one line', async () => {
    const err = await run(path.join(dir, 'legacy'), { views: 2, backbone: { preprocess: { kernel: 'sharp-linear' } } }).catch((e: Error) => e);
    expect((err as Error).message).toMatch(/--views 2: .*triangle resize kernel/);
  });

  it('shards + merge equal the unsharded cache with views, byte for byte', async () => {
    const shards = [0, 1, 2].map((i) => path.join(dir, `vshard-${i}`));
    for (let i = 0; i < 3; i++) await run(shards[i]!, { views: 3, shard: { index: i, count: 3 } });
    const merged = path.join(dir, 'vmerged');
    await mergeCaches(merged, shards);
    const m = raw(merged);
    expect(m.map((e) => [e.key, e.id, e.labels])).toEqual(reference.map((e) => [e.key, e.id, e.labels]));
    m.forEach((e, i) => expect(e.bytes.equals(reference[i]!.bytes)).toBe(true));
  });

  it('survives SIGKILL: whole samples with every view only, and the resumed cache equals the uninterrupted one', async () => {
    const cache = path.join(dir, 'vkilled');
    const rng = new Rng(21);
    let killed = 0;
    for (let k = 0; k < 3; k++) {
      const r = await precomputeChild(['--data', data, '--cache', cache, '--workers', '1', '--batch-size', '2', '--views', '3', '--engine', 'onnx'], 700 + rng.int(2500));
      if (r.signal === 'SIGKILL') killed++;
      const entries = raw(cache);
      expect(new Set(entries.map((e) => e.id)).size).toBe(entries.length);
      expect(entries.every((e) => e.bytes.length === 3 * MAP_BYTES)).toBe(true);
    }
    expect(killed).toBeGreaterThan(0);
    const before = raw(cache).length;
    const final = await precomputeChild(['--data', data, '--cache', cache, '--workers', '1', '--views', '3', '--json', '--engine', 'onnx']);
    expect(final.code).toBe(0);
    const r = JSON.parse(final.out);
    expect(r.computed).toBe(N - before);
    expect(r.backboneImages).toBe(3 * (N - before));
    const resumed = raw(cache);
    expect(resumed.map((e) => e.key)).toEqual(reference.map((e) => e.key));
    resumed.forEach((e, i) => expect(e.bytes.equals(reference[i]!.bytes)).toBe(true));
  });
});
