/**
 * Training on cached views: each epoch reads one view per sample from its own stream of the run's
 * Rng (so nothing else moves and resume stays exact), validation reads view 0, and the balanced
 * sampler and loss weights resume exactly too.
 */
import { describe, expect, it } from 'vitest';
import { synthetic } from '../fixtures/synthetic.js';
import { tempDir } from '../tmp.js';
import { Rng } from '../../src/base/random.js';
import { memoryFeatureSet, type FeatureSet } from '../../src/train/features.js';
import { trainHead, type TrainArgs } from '../../src/train/trainer.js';
import { disposeHead } from '../../src/train/heads.js';
import { drawViews } from '../../src/train/balance.js';

const SHAPE = [2, 2, 8];
const D = 2 * 2 * 8;

/** The maps of `set` with `views` views per sample: view 0 the set's own, view v from `other(i, v, j)`. */
function withViews(set: FeatureSet, views: number, other: (i: number, v: number, j: number, x: number) => number): FeatureSet {
  const maps = new Float32Array(set.size * views * D);
  const one = new Float32Array(D);
  for (let i = 0; i < set.size; i++) {
    set.readRows([i], one);
    for (let v = 0; v < views; v++) for (let j = 0; j < D; j++) maps[(i * views + v) * D + j] = v === 0 ? one[j]! : other(i, v, j, one[j]!);
  }
  const labels = Array.from(set.labelIndex, (c) => [set.classes[c]!]);
  return memoryFeatureSet({ maps, featureShape: SHAPE, labels, classes: set.classes, views });
}

const weights = (r: { head: { train: { trainableWeights: { read(): { dataSync(): ArrayLike<number> } }[] } } }) => r.head.train.trainableWeights.map((v) => Array.from(v.read().dataSync()));

describe('training on views', () => {
  const train = synthetic(36, SHAPE);
  const valid = synthetic(18, SHAPE, undefined, 5);
  const args: TrainArgs = { head: 'mlp', hidden: 8, epochs: 3, batchSize: 8, lr: 0.02, seed: 3, mixAt: 'hidden', checkpointEvery: 0 };

  it('identical views train bit for bit as one view: the view draws disturb no other stream', async () => {
    const one = await trainHead(train, valid, args);
    const same = await trainHead(withViews(train, 3, (_i, _v, _j, x) => x), valid, args);
    expect(weights(same)).toEqual(weights(one));
    expect(same.history.map((e) => e.mixedLoss)).toEqual(one.history.map((e) => e.mixedLoss));
    // Views that differ are read: the run changes.
    const other = await trainHead(withViews(train, 3, (_i, v, _j, x) => x * (1 + 0.3 * v)), valid, args);
    expect(weights(other)).not.toEqual(weights(one));
    [one, same, other].forEach((r) => disposeHead(r.head));
  });

  it("each epoch reads the view the epoch's own stream draws for each sample; validation reads view 0", async () => {
    const set = withViews(train, 4, (_i, v, j, x) => x + v * 0.01 * j);
    // Views ≥ 1 of the validation set are NaN: a metric that read them would be NaN.
    const validViews = withViews(valid, 4, () => NaN);
    const seen: { idx: number[]; views: number[] }[] = [];
    const spy: FeatureSet = {
      ...set,
      readPooled(idx, out, views) {
        seen.push({ idx: Array.from(idx), views: Array.from(views ?? []) });
        set.readPooled(idx, out, views);
      },
    };
    const r = await trainHead(spy, validViews, { ...args, head: 'linear', mixAt: 'features', epochs: 2 });
    expect(r.history.every((e) => Number.isFinite(e.validLoss!))).toBe(true);
    const steps = Math.ceil(set.size / 8);
    // Training reads (with views) come first in each epoch, then the clean-loss pass (view 0, no views given).
    const training = seen.filter((s) => s.views.length > 0);
    expect(training).toHaveLength(2 * steps);
    for (let e = 0; e < 2; e++) {
      const drawn = drawViews(new Rng(args.seed!).fork(`views-${e}`), set.size, 4);
      for (const s of training.slice(e * steps, (e + 1) * steps)) expect(s.views).toEqual(s.idx.map((i) => drawn[i]));
    }
    expect(new Set(training.flatMap((s) => s.views)).size).toBe(4);
    disposeHead(r.head);
  });

  it('a killed and resumed run on views with the balanced sampler and loss weights equals an uninterrupted one', async () => {
    const set = withViews(train, 3, (i, v, j, x) => x + 0.05 * Math.sin(i + v * j));
    for (const balance of ['sampler', 'weights'] as const) {
      const a: TrainArgs = { ...args, epochs: 4, balance, balancePower: 0.5 };
      const full = await trainHead(set, valid, { ...a, out: await tempDir('views-exact') });
      const out = await tempDir('views-exact');
      let seen = 0;
      await expect(
        trainHead(set, valid, {
          ...a,
          out,
          onEpoch: () => {
            if (++seen === 2) throw new Error('killed');
          },
        }),
      ).rejects.toThrow(/killed/);
      const resumed = await trainHead(set, valid, { ...a, out, resume: true });
      expect(resumed.resumedFrom).toBe(2);
      expect(resumed.history.map((e) => e.mixedLoss)).toEqual(full.history.map((e) => e.mixedLoss));
      expect(weights(resumed)).toEqual(weights(full));
      disposeHead(full.head);
      disposeHead(resumed.head);
    }
  });

  it('the sampler feeds each class about equally however skewed the set', async () => {
    // 30 of class a, 3 of b, 3 of c.
    const skewed = synthetic(90, SHAPE);
    const keep = Int32Array.from(Array.from({ length: 90 }, (_, i) => i).filter((i) => skewed.labelIndex[i] === 0 || i < 9));
    const maps = new Float32Array(keep.length * D);
    skewed.readRows(keep, maps);
    const set = memoryFeatureSet({ maps, featureShape: SHAPE, labels: Array.from(keep, (i) => [skewed.classes[skewed.labelIndex[i]!]!]), classes: skewed.classes });
    const counts = [0, 0, 0];
    const r = await trainHead(set, null, { ...args, head: 'linear', mixAt: 'features', epochs: 20, balance: 'sampler', onBatch: (_d, _t, b) => b!.indices.forEach((i) => counts[set.labelIndex[i]!]!++) });
    const total = counts.reduce((x, y) => x + y, 0);
    for (const c of counts) expect(Math.abs(c / total - 1 / 3)).toBeLessThan(0.05);
    disposeHead(r.head);
  });
});
