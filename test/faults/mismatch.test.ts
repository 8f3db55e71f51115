/**
 * Caches that do not belong together are refused, with a one-line message naming each difference:
 * precompute into a cache made otherwise, train with a validation cache made otherwise, eval a
 * model on a cache made otherwise. Caches are crafted from headers (makeHeader + FeatureCache.create
 * with synthetic entries), so only the precompute case runs a real backbone.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { tempDir } from '../tmp.js';
import { FeatureCache, makeHeader, CacheMismatchError, type CacheHeader, type CacheHeaderInit } from '../../src/cache/index.js';
import { precompute } from '../../src/jobs/precompute.js';
import { runEval } from '../../src/jobs/eval.js';
import { runTrain } from '../../src/jobs/train.js';

const BASE: CacheHeaderInit = {
  backbone: { id: 'test-net', weightsHash: 'a'.repeat(64), cut: 'block_5', kind: 'graph' },
  preprocess: { size: 32, range: [0, 1], fit: 'cover' },
  featureShape: [2, 2, 4],
  dtype: 'float32',
  classes: ['a', 'b'],
  multiLabel: false,
};

/** One field changed, the difference the message must name. */
const VARIANTS: [string, (h: CacheHeaderInit) => CacheHeaderInit, RegExp][] = [
  ['backbone', (h) => ({ ...h, backbone: { ...h.backbone, id: 'other-net' } }), /backbone differs: test-net vs other-net/],
  ['weights', (h) => ({ ...h, backbone: { ...h.backbone, weightsHash: 'b'.repeat(64) } }), /backbone weights hash differs: aaaaaaaaaaaa… vs bbbbbbbbbbbb…/],
  ['cut layer', (h) => ({ ...h, backbone: { ...h.backbone, cut: 'block_6' } }), /cut layer differs: block_5 vs block_6/],
  ['input size', (h) => ({ ...h, preprocess: { ...h.preprocess, size: 64 } }), /input size differs: 32 vs 64/],
  ['pixel range', (h) => ({ ...h, preprocess: { ...h.preprocess, range: [-1, 1] } }), /pixel range differs: \[0,1\] vs \[-1,1\]/],
  ['normalization', (h) => ({ ...h, preprocess: { ...h.preprocess, mean: [0.5, 0.5, 0.5], std: [0.2, 0.2, 0.2] } }), /normalization mean differs: none vs \[0\.5,0\.5,0\.5\]; normalization std differs/],
  ['resize fit', (h) => ({ ...h, preprocess: { ...h.preprocess, fit: 'contain' } }), /resize fit differs: cover vs contain/],
  ['feature shape', (h) => ({ ...h, featureShape: [2, 2, 8] }), /feature shape differs: 2×2×4 vs 2×2×8/],
  ['class vocabulary', (h) => ({ ...h, classes: ['a', 'c'] }), /class vocabulary differs: missing 'b', extra 'c'/],
  ['class order', (h) => ({ ...h, classes: ['b', 'a'] }), /class order differs: \[a, b\] vs \[b, a\]/],
];

/** A cache with `n` synthetic entries cycling through the header's classes. */
async function craft(dir: string, init: CacheHeaderInit, n = 6): Promise<CacheHeader> {
  const header = makeHeader(init);
  const c = FeatureCache.create(dir, header);
  const size = init.featureShape.reduce((a, b) => a * b, 1);
  c.putMany(
    Array.from({ length: n }, (_, i) => ({
      key: `k${i}`,
      id: `img/${i}.png`,
      source: `img/${i}.png`,
      labels: [init.classes[i % init.classes.length]],
      features: Float32Array.from({ length: size }, (_, j) => ((i % init.classes.length) === j % 2 ? 1 : 0) + 0.01 * ((i * 7 + j) % 5)),
    })),
  );
  await c.close();
  return header;
}

let dir = '';
let train = '';
let model = '';
beforeAll(async () => {
  dir = await tempDir('mismatch');
  train = path.join(dir, 'train');
  await craft(train, BASE);
  model = path.join(dir, 'model');
  await runTrain({ cache: train, out: model, epochs: 1, batchSize: 4, combined: false });
});

const oneLine = (e: Error) => expect(e.message.split('\n')).toHaveLength(1);

describe('runTrain with a validation cache made otherwise', () => {
  it.each(VARIANTS)('%s: refused, naming both caches and the difference', async (name, change, pattern) => {
    const valid = path.join(dir, `valid-${name.replace(/ /g, '-')}`);
    await craft(valid, change(BASE));
    const err = (await runTrain({ cache: train, valid, out: path.join(dir, 'never'), epochs: 1, combined: false }).catch((e: Error) => e)) as Error;
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toMatch(pattern);
    expect(err.message).toContain(valid);
    expect(err.message).toContain(train);
    oneLine(err);
  });

  it('a validation cache that differs only in dtype is accepted (values are decoded)', async () => {
    const valid = path.join(dir, 'valid-float16');
    await craft(valid, { ...BASE, dtype: 'float16' });
    const r = await runTrain({ cache: train, valid, out: path.join(dir, 'ok-f16'), epochs: 1, combined: false });
    expect(r.report.validSize).toBe(6);
  });
});

describe('runEval of a model on a cache made otherwise', () => {
  // The same header comparison as for caches, so the same wording — feature shape and class order included.
  it.each(VARIANTS)('%s: refused, naming the cache, the model and the difference', async (name, change, pattern) => {
    const other = path.join(dir, `eval-${name.replace(/ /g, '-')}`);
    await craft(other, change(BASE));
    const err = (await runEval({ model, cache: other }).catch((e: Error) => e)) as Error;
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toContain(other);
    expect(err.message).toContain(model);
    expect(err.message).toMatch(pattern);
    oneLine(err);
  });

  it('the cache the model was trained on is accepted', async () => {
    const r = await runEval({ model, cache: train });
    expect(r.size).toBe(6);
  });
});

describe('precompute into a cache made otherwise', () => {
  it('refuses a cache of another backbone and one of another class vocabulary, naming the difference and writing nothing', async () => {
    const data = path.join(dir, 'data');
    for (const cls of ['a', 'b']) {
      await mkdir(path.join(data, cls), { recursive: true });
      await writeFile(path.join(data, cls, '1.png'), await sharp({ create: { width: 8, height: 8, channels: 3, background: cls === 'a' ? 'red' : 'blue' } }).png().toBuffer());
    }
    // The real header of the bundled backbone, from a first run.
    const real = await precompute({ data, cache: path.join(dir, 'real'), workers: 1, backend: 'wasm', progress: false });
    const base: CacheHeaderInit = { ...real.header };
    const cases: [string, CacheHeaderInit, RegExp][] = [
      ['other-backbone', { ...base, backbone: { ...base.backbone, id: 'mobilenet-v1', weightsHash: 'c'.repeat(64), cut: 'conv_pw_13_relu' } }, /backbone differs: mobilenet-v1 vs bundled-mobilenet-v2; backbone weights hash differs: cccccccccccc… vs .*; cut layer differs: conv_pw_13_relu vs /],
      ['other-size', { ...base, preprocess: { ...base.preprocess, size: 160 }, classes: ['a', 'b', 'c'] }, /input size differs: 160 vs 224; .*class vocabulary differs: missing 'c'/],
    ];
    for (const [name, init, pattern] of cases) {
      const cache = path.join(dir, name);
      await craft(cache, init, 3);
      const err = (await precompute({ data, cache, workers: 1, backend: 'wasm', progress: false }).catch((e: Error) => e)) as Error;
      expect(err, name).toBeInstanceOf(CacheMismatchError);
      expect(err.message).toMatch(new RegExp(`^cache ${cache.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} was made with different settings: `));
      expect(err.message).toMatch(pattern);
      oneLine(err);
      // Nothing was written: the crafted entries are all there is.
      const c = FeatureCache.open(cache, { readonly: true });
      expect(c.count).toBe(3);
      expect(c.header.backbone.id).toBe(init.backbone.id);
      await c.close();
    }
  });
});
